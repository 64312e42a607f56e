"""require a verified email for ordering, publishing, offers and messages (per tenant)

Revision ID: t0017
Revises: t0016
Create Date: 2026-12-02 15:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = 't0017'
down_revision = 't0016'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('marketplace_settings', sa.Column('require_verified_email', sa.Boolean(), server_default=sa.text('true'), nullable=False))


def downgrade():
    op.drop_column('marketplace_settings', 'require_verified_email')
