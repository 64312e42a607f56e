"""message.posted -> new_message notifications, and batched email through a real SMTP server."""

from __future__ import annotations

from app.accounts.models import User
from app.events.models import OutboxEvent, ProcessedEvent
from app.events.tasks import deliver_event
from app.extensions import get_queue
from app.mail.models import EmailMessage
from app.messaging import services as messaging
from app.notifications import services
from app.notifications.tasks import send_notification_email
from app.realtime import mark_online
from tenants.db import db


def _deliver(run_jobs, release_scheduled):
    """Events first, then the batch's delayed email job as if its time had come."""
    run_jobs()
    release_scheduled()
    run_jobs()


def test_recipients_are_notified_but_not_the_sender(acme, pair, post, run_jobs, notifications_of):
    bea, sam, cid = pair
    message_id = post(acme, bea, cid, "Hi Sam, can you draw a fox?")
    run_jobs()

    assert notifications_of(acme, bea) == []
    (notification,) = notifications_of(acme, sam)
    assert notification.kind == "new_message"
    assert notification.url == f"/inbox/{cid}"
    assert notification.data["conversation_id"] == cid and notification.data["message_id"] == message_id
    assert notification.data["sender_id"] == bea
    assert notification.text == "Bea Buyer: Hi Sam, can you draw a fox?"


def test_users_of_another_tenant_with_equal_ids_are_not_notified(
    acme, globex, pair, post, make_user, run_jobs, notifications_of
):
    bea, sam, cid = pair
    # globex has users with the very same IDs, and a conversation with the same ID.
    g_bea = make_user(globex, email="bea@example.com")
    g_sam = make_user(globex, email="sam@example.com")
    assert (g_bea, g_sam) == (bea, sam)
    post(acme, bea, cid, "Only for acme's Sam")
    run_jobs()
    assert len(notifications_of(acme, sam)) == 1
    assert notifications_of(globex, g_sam) == [] and notifications_of(globex, g_bea) == []


def test_a_redelivered_event_notifies_once(app, acme, pair, post, run_jobs, in_tenant, notifications_of):
    bea, sam, cid = pair
    post(acme, bea, cid, "once")
    run_jobs()
    with in_tenant(acme):
        event_id = db.session.scalar(db.select(OutboxEvent.id).where(OutboxEvent.name == "message.posted"))
        # Even if the handler ran again (its processed mark gone), the dedupe key holds.
        db.session.execute(db.delete(ProcessedEvent).where(ProcessedEvent.event_id == event_id))
        db.session.execute(db.update(OutboxEvent).where(OutboxEvent.id == event_id).values(status="pending"))
        db.session.commit()
    with app.app_context():
        assert deliver_event(acme.id, event_id) == "dispatched"
    assert len(notifications_of(acme, sam)) == 1


def test_an_offline_recipient_gets_one_branded_email_per_burst(
    acme, pair, post, run_jobs, release_scheduled, mailbox, notifications_of, mail_settled
):
    bea, sam, cid = pair
    for body in ("Hi Sam!", "Quick question about the logo", "Can it be teal?"):
        post(acme, bea, cid, body)
    run_jobs()
    assert release_scheduled() == 1, "one delayed email job per (user, conversation) burst"
    run_jobs()

    (message,) = mailbox.wait_for(1)
    assert mailbox.envelopes[0][1] == ["sam@example.com"]
    assert message["Subject"] == "3 new messages from Bea Buyer"
    assert message["From"].addresses[0].display_name == "Acme Test Market"
    text, html = mailbox.text(message), mailbox.html(message)
    for body in ("Hi Sam!", "Quick question about the logo", "Can it be teal?"):
        assert body in text and body in html
    assert "#0f766e" in html  # acme's colour, not globex's
    assert f'href="http://acme.localhost/inbox/{cid}"' in html
    assert f"http://acme.localhost/inbox/{cid}" in mailbox.links(message)
    assert "http://acme.localhost/account/notifications" in mailbox.links(message)
    assert {n.email_status for n in notifications_of(acme, sam)} == {"sent"}
    assert notifications_of(acme, bea) == []
    assert len(mail_settled(acme)) == 1  # one email for the burst, nothing more


def test_the_next_burst_after_an_email_gets_its_own_email(
    acme, pair, post, run_jobs, release_scheduled, mailbox, mail_settled
):
    bea, sam, cid = pair
    post(acme, bea, cid, "first burst")
    _deliver(run_jobs, release_scheduled)
    mailbox.wait_for(1)
    post(acme, bea, cid, "second burst")
    post(acme, bea, cid, "still second")
    _deliver(run_jobs, release_scheduled)
    messages = mailbox.wait_for(2)
    assert messages[1]["Subject"] == "2 new messages from Bea Buyer"
    assert len(mail_settled(acme)) == 2


