"""One unit of work per request and per job, seen from the orders domain: a refused step
keeps nothing, not even what the service had already flushed; a refusal answered with a
key is replayed; a job that raises keeps nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.core.idempotency import IdempotencyKey
from app.events import publish
from app.events.models import OutboxEvent
from app.orders import services, tasks
from app.orders.models import Order
from tenants.db import db

from .conftest import PASSWORD, drive, money_snapshot, user
from .test_web import form_tokens

TAMPERED = "Written by a step that was then refused."


@pytest.fixture
def flushing_complete(monkeypatch):
    """``services.complete`` that first changes the order and publishes an event (flushed),
    then refuses as the real one does when the order is not delivered. Returns its calls."""
    calls: list[int] = []
    real = services.complete

    def complete(buyer, order_id, **kwargs):
        calls.append(order_id)
        order = db.session.get(Order, order_id)
        order.requirements = TAMPERED
        publish("order.test_refused_step", {"order_id": order_id})
        db.session.flush()
        return real(buyer, order_id, **kwargs)

    monkeypatch.setattr(services, "complete", complete)
    return calls


def stored(in_tenant, tenant, order_id) -> dict:
    """What the database holds that a refused step could have changed."""
    with in_tenant(tenant):
        order = db.session.get(Order, order_id)
        return {
            "status": order.status,
            "requirements": order.requirements,
            "test_events": db.session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.name == "order.test_refused_step")
            ),
            "money": money_snapshot(order_id)["transactions"],
        }


def test_refused_web_step_keeps_nothing_it_flushed_and_a_resent_form_replays_the_refusal(
    acme, order_in, tenant_client, web, in_tenant, flushing_complete
):
    m, oid = order_in(acme, "in_progress")
    before = stored(in_tenant, acme, oid)
    assert before["requirements"] != TAMPERED and before["test_events"] == 0
    buyer = tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    page = f"/orders/{oid}"
    csrf, key, _ = form_tokens(buyer, page)

    first = buyer.post(
        f"/orders/{oid}/complete", data={"csrf_token": csrf, "idempotency_key": key, "confirm": "yes"}
    )
    assert first.status_code == 409
    html = first.get_data(as_text=True)
    assert 'data-testid="state-error"' in html and "in progress" in html
    assert TAMPERED not in html  # the page shows the order as it is, not the refused work
    assert stored(in_tenant, acme, oid) == before

    # The same form again (a double click): the stored refusal, without running the step.
    again = buyer.post(
        f"/orders/{oid}/complete", data={"csrf_token": csrf, "idempotency_key": key, "confirm": "yes"}
    )
    assert again.status_code == 409 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_data() == first.get_data()
    assert flushing_complete == [oid]
    with in_tenant(acme):
        row = db.session.scalars(sa.select(IdempotencyKey).where(IdempotencyKey.key == key)).one()
        assert row.response_status == 409

    # Without a key the refusal is the same, and nothing is kept either.
    plain = buyer.post(f"/orders/{oid}/complete", data={"csrf_token": csrf, "confirm": "yes"})
    assert plain.status_code == 409 and TAMPERED not in plain.get_data(as_text=True)
    assert flushing_complete == [oid, oid]
    assert stored(in_tenant, acme, oid) == before


def test_refused_api_step_keeps_nothing_it_flushed(acme, order_in, api_token, in_tenant, flushing_complete):
    m, oid = order_in(acme, "in_progress")
    before = stored(in_tenant, acme, oid)
    buyer, bh = api_token(acme, m.buyer_email)
    for headers in (bh, {**bh, "Idempotency-Key": "complete-too-early"}):
        r = buyer.post(f"/api/v1/orders/{oid}/complete", json={}, headers=headers)
        assert r.status_code == 409
        assert r.json["errors"] == {"current_status": "in_progress", "code": "conflict"}
        assert "in progress" in r.json["message"]
        assert stored(in_tenant, acme, oid) == before
    assert flushing_complete == [oid, oid]


def test_refused_field_errors_keep_their_code_in_the_api(acme, order_in, api_token):
    m, oid = order_in(acme, "delivered")
    buyer, bh = api_token(acme, m.buyer_email)
    r = buyer.post(
        f"/api/v1/orders/{oid}/cancellation", json={"reason": "No", "refund_minor": 10**9}, headers=bh
    )
    assert r.status_code == 422
    assert "refund_minor" in r.json["errors"]["json"] and r.json["errors"]["code"] == "refund_exceeds_escrow"


def test_accepted_web_step_is_committed_by_the_request(acme, order_in, tenant_client, web, in_tenant):
    m, oid = order_in(acme, "delivered")
    buyer = tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    csrf, _key, _ = form_tokens(buyer, f"/orders/{oid}")
    assert (
        buyer.post(f"/orders/{oid}/complete", data={"csrf_token": csrf, "confirm": "yes"}).status_code == 303
    )
    assert stored(in_tenant, acme, oid)["status"] == "completed"


def test_a_job_that_raises_keeps_nothing_and_one_that_returns_is_committed(
    app, acme, market, in_tenant, monkeypatch
):
    m = market(acme)
    start = datetime(2030, 3, 1, tzinfo=UTC)
    with in_tenant(acme):
        oid = drive(m, "awaiting_requirements")
        services.submit_requirements(user(m.buyer_id), oid, "Spec", now=start)
        db.session.commit()
    real = services.flag_late_orders

    def flag_then_fail(now=None):
        assert real(now) == [oid]  # flagged and flushed, with its timeline entry
        raise RuntimeError("the worker died half way")

    monkeypatch.setattr(services, "flag_late_orders", flag_then_fail)
    with app.app_context(), pytest.raises(RuntimeError):
        tasks.flag_late_orders(acme.id, now=start + timedelta(days=6))
    with in_tenant(acme):
        order = db.session.get(Order, oid)
        assert not order.is_late
        assert "late" not in [e.kind for e in services.timeline(order)]

    monkeypatch.setattr(services, "flag_late_orders", real)
    with app.app_context():
        assert tasks.flag_late_orders(acme.id, now=start + timedelta(days=6)) == 1  # no commit of its own
    with in_tenant(acme):
        assert db.session.get(Order, oid).is_late
