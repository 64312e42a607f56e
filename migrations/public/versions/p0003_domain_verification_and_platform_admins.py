"""domain verification and platform admins

Revision ID: p0003
Revises: p0002
"""

import sqlalchemy as sa
from alembic import op

revision = "p0003"
down_revision = "p0002"
branch_labels = None
depends_on = None


def upgrade():
    # Existing hostnames are the default ones (or were added by a platform admin): verified.
    add = op.add_column
    add(
        "tenant_domains",
        sa.Column("status", sa.String(length=16), server_default="verified", nullable=False),
        schema="public",
    )
    add("tenant_domains", sa.Column("verification_token", sa.String(length=64), nullable=True), schema="public")
    add("tenant_domains", sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True), schema="public")
    add("tenant_domains", sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True), schema="public")
    add("tenant_domains", sa.Column("last_check_error", sa.String(length=300), nullable=True), schema="public")
    op.create_check_constraint(
        op.f("ck_tenant_domains_status"), "tenant_domains", "status in ('pending', 'verified')", schema="public"
    )
    op.create_table(
        "platform_admins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status in ('active', 'disabled')", name=op.f("ck_platform_admins_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_admins")),
        schema="public",
    )
    op.create_index(
        "ux_platform_admins_email_lower",
        "platform_admins",
        [sa.literal_column("lower(email)")],
        unique=True,
        schema="public",
    )


def downgrade():
    op.drop_index("ux_platform_admins_email_lower", table_name="platform_admins", schema="public")
    op.drop_table("platform_admins", schema="public")
    op.drop_constraint(op.f("ck_tenant_domains_status"), "tenant_domains", type_="check", schema="public")
    for column in ("last_check_error", "last_checked_at", "verified_at", "verification_token", "status"):
        op.drop_column("tenant_domains", column, schema="public")
