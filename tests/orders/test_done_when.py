"""Issue #5's "Done when", as one flow over HTTP, once with the sandbox provider and once
against the Stripe emulation (the real ``stripe`` library, signed webhooks):

a buyer orders a gig and pays; the seller delivers; the buyer asks for a revision and
accepts the second delivery; after clearance the seller's balance is the amount minus
the commission and is paid out; a second order is cancelled and refunded at the
provider; every step went through the outbox; ``flask ledger verify`` reports every
tenant balanced, and the platform holds exactly its commission.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.events.models import OutboxEvent
from app.ledger import services as ledger
from app.payments import tasks as payment_tasks
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.orders.conftest import drive
from tests.payments.conftest import (  # noqa: F401
    STRIPE_KEYS,
    form_tokens,
    login,
    stripe_emulator,
    verify_identity,
)
from tests.payments.stripe_emulator import event, sign

PRICE = 5000  # the basic package
COMMISSION_BPS = 1250  # 12.5 %, no minimum fee: the fee on 50.00 is 6.25
FEE = 625
NET = PRICE - FEE
CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/40", "cvc": "123"}

ORDER_STEPS = [
    "order.placed",
    "order.paid",
    "order.requirements_submitted",
    "order.delivered",
    "order.revision_requested",
    "order.delivered",
    "order.completed",
]
CANCELLED_STEPS = [
    "order.placed",
    "order.paid",
    "order.requirements_submitted",
    "order.cancellation_requested",
    "order.cancelled",
    "order.refunded",
    "refund.completed",  # payments: the provider gave the money back
]


class Sandbox:
    """The sandbox provider: the buyer pays on the TEST MODE card page; payouts are instant."""

    name = "sandbox"

    def __init__(self, tenant, tenant_client, run_jobs):
        self.tenant, self.tenant_client, self.run_jobs = tenant, tenant_client, run_jobs

    def pay(self, buyer_web, checkout_url: str) -> None:
        assert checkout_url.startswith("/checkout/sandbox/")
        response = buyer_web.post(checkout_url, data={**form_tokens(buyer_web, checkout_url), **CARD})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    def set_up_payouts(self, seller_web, seller_id) -> None:
        """The sandbox's simulated identity check: the seller starts it, the operator verifies."""
        page = seller_web.get("/account/earnings").get_data(as_text=True)
        assert "Set up payouts" not in page and "Verify identity" in page
        started = seller_web.post(
            "/account/earnings/verify-identity", data=form_tokens(seller_web, "/account/earnings")
        )
        assert started.status_code == 303
        verify_identity(self.in_tenant, self.tenant, seller_id, start=False)

    def settle(self) -> None:
        self.run_jobs()

    def assert_provider_state(self, payout_id, refunded_minor) -> None:
        pass  # nothing exists outside Gigforge


