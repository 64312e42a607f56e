"""Per-tenant marketplace settings: branding and the business defaults."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TenantModel, tenant_table_args


class MarketplaceSettings(TenantModel):
    """Exactly one row per tenant (id = 1)."""

    __tablename__ = "marketplace_settings"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint("commission_bps BETWEEN 0 AND 5000", name="commission_bps"),
        sa.CheckConstraint("commission_min_fee_minor >= 0", name="commission_min_fee"),
        sa.CheckConstraint("payment_provider in ('sandbox', 'stripe')", name="payment_provider"),
        sa.CheckConstraint("payout_schedule in ('manual', 'daily', 'weekly')", name="payout_schedule"),
        sa.CheckConstraint(
            "milestone_auto_release_days BETWEEN 1 AND 90", name="milestone_auto_release_days"
        ),
        sa.CheckConstraint("timesheet_review_days BETWEEN 1 AND 30", name="timesheet_review_days"),
        sa.CheckConstraint("default_country ~ '^[A-Z]{2}$'", name="default_country"),
        sa.CheckConstraint("bot_protection in ('off', 'auto', 'always')", name="bot_protection"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    name: Mapped[str] = mapped_column(sa.String(120))
    tagline: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    hero_text: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    logo_url: Mapped[str | None] = mapped_column(sa.String(500))
    # Uploaded logo and favicon (app.storage keys); served by the branding routes.
    logo_key: Mapped[str | None] = mapped_column(sa.String(300))
    favicon_key: Mapped[str | None] = mapped_column(sa.String(300))
    primary_color: Mapped[str] = mapped_column(sa.String(7), default="#1dbf73", server_default="#1dbf73")
    accent_color: Mapped[str] = mapped_column(sa.String(7), default="#404145", server_default="#404145")
    support_email: Mapped[str | None] = mapped_column(sa.String(254))
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD", server_default="USD")
    # How amounts are written and read on this marketplace ("de_DE": 1.234,50 €); see app.core.money.
    locale: Mapped[str] = mapped_column(sa.String(16), default="en_US", server_default="en_US")

    # Money rules (orders issue). Commission = max(percent of the order, minimum fee),
    # never more than the order amount. Percent in basis points (1000 = 10%).
    commission_bps: Mapped[int] = mapped_column(default=1000, server_default="1000")
    commission_min_fee_minor: Mapped[int] = mapped_column(default=100, server_default="100")
    auto_complete_days: Mapped[int] = mapped_column(default=3, server_default="3")
    clearance_days: Mapped[int] = mapped_column(default=7, server_default="7")
    cancellation_auto_resolve_days: Mapped[int] = mapped_column(default=2, server_default="2")
    # A submitted milestone the buyer leaves untouched this long is accepted and released (#15).
    milestone_auto_release_days: Mapped[int] = mapped_column(default=14, server_default="14")
    # A submitted hourly timesheet the client leaves unanswered this long is approved (#17).
    timesheet_review_days: Mapped[int] = mapped_column(default=5, server_default="5")
    payout_schedule: Mapped[str] = mapped_column(sa.String(16), default="manual", server_default="manual")
    # Location search (#18): when on, gigs may be delivered on site within a service area and
    # buyers search near a place; ``default_country`` (ISO code) is preferred among same-named
    # cities and preselected on forms.
    location_enabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    default_country: Mapped[str | None] = mapped_column(sa.String(2))
    # When on, a seller's "publish" sends the gig to the console's moderation queue.
    gigs_require_approval: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # When on (the default), ordering, publishing, offers and messages need a verified email.
    require_verified_email: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # Identity (#22): admins and moderators must use two-factor sign-in to open the console.
    require_2fa_staff: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Bot protection on sign-up, login, password reset and checkout (app/accounts/bot.py):
    # "auto" challenges an IP after suspicious volume, "always" everyone, "off" nobody.
    bot_protection: Mapped[str] = mapped_column(sa.String(8), default="auto", server_default="auto")
    # Payment provider of the tenant: "sandbox" (default, no network) or "stripe".
    payment_provider: Mapped[str] = mapped_column(sa.String(16), default="sandbox", server_default="sandbox")
    stripe_publishable_key: Mapped[str | None] = mapped_column(sa.String(255))
    # Encrypted at rest (app/core/crypto.py); never rendered back in full.
    stripe_secret_key_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    stripe_webhook_secret_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )
