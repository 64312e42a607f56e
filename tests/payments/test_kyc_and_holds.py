"""The payouts back office in the payments domain: the KYC gate (the sandbox's simulated check,
Stripe's ``account.updated``), operators' holds, scheduled payouts that skip blocked sellers, and
the retry of a failed payout (paid once, the ledger balanced)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.events.models import OutboxEvent
from app.ledger import services as ledger
from app.notifications.models import Notification
from app.payments import backoffice, services
from app.payments.models import Payout, PayoutHold, SellerPaymentAccount
from app.payments.providers import stripe_kyc
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.payments.conftest import form_tokens
from tests.payments.stripe_emulator import event
from tests.payments.test_payouts import SELLER_NET, paid_order
from tests.payments.test_stripe import deliver, stripe_paid_order


def _admin() -> User:
    return db.session.scalars(sa.select(User).where(User.role == "admin").order_by(User.id)).first()


def _refusal(fn, *args, **kwargs) -> services.PaymentError:
    with pytest.raises(services.PaymentError) as caught:
        fn(*args, **kwargs)
    db.session.rollback()
    return caught.value


def _events(name: str) -> list[dict]:
    return [
        e.payload
        for e in db.session.scalars(
            sa.select(OutboxEvent).where(OutboxEvent.name == name).order_by(OutboxEvent.id)
        )
    ]


# --- the KYC gate -------------------------------------------------------------------------


def test_a_new_sandbox_seller_is_refused_payouts_until_the_simulated_check_is_verified(
    market, seller_earnings, money, acme, in_tenant
):
    m = market(acme, verified=False)
    seller_earnings(acme, paid_order(m))
    before = money(acme, seller_id=m.seller_id)
    with in_tenant(acme):
        seller = db.session.get(User, m.seller_id)
        refused = _refusal(services.request_payout, seller, 1000)
        assert (refused.status, refused.code, refused.extra["kyc_status"]) == (409, "kyc_required", "none")
        # The seller starts the simulated check: pending, still refused.
        account = backoffice.start_sandbox_verification(db.session.get(User, m.seller_id))
        assert (account.kyc_status, account.account_ref) == ("pending", f"sandbox_acct_{m.seller_id}")
        db.session.commit()
        refused = _refusal(services.request_payout, db.session.get(User, m.seller_id), 1000)
        assert refused.code == "kyc_required" and "in progress" in refused.message
        # The operator rejects with a note, then the seller starts again and is verified.
        backoffice.decide_sandbox_kyc(_admin(), m.seller_id, "rejected", "The photo is blurred.")
        db.session.commit()
        refused = _refusal(services.request_payout, db.session.get(User, m.seller_id), 1000)
        assert refused.code == "kyc_required" and "not accepted" in refused.message
        backoffice.start_sandbox_verification(db.session.get(User, m.seller_id))
        backoffice.decide_sandbox_kyc(_admin(), m.seller_id, "verified")
        db.session.commit()
        assert [(p["old"], p["new"]) for p in _events("payout_account.kyc_changed")] == [
            ("none", "pending"),
            ("pending", "rejected"),
            ("rejected", "pending"),
            ("pending", "verified"),
        ]
    assert money(acme, seller_id=m.seller_id).balances == before.balances  # nothing moved meanwhile
    with in_tenant(acme):
        assert services.request_payout(db.session.get(User, m.seller_id), 1000).status == "sent"
        db.session.commit()
    assert money(acme, seller_id=m.seller_id).ledger_ok


def test_the_sellers_earnings_page_shows_the_kyc_step_and_starts_the_simulated_check(
    market, seller_earnings, acme, in_tenant
):
    m = market(acme, verified=False)
    seller_earnings(acme, paid_order(m))
    client = m.client(m.seller_email)
    page = client.get("/account/earnings").get_data(as_text=True)
    assert "Not verified yet" in page and "Verify identity" in page and "simulates" in page
    response = client.post("/account/earnings/verify-identity", data=form_tokens(client, "/account/earnings"))
    assert response.status_code == 303
    page = client.get("/account/earnings").get_data(as_text=True)
    assert (
        "In progress" in page and "operator completes" in page and 'data-testid="verify-identity"' not in page
    )
    # A payout asked for anyway is refused on the form, with the reason.
    tokens = form_tokens(client, "/account/earnings")
    refused = client.post("/account/earnings/payouts", data={"confirm": "yes", **tokens, "amount": "10"})
    assert refused.status_code == 422 and "in progress" in refused.get_data(as_text=True)
    with in_tenant(acme):
        backoffice.decide_sandbox_kyc(_admin(), m.seller_id, "verified")
        db.session.commit()
    assert "Verified." in client.get("/account/earnings").get_data(as_text=True)


def test_sandbox_kyc_bad_input_is_refused(market, make_user, acme, in_tenant):
    m = market(acme, verified=False)
    buyer_id = make_user(acme, email="plain@example.com")
    with in_tenant(acme):
        admin = _admin()
        cases = [
            ((admin, m.seller_id, "verified"), 409, "kyc_not_started"),  # not started yet
            ((admin, m.seller_id, "approved"), 422, None),
            ((admin, 999_999, "verified"), 404, None),
            ((admin, "abc", "verified"), 404, None),
            ((admin, buyer_id, "verified"), 409, "not_a_seller"),
            ((db.session.get(User, buyer_id), m.seller_id, "verified"), 403, None),
        ]
        for args, status, code in cases:
            refused = _refusal(backoffice.decide_sandbox_kyc, *args)
            assert refused.status == status, args
            if code:
                assert refused.code == code
        backoffice.start_sandbox_verification(db.session.get(User, m.seller_id))
        db.session.commit()
        refused = _refusal(backoffice.decide_sandbox_kyc, _admin(), m.seller_id, "rejected", "  ")
        assert refused.status == 422 and "note" in refused.errors
        backoffice.decide_sandbox_kyc(_admin(), m.seller_id, "verified")
        db.session.commit()
        assert (
            _refusal(backoffice.decide_sandbox_kyc, _admin(), m.seller_id, "verified").code == "kyc_unchanged"
        )
        refused = _refusal(backoffice.start_sandbox_verification, db.session.get(User, m.seller_id))
        assert refused.code == "kyc_verified"
        refused = _refusal(backoffice.start_sandbox_verification, db.session.get(User, buyer_id))
        assert refused.status == 403


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ({"details_submitted": False, "requirements": {"currently_due": ["external_account"]}}, "none"),
        (
            {
                "details_submitted": True,
                "payouts_enabled": False,
                "requirements": {"currently_due": [], "pending_verification": ["individual.id_number"]},
            },
            "pending",
        ),
        (
            {
                "details_submitted": True,
                "payouts_enabled": False,
                "requirements": {"currently_due": ["individual.verification.document"]},
            },
            "pending",
        ),
        (
            {"details_submitted": True, "payouts_enabled": True, "requirements": {"currently_due": []}},
            "verified",
        ),
        (
            {
                "details_submitted": True,
                "payouts_enabled": False,
                "requirements": {"disabled_reason": "rejected.fraud", "currently_due": []},
            },
            "rejected",
        ),
    ],
)
def test_stripe_account_maps_to_a_kyc_status(account, expected):
    assert stripe_kyc(account)[0] == expected


def test_stripe_account_updated_sets_the_kyc_status_and_requirements(
    market, use_stripe, stripe_emulator, money, tenant_client, seller_earnings, acme, in_tenant
):
    keys = use_stripe(acme)
    m = market(acme)
    order_id, _payment = stripe_paid_order(m, stripe_emulator, keys, tenant_client, in_tenant)
    seller_earnings(acme, order_id)
    client = m.client(m.seller_email)
    started = client.post("/account/earnings/onboard", data=form_tokens(client, "/account/earnings"))
    account_id = started.headers["Location"].rsplit("/", 1)[-1]

    def kyc():
        with in_tenant(acme):
            row = db.session.scalars(
                sa.select(SellerPaymentAccount).where(SellerPaymentAccount.account_ref == account_id)
            ).one()
            return row.kyc_status, row.kyc_requirements, row.kyc_note, row.ready

    assert kyc()[0] == "none"
    stored = stripe_emulator.get(keys.secret_key, account_id)
    due = {
        **stored,
        "details_submitted": True,
        "requirements": {"currently_due": ["individual.verification.document"]},
    }
    assert (
        deliver(tenant_client, "acme", event("account.updated", due), keys.webhook_secret).status_code == 200
    )
    assert kyc() == ("pending", ["individual.verification.document"], None, False)
    page = client.get("/account/earnings").get_data(as_text=True)
    assert "In progress" in page and "individual.verification.document".replace("_", " ") in page
    with in_tenant(acme):
        refused = _refusal(services.request_payout, db.session.get(User, m.seller_id), 1000)
        assert refused.code == "kyc_required"
    rejected = {**stored, "details_submitted": True, "requirements": {"disabled_reason": "rejected.fraud"}}
    deliver(tenant_client, "acme", event("account.updated", rejected), keys.webhook_secret)
    assert kyc()[0] == "rejected" and kyc()[2] == "rejected.fraud"
    done = stripe_emulator.complete_onboarding(keys.secret_key, account_id)
    deliver(tenant_client, "acme", event("account.updated", done), keys.webhook_secret)
    assert kyc() == ("verified", [], None, True)
    with in_tenant(acme):
        assert services.request_payout(db.session.get(User, m.seller_id), 1000).status == "pending"
        db.session.commit()


# --- holds --------------------------------------------------------------------------------


def test_a_hold_refuses_payouts_until_released_and_the_money_stays_available(
    market, seller_earnings, money, run_jobs, acme, in_tenant
):
    m = market(acme)
    seller_earnings(acme, paid_order(m))
    with in_tenant(acme):
        hold = backoffice.place_hold(_admin(), m.seller_id, "Chargebacks on three orders.")
        db.session.commit()
        hold_id = hold.id
        refused = _refusal(services.request_payout, db.session.get(User, m.seller_id), 1000)
        assert (refused.status, refused.code) == (409, "payouts_held")
        assert "contact support" in refused.message and "Chargebacks" not in refused.message
        assert _refusal(backoffice.place_hold, _admin(), m.seller_id, "Again").code == "hold_active"
    assert money(acme, seller_id=m.seller_id).balances == {"pending": 0, "available": SELLER_NET}
    client = m.client(m.seller_email)
    page = client.get("/account/earnings").get_data(as_text=True)
    assert "Payouts are on hold" in page and "Chargebacks" not in page
    run_jobs()
    with in_tenant(acme):
        (told,) = db.session.scalars(
            sa.select(Notification).where(Notification.user_id == m.seller_id)
        ).all()[-1:]
        assert told.kind == "payout_held" and "contact support" in told.data["text"]
        backoffice.release_hold(_admin(), m.seller_id, "Buyers confirmed.")
        db.session.commit()
        assert _refusal(backoffice.release_hold, _admin(), m.seller_id).code == "no_active_hold"
        assert _events("payout.held") == [{"user_id": m.seller_id, "hold_id": hold_id}]
        assert _events("payout.hold_released") == [{"user_id": m.seller_id, "hold_id": hold_id}]
        assert services.request_payout(db.session.get(User, m.seller_id), SELLER_NET).status == "sent"
        db.session.commit()
        # History kept; a new hold can be placed after the release.
        backoffice.place_hold(_admin(), m.seller_id, "Second look.")
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PayoutHold)) == 2
    run_jobs()
    with in_tenant(acme):
        kinds = [
            n.kind
            for n in db.session.scalars(sa.select(Notification).where(Notification.user_id == m.seller_id))
        ]
        assert kinds.count("payout_hold_released") == 1 and kinds.count("payout_held") == 2
    assert money(acme).ledger_ok


def test_hold_bad_input_is_refused_and_nothing_is_held(market, make_user, acme, globex, in_tenant):
    m = market(acme)
    buyer_id = make_user(acme, email="plain@example.com")
    with in_tenant(acme):
        admin = _admin()
        cases = [
            ((admin, m.seller_id, ""), 422, "reason"),
            ((admin, m.seller_id, "   "), 422, "reason"),
            ((admin, m.seller_id, "x" * 1001), 422, "reason"),
            ((admin, m.seller_id, 12), 422, "reason"),
            ((admin, 999_999, "Fraud"), 404, None),
            ((admin, -1, "Fraud"), 404, None),
            ((admin, buyer_id, "Fraud"), 409, None),
            ((db.session.get(User, buyer_id), m.seller_id, "Fraud"), 403, None),
        ]
        for args, status, field in cases:
            refused = _refusal(backoffice.place_hold, *args)
            assert refused.status == status, args
            if field:
                assert field in refused.errors
        assert _refusal(backoffice.release_hold, admin, m.seller_id).code == "no_active_hold"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PayoutHold)) == 0
        acme_admin_id, seller_id = admin.id, m.seller_id
    # The same ids on globex name nobody there (or someone else): acme's seller is untouched.
    with in_tenant(globex):
        assert db.session.get(User, seller_id) is None or not db.session.get(User, seller_id).is_seller
        globex_admin = _admin()
        refused = _refusal(backoffice.place_hold, globex_admin, seller_id, "Fraud")
        assert refused.status in (404, 409)
    with in_tenant(acme):
        assert services.active_hold(seller_id) is None and acme_admin_id


def test_scheduled_payouts_skip_held_and_unverified_sellers_and_say_so(
    market, make_seller, seller_earnings, money, acme, in_tenant, make_gig
):
    m = market(acme)
    seller_earnings(acme, paid_order(m))
    with in_tenant(acme):
        db.session.get(MarketplaceSettings, 1).payout_schedule = "daily"
        backoffice.place_hold(_admin(), m.seller_id, "Checking a complaint.")
        db.session.commit()
        result = services.run_scheduled_payouts(date(2030, 1, 2))
        assert result.made == []
        assert [(s, code) for s, code, _msg in result.skipped] == [(m.seller_id, "payouts_held")]
        db.session.commit()
    assert money(acme, seller_id=m.seller_id).balances["available"] == SELLER_NET
    with in_tenant(acme):
        backoffice.release_hold(_admin(), m.seller_id)
        db.session.commit()
        result = services.run_scheduled_payouts(date(2030, 1, 2))
        assert [(p.seller_id, p.amount_minor, p.status) for p in result.made] == [
            (m.seller_id, SELLER_NET, "sent")
        ]
        assert result.skipped == []
        db.session.commit()
    assert money(acme, seller_id=m.seller_id).ledger_ok


# --- retry --------------------------------------------------------------------------------


def test_retrying_a_failed_sandbox_payout_pays_once_and_the_ledger_stays_balanced(
    market, seller_earnings, money, acme, in_tenant
):
    m = market(acme)
    seller_earnings(acme, paid_order(m))
    with in_tenant(acme):
        payout = services.request_payout(db.session.get(User, m.seller_id), SELLER_NET)
        payout.status = "pending"  # as if the transfer had been refused later (a bank rejection)
        services._reverse_payout(payout, "failed", "The bank refused the transfer.")
        db.session.commit()
        failed_id = payout.id
    assert money(acme, seller_id=m.seller_id).balances["available"] == SELLER_NET
    with in_tenant(acme):
        new = backoffice.retry_payout(_admin(), failed_id)
        db.session.commit()
        assert (new.retry_of_id, new.amount_minor, new.status) == (failed_id, SELLER_NET, "sent")
        again = _refusal(backoffice.retry_payout, _admin(), failed_id)
        assert (again.status, again.code, again.extra["retry_id"]) == (409, "already_retried", new.id)
        sent = _refusal(backoffice.retry_payout, _admin(), new.id)
        assert (sent.code, sent.extra["current_status"]) == ("not_failed", "sent")
        assert _refusal(backoffice.retry_payout, _admin(), 999_999).status == 404
        assert _refusal(backoffice.retry_payout, _admin(), "x").status == 404
        report = ledger.verify()
        assert report.ok
    after = money(acme, seller_id=m.seller_id)
    assert after.balances == {"pending": 0, "available": 0}
    assert [(p[1], p[2]) for p in after.payouts] == [("failed", SELLER_NET), ("sent", SELLER_NET)]
    assert after.ledger_ok


def test_retry_goes_through_the_gates_and_a_held_seller_is_not_retried(
    market, seller_earnings, money, acme, in_tenant
):
    m = market(acme)
    seller_earnings(acme, paid_order(m))
    with in_tenant(acme):
        payout = services.request_payout(db.session.get(User, m.seller_id), 1000)
        payout.status = "pending"
        services._reverse_payout(payout, "failed", "Refused.")
        backoffice.place_hold(_admin(), m.seller_id, "Fraud check.")
        db.session.commit()
        assert _refusal(backoffice.retry_payout, _admin(), payout.id).code == "payouts_held"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payout)) == 1


def test_retrying_a_payout_stripe_refused_transfers_once_with_a_new_key(
    market, use_stripe, stripe_emulator, money, tenant_client, seller_earnings, run_jobs, acme, in_tenant
):
    keys = use_stripe(acme)
    m = market(acme)
    order_id, _payment = stripe_paid_order(m, stripe_emulator, keys, tenant_client, in_tenant)
    seller_earnings(acme, order_id)
    with in_tenant(acme):
        seller = db.session.get(User, m.seller_id)
        services.start_onboarding(
            seller, return_url="http://acme.localhost/r", refresh_url="http://acme.localhost/f"
        )
        db.session.commit()
        account = services._seller_account(seller.id, "stripe")
        account.ready, account.kyc_status = True, "verified"  # ours says ready; Stripe disagrees
        failed_id = services.request_payout(seller, SELLER_NET).id
        db.session.commit()
        account_id = account.account_ref
    run_jobs()
    assert money(acme).payouts[0][1] == "failed"
    # The seller finishes onboarding at Stripe; the operator retries.
    done = stripe_emulator.complete_onboarding(keys.secret_key, account_id)
    deliver(tenant_client, "acme", event("account.updated", done), keys.webhook_secret)
    with in_tenant(acme):
        new_id = backoffice.retry_payout(_admin(), failed_id).id
        db.session.commit()
    stripe_emulator.fail_next("/v1/transfers", 500)  # a flaky call: the job retries with the same key
    run_jobs()
    run_jobs()
    transfers = stripe_emulator.of_type(keys.secret_key, "tr_")
    assert [(t["amount"], t["destination"], t["metadata"]["payout_id"]) for t in transfers] == [
        (SELLER_NET, account_id, str(new_id))
    ]
    keys_used = {c.idempotency_key for c in stripe_emulator.calls("POST", "/v1/transfers")}
    assert keys_used == {f"{acme.id}:transfer:{failed_id}", f"{acme.id}:transfer:{new_id}"}
    after = money(acme, seller_id=m.seller_id)
    assert [(p[0], p[1]) for p in after.payouts] == [(failed_id, "failed"), (new_id, "sent")]
    assert after.balances["available"] == 0 and after.ledger_ok
    # transfer.created for the new payout, delivered twice: nothing changes.
    for _ in range(2):
        deliver(tenant_client, "acme", event("transfer.created", transfers[0]), keys.webhook_secret)
    assert money(acme, seller_id=m.seller_id).payouts == after.payouts
