"""The Stripe provider, with the real ``stripe`` library talking to a local emulator of
the Stripe API, and webhooks signed exactly as Stripe signs them."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa
import stripe

from app.accounts.models import User
from app.core.crypto import decrypt_secret
from app.orders import services as orders
from app.orders.models import Order
from app.payments import services
from app.payments.models import Payment, Refund
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.payments.conftest import form_tokens
from tests.payments.stripe_emulator import event, sign


def deliver(tenant_client, slug, evt, secret, timestamp=None, signature=None):
    payload = json.dumps(evt)
    header = signature if signature is not None else sign(payload, secret, timestamp)
    return tenant_client(slug).post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def payment_of(in_tenant, tenant, order_id):
    with in_tenant(tenant):
        payment = db.session.scalars(sa.select(Payment).where(Payment.order_id == order_id)).one()
        db.session.expunge(payment)
        return payment


def checked_out_order(m, in_tenant):
    """An order placed in market ``m`` with its checkout opened -> (order id, its Payment)."""
    order_id = m.place()
    m.checkout(order_id)
    return order_id, payment_of(in_tenant, m.tenant, order_id)


def stripe_paid_order(m, emulator, keys, tenant_client, in_tenant):
    """An order paid at Stripe and confirmed by a ``payment_intent.succeeded`` webhook."""
    order_id, payment = checked_out_order(m, in_tenant)
    intent = emulator.succeed(keys.secret_key, payment.provider_ref)
    response = deliver(
        tenant_client, m.tenant.slug, event("payment_intent.succeeded", intent), keys.webhook_secret
    )
    assert response.status_code == 200, response.json
    return order_id, payment


# --- keys -------------------------------------------------------------------------------


def test_stripe_secrets_are_encrypted_at_rest(use_stripe, acme, in_tenant, app):
    keys = use_stripe(acme)
    with in_tenant(acme):
        raw = db.session.execute(
            sa.select(
                MarketplaceSettings.stripe_secret_key_encrypted,
                MarketplaceSettings.stripe_webhook_secret_encrypted,
            )
        ).one()
        assert keys.secret_key not in raw[0] and keys.webhook_secret not in raw[1]
        assert decrypt_secret(raw[0]) == keys.secret_key
        assert decrypt_secret(raw[1]) == keys.webhook_secret


def test_bad_stripe_keys_are_refused_and_nothing_is_stored(acme, in_tenant):
    with in_tenant(acme):
        try:
            services.configure_stripe("pk_test_x1", "not-a-key", "whsec_x1")
        except services.PaymentError as exc:
            assert exc.status == 422 and "secret_key" in exc.errors
        db.session.rollback()
        settings = db.session.get(MarketplaceSettings, 1)
        assert settings.payment_provider == "sandbox" and settings.stripe_secret_key_encrypted is None


# --- checkout ---------------------------------------------------------------------------


def test_checkout_creates_a_payment_intent_with_the_tenants_key_and_a_deterministic_idempotency_key(
    market, use_stripe, stripe_emulator, acme, globex, in_tenant
):
    acme_keys, globex_keys = use_stripe(acme), use_stripe(globex)
    a, g = market(acme), market(globex)
    acme_order, globex_order = a.place(), g.place()
    url = a.checkout(acme_order)
    assert a.checkout(acme_order) == url  # reopening asks Stripe nothing new
    g.checkout(globex_order)
    calls = stripe_emulator.calls("POST", "/v1/payment_intents")
    assert len(calls) == 2
    acme_payment = payment_of(in_tenant, acme, acme_order)
    assert url == f"/checkout/stripe/{acme_payment.id}"
    assert calls[0].api_key == acme_keys.secret_key and calls[1].api_key == globex_keys.secret_key
    assert calls[0].idempotency_key == f"{acme.id}:payment_intent:{acme_payment.id}"
    assert calls[0].params["transfer_group"] == f"order_{acme.id}_{acme_order}"
    assert calls[0].params["amount"] == "5000" and calls[0].params["currency"] == "usd"
    assert stripe.api_key is None  # never the global key


def test_stripe_checkout_page_carries_the_client_secret_and_publishable_key(
    market, use_stripe, stripe_emulator, acme, in_tenant
):
    keys = use_stripe(acme)
    m = market(acme)
    order_id = m.place()
    url = m.checkout(order_id)
    page = m.client(m.buyer_email).get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert keys.publishable_key in html and payment_of(in_tenant, acme, order_id).client_secret in html
    assert keys.secret_key not in html
    assert "https://js.stripe.com" in page.headers["Content-Security-Policy"]


def test_stripe_unreachable_gives_a_clear_error_and_no_payment(
    market, use_stripe, stripe_emulator, acme, in_tenant
):
    use_stripe(acme)
    m = market(acme)
    order_id = m.place()
    stripe_emulator.fail_next("/v1/payment_intents", 500, times=5)
    with in_tenant(acme):
        try:
            services.start_checkout(db.session.get(Order, order_id))
        except services.PaymentError as exc:
            assert exc.status == 503
        else:
            raise AssertionError("checkout succeeded with Stripe down")
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


# --- webhooks ---------------------------------------------------------------------------


def test_payment_intent_succeeded_pays_the_order_once_even_when_duplicated(
    market, use_stripe, stripe_emulator, money, tenant_client, acme, in_tenant
):
    keys = use_stripe(acme)
    m = market(acme)
    order_id, payment = stripe_paid_order(m, stripe_emulator, keys, tenant_client, in_tenant)
    intent = stripe_emulator.get(keys.secret_key, payment.provider_ref)
    evt = event("payment_intent.succeeded", intent)
    first = deliver(tenant_client, "acme", evt, keys.webhook_secret)
    again = deliver(tenant_client, "acme", evt, keys.webhook_secret)  # Stripe redelivers the same event
    assert first.json["outcome"] == "processed" and again.json["outcome"] == "duplicate"
    # A second, distinct event for the same success changes nothing either.
    assert (
        deliver(
            tenant_client, "acme", event("payment_intent.succeeded", intent), keys.webhook_secret
        ).status_code
        == 200
    )
    after = money(acme, order_id)
    assert after.order_status == "awaiting_requirements" and after.escrow == 5000
    assert after.ledger_transactions == 1 and after.ledger_ok


def test_forged_and_stale_webhooks_are_rejected_and_change_nothing(
    market, use_stripe, stripe_emulator, money, tenant_client, acme, in_tenant
):
    keys = use_stripe(acme)
    m = market(acme)
    order_id, payment = checked_out_order(m, in_tenant)
    evt = event("payment_intent.succeeded", stripe_emulator.succeed(keys.secret_key, payment.provider_ref))
    assert deliver(tenant_client, "acme", evt, "whsec_forgedByAnAttacker").status_code == 400
    assert deliver(tenant_client, "acme", evt, keys.webhook_secret, signature="").status_code == 400
    assert (
        deliver(tenant_client, "acme", evt, keys.webhook_secret, timestamp=int(time.time()) - 301).status_code
        == 400
    )
    # Tampering with a validly signed payload breaks the signature.
    payload = json.dumps(evt)
    header = sign(payload, keys.webhook_secret)
    tampered = payload.replace('"amount": 5000', '"amount": 1')
    response = tenant_client("acme").post(
        "/webhooks/stripe", data=tampered, headers={"Stripe-Signature": header}
    )
    assert response.status_code == 400
    after = money(acme, order_id)
    assert after.order_status == "awaiting_payment" and after.escrow == 0
    # The same event, properly signed and fresh, is still accepted (it was never recorded).
    assert deliver(tenant_client, "acme", evt, keys.webhook_secret).json["outcome"] == "processed"


def test_acme_webhook_secret_is_rejected_on_globex(
    market, use_stripe, stripe_emulator, money, tenant_client, acme, globex, in_tenant
):
    acme_keys, globex_keys = use_stripe(acme), use_stripe(globex)
    g = market(globex)
    order_id = g.place()
    g.checkout(order_id)
    payment = payment_of(in_tenant, globex, order_id)
    evt = event(
        "payment_intent.succeeded", stripe_emulator.succeed(globex_keys.secret_key, payment.provider_ref)
    )
    assert deliver(tenant_client, "globex", evt, acme_keys.webhook_secret).status_code == 400
    assert money(globex, order_id).order_status == "awaiting_payment"
    assert deliver(tenant_client, "globex", evt, globex_keys.webhook_secret).status_code == 200
    assert money(globex, order_id).order_status == "awaiting_requirements"


def test_webhook_on_a_sandbox_tenant_is_not_found(tenant_client):
    response = deliver(tenant_client, "acme", event("payment_intent.succeeded", {"id": "pi_x"}), "whsec_x")
    assert response.status_code == 404


def test_failure_after_success_changes_nothing_and_success_after_failure_pays(
    market, use_stripe, stripe_emulator, money, tenant_client, acme, in_tenant
):
    keys = use_stripe(acme)
    m = market(acme)
    order_id, payment = checked_out_order(m, in_tenant)
    intent = stripe_emulator.get(keys.secret_key, payment.provider_ref)
    failed = {
        **intent,
        "status": "requires_payment_method",
        "last_payment_error": {"message": "Your card was declined."},
    }
    deliver(tenant_client, "acme", event("payment_intent.payment_failed", failed), keys.webhook_secret)
    assert money(acme, order_id).payments[0][1] == "failed"
    succeeded = stripe_emulator.succeed(keys.secret_key, payment.provider_ref)
    deliver(tenant_client, "acme", event("payment_intent.succeeded", succeeded), keys.webhook_secret)
    # The failure of the first attempt arrives late: the payment stays paid.
    deliver(tenant_client, "acme", event("payment_intent.payment_failed", failed), keys.webhook_secret)
    after = money(acme, order_id)
    assert after.payments[0][1] == "succeeded" and after.escrow == 5000 and after.ledger_ok


def test_success_for_an_order_cancelled_meanwhile_is_refunded_not_escrowed(
    market, use_stripe, stripe_emulator, money, tenant_client, run_jobs, acme, in_tenant
):
    keys = use_stripe(acme)
    m = market(acme)
    order_id = m.place()
    m.checkout(order_id)
    with in_tenant(acme):
        orders.request_cancellation(db.session.get(User, m.buyer_id), order_id, "Changed my mind")
        db.session.commit()
    payment = payment_of(in_tenant, acme, order_id)
    intent = stripe_emulator.succeed(keys.secret_key, payment.provider_ref)
    assert (
        deliver(
            tenant_client, "acme", event("payment_intent.succeeded", intent), keys.webhook_secret
        ).status_code
        == 200
    )
    run_jobs()
    after = money(acme, order_id)
    assert after.order_status == "cancelled" and after.escrow == 0 and after.ledger_transactions == 0
    assert [(r[1], r[2]) for r in after.refunds] == [("succeeded", 5000)]
    assert len(stripe_emulator.of_type(keys.secret_key, "re_")) == 1


# --- refunds ----------------------------------------------------------------------------


def test_cancellation_refunds_through_the_refunds_api_once_despite_retries(
    market, use_stripe, stripe_emulator, money, tenant_client, run_jobs, acme, in_tenant
):
    keys = use_stripe(acme)
    m = market(acme)
    order_id, payment = stripe_paid_order(m, stripe_emulator, keys, tenant_client, in_tenant)
    stripe_emulator.fail_next("/v1/refunds", 500)  # the library retries with the same key
    with in_tenant(acme):
        admin = db.session.scalars(sa.select(User).where(User.role == "admin")).first()
        orders.operator_cancel(admin, order_id, 2000, "Partly delivered")
        db.session.commit()
    run_jobs()
    calls = stripe_emulator.calls("POST", "/v1/refunds")
    assert len(calls) == 2 and calls[0].idempotency_key == calls[1].idempotency_key
    with in_tenant(acme):
        refund = db.session.scalars(sa.select(Refund)).one()
        assert calls[0].idempotency_key == f"{acme.id}:refund:{refund.id}"
        assert (refund.status, refund.amount_minor) == ("succeeded", 2000)
        # Running the job again asks Stripe nothing.
    from app.payments import tasks

    tasks.send_refund(acme.id, refund.id)
    assert len(stripe_emulator.calls("POST", "/v1/refunds")) == 2
    assert len(stripe_emulator.of_type(keys.secret_key, "re_")) == 1
    # charge.refunded arrives afterwards: it matches our refund and changes nothing.
    charge = stripe_emulator.charge_of(keys.secret_key, payment.provider_ref)
    assert (
        deliver(tenant_client, "acme", event("charge.refunded", charge), keys.webhook_secret).status_code
        == 200
    )
    after = money(acme, order_id)
    assert len(after.refunds) == 1 and after.ledger_ok


def test_charge_refunded_before_our_refund_record_is_retried_later(
    market, use_stripe, stripe_emulator, money, tenant_client, acme, in_tenant
):
    keys = use_stripe(acme)
    m = market(acme)
    order_id, payment = stripe_paid_order(m, stripe_emulator, keys, tenant_client, in_tenant)
    charge = stripe_emulator.charge_of(keys.secret_key, payment.provider_ref)
    early = {
        "id": "re_early1",
        "object": "refund",
        "amount": 1000,
        "status": "succeeded",
        "payment_intent": payment.provider_ref,
        "metadata": {"tenant_id": str(acme.id), "refund_id": "1"},
    }
    charge["refunds"]["data"] = [early]
    evt = event("charge.refunded", charge)
    assert deliver(tenant_client, "acme", evt, keys.webhook_secret).status_code == 409  # Stripe will retry
    with in_tenant(acme):
        services.refund_order_payment(order_id, 1000, reference="test")
        db.session.commit()
    response = deliver(tenant_client, "acme", evt, keys.webhook_secret)  # the retry
    assert response.status_code == 200 and response.json["outcome"] == "processed"
    assert [(r[1], r[3]) for r in money(acme, order_id).refunds] == [("succeeded", "re_early1")]


def test_refund_made_in_the_stripe_dashboard_comes_out_of_escrow(
    market, use_stripe, stripe_emulator, money, tenant_client, acme, in_tenant
):
    keys = use_stripe(acme)
    m = market(acme)
    order_id, payment = stripe_paid_order(m, stripe_emulator, keys, tenant_client, in_tenant)
    charge = stripe_emulator.charge_of(keys.secret_key, payment.provider_ref)
    charge["refunds"]["data"] = [
        {
            "id": "re_dash1",
            "object": "refund",
            "amount": 1500,
            "status": "succeeded",
            "payment_intent": payment.provider_ref,
            "metadata": {},
        }
    ]
    evt = event("charge.refunded", charge)
    deliver(tenant_client, "acme", evt, keys.webhook_secret)
    deliver(tenant_client, "acme", event("charge.refunded", charge), keys.webhook_secret)  # a second event
    after = money(acme, order_id)
    assert after.escrow == 3500 and [(r[2], r[4]) for r in after.refunds] == [(1500, "provider")]
    assert after.ledger_ok


# --- Connect: onboarding, payouts, transfers --------------------------------------------


def test_seller_onboards_then_is_paid_out_by_a_transfer_once(
    market, use_stripe, stripe_emulator, money, tenant_client, seller_earnings, run_jobs, acme, in_tenant
):
    keys = use_stripe(acme)
    m = market(acme)
    order_id, _payment = stripe_paid_order(m, stripe_emulator, keys, tenant_client, in_tenant)
    seller_earnings(acme, order_id)
    client = m.client(m.seller_email)
    page = client.get("/account/earnings").get_data(as_text=True)
    assert "Set up payouts" in page
    # Not onboarded: a payout is refused and nothing moves.
    with in_tenant(acme):
        try:
            services.request_payout(db.session.get(User, m.seller_id), 1000)
        except services.PaymentError as exc:
            assert exc.status == 409
        db.session.rollback()
    response = client.post("/account/earnings/onboard", data=form_tokens(client, "/account/earnings"))
    assert response.status_code == 302 and "/connect/onboarding/acct_" in response.headers["Location"]
    account_call = stripe_emulator.calls("POST", "/v1/accounts")[0]
    assert account_call.idempotency_key == f"{acme.id}:account:{m.seller_id}"
    account_id = response.headers["Location"].rsplit("/", 1)[-1]
    # Stripe tells us the account is ready.
    account = stripe_emulator.complete_onboarding(keys.secret_key, account_id)
    deliver(tenant_client, "acme", event("account.updated", account), keys.webhook_secret)
    assert money(acme).accounts == [(m.seller_id, account_id, True)]

    tokens = form_tokens(client, "/account/earnings")
    assert (
        client.post(
            "/account/earnings/payouts", data={"confirm": "yes", **tokens, "amount": "45.00"}
        ).status_code
        == 302
    )
    stripe_emulator.fail_next("/v1/transfers", 500)
    run_jobs()
    run_jobs()
    transfers = stripe_emulator.calls("POST", "/v1/transfers")
    payout_id = money(acme).payouts[0][0]
    assert {c.idempotency_key for c in transfers} == {f"{acme.id}:transfer:{payout_id}"}
    assert len(stripe_emulator.of_type(keys.secret_key, "tr_")) == 1
    transfer = stripe_emulator.of_type(keys.secret_key, "tr_")[0]
    assert transfer["destination"] == account_id and transfer["amount"] == 4500
    after = money(acme, seller_id=m.seller_id)
    assert after.payouts == [(payout_id, "sent", 4500, transfer["id"])]
    assert after.balances["available"] == 0
    # transfer.created arrives (twice): nothing changes.
    for _ in range(2):
        deliver(tenant_client, "acme", event("transfer.created", transfer), keys.webhook_secret)
    assert money(acme).payouts == after.payouts

    # The transfer is reversed at Stripe: the money returns to the seller's balance, once.
    reversed_transfer = {**transfer, "reversed": True}
    evt = event("transfer.reversed", reversed_transfer)
    deliver(tenant_client, "acme", evt, keys.webhook_secret)
    deliver(tenant_client, "acme", event("transfer.reversed", reversed_transfer), keys.webhook_secret)
    final = money(acme, seller_id=m.seller_id)
    assert final.payouts[0][1] == "reversed" and final.balances["available"] == 4500 and final.ledger_ok


def test_transfer_refused_by_stripe_fails_the_payout_and_returns_the_money(
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
        account.ready, account.kyc_status = True, "verified"  # ready here, but Stripe disagrees
        services.request_payout(seller, 4500)
        db.session.commit()
    run_jobs()
    after = money(acme, seller_id=m.seller_id)
    assert after.payouts[0][1] == "failed" and after.balances["available"] == 4500 and after.ledger_ok
