"""tenant plans (the API rate limits of each)

Revision ID: p0004
Revises: p0003
"""

import sqlalchemy as sa
from alembic import op

revision = "p0004"
down_revision = "p0003"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "tenants",
        sa.Column("plan", sa.String(length=16), server_default="standard", nullable=False),
        schema="public",
    )
    op.create_check_constraint(
        op.f("ck_tenants_plan"), "tenants", "plan in ('standard', 'growth', 'scale')", schema="public"
    )


def downgrade():
    op.drop_constraint(op.f("ck_tenants_plan"), "tenants", schema="public")
    op.drop_column("tenants", "plan", schema="public")
