"""The ledger's rules: post balanced transactions, the money movements, balances, histories.

Everything here flushes and never commits: the request or job that called it
commits once. Every write goes through ``post_transaction``, which is idempotent
by key, so a retried request or job never moves money twice.

Account codes (kind and normal side follow from the prefix):

    provider:clearing          money held at the PSP / platform account  (debit)
    escrow:order:<order_id>    an order's escrow                          (credit)
    seller:<user_id>:pending   earnings not yet cleared                   (credit)
    seller:<user_id>:available earnings that can be paid out              (credit)
    platform:commission        the operator's commission revenue          (credit)

None of them may go negative.

The two accounts every payment and every release of a tenant touch, ``provider:clearing`` and
``platform:commission`` (``HOT_ACCOUNTS``), are kept on shard rows: ``provider:clearing#0`` ..
``#N-1`` (N = ``LEDGER_HOT_SHARDS``), so concurrent units of work lock different rows. Callers
name the account, never a shard; ``_post`` picks the shard from the idempotency key of the unit
of work's first posting to a hot account (``_unit_shard``), and every reader sums the account's
rows (the shards and the unsharded row that holds what was posted before the shards existed) and
shows its code without the suffix. A shard may go below zero on its own (a refund can land on a
shard its payment did not); the account as a whole may not:

- ``provider:clearing`` is the only debit-normal account, so per currency its balance equals
  the sum of every other account's balance (each transaction balances), and none of those may
  go negative: the sum of its rows cannot go below zero while theirs do not.
- ``platform:commission`` is credit-normal: a release adds to it (on the shard); a posting that
  takes from it (a reversal; the app has none yet) takes from shard ``#0``, locks every row of
  the account in the same statement and is refused when their sum would go below zero.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.core import pagination, unit_of_work
from app.core.domain_errors import Conflict, DomainError
from app.ledger.models import TRANSACTION_KINDS, LedgerAccount, LedgerEntry, LedgerTransaction
from app.settings.services import current_settings
from tenants.db import TenantSession, current_tenant, db

CURRENCY_RE = re.compile(r"^[A-Z]{3}\Z")
MAX_KEY_LENGTH = 200
CLEARING = "provider:clearing"
COMMISSION = "platform:commission"
HOT_ACCOUNTS = (CLEARING, COMMISSION)
SHARD_MARK = "#"
DEFAULT_HOT_SHARDS = 8
# Readers read every shard up to this bound, whatever LEDGER_HOT_SHARDS is now: lowering it
# never hides money left on the higher shards.
MAX_HOT_SHARDS = 64


class LedgerError(DomainError):
    """An invalid transaction (unbalanced, empty, bad currency, amount or account code).

    Callers usually translate a ledger refusal into their own (``PaymentError``,
    ``OrderError``); one that reaches a view is answered like any ``DomainError``."""

    code = "ledger_invalid"


class LedgerConflict(LedgerError, Conflict):
    """The idempotency key was already used for a different transaction."""

    status = 409
    code = "ledger_conflict"


class InsufficientFunds(LedgerError, Conflict):
    """A non-negative account would go below zero; nothing was written."""

    status = 409
    code = "insufficient_funds"

    def __init__(self, code: str, currency: str, balance: int, change: int):
        self.code, self.currency, self.balance, self.change = code, currency, balance, change
        super().__init__(f"{code} ({currency}) holds {balance}, cannot take {-change}")


# --- accounts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSpec:
    code: str
    kind: str
    normal_side: str
    owner_user_id: int | None = None
    order_id: int | None = None
    allow_negative: bool = False


_ESCROW_RE = re.compile(r"^escrow:order:([1-9][0-9]{0,17})\Z")
_SELLER_RE = re.compile(r"^seller:([1-9][0-9]{0,17}):(pending|available)\Z")
_SHARD_RE = re.compile(r"^(provider:clearing|platform:commission)#(0|[1-9][0-9]?)\Z")


def account_spec(code: str) -> AccountSpec:
    """What an account code (or a hot account's shard row) means; raises LedgerError for an
    unknown code. A shard row may go negative on its own (see the module docstring)."""
    if code == CLEARING:
        return AccountSpec(code, "provider_clearing", "debit")
    if code == COMMISSION:
        return AccountSpec(code, "platform_commission", "credit")
    if (match := _SHARD_RE.match(code)) and int(match[2]) < MAX_HOT_SHARDS:
        return replace(account_spec(match[1]), code=code, allow_negative=True)
    if match := _ESCROW_RE.match(code):
        return AccountSpec(code, "escrow", "credit", order_id=int(match[1]))
    if match := _SELLER_RE.match(code):
        return AccountSpec(code, f"seller_{match[2]}", "credit", owner_user_id=int(match[1]))
    raise LedgerError(f"unknown account code {code!r}")


def hot_shards() -> int:
    """N, the shard rows of each hot account new postings spread over (``LEDGER_HOT_SHARDS``)."""
    n = current_app.config.get("LEDGER_HOT_SHARDS", DEFAULT_HOT_SHARDS)
    if type(n) is not int or not 1 <= n <= MAX_HOT_SHARDS:
        raise LedgerError(f"LEDGER_HOT_SHARDS must be an integer from 1 to {MAX_HOT_SHARDS}, not {n!r}")
    return n


def shard_code(code: str, shard: int) -> str:
    return f"{code}{SHARD_MARK}{shard}"


def shard_of(idempotency_key: str, shards: int) -> int:
    """The shard a posting's key lands on: the same key always on the same shard (a retry
    locks what the first attempt locked), different keys spread evenly."""
    return zlib.crc32(idempotency_key.encode()) % shards


def account_codes(code: str) -> tuple[str, ...]:
    """The rows an account's balance is the sum of: the code itself, and for a hot account
    every shard row it may have (readers select ``code IN account_codes(...)``)."""
    if code not in HOT_ACCOUNTS:
        return (code,)
    return (code, *(shard_code(code, i) for i in range(MAX_HOT_SHARDS)))


def account_of(code: str) -> str:
    """The account a row belongs to: a shard row's code without its suffix."""
    return code.partition(SHARD_MARK)[0]


