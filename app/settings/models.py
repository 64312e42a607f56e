"""Per-tenant marketplace settings: branding and the business defaults."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TenantModel, tenant_table_args


class MarketplaceSettings(TenantModel):
    """Exactly one row per tenant (id = 1)."""

    __tablename__ = "marketplace_settings"
    __table_args__ = tenant_table_args(sa.CheckConstraint("id = 1", name="single_row"))

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    name: Mapped[str] = mapped_column(sa.String(120))
    tagline: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    hero_text: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    logo_url: Mapped[str | None] = mapped_column(sa.String(500))
    primary_color: Mapped[str] = mapped_column(sa.String(7), default="#1dbf73", server_default="#1dbf73")
    accent_color: Mapped[str] = mapped_column(sa.String(7), default="#404145", server_default="#404145")
    support_email: Mapped[str | None] = mapped_column(sa.String(254))
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD", server_default="USD")
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )
