"""Notification emails outlive Redis: PostgreSQL records the due time, the worker's sweep
re-enqueues overdue batches, and the batch job sends each batch once (issue 12, finding 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.extensions import redis_store
from app.mail.models import EmailMessage
from app.notifications import services
from app.notifications.models import Notification
from app.notifications.tasks import enqueue_overdue_emails
from tenants.db import db


def _overdue(app, extra: float = 1) -> datetime:
    """A "now" at which a batch created just before is overdue for the sweep."""
    seconds = app.config["NOTIFY_EMAIL_BATCH_SECONDS"] + app.config["NOTIFY_EMAIL_SWEEP_GRACE_SECONDS"]
    return datetime.now(UTC) + timedelta(seconds=seconds + extra)


def _sweep(app, now: datetime) -> int:
    with app.app_context():
        return enqueue_overdue_emails(now=now)


def _order_notifications(in_tenant, tenant, user_ids, orders=(7,)):
    """order_placed + order_paid of each order for each user: one batch per (user, order)."""
    with in_tenant(tenant):
        for user_id in user_ids:
            for order_id in orders:
                url = f"/orders/{order_id}"
                services.notify(user_id, "order_placed", {"order_id": order_id, "actor_name": "Bea"}, url=url)
                services.notify(user_id, "order_paid", {"order_id": order_id}, url=url)
        db.session.commit()


def _statuses(in_tenant, tenant) -> dict[str, int]:
    with in_tenant(tenant):
        rows = db.session.execute(
            db.select(Notification.email_status, db.func.count()).group_by(Notification.email_status)
        ).all()
        return dict(rows)


def _emails(in_tenant, tenant) -> list[tuple[str, str]]:
    with in_tenant(tenant):
        rows = db.session.execute(db.select(EmailMessage.to, EmailMessage.subject))
        return sorted(tuple(row) for row in rows)


def test_a_pending_notification_records_when_its_email_is_due(app, acme, make_user, in_tenant):
    seller = make_user(acme)
    before = datetime.now(UTC)
    _order_notifications(in_tenant, acme, [seller])
    with in_tenant(acme):
        rows = db.session.scalars(db.select(Notification)).all()
    delay = timedelta(seconds=app.config["NOTIFY_EMAIL_BATCH_SECONDS"])
    assert {row.email_status for row in rows} == {"pending"}
    assert all(before + delay <= row.email_due_at <= row.created_at + delay for row in rows)


def test_batches_whose_delayed_jobs_redis_lost_are_sent_once_each_after_the_sweep(
    app, acme, globex, make_user, in_tenant, run_jobs, mailbox, mail_settled
):
    sellers = [make_user(acme, email=f"seller{i}@example.com") for i in range(3)]
    other = make_user(globex, email="globex-seller@example.com")
    _order_notifications(in_tenant, acme, sellers, orders=(7, 8))  # 6 batches of 2, 12 notifications
    _order_notifications(in_tenant, globex, [other])  # 1 batch in another tenant
    with app.app_context():
        redis_store.client.flushdb()  # the crash: every delayed job and batch key is gone

    assert _sweep(app, _overdue(app, extra=-5)) == 0  # not overdue yet: the delayed job may still come
    assert _sweep(app, _overdue(app)) == 7
    run_jobs()

    assert _statuses(in_tenant, acme) == {"sent": 12} and _statuses(in_tenant, globex) == {"sent": 2}
    sent = _emails(in_tenant, acme)
    expected = [(f"seller{i}@example.com", f"2 updates on order #{n}") for i in range(3) for n in (7, 8)]
    assert sent == sorted(expected)
    assert _emails(in_tenant, globex) == [("globex-seller@example.com", "2 updates on order #7")]

    # A second sweep, later still, and the jobs again: nothing more.
    assert _sweep(app, _overdue(app, extra=3600)) == 0
    run_jobs()
    assert len(mail_settled(acme)) == 7  # the mailbox is shared: acme's 6 and globex's 1
    assert len(_emails(in_tenant, globex)) == 1


def test_the_delayed_job_and_the_sweeps_copy_send_one_email(
    app, acme, make_user, in_tenant, run_jobs, release_scheduled, mailbox, mail_settled
):
    seller = make_user(acme, email="seller@example.com")
    _order_notifications(in_tenant, acme, [seller])
    # The delayed job is late but not lost: the sweep queues a copy, and both run.
    assert _sweep(app, _overdue(app)) == 1
    assert release_scheduled() == 1
    run_jobs()
    assert _statuses(in_tenant, acme) == {"sent": 2}
    (message,) = mail_settled(acme)
    assert message["Subject"] == "2 updates on order #7"


def test_a_claimed_batch_is_queued_again_only_after_another_grace(
    app, acme, make_user, in_tenant, run_jobs, mailbox, mail_settled
):
    seller = make_user(acme, email="seller@example.com")
    _order_notifications(in_tenant, acme, [seller])
    with app.app_context():
        redis_store.client.flushdb()
    now = _overdue(app)
    assert _sweep(app, now) == 1
    assert _sweep(app, now) == 0  # claimed: a concurrent sweep leaves it alone
    with app.app_context():
        redis_store.client.flushdb()  # the sweep's job is lost too
    grace = timedelta(seconds=app.config["NOTIFY_EMAIL_SWEEP_GRACE_SECONDS"])
    assert _sweep(app, now + grace) == 1
    assert _sweep(app, now + grace) == 0
    run_jobs()
    run_jobs()
    assert len(mail_settled(acme)) == 1


def test_a_notification_made_while_redis_is_down_is_stored_and_emailed_by_the_sweep(
    app, acme, make_user, in_tenant, run_jobs, mailbox, mail_settled, monkeypatch
):
    import redis

    seller = make_user(acme, email="seller@example.com")

    def down(*args, **kwargs):
        raise redis.ConnectionError("Redis is down")

    with in_tenant(acme), monkeypatch.context() as patch:
        patch.setattr(type(redis_store.client), "set", down)
        patch.setattr(services, "is_online", lambda tenant_id, user_id: False)
        services.notify(seller, "order_placed", {"order_id": 7, "actor_name": "Bea"}, url="/orders/7")
        db.session.commit()  # the after-commit scheduling fails quietly: the row is the record
    assert _statuses(in_tenant, acme) == {"pending": 1}
    assert _sweep(app, _overdue(app)) == 1
    run_jobs()
    (message,) = mail_settled(acme)
    assert message["Subject"] == "Order placed"
