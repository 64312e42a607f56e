"""The RQ job that sends one recorded email, and the relay of queued emails whose job was lost."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app
from rq import get_current_job

from app.core import metrics
from app.core.after_commit import on_commit
from app.core.jobs import app_job_context, tenant_job_context
from app.core.sweeps import claim_due
from app.mail.backends import get_backend
from app.mail.models import EmailMessage
from app.mail.services import queue_send, render_email
from tenants.db import db

log = logging.getLogger(__name__)


def _is_last_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def send_email_message(tenant_id: int, message_id: int) -> str:
    """Render and send email ``message_id`` of tenant ``tenant_id``; returns what happened.

    Idempotent: the row is locked (``FOR UPDATE SKIP LOCKED``) while it is
    sent and marked ``sent`` in the same transaction, so a sent message is
    never sent again and two workers never send the same one at once. A
    failure is recorded on the row (attempts, last_error) and re-raised so RQ
    retries with backoff; after the last retry the row is ``failed`` and the
    job stays in RQ's failed registry. ``emails{sent}`` counts a message once its ``sent``
    commits, ``emails{failed}`` once it is ``failed`` for good (retried attempts are not
    counted). (A crash after the SMTP server accepted
    the message but before the commit can still cause one duplicate: SMTP
    offers no way to make that atomic.)
    """
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return "tenant gone"
        message = db.session.execute(
            sa.select(EmailMessage).where(EmailMessage.id == message_id).with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if message is None:
            exists = db.session.get(EmailMessage, message_id) is not None
            return "being sent by another worker" if exists else "no such message"
        if message.status == "sent":
            return "already sent"
        try:
            mime = render_email(message, tenant)
            get_backend().send(mime, tenant=tenant, message_id=message.id)
        except Exception as exc:
            message.attempts += 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            intervals = current_app.config["MAIL_RETRY_INTERVALS"]
            if _is_last_attempt() or message.attempts > len(intervals):
                message.status = "failed"
            else:
                # Don't let the relay queue it again while RQ's own retry is scheduled.
                wait = intervals[min(message.attempts - 1, len(intervals) - 1)]
                message.next_attempt_at = datetime.now(UTC) + timedelta(
                    seconds=wait + current_app.config["MAIL_RELAY_GRACE_SECONDS"]
                )
            given_up = message.status == "failed"
            # Kept although the job raises (its unit of work then rolls back): RQ retries on
            # the exception, and the row must show the attempt and the error meanwhile.
            db.session.commit()
            if given_up:  # counted once, when the row is failed for good (not per retried attempt)
                metrics.emails.labels("failed").inc()
            log.warning("email %s of tenant %s failed: %s", message_id, tenant.slug, exc)
            raise
        message.attempts += 1
        message.status = "sent"
        message.sent_at = sa.func.now()
        message.last_error = None
        # Counted with the row's "sent" commit: a message is sent (and counted) once.
        on_commit(metrics.emails.labels("sent").inc)
        return "sent"


def relay_queued_emails(now: datetime | None = None) -> int:
    """Queue again the send job of every queued email whose ``next_attempt_at`` has passed,
    in every tenant; returns how many.

    Such a row's job was lost with Redis (or never queued): the normal path queues it at
    commit, and a failed attempt pushes ``next_attempt_at`` past RQ's scheduled retry. Rows
    are claimed by moving ``next_attempt_at`` one ``MAIL_RELAY_GRACE_SECONDS`` on, so
    concurrent relays queue each once; the send job is idempotent (a row is sent once).
    """
    now = now or datetime.now(UTC)
    later = now + timedelta(seconds=max(1, int(current_app.config["MAIL_RELAY_GRACE_SECONDS"])))
    queued = 0
    with app_job_context():
        claims = claim_due(
            "email_messages",
            "status = 'queued' AND next_attempt_at <= :now",
            "next_attempt_at = :later",
            "id",
            {"now": now, "later": later},
        )
        for tenant_id, rows in claims:
            for (message_id,) in sorted(rows):
                queue_send(tenant_id, message_id)
                queued += 1
    if queued:
        log.info("mail relay queued %d email(s) again", queued)
    return queued


def run_mail_relay_loop(app: Flask, stop: threading.Event) -> None:
    """The worker's periodic thread (``flask worker``): the relay every ``EMAIL_SWEEP_INTERVAL_SECONDS``."""
    interval = app.config["EMAIL_SWEEP_INTERVAL_SECONDS"]
    while not stop.wait(interval):
        try:
            with app.app_context():
                relay_queued_emails()
        except Exception:
            log.exception("mail relay pass failed")
