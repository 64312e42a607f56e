"""Notifications of a user, and their per-kind delivery preferences."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

# none: email not wanted (preference off, or in-app only); pending: an email
# batch will pick it up; sent: it went out in an email; skipped: it was wanted
# but became pointless (the user was online, or read it before the batch ran).
EMAIL_STATUSES = ("none", "pending", "sent", "skipped")


class Notification(TenantModel):
    __tablename__ = "notifications"
    __table_args__ = tenant_table_args(
        sa.Index("ix_notifications_user_id_id", "user_id", "id"),
        # The bell's count: unread in-app notifications of one user.
        sa.Index(
            "ix_notifications_unread",
            "user_id",
            postgresql_where=sa.text("read_at IS NULL AND in_app"),
        ),
        # Email batches: a user's pending notifications of one group.
        sa.Index(
            "ix_notifications_email_pending",
            "user_id",
            "group_key",
            postgresql_where=sa.text("email_status = 'pending'"),
        ),
        # The sweep: pending batches whose email is overdue (their delayed job lost with Redis).
        sa.Index(
            "ix_notifications_email_due",
            "email_due_at",
            postgresql_where=sa.text("email_status = 'pending'"),
        ),
        # notify() is idempotent per (user, dedupe_key): a redelivered event stores nothing twice.
        sa.Index(
            "ux_notifications_user_id_dedupe_key",
            "user_id",
            "dedupe_key",
            unique=True,
            postgresql_where=sa.text("dedupe_key IS NOT NULL"),
        ),
        sa.CheckConstraint("email_status in ('none', 'pending', 'sent', 'skipped')", name="email_status"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    # IDs of what happened plus "text", the rendered one-liner shown in the list.
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))
    url: Mapped[str | None] = mapped_column(sa.String(500))  # a path on the tenant's host
    group_key: Mapped[str] = mapped_column(sa.String(80))  # email batching scope (kinds.py)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(120))
    in_app: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    read_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    email_status: Mapped[str] = mapped_column(sa.String(16), default="none", server_default="none")
    emailed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # When its batch email is due (set with email_status "pending"; pushed to the sweep's "now"
    # when the sweep re-enqueues the batch). PostgreSQL, not Redis, is what remembers the email.
    email_due_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    @property
    def text(self) -> str:
        return str((self.data or {}).get("text", ""))

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} u={self.user_id}>"


class NotificationPreference(TenantModel):
    """A user's choice for one kind; kinds without a row use the defaults in kinds.py."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    in_app: Mapped[bool] = mapped_column()
    email: Mapped[bool] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    def __repr__(self) -> str:
        return f"<NotificationPreference u={self.user_id} {self.kind}>"
