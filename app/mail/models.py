"""One row per email a tenant sends: the record the send job works from."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

EMAIL_STATUSES = ("queued", "sent", "failed")


class EmailMessage(TenantModel):
    """An email to send (or sent). ``context`` is the template context, JSON only.

    The send job renders ``mail/<template>.html`` / ``.txt`` from it, so the row
    is enough to send (or re-send) the message; ``status`` makes sending
    idempotent. A ``queued`` row whose send job Redis lost is re-enqueued by
    the relay once ``next_attempt_at`` has passed.
    """

    __tablename__ = "email_messages"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("status in ('queued', 'sent', 'failed')", name="status"),
        # The relay: queued messages whose send job may have been lost.
        sa.Index(
            "ix_email_messages_queued", "next_attempt_at", postgresql_where=sa.text("status = 'queued'")
        ),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    to: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    template: Mapped[str] = mapped_column(sa.String(100))
    context: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(sa.String(16), default="queued", server_default="queued")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # When the relay (``tasks.relay_queued_emails``) may consider a queued message's send job
    # lost and enqueue it again: set when recorded, pushed back past each scheduled retry.
    next_attempt_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL"), index=True
    )

    def __repr__(self) -> str:
        return f"<EmailMessage {self.id} {self.template} to={self.to} {self.status}>"
