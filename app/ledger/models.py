"""Ledger tables: accounts with cached balances, transactions, signed entries.

Entries are signed, debit positive and credit negative; the entries of a
transaction sum to zero per currency. What the database enforces on its own:
non-zero entries, three-letter currencies, an entry's currency equal to its
account's (composite foreign key), one transaction per idempotency key, and no
cached balance below zero on an account that may not go negative (the CHECK
``post_transaction`` relies on to refuse an overdraft of an existing account). That every
transaction balances is guaranteed by ``post_transaction`` (the only writer) and
checked by ``verify()``: provisioning builds tenant schemas from the models'
CREATE TABLE statements alone, so a trigger would exist in migrated schemas
but not in new ones.

User and order ids are plain columns, not foreign keys: the ledger is the
accounting record and must neither block nor follow the deletion of a user or
an order row (and it may not depend on the orders package).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

TRANSACTION_KINDS = ("payment", "release", "refund", "clearance", "payout", "adjustment")
CURRENCY_CHECK = "currency ~ '^[A-Z]{3}$'"


class LedgerAccount(TenantModel):
    __tablename__ = "ledger_accounts"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("code", "currency"),
        # Target of the entries' composite foreign key (entry currency = account currency).
        sa.UniqueConstraint("id", "currency"),
        sa.CheckConstraint(CURRENCY_CHECK, name="currency"),
        sa.CheckConstraint("normal_side in ('debit', 'credit')", name="normal_side"),
        sa.CheckConstraint("allow_negative OR balance_minor >= 0", name="non_negative"),
        sa.Index(None, "owner_user_id", postgresql_where=sa.text("owner_user_id IS NOT NULL")),
        sa.Index(None, "order_id", postgresql_where=sa.text("order_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(32))
    owner_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    order_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    normal_side: Mapped[str] = mapped_column(sa.String(6))
    allow_negative: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Balance on the account's normal side, updated with its entries in one transaction.
    balance_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    def __repr__(self) -> str:
        return f"<LedgerAccount {self.code} {self.currency} {self.balance_minor}>"


class LedgerTransaction(TenantModel):
    __tablename__ = "ledger_transactions"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("idempotency_key"),
        sa.CheckConstraint(CURRENCY_CHECK, name="currency"),
        sa.CheckConstraint(
            "kind in (" + ", ".join(f"'{k}'" for k in TRANSACTION_KINDS) + ")",
            name="kind",
        ),
        # Wallet histories: newest first per buyer / seller; an order's money.
        sa.Index(None, "buyer_id", "created_at", "id", postgresql_where=sa.text("buyer_id IS NOT NULL")),
        sa.Index(None, "seller_id", "created_at", "id", postgresql_where=sa.text("seller_id IS NOT NULL")),
        sa.Index(None, "order_id", postgresql_where=sa.text("order_id IS NOT NULL")),
        # The console dashboard's periods (money in, commission, refunds by day).
        sa.Index("ix_ledger_transactions_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    idempotency_key: Mapped[str] = mapped_column(sa.String(200))
    currency: Mapped[str] = mapped_column(sa.String(3))
    order_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    milestone_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    buyer_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    seller_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    memo: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    def __repr__(self) -> str:
        return f"<LedgerTransaction {self.id} {self.kind} {self.idempotency_key}>"


class LedgerEntry(TenantModel):
    __tablename__ = "ledger_entries"
    __table_args__ = tenant_table_args(
        sa.ForeignKeyConstraint(
            ["account_id", "currency"],
            [f"{TENANT_SCHEMA}.ledger_accounts.id", f"{TENANT_SCHEMA}.ledger_accounts.currency"],
        ),
        sa.CheckConstraint("amount_minor <> 0", name="non_zero"),
        sa.CheckConstraint(CURRENCY_CHECK, name="currency"),
        sa.Index(None, "account_id", "transaction_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.ledger_transactions.id"), index=True
    )
    account_id: Mapped[int] = mapped_column(sa.BigInteger)
    # Signed: debit positive, credit negative.
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