def test_the_email_job_is_idempotent(
    acme, pair, post, run_jobs, release_scheduled, mailbox, app, in_tenant, mail_settled
):
    bea, sam, cid = pair
    post(acme, bea, cid, "hello")
    _deliver(run_jobs, release_scheduled)
    mailbox.wait_for(1)
    # A retried or duplicated job: nothing pending any more, nothing sent again.
    with app.app_context():
        assert send_notification_email(acme.id, sam, f"conversation:{cid}") == "nothing pending"
        get_queue("default").enqueue(send_notification_email, acme.id, sam, f"conversation:{cid}")
    run_jobs()
    with in_tenant(acme):
        assert db.session.scalar(db.select(db.func.count(EmailMessage.id))) == 1
    assert len(mail_settled(acme)) == 1


def test_an_online_recipient_gets_no_email(
    acme, pair, post, run_jobs, release_scheduled, mail_settled, app, notifications_of
):
    bea, sam, cid = pair
    with app.app_context():
        mark_online(acme.id, sam, "socket-1")  # Sam has the site open somewhere
    post(acme, bea, cid, "are you there?")
    run_jobs()
    assert release_scheduled() == 0
    run_jobs()
    assert mail_settled(acme) == []
    (notification,) = notifications_of(acme, sam)
    assert notification.email_status == "skipped" and notification.read_at is None


def test_someone_online_in_another_tenant_with_the_same_id_still_gets_email(
    acme, globex, pair, post, make_user, run_jobs, release_scheduled, mailbox, app
):
    bea, sam, cid = pair
    g_sam = make_user(globex)
    make_user(globex)
    with app.app_context():
        mark_online(globex.id, sam, "socket-9")  # presence is per tenant
    assert g_sam in (bea, sam)
    post(acme, bea, cid, "hello acme Sam")
    _deliver(run_jobs, release_scheduled)
    assert len(mailbox.wait_for(1)) == 1


def test_no_email_when_the_user_turned_email_off(
    acme, pair, post, run_jobs, release_scheduled, mail_settled, in_tenant, notifications_of
):
    bea, sam, cid = pair
    with in_tenant(acme):
        services.set_preferences(db.session.get(User, sam), {"new_message": {"email": False}})
        db.session.commit()
    post(acme, bea, cid, "hello")
    run_jobs()
    assert release_scheduled() == 0
    assert mail_settled(acme) == []
    (notification,) = notifications_of(acme, sam)
    assert notification.email_status == "none" and notification.in_app


def test_no_new_message_notification_at_all_when_both_channels_are_off(
    acme, pair, post, run_jobs, in_tenant, notifications_of
):
    bea, sam, cid = pair
    with in_tenant(acme):
        services.set_preferences(
            db.session.get(User, sam), {"new_message": {"email": False, "in_app": False}}
        )
        db.session.commit()
    post(acme, bea, cid, "hello")
    run_jobs()
    assert notifications_of(acme, sam) == []


def test_messages_read_before_the_batch_runs_are_not_emailed(
    acme, pair, post, run_jobs, release_scheduled, mail_settled, in_tenant, notifications_of
):
    bea, sam, cid = pair
    post(acme, bea, cid, "hello")
    run_jobs()
    with in_tenant(acme):  # Sam read the conversation in the meantime
        messaging.mark_read(db.session.get(User, sam), cid)
        db.session.commit()
    release_scheduled()
    run_jobs()
    assert mail_settled(acme) == []
    assert [n.email_status for n in notifications_of(acme, sam)] == ["skipped"]


def test_order_events_of_one_order_are_batched_into_one_email(
    acme, make_user, in_tenant, run_jobs, release_scheduled, mailbox
):
    seller = make_user(acme, email="seller@example.com", display_name="Sam")
    with in_tenant(acme):
        services.notify(seller, "order_placed", {"order_id": 7, "actor_name": "Bea"}, url="/orders/7")
        services.notify(seller, "order_paid", {"order_id": 7}, url="/orders/7")
        services.notify(seller, "order_placed", {"order_id": 8, "actor_name": "Bob"}, url="/orders/8")
        db.session.commit()
    assert release_scheduled() == 2  # one batch per order
    run_jobs()
    messages = mailbox.wait_for(2)
    subjects = sorted(m["Subject"] for m in messages)
    assert subjects == ["2 updates on order #7", "Order placed"]
    order7 = next(m for m in messages if m["Subject"] == "2 updates on order #7")
    assert "Bea placed order #7." in mailbox.text(order7) and "Order #7 was paid." in mailbox.text(order7)
    assert "http://acme.localhost/orders/7" in mailbox.links(order7)
