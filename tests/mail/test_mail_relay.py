"""Queued emails outlive Redis: a send job lost with Redis is queued again by the relay, and
each email is sent once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import redis_store
from app.mail.models import EmailMessage
from app.mail.services import send_email
from app.mail.tasks import relay_queued_emails
from tenants.db import db


def _relay(app, now: datetime) -> int:
    with app.app_context():
        return relay_queued_emails(now=now)


def _queue_two(in_tenant, tenant) -> None:
    with in_tenant(tenant):
        for n in (1, 2):
            send_email(f"user{n}@example.com", "notice", f"Notice {n}", {"heading": f"Notice {n}"})
        db.session.commit()


def test_emails_whose_send_jobs_redis_lost_are_sent_once_after_the_relay(
    app, acme, globex, in_tenant, run_jobs, mailbox, mail_settled
):
    _queue_two(in_tenant, acme)
    _queue_two(in_tenant, globex)
    with app.app_context():
        redis_store.client.flushdb()  # the crash: the send jobs are gone
    grace = timedelta(seconds=app.config["MAIL_RELAY_GRACE_SECONDS"])
    now = datetime.now(UTC)

    assert _relay(app, now) == 0  # the jobs may just be late
    assert _relay(app, now + grace + timedelta(seconds=1)) == 4
    assert _relay(app, now + grace + timedelta(seconds=1)) == 0  # claimed
    run_jobs()

    for tenant in (acme, globex):
        with in_tenant(tenant):
            assert set(db.session.scalars(db.select(EmailMessage.status))) == {"sent"}
    assert _relay(app, now + 10 * grace) == 0
    run_jobs()
    subjects = sorted(m["Subject"] for m in mail_settled(acme))
    assert subjects == ["Notice 1", "Notice 1", "Notice 2", "Notice 2"]  # acme's and globex's


def test_the_normal_job_and_the_relays_copy_send_one_email(
    app, acme, in_tenant, run_jobs, mailbox, mail_settled
):
    _queue_two(in_tenant, acme)
    grace = timedelta(seconds=app.config["MAIL_RELAY_GRACE_SECONDS"])
    assert _relay(app, datetime.now(UTC) + grace + timedelta(seconds=1)) == 2  # the jobs were only late
    run_jobs()
    assert sorted(m["Subject"] for m in mail_settled(acme)) == ["Notice 1", "Notice 2"]


def test_a_failed_attempt_keeps_the_relay_away_until_after_its_retry(app, acme, in_tenant, monkeypatch):
    from app.mail import tasks

    _queue_two(in_tenant, acme)

    class Broken:
        def send(self, *args, **kwargs):
            raise OSError("SMTP down")

    monkeypatch.setattr(tasks, "get_backend", lambda: Broken())
    monkeypatch.setattr(tasks, "_is_last_attempt", lambda: False)
    with in_tenant(acme):
        message_id = db.session.scalar(db.select(EmailMessage.id).order_by(EmailMessage.id).limit(1))
    before = datetime.now(UTC)
    with app.app_context(), pytest.raises(OSError):
        tasks.send_email_message(acme.id, message_id)
    with in_tenant(acme):
        message = db.session.get(EmailMessage, message_id)
        assert (message.status, message.attempts) == ("queued", 1)
        first_wait = app.config["MAIL_RETRY_INTERVALS"][0]
        assert message.next_attempt_at >= before + timedelta(
            seconds=first_wait + app.config["MAIL_RELAY_GRACE_SECONDS"]
        )
