"""``verify()``: the ledger's invariants, checked set-based in the bound tenant.

Each check is one aggregate query over the entries (no Python loop over rows),
returning at most ``SAMPLE`` offenders plus their count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from app.ledger.services import CLEARING, COMMISSION, SHARD_MARK, account_codes
from tenants.db import db

SAMPLE = 20


@dataclass
class VerifyReport:
    transactions: int = 0
    entries: int = 0
    accounts: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def _offenders(query, describe, label: str, report: VerifyReport) -> None:
    """Run ``query`` once: its first ``SAMPLE`` rows and the total count (a window)."""
    sub = query.subquery()
    rows = db.session.execute(sa.select(sub, sa.func.count().over().label("offenders")).limit(SAMPLE)).all()
    if not rows:
        return
    report.problems.append(f"{label}: {rows[0].offenders}")
    report.problems.extend("  " + describe(row) for row in rows)


def _named(code: str) -> str:
    """A row as an account: ``provider:clearing (shard 3)`` for a hot account's shard row."""
    account, _mark, shard = code.partition(SHARD_MARK)
    return f"{account} (shard {shard})" if shard else account


def verify() -> VerifyReport:
    """Check the bound tenant's ledger. Problems are listed in the report (``ok`` is False):

    - a transaction whose entries do not sum to zero (per currency), or with fewer than two entries;
    - a cached balance that differs from the replay of its entries (per row: a hot
      account's shard rows each carry their own entries);
    - an account that may not go negative below zero: a hot account (``provider:clearing``,
      ``platform:commission``) as the sum of its rows, whose shards alone may be;
    - an order's escrow that differs from paid − released − refunded, or that
      moved in a transaction that is not one of its order's payments, releases
      or refunds;
    - a duplicate idempotency key.

    Three aggregate passes over the entries (per transaction, per account,
    escrow entries per order); nothing loops over rows in Python.
    """
    started = time.perf_counter()
    report = VerifyReport()
    a, e, t = LedgerAccount, LedgerEntry, LedgerTransaction
    # Hash aggregates over every transaction and account: keep them in memory.
    db.session.execute(sa.select(sa.func.set_config("work_mem", "64MB", True)))
    report.transactions = db.session.scalar(sa.select(sa.func.count()).select_from(t))
    report.entries = db.session.scalar(sa.select(sa.func.count()).select_from(e))
    # Accounts, not rows: a hot account's shards and unsharded row count once.
    account = sa.func.split_part(a.code, SHARD_MARK, 1)
    report.accounts = db.session.scalar(
        sa.select(sa.func.count()).select_from(sa.select(account, a.currency).distinct().subquery())
    )

    per_currency = (
        sa.select(
            e.transaction_id,
            e.currency,
            sa.func.sum(e.amount_minor).label("total"),
            sa.func.count().label("n"),
        )
        .group_by(e.transaction_id, e.currency)
        .subquery()
    )
    per_transaction = (
        sa.select(
            per_currency.c.transaction_id,
            sa.func.sum(per_currency.c.n).label("n"),
            sa.func.string_agg(
                sa.case(
                    (
                        per_currency.c.total != 0,
                        per_currency.c.currency + " " + sa.cast(per_currency.c.total, sa.Text),
                    ),
                ),
                ", ",
            ).label("unbalanced"),
        )
        .group_by(per_currency.c.transaction_id)
        .subquery()
    )
    n = sa.func.coalesce(per_transaction.c.n, 0)
    _offenders(
        sa.select(t.id, n.label("n"), per_transaction.c.unbalanced)
        .outerjoin(per_transaction, per_transaction.c.transaction_id == t.id)
        .where(sa.or_(n < 2, per_transaction.c.unbalanced.is_not(None))),
        lambda r: (
            f"transaction {r.id}: entries sum to {r.unbalanced}"
            if r.unbalanced
            else f"transaction {r.id}: {r.n} entries"
        ),
        "unbalanced transactions or transactions with fewer than two entries",
        report,
    )

    sums = (
        sa.select(e.account_id, sa.func.sum(e.amount_minor).label("total")).group_by(e.account_id).subquery()
    )
    total = sa.func.coalesce(sums.c.total, 0)
    replayed = sa.case((a.normal_side == "debit", total), else_=-total)
    _offenders(
        sa.select(a.code, a.currency, a.balance_minor, replayed.label("replayed"))
        .outerjoin(sums, sums.c.account_id == a.id)
        .where(
            sa.or_(
                a.balance_minor != replayed,
                sa.and_(~a.allow_negative, sa.or_(a.balance_minor < 0, replayed < 0)),
            )
        ),
        lambda r: (
            f"{_named(r.code)} ({r.currency}): cached {r.balance_minor}, entries replay to {r.replayed}"
            if r.balance_minor != r.replayed
            else f"{_named(r.code)} ({r.currency}): negative balance {r.balance_minor}"
        ),
        "cached balances that differ from their entries, or negative balances that may not be",
        report,
    )
    # The hot accounts as wholes: their rows' cached balances (each checked against its
    # entries above) may not sum below zero.
    hot = account_codes(CLEARING) + account_codes(COMMISSION)
    _offenders(
        sa.select(account.label("code"), a.currency, sa.func.sum(a.balance_minor).label("balance"))
        .where(a.code.in_(hot))
        .group_by(account, a.currency)
        .having(sa.func.sum(a.balance_minor) < 0),
        lambda r: f"{r.code} ({r.currency}): negative balance {r.balance} over its shards",
        "accounts whose shards sum below zero",
        report,
    )

    # Escrow of each order: held (cached, checked against the entries above)
    # = paid − released − refunded, counted from the escrow's own entries by the
    # kind of their transaction; and only its order's payments, releases and
    # refunds may move it (so the other side of each is the order's money too).
    def moved(kind, sign):
        return sa.func.coalesce(sa.func.sum(sign * e.amount_minor).filter(t.kind == kind), 0)

    foreign = sa.func.count().filter(
        sa.or_(t.order_id.is_distinct_from(a.order_id), t.kind.not_in(("payment", "release", "refund")))
    )
    escrow = (
        sa.select(
            a.order_id,
            a.currency,
            a.balance_minor.label("held"),
            moved("payment", -1).label("paid"),
            moved("release", 1).label("released"),
            moved("refund", 1).label("refunded"),
            foreign.label("foreign"),
        )
        .select_from(a)
        .join(e, e.account_id == a.id)
        .join(t, t.id == e.transaction_id)
        .where(a.kind == "escrow")
        .group_by(a.id)
        .subquery()
    )
    _offenders(
        sa.select(escrow).where(
            sa.or_(
                escrow.c.held != escrow.c.paid - escrow.c.released - escrow.c.refunded, escrow.c.foreign > 0
            )
        ),
        lambda r: (
            f"order {r.order_id} ({r.currency}): escrow {r.held} vs paid {r.paid} − released {r.released}"
            f" − refunded {r.refunded}; {r.foreign} entries from other transactions"
        ),
        "escrow that differs from paid − released − refunded",
        report,
    )

    # Per-milestone escrow: no milestone's slice of its order's escrow (entries of the
    # transactions carrying its milestone_id) is below zero, i.e. no milestone was paid out or
    # refunded with another milestone's money.
    slices = (
        sa.select(a.order_id, t.milestone_id, a.currency, (-sa.func.sum(e.amount_minor)).label("held"))
        .select_from(a)
        .join(e, e.account_id == a.id)
        .join(t, t.id == e.transaction_id)
        .where(a.kind == "escrow", t.milestone_id.is_not(None))
        .group_by(a.order_id, t.milestone_id, a.currency)
        .subquery()
    )
    _offenders(
        sa.select(slices).where(slices.c.held < 0),
        lambda r: f"order {r.order_id} milestone {r.milestone_id} ({r.currency}): escrow slice {r.held}",
        "milestones that took more out of escrow than they put in",
        report,
    )

    duplicates = (
        sa.select(t.idempotency_key, sa.func.count().label("n"))
        .group_by(t.idempotency_key)
        .having(sa.func.count() > 1)
    )
    _offenders(
        duplicates,
        lambda r: f"{r.idempotency_key!r}: {r.n} transactions",
        "duplicate idempotency keys",
        report,
    )

    report.seconds = time.perf_counter() - started
    return report
