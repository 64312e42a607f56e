"""code: repository links of contracts, pull requests, CI runs, webhook deliveries; dispute
evidence of kinds pr and ci

Revision ID: t0029
Revises: t0028
Create Date: 2027-01-10 10:00:00

``repo_links``: a GitHub or GitLab repository (``full_name`` lower-cased) linked to a contract,
its webhook secret encrypted (Fernet, PAYMENT_SECRETS_KEY); one live link per contract,
provider and repository. ``pull_requests`` and ``ci_runs`` are what the webhooks report
(unique per link by number / by the provider's id). ``code_deliveries``: the deliveries
applied, so a replay changes nothing. ``dispute_evidence.kind`` gains ``pr`` and ``ci``.
"""

from alembic import op
import sqlalchemy as sa

revision = 't0029'
down_revision = 't0028'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('repo_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=8), nullable=False),
    sa.Column('full_name', sa.String(length=255), nullable=False),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by', sa.Integer(), nullable=True),
    sa.Column('last_delivery_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("provider in ('github', 'gitlab')", name=op.f('ck_repo_links_provider')),
    sa.CheckConstraint('full_name = lower(full_name)', name=op.f('ck_repo_links_full_name_lower')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_repo_links_contract_id_contracts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_repo_links_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['removed_by'], ['users.id'], name=op.f('fk_repo_links_removed_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repo_links'))
    )
    op.create_index('ix_repo_links_contract_id', 'repo_links', ['contract_id'], unique=False)
    op.create_index('ix_repo_links_provider_full_name', 'repo_links', ['provider', 'full_name'], unique=False, postgresql_where=sa.text('removed_at is null'))
    op.create_index('uq_repo_links_live', 'repo_links', ['contract_id', 'provider', 'full_name'], unique=True, postgresql_where=sa.text('removed_at is null'))

    op.create_table('pull_requests',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), server_default='', nullable=False),
    sa.Column('url', sa.String(length=500), server_default='', nullable=False),
    sa.Column('author', sa.String(length=100), server_default='', nullable=False),
    sa.Column('state', sa.String(length=8), server_default='open', nullable=False),
    sa.Column('head_sha', sa.String(length=64), server_default='', nullable=False),
    sa.Column('merged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state in ('open', 'closed', 'merged')", name=op.f('ck_pull_requests_state')),
    sa.CheckConstraint('number > 0', name=op.f('ck_pull_requests_number')),
    sa.ForeignKeyConstraint(['link_id'], ['repo_links.id'], name=op.f('fk_pull_requests_link_id_repo_links'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pull_requests')),
    sa.UniqueConstraint('link_id', 'number', name=op.f('uq_pull_requests_link_id_number'))
    )

    op.create_table('ci_runs',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('pull_request_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=80), nullable=False),
    sa.Column('head_sha', sa.String(length=64), server_default='', nullable=False),
    sa.Column('name', sa.String(length=200), server_default='', nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('summary', sa.String(length=500), server_default='', nullable=False),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status in ('queued', 'running', 'passed', 'failed', 'cancelled')", name=op.f('ck_ci_runs_status')),
    sa.CheckConstraint("kind in ('check_suite', 'check_run', 'pipeline', 'job')", name=op.f('ck_ci_runs_kind')),
    sa.ForeignKeyConstraint(['link_id'], ['repo_links.id'], name=op.f('fk_ci_runs_link_id_repo_links'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pull_request_id'], ['pull_requests.id'], name=op.f('fk_ci_runs_pull_request_id_pull_requests'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ci_runs')),
    sa.UniqueConstraint('link_id', 'external_id', name=op.f('uq_ci_runs_link_id_external_id'))
    )
    op.create_index('ix_ci_runs_link_id_head_sha', 'ci_runs', ['link_id', 'head_sha'], unique=False)
    op.create_index('ix_ci_runs_pull_request_id', 'ci_runs', ['pull_request_id'], unique=False)

    op.create_table('code_deliveries',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('provider', sa.String(length=8), nullable=False),
    sa.Column('delivery_id', sa.String(length=100), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("provider in ('github', 'gitlab')", name=op.f('ck_code_deliveries_provider')),
    sa.ForeignKeyConstraint(['link_id'], ['repo_links.id'], name=op.f('fk_code_deliveries_link_id_repo_links'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_code_deliveries')),
    sa.UniqueConstraint('provider', 'delivery_id', name=op.f('uq_code_deliveries_provider_delivery_id'))
    )
    op.create_index('ix_code_deliveries_link_id', 'code_deliveries', ['link_id'], unique=False)

    # Disputes: PRs and CI runs of the contract as evidence.
    op.drop_constraint(op.f('ck_dispute_evidence_kind'), 'dispute_evidence', type_='check')
    op.create_check_constraint(
        op.f('ck_dispute_evidence_kind'),
        'dispute_evidence',
        "kind in ('message', 'file', 'link', 'dod', 'note', 'pr', 'ci')",
    )


def downgrade():
    # Evidence is append-only (a trigger refuses DELETE): a database holding pr/ci evidence
    # cannot go back below t0029 without losing it, so the downgrade refuses instead.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM dispute_evidence WHERE kind in ('pr', 'ci')) THEN "
        "RAISE EXCEPTION 'dispute evidence of kind pr or ci exists'; END IF; END $$"
    )
    op.drop_constraint(op.f('ck_dispute_evidence_kind'), 'dispute_evidence', type_='check')
    op.create_check_constraint(
        op.f('ck_dispute_evidence_kind'),
        'dispute_evidence',
        "kind in ('message', 'file', 'link', 'dod', 'note')",
    )
    op.drop_index('ix_code_deliveries_link_id', table_name='code_deliveries')
    op.drop_table('code_deliveries')
    op.drop_index('ix_ci_runs_pull_request_id', table_name='ci_runs')
    op.drop_index('ix_ci_runs_link_id_head_sha', table_name='ci_runs')
    op.drop_table('ci_runs')
    op.drop_table('pull_requests')
    op.drop_index('uq_repo_links_live', table_name='repo_links', postgresql_where=sa.text('removed_at is null'))
    op.drop_index('ix_repo_links_provider_full_name', table_name='repo_links', postgresql_where=sa.text('removed_at is null'))
    op.drop_index('ix_repo_links_contract_id', table_name='repo_links')
    op.drop_table('repo_links')
