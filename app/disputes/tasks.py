"""The disputes domain's periodic work: act on the ladder's deadlines.

``sweep()`` runs in the worker's periodic loop (``disputes-sweep``, every
``DISPUTES_SWEEP_SECONDS``): one read-only ``UNION ALL`` over the tenant schemas finds the tenants
with an open dispute past its stage deadline (``app.core.sweeps.tenants_with_due``) and enqueues
``apply_due_deadlines`` for each, under a job id per tenant and time slot, so several workers
sweeping at once queue it once. The job locks each dispute and checks again
(``services.apply_deadline`` is idempotent), one transaction per dispute: it can run twice, or
race a party's last-minute answer, and each deadline still acts once.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from app.core.jobs import tenant_job_context
from app.core.sweeps import enqueue_per_tenant, run_periodically, sweep_interval, tenants_with_due
from app.disputes import services
from tenants.db import db

log = logging.getLogger(__name__)

DUE = "status = 'open' AND stage_deadline_at <= :now"


def apply_due_deadlines(tenant_id: int, now: datetime | None = None) -> dict:
    """Apply every due deadline of the tenant's disputes, each in its own transaction."""
    now = now or datetime.now(UTC)
    done: dict[str, int] = {}
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return {}
        for dispute_id in services.due_ids(now):
            try:
                result = services.apply_deadline(dispute_id, now=now)
                db.session.commit()  # per dispute, on purpose: one failure never undoes the others
            except Exception:
                db.session.rollback()
                log.exception("dispute deadline of %s failed", dispute_id)
                continue
            if result:
                done[result] = done.get(result, 0) + 1
    return done


def sweep(now: datetime | None = None) -> int:
    """Enqueue ``apply_due_deadlines`` for each tenant with a deadline due; returns how many."""
    now = now or datetime.now(UTC)
    return enqueue_per_tenant(
        tenants_with_due("disputes", DUE, {"now": now}),
        apply_due_deadlines,
        name="disputes-deadlines",
        interval=sweep_interval("DISPUTES_SWEEP_SECONDS", 60),
        now=now,
        description="dispute deadlines of tenant {tenant_id}",
    )


def run_sweep_loop(app, stop: threading.Event) -> None:
    """The worker's periodic loop thread (started by ``flask worker``)."""
    run_periodically(app, stop, "DISPUTES_SWEEP_SECONDS", 60, sweep, "disputes sweep")