def escrow_account(order_id: int) -> str:
    return f"escrow:order:{order_id}"


def seller_pending_account(user_id: int) -> str:
    return f"seller:{user_id}:pending"


def seller_available_account(user_id: int) -> str:
    return f"seller:{user_id}:available"


def _normal(account_normal_side: str, amount: int) -> int:
    """A signed entry as a change of the account's normal-side balance."""
    return amount if account_normal_side == "debit" else -amount


# --- posting ----------------------------------------------------------------------------


def _normalize(entries: Iterable[Sequence], currency: str) -> list[tuple[str, str, int]]:
    """Validate entries -> sorted (currency, code, amount); raises LedgerError."""
    if not isinstance(currency, str) or not CURRENCY_RE.match(currency):
        raise LedgerError(f"invalid currency {currency!r}")
    rows = []
    for entry in entries:
        if len(entry) not in (2, 3):
            raise LedgerError("an entry is (account_code, amount_minor[, currency])")
        code, amount = entry[0], entry[1]
        entry_currency = entry[2] if len(entry) == 3 else currency
        if not isinstance(entry_currency, str) or not CURRENCY_RE.match(entry_currency):
            raise LedgerError(f"invalid currency {entry_currency!r}")
        if type(amount) is not int:  # bool, float, Decimal: never
            raise LedgerError(f"amount of {code!r} must be an integer of minor units, not {amount!r}")
        if amount == 0:
            raise LedgerError(f"zero amount on {code!r}")
        if abs(amount) >= 2**62:
            raise LedgerError(f"amount on {code!r} is out of range")
        if account_spec(code).allow_negative:  # a shard row: the ledger picks it, callers never
            raise LedgerError(f"post to the account {account_of(code)!r}, not to one of its shards")
        rows.append((entry_currency, code, amount))
    if len(rows) < 2:
        raise LedgerError("a transaction needs at least two entries")
    totals = Counter()
    for entry_currency, _code, amount in rows:
        totals[entry_currency] += amount
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        raise LedgerError(f"unbalanced transaction: entries sum to {unbalanced}")
    return sorted(rows)


def _aggregate(rows: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
    totals: Counter = Counter()
    for currency, code, amount in rows:
        totals[(currency, code)] += amount
    return dict(totals)


def get_transaction(idempotency_key: str) -> LedgerTransaction | None:
    return db.session.scalars(
        sa.select(LedgerTransaction).where(LedgerTransaction.idempotency_key == idempotency_key)
    ).first()


def _entries_of(transaction_id: int) -> list[tuple[str, str, int]]:
    """A transaction's entries as ``(currency, account code, amount)``, shard rows named by
    their account (a repeat is compared with what its caller posts, not with a shard)."""
    rows = db.session.execute(
        sa.select(LedgerEntry.currency, LedgerAccount.code, LedgerEntry.amount_minor)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.transaction_id == transaction_id)
    ).all()
    return [(currency, account_of(code), amount) for currency, code, amount in rows]


def _same_or_conflict(existing: LedgerTransaction, kind: str, currency: str, rows) -> LedgerTransaction:
    if (
        existing.kind != kind
        or existing.currency != currency
        or _aggregate(_entries_of(existing.id)) != _aggregate(rows)
    ):
        raise LedgerConflict(
            f"idempotency key {existing.idempotency_key!r} was used for another transaction ({existing.id})"
        )
    return existing


