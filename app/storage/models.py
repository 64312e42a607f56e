"""What the storage knows about each stored file of a tenant: who sent it, and whether the
antivirus found it clean (app/storage/scanning.py). A file is served only when ``clean``."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

SCAN_STATUSES = ("pending", "clean", "quarantined")


class StoredFile(TenantModel):
    __tablename__ = "stored_files"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("status in ('pending', 'clean', 'quarantined')", name="status"),
        sa.CheckConstraint("size >= 0", name="size"),
        sa.Index("ix_stored_files_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(300), unique=True)
    namespace: Mapped[str] = mapped_column(sa.String(100))
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(127))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")
    scanner: Mapped[str | None] = mapped_column(sa.String(16))  # "clamd", "none"
    signature: Mapped[str | None] = mapped_column(sa.String(200))  # what the scanner found
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    scanned_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    def __repr__(self) -> str:
        return f"<StoredFile {self.id} {self.key} {self.status}>"
