"""The hourly domain's periodic work: close finished weeks and approve timesheets whose review
period ran out (billing them).

``sweep()`` runs in the worker's periodic loop (``hourly-sweep``, every ``HOURLY_SWEEP_SECONDS``):
a read-only ``UNION ALL`` over the tenant schemas (``app.core.sweeps.tenants_with_due``) finds
the tenants with time not yet on a timesheet from before this Monday (the earliest Monday any
time zone has reached: a tenant may be found a little early, and its job then closes nothing),
or a timesheet past its review period, and enqueues ``run_due(tenant_id)`` under a job id per
tenant and time slot. The job closes each week and approves each timesheet in its own
transaction under the contract's row lock (``services.close_week`` / ``auto_approve`` are
idempotent), so a job that runs twice, or races the client's own approval, acts once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.core.jobs import tenant_job_context
from app.core.sweeps import enqueue_per_tenant, run_periodically, sweep_interval, tenants_with_due
from app.hourly import services
from tenants.db import db

log = logging.getLogger(__name__)

WEEKS_DUE = "timesheet_id IS NULL AND work_date < :monday"
REVIEWS_DUE = "status = 'submitted' AND review_due_at <= :now"


def _each(items, step: Callable, what: str) -> int:
    done = 0
    for item in items:
        try:
            if step(item):
                done += 1
            db.session.commit()  # one transaction per week or timesheet, on purpose
        except Exception:
            db.session.rollback()
            log.exception("%s %s failed", what, item)
    return done


def run_due_in_tenant(now: datetime) -> dict:
    """Close the finished weeks, then approve (and bill) the timesheets due, of the bound tenant."""
    closed = _each(
        services.weeks_to_close(now),
        lambda item: services.close_week(item[0], item[1], now=now),
        "closing week",
    )
    approved = _each(
        services.due_for_approval(now), lambda sid: services.auto_approve(sid, now=now), "timesheet"
    )
    return {"weeks_closed": closed, "timesheets_approved": approved}


def run_due(tenant_id: int, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return {}
        return run_due_in_tenant(now)


def _earliest_monday(now: datetime):
    return services.monday(now.date() + timedelta(days=1))


def sweep(now: datetime | None = None) -> int:
    """Enqueue ``run_due`` for each tenant with a week to close or a review period over."""
    now = now or datetime.now(UTC)
    tenants = set(tenants_with_due("time_entries", WEEKS_DUE, {"monday": _earliest_monday(now)}))
    tenants |= set(tenants_with_due("timesheets", REVIEWS_DUE, {"now": now}))
    return enqueue_per_tenant(
        sorted(tenants),
        run_due,
        name="hourly-due",
        interval=sweep_interval("HOURLY_SWEEP_SECONDS", 300),
        now=now,
        description="hourly weeks and timesheets of tenant {tenant_id}",
    )


def run_sweep_loop(app, stop: threading.Event) -> None:
    """The worker's periodic loop thread (started by ``flask worker``)."""
    run_periodically(app, stop, "HOURLY_SWEEP_SECONDS", 300, sweep, "hourly sweep")