class Stripe(Sandbox):
    """Stripe: Stripe.js confirms the PaymentIntent, Stripe tells us by signed webhooks;
    the seller onboards a connected account and is paid by a Transfer job."""

    name = "stripe"

    def __init__(self, tenant, tenant_client, run_jobs, emulator):
        super().__init__(tenant, tenant_client, run_jobs)
        self.emulator = emulator
        self.keys = SimpleNamespace(**STRIPE_KEYS[tenant.slug])
        self.intents = []

    def webhook(self, evt) -> dict:
        payload = json.dumps(evt)
        response = self.tenant_client(self.tenant.slug).post(
            "/webhooks/stripe",
            data=payload,
            headers={
                "Stripe-Signature": sign(payload, self.keys.webhook_secret),
                "Content-Type": "application/json",
            },
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json

    def pay(self, buyer_web, checkout_url: str) -> None:
        assert checkout_url.startswith("/checkout/stripe/")
        page = buyer_web.get(checkout_url)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert self.keys.publishable_key in html and self.keys.secret_key not in html
        # Stripe.js confirms the intent named by the client secret on the page...
        intent_id = re.search(r"(pi_[A-Za-z0-9]+)_secret_", html).group(1)
        intent = self.emulator.succeed(self.keys.secret_key, intent_id)
        self.intents.append(intent_id)
        # ...and Stripe tells the marketplace (twice: a redelivery changes nothing).
        evt = event("payment_intent.succeeded", intent)
        assert self.webhook(evt)["outcome"] == "processed"
        assert self.webhook(evt)["outcome"] == "duplicate"

    def set_up_payouts(self, seller_web, seller_id) -> None:
        page = seller_web.get("/account/earnings").get_data(as_text=True)
        assert "Set up payouts" in page
        started = seller_web.post(
            "/account/earnings/onboard", data=form_tokens(seller_web, "/account/earnings")
        )
        assert started.status_code == 302 and "/connect/onboarding/acct_" in started.headers["Location"]
        account_id = started.headers["Location"].rsplit("/", 1)[-1]
        account = self.emulator.complete_onboarding(self.keys.secret_key, account_id)
        self.webhook(event("account.updated", account))
        self.account_id = account_id

    def settle(self) -> None:
        self.run_jobs()  # send_payout / send_refund talk to Stripe after the commit

    def assert_provider_state(self, payout_id, refunded_minor) -> None:
        transfers = self.emulator.of_type(self.keys.secret_key, "tr_")
        assert [(t["amount"], t["destination"]) for t in transfers] == [(NET, self.account_id)]
        transfer_calls = self.emulator.calls("POST", "/v1/transfers")
        assert {c.idempotency_key for c in transfer_calls} == {f"{self.tenant.id}:transfer:{payout_id}"}
        refunds = self.emulator.of_type(self.keys.secret_key, "re_")
        assert [(r["amount"], r["payment_intent"]) for r in refunds] == [(refunded_minor, self.intents[1])]
        # Stripe reports the refund back: it matches ours and changes nothing.
        charge = self.emulator.charge_of(self.keys.secret_key, self.intents[1])
        self.webhook(event("charge.refunded", charge))


@pytest.fixture(params=["sandbox", "stripe"])
def provider(request, acme, in_tenant, tenant_client, run_jobs, app, monkeypatch):
    with in_tenant(acme):
        settings = db.session.get(MarketplaceSettings, 1)
        settings.commission_bps, settings.commission_min_fee_minor = COMMISSION_BPS, 0
        db.session.commit()
    if request.param == "sandbox":
        sandbox = Sandbox(acme, tenant_client, run_jobs)
        sandbox.in_tenant = in_tenant
        return sandbox
    emulator = request.getfixturevalue("stripe_emulator")
    keys = STRIPE_KEYS[acme.slug]
    from app.payments import services as payments

    with in_tenant(acme):
        payments.configure_stripe(keys["publishable_key"], keys["secret_key"], keys["webhook_secret"])
        db.session.commit()
    return Stripe(acme, tenant_client, run_jobs, emulator)


def outbox(in_tenant, tenant, order_id) -> list[tuple[str, str]]:
    with in_tenant(tenant):
        rows = db.session.scalars(sa.select(OutboxEvent).order_by(OutboxEvent.id)).all()
        return [(r.name, r.status) for r in rows if r.payload.get("order_id") == order_id]


def test_done_when_order_pay_revise_complete_pay_out_and_refund(
    provider, acme, market, api_token, tenant_client, in_tenant, app
):
    m = market(acme)
    buyer, bh = api_token(acme, m.buyer_email)
    seller, sh = api_token(acme, m.seller_email)
    buyer_web = login(tenant_client("acme"), m.buyer_email)
    seller_web = login(tenant_client("acme"), m.seller_email)

    def place(key):
        body = {"gig_id": m.gig_id, "tier": "basic", "total_minor": PRICE, "currency": "USD"}
        r = buyer.post("/api/v1/orders", json=body, headers={**bh, "Idempotency-Key": key})
        assert r.status_code == 201, r.json
        assert r.json["status"] == "awaiting_payment" and r.json["checkout_url"]
        return r.json["id"], r.json["checkout_url"]

    def order(oid, client=buyer, headers=bh):
        r = client.get(f"/api/v1/orders/{oid}", headers=headers)
        assert r.status_code == 200
        return r.json

    def step(client, headers, oid, path, body=None, status=200):
        r = client.post(f"/api/v1/orders/{oid}/{path}", json=body or {}, headers=headers)
        assert r.status_code == status, (path, r.json)
        return r.json

    # --- the first order: ordered, paid, delivered, revised, accepted -------------------
    first, checkout = place("done-when-first")
    provider.pay(buyer_web, checkout)
    paid = order(first)
    assert paid["status"] == "awaiting_requirements" and paid["money"]["escrow_minor"] == PRICE
    assert (
        step(buyer, bh, first, "requirements", {"requirements": "A fox, in orange."})["status"]
        == "in_progress"
    )
    delivered = seller.post(f"/api/v1/orders/{first}/deliveries", json={"message": "First draft"}, headers=sh)
    assert delivered.status_code == 201
    revised = step(buyer, bh, first, "revision", {"reason": "A bigger fox, please."})
    assert revised["status"] == "in_progress" and revised["revisions_used"] == 1
    assert (
        seller.post(f"/api/v1/orders/{first}/deliveries", json={"message": "Bigger"}, headers=sh).status_code
        == 201
    )
    done = step(buyer, bh, first, "complete")
    assert done["status"] == "completed" and len(done["deliveries"]) == 2
    assert done["money"]["escrow_minor"] == 0
    assert (done["money"]["released_minor"], done["money"]["fee_minor"]) == (PRICE, FEE)
    assert done["money"]["seller_net_minor"] == NET
    # A step the status no longer allows: 409 naming it, nothing moves.
    again = step(buyer, bh, first, "revision", {"reason": "More"}, status=409)
    assert again["errors"]["current_status"] == "completed" and "completed" in again["message"]

    # --- earnings clear, the seller is paid out ------------------------------------------
    assert seller.get("/api/v1/balances", headers=sh).json == {
        "currency": "USD",
        "pending_minor": NET,
        "available_minor": 0,
    }
    with in_tenant(acme):
        clearance_days = db.session.get(MarketplaceSettings, 1).clearance_days
    later = datetime.now(UTC) + timedelta(days=clearance_days, hours=1)
    with app.app_context():
        assert payment_tasks.payments_tick(later) >= 1  # the worker's tick: clearance of every tenant
    provider.run_jobs()
    assert seller.get("/api/v1/balances", headers=sh).json["available_minor"] == NET
    earnings_page = seller_web.get("/account/earnings").get_data(as_text=True)
    assert re.search(r'data-testid="balance-available">\s*\$43\.75', earnings_page), earnings_page[:2000]

    provider.set_up_payouts(seller_web, m.seller_id)
    too_much = seller.post(
        "/api/v1/payouts", json={"amount_minor": NET + 1}, headers={**sh, "Idempotency-Key": "po-0"}
    )
    assert too_much.status_code == 409 and "available balance" in too_much.json["message"]
    payout_headers = {**sh, "Idempotency-Key": "done-when-payout"}
    payout = seller.post("/api/v1/payouts", json={"amount_minor": NET}, headers=payout_headers)
    assert payout.status_code == 201, payout.json
    replay = seller.post("/api/v1/payouts", json={"amount_minor": NET}, headers=payout_headers)
    assert replay.status_code == 201 and replay.json["id"] == payout.json["id"]
    assert replay.headers.get("Idempotent-Replayed") == "true"
    provider.settle()
    payouts = seller.get("/api/v1/payouts", headers=sh).json
    assert [(p["id"], p["amount_minor"], p["status"]) for p in payouts] == [(payout.json["id"], NET, "sent")]
    assert seller.get("/api/v1/balances", headers=sh).json["available_minor"] == 0

    # --- the second order: paid, then cancelled by agreement and refunded ---------------
    second, checkout = place("done-when-second")
    provider.pay(buyer_web, checkout)
    step(buyer, bh, second, "requirements", {"requirements": "A cat."})
    too_big = step(
        buyer, bh, second, "cancellation", {"reason": "Changed my mind", "refund_minor": PRICE + 1}, 422
    )
    assert "refund_minor" in too_big["errors"]["json"]
    asked = step(buyer, bh, second, "cancellation", {"reason": "Changed my mind"})
    assert (
        asked["cancellations"][0]["status"] == "pending"
        and asked["cancellations"][0]["refund_minor"] == PRICE
    )
    cancelled = step(seller, sh, second, "cancellation/respond", {"accept": True})
    assert cancelled["status"] == "cancelled"
    assert cancelled["money"]["refunded_minor"] == PRICE and cancelled["money"]["escrow_minor"] == 0
    assert step(buyer, bh, second, "complete", status=409)["errors"]["current_status"] == "cancelled"
    provider.settle()  # order.refunded -> payments returns the money at the provider
    provider.settle()  # a redelivery refunds nothing twice
    provider.assert_provider_state(payout.json["id"], PRICE)

    # The buyer's wallet: two payments out, one refund in.
    history = buyer.get("/api/v1/transactions", headers=bh).json
    assert sorted((t["kind"], t["amount_minor"], t["order_id"]) for t in history) == [
        ("payment", -PRICE, first),
        ("payment", -PRICE, second),
        ("refund", PRICE, second),
    ]
    # The seller's: the release net of the fee, its clearance, the payout; nothing from the refund.
    seller_history = seller.get("/api/v1/transactions", headers=sh).json
    assert sorted((t["kind"], t["amount_minor"]) for t in seller_history) == [
        ("clearance", NET),
        ("payout", -NET),
        ("release", NET),
    ]

    # --- every step went through the outbox, and was delivered ---------------------------
    provider.run_jobs()
    assert outbox(in_tenant, acme, first) == [(name, "dispatched") for name in ORDER_STEPS]
    assert outbox(in_tenant, acme, second) == [(name, "dispatched") for name in CANCELLED_STEPS]
    with in_tenant(acme):
        payout_events = db.session.scalars(
            sa.select(OutboxEvent.status).where(OutboxEvent.name == "payout.sent")
        ).all()
        assert payout_events == ["dispatched"]
        from app.payments.models import Refund

        refunds = db.session.execute(sa.select(Refund.amount_minor, Refund.status)).all()
        assert refunds == [(PRICE, "succeeded")]
        # What the platform still holds at the provider is exactly its commission.
        assert ledger.account_balance(ledger.CLEARING, "USD") == FEE
        assert ledger.account_balance(ledger.COMMISSION, "USD") == FEE
        assert ledger.escrow_balance(first, "USD") == ledger.escrow_balance(second, "USD") == 0

    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "acme: OK" in result.output and "globex: OK" in result.output
    assert "all 2 tenant(s) balanced" in result.output


def test_bad_input_on_the_money_endpoints_gets_clear_errors_and_moves_nothing(
    acme, order_in, make_gig, api_token, tenant_client, in_tenant
):
    """The issue's bad-input list, and ids and pages past what the columns hold: a 4xx
    that says what is wrong, never a 500, and not a row or a cent changed."""
    from app.ledger.models import LedgerTransaction
    from app.orders.models import Order
    from app.payments import services as payments

    m, completed = order_in(acme, "completed")
    with in_tenant(acme):
        payments.clear_due_earnings(datetime.now(UTC) + timedelta(days=365))
        db.session.commit()
        in_escrow = drive(m, "in_progress")  # a second order, its money in escrow
    verify_identity(in_tenant, acme, m.seller_id)  # the KYC gate passed: the balance is what refuses
    paused = make_gig(acme, m.seller_id, status="paused", title="I will do something paused for you")
    buyer, bh = api_token(acme, m.buyer_email)
    seller, sh = api_token(acme, m.seller_email)
    buyer_web = login(tenant_client("acme"), m.buyer_email)
    net = PRICE - max(PRICE // 10, 100)  # the default commission: 10 %, at least 1.00

    def snapshot():
        with in_tenant(acme):
            return (
                db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)),
                db.session.scalar(sa.select(sa.func.count()).select_from(Order)),
                ledger.seller_balances(m.seller_id, "USD"),
            )

    before = snapshot()
    assert before[2] == {"pending": 0, "available": net}
    huge = 2**40  # fits a BIGINT, not the INTEGER keys of gigs and payments
    basic = {"gig_id": m.gig_id, "tier": "basic"}
    cases = [
        # (client, headers, method, path, body, status, what the message or errors name)
        (seller, sh, "POST", "/api/v1/orders", basic, 422, "own gig"),
        (buyer, bh, "POST", "/api/v1/orders", {"gig_id": paused, "tier": "basic"}, 422, "paused"),
        (buyer, bh, "POST", "/api/v1/orders", {"gig_id": m.gig_id, "tier": "gold"}, 422, "no such package"),
        (buyer, bh, "POST", "/api/v1/orders", {**basic, "total_minor": 1}, 422, "5000"),
        (buyer, bh, "POST", "/api/v1/orders", {**basic, "currency": "EUR"}, 422, "EUR"),
        (buyer, bh, "POST", "/api/v1/orders", {"gig_id": huge, "tier": "basic"}, 422, "between"),
        (buyer, bh, "POST", f"/api/v1/orders/{completed}/revision", {"reason": "x"}, 409, "completed"),
        (buyer, bh, "POST", f"/api/v1/orders/{completed}/cancellation", {"reason": "x"}, 409, "completed"),
        (
            buyer,
            bh,
            "POST",
            f"/api/v1/orders/{in_escrow}/cancellation",
            {"reason": "x", "refund_minor": PRICE + 1},
            422,
            "larger than what is in escrow",
        ),
        (seller, sh, "POST", f"/api/v1/orders/{in_escrow}/complete", {}, 403, "buyer"),
        (buyer, bh, "POST", f"/api/v1/orders/{in_escrow}/complete", {}, 409, "in progress"),
        (seller, sh, "POST", "/api/v1/payouts", {"amount_minor": net + 1}, 409, "available balance"),
        (seller, sh, "POST", "/api/v1/payouts", {"amount_minor": 10**30}, 422, "between"),
        (buyer, bh, "POST", "/api/v1/payouts", {"amount_minor": 100}, 403, "sellers"),
        (buyer, bh, "GET", f"/api/v1/payments/{huge}", None, 404, ""),
    ]
    for client, headers, method, path, body, status, expected in cases:
        r = client.open(path, method=method, json=body, headers=headers)
        assert r.status_code == status, (path, body, r.status_code, r.get_data(as_text=True)[:300])
        assert expected in json.dumps(r.json), (path, body, r.json)
    # Pages past any listing are empty (with the real total), not page 1 again and not a 500;
    # a page past the last one a client may ask for (10,000) is a 422 naming `page`.
    for client, headers, path, total in (
        (seller, sh, "/api/v1/transactions?page=10000", 2),  # release, clearance
        (seller, sh, "/api/v1/payouts?page=10000", 0),
        (buyer, bh, "/api/v1/orders?page=10000", 2),
    ):
        r = client.get(path, headers=headers)
        assert r.status_code == 200 and r.json == [], (path, r.status_code)
        beyond = client.get(path.replace("10000", "100000000000000000000"), headers=headers)
        assert beyond.status_code == 422 and "page" in beyond.json["errors"]["query"]
        assert json.loads(r.headers["X-Pagination"])["total"] == total
    # The web pages of the checkout and the earnings, with ids and pages out of range.
    seller_web = login(tenant_client("acme"), m.seller_email)
    assert buyer_web.get(f"/checkout/sandbox/{huge}").status_code == 404
    assert buyer_web.get(f"/checkout/stripe/{huge}").status_code == 404
    assert seller_web.get("/account/earnings?page=100000000000000000000").status_code == 200
    assert snapshot() == before
