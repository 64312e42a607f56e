"""The orders API over HTTP: the whole lifecycle, refusals with no money moved, idempotency."""

from __future__ import annotations

import io
import uuid

from app.orders import services
from tenants.db import db

from .conftest import BASIC, EXTRA, STANDARD, money_snapshot


def _pay(in_tenant, tenant, order_id):
    with in_tenant(tenant):
        services.mark_paid(order_id, f"pay_api_{order_id}")
        db.session.commit()


def test_whole_lifecycle_through_the_api(acme, market, api_token, in_tenant, run_jobs):
    m = market(acme)
    buyer, bh = api_token(acme, m.buyer_email)
    seller, sh = api_token(acme, m.seller_email)

    body = {
        "gig_id": m.gig_id,
        "tier": "standard",
        "extras": m.extra_ids,
        "quantity": 2,
        "total_minor": (STANDARD + EXTRA) * 2,
        "currency": "USD",
    }
    placed = buyer.post("/api/v1/orders", json=body, headers={**bh, "Idempotency-Key": "place-1"})
    assert placed.status_code == 201, placed.json
    order = placed.json
    assert order["status"] == "awaiting_payment" and order["total_minor"] == (STANDARD + EXTRA) * 2
    assert order["money"]["escrow_minor"] == 0
    # the same key and body replay the answer: still one order
    again = buyer.post("/api/v1/orders", json=body, headers={**bh, "Idempotency-Key": "place-1"})
    assert again.status_code == 201 and again.json["id"] == order["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    listed = buyer.get("/api/v1/orders", headers=bh)
    assert [o["id"] for o in listed.json] == [order["id"]]

    oid = order["id"]
    _pay(in_tenant, acme, oid)
    r = buyer.post(f"/api/v1/orders/{oid}/requirements", json={"requirements": "Navy and gold"}, headers=bh)
    assert r.status_code == 200 and r.json["status"] == "in_progress" and r.json["due_at"]
    r = seller.post(
        f"/api/v1/orders/{oid}/deliveries",
        data={"message": "Three concepts", "files": (io.BytesIO(b"%PDF-1.4 logo"), "logo.pdf")},
        headers=sh,
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.json
    assert r.json["files"][0]["filename"] == "logo.pdf" and r.json["files"][0]["url"]
    r = buyer.post(f"/api/v1/orders/{oid}/revision", json={"reason": "Bigger text"}, headers=bh)
    assert r.status_code == 200 and r.json["revisions_used"] == 1
    r = seller.post(f"/api/v1/orders/{oid}/deliveries", json={"message": "Bigger now"}, headers=sh)
    assert r.status_code == 201
    r = buyer.post(f"/api/v1/orders/{oid}/complete", json={}, headers={**bh, "Idempotency-Key": "done-1"})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "completed" and r.json["money"]["escrow_minor"] == 0
    assert [e["kind"] for e in r.json["timeline"]][-1] == "completed"
    replay = buyer.post(
        f"/api/v1/orders/{oid}/complete", json={}, headers={**bh, "Idempotency-Key": "done-1"}
    )
    assert replay.status_code == 200
    with in_tenant(acme):
        assert money_snapshot(oid)["transactions"] == {"payment": 1, "release": 1}

    # the handlers tell both sides: system messages in the order thread, notifications
    run_jobs()
    with in_tenant(acme):
        import sqlalchemy as sa

        from app.messaging.models import Conversation, Message
        from app.notifications.models import Notification

        conversation = db.session.scalar(sa.select(Conversation).where(Conversation.order_id == oid))
        bodies = db.session.scalars(
            sa.select(Message.body).where(Message.conversation_id == conversation.id).order_by(Message.id)
        ).all()
        assert any("accepted the delivery" in b for b in bodies)
        kinds = {(n.user_id, n.kind) for n in db.session.scalars(sa.select(Notification))}
        assert (m.seller_id, "order_completed") in kinds and (m.buyer_id, "order_completed") in kinds
        assert (m.buyer_id, "order_delivered") in kinds


def test_bad_input_is_refused_with_field_errors_and_no_money(acme, market, make_gig, api_token, in_tenant):
    m = market(acme)
    paused = make_gig(acme, m.seller_id, status="paused", title="I will do something paused for you")
    buyer, bh = api_token(acme, m.buyer_email)
    seller, sh = api_token(acme, m.seller_email)
    cases = [
        (seller, sh, {"gig_id": m.gig_id, "tier": "basic"}, 422, "gig_id"),
        (buyer, bh, {"gig_id": paused, "tier": "basic"}, 422, "gig_id"),
        (buyer, bh, {"gig_id": m.gig_id, "tier": "gold"}, 422, "tier"),
        (buyer, bh, {"gig_id": m.gig_id, "tier": "basic", "total_minor": 1}, 422, "total_minor"),
        (buyer, bh, {"gig_id": m.gig_id, "tier": "basic", "currency": "EUR"}, 422, "currency"),
        (buyer, bh, {"gig_id": m.gig_id, "tier": "basic", "total_minor": "5000"}, 422, "total_minor"),
        (buyer, bh, {"gig_id": 4242, "tier": "basic"}, 404, None),
    ]
    for client, headers, body, status, field in cases:
        r = client.post("/api/v1/orders", json=body, headers=headers)
        assert r.status_code == status, (body, r.json)
        if field:
            assert field in r.json["errors"]["json"], r.json
    assert buyer.get("/api/v1/orders", headers=bh).json == []


def test_forbidden_transition_is_409_with_the_current_state(acme, market, order_in, api_token, in_tenant):
    m, oid = order_in(acme, "in_progress")
    buyer, bh = api_token(acme, m.buyer_email)
    r = buyer.post(f"/api/v1/orders/{oid}/complete", json={}, headers=bh)
    assert r.status_code == 409
    assert "in progress" in r.json["message"] and r.json["errors"]["current_status"] == "in_progress"
    r = buyer.post(f"/api/v1/orders/{oid}/requirements", json={"requirements": "again"}, headers=bh)
    assert r.status_code == 409
    r = buyer.post(f"/api/v1/orders/{oid}/deliveries", json={"message": "me"}, headers=bh)
    assert r.status_code == 403
    stranger, xh = api_token(acme, m.stranger_email)
    assert stranger.get(f"/api/v1/orders/{oid}", headers=xh).status_code == 404
    with in_tenant(acme):
        assert money_snapshot(oid)["transactions"] == {"payment": 1}


def test_refund_larger_than_escrow_is_refused_and_cancellation_works(acme, order_in, api_token, in_tenant):
    m, oid = order_in(acme, "delivered")
    buyer, bh = api_token(acme, m.buyer_email)
    seller, sh = api_token(acme, m.seller_email)
    r = buyer.post(
        f"/api/v1/orders/{oid}/cancellation", json={"reason": "No", "refund_minor": BASIC + 1}, headers=bh
    )
    assert r.status_code == 422 and "refund_minor" in r.json["errors"]["json"]
    with in_tenant(acme):
        assert money_snapshot(oid)["transactions"] == {"payment": 1}
    r = buyer.post(
        f"/api/v1/orders/{oid}/cancellation",
        json={"reason": "Not what I wanted", "refund_minor": 4000},
        headers=bh,
    )
    assert r.status_code == 200 and r.json["cancellations"][0]["status"] == "pending"
    r = buyer.post(f"/api/v1/orders/{oid}/cancellation/respond", json={"accept": True}, headers=bh)
    assert r.status_code == 403
    r = seller.post(f"/api/v1/orders/{oid}/cancellation/respond", json={"accept": True}, headers=sh)
    assert r.status_code == 200 and r.json["status"] == "cancelled"
    assert r.json["money"]["refunded_minor"] == 4000 and r.json["money"]["escrow_minor"] == 0
    listed = buyer.get("/api/v1/orders?tab=cancelled", headers=bh)
    assert [o["id"] for o in listed.json] == [oid]
    assert buyer.get("/api/v1/orders?status=in_progress", headers=bh).json == []


def test_idempotency_key_with_another_body_is_refused(acme, market, api_token):
    m = market(acme)
    buyer, bh = api_token(acme, m.buyer_email)
    key = uuid.uuid4().hex
    first = buyer.post(
        "/api/v1/orders", json={"gig_id": m.gig_id, "tier": "basic"}, headers={**bh, "Idempotency-Key": key}
    )
    assert first.status_code == 201
    second = buyer.post(
        "/api/v1/orders", json={"gig_id": m.gig_id, "tier": "premium"}, headers={**bh, "Idempotency-Key": key}
    )
    assert second.status_code == 422
    assert len(buyer.get("/api/v1/orders", headers=bh).json) == 1


def test_offers_through_the_api(acme, market, api_token, in_tenant):
    from app.accounts.models import User
    from app.messaging.services import start_direct_conversation

    m = market(acme)
    with in_tenant(acme):
        conversation_id = start_direct_conversation(db.session.get(User, m.buyer_id), m.seller_id).id
        db.session.commit()
    buyer, bh = api_token(acme, m.buyer_email)
    seller, sh = api_token(acme, m.seller_email)
    body = {
        "conversation_id": conversation_id,
        "title": "Brand kit",
        "total_minor": 20000,
        "delivery_days": 7,
        "milestones": [{"title": "Logo", "amount_minor": 5000}, {"title": "Rest", "amount_minor": 15000}],
    }
    r = seller.post("/api/v1/offers", json={**body, "total_minor": 21000}, headers=sh)
    assert r.status_code == 422 and "milestones" in r.json["errors"]["json"]
    r = seller.post("/api/v1/offers", json=body, headers=sh)
    assert r.status_code == 201, r.json
    offer_id = r.json["id"]
    assert seller.post(f"/api/v1/offers/{offer_id}/accept", headers=sh).status_code == 403
    r = buyer.post(f"/api/v1/offers/{offer_id}/accept", headers=bh)
    assert r.status_code == 201 and r.json["kind"] == "offer" and len(r.json["milestones"]) == 2
    r2 = buyer.post(f"/api/v1/offers/{offer_id}/decline", headers=bh)
    assert r2.status_code == 409 and r2.json["errors"]["current_status"] == "accepted"
    second = seller.post("/api/v1/offers", json=body, headers=sh).json["id"]
    r = buyer.post(f"/api/v1/offers/{second}/decline", headers=bh)
    assert r.status_code == 200 and r.json["status"] == "declined"


def test_operators_cancel_in_the_console_not_through_the_orders_api(acme, order_in, api_token):
    m, oid = order_in(acme, "in_progress")
    buyer, bh = api_token(acme, m.buyer_email)
    r = buyer.post(f"/api/v1/orders/{oid}/operator-cancel", json={"reason": "x"}, headers=bh)
    assert r.status_code in (404, 405)
    r = buyer.post(f"/api/v1/console/orders/{oid}/cancel", json={"reason": "x"}, headers=bh)
    assert r.status_code == 403
