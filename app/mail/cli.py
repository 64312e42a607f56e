"""``flask mail outbox``: read what the development (file) backend "sent"."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import click
from flask.cli import with_appcontext

from app.mail.backends import outbox_dir
from tenants.db import SLUG_RE

mail_cli = click.Group("mail", help="Email: read the development outbox.")


def _messages(slug: str | None) -> list[Path]:
    root = outbox_dir()
    folders = [root / slug] if slug else sorted(p for p in root.glob("*") if p.is_dir())
    files = [f for folder in folders for f in folder.glob("*.eml")]
    return sorted(files, key=lambda f: (f.name, str(f)))


def _text_part(message) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


@mail_cli.command("outbox")
@click.option("--tenant", "slug", default=None, help="Only this tenant's messages (its slug).")
@click.option("-n", "--limit", default=20, show_default=True, help="How many of the latest to list.")
@click.option("--latest", "show_latest", is_flag=True, help="Print the latest message (headers + text part).")
@with_appcontext
def outbox(slug, limit, show_latest):
    """List the latest messages written by MAIL_BACKEND=file, or print the latest one."""
    if slug is not None and not SLUG_RE.match(slug):
        raise click.BadParameter(f"{slug!r} is not a tenant slug", param_hint="--tenant")
    files = _messages(slug)
    if not files:
        click.echo(f"No messages in {outbox_dir(slug)}")
        return
    if show_latest:
        path = files[-1]
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        click.echo(f"# {path}")
        for header in ("Date", "From", "Reply-To", "To", "Subject"):
            if message[header]:
                click.echo(f"{header}: {message[header]}")
        click.echo("")
        click.echo(_text_part(message))
        return
    for path in files[-limit:]:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        sent, to = message["Date"] or "", message["To"] or ""
        click.echo(f"{path.parent.name:<16} {sent:<31} {to:<32} {message['Subject']}")
        click.echo(f"{'':<16} {path}")
