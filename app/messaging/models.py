"""Conversations between people of one tenant, their messages and attachments.

A direct conversation is unique per pair of users (``direct_key`` = "<low>:<high>"
user ids, unique among direct conversations); an order conversation is unique
per order (``order_id``, no foreign key until the orders domain lands).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

CONVERSATION_KINDS = ("direct", "order")
MESSAGE_KINDS = ("user", "system")


class Conversation(TenantModel):
    __tablename__ = "conversations"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("kind in ('direct', 'order')", name="kind"),
        sa.Index(
            "ux_conversations_direct_key",
            "direct_key",
            unique=True,
            postgresql_where=sa.text("kind = 'direct'"),
        ),
        sa.Index(
            "ux_conversations_order_id",
            "order_id",
            unique=True,
            postgresql_where=sa.text("order_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    direct_key: Mapped[str | None] = mapped_column(sa.String(40))
    order_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    gig_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.gigs.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    last_message_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    participants: Mapped[list[ConversationParticipant]] = relationship(
        back_populates="conversation", order_by="ConversationParticipant.user_id", lazy="selectin"
    )

    def __repr__(self) -> str:
        return f"<Conversation {self.id} {self.kind}>"


class ConversationParticipant(TenantModel):
    """A user's membership of a conversation and how far they have read it."""

    __tablename__ = "conversation_participants"
    __table_args__ = tenant_table_args(
        sa.Index("ix_conversation_participants_user", "user_id", "conversation_id"),
        sa.CheckConstraint("unread_count >= 0", name="unread_count"),
    )

    conversation_id: Mapped[int] = mapped_column(
        sa.BigInteger,
        sa.ForeignKey(f"{TENANT_SCHEMA}.conversations.id", ondelete="CASCADE"),
        primary_key=True,
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"), primary_key=True
    )
    # Maintained by post_message / mark_read so the inbox needs no count query.
    unread_count: Mapped[int] = mapped_column(default=0, server_default="0")
    last_read_message_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    joined_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    conversation: Mapped[Conversation] = relationship(back_populates="participants")

    def __repr__(self) -> str:
        return f"<ConversationParticipant c={self.conversation_id} u={self.user_id}>"


class Message(TenantModel):
    __tablename__ = "messages"
    __table_args__ = tenant_table_args(
        sa.Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # Partial: most messages are no reply, and their inserts skip this index.
        sa.Index(
            "ix_messages_reply_to_id", "reply_to_id", postgresql_where=sa.text("reply_to_id IS NOT NULL")
        ),
        sa.CheckConstraint("kind in ('user', 'system')", name="kind"),
        sa.CheckConstraint("kind = 'system' or sender_id is not null", name="sender"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.conversations.id", ondelete="CASCADE")
    )
    # Null for system messages (order events); SET NULL keeps history when an account goes.
    sender_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16), default="user", server_default="user")
    body: Mapped[str] = mapped_column(sa.Text, default="", server_default="")  # plain text, sanitised
    # The message this one answers (a user message of the same conversation, checked by the
    # services); SET NULL: a reply outlives its parent as a plain message.
    reply_to_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    attachments: Mapped[list[MessageAttachment]] = relationship(
        back_populates="message", order_by="MessageAttachment.id", lazy="selectin"
    )

    def __repr__(self) -> str:
        return f"<Message {self.id} c={self.conversation_id}>"


class MessageAttachment(TenantModel):
    """A file uploaded over HTTP, then referenced (once) by a message of its uploader."""

    __tablename__ = "message_attachments"
    __table_args__ = tenant_table_args(sa.CheckConstraint("size >= 0", name="size"))

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    uploader_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.messages.id", ondelete="CASCADE"), index=True
    )
    storage_key: Mapped[str] = mapped_column(sa.String(300))  # app.storage key
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    message: Mapped[Message | None] = relationship(back_populates="attachments")

    def __repr__(self) -> str:
        return f"<MessageAttachment {self.id} {self.filename!r}>"
