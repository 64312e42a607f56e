"""Paying for an order and for a milestone through the API alone (issue #19, API coverage):
payment sessions, the sandbox's test cards, Stripe's client secret, idempotency and isolation."""

from __future__ import annotations

import json

import sqlalchemy as sa

from app.ledger import services as ledger
from app.ledger.models import LedgerTransaction
from app.orders.models import Order
from app.payments.models import Payment
from tenants.db import db
from tests.payments.stripe_emulator import event, sign

CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/40", "cvc": "123"}
DECLINED = {**CARD, "card_number": "4000 0000 0000 0002"}
THREE_D = {**CARD, "card_number": "4000 0025 0000 3155"}


def auth(token: str, key: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def place(client, headers, gig_id) -> int:
    r = client.post("/api/v1/orders", json={"gig_id": gig_id, "tier": "basic"}, headers=headers)
    assert r.status_code == 201, r.json
    return r.json["id"]


def state(in_tenant, tenant, order_id):
    with in_tenant(tenant):
        order = db.session.get(Order, order_id)
        payments = [
            (p.status, p.attempts, p.amount_minor)
            for p in db.session.scalars(sa.select(Payment).where(Payment.order_id == order_id))
        ]
        return {
            "status": order.status,
            "payments": payments,
            "escrow": ledger.escrow_balance(order_id, order.currency),
            "transactions": db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)),
            "ledger_ok": ledger.verify().ok,
        }


def test_a_buyer_pays_an_order_through_the_api_alone(acme, market, tenant_client, access_token, in_tenant):
    m = market(acme)
    client = tenant_client("acme")
    buyer = auth(access_token(acme, m.buyer_id))
    hits = client.get("/api/v1/gigs", headers=buyer).json
    assert m.gig_id in [g["id"] for g in hits]
    order_id = place(client, buyer, m.gig_id)

    opened = client.post(f"/api/v1/orders/{order_id}/payment-session", headers=buyer)
    assert opened.status_code == 201, opened.json
    session = opened.json
    assert session["provider"] == "sandbox" and session["client_secret"] is None
    assert session["status"] == "pending" and session["amount_minor"] == 5000
    assert opened.headers["Location"].endswith(f"/api/v1/orders/{order_id}/payment-session")
    assert client.get(opened.headers["Location"], headers=buyer).json["id"] == session["id"]
    # Opening it again answers the same payment.
    assert (
        client.post(f"/api/v1/orders/{order_id}/payment-session", headers=buyer).json["id"] == session["id"]
    )

    paid = client.post(session["confirm_url"], json=CARD, headers=auth(buyer["Authorization"][7:], "pay-1"))
    assert paid.status_code == 200, paid.json
    assert paid.json["status"] == "awaiting_requirements" and paid.json["paid_at"]
    after = state(in_tenant, acme, order_id)
    assert after["payments"] == [("succeeded", 1, 5000)]
    assert after["escrow"] == 5000 and after["ledger_ok"]

    # The same key replays the answer; a new key on a paid session pays nothing twice.
    replay = client.post(session["confirm_url"], json=CARD, headers=auth(buyer["Authorization"][7:], "pay-1"))
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    again = client.post(session["confirm_url"], json=CARD, headers=buyer)
    assert again.status_code == 200 and again.json["status"] == "awaiting_requirements"
    assert state(in_tenant, acme, order_id) == after
    # A paid order has no session to open any more.
    reopen = client.post(f"/api/v1/orders/{order_id}/payment-session", headers=buyer)
    assert reopen.status_code == 409


def test_a_declined_card_is_402_records_the_attempt_and_pays_nothing(
    acme, market, tenant_client, access_token, in_tenant
):
    m = market(acme)
    client = tenant_client("acme")
    buyer = auth(access_token(acme, m.buyer_id))
    order_id = place(client, buyer, m.gig_id)
    url = client.post(f"/api/v1/orders/{order_id}/payment-session", headers=buyer).json["confirm_url"]
    before = state(in_tenant, acme, order_id)

    declined = client.post(url, json=DECLINED, headers=buyer)
    assert declined.status_code == 402
    assert declined.json["errors"]["code"] == "card_declined" and "declined" in declined.json["message"]
    after = state(in_tenant, acme, order_id)
    assert after["status"] == "awaiting_payment" and after["escrow"] == 0
    assert after["transactions"] == before["transactions"]
    assert after["payments"] == [("failed", 1, 5000)]  # the attempt is recorded
    session = client.get(f"/api/v1/orders/{order_id}/payment-session", headers=buyer).json
    assert session["status"] == "failed" and session["failure_reason"]

    # Bad card details: 422 with field errors, nothing recorded.
    bad = client.post(url, json={"card_number": "1234", "expiry": "13/99", "cvc": "x"}, headers=buyer)
    assert bad.status_code == 422 and {"card_number", "expiry", "cvc"} <= set(bad.json["errors"]["json"])
    assert state(in_tenant, acme, order_id)["payments"] == [("failed", 1, 5000)]

    # Then the buyer retries with the success card: paid once.
    assert client.post(url, json=CARD, headers=buyer).status_code == 200
    assert state(in_tenant, acme, order_id)["escrow"] == 5000


