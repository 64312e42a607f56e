"""Email: recorded in the caller's transaction, sent by an RQ job through a real SMTP server,
branded per tenant, idempotent; the development file backend writes .eml files."""

from __future__ import annotations

import email
import socket
import threading
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq import Queue

from app.mail.models import EmailMessage
from app.mail.services import MailError, enqueue_send, send_email
from app.mail.tasks import send_email_message
from app.settings.services import update_branding
from config import ProductionConfig
from tenants.db import db

NOTICE = {
    "heading": "Welcome aboard",
    "paragraphs": ["Your account is ready.", "<script>alert(1)</script>"],
    "action_url": "http://acme.localhost/verify/abc123",
    "action_label": "Verify my email",
}


def _send(in_tenant, tenant, to="buyer@example.com", context=None, **kwargs) -> int:
    with in_tenant(tenant):
        message = send_email(to, "notice", "Welcome!", context or NOTICE, **kwargs)
        db.session.commit()
        return message.id


def _row(in_tenant, tenant, message_id) -> EmailMessage:
    with in_tenant(tenant):
        row = db.session.get(EmailMessage, message_id)
        db.session.expunge(row)
        return row


def test_email_arrives_over_smtp_with_text_and_html_parts_in_the_tenants_branding(
    acme, in_tenant, mailbox, run_jobs, make_user
):
    user_id = make_user(acme, email="buyer@example.com")
    with in_tenant(acme):
        update_branding(support_email="help@acme.test", logo_url="/static/acme-logo.png")
        db.session.commit()
    message_id = _send(in_tenant, acme, user_id=user_id)
    assert mailbox.messages == []  # nothing goes out before the job runs

    run_jobs()
    (received,) = mailbox.wait_for(1)

    assert received.get_content_type() == "multipart/alternative"
    assert received["Subject"] == "Welcome!"
    assert received["To"] == "buyer@example.com"
    assert received["From"].addresses[0].display_name == "Acme Test Market"
    assert received["From"].addresses[0].addr_spec == "no-reply@gigforge.test"
    assert received["Reply-To"].addresses[0].addr_spec == "help@acme.test"
    assert mailbox.envelopes[0][1] == ["buyer@example.com"]

    text, html = mailbox.text(received), mailbox.html(received)
    assert "Acme Test Market" in text and "Welcome aboard" in text and "help@acme.test" in text
    assert "Acme Test Market" in html and "#0f766e" in html  # acme's primary colour
    assert 'src="http://acme.localhost/static/acme-logo.png"' in html  # absolute logo URL
    assert "&lt;script&gt;" in html and "<script>" not in html  # context is escaped in HTML
    assert mailbox.links(received) == ["http://acme.localhost/verify/abc123"]

    row = _row(in_tenant, acme, message_id)
    assert (row.status, row.attempts, row.user_id, row.last_error) == ("sent", 1, user_id, None)
    assert row.sent_at is not None and row.context == NOTICE


def test_acme_email_never_shows_globex_branding(acme, globex, in_tenant, mailbox, run_jobs):
    acme_id = _send(in_tenant, acme, to="same@example.com")
    globex_id = _send(in_tenant, globex, to="same@example.com")
    assert acme_id == globex_id  # equal IDs inside both tenants

    run_jobs()
    messages = mailbox.wait_for(2)
    by_name = {m["From"].addresses[0].display_name: m for m in messages}
    assert set(by_name) == {"Acme Test Market", "Globex Test Market"}

    acme_mail, globex_mail = by_name["Acme Test Market"], by_name["Globex Test Market"]
    for part in (mailbox.text(acme_mail), mailbox.html(acme_mail), str(acme_mail["From"])):
        assert "Globex" not in part and "#6d28d9" not in part
    for part in (mailbox.text(globex_mail), mailbox.html(globex_mail), str(globex_mail["From"])):
        assert "Acme" not in part and "#0f766e" not in part
    assert acme_mail["X-Gigforge-Tenant"] == "acme" and globex_mail["X-Gigforge-Tenant"] == "globex"


def test_send_job_is_idempotent(app, acme, in_tenant, mailbox, run_jobs, mail_settled):
    message_id = _send(in_tenant, acme)
    run_jobs()
    mailbox.wait_for(1)

    # The same job again, queued and run directly: the message is not sent a second time.
    with app.app_context():
        enqueue_send(acme.id, message_id)
    run_jobs()
    with app.app_context():
        assert send_email_message(acme.id, message_id) == "already sent"
    assert _row(in_tenant, acme, message_id).attempts == 1
    assert [m["Subject"] for m in mail_settled(acme)] == ["Welcome!"]


