"""money settings: commission, delays, payment provider, encrypted Stripe keys

Revision ID: t0009
Revises: t0008
"""

import sqlalchemy as sa
from alembic import op

revision = "t0009"
down_revision = "t0008"
branch_labels = None
depends_on = None


def upgrade():
    add = op.add_column
    add("marketplace_settings", sa.Column("commission_bps", sa.Integer(), server_default="1000", nullable=False))
    add(
        "marketplace_settings",
        sa.Column("commission_min_fee_minor", sa.Integer(), server_default="100", nullable=False),
    )
    add("marketplace_settings", sa.Column("auto_complete_days", sa.Integer(), server_default="3", nullable=False))
    add("marketplace_settings", sa.Column("clearance_days", sa.Integer(), server_default="7", nullable=False))
    add(
        "marketplace_settings",
        sa.Column("cancellation_auto_resolve_days", sa.Integer(), server_default="2", nullable=False),
    )
    add(
        "marketplace_settings",
        sa.Column("payout_schedule", sa.String(length=16), server_default="manual", nullable=False),
    )
    add(
        "marketplace_settings",
        sa.Column("payment_provider", sa.String(length=16), server_default="sandbox", nullable=False),
    )
    add("marketplace_settings", sa.Column("stripe_publishable_key", sa.String(length=255), nullable=True))
    add("marketplace_settings", sa.Column("stripe_secret_key_encrypted", sa.Text(), nullable=True))
    add("marketplace_settings", sa.Column("stripe_webhook_secret_encrypted", sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f("ck_marketplace_settings_commission_bps"), "marketplace_settings", "commission_bps BETWEEN 0 AND 5000"
    )
    op.create_check_constraint(
        op.f("ck_marketplace_settings_commission_min_fee"), "marketplace_settings", "commission_min_fee_minor >= 0"
    )
    op.create_check_constraint(
        op.f("ck_marketplace_settings_payment_provider"),
        "marketplace_settings",
        "payment_provider in ('sandbox', 'stripe')",
    )
    op.create_check_constraint(
        op.f("ck_marketplace_settings_payout_schedule"),
        "marketplace_settings",
        "payout_schedule in ('manual', 'daily', 'weekly')",
    )


def downgrade():
    for name in ("payout_schedule", "payment_provider", "commission_min_fee", "commission_bps"):
        op.drop_constraint(op.f(f"ck_marketplace_settings_{name}"), "marketplace_settings", type_="check")
    for column in (
        "stripe_webhook_secret_encrypted",
        "stripe_secret_key_encrypted",
        "stripe_publishable_key",
        "payment_provider",
        "payout_schedule",
        "cancellation_auto_resolve_days",
        "clearance_days",
        "auto_complete_days",
        "commission_min_fee_minor",
        "commission_bps",
    ):
        op.drop_column("marketplace_settings", column)
