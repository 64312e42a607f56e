"""marketplace locale (how amounts are written and read)

Revision ID: t0015
Revises: t0014
Create Date: 2026-11-23 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = 't0015'
down_revision = 't0014'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('marketplace_settings', sa.Column('locale', sa.String(length=16), server_default='en_US', nullable=False))


def downgrade():
    op.drop_column('marketplace_settings', 'locale')
