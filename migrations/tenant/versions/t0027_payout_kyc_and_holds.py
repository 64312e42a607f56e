"""payments: KYC status of sellers' payout accounts, payout holds, retried payouts

Revision ID: t0027
Revises: t0026
Create Date: 2026-12-04 10:00:00

Sellers' payout accounts get a KYC status (``none`` / ``pending`` / ``verified`` /
``rejected``), when it was last checked, a note and what the provider still needs. Payouts
need ``verified``. Existing Stripe accounts that could receive transfers (``ready``) are
``verified``; the others ``none`` until Stripe's next ``account.updated``. The sandbox had no
account rows: every existing seller gets a sandbox account, ``verified``, so that whoever could
be paid out before keeps being paid out (new sandbox sellers start at ``none`` and go through
the sandbox's simulated verification). ``payout_holds``: an operator's hold on a seller's
payouts, at most one active per seller. ``payouts.retry_of_id``: the failed payout an
operator's retry replaces (unique: one retry per failed payout).
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 't0027'
down_revision = 't0026'
branch_labels = None
depends_on = None

BACKFILL_NOTE = "Verified by migration t0027: this seller was paid out before identity checks existed."


def upgrade():
    op.add_column('seller_payment_accounts', sa.Column('kyc_status', sa.String(length=16), server_default='none', nullable=False))
    op.add_column('seller_payment_accounts', sa.Column('kyc_checked_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('seller_payment_accounts', sa.Column('kyc_note', sa.String(length=1000), nullable=True))
    op.add_column('seller_payment_accounts', sa.Column('kyc_requirements', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False))
    op.create_check_constraint(
        op.f('ck_seller_payment_accounts_kyc_status'),
        'seller_payment_accounts',
        "kyc_status in ('none', 'pending', 'verified', 'rejected')",
    )
    op.execute(
        "UPDATE seller_payment_accounts SET kyc_status = 'verified', kyc_checked_at = now() "
        "WHERE provider = 'stripe' AND ready"
    )
    op.execute(
        sa.text(
            "INSERT INTO seller_payment_accounts "
            "(user_id, provider, account_ref, ready, kyc_status, kyc_checked_at, kyc_note) "
            "SELECT user_id, 'sandbox', 'sandbox_acct_' || user_id, true, 'verified', now(), :note "
            "FROM seller_profiles ON CONFLICT DO NOTHING"
        ).bindparams(note=BACKFILL_NOTE)
    )
    op.create_table('payout_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('placed_by', sa.Integer(), nullable=True),
    sa.Column('placed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('released_by', sa.Integer(), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('release_note', sa.String(length=1000), nullable=True),
    sa.CheckConstraint('length(btrim(reason)) > 0', name=op.f('ck_payout_holds_reason_present')),
    sa.ForeignKeyConstraint(['placed_by'], ['users.id'], name=op.f('fk_payout_holds_placed_by_users')),
    sa.ForeignKeyConstraint(['released_by'], ['users.id'], name=op.f('fk_payout_holds_released_by_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_payout_holds_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_holds'))
    )
    op.create_index(op.f('ix_payout_holds_user_id'), 'payout_holds', ['user_id'], unique=False)
    op.create_index('ux_payout_holds_active', 'payout_holds', ['user_id'], unique=True, postgresql_where=sa.text('released_at IS NULL'))
    op.add_column('payouts', sa.Column('retry_of_id', sa.Integer(), nullable=True))
    op.create_unique_constraint(op.f('uq_payouts_retry_of_id'), 'payouts', ['retry_of_id'])
    op.create_foreign_key(op.f('fk_payouts_retry_of_id_payouts'), 'payouts', 'payouts', ['retry_of_id'], ['id'])


def downgrade():
    op.drop_constraint(op.f('fk_payouts_retry_of_id_payouts'), 'payouts', type_='foreignkey')
    op.drop_constraint(op.f('uq_payouts_retry_of_id'), 'payouts', type_='unique')
    op.drop_column('payouts', 'retry_of_id')
    op.drop_index('ux_payout_holds_active', table_name='payout_holds', postgresql_where=sa.text('released_at IS NULL'))
    op.drop_index(op.f('ix_payout_holds_user_id'), table_name='payout_holds')
    op.drop_table('payout_holds')
    op.execute("DELETE FROM seller_payment_accounts WHERE provider = 'sandbox'")
    op.drop_constraint(op.f('ck_seller_payment_accounts_kyc_status'), 'seller_payment_accounts', type_='check')
    op.drop_column('seller_payment_accounts', 'kyc_requirements')
    op.drop_column('seller_payment_accounts', 'kyc_note')
    op.drop_column('seller_payment_accounts', 'kyc_checked_at')
    op.drop_column('seller_payment_accounts', 'kyc_status')
