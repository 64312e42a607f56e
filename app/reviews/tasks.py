"""The reviews domain's periodic work: publish the reviews of windows that closed, send the one
reminder before a window closes, and the daily reputation snapshot.

``sweep()`` runs in the worker's periodic loop (``reviews-sweep``, every
``REVIEWS_SWEEP_SECONDS``): one read-only ``UNION ALL`` over the tenant schemas finds the tenants
with a window due (``app.core.sweeps.tenants_with_due``) and enqueues ``publish_due_windows``
for each, under a job id per tenant and time slot, so several workers sweeping at once queue it
once. The job locks each window and checks again (``services.publish_window`` and
``services.remind`` are idempotent), one transaction per window: it can run twice, or race the
second review, and every window still publishes once.

``reputation_tick()`` runs in its own loop (``reputation-daily``, every
``REPUTATION_TICK_SECONDS``, default 300): for every active tenant it claims the day once (a Redis
``SET NX`` on ``t:<tenant>:reviews-reputation-<YYYY-MM-DD>``, kept two days, plus the same
deterministic job id) and enqueues ``daily_reputation(tenant_id, day)``, which runs
``reputation.snapshot_tenant`` in one transaction. So each tenant is snapshotted once per UTC
day, on the first tick after midnight, however many workers tick; a job that runs twice for a
day rewrites that day's rows (an upsert) and finds no level left to change.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime

from app.core.jobs import app_job_context, enqueue_once, tenant_job_context
from app.core.sweeps import enqueue_per_tenant, run_periodically, sweep_interval, tenants_with_due
from app.extensions import get_queue, redis_store
from app.reviews import reputation, services
from tenants.db import db

log = logging.getLogger(__name__)

DUE = "status = 'open' AND closes_at <= :horizon"


def _each(ids: list[int], step, now: datetime) -> int:
    """Run ``step`` for each window, each in a transaction of its own (committed or rolled back
    here, inside the job's unit of work): one window's failure never undoes the others'."""
    done = 0
    for order_id in ids:
        try:
            if step(order_id, now=now):
                done += 1
            db.session.commit()  # per window, on purpose (see the module docstring)
        except Exception:
            db.session.rollback()  # this window only; the next one starts clean
            log.exception("review window step %s(%s) failed", step.__name__, order_id)
    return done


def publish_due_windows(tenant_id: int, now: datetime | None = None) -> dict:
    """Publish the tenant's windows that closed and remind the parties of those closing soon."""
    now = now or datetime.now(UTC)
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return {}
        return {
            "published": _each(services.windows_due(now), services.publish_window, now),
            "reminded": _each(services.windows_to_remind(now), services.remind, now),
        }


def sweep(now: datetime | None = None) -> int:
    """Enqueue ``publish_due_windows`` for each tenant with a window to publish or remind;
    returns how many jobs were enqueued."""
    now = now or datetime.now(UTC)
    due = DUE + " AND (closes_at <= :now OR reminded_at IS NULL)"
    return enqueue_per_tenant(
        tenants_with_due("review_windows", due, {"horizon": now + services.REMIND_BEFORE, "now": now}),
        publish_due_windows,
        name="reviews-publish_due_windows",
        interval=sweep_interval("REVIEWS_SWEEP_SECONDS", 60),
        now=now,
        description="publish_due_windows for tenant {tenant_id}",
    )


def run_sweep_loop(app, stop: threading.Event) -> None:
    """The worker's periodic loop thread (started by ``flask worker``)."""
    run_periodically(app, stop, "REVIEWS_SWEEP_SECONDS", 60, sweep, "reviews sweep")


# --------------------------------------------------------------------------- reputation


def daily_reputation(tenant_id: int, day: str, now: datetime | None = None) -> dict:
    """Snapshot the tenant's sellers for ``day`` (ISO date) and assign their levels (one unit of
    work: committed when it ends). Returns the summary's figures."""
    now = now or datetime.now(UTC)
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return {}
        summary = reputation.snapshot_tenant(now, day=date.fromisoformat(day))
        log.info(
            "reputation of tenant %s for %s: %s sellers, %s level changes in %.2fs",
            tenant_id,
            day,
            summary.sellers,
            len(summary.level_changes),
            summary.seconds,
        )
        return {"sellers": summary.sellers, "level_changes": len(summary.level_changes)}


def _active_tenant_ids() -> list[int]:
    import sqlalchemy as sa

    with db.engine.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT id FROM public.tenants WHERE status = 'active' ORDER BY id")
            ).scalars()
        )


def reputation_claim_key(tenant_id: int, day: date) -> str:
    return f"t:{tenant_id}:reviews-reputation-{day.isoformat()}"


def reputation_tick(now: datetime | None = None) -> int:
    """Enqueue ``daily_reputation`` for each active tenant not yet claimed today (UTC); returns
    how many were enqueued. A second tick the same day (this worker or another) enqueues nothing."""
    now = now or datetime.now(UTC)
    day = now.astimezone(UTC).date()
    count = 0
    with app_job_context():
        queue = get_queue("default")
        for tenant_id in _active_tenant_ids():
            # Claimed atomically; the key carries the tenant and the day and outlives the day.
            if not redis_store.client.set(reputation_claim_key(tenant_id, day), 1, nx=True, ex=2 * 86400):
                continue
            count += enqueue_once(
                queue,
                daily_reputation,
                tenant_id,
                day.isoformat(),
                job_id=f"reviews-reputation-t{tenant_id}-{day.isoformat()}",
                job_timeout=1800,
                result_ttl=86400,
                description=f"daily reputation of tenant {tenant_id} for {day.isoformat()}",
            )
    return count


def run_reputation_loop(app, stop: threading.Event) -> None:
    """The worker's ``reputation-daily`` loop thread: a tick at start, then every
    ``REPUTATION_TICK_SECONDS`` (each tenant's job is enqueued once per day)."""
    interval = app.config.get("REPUTATION_TICK_SECONDS", 300)
    while True:
        try:
            with app.app_context():
                reputation_tick()
        except Exception:
            log.exception("reputation tick failed")
        if stop.wait(interval):
            return
