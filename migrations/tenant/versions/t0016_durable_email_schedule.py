"""durable email schedule: notifications.email_due_at, email_messages.next_attempt_at

Revision ID: t0016
Revises: t0015
Create Date: 2026-12-02 15:00:00.000000

When a notification's batch email is due, and when a queued email may be
considered lost, now live in PostgreSQL: the worker's sweeps re-enqueue what
is overdue after Redis lost the delayed jobs. Rows already pending or queued
are due at once, so the first sweep after the upgrade sends them.
"""

from alembic import op
import sqlalchemy as sa


revision = 't0016'
down_revision = 't0015'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('notifications', sa.Column('email_due_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE notifications SET email_due_at = created_at WHERE email_status = 'pending'")
    op.create_index(
        'ix_notifications_email_due',
        'notifications',
        ['email_due_at'],
        unique=False,
        postgresql_where=sa.text("email_status = 'pending'"),
    )
    op.add_column(
        'email_messages',
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    )
    op.create_index(
        'ix_email_messages_queued',
        'email_messages',
        ['next_attempt_at'],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )


def downgrade():
    op.drop_index('ix_email_messages_queued', table_name='email_messages', postgresql_where=sa.text("status = 'queued'"))
    op.drop_column('email_messages', 'next_attempt_at')
    op.drop_index('ix_notifications_email_due', table_name='notifications', postgresql_where=sa.text("email_status = 'pending'"))
    op.drop_column('notifications', 'email_due_at')
