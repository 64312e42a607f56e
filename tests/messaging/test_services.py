"""Messaging rules, called directly (no HTTP)."""

from __future__ import annotations

import pytest

from app.accounts.models import User
from app.events.models import OutboxEvent
from app.messaging import services
from app.messaging.models import Conversation, Message
from tenants.db import db


def test_one_direct_conversation_per_pair_whoever_starts_it(acme, make_user, start_conversation, in_tenant):
    a, b = make_user(acme), make_user(acme)
    first = start_conversation(acme, a, b)
    assert start_conversation(acme, b, a) == first
    with in_tenant(acme):
        assert db.session.scalar(db.select(db.func.count(Conversation.id))) == 1
        names = [e.name for e in db.session.scalars(db.select(OutboxEvent))]
        assert names == ["conversation.created"]


def test_cannot_start_a_conversation_with_yourself_or_a_stranger(acme, make_user, user_of):
    a = make_user(acme)
    with user_of(acme, a) as user:
        with pytest.raises(services.MessagingError, match="yourself"):
            services.start_direct_conversation(user, a)
        with pytest.raises(services.MessagingError) as exc:
            services.start_direct_conversation(user, 9999)
        assert exc.value.status == 404


def test_post_message_stores_counts_unread_and_publishes(
    acme, make_user, start_conversation, user_of, in_tenant
):
    a, b = make_user(acme), make_user(acme)
    cid = start_conversation(acme, a, b)
    with user_of(acme, a) as sender:
        message = services.post_message(sender, cid, "  Hello\r\nthere\x07  ")
        db.session.commit()
        assert message.body == "Hello\nthere"
    with in_tenant(acme):
        event = db.session.scalars(db.select(OutboxEvent).where(OutboxEvent.name == "message.posted")).one()
        assert event.payload == {"conversation_id": cid, "message_id": message.id, "sender_id": a}
        reader = db.session.get(User, b)
        assert services.unread_total(reader) == 1
        assert services.unread_total(db.session.get(User, a)) == 0
        [row] = services.list_conversations(reader)
        assert row.unread_count == 1 and row.last_message.id == message.id and row.others[0].id == a


@pytest.mark.parametrize("body", ["", "   ", "\n\n", None, "x" * 5001, 12, ["a"]])
def test_empty_oversized_or_non_text_messages_are_refused(acme, make_user, start_conversation, user_of, body):
    a, b = make_user(acme), make_user(acme)
    cid = start_conversation(acme, a, b)
    with user_of(acme, a) as sender:
        with pytest.raises(services.MessagingError):
            services.post_message(sender, cid, body)
        db.session.rollback()
        assert db.session.scalar(db.select(db.func.count(Message.id))) == 0


def test_a_non_participant_can_neither_post_nor_read(acme, make_user, start_conversation, user_of):
    a, b, eve = make_user(acme), make_user(acme), make_user(acme)
    cid = start_conversation(acme, a, b)
    with user_of(acme, eve) as outsider:
        for action in (
            lambda: services.post_message(outsider, cid, "hi"),
            lambda: services.history(outsider, cid),
            lambda: services.mark_read(outsider, cid),
            lambda: services.conversation_summary(outsider, cid),
        ):
            with pytest.raises(services.ConversationNotFound):
                action()


def test_mark_read_only_moves_forward_and_recounts(acme, make_user, start_conversation, user_of):
    a, b = make_user(acme), make_user(acme)
    cid = start_conversation(acme, a, b)
    with user_of(acme, a) as sender:
        ids = [services.post_message(sender, cid, f"m{i}").id for i in range(3)]
        db.session.commit()
    with user_of(acme, b) as reader:
        assert services.mark_read(reader, cid, ids[1]).unread_count == 1
        assert services.mark_read(reader, cid, ids[0]).last_read_message_id == ids[1]
        assert services.mark_read(reader, cid).unread_count == 0
        with pytest.raises(services.MessagingError):
            services.mark_read(reader, cid, 99999)


def test_history_pages_backwards(acme, make_user, start_conversation, user_of):
    a, b = make_user(acme), make_user(acme)
    cid = start_conversation(acme, a, b)
    with user_of(acme, a) as sender:
        ids = [services.post_message(sender, cid, f"m{i}").id for i in range(7)]
        db.session.commit()
        page, more = services.history(sender, cid, limit=3)
        assert [m.id for m in page] == ids[4:] and more
        page, more = services.history(sender, cid, before_id=ids[4], limit=3)
        assert [m.id for m in page] == ids[1:4] and more
        page, more = services.history(sender, cid, before_id=ids[1], limit=3)
        assert [m.id for m in page] == ids[:1] and not more


def test_system_messages_are_unread_for_everyone(acme, make_user, start_conversation, in_tenant):
    a, b = make_user(acme), make_user(acme)
    cid = start_conversation(acme, a, b)
    with in_tenant(acme):
        message = services.post_system_message(cid, "Order placed.")
        db.session.commit()
        assert message.kind == "system" and message.sender_id is None
        assert services.unread_total(db.session.get(User, a)) == 1
        assert services.unread_total(db.session.get(User, b)) == 1
        with pytest.raises(services.ConversationNotFound):
            services.post_system_message(999, "nope")


def test_rendered_bodies_escape_markup_and_link_only_http(acme, make_user, start_conversation, user_of):
    a, b = make_user(acme), make_user(acme)
    cid = start_conversation(acme, a, b)
    with user_of(acme, a) as sender:
        message = services.post_message(
            sender, cid, "<img src=x onerror=alert(1)> see https://ex.com/a?b=1&c=2. javascript:alert(1)"
        )
        html = services.serialize_message(message)["body_html"]
    assert "<img" not in html and "&lt;img" in html
    assert (
        '<a href="https://ex.com/a?b=1&amp;c=2" target="_blank" rel="nofollow noopener noreferrer">' in html
    )
    assert 'href="javascript' not in html


def test_order_conversation_is_one_per_order(acme, make_user, in_tenant):
    a, b = make_user(acme), make_user(acme)
    with in_tenant(acme):
        first = services.start_order_conversation(12, a, b)
        again = services.start_order_conversation(12, a, b)
        db.session.commit()
        assert first.id == again.id and first.kind == "order"
        assert [p.user_id for p in first.participants] == sorted([a, b])