def _changes_of(rows: list[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
    """Entry amounts summed per (currency, account code)."""
    changes: Counter = Counter()
    for currency, code, amount in rows:
        changes[(currency, code)] += amount
    return dict(changes)


_UNIT_SHARD = unit_of_work.transaction_scoped("gigforge_ledger_shard")


def _unit_shard(idempotency_key: str) -> int:
    """The hot accounts' shard of this unit of work: picked from the key of its first posting
    to one of them, kept by its later postings until the transaction ends.

    One shard per transaction, not per posting: a unit of work that posts several times (an
    order's milestones paid or released together, a refund and a release of one cancellation)
    then locks one row of each hot account, as before the shards, and two units of work can
    never lock two shards in opposite orders (a deadlock). A retried unit of work posts the
    same keys in the same order, so it lands on the same shard."""
    session = db.session()
    shard = session.info.get(_UNIT_SHARD)
    if shard is None:
        shard = session.info[_UNIT_SHARD] = shard_of(idempotency_key, hot_shards())
    return shard


def _place(rows: list[tuple[str, str, int]], idempotency_key: str) -> list[tuple[str, str, int]]:
    """The entries on the rows they are written to: a hot account's entry on its shard.

    Clearing, either way, and what a release adds to commission land on the unit of work's
    shard (``_unit_shard``); what a posting takes from commission lands on shard 0 (see
    ``_commission_takers``). Sorted again: the rows are locked in this order."""
    changes = _changes_of(rows)
    earlier = db.session().info.get(_UNIT_SHARD) is not None
    placed = []
    for currency, code, amount in rows:
        if code in HOT_ACCOUNTS:
            if code == COMMISSION and changes[(currency, code)] > 0:
                if earlier:
                    # It locks every commission row: after this unit of work locked one of them,
                    # it could wait for a unit that waits for it.
                    raise LedgerError(
                        f"a posting that takes from {COMMISSION} must come before any other posting"
                        f" to {CLEARING} or {COMMISSION} in its unit of work"
                    )
                code = shard_code(code, 0)  # a debit: commission's money is taken from #0
                _unit_shard(idempotency_key)  # and the unit of work has had its hot posting
            else:
                code = shard_code(code, _unit_shard(idempotency_key))
        placed.append((currency, code, amount))
    return sorted(placed)


def _commission_takers(changes: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """A posting that takes money from commission (a reversal) locks every row of the account
    (its unsharded row and shards 0..N-1, with a change of 0 but the one it takes from) in the
    same upsert as its own accounts and in the same order, and checks their sum after it
    (``_check_commission``). Only shard 0 ever goes below zero, so a shard above N (left from a
    higher LEDGER_HOT_SHARDS) holds money and leaving it out makes the check only stricter.
    A posting that does not take from commission comes back unchanged."""
    taken = [c for (c, code), amount in changes.items() if code == shard_code(COMMISSION, 0) and amount > 0]
    if not taken:
        return changes
    widened = dict(changes)
    for currency in taken:
        for code in (COMMISSION, *(shard_code(COMMISSION, i) for i in range(hot_shards()))):
            widened.setdefault((currency, code), 0)
    return widened


def _check_commission(
    changes: dict[tuple[str, str], int], accounts: dict[tuple[str, str], LedgerAccount]
) -> None:
    """Refuse a posting that left the commission account (the sum of its rows) below zero."""
    for (currency, code), amount in changes.items():
        if code != shard_code(COMMISSION, 0) or amount <= 0:
            continue
        total = sum(
            account.balance_minor
            for (c, row), account in accounts.items()
            if c == currency and account_of(row) == COMMISSION
        )
        if total < 0:
            raise InsufficientFunds(COMMISSION, currency, total + amount, -amount)


def _write_posting(
    changes: dict[tuple[str, str], int], placed: list[tuple[str, str, int]], transaction: dict
) -> tuple[LedgerTransaction | None, dict[tuple[str, str], LedgerAccount]]:
    """Claim the posting's key with its transaction row (``transaction``: its columns as
    ``t_<name>`` parameters), add each ``(currency, code) -> entry amount`` to its account's
    balance, creating the accounts on first use, and write the entries (``placed``), in one
    statement of three data-modifying WITHs: the transaction's ``INSERT ... ON CONFLICT DO
    NOTHING``, the accounts' ``INSERT ... ON CONFLICT DO UPDATE`` (only when the claim
    succeeded) and the entries' INSERT from what both return. The accounts' upsert locks every
    existing row in (currency, code) order (the order of its rows), so concurrent postings
    never deadlock. Returns the transaction (None: the key was taken, nothing moved) and the
    accounts with their new balances.

    Raises InsufficientFunds when an account that may not go negative would: an existing one
    is refused by its CHECK constraint (the statement fails; see ``_post``), a new one here
    (it is created at 0, since PostgreSQL checks the proposed row before it knows of a
    conflict, and the change is then refused: the caller's savepoint, or its rollback, takes
    the entries back with it)."""
    rows = {name: [] for name in _ACCOUNT_ROW}
    deltas = {}
    for currency, code in sorted(changes):
        spec = account_spec(code)
        delta = _normal(spec.normal_side, changes[(currency, code)])
        deltas[(currency, code)] = delta
        for name, value in (
            ("code", code),
            ("currency", currency),
            ("kind", spec.kind),
            ("normal_side", spec.normal_side),
            ("owner_user_id", spec.owner_user_id),
            ("order_id", spec.order_id),
            ("allow_negative", spec.allow_negative),
            ("opening", delta if delta >= 0 or spec.allow_negative else 0),
            ("delta", delta),  # 0 for the rows a reversal of commission only locks
        ):
            rows[name].append(value)
    params = {
        **transaction,
        **{f"a_{name}": values for name, values in rows.items()},
        "e_currency": [c for c, _code, _amount in placed],
        "e_code": [code for _c, code, _amount in placed],
        "e_amount": [amount for _c, _code, amount in placed],
    }
    found = db.session.execute(
        _posting_statement(), params, execution_options={"populate_existing": True}
    ).all()
    if not found:
        return None, {}  # the key was taken
    accounts = {(account.currency, account.code): account for _posted, account, _created in found}
    for _posted, account, created in found:
        delta = deltas[(account.currency, account.code)]
        if created and delta < 0 and not account.allow_negative:
            for loaded in accounts.values():  # the savepoint takes the new balances back
                db.session.expire(loaded)
            raise InsufficientFunds(account.code, account.currency, 0, delta)
    # This transaction now holds these rows' locks and their balances as they are: a balance read
    # later in the unit of work (the order's escrow in an answer) needs no second read.
    tenant_id = current_tenant().id
    held = db.session.info.setdefault(_HELD_KEY, {})
    for (currency, code), account in accounts.items():
        held[(tenant_id, currency, code)] = account
    return found[0][0], accounts


# The transaction row of a posting (``t_<name>``).
_TRANSACTION_ROW = {
    "kind": sa.Text,
    "idempotency_key": sa.Text,
    "currency": sa.Text,
    "order_id": sa.BigInteger,
    "milestone_id": sa.BigInteger,
    "buyer_id": sa.BigInteger,
    "seller_id": sa.BigInteger,
    "memo": sa.Text,
}


# The account rows of a posting, one array parameter each (``a_<name>``).
_ACCOUNT_ROW = {
    "code": sa.Text,
    "currency": sa.Text,
    "kind": sa.Text,
    "normal_side": sa.Text,
    "owner_user_id": sa.BigInteger,
    "order_id": sa.BigInteger,
    "allow_negative": sa.Boolean,
    "opening": sa.BigInteger,
    "delta": sa.BigInteger,
}


@cache
def _posting_statement() -> sa.Select:
    """One posting as one statement, built once: the transaction's claim, the accounts' upsert
    and the entries' insert. The rows go as array parameters (``unnest``), so one compiled
    statement serves every posting, whatever its number of rows."""

    def arrays(prefix: str, columns: dict) -> list:
        return [sa.bindparam(f"{prefix}_{name}", type_=ARRAY(kind)) for name, kind in columns.items()]

    claim = (
        pg_insert(LedgerTransaction)
        .values({name: sa.bindparam(f"t_{name}", type_=kind) for name, kind in _TRANSACTION_ROW.items()})
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(*LedgerTransaction.__table__.c)
        .cte("claim")
    )
    account_rows = (
        sa.func.unnest(*arrays("a", _ACCOUNT_ROW))
        .table_valued(*_ACCOUNT_ROW, name="account_rows")
        .render_derived()
    )
    deltas = (
        sa.func.unnest(*arrays("a", {k: _ACCOUNT_ROW[k] for k in ("code", "currency", "delta")}))
        .table_valued("code", "currency", "delta", name="deltas")
        .render_derived()
    )
    columns = ("code", "currency", "kind", "normal_side", "owner_user_id", "order_id", "allow_negative")
    upsert = pg_insert(LedgerAccount).from_select(
        [*columns, "balance_minor"],
        sa.select(*(account_rows.c[name] for name in columns), account_rows.c.opening)
        # Nothing moves when the key was taken (the claim returned no row).
        .where(sa.exists(sa.select(claim.c.id))),
    )
    change_of = (
        sa.select(deltas.c.delta)
        # The row that met its conflict, named as PostgreSQL names it (not a FROM of its own).
        .where(
            deltas.c.code == sa.literal_column("excluded.code"),
            deltas.c.currency == sa.literal_column("excluded.currency"),
        )
        .scalar_subquery()
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=["code", "currency"],
        set_={"balance_minor": LedgerAccount.balance_minor + change_of},
    )
    accounts = upsert.returning(
        *LedgerAccount.__table__.c, sa.literal_column("xmax = 0").label("created")
    ).cte("accounts")
    entry_rows = (
        sa.func.unnest(*arrays("e", {"currency": sa.Text, "code": sa.Text, "amount": sa.BigInteger}))
        .table_valued("currency", "code", "amount", with_ordinality="n", name="entry_rows")
        .render_derived()
    )
    entries = (
        sa.insert(LedgerEntry)
        .from_select(
            ["transaction_id", "account_id", "amount_minor", "currency"],
            sa.select(claim.c.id, accounts.c.id, entry_rows.c.amount, entry_rows.c.currency)
            .select_from(
                claim.join(
                    entry_rows.join(
                        accounts,
                        sa.and_(
                            accounts.c.code == entry_rows.c.code,
                            accounts.c.currency == entry_rows.c.currency,
                        ),
                    ),
                    sa.true(),
                )
            )
            .order_by(entry_rows.c.n),  # the entries' ids in the posting's order
        )
        .cte("entries")
    )
    return (
        sa.select(
            sa.orm.aliased(LedgerTransaction, claim),
            sa.orm.aliased(LedgerAccount, accounts),
            accounts.c.created,
        )
        .select_from(claim.join(accounts, sa.true()))
        .add_cte(entries)
        .order_by(accounts.c.currency, accounts.c.code)
    )


# (tenant id, currency, code) -> the locked account; the transaction's end releases the locks.
_HELD_KEY = unit_of_work.transaction_scoped("gigforge_ledger_held_accounts")


def _held_balance(codes: Sequence[str], currency: str) -> int | None:
    """The summed balance of ``codes`` when this transaction has locked and moved every one of
    them (``_write_posting``: nobody else can change them until it ends, and its RETURNING
    brought back their balances), else None (read them)."""
    held = db.session.info.get(_HELD_KEY)
    if not held:
        return None
    tenant_id = current_tenant().id
    total = 0
    for code in codes:
        account = held.get((tenant_id, currency, code))
        if account is None or account not in db.session or "balance_minor" not in account.__dict__:
            return None  # not locked here, or expired (a rollback): read it
        total += account.balance_minor
    return total


@sa.event.listens_for(TenantSession, "after_rollback")
def _forget_balances(session) -> None:
    """Balances move by the rows ``_write_posting`` gets back (RETURNING), which the session
    does not count as its own changes: a rolled-back savepoint (a refused ``mark_paid``, a
    view's refusal) would leave the new balances in loaded accounts. Forget them instead."""
    session.info.pop(_HELD_KEY, None)  # a rolled-back savepoint's locks are released too
    for instance in list(session.identity_map.values()):
        if isinstance(instance, LedgerAccount):
            session.expire(instance)


def _is_negative_balance(exc: sa.exc.IntegrityError) -> bool:
    diag = getattr(exc.orig, "diag", None)
    return (getattr(diag, "constraint_name", None) or "").endswith("non_negative")


def _insufficient(changes: dict[tuple[str, str], int]) -> InsufficientFunds:
    """The refusal of a posting the non-negative CHECK stopped: the first account (in lock
    order) that cannot take its change, with its balance (read after the savepoint's rollback)."""
    rows = db.session.execute(
        sa.select(LedgerAccount.currency, LedgerAccount.code, LedgerAccount.balance_minor).where(
            sa.tuple_(LedgerAccount.currency, LedgerAccount.code).in_(list(changes))
        )
    ).all()
    balances = {(r.currency, r.code): int(r.balance_minor) for r in rows}
    takers = []
    for currency, code in sorted(changes):
        spec = account_spec(code)
        change = _normal(spec.normal_side, changes[(currency, code)])
        if change < 0 and not spec.allow_negative:
            balance = balances.get((currency, code), 0)
            takers.append((balance + change >= 0, code, currency, balance, change))
    # One that cannot take it now first; else (moved since by a concurrent posting) the first taker.
    _fits, code, currency, balance, change = sorted(takers, key=lambda t: t[0])[0]
    return InsufficientFunds(code, currency, balance, change)


def milestone_escrow_held(account_id: int, milestone_id: int) -> int:
    """What one milestone holds in its order's escrow account (normal side): its payments less
    its releases and refunds, i.e. the entries of transactions carrying its ``milestone_id``."""
    total = db.session.scalar(
        _milestone_escrow_statement(), {"account_id": account_id, "milestone_id": milestone_id}
    )
    return -int(total)  # escrow is credit-normal


@cache
def _milestone_escrow_statement() -> sa.Select:
    return (
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_minor), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerEntry.account_id == sa.bindparam("account_id"),
            LedgerTransaction.milestone_id == sa.bindparam("milestone_id"),
        )
    )


def _check_milestone_escrow(account: LedgerAccount, milestone_id: int, amount: int) -> None:
    """Per-milestone escrow: a posting of milestone M may take out of the order's escrow only
    what M itself put in, so one milestone's money never pays another's. Runs after the escrow
    account row is locked and the posting's entries are written (``_write_posting``), so the
    sum is exact (every posting on that escrow waits for it) and counts this posting."""
    after = milestone_escrow_held(account.id, milestone_id)
    held = after - _normal(account.normal_side, amount)
    if after < 0:
        raise InsufficientFunds(
            f"{account.code}:milestone:{milestone_id}", account.currency, held, after - held
        )


def post_transaction(
    kind: str,
    entries: list[tuple[str, int]],
    *,
    currency: str,
    idempotency_key: str,
    order_id: int | None = None,
    milestone_id: int | None = None,
    buyer_id: int | None = None,
    seller_id: int | None = None,
    memo: str = "",
) -> LedgerTransaction:
    """Post one balanced transaction; flushes, never commits.

    ``entries`` are ``(account_code, amount_minor)`` (debit positive, credit
    negative; an optional third item overrides ``currency``). Accounts are
    created on first use, locked in a fixed order and moved in one statement
    (``_write_posting``), so concurrent postings never deadlock with each other
    and every balance is exact.

    Idempotent: the same key with the same kind, currency and entries returns
    the transaction already posted (even one committed concurrently).
    Raises LedgerConflict when the key was used for something else,
    LedgerError for an invalid or unbalanced transaction, InsufficientFunds when
    an account that may not go negative would; nothing is written then.
    """
    return _post(
        kind,
        entries,
        currency=currency,
        idempotency_key=idempotency_key,
        order_id=order_id,
        milestone_id=milestone_id,
        buyer_id=buyer_id,
        seller_id=seller_id,
        memo=memo,
        compare=True,
    )[0]


def _post(
    kind: str,
    entries: list[tuple[str, int]],
    *,
    currency: str,
    idempotency_key: str,
    order_id: int | None,
    milestone_id: int | None,
    buyer_id: int | None,
    seller_id: int | None,
    memo: str,
    compare: bool,
) -> tuple[LedgerTransaction, bool]:
    """``post_transaction``; also says whether this call posted it (False: the key was
    taken, and ``compare`` checks the existing transaction is the same one)."""
    if kind not in TRANSACTION_KINDS:
        raise LedgerError(f"unknown transaction kind {kind!r}")
    if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH:
        raise LedgerError("an idempotency key of 1 to 200 characters is required")
    rows = _normalize(entries, currency)
    for _c, code, _amount in rows:
        escrow_order = account_spec(code).order_id
        if escrow_order is not None and escrow_order != order_id:
            # Keeps "escrow of an order = its paid − released − refunded" true by construction.
            raise LedgerError(f"{code} moves only in transactions of order {escrow_order}")
    placed = _place(rows, idempotency_key)  # the rows written: a hot account's on its shard

    # No lookup of the key first: the INSERT below claims it or finds it taken (a repeat is
    # the rare case, and pays for the read after it).
    # A savepoint: on any error below nothing of this posting remains, and the
    # caller's unit of work can still go on (e.g. report the error and commit). None when the
    # caller's refusals end its unit of work (the API's money views, the card form): a refused
    # posting then marks the transaction, which can only be rolled back.
    try:
        with unit_of_work.step_guard("a ledger posting"):
            # Claim the key, move the balances and write the entries: one statement. A
            # concurrent posting with the same key waits at its claim until the other
            # transaction ends, then sees its row (ON CONFLICT) and moves nothing. The rows come
            # back from the statement (RETURNING): they are never read again.
            changes = _changes_of(placed)
            posted, accounts = _write_posting(
                _commission_takers(changes),
                placed,
                {
                    "t_kind": kind,
                    "t_idempotency_key": idempotency_key,
                    "t_currency": currency,
                    "t_order_id": order_id,
                    "t_milestone_id": milestone_id,
                    "t_buyer_id": buyer_id,
                    "t_seller_id": seller_id,
                    "t_memo": memo or "",
                },
            )
            if posted is not None:
                try:
                    _check_commission(changes, accounts)
                    if milestone_id is not None:
                        for key, amount in changes.items():
                            account = accounts[key]
                            if account.kind == "escrow" and _normal(account.normal_side, amount) < 0:
                                # Only what takes money out of escrow can take another milestone's.
                                _check_milestone_escrow(account, milestone_id, amount)
                except DomainError:
                    # The savepoint takes the new balances back: the loaded rows forget them.
                    for account in accounts.values():
                        db.session.expire(account)
                    raise
    except sa.exc.IntegrityError as exc:
        if not _is_negative_balance(exc):
            raise
        raise _insufficient(_changes_of(placed)) from exc
    if posted is None:
        existing = get_transaction(idempotency_key)
        return (_same_or_conflict(existing, kind, currency, rows) if compare else existing), False
    return posted, True


# --- the money movements ----------------------------------------------------------------


def _positive(amount_minor: int, what: str) -> None:
    if type(amount_minor) is not int or amount_minor <= 0:
        raise LedgerError(f"{what} must be a positive integer of minor units, not {amount_minor!r}")


def _milestone_part(milestone_id: int | None) -> str:
    return f"milestone:{milestone_id}" if milestone_id is not None else "order"


def record_payment(
    order_id, milestone_id, buyer_id, amount_minor, currency, payment_ref
) -> LedgerTransaction:
    """A captured payment: provider clearing +A, the order's escrow −A.

    Idempotent by ``payment_ref`` (the provider's payment id). Raises
    LedgerConflict when that payment was recorded with another amount.
    """
    _positive(amount_minor, "payment amount")
    return post_transaction(
        "payment",
        [(CLEARING, amount_minor), (escrow_account(order_id), -amount_minor)],
        currency=currency,
        idempotency_key=f"payment:{payment_ref}",
        order_id=order_id,
        milestone_id=milestone_id,
        buyer_id=buyer_id,
        memo=f"payment {payment_ref}",
    )


def commission_for(amount_minor: int, bps: int, min_fee_minor: int) -> int:
    """max(amount·bps/10000 rounded half-up, minimum fee), never more than the amount."""
    percent = (amount_minor * bps * 2 + 10_000) // 20_000  # exact half-up on integers
    return min(amount_minor, max(percent, min_fee_minor))


class Release(NamedTuple):
    seller_net: int
    fee: int


def release_key(order_id, milestone_id) -> str:
    return f"release:order:{order_id}:{_milestone_part(milestone_id)}"


def release_escrow(order_id, milestone_id, seller_id, amount_minor, currency) -> Release:
    """Release ``amount_minor`` of the order's escrow: seller pending gets it minus commission.

    The commission comes from the tenant's settings (percent with a minimum
    fee, capped at the amount). One release per milestone (or per order when
    ``milestone_id`` is None): a repeat returns the first release's split,
    even when the settings changed in between. Raises InsufficientFunds when
    the escrow holds less than ``amount_minor``.
    """
    _positive(amount_minor, "release amount")
    settings = current_settings()
    fee = commission_for(amount_minor, settings.commission_bps, settings.commission_min_fee_minor)
    entries = [(escrow_account(order_id), amount_minor)]
    if amount_minor - fee:
        entries.append((seller_pending_account(seller_id), -(amount_minor - fee)))
    if fee:
        entries.append((COMMISSION, -fee))
    transaction, posted = _post(
        "release",
        entries,
        currency=currency,
        idempotency_key=release_key(order_id, milestone_id),
        order_id=order_id,
        milestone_id=milestone_id,
        buyer_id=None,
        seller_id=seller_id,
        memo=f"release of order {order_id}",
        compare=False,  # a repeat is judged below, by the first release's own split
    )
    if posted:  # the split is the entries just written
        return Release(amount_minor - fee, fee)
    split = dict(((code, amount) for _c, code, amount in _entries_of(transaction.id)))
    if (
        transaction.kind != "release"
        or transaction.seller_id != seller_id
        or split.get(escrow_account(order_id)) != amount_minor
    ):
        raise LedgerConflict(f"order {order_id} was already released with another amount or seller")
    return Release(-split.get(seller_pending_account(seller_id), 0), -split.get(COMMISSION, 0))


def refund_escrow(order_id, milestone_id, buyer_id, amount_minor, currency, refund_ref) -> LedgerTransaction:
    """Refund ``amount_minor`` of the order's escrow to the buyer (escrow +R, clearing −R).

    Idempotent by ``refund_ref``. Raises InsufficientFunds when the refund is
    larger than what is in escrow.
    """
    _positive(amount_minor, "refund amount")
    return post_transaction(
        "refund",
        [(escrow_account(order_id), amount_minor), (CLEARING, -amount_minor)],
        currency=currency,
        idempotency_key=f"refund:{refund_ref}",
        order_id=order_id,
        milestone_id=milestone_id,
        buyer_id=buyer_id,
        memo=f"refund {refund_ref}",
    )


def clear_earnings(seller_id, currency, as_of: datetime) -> LedgerTransaction | None:
    """Move the seller's pending earnings released at least ``clearance_days`` before ``as_of`` to available.

    First in, first out: what cleared before is subtracted from what was
    released up to the cutoff. Returns the clearance, or None when nothing is
    due. Safe to run twice or concurrently: the key names the cumulative
    cleared total, so a repeat finds the same transaction.
    """
    pending = seller_pending_account(seller_id)
    account = db.session.scalars(
        sa.select(LedgerAccount)
        .where(LedgerAccount.code == pending, LedgerAccount.currency == currency)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if account is None or account.balance_minor <= 0:
        return None
    settings = current_settings()
    cutoff = as_of - timedelta(days=settings.clearance_days)
    credited, cleared = db.session.execute(
        sa.select(
            sa.func.coalesce(
                sa.func.sum(-LedgerEntry.amount_minor).filter(
                    LedgerTransaction.kind != "clearance", LedgerTransaction.created_at <= cutoff
                ),
                0,
            ),
            sa.func.coalesce(
                sa.func.sum(LedgerEntry.amount_minor).filter(LedgerTransaction.kind == "clearance"), 0
            ),
        )
        .select_from(LedgerEntry)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account_id == account.id)
    ).one()
    amount = min(int(credited) - int(cleared), account.balance_minor)
    if amount <= 0:
        return None
    return post_transaction(
        "clearance",
        [(pending, amount), (seller_available_account(seller_id), -amount)],
        currency=currency,
        idempotency_key=f"clearance:seller:{seller_id}:{currency}:through:{int(cleared) + amount}",
        seller_id=seller_id,
        memo="earnings cleared",
    )


def record_payout(seller_id, amount_minor, currency, payout_ref) -> LedgerTransaction:
    """Pay ``amount_minor`` of the seller's available balance out (available +X, clearing −X).

    Idempotent by ``payout_ref``. Raises InsufficientFunds when the available
    balance is smaller.
    """
    _positive(amount_minor, "payout amount")
    return post_transaction(
        "payout",
        [(seller_available_account(seller_id), amount_minor), (CLEARING, -amount_minor)],
        currency=currency,
        idempotency_key=f"payout:{payout_ref}",
        seller_id=seller_id,
        memo=f"payout {payout_ref}",
    )


# --- reading ----------------------------------------------------------------------------


def account_balance(code: str, currency: str) -> int:
    """Cached normal-side balance of an account (0 when it does not exist yet); a hot
    account's is the sum of its rows (``account_codes``). Accounts this transaction has
    moved are not read again (``_held_balance``)."""
    codes = account_codes(code)
    held = _held_balance(codes, currency)
    if held is not None:
        return held
    balance = db.session.scalar(
        sa.select(sa.func.sum(LedgerAccount.balance_minor)).where(
            LedgerAccount.code.in_(codes), LedgerAccount.currency == currency
        )
    )
    return int(balance or 0)


def escrow_balance(order_id, currency) -> int:
    """What the order's escrow holds."""
    return account_balance(escrow_account(order_id), currency)


def milestone_escrow_balance(order_id, milestone_id, currency) -> int:
    """What milestone ``milestone_id`` of order ``order_id`` holds in escrow, by its own ledger
    transactions (payments less releases and refunds keyed to that milestone)."""
    account_id = db.session.scalar(
        sa.select(LedgerAccount.id).where(
            LedgerAccount.code == escrow_account(order_id), LedgerAccount.currency == currency
        )
    )
    return milestone_escrow_held(account_id, milestone_id) if account_id is not None else 0


def seller_balances(user_id, currency) -> dict[str, int]:
    """``{"pending": ..., "available": ...}`` of a seller."""
    return {
        "pending": account_balance(seller_pending_account(user_id), currency),
        "available": account_balance(seller_available_account(user_id), currency),
    }


@dataclass(frozen=True)
class HistoryItem:
    """One line of a wallet history. ``amount_minor`` is signed from the user's side:
    a buyer's payment is negative, a refund positive; a seller's release (net of
    the fee) and clearance positive, a payout negative."""

    transaction_id: int
    kind: str
    role: str
    created_at: datetime
    currency: str
    amount_minor: int
    gross_minor: int
    fee_minor: int
    order_id: int | None
    milestone_id: int | None
    memo: str


@dataclass(frozen=True)
class HistoryPage:
    items: list[HistoryItem]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


BUYER_KINDS = ("payment", "refund")
SELLER_KINDS = ("release", "clearance", "payout")


def transactions_for_user(
    user_id, page: int = 1, per_page: int = 20, *, window: pagination.Window | None = None
) -> HistoryPage:
    """The user's wallet history, newest first: payments and refunds as a buyer,
    releases, clearances and payouts as a seller (from the API's cursor position and inside
    its created range when ``window`` is given; ``total`` counts from there)."""
    page = max(1, int(page))
    per_page = max(1, min(100, int(per_page)))
    t = LedgerTransaction
    mine = sa.or_(
        sa.and_(t.buyer_id == user_id, t.kind.in_(BUYER_KINDS)),
        sa.and_(t.seller_id == user_id, t.kind.in_(SELLER_KINDS)),
    )
    mine = sa.and_(mine, *pagination.where(window, t.created_at, t.id, created=t.created_at))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(t).where(mine))
    chosen = sa.select(t).where(mine).order_by(t.created_at.desc(), t.id.desc()).limit(per_page)
    chosen = chosen.offset((page - 1) * per_page).subquery()
    a, e = LedgerAccount, LedgerEntry

    def total_of(*conditions):
        return sa.func.coalesce(sa.func.sum(e.amount_minor).filter(*conditions), 0)

    rows = db.session.execute(
        sa.select(
            chosen.c.id,
            chosen.c.kind,
            chosen.c.created_at,
            chosen.c.currency,
            chosen.c.order_id,
            chosen.c.milestone_id,
            chosen.c.memo,
            total_of(a.kind == "provider_clearing").label("clearing"),
            total_of(a.kind == "escrow").label("escrow"),
            total_of(a.kind == "seller_pending").label("pending"),
            total_of(a.kind == "seller_available").label("available"),
            total_of(a.kind == "platform_commission").label("commission"),
        )
        .join(e, e.transaction_id == chosen.c.id)
        .join(a, a.id == e.account_id)
        .group_by(
            *[
                chosen.c[n]
                for n in ("id", "kind", "created_at", "currency", "order_id", "milestone_id", "memo")
            ]
        )
        .order_by(chosen.c.created_at.desc(), chosen.c.id.desc())
    ).all()
    items = []
    for row in rows:
        if row.kind in BUYER_KINDS:
            amount, gross, fee, role = -row.clearing, abs(row.clearing), 0, "buyer"
        elif row.kind == "release":
            amount, gross, fee, role = -row.pending, row.escrow, -row.commission, "seller"
        else:  # clearance (+X to available) and payout (−X from available)
            amount, gross, fee, role = -row.available, abs(row.available), 0, "seller"
        items.append(
            HistoryItem(
                transaction_id=row.id,
                kind=row.kind,
                role=role,
                created_at=row.created_at,
                currency=row.currency,
                amount_minor=int(amount),
                gross_minor=int(gross),
                fee_minor=int(fee),
                order_id=row.order_id,
                milestone_id=row.milestone_id,
                memo=row.memo,
            )
        )
    return HistoryPage(items=items, page=page, per_page=per_page, total=int(total))


