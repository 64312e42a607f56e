"""Running RQ jobs: an app context and an explicitly bound tenant, per job.

Jobs carry IDs only. ``tenant_job_context(tenant_id)`` loads the tenant fresh
from ``public`` and binds it; the job then loads its own rows.
"""

from __future__ import annotations

import contextlib

from flask import current_app, has_app_context

from tenants.db import db, tenant_context
from tenants.resolver import get_tenant_by_id

_worker_app = None


def _app():
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        from app import create_app

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
    """Yield the bound TenantRef, or None when the tenant no longer exists."""
    with app_job_context():
        tenant = get_tenant_by_id(tenant_id)
        if tenant is None:
            yield None
            return
        with tenant_context(tenant):
            yield tenant
