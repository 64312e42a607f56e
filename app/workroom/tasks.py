"""The workroom's periodic work: calendar reminders.

``sweep()`` runs in the worker's periodic loop (``workroom-reminders``, every
``WORKROOM_REMINDER_SWEEP_SECONDS``): one read-only ``UNION ALL`` over the tenant schemas finds
the tenants with an event to remind of (``app.core.sweeps.tenants_with_due``) and enqueues
``send_reminders`` for each under a job id per tenant and time slot. The job is idempotent:
``calendar.send_due_reminders`` records each reminded occurrence under a unique key before it
publishes, so a second run (or a second worker) reminds of nothing twice.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from app.core.jobs import tenant_job_context
from app.core.sweeps import enqueue_per_tenant, run_periodically, sweep_interval, tenants_with_due
from app.workroom import calendar

log = logging.getLogger(__name__)

DUE = (
    "remind_minutes IS NOT NULL AND starts_at <= :horizon AND "
    "((recurrence = 'none' AND starts_at >= :past) OR "
    "(recurrence <> 'none' AND (repeat_until IS NULL OR repeat_until >= :today)))"
)


def send_reminders(tenant_id: int, now: datetime | None = None) -> int:
    """Publish the tenant's due reminders (one transaction); returns how many."""
    now = now or datetime.now(UTC)
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return 0
        return calendar.send_due_reminders(now)


def sweep(now: datetime | None = None) -> int:
    """Enqueue ``send_reminders`` for each tenant with an event to remind of; returns how many."""
    now = now or datetime.now(UTC)
    params = {
        "horizon": now + timedelta(minutes=1440),
        "past": now - calendar.GRACE,
        "today": (now - timedelta(days=1)).date(),
    }
    return enqueue_per_tenant(
        tenants_with_due("workroom_events", DUE, params),
        send_reminders,
        name="workroom-reminders",
        interval=sweep_interval("WORKROOM_REMINDER_SWEEP_SECONDS", 60),
        now=now,
        description="calendar reminders of tenant {tenant_id}",
        timeout=300,
    )


def run_sweep_loop(app, stop: threading.Event) -> None:
    """The worker's periodic loop thread (started by ``flask worker``)."""
    run_periodically(app, stop, "WORKROOM_REMINDER_SWEEP_SECONDS", 60, sweep, "workroom reminder sweep")
