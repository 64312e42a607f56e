"""Publishing events and enqueueing their delivery after commit."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from rq import Retry
from sqlalchemy import event as sa_event

from app.core.after_commit import in_savepoint, register_transaction_list
from app.events.models import OutboxEvent
from app.extensions import get_queue
from tenants.db import TenantSession, current_tenant, db

log = logging.getLogger(__name__)

_PENDING_KEY = "gigforge_outbox_pending"
register_transaction_list(_PENDING_KEY)  # a rolled-back savepoint drops its own events only


def publish(name: str, payload: dict | None = None) -> OutboxEvent:
    """Record event ``name`` in the outbox of the bound tenant, in the current transaction.

    The payload must be JSON-serialisable and should carry IDs, not objects.
    Raises TenantNotBound when no tenant is bound.
    """
    tenant = current_tenant()
    grace = current_app.config["OUTBOX_RELAY_GRACE_SECONDS"]
    event = OutboxEvent(name=name, payload=payload or {}, status="pending")
    event.next_attempt_at = db.func.now() + timedelta(seconds=grace)
    db.session.add(event)
    db.session.flush()
    db.session.info.setdefault(_PENDING_KEY, []).append((tenant.id, event.id))
    return event


def enqueue_delivery(tenant_id: int, event_id: int) -> None:
    """Put ``deliver_event`` for one event on the events queue (with retries)."""
    from app.events.tasks import deliver_event

    intervals = current_app.config["EVENT_RETRY_INTERVALS"]
    get_queue().enqueue(
        deliver_event,
        tenant_id,
        event_id,
        retry=Retry(max=len(intervals), interval=intervals),
        job_timeout=300,
        description=f"deliver event {event_id} of tenant {tenant_id}",
    )


@sa_event.listens_for(TenantSession, "after_commit")
def _enqueue_after_commit(session):
    if in_savepoint(session):
        return  # a savepoint was released, not the transaction committed
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    for tenant_id, event_id in pending:
        try:
            enqueue_delivery(tenant_id, event_id)
        except Exception:  # the relay will pick the row up
            log.exception("could not enqueue event %s of tenant %s; left to the relay", event_id, tenant_id)


@sa_event.listens_for(TenantSession, "after_rollback")
def _forget_after_rollback(session):
    if not in_savepoint(session):  # a savepoint's own events are dropped by app.core.after_commit
        session.info.pop(_PENDING_KEY, None)
