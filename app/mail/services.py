"""Sending transactional email: record now, send after commit from an RQ job.

``send_email`` only writes an ``EmailMessage`` row in the caller's transaction;
once that transaction commits, ``send_email_message(tenant_id, message_id)`` is
queued on the "default" queue. If the caller rolls back, nothing is sent. A
send job Redis lost (or never got) is queued again by the worker's relay
(``tasks.relay_queued_emails``) once the row's ``next_attempt_at`` has passed.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid

import redis
import sqlalchemy as sa
from flask import current_app, render_template
from jinja2 import TemplateNotFound
from rq import Retry

from app.core.after_commit import on_commit
from app.core.domain_errors import DomainError
from app.core.urls import tenant_base_url
from app.extensions import get_queue
from app.mail.models import EmailMessage
from app.settings.services import Branding, get_branding
from tenants.db import TenantRef, current_tenant, db

log = logging.getLogger(__name__)

MAIL_QUEUE = "default"
TEMPLATE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
# One address, no display name, no header-breaking characters.
EMAIL_RE = re.compile(r"^[^@\s<>\",;:()\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


class MailError(DomainError):
    """``send_email`` was given something it cannot send; nothing was recorded."""


def send_email(
    to: str, template: str, subject: str, context: dict, *, user_id: int | None = None
) -> EmailMessage:
    """Queue email ``template`` to ``to`` for the bound tenant; returns the flushed row.

    The row is written in the current transaction (flush, no commit); the send
    job is enqueued only after that transaction commits. ``context`` must be
    JSON-serialisable (it is stored and rendered later by the job, together
    with ``branding``). Templates are ``mail/<template>.html`` and
    ``mail/<template>.txt`` on the app's template path.

    Raises MailError for an invalid address, subject, template name, missing
    template or non-JSON context; TenantNotBound when no tenant is bound.
    """
    tenant = current_tenant()
    to = (to or "").strip()
    if not EMAIL_RE.match(to):
        raise MailError(f"invalid recipient address {to!r}")
    subject = (subject or "").strip()
    if not subject or "\r" in subject or "\n" in subject or len(subject) > 300:
        raise MailError("the subject must be one line of 1 to 300 characters")
    if not TEMPLATE_NAME_RE.match(template or ""):
        raise MailError(f"invalid template name {template!r}")
    for suffix in ("html", "txt"):
        try:
            current_app.jinja_env.get_template(f"mail/{template}.{suffix}")
        except TemplateNotFound:
            raise MailError(f"template mail/{template}.{suffix} not found") from None
    try:
        stored_context = json.loads(json.dumps(context or {}))
    except (TypeError, ValueError) as exc:
        raise MailError(f"the context must be JSON-serialisable: {exc}") from None
    if not isinstance(stored_context, dict):
        raise MailError("the context must be a dict")

    message = EmailMessage(
        to=to,
        subject=subject,
        template=template,
        context=stored_context,
        status="queued",
        attempts=0,
        user_id=user_id,
        next_attempt_at=datetime.now(UTC) + timedelta(seconds=current_app.config["MAIL_RELAY_GRACE_SECONDS"]),
    )
    db.session.add(message)
    db.session.flush()
    on_commit(enqueue_send, tenant.id, message.id)
    return message


def has_email(template: str, user_id: int) -> bool:
    """Whether an email of ``template`` was already queued or sent to ``user_id`` (bound tenant)."""
    return (
        db.session.scalar(
            sa.select(EmailMessage.id)
            .where(EmailMessage.template == template, EmailMessage.user_id == user_id)
            .limit(1)
        )
        is not None
    )


def enqueue_send(tenant_id: int, message_id: int) -> None:
    """Queue the send job of one message (with retries). Safe to call again: the job is idempotent.

    Runs after commit: Redis failing here is logged, and the relay queues the job later."""
    try:
        queue_send(tenant_id, message_id)
    except redis.RedisError as exc:
        log.warning("email %s of tenant %s not queued (%s); left to the relay", message_id, tenant_id, exc)


def queue_send(tenant_id: int, message_id: int) -> None:
    """Queue the send job of one message (with retries); raises when Redis fails."""
    from app.mail.tasks import send_email_message

    intervals = current_app.config["MAIL_RETRY_INTERVALS"]
    get_queue(MAIL_QUEUE).enqueue(
        send_email_message,
        tenant_id,
        message_id,
        retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
        job_timeout=120,
        description=f"send email {message_id} of tenant {tenant_id}",
    )


def render_email(message: EmailMessage, tenant: TenantRef, branding: Branding | None = None) -> MimeMessage:
    """Build the multipart/alternative (text + HTML) message of a row, branded for ``tenant``."""
    branding = branding or get_branding()
    base_url = tenant_base_url(tenant)
    logo_url = branding.logo_url
    if logo_url and logo_url.startswith("/"):
        logo_url = base_url + logo_url
    context = {
        **message.context,
        "branding": branding,
        "logo_url": logo_url,
        "base_url": base_url,
        "subject": message.subject,
    }
    text = render_template(f"mail/{message.template}.txt", **context)
    html = render_template(f"mail/{message.template}.html", **context)

    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    mime = MimeMessage()
    mime["Subject"] = message.subject
    mime["From"] = Address(display_name=branding.name, addr_spec=sender)
    mime["To"] = message.to
    if branding.support_email:
        mime["Reply-To"] = Address(display_name=branding.name, addr_spec=branding.support_email)
    mime["Date"] = formatdate(localtime=False, usegmt=True)
    mime["Message-ID"] = make_msgid(idstring=f"t{tenant.id}.m{message.id}", domain=sender.rpartition("@")[2])
    mime["Auto-Submitted"] = "auto-generated"
    mime["X-Gigforge-Tenant"] = tenant.slug
    # Quoted-printable: 7-bit safe for any relay, and no 998-octet line limit to trip over.
    mime.set_content(text, cte="quoted-printable")
    mime.add_alternative(html, subtype="html", cte="quoted-printable")
    return mime
