"""The orders domain's periodic jobs: auto-complete, auto-resolve cancellations, late flags,
and the purge of expired idempotency keys of the money views.

``tick()`` runs in the worker's periodic loop (``flask worker``, see
``run_tick_loop``): for every active tenant it enqueues the three jobs with
their tenant id, under a job id per tenant and time slot, so several workers
ticking at once queue each job once. Each job binds its tenant, selects the
due rows and handles them one by one, each in its own transaction with the
order row locked and the condition checked again: a job can run twice, or
race a buyer's click, and every order still moves once.

``purge_tick()`` runs in the same loop on its own, slower cadence
(``IDEMPOTENCY_PURGE_SECONDS``, hourly): once per tenant and period (a Redis
``SET NX`` on ``t:<tenant>:...`` plus a deterministic job id) it enqueues
``purge_idempotency_keys(tenant_id)``, which deletes the tenant's keys older
than ``IDEMPOTENCY_TTL_HOURS`` in short batches. Deleting what is already gone
is a no-op, so the job can run twice.

``now`` is an argument everywhere so tests move time explicitly.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app

from app.core.idempotency import purge_expired_keys
from app.core.jobs import app_job_context, enqueue_once, tenant_job_context
from app.extensions import get_queue, redis_store
from app.orders import milestones, services
from tenants.db import db

log = logging.getLogger(__name__)


def _each(ids: list[int], step, now: datetime) -> int:
    """Run ``step`` for every id, each in a transaction of its own (committed or rolled back
    here, inside the job's unit of work): one order's refusal or failure never undoes or
    blocks the others'."""
    done = 0
    for item_id in ids:
        try:
            if step(item_id, now=now) is not None:
                done += 1
            db.session.commit()  # per order, on purpose (see the docstring)
        except services.OrderError as exc:
            db.session.rollback()  # this order only; the next one starts clean
            log.warning("order job step %s(%s) refused: %s", step.__name__, item_id, exc)
        except Exception:
            db.session.rollback()  # this order only; the next one starts clean
            log.exception("order job step %s(%s) failed", step.__name__, item_id)
    return done


def auto_complete_due_orders(tenant_id: int, now: datetime | None = None) -> int:
    """Complete the tenant's delivered orders whose review period is over; returns how many.

    The same job releases the submitted milestones the buyer left untouched for the tenant's
    ``milestone_auto_release_days`` (and reminds the buyer before): see ``release_due_milestones``.
    """
    now = now or datetime.now(UTC)
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return 0
        ids = services.orders_due_for_auto_complete(now)
        done = _each(ids, services.auto_complete, now)
        _release_due_milestones(now)
        return done


def _release_due_milestones(now: datetime) -> tuple[int, int]:
    reminded = _each(milestones.milestones_due_for_reminder(now), milestones.remind_auto_release, now)
    released = _each(milestones.milestones_due_for_auto_release(now), milestones.auto_release, now)
    return reminded, released


def release_due_milestones(tenant_id: int, now: datetime | None = None) -> tuple[int, int]:
    """Remind buyers of submitted milestones released within ``milestones.REMINDER_DAYS`` and
    accept (release) those past their ``auto_release_at``; returns ``(reminded, released)``."""
    now = now or datetime.now(UTC)
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return 0, 0
        return _release_due_milestones(now)


def auto_resolve_cancellations(tenant_id: int, now: datetime | None = None) -> int:
    """Accept the tenant's unanswered cancellation requests that are due; returns how many."""
    now = now or datetime.now(UTC)
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return 0
        ids = services.cancellations_due(now)
        return _each(ids, services.auto_resolve_cancellation, now)


def flag_late_orders(tenant_id: int, now: datetime | None = None) -> int:
    """Flag the tenant's orders past their due date; returns how many were flagged now."""
    now = now or datetime.now(UTC)
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return 0
        return len(services.flag_late_orders(now))


JOBS = (auto_complete_due_orders, auto_resolve_cancellations, flag_late_orders)


def _active_tenant_ids() -> list[int]:
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT id FROM public.tenants WHERE status = 'active' ORDER BY id")
            ).scalars()
        )


def tick(now: datetime | None = None) -> int:
    """Enqueue the order jobs of every active tenant; returns how many were enqueued."""
    now = now or datetime.now(UTC)
    interval = max(1, int(current_app.config.get("ORDER_TICK_SECONDS", 60)))
    slot = int(now.timestamp()) // interval
    with app_job_context():
        queue = get_queue("default")
        count = 0
        for tenant_id in _active_tenant_ids():
            for job in JOBS:
                count += enqueue_once(
                    queue,
                    job,
                    tenant_id,
                    job_id=f"orders-{job.__name__}-t{tenant_id}-{slot}",
                    job_timeout=600,
                    result_ttl=interval * 2,
                    description=f"{job.__name__} for tenant {tenant_id}",
                )
        return count


PURGE_BATCH = 5000  # keys deleted per transaction: a large backlog never holds long locks


def purge_idempotency_keys(tenant_id: int, now: datetime | None = None) -> int:
    """Delete the tenant's expired idempotency keys, a batch per transaction; returns how many."""
    now = now or datetime.now(UTC)
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return 0
        purged = 0
        while True:
            deleted = purge_expired_keys(now, limit=PURGE_BATCH)
            db.session.commit()  # a batch per transaction on purpose: no long-held locks
            purged += deleted
            if deleted < PURGE_BATCH:
                break
        if purged:
            log.info("purged %s expired idempotency keys of tenant %s", purged, tenant_id)
        return purged


def purge_tick(now: datetime | None = None) -> int:
    """Enqueue ``purge_idempotency_keys`` for every active tenant, once per purge period.

    Returns how many jobs were enqueued; a second call in the same period (from
    this worker or another) enqueues nothing.
    """
    now = now or datetime.now(UTC)
    interval = max(1, int(current_app.config.get("IDEMPOTENCY_PURGE_SECONDS", 3600)))
    slot = int(now.timestamp()) // interval
    with app_job_context():
        queue = get_queue("default")
        count = 0
        for tenant_id in _active_tenant_ids():
            job_id = f"orders-purge_idempotency_keys-t{tenant_id}-{slot}"
            # Claimed atomically, so two workers ticking at once enqueue it once; the key
            # carries the tenant and outlives the period.
            if not redis_store.client.set(f"t:{tenant_id}:{job_id}", 1, nx=True, ex=2 * interval):
                continue
            queue.enqueue(
                purge_idempotency_keys,
                tenant_id,
                job_id=job_id,
                job_timeout=600,
                result_ttl=interval * 2,
                description=f"purge_idempotency_keys for tenant {tenant_id}",
            )
            count += 1
        return count


def run_tick_loop(app, stop: threading.Event) -> None:
    """The worker's periodic loop thread (started by ``flask worker``): the order jobs every
    ``ORDER_TICK_SECONDS``, the idempotency key purge once per ``IDEMPOTENCY_PURGE_SECONDS``."""
    interval = app.config.get("ORDER_TICK_SECONDS", 60)
    while not stop.wait(interval):
        for step in (tick, purge_tick):
            try:
                with app.app_context():
                    step()
            except Exception:
                log.exception("order tick step %s failed", step.__name__)
