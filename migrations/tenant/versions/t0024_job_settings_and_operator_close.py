"""jobs: matching weights per tenant (job_settings); who closed a job and why

Revision ID: t0024
Revises: t0023
Create Date: 2026-12-02 21:25:08.287764

``job_settings``: the operator's weights of the five matching terms (one row per tenant, written
when the operator first saves; until then app.jobs.matching.DEFAULT_WEIGHTS apply, so existing
tenants need no data). ``jobs.closed_by_id`` / ``closed_reason``: an operator's close of an
abusive job records who and why (the client reads the reason).
"""

from alembic import op
import sqlalchemy as sa


revision = 't0024'
down_revision = 't0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('skill_match_weight', sa.Numeric(precision=4, scale=3, asdecimal=False), nullable=False),
    sa.Column('portfolio_fit_weight', sa.Numeric(precision=4, scale=3, asdecimal=False), nullable=False),
    sa.Column('reviews_weight', sa.Numeric(precision=4, scale=3, asdecimal=False), nullable=False),
    sa.Column('delivery_score_weight', sa.Numeric(precision=4, scale=3, asdecimal=False), nullable=False),
    sa.Column('availability_weight', sa.Numeric(precision=4, scale=3, asdecimal=False), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('availability_weight between 0 and 1', name=op.f('ck_job_settings_availability_weight')),
    sa.CheckConstraint('delivery_score_weight between 0 and 1', name=op.f('ck_job_settings_delivery_score_weight')),
    sa.CheckConstraint('id = 1', name=op.f('ck_job_settings_singleton')),
    sa.CheckConstraint('portfolio_fit_weight between 0 and 1', name=op.f('ck_job_settings_portfolio_fit_weight')),
    sa.CheckConstraint('reviews_weight between 0 and 1', name=op.f('ck_job_settings_reviews_weight')),
    sa.CheckConstraint('skill_match_weight + portfolio_fit_weight + reviews_weight + delivery_score_weight + availability_weight > 0', name=op.f('ck_job_settings_some_weight')),
    sa.CheckConstraint('skill_match_weight between 0 and 1', name=op.f('ck_job_settings_skill_match_weight')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_settings'))
    )
    op.add_column('jobs', sa.Column('closed_by_id', sa.Integer(), nullable=True))
    op.add_column('jobs', sa.Column('closed_reason', sa.String(length=1000), nullable=True))
    op.create_foreign_key(op.f('fk_jobs_closed_by_id_users'), 'jobs', 'users', ['closed_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    op.drop_constraint(op.f('fk_jobs_closed_by_id_users'), 'jobs', type_='foreignkey')
    op.drop_column('jobs', 'closed_reason')
    op.drop_column('jobs', 'closed_by_id')
    op.drop_table('job_settings')
