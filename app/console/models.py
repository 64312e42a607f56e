"""The operator console's audit log: one row per console action (web or API)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args


class AuditEntry(TenantModel):
    """Who did what to which target, and the change (``{"field": [old, new]}`` or details).

    Written by ``app.console.audit.record_audit`` in the same transaction as the
    change itself, so an entry exists exactly when the change was committed.
    The actor's name and email are copied: the log outlives renamed or deleted users.
    """

    __tablename__ = "audit_log"
    __table_args__ = tenant_table_args(
        sa.Index("ix_audit_log_created_at", "created_at"),
        sa.Index("ix_audit_log_target", "target_type", "target_id"),
        sa.Index("ix_audit_log_actor_id", "actor_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    actor_label: Mapped[str] = mapped_column(sa.String(340))  # "Display Name <email>"
    via: Mapped[str] = mapped_column(sa.String(8), default="web", server_default="web")  # web | api | cli
    action: Mapped[str] = mapped_column(sa.String(64))  # e.g. "branding.update", "user.suspend"
    target_type: Mapped[str] = mapped_column(sa.String(32))  # e.g. "settings", "user", "gig", "order"
    target_id: Mapped[str | None] = mapped_column(sa.String(64))
    summary: Mapped[str] = mapped_column(sa.String(500))
    changes: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))
    ip: Mapped[str | None] = mapped_column(sa.String(45))

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action} {self.target_type}:{self.target_id}>"