def test_the_second_step_card_asks_then_pays_on_approval(
    acme, market, tenant_client, access_token, in_tenant
):
    m = market(acme)
    client = tenant_client("acme")
    buyer = auth(access_token(acme, m.buyer_id))
    order_id = place(client, buyer, m.gig_id)
    base = f"/api/v1/orders/{order_id}/payment-session"
    client.post(base, headers=buyer)
    asked = client.post(f"{base}/confirm", json=THREE_D, headers=buyer)
    assert asked.status_code == 402 and asked.json["errors"]["code"] == "authentication_required"
    assert state(in_tenant, acme, order_id)["payments"][0][0] == "requires_action"
    approved = client.post(f"{base}/authenticate", json={"approve": True}, headers=buyer)
    assert approved.status_code == 200 and approved.json["status"] == "awaiting_requirements"
    assert client.post(f"{base}/authenticate", json={"approve": True}, headers=buyer).status_code == 200
    assert state(in_tenant, acme, order_id)["escrow"] == 5000


def test_only_the_buyer_sees_or_pays_the_session(acme, market, tenant_client, access_token, in_tenant):
    m = market(acme)
    client = tenant_client("acme")
    buyer = auth(access_token(acme, m.buyer_id))
    stranger = auth(access_token(acme, m.stranger_id))
    seller = auth(access_token(acme, m.seller_id))
    order_id = place(client, buyer, m.gig_id)
    base = f"/api/v1/orders/{order_id}/payment-session"
    client.post(base, headers=buyer)
    for who in (stranger,):
        assert client.post(base, headers=who).status_code == 404
        assert client.get(base, headers=who).status_code == 404
        assert client.post(f"{base}/confirm", json=CARD, headers=who).status_code == 404
    assert client.post(base, headers=seller).status_code == 403
    assert client.post(f"{base}/confirm", json=CARD, headers=seller).status_code == 403
    assert client.post(base).status_code == 401
    assert state(in_tenant, acme, order_id)["status"] == "awaiting_payment"
    assert client.post("/api/v1/orders/999999/payment-session", headers=buyer).status_code == 404


def test_equal_ids_on_two_tenants_never_meet(acme, globex, market, tenant_client, access_token, in_tenant):
    a, b = market(acme), market(globex)
    acme_client, globex_client = tenant_client("acme"), tenant_client("globex")
    acme_buyer = auth(access_token(acme, a.buyer_id))
    globex_buyer = auth(access_token(globex, b.buyer_id))
    acme_order = place(acme_client, acme_buyer, a.gig_id)
    globex_order = place(globex_client, globex_buyer, b.gig_id)
    assert acme_order == globex_order  # the same id in both schemas
    acme_client.post(f"/api/v1/orders/{acme_order}/payment-session", headers=acme_buyer)
    globex_before = state(in_tenant, globex, globex_order)
    # acme's token is worthless on globex, and globex's order is untouched by acme's payment.
    assert (
        globex_client.post(f"/api/v1/orders/{acme_order}/payment-session", headers=acme_buyer).status_code
        == 401
    )
    paid = acme_client.post(
        f"/api/v1/orders/{acme_order}/payment-session/confirm", json=CARD, headers=acme_buyer
    )
    assert paid.status_code == 200
    globex_after = state(in_tenant, globex, globex_order)
    assert globex_after == globex_before and globex_after["status"] == "awaiting_payment"
    assert state(in_tenant, acme, acme_order)["status"] == "awaiting_requirements"


