"""dashboard indexes

Revision ID: t0014
Revises: t0013
Create Date: 2026-11-22 16:00:45.096778
"""

from alembic import op
import sqlalchemy as sa


revision = 't0014'
down_revision = 't0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_ledger_transactions_created_at', 'ledger_transactions', ['created_at'], unique=False)
    op.create_index('ix_orders_created_at', 'orders', ['created_at'], unique=False)
    op.create_index('ix_orders_paid_at', 'orders', ['paid_at'], unique=False, postgresql_where=sa.text('paid_at IS NOT NULL'))
    op.create_index('ix_users_created_at', 'users', ['created_at'], unique=False)


def downgrade():
    op.drop_index('ix_users_created_at', table_name='users')
    op.drop_index('ix_orders_paid_at', table_name='orders', postgresql_where=sa.text('paid_at IS NOT NULL'))
    op.drop_index('ix_orders_created_at', table_name='orders')
    op.drop_index('ix_ledger_transactions_created_at', table_name='ledger_transactions')
