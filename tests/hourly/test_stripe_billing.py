"""Hourly weeks billed through Stripe (the emulator): the client saves a card with a
SetupIntent, an approved week is charged off-session with an idempotency key and paid to the
freelancer through the ledger; a decline pauses the contract; a charge still processing is
billed once when its ``payment_intent.succeeded`` webhook arrives (twice)."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from tests.contracts.conftest import user
from tests.hourly.conftest import T0
from tests.orders.test_done_when import Stripe
from tests.payments.conftest import STRIPE_KEYS
from tests.payments.stripe_emulator import event


def at(days=0, hours=0):
    return T0 + timedelta(days=days, hours=hours)


def _save_card(in_tenant, h, emulator, test_method):
    from app.payments import billing
    from tenants.db import db

    key = STRIPE_KEYS[h.tenant.slug]["secret_key"]
    with in_tenant(h.tenant):
        secret, publishable = billing.start_stripe_setup(user(h.client))
        db.session.commit()
    assert publishable == STRIPE_KEYS[h.tenant.slug]["publishable_key"]
    setup_intent = secret.split("_secret_")[0]
    emulator.confirm_setup(key, setup_intent, test_method)  # Stripe.js, in the browser
    with in_tenant(h.tenant):
        method = billing.complete_stripe_setup(user(h.client), setup_intent)
        db.session.commit()
        return method.brand, method.last4, method.customer_ref, method.payment_method_ref


def _approved_week(in_tenant, h, minutes=90):
    from app.hourly import services
    from tenants.db import db

    with in_tenant(h.tenant):
        services.log_time(
            user(h.ann), h.contract_id, {"work_date": "2026-03-04", "minutes": minutes}, now=at(3)
        )
        sheet = services.close_week(h.contract_id, date(2026, 3, 2), now=at(7, 1))
        sheet = services.approve(user(h.client), sheet.id, now=at(7, 2))
        db.session.commit()
        return sheet.id, sheet.status, sheet.failure_reason


def _sheet(in_tenant, tenant, sid):
    from app.hourly.models import Timesheet
    from tenants.db import db

    with in_tenant(tenant):
        return db.session.get(Timesheet, sid, populate_existing=True)


def test_an_hourly_week_is_billed_through_stripe(acme, hourly_in, use_stripe, stripe_emulator, in_tenant):
    from app.contracts.models import Contract
    from app.ledger import services as ledger
    from app.orders.models import Order
    from app.payments.models import Payment
    from tenants.db import db

    h = hourly_in(acme, card=None)
    keys = use_stripe(acme)
    brand, last4, customer, pm = _save_card(in_tenant, h, stripe_emulator, "pm_card_visa")
    assert (brand, last4) == ("visa", "4242") and customer.startswith("cus_") and pm.startswith("pm_")
    assert stripe_emulator.calls("POST", "/v1/customers")[0].idempotency_key  # one Customer per user

    sid, status, _ = _approved_week(in_tenant, h)
    assert status == "billed"
    (charge,) = stripe_emulator.calls("POST", "/v1/payment_intents")
    assert charge.status == 200 and charge.idempotency_key
    p = charge.params
    assert (p["customer"], p["payment_method"], p["off_session"], p["confirm"]) == (
        customer,
        pm,
        "true",
        "true",
    )
    assert p["amount"] == "6750"
    with in_tenant(acme):
        payment = db.session.scalars(sa.select(Payment)).one()
        assert payment.status == "succeeded" and payment.provider == "stripe"
        intent = stripe_emulator.get(keys.secret_key, payment.provider_ref)
        assert intent["status"] == "succeeded" and intent["metadata"]["payment_id"] == str(payment.id)
        (m,) = db.session.get(Order, h.order_id).milestones
        assert m.status == "paid" and m.amount_minor == 6750
        assert sum(ledger.seller_balances(h.ann, payment.currency).values()) > 0
        assert db.session.get(Contract, h.contract_id).paused_at is None
        ledger.verify()


def test_a_declined_saved_card_pauses_the_contract(acme, hourly_in, use_stripe, stripe_emulator, in_tenant):
    from app.contracts.models import Contract
    from app.ledger import services as ledger
    from tenants.db import db

    h = hourly_in(acme, card=None)
    use_stripe(acme)
    _save_card(in_tenant, h, stripe_emulator, "pm_card_chargeDeclined")
    sid, status, reason = _approved_week(in_tenant, h)
    assert status == "payment_failed" and "declined" in reason.lower()
    (charge,) = stripe_emulator.calls("POST", "/v1/payment_intents")
    assert charge.status == 402
    with in_tenant(acme):
        c = db.session.get(Contract, h.contract_id)
        assert c.paused_at is not None and c.pause_reason == "payment_failed"
        assert ledger.seller_balances(h.ann, c.currency) == {} or not any(
            ledger.seller_balances(h.ann, c.currency).values()
        )
        ledger.verify()

    # The client saves a card that needs authentication: the retry fails again, with its reason.
    _save_card(in_tenant, h, stripe_emulator, "pm_card_authenticationRequired")
    from app.hourly import services

    with in_tenant(acme):
        sheet = services.retry_payment(user(h.client), sid, now=at(8))
        db.session.commit()
        assert sheet.status == "payment_failed"
    assert stripe_emulator.calls("POST", "/v1/payment_intents")[-1].status == 402
    # A good card: paid and resumed; every attempt had its own idempotency key.
    _save_card(in_tenant, h, stripe_emulator, "pm_card_visa")
    with in_tenant(acme):
        sheet = services.retry_payment(user(h.client), sid, now=at(8, 1))
        db.session.commit()
        assert sheet.status == "billed"
        assert db.session.get(Contract, h.contract_id).paused_at is None
        ledger.verify()
    keys = [c.idempotency_key for c in stripe_emulator.calls("POST", "/v1/payment_intents")]
    assert len(keys) == 3 and len(set(keys)) == 3


def test_a_processing_charge_is_billed_once_by_its_webhook(
    acme, hourly_in, use_stripe, stripe_emulator, in_tenant, tenant_client, run_jobs
):
    from app.ledger import services as ledger
    from app.payments.models import Payment
    from tenants.db import db

    h = hourly_in(acme, card=None)
    keys = use_stripe(acme)
    _save_card(in_tenant, h, stripe_emulator, "pm_card_visa")
    stripe_emulator.processing = True
    sid, status, _ = _approved_week(in_tenant, h)
    assert status == "approved"  # charged, not yet confirmed: nothing moved
    with in_tenant(acme):
        payment = db.session.scalars(sa.select(Payment)).one()
        assert payment.status == "pending" and payment.provider_ref
        intent_id = payment.provider_ref
    run_jobs()
    assert _sheet(in_tenant, acme, sid).status == "approved"
    intent = stripe_emulator.succeed(keys.secret_key, intent_id)
    stripe = Stripe(acme, tenant_client, run_jobs, stripe_emulator)
    delivery = event("payment_intent.succeeded", intent)
    stripe.webhook(delivery)
    stripe.webhook(delivery)  # delivered twice
    stripe.webhook(event("payment_intent.succeeded", intent))  # and a second event for it
    run_jobs()
    sheet = _sheet(in_tenant, acme, sid)
    assert sheet.status == "billed" and sheet.billed_at is not None
    with in_tenant(acme):
        assert db.session.scalars(sa.select(Payment)).one().status == "succeeded"
        from app.ledger.models import LedgerTransaction

        releases = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == "release")
        )
        assert releases == 1
        ledger.verify()


def test_the_card_is_saved_through_the_api(acme, hourly_in, use_stripe, stripe_emulator, api_token):
    h = hourly_in(acme, card=None)
    keys = use_stripe(acme)
    c, ch = api_token(acme, h.emails["client"])
    a, ah = api_token(acme, h.emails["ann"])
    card = {"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"}
    assert c.put("/api/v1/billing-method", json=card, headers=ch).status_code == 409  # Stripe here
    r = c.post("/api/v1/billing-method/stripe-setup", headers=ch)
    assert r.status_code == 200 and r.json["publishable_key"] == keys.publishable_key
    setup_intent = r.json["client_secret"].split("_secret_")[0]
    assert c.get("/api/v1/billing-method", headers=ch).status_code == 404  # not usable yet
    body = {"setup_intent": setup_intent}
    assert c.post("/api/v1/billing-method/stripe-complete", json=body, headers=ch).status_code == 409
    stripe_emulator.confirm_setup(keys.secret_key, setup_intent, "pm_card_visa")
    # Someone else's SetupIntent is not theirs to save.
    assert a.post("/api/v1/billing-method/stripe-setup", headers=ah).status_code == 200
    assert a.post("/api/v1/billing-method/stripe-complete", json=body, headers=ah).status_code == 404
    r = c.post("/api/v1/billing-method/stripe-complete", json=body, headers=ch)
    assert r.status_code == 200 and (r.json["provider"], r.json["last4"]) == ("stripe", "4242")
    assert c.get("/api/v1/billing-method", headers=ch).json["brand"] == "visa"
