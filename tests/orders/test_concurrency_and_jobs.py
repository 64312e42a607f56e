"""Concurrency (exactly one of two racing transitions wins, money moves once), the periodic
jobs with explicit time, and tenants that never meet."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.ledger.verify import verify
from app.orders import services, tasks
from app.orders.models import Order
from tenants.db import db

from .conftest import BASIC, drive, money_snapshot, user


def race(app, tenant, *calls):
    """Run each call(in its own thread, app context, tenant bound); returns "ok" or the error code."""
    from tenants.db import tenant_context

    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        with app.app_context(), tenant_context(tenant):
            barrier.wait()
            try:
                call()
                db.session.commit()
                results[i] = "ok"
            except services.OrderError as exc:
                db.session.rollback()
                results[i] = exc.status
            except Exception as exc:  # pragma: no cover - reported in the assertion
                db.session.rollback()
                results[i] = repr(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_concurrent_completions_release_once(app, acme, order_in, in_tenant):
    m, oid = order_in(acme, "delivered")
    results = race(
        app,
        acme,
        lambda: services.complete(user(m.buyer_id), oid),
        lambda: services.complete(user(m.buyer_id), oid),
    )
    assert sorted(map(str, results)) == ["409", "ok"]
    with in_tenant(acme):
        assert money_snapshot(oid)["transactions"] == {"payment": 1, "release": 1}
        assert verify().ok


def test_complete_and_accept_cancellation_at_once_exactly_one_wins(app, acme, order_in, in_tenant):
    m, oid = order_in(acme, "delivered")
    with in_tenant(acme):
        services.request_cancellation(user(m.seller_id), oid, "Cannot continue", refund_minor=BASIC)
        db.session.commit()
    results = race(
        app,
        acme,
        lambda: services.complete(user(m.buyer_id), oid),
        lambda: services.respond_cancellation(user(m.buyer_id), oid, True),
    )
    assert sorted(map(str, results)) == ["409", "ok"]
    with in_tenant(acme):
        order = db.session.get(Order, oid)
        snapshot = money_snapshot(oid)
        assert snapshot["escrow"] == 0
        if order.status == "completed":
            assert snapshot["transactions"] == {"payment": 1, "release": 1}
        else:
            assert order.status == "cancelled" and snapshot["transactions"] == {"payment": 1, "refund": 1}
        assert verify().ok


def test_two_concurrent_offer_accepts_make_one_order(app, acme, market, in_tenant):
    from app.messaging.services import start_direct_conversation

    m = market(acme)
    with in_tenant(acme):
        conversation = start_direct_conversation(user(m.buyer_id), m.seller_id)
        offer = services.send_offer(
            user(m.seller_id), conversation.id, {"title": "Logo", "total_minor": 9000, "delivery_days": 3}
        )
        db.session.commit()
        offer_id = offer.id
    results = race(
        app,
        acme,
        lambda: services.accept_offer(user(m.buyer_id), offer_id),
        lambda: services.accept_offer(user(m.buyer_id), offer_id),
        lambda: services.withdraw_offer(user(m.seller_id), offer_id),
    )
    assert sorted(map(str, results)) == ["409", "409", "ok"]
    with in_tenant(acme):
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Order))
        assert count in (0, 1)


def test_concurrent_mark_paid_records_one_payment(app, acme, order_in, in_tenant):
    m, oid = order_in(acme, "awaiting_payment")
    results = race(app, acme, *(lambda: services.mark_paid(oid, "pay_same") for _ in range(3)))
    assert results == ["ok", "ok", "ok"]
    with in_tenant(acme):
        assert money_snapshot(oid)["transactions"] == {"payment": 1}
        assert money_snapshot(oid)["escrow"] == BASIC


def test_auto_complete_job_after_the_review_period(app, acme, market, in_tenant):
    m = market(acme)
    start = datetime(2030, 3, 1, tzinfo=UTC)
    with in_tenant(acme):
        waiting = drive(m, "in_progress")
        services.deliver(user(m.seller_id), waiting, "Done", now=start)
        acted = drive(m, "in_progress")
        services.deliver(user(m.seller_id), acted, "Done", now=start)
        services.request_revision(user(m.buyer_id), acted, "Not yet", now=start + timedelta(days=1))
        db.session.commit()
    with app.app_context():
        assert tasks.auto_complete_due_orders(acme.id, now=start + timedelta(days=2)) == 0
        assert tasks.auto_complete_due_orders(acme.id, now=start + timedelta(days=3)) == 1
        assert (
            tasks.auto_complete_due_orders(acme.id, now=start + timedelta(days=4)) == 0
        )  # runs twice safely
    with in_tenant(acme):
        assert db.session.get(Order, waiting).status == "completed"
        assert db.session.get(Order, acted).status == "in_progress"
        assert money_snapshot(waiting)["transactions"] == {"payment": 1, "release": 1}
        assert [e.kind for e in services.timeline(db.session.get(Order, waiting))][-1] == "auto_completed"


def test_auto_resolve_and_late_jobs(app, acme, market, in_tenant):
    m = market(acme)
    start = datetime(2030, 3, 1, tzinfo=UTC)
    with in_tenant(acme):
        oid = drive(m, "awaiting_requirements")
        services.submit_requirements(user(m.buyer_id), oid, "Spec", now=start)
        services.request_cancellation(user(m.seller_id), oid, "Sick", refund_minor=BASIC, now=start)
        db.session.commit()
    with app.app_context():
        assert tasks.flag_late_orders(acme.id, now=start + timedelta(days=6)) == 1
        assert tasks.auto_resolve_cancellations(acme.id, now=start + timedelta(days=1)) == 0
        assert tasks.auto_resolve_cancellations(acme.id, now=start + timedelta(days=2)) == 1
        assert tasks.auto_resolve_cancellations(acme.id, now=start + timedelta(days=3)) == 0
    with in_tenant(acme):
        assert db.session.get(Order, oid).status == "cancelled"
        assert money_snapshot(oid)["transactions"] == {"payment": 1, "refund": 1}


def test_tick_enqueues_each_tenants_jobs_once_per_slot(app, acme, globex):
    now = datetime(2030, 3, 1, tzinfo=UTC)
    with app.app_context():
        assert tasks.tick(now) == 6  # three jobs for each of the two tenants
        assert tasks.tick(now) == 0


def test_tenants_never_meet(acme, globex, market, in_tenant, api_token):
    ma, mg = market(acme), market(globex)
    with in_tenant(acme):
        a_order = drive(ma, "delivered")
    with in_tenant(globex):
        g_order = drive(mg, "in_progress")
    assert a_order == g_order  # equal ids in the two schemas
    buyer_a, ha = api_token(acme, ma.buyer_email)
    r = buyer_a.get(f"/api/v1/orders/{a_order}", headers=ha)
    assert r.status_code == 200 and r.json["status"] == "delivered"
    # acme's token means nothing on globex's host
    buyer_g, _ = api_token(globex, mg.buyer_email)
    assert buyer_g.get(f"/api/v1/orders/{g_order}", headers=ha).status_code == 401
    with in_tenant(globex):
        with pytest.raises(services.OrderStateError):
            services.complete(user(mg.buyer_id), g_order)
        assert money_snapshot(g_order)["transactions"] == {"payment": 1}
    with in_tenant(acme):
        services.complete(user(ma.buyer_id), a_order)
        db.session.commit()
    with in_tenant(globex):
        assert db.session.get(Order, g_order).status == "in_progress"
        assert money_snapshot(g_order)["escrow"] == BASIC
