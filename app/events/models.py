"""The transactional outbox and the record of processed (event, handler) pairs."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

EVENT_STATUSES = ("pending", "dispatched", "failed")


class OutboxEvent(TenantModel):
    """An event written in the same transaction as the change it describes.

    ``next_attempt_at`` is when the relay may consider the event lost and
    enqueue it again: set at publish time, pushed back on each retry.
    """

    __tablename__ = "outbox_events"
    __table_args__ = tenant_table_args(
        sa.Index(
            "ix_outbox_events_pending",
            "next_attempt_at",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.CheckConstraint("status in ('pending', 'dispatched', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    payload: Mapped[dict] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    next_attempt_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    dispatched_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class ProcessedEvent(TenantModel):
    """(event, handler) pairs already applied: makes every handler idempotent."""

    __tablename__ = "processed_events"

    event_id: Mapped[int] = mapped_column(
        sa.BigInteger,
        sa.ForeignKey(f"{TENANT_SCHEMA}.outbox_events.id", ondelete="CASCADE"),
        primary_key=True,
    )
    handler: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
