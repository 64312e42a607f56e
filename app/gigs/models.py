"""Catalog: the two-level category tree (gigs arrive with the catalog issue)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args


class Category(TenantModel):
    __tablename__ = "categories"
    __table_args__ = tenant_table_args(sa.UniqueConstraint("slug"))

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.categories.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(80))
    slug: Mapped[str] = mapped_column(sa.String(80))
    description: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    position: Mapped[int] = mapped_column(default=0, server_default="0")
    is_hidden: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    parent: Mapped[Category | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Category]] = relationship(
        back_populates="parent", order_by="Category.position", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Category {self.slug}>"
