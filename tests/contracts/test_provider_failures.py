"""Each money step of a contract survives a failure of the payment provider (the Stripe
emulation): funding retries on a new checkout and moves nothing until Stripe confirms; a refund
at ending is retried with the same idempotency key and completes once."""

from __future__ import annotations

import sqlalchemy as sa

from app.events.models import OutboxEvent
from app.ledger import services as ledger
from app.orders.models import Order
from app.payments import services as payments
from app.payments.models import Payment, Refund
from tenants.db import db
from tests.helpers import login
from tests.orders.test_done_when import Stripe
from tests.payments.conftest import STRIPE_KEYS


def test_stripe_failures_on_funding_and_refund_are_retried_and_move_money_once(
    acme, contract_in, api_token, tenant_client, in_tenant, run_jobs, stripe_emulator
):
    keys = STRIPE_KEYS["acme"]
    with in_tenant(acme):
        payments.configure_stripe(keys["publishable_key"], keys["secret_key"], keys["webhook_secret"])
        db.session.commit()
    stripe = Stripe(acme, tenant_client, run_jobs, stripe_emulator)
    h, cid, order_id, (m1, _m2) = contract_in(acme, fund=0)
    client, ch = api_token(acme, h.emails["client"])
    web = login(tenant_client("acme"), h.emails["client"])
    fund = f"/api/v1/orders/{order_id}/milestones/{m1}/fund"

    # Stripe is down: no checkout, no payment, the milestone still waits for funding.
    stripe_emulator.fail_next("/v1/payment_intents", 500, times=5)
    r = client.post(fund, json={}, headers={**ch, "Idempotency-Key": "f-1"})
    assert r.status_code == 200 and r.json["checkout_url"] is None and r.json["status"] == "funding_required"
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0
    # Stripe is back: the same step, a new key, opens the checkout; paying funds it once.
    stripe_emulator.failures.clear()
    r = client.post(fund, json={}, headers={**ch, "Idempotency-Key": "f-2"})
    assert r.status_code == 200 and r.json["checkout_url"]
    stripe.pay(web, r.json["checkout_url"])
    with in_tenant(acme):
        assert db.session.get(Order, order_id).milestones[0].status == "funded"
        assert ledger.milestone_escrow_balance(order_id, m1, "USD") == 100000

    # Ending refunds the funded milestone; Stripe fails the first refund call.
    stripe_emulator.fail_next("/v1/refunds", 500)
    r = client.post(f"/api/v1/contracts/{cid}/end", json={"reason": "Plans changed"}, headers=ch)
    assert r.status_code == 200 and r.json["status"] == "cancelled"
    run_jobs()
    run_jobs()
    calls = stripe_emulator.calls("POST", "/v1/refunds")
    assert len(calls) == 2 and calls[0].idempotency_key == calls[1].idempotency_key
    assert len(stripe_emulator.of_type(keys["secret_key"], "re_")) == 1
    with in_tenant(acme):
        refund = db.session.scalars(sa.select(Refund)).one()
        assert (refund.status, refund.amount_minor) == ("succeeded", 100000)
        completed = db.session.scalars(
            sa.select(OutboxEvent).where(OutboxEvent.name == "refund.completed")
        ).all()
        assert len(completed) == 1
        assert ledger.verify().ok
