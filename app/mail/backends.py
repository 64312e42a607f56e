"""Where a finished email goes: an SMTP server (production) or an outbox folder (development).

A backend gets a complete ``email.message.EmailMessage`` and the tenant it
belongs to; it either delivers it or raises. Backends are chosen per call from
``MAIL_BACKEND`` so a test (the ``mailbox`` fixture) can switch them.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
import tempfile
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from flask import current_app

from tenants.db import TenantRef


class MailBackend:
    """Base class: ``send(message, tenant=..., message_id=...)`` delivers or raises."""

    def send(self, message: EmailMessage, *, tenant: TenantRef, message_id: int) -> None:
        raise NotImplementedError


class SMTPBackend(MailBackend):
    """Sends through ``MAIL_SERVER:MAIL_PORT``, with implicit TLS or STARTTLS and login when configured."""

    def __init__(self, config):
        if not config.get("MAIL_SERVER"):
            raise RuntimeError("MAIL_BACKEND=smtp needs MAIL_SERVER")
        self.host = config["MAIL_SERVER"]
        self.port = int(config["MAIL_PORT"])
        self.use_tls = bool(config.get("MAIL_USE_TLS"))
        self.use_starttls = bool(config.get("MAIL_USE_STARTTLS"))
        self.username = config.get("MAIL_USERNAME")
        self.password = config.get("MAIL_PASSWORD")
        self.timeout = float(config.get("MAIL_TIMEOUT", 10))

    def send(self, message: EmailMessage, *, tenant: TenantRef, message_id: int) -> None:
        context = ssl.create_default_context()
        if self.use_tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.use_starttls and not self.use_tls:
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(message)


def outbox_dir(slug: str | None = None) -> Path:
    configured = current_app.config.get("MAIL_OUTBOX_DIR")
    root = Path(configured) if configured else Path(current_app.config["INSTANCE_DIR"]) / "mail-outbox"
    return root / slug if slug else root


class FileBackend(MailBackend):
    """Writes each message as ``<INSTANCE_DIR>/mail-outbox/<tenant-slug>/<time>-m<id>.eml``.

    The file is the exact RFC 5322 message an SMTP server would have received;
    open it in a mail client or read it with ``flask mail outbox``.
    """

    def send(self, message: EmailMessage, *, tenant: TenantRef, message_id: int) -> None:
        folder = outbox_dir(tenant.slug)  # slugs match [a-z][a-z0-9-]+: safe as a folder name
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = folder / f"{stamp}-m{message_id}.eml"
        # Write then rename: a reader never sees half a message.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(message.as_bytes())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


BACKENDS: dict[str, type[MailBackend]] = {"smtp": SMTPBackend, "file": FileBackend}


def get_backend() -> MailBackend:
    """The backend named by ``MAIL_BACKEND`` (read at each call)."""
    name = current_app.config.get("MAIL_BACKEND", "file")
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise RuntimeError(f"unknown MAIL_BACKEND {name!r} (expected one of {sorted(BACKENDS)})") from None
    return cls(current_app.config) if cls is SMTPBackend else cls()


def remove_tenant_outbox(_sender=None, *, tenant: TenantRef, **_kwargs) -> None:
    """tenant_dropped receiver: a later tenant with the same slug must not inherit its outbox."""
    import shutil

    shutil.rmtree(outbox_dir(tenant.slug), ignore_errors=True)
