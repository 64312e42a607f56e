"""What messaging tells other domains about the files shared in an order's conversation (the
contract workroom lists them with its own files)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.messaging.models import Conversation, Message, MessageAttachment
from tenants.db import db


@dataclass(frozen=True)
class SharedAttachment:
    """A file attached to a message of the conversation."""

    id: int
    message_id: int
    uploader_id: int
    storage_key: str
    filename: str
    content_type: str
    size: int
    created_at: datetime


def attachments_of_order(order_id: int, *, limit: int = 500) -> list[SharedAttachment]:
    """The files attached to messages of order ``order_id``'s conversation, oldest first (at
    most ``limit``). No conversation: none. The caller decides who may see them (the order's
    parties)."""
    rows = db.session.execute(
        sa.select(MessageAttachment, Message.created_at)
        .join(Message, Message.id == MessageAttachment.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.order_id == order_id)
        .order_by(MessageAttachment.id)
        .limit(limit)
    ).all()
    return [
        SharedAttachment(
            id=a.id,
            message_id=a.message_id,
            uploader_id=a.uploader_id,
            storage_key=a.storage_key,
            filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            created_at=posted_at or a.created_at,
        )
        for a, posted_at in rows
    ]
