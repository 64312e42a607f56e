"""Running RQ jobs: an app context and an explicitly bound tenant, per job.

Jobs carry IDs only. ``tenant_job_context(tenant_id)`` loads the tenant fresh
from ``public`` and binds it; the job then loads its own rows. The block is one
unit of work (``unit_of_work.job_unit``): committed when it ends normally,
rolled back when it raises, so a job body never commits at its end. A job that
commits per item on purpose (a batch, an event's handlers one by one) still may,
and says why.

``app_job_context()`` has no unit of work: no tenant is bound, and its users
(the ticks that enqueue per-tenant jobs, the outbox relay) work on their own
short connections (``db.engine.begin()``), one transaction per tenant.
"""

from __future__ import annotations

import contextlib

from flask import current_app, has_app_context

from app.core import sentry_setup
from app.core.unit_of_work import job_unit
from tenants.db import db, tenant_context
from tenants.resolver import get_tenant_by_id

_worker_app = None


def _app():
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        from app import create_app
        from app.core.startup import collector_paused

        with collector_paused():
            _worker_app = create_app()
    return _worker_app


@contextlib.contextmanager
def app_job_context():
    if has_app_context():
        yield current_app._get_current_object()
        return
    with _app().app_context():
        try:
            yield current_app._get_current_object()
        finally:
            db.session.remove()


@contextlib.contextmanager
def tenant_job_context(tenant_id: int):
    """Yield the bound TenantRef, or None when the tenant no longer exists.

    The block's work is committed when it ends and rolled back when it raises."""
    with app_job_context():
        tenant = get_tenant_by_id(tenant_id)
        if tenant is None:
            yield None
            return
        sentry_setup.tag_job(tenant)  # a failed job's report names its tenant
        with tenant_context(tenant), job_unit():  # committed before tenant_context removes the session
            yield tenant


def enqueue_once(queue, job, *args, job_id: str, job_timeout: int, result_ttl: int, description: str) -> bool:
    """Enqueue ``job(*args)`` under ``job_id`` unless a job with that id is already queued, running
    or kept (periodic ticks name their jobs by tenant and time slot, so several workers ticking at
    once queue each job once). Returns whether it enqueued."""
    if queue.fetch_job(job_id) is not None:
        return False
    queue.enqueue(
        job, *args, job_id=job_id, job_timeout=job_timeout, result_ttl=result_ttl, description=description
    )
    return True