def verify():
    """Check the bound tenant's ledger invariants; see ``app.ledger.verify.verify``."""
    from app.ledger.verify import verify as _verify

    return _verify()


@dataclass(frozen=True)
class EntryLine:
    """One entry of a transaction: signed (debit positive, credit negative)."""

    account_code: str
    account_kind: str
    amount_minor: int
    currency: str

    @property
    def debit_minor(self) -> int:
        return self.amount_minor if self.amount_minor > 0 else 0

    @property
    def credit_minor(self) -> int:
        return -self.amount_minor if self.amount_minor < 0 else 0


@dataclass(frozen=True)
class TransactionLines:
    """A ledger transaction with its entries (read-only view for operators)."""

    id: int
    kind: str
    created_at: datetime
    currency: str
    memo: str
    idempotency_key: str
    milestone_id: int | None
    entries: list[EntryLine]


def order_transactions(order_id: int) -> list[TransactionLines]:
    """Every ledger transaction of an order (payments, releases, refunds), oldest first, each
    with its entries (account code and kind, signed amount). One query; reads only.

    Clearances and payouts move a seller's balances, not an order's, so they are not here.
    """
    t, e, a = LedgerTransaction, LedgerEntry, LedgerAccount
    rows = db.session.execute(
        sa.select(
            t.id,
            t.kind,
            t.created_at,
            t.currency,
            t.memo,
            t.idempotency_key,
            t.milestone_id,
            a.code,
            a.kind.label("account_kind"),
            e.amount_minor,
            e.currency.label("entry_currency"),
        )
        .join(e, e.transaction_id == t.id)
        .join(a, a.id == e.account_id)
        .where(t.order_id == order_id)
        .order_by(t.created_at, t.id, e.amount_minor.desc(), e.id)
    ).all()
    transactions: dict[int, TransactionLines] = {}
    for row in rows:
        if row.id not in transactions:
            transactions[row.id] = TransactionLines(
                id=row.id,
                kind=row.kind,
                created_at=row.created_at,
                currency=row.currency,
                memo=row.memo,
                idempotency_key=row.idempotency_key,
                milestone_id=row.milestone_id,
                entries=[],
            )
        transactions[row.id].entries.append(
            EntryLine(account_of(row.code), row.account_kind, int(row.amount_minor), row.entry_currency)
        )
    return list(transactions.values())


# --- what the ledger tells other domains ------------------------------------------------


def currency_lock() -> str | None:
    """Registered with settings (``register_currency_lock``): once money has moved, the
    balances are amounts of the current currency, which therefore cannot change."""
    if db.session.scalar(sa.select(sa.exists().where(LedgerTransaction.id.is_not(None)))):
        return (
            "The currency cannot change once money has moved: balances are amounts of the current currency."
        )
    return None
