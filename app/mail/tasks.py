"""The RQ job that sends one recorded email."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from rq import get_current_job

from app.core.jobs import tenant_job_context
from app.mail.backends import get_backend
from app.mail.models import EmailMessage
from app.mail.services import render_email
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
    job stays in RQ's failed registry. (A crash after the SMTP server accepted
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
            if _is_last_attempt():
                message.status = "failed"
            # Kept although the job raises (its unit of work then rolls back): RQ retries on
            # the exception, and the row must show the attempt and the error meanwhile.
            db.session.commit()
            log.warning("email %s of tenant %s failed: %s", message_id, tenant.slug, exc)
            raise
        message.attempts += 1
        message.status = "sent"
        message.sent_at = sa.func.now()
        message.last_error = None
        return "sent"
