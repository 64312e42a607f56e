"""platform admins' two-factor sign-in (TOTP secret, last step, recovery codes)

Revision ID: p0005
Revises: p0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "p0005"
down_revision = "p0004"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("platform_admins", sa.Column("totp_secret_encrypted", sa.Text(), nullable=True), schema="public")
    op.add_column(
        "platform_admins", sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True), schema="public"
    )
    op.add_column("platform_admins", sa.Column("totp_last_step", sa.BigInteger(), nullable=True), schema="public")
    op.add_column(
        "platform_admins",
        sa.Column(
            "recovery_code_hashes",
            postgresql.ARRAY(sa.String(length=64)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        schema="public",
    )


def downgrade():
    for column in ("recovery_code_hashes", "totp_last_step", "totp_confirmed_at", "totp_secret_encrypted"):
        op.drop_column("platform_admins", column, schema="public")
