"""milestone engine: milestone states, per-milestone work and dates, auto-release setting

Revision ID: t0020
Revises: t0019
Create Date: 2026-12-02 19:00:00

Data: ``pending`` milestones (not funded yet) become ``funding_required``; ``released``
ones become ``paid`` (with ``paid_at`` from their order's completion or cancellation);
``funded`` / ``refunded`` / ``partially_refunded`` keep their names and meaning. Escrow
balances need no move: escrow stays one ledger account per order and every existing
payment, release and refund already carries its ``milestone_id`` (see
docs/design/orders-and-money.md, "Per-milestone escrow").
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 't0020'
down_revision = 't0019'
branch_labels = None
depends_on = None

NEW_STATUSES = (
    "'planned', 'funding_required', 'funded', 'submitted', 'changes_requested', 'accepted', "
    "'paid', 'refunded', 'partially_refunded', 'disputed'"
)
OLD_STATUSES = "'pending', 'funded', 'released', 'refunded', 'partially_refunded'"


def upgrade():
    op.add_column('marketplace_settings', sa.Column('milestone_auto_release_days', sa.Integer(), server_default='14', nullable=False))
    op.create_check_constraint(
        op.f('ck_marketplace_settings_milestone_auto_release_days'),
        'marketplace_settings',
        'milestone_auto_release_days BETWEEN 1 AND 90',
    )
    for name, column in (
        ('description', sa.Column('description', sa.Text(), server_default='', nullable=False)),
        ('dod', sa.Column('dod', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False)),
        ('funding_requested_at', sa.Column('funding_requested_at', sa.DateTime(timezone=True), nullable=True)),
        ('submitted_at', sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True)),
        ('changes_requested_at', sa.Column('changes_requested_at', sa.DateTime(timezone=True), nullable=True)),
        ('accepted_at', sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True)),
        ('paid_at', sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True)),
        ('feedback', sa.Column('feedback', sa.Text(), nullable=True)),
        ('submission_message', sa.Column('submission_message', sa.Text(), nullable=True)),
        ('submission_files', sa.Column('submission_files', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False)),
        ('submission_links', sa.Column('submission_links', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False)),
        ('auto_release_at', sa.Column('auto_release_at', sa.DateTime(timezone=True), nullable=True)),
    ):
        op.add_column('order_milestones', column)
    op.drop_constraint(op.f('ck_order_milestones_status'), 'order_milestones', type_='check')
    # Data first, then the new CHECK: every existing row maps onto a new state.
    op.execute("UPDATE order_milestones SET status = 'funding_required' WHERE status = 'pending'")
    op.execute(
        "UPDATE order_milestones m SET status = 'paid', "
        "paid_at = coalesce(o.completed_at, o.cancelled_at, o.updated_at), "
        "accepted_at = coalesce(o.completed_at, o.cancelled_at, o.updated_at) "
        "FROM orders o WHERE o.id = m.order_id AND m.status = 'released'"
    )
    op.create_check_constraint(op.f('ck_order_milestones_status'), 'order_milestones', f'status in ({NEW_STATUSES})')
    op.alter_column('order_milestones', 'status', server_default='funding_required')
    op.create_index(
        'ix_order_milestones_auto_release_at',
        'order_milestones',
        ['auto_release_at'],
        unique=False,
        postgresql_where=sa.text("status = 'submitted'"),
    )


def downgrade():
    op.drop_index('ix_order_milestones_auto_release_at', table_name='order_milestones', postgresql_where=sa.text("status = 'submitted'"))
    op.drop_constraint(op.f('ck_order_milestones_status'), 'order_milestones', type_='check')
    op.execute("UPDATE order_milestones SET status = 'pending' WHERE status IN ('planned', 'funding_required')")
    op.execute("UPDATE order_milestones SET status = 'released' WHERE status IN ('accepted', 'paid')")
    op.execute("UPDATE order_milestones SET status = 'funded' WHERE status IN ('submitted', 'changes_requested', 'disputed')")
    op.create_check_constraint(op.f('ck_order_milestones_status'), 'order_milestones', f'status in ({OLD_STATUSES})')
    op.alter_column('order_milestones', 'status', server_default='pending')
    for name in (
        'auto_release_at', 'submission_links', 'submission_files', 'submission_message', 'feedback',
        'paid_at', 'accepted_at', 'changes_requested_at', 'submitted_at', 'funding_requested_at', 'dod',
        'description',
    ):
        op.drop_column('order_milestones', name)
    op.drop_constraint(op.f('ck_marketplace_settings_milestone_auto_release_days'), 'marketplace_settings', type_='check')
    op.drop_column('marketplace_settings', 'milestone_auto_release_days')
