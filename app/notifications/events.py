"""Handlers of other domains' events that notify people.

``message.posted`` (messaging) ``{"conversation_id", "message_id", "sender_id"}``:
every participant but the sender gets a ``new_message`` notification. System
messages (``sender_id`` None) notify no one here: they are posted by the
domain that owns the event (orders), which notifies with its own kinds.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.events import handles
from app.messaging.models import Conversation, ConversationParticipant, Message
from app.notifications.models import Notification
from app.notifications.services import notify, path_for, register_seen_check
from tenants.db import db


@handles("message.posted")
def notify_message_recipients(event) -> None:
    payload = event.payload or {}
    sender_id = payload.get("sender_id")
    if sender_id is None:
        return
    message = db.session.get(Message, payload.get("message_id"))
    if message is None:  # deleted since: nothing to tell
        return
    conversation = db.session.get(Conversation, message.conversation_id)
    sender = db.session.get(User, sender_id)
    snippet = message.body or ("sent an attachment" if message.attachments else "")
    data = {
        "conversation_id": conversation.id,
        "message_id": message.id,
        "sender_id": sender_id,
        "actor_name": sender.display_name if sender else "Someone",
        "snippet": snippet[:200],
    }
    url = path_for("messaging.conversation", conversation_id=conversation.id)
    for participant in conversation.participants:
        if participant.user_id == sender_id:
            continue
        notify(participant.user_id, "new_message", data, url=url, dedupe_key=f"message:{message.id}")


@register_seen_check("new_message")
def _messages_already_read(user_id: int, notifications: list[Notification]) -> set[int]:
    """Messages the user read in the conversation itself need no email."""
    conversation_ids = {int(n.data["conversation_id"]) for n in notifications}
    read_up_to = dict(
        db.session.execute(
            sa.select(
                ConversationParticipant.conversation_id, ConversationParticipant.last_read_message_id
            ).where(
                ConversationParticipant.user_id == user_id,
                ConversationParticipant.conversation_id.in_(conversation_ids),
            )
        ).all()
    )
    return {
        n.id
        for n in notifications
        if (read_up_to.get(int(n.data["conversation_id"])) or 0) >= int(n.data["message_id"])
    }


@handles("account.password_changed")
def notify_password_changed(event) -> None:
    """The account's owner sees the security notice in the bell too (the email is sent by accounts)."""
    notify(int(event.payload["user_id"]), "password_changed", {}, dedupe_key=f"event:{event.id}")


@handles("account.email_changed")
def notify_email_changed(event) -> None:
    user = db.session.get(User, int(event.payload["user_id"]))
    if user is not None:
        notify(user.id, "email_changed", {"new_email": user.email}, dedupe_key=f"event:{event.id}")
