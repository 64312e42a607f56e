"""RQ jobs of notifications (they carry IDs; the worker binds the tenant), and the email sweep."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app

from app.core.jobs import app_job_context, tenant_job_context
from app.core.sweeps import claim_due
from app.notifications import services

log = logging.getLogger(__name__)


def send_notification_email(tenant_id: int, user_id: int, group_key: str) -> str:
    """Send the pending email batch ``group_key`` of one user; returns what happened.

    Idempotent: the batch's rows are marked sent in the same commit as the
    email row (``services.send_pending_email``), so a retry, a duplicate job or
    the sweep's copy of a late job finds nothing left to send.
    """
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return "tenant gone"
        return services.send_pending_email(user_id, group_key)


def enqueue_overdue_emails(now: datetime | None = None) -> int:
    """Queue the email job of every pending batch whose email is overdue, in every tenant;
    returns how many jobs were queued.

    Overdue: a pending notification whose ``email_due_at`` is
    ``NOTIFY_EMAIL_SWEEP_GRACE_SECONDS`` before ``now`` (its delayed job should have run by
    then: Redis lost it, or never got it). The rows are claimed by moving ``email_due_at`` to
    ``now`` (so a concurrent sweep skips them, and a job lost again is found again one grace
    later), then one job is queued per (user, group). The job is idempotent, so a late job and
    this one send the batch once.
    """
    now = now or datetime.now(UTC)
    grace = timedelta(seconds=max(0, int(current_app.config["NOTIFY_EMAIL_SWEEP_GRACE_SECONDS"])))
    queued = 0
    with app_job_context():
        claims = claim_due(
            "notifications",
            "email_status = 'pending' AND email_due_at <= :cutoff",
            "email_due_at = :now",
            "user_id, group_key",
            {"cutoff": now - grace, "now": now},
        )
        for tenant_id, rows in claims:
            for user_id, group_key in sorted(set(rows)):
                services.enqueue_batch(tenant_id, user_id, group_key)
                queued += 1
    if queued:
        log.info("email sweep queued %d overdue notification batch(es)", queued)
    return queued


def run_email_sweep_loop(app: Flask, stop: threading.Event) -> None:
    """The worker's periodic thread (``flask worker``): the sweep every ``EMAIL_SWEEP_INTERVAL_SECONDS``."""
    interval = app.config["EMAIL_SWEEP_INTERVAL_SECONDS"]
    while not stop.wait(interval):
        try:
            with app.app_context():
                enqueue_overdue_emails()
        except Exception:
            log.exception("notification email sweep failed")
