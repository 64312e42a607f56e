"""RQ jobs of notifications (they carry IDs; the worker binds the tenant)."""

from __future__ import annotations

from app.core.jobs import tenant_job_context
from app.notifications import services


def send_notification_email(tenant_id: int, user_id: int, group_key: str) -> str:
    """Send the pending email batch ``group_key`` of one user; returns what happened.

    Idempotent: the batch's rows are marked sent in the same commit as the
    email row (``services.send_pending_email``), so a retry or a duplicate
    job finds nothing left to send.
    """
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return "tenant gone"
        return services.send_pending_email(user_id, group_key)