def test_a_message_locked_by_another_worker_is_left_to_that_worker(app, acme, in_tenant, mailbox):
    message_id = _send(in_tenant, acme)
    outcome = {}

    def other_worker():
        with app.app_context():
            outcome["result"] = send_email_message(acme.id, message_id)

    with in_tenant(acme):
        # This session plays the worker that is sending the message right now.
        db.session.execute(sa.select(EmailMessage).where(EmailMessage.id == message_id).with_for_update())
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(10)
        db.session.rollback()
    assert outcome["result"] == "being sent by another worker"
    assert mailbox.messages == []
    assert _row(in_tenant, acme, message_id).attempts == 0


def test_nothing_is_queued_or_sent_when_the_transaction_rolls_back(app, acme, in_tenant, mailbox, run_jobs):
    with in_tenant(acme):
        send_email("buyer@example.com", "notice", "Welcome!", NOTICE)
        db.session.rollback()
    with app.app_context():
        assert Queue("default", connection=app.extensions["redis"]).count == 0
    run_jobs()
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailMessage)) == 0
    assert mailbox.messages == []


@pytest.mark.parametrize(
    ("to", "template", "subject", "context", "error"),
    [
        ("not-an-email", "notice", "Hi", {}, "recipient"),
        ("a@example.com\r\nBcc: victim@example.com", "notice", "Hi", {}, "recipient"),
        ("Someone <a@example.com>", "notice", "Hi", {}, "recipient"),
        ("a@example.com", "notice", "Hi\r\nBcc: victim@example.com", {}, "subject"),
        ("a@example.com", "notice", "  ", {}, "subject"),
        ("a@example.com", "../base", "Hi", {}, "template name"),
        ("a@example.com", "no_such_template", "Hi", {}, "not found"),
        ("a@example.com", "notice", "Hi", {"when": object()}, "JSON"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_records_nothing(
    app, acme, in_tenant, to, template, subject, context, error
):
    with in_tenant(acme):
        with pytest.raises(MailError, match=error):
            send_email(to, template, subject, context)
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailMessage)) == 0
    with app.app_context():
        assert Queue("default", connection=app.extensions["redis"]).count == 0


def test_file_backend_writes_a_readable_eml_into_the_tenants_outbox(app, acme, globex, in_tenant, run_jobs):
    assert app.config["MAIL_BACKEND"] == "file"
    message_id = _send(in_tenant, acme, to="dev@example.com")
    run_jobs()

    outbox = Path(app.config["MAIL_OUTBOX_DIR"])
    (path,) = (outbox / "acme").glob("*.eml")
    assert path.name.endswith(f"-m{message_id}.eml")
    assert not (outbox / "globex").exists()
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["To"] == "dev@example.com"
    assert parsed["From"].addresses[0].display_name == "Acme Test Market"
    assert "Welcome aboard" in parsed.get_body(preferencelist=("plain",)).get_content()
    assert "#0f766e" in parsed.get_body(preferencelist=("html",)).get_content()
    assert _row(in_tenant, acme, message_id).status == "sent"

    result = app.test_cli_runner().invoke(args=["mail", "outbox", "--tenant", "acme", "--latest"])
    assert result.exit_code == 0, result.output
    assert "Subject: Welcome!" in result.output and "Welcome aboard" in result.output
    listing = app.test_cli_runner().invoke(args=["mail", "outbox"])
    assert "dev@example.com" in listing.output
    bad = app.test_cli_runner().invoke(args=["mail", "outbox", "--tenant", "../etc"])
    assert bad.exit_code != 0 and "not a tenant slug" in bad.output


def test_a_failing_smtp_server_is_retried_then_the_message_is_marked_failed(
    app, acme, in_tenant, run_jobs, monkeypatch
):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    for key, value in {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": closed_port}.items():
        monkeypatch.setitem(app.config, key, value)
    message_id = _send(in_tenant, acme)
    run_jobs()

    row = _row(in_tenant, acme, message_id)
    assert row.status == "failed"
    assert row.attempts == 1 + len(app.config["MAIL_RETRY_INTERVALS"])
    assert "Connection" in row.last_error or "refused" in row.last_error.lower()


def test_production_refuses_the_file_backend_and_smtp_without_a_server(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/gigforge")
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("BASE_DOMAIN", "gigforge.example")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.com")
    monkeypatch.setenv("PAYMENT_SECRETS_KEY", "k4WbbG-0CzGm3Z2pB7b5Wr6x3V9mQ1nHqzJ0uYpT8sE=")
    ProductionConfig.validate()  # a complete setup starts

    monkeypatch.setenv("MAIL_BACKEND", "file")
    with pytest.raises(RuntimeError, match="MAIL_BACKEND='file' is for development only"):
        ProductionConfig.validate()

    monkeypatch.delenv("MAIL_BACKEND")
    monkeypatch.delenv("MAIL_SERVER")
    with pytest.raises(RuntimeError, match="MAIL_SERVER must be set"):
        ProductionConfig.validate()
