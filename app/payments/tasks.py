"""Payments jobs (RQ). Each carries IDs, binds its tenant, runs in one unit of work
(``tenant_job_context``: committed at the end, rolled back when it raises), and can run twice.

``payments_tick()`` runs in the worker's periodic loop: for every active tenant
it enqueues the hour's earnings clearance and the day's scheduled payouts, each
once (a Redis ``SET NX`` per tenant and period, and a deterministic job id).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask import current_app
from rq import Retry

from app.core.jobs import app_job_context, tenant_job_context
from app.extensions import get_queue, redis_store
from app.payments import services
from tenants.db import db

log = logging.getLogger(__name__)


def send_refund(tenant_id: int, refund_id: int) -> None:
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return
        services.send_refund(refund_id)


def send_payout(tenant_id: int, payout_id: int) -> None:
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return
        services.send_payout(payout_id)


def clear_tenant_earnings(tenant_id: int, as_of: str) -> int:
    """Clearance of every seller of a tenant as of ``as_of`` (ISO datetime)."""
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None or not tenant.is_active:
            return 0
        return services.clear_due_earnings(datetime.fromisoformat(as_of))


def run_tenant_scheduled_payouts(tenant_id: int, day: str) -> int:
    """The tenant's scheduled payouts for the period containing ``day`` (ISO date)."""
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None or not tenant.is_active:
            return 0
        return len(services.run_scheduled_payouts(date.fromisoformat(day)).made)


def _active_tenant_ids() -> list[int]:
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT id FROM public.tenants WHERE status = 'active' ORDER BY id")
            ).scalars()
        )


def payments_tick(now: datetime | None = None) -> int:
    """Enqueue clearance (hourly) and scheduled payouts (daily) for every active tenant.

    Returns how many jobs were enqueued; calling it again in the same hour
    enqueues nothing new.
    """
    now = now or datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    queue = get_queue("default")
    intervals = current_app.config["PAYMENT_JOB_RETRY_INTERVALS"]
    enqueued = 0
    with app_job_context():
        for tenant_id in _active_tenant_ids():
            for name, job, arg in (
                ("clearance", clear_tenant_earnings, hour.isoformat()),
                ("payouts", run_tenant_scheduled_payouts, hour.date().isoformat()),
            ):
                job_id = f"payments-{name}-{tenant_id}-{arg.replace(':', '').replace('+', '_')}"
                # The key carries the tenant; it outlives the period so a tick repeats nothing.
                if not redis_store.client.set(f"t:{tenant_id}:{job_id}", 1, nx=True, ex=2 * 24 * 3600):
                    continue
                queue.enqueue(
                    job, tenant_id, arg, job_id=job_id, retry=Retry(max=len(intervals), interval=intervals)
                )
                enqueued += 1
    return enqueued


def run_payments_tick_loop(app, stop) -> None:
    """The worker's payments thread: ``payments_tick`` every ``PAYMENTS_TICK_SECONDS`` until ``stop``."""
    interval = app.config["PAYMENTS_TICK_SECONDS"]
    while True:
        try:
            with app.app_context():
                payments_tick()
        except Exception:
            log.exception("payments tick failed")
        if stop.wait(interval):
            return
