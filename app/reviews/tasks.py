"""The reviews domain's periodic work: publish the reviews of windows that closed, send the one
reminder before a window closes.

``sweep()`` runs in the worker's periodic loop (``reviews-sweep``, every
``REVIEWS_SWEEP_SECONDS``): one read-only ``UNION ALL`` over the tenant schemas finds the tenants
with a window due (``app.core.sweeps.tenants_with_due``) and enqueues ``publish_due_windows``
for each, under a job id per tenant and time slot, so several workers sweeping at once queue it
once. The job locks each window and checks again (``services.publish_window`` and
``services.remind`` are idempotent), one transaction per window: it can run twice, or race the
second review, and every window still publishes once.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from flask import current_app

from app.core.jobs import app_job_context, tenant_job_context
from app.core.sweeps import tenants_with_due
from app.extensions import get_queue
from app.reviews import services
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
    interval = max(1, int(current_app.config.get("REVIEWS_SWEEP_SECONDS", 60)))
    slot = int(now.timestamp()) // interval
    count = 0
    with app_job_context():
        queue = get_queue("default")
        due = DUE + " AND (closes_at <= :now OR reminded_at IS NULL)"
        for tenant_id in tenants_with_due(
            "review_windows", due, {"horizon": now + services.REMIND_BEFORE, "now": now}
        ):
            job_id = f"reviews-publish_due_windows-t{tenant_id}-{slot}"
            if queue.fetch_job(job_id) is not None:
                continue
            queue.enqueue(
                publish_due_windows,
                tenant_id,
                job_id=job_id,
                job_timeout=600,
                result_ttl=interval * 2,
                description=f"publish_due_windows for tenant {tenant_id}",
            )
            count += 1
    return count


def run_sweep_loop(app, stop: threading.Event) -> None:
    """The worker's periodic loop thread (started by ``flask worker``)."""
    interval = app.config.get("REVIEWS_SWEEP_SECONDS", 60)
    while not stop.wait(interval):
        try:
            with app.app_context():
                sweep()
        except Exception:
            log.exception("reviews sweep failed")
