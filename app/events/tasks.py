"""RQ jobs of the event system: delivery and the relay."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from rq import get_current_job

from app.core import metrics
from app.core.jobs import app_job_context, tenant_job_context
from app.events.models import OutboxEvent, ProcessedEvent
from app.events.registry import handlers_for
from app.events.services import relay_tenant
from tenants.db import db

log = logging.getLogger(__name__)


def _is_last_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def deliver_event(tenant_id: int, event_id: int) -> str:
    """Run every handler of one outbox event that has not run yet.

    Each handler runs in its own transaction together with its ProcessedEvent
    row: the commits below are that, on purpose, inside the job's unit of work.
    The first handler's transaction also holds the read of the event (nothing
    to undo there), and the last one's the "dispatched" mark: one commit per
    handler and no more (a common event has one handler; this job runs once
    per event). A failing handler raises, so RQ retries the job with backoff;
    after the last retry the event is marked failed and the job stays in RQ's
    failed registry. Safe to run any number of times.
    """
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return "tenant gone"
        # The database's clock, read with the row: the lag is measured against created_at, which
        # PostgreSQL set from the same clock (the publishing transaction's start).
        row = db.session.execute(
            sa.select(OutboxEvent, sa.func.now()).where(OutboxEvent.id == event_id)
        ).first()
        if row is None:
            return "no such event"
        event, started = row
        if event.status == "dispatched":
            return "already dispatched"
        if not event.attempts:  # the first delivery to run handlers (a retry's lag is its backoff)
            metrics.event_lag.observe(max(0.0, (started - event.created_at).total_seconds()))
        name = event.name
        done = set(
            db.session.execute(
                sa.select(ProcessedEvent.handler).where(ProcessedEvent.event_id == event_id)
            ).scalars()
        )
        todo = [handler for handler in handlers_for(event.name) if handler.key not in done]
        marked = False
        for index, handler in enumerate(todo):
            last = index == len(todo) - 1
            try:
                if index:  # expired by the previous handler's commit
                    event = db.session.get(OutboxEvent, event_id)
                handler.fn(event)
                db.session.add(ProcessedEvent(event_id=event_id, handler=handler.key))
                if last:
                    _mark_dispatched(event_id)
                db.session.commit()  # this handler's work and its ProcessedEvent row, together
                marked = last
            except sa.exc.IntegrityError as exc:
                db.session.rollback()
                if _already_processed(event_id, handler.key):
                    # A concurrent delivery applied this handler first: its work stands, ours is undone.
                    continue
                # The handler's own constraint violation is a failure like any other.
                metrics.events_handled.labels(name, "failed").inc()
                _record_failure(event_id, handler.key, exc)
                raise
            except Exception as exc:
                db.session.rollback()
                metrics.events_handled.labels(name, "failed").inc()
                _record_failure(event_id, handler.key, exc)
                raise
        if not marked:
            _mark_dispatched(event_id)  # committed by the job's unit of work
    metrics.events_handled.labels(name, "dispatched").inc()
    return "dispatched"


def _mark_dispatched(event_id: int) -> None:
    db.session.execute(
        sa.update(OutboxEvent)
        .where(OutboxEvent.id == event_id)
        .values(status="dispatched", dispatched_at=sa.func.now(), attempts=OutboxEvent.attempts + 1)
        .execution_options(synchronize_session=False)
    )


def _already_processed(event_id: int, handler_key: str) -> bool:
    return (
        db.session.execute(
            sa.select(ProcessedEvent.handler).where(
                ProcessedEvent.event_id == event_id, ProcessedEvent.handler == handler_key
            )
        ).first()
        is not None
    )


def _record_failure(event_id: int, handler_key: str, exc: Exception) -> None:
    event = db.session.get(OutboxEvent, event_id, with_for_update=True)
    if event is None:
        return
    event.attempts += 1
    event.last_error = f"{handler_key}: {type(exc).__name__}: {exc}"[:2000]
    if _is_last_attempt():
        event.status = "failed"
    else:
        intervals = current_app.config["EVENT_RETRY_INTERVALS"]
        wait = intervals[min(event.attempts - 1, len(intervals) - 1)]
        # Don't let the relay re-enqueue while RQ's own retry is scheduled.
        event.next_attempt_at = sa.func.now() + timedelta(
            seconds=wait + current_app.config["OUTBOX_RELAY_GRACE_SECONDS"]
        )
    # Kept although the job raises next (its unit of work rolls back only what follows).
    db.session.commit()
    log.warning("event %s handler %s failed: %s", event_id, handler_key, exc)


_RELAY_CHUNK = 200


def relay_outbox(limit_per_tenant: int = 500) -> int:
    """Re-enqueue pending events whose delivery looks lost; returns how many.

    Finds due rows across all tenant schemas with a few ``UNION ALL`` queries,
    claims them by pushing ``next_attempt_at`` forward (so concurrent relays
    never enqueue the same row twice), then enqueues them.
    """
    enqueued = 0
    with app_job_context():
        with db.engine.connect() as conn:
            tenants = conn.execute(sa.text("SELECT id, schema_name FROM public.tenants ORDER BY id")).all()
        for i in range(0, len(tenants), _RELAY_CHUNK):
            chunk = tenants[i : i + _RELAY_CHUNK]
            union = " UNION ALL ".join(
                f'(SELECT {tid} AS tenant_id, count(*) AS n FROM "{schema}".outbox_events '
                "WHERE status = 'pending' AND next_attempt_at <= now())"
                for tid, schema in chunk
            )
            with db.engine.connect() as conn:
                due = [(tid, n) for tid, n in conn.exec_driver_sql(union) if n]
            schemas = dict(chunk)
            for tenant_id, _n in due:
                enqueued += relay_tenant(tenant_id, schemas[tenant_id], limit_per_tenant)
    if enqueued:
        metrics.relay_redeliveries.inc(enqueued)
        log.info("relay re-enqueued %d event(s)", enqueued)
    return enqueued
