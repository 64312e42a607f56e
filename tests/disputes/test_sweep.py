"""The worker's dispute sweep: deadlines act once, per tenant, and never on another tenant's
dispute with an equal id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.disputes import services, tasks
from app.disputes.models import Dispute
from app.orders.models import Order
from tenants.db import db
from tests.disputes.conftest import user

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _open(tenant, order_in, in_tenant):
    m, order_id = order_in(tenant, "delivered")
    with in_tenant(tenant):
        d = services.open_dispute(user(m.buyer_id), order_id, "late", "Nothing came", now=T0)
        db.session.commit()
        return m, order_id, d.id


def test_sweep_queues_tenants_with_a_due_deadline_once_per_slot(app, acme, globex, order_in, in_tenant):
    _open(acme, order_in, in_tenant)
    with app.app_context():
        assert tasks.sweep(T0 + timedelta(days=1)) == 0
        later = T0 + timedelta(days=3, minutes=5)
        assert tasks.sweep(later) == 1  # acme only: globex has no dispute
        assert tasks.sweep(later) == 0  # the same slot: queued once


def test_the_job_resolves_for_the_side_that_acted_and_leaves_the_other_tenant_alone(
    app, acme, globex, order_in, in_tenant
):
    m, order_id, dispute_id = _open(acme, order_in, in_tenant)
    g, g_order, g_dispute = _open(globex, order_in, in_tenant)
    assert (g_order, g_dispute) == (order_id, dispute_id)  # equal ids in both tenants
    with in_tenant(globex):  # globex's other side answered: its dispute goes to mediation instead
        services.post_message(user(g.seller_id), g_dispute, "I sent it", now=T0 + timedelta(hours=1))
        db.session.commit()
    later = T0 + timedelta(days=3, minutes=5)
    with app.app_context():
        assert tasks.apply_due_deadlines(acme.id, now=later) == {"resolved": 1}
        assert tasks.apply_due_deadlines(acme.id, now=later) == {}  # idempotent
    with in_tenant(acme):
        d = db.session.get(Dispute, dispute_id)
        assert d.outcome == "resolved_client" and db.session.get(Order, order_id).status == "cancelled"
    with in_tenant(globex):
        assert db.session.get(Dispute, g_dispute).status == "open"
    with app.app_context():
        assert tasks.apply_due_deadlines(globex.id, now=T0 + timedelta(days=3, hours=2)) == {"mediation": 1}