def _offer_order(client, seller, buyer, m, amounts=(10000, 20000)) -> int:
    conversation = client.post("/api/v1/conversations", json={"user_id": m.buyer_id}, headers=seller).json
    offer = client.post(
        "/api/v1/offers",
        json={
            "conversation_id": conversation["id"],
            "title": "Brand kit",
            "description": "Logo and cards",
            "total_minor": sum(amounts),
            "delivery_days": 10,
            "milestones": [{"title": f"Part {i}", "amount_minor": a} for i, a in enumerate(amounts, 1)],
        },
        headers=seller,
    )
    assert offer.status_code == 201, offer.json
    accepted = client.post(f"/api/v1/offers/{offer.json['id']}/accept", headers=buyer)
    assert accepted.status_code == 201, accepted.json
    return accepted.json["id"]


def test_milestones_are_funded_through_the_api(acme, market, tenant_client, access_token, in_tenant):
    m = market(acme)
    client = tenant_client("acme")
    buyer = auth(access_token(acme, m.buyer_id))
    seller = auth(access_token(acme, m.seller_id))
    order_id = _offer_order(client, seller, buyer, m)
    order = client.get(f"/api/v1/orders/{order_id}", headers=buyer).json
    first, second = (x["id"] for x in order["milestones"])

    # The order's session funds the first milestone (as the web checkout does).
    session = client.post(f"/api/v1/orders/{order_id}/payment-session", headers=buyer).json
    assert session["amount_minor"] == 10000 and session["milestone_id"] == first
    assert client.post(session["confirm_url"], json=CARD, headers=buyer).status_code == 200

    # The second, on its own: its funding requested and its own payment.
    base = f"/api/v1/orders/{order_id}/milestones/{second}/payment-session"
    assert client.get(base, headers=buyer).status_code == 404
    assert client.post(base, headers=seller).status_code == 403
    opened = client.post(base, headers=buyer)
    assert opened.status_code == 201, opened.json
    assert opened.json["milestone_id"] == second and opened.json["amount_minor"] == 20000
    assert opened.headers["Location"].endswith(base)
    declined = client.post(opened.json["confirm_url"], json=DECLINED, headers=buyer)
    assert declined.status_code == 402
    paid = client.post(opened.json["confirm_url"], json=CARD, headers=buyer)
    assert paid.status_code == 200, paid.json
    assert [x["status"] for x in paid.json["milestones"]] == ["funded", "funded"]
    assert client.post(opened.json["confirm_url"], json=CARD, headers=buyer).status_code == 200
    after = state(in_tenant, acme, order_id)
    assert after["escrow"] == 30000 and after["ledger_ok"]
    # Funded: no second session.
    assert client.post(base, headers=buyer).status_code == 409
    assert (
        client.post(f"/api/v1/orders/{order_id}/milestones/999999/payment-session", headers=buyer).status_code
        == 404
    )


def test_a_stripe_session_answers_the_client_secret_and_the_webhook_pays(
    acme, market, tenant_client, access_token, in_tenant, use_stripe, stripe_emulator
):
    keys = use_stripe(acme)
    m = market(acme)
    client = tenant_client("acme")
    buyer = auth(access_token(acme, m.buyer_id))
    order_id = place(client, buyer, m.gig_id)
    opened = client.post(f"/api/v1/orders/{order_id}/payment-session", headers=buyer)
    assert opened.status_code == 201, opened.json
    session = opened.json
    assert session["provider"] == "stripe" and session["confirm_url"] is None
    assert session["client_secret"].startswith("pi_") and session["publishable_key"] == keys.publishable_key
    # The sandbox's confirm is not Stripe's.
    refused = client.post(f"/api/v1/orders/{order_id}/payment-session/confirm", json=CARD, headers=buyer)
    assert refused.status_code == 409 and refused.json["errors"]["code"] == "not_sandbox"
    with in_tenant(acme):
        ref = db.session.scalars(sa.select(Payment.provider_ref).where(Payment.order_id == order_id)).one()
    intent = stripe_emulator.succeed(keys.secret_key, ref)
    payload = json.dumps(event("payment_intent.succeeded", intent))
    hook = client.post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": sign(payload, keys.webhook_secret), "Content-Type": "application/json"},
    )
    assert hook.status_code == 200, hook.json
    assert (
        client.get(f"/api/v1/orders/{order_id}/payment-session", headers=buyer).json["status"] == "succeeded"
    )
    assert state(in_tenant, acme, order_id)["status"] == "awaiting_requirements"
