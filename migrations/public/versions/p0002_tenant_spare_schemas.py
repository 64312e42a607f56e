"""tenant spare schemas

Revision ID: p0002
Revises: p0001
Create Date: 2026-11-22 14:19:03.102591
"""

from alembic import op
import sqlalchemy as sa


revision = 'p0002'
down_revision = 'p0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tenant_spare_schemas',
    sa.Column('schema_name', sa.String(length=63), nullable=False),
    sa.Column('head', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('schema_name', name=op.f('pk_tenant_spare_schemas')),
    schema='public'
    )


def downgrade():
    op.drop_table('tenant_spare_schemas', schema='public')
