"""Property-based: random sequences of payments, releases, refunds, clearances, payouts and
retries keep every ledger invariant, match a simple model, and pass verify().

Escrow is per milestone (issue #15): every payment, refund and release names a milestone of
its order, and one that would take out of escrow more than that milestone put in is refused
even when the order's escrow as a whole holds enough."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ledger import services as ledger
from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from app.ledger.services import InsufficientFunds, commission_for
from app.settings.models import MarketplaceSettings
from tenants.db import db

ORDERS = st.integers(1, 3)
SLOTS = st.integers(1, 2)  # milestone ``order * 10 + slot`` of an order
SELLERS = st.integers(2, 3)
AMOUNTS = st.integers(1, 50_000)
OPERATIONS = st.one_of(
    st.tuples(st.just("pay"), ORDERS, AMOUNTS, SLOTS),
    st.tuples(st.just("refund"), ORDERS, AMOUNTS, SLOTS),
    st.tuples(st.just("release"), ORDERS, AMOUNTS, SELLERS, SLOTS),
    st.tuples(st.just("clear"), SELLERS),
    st.tuples(st.just("payout"), SELLERS, AMOUNTS),
    st.tuples(st.just("retry"), st.integers(0, 1_000)),
)


def _reset_ledger(bps: int, min_fee: int) -> None:
    for model in (LedgerEntry, LedgerTransaction, LedgerAccount):
        db.session.execute(sa.delete(model))
    row = db.session.get(MarketplaceSettings, 1)
    row.commission_bps, row.commission_min_fee_minor, row.clearance_days = bps, min_fee, 0
    db.session.commit()


class Model:
    def __init__(self, bps, min_fee):
        self.bps, self.min_fee = bps, min_fee
        self.escrow, self.pending, self.available = {}, {}, {}
        self.slices: dict[int, int] = {}  # milestone -> what it holds in its order's escrow
        self.released: set[int] = set()  # milestones released (one release each)
        self.commission = self.clearing = 0

    def apply(self, step, op):
        """Expected effect of ``op``; returns False when it must be refused for lack of funds."""
        kind = op[0]
        if kind == "pay":
            _, order, amount, slot = op
            self.escrow[order] = self.escrow.get(order, 0) + amount
            self.slices[milestone(order, slot)] = self.slices.get(milestone(order, slot), 0) + amount
            self.clearing += amount
        elif kind == "refund":
            _, order, amount, slot = op
            if self.slices.get(milestone(order, slot), 0) < amount:
                return False
            self.escrow[order] -= amount
            self.slices[milestone(order, slot)] -= amount
            self.clearing -= amount
        elif kind == "release":
            _, order, amount, seller, slot = op
            if self.slices.get(milestone(order, slot), 0) < amount:
                return False
            fee = commission_for(amount, self.bps, self.min_fee)
            self.escrow[order] -= amount
            self.slices[milestone(order, slot)] -= amount
            self.released.add(milestone(order, slot))
            self.pending[seller] = self.pending.get(seller, 0) + amount - fee
            self.commission += fee
        elif kind == "clear":
            (_, seller) = op
            self.available[seller] = self.available.get(seller, 0) + self.pending.get(seller, 0)
            self.pending[seller] = 0
        elif kind == "payout":
            _, seller, amount = op
            if self.available.get(seller, 0) < amount:
                return False
            self.available[seller] -= amount
            self.clearing -= amount
        return True


def milestone(order: int, slot: int) -> int:
    return order * 10 + slot


def execute(step, op, as_of):
    kind = op[0]
    if kind == "pay":
        return ledger.record_payment(op[1], milestone(op[1], op[3]), 1, op[2], "USD", f"pi_{step}")
    if kind == "refund":
        return ledger.refund_escrow(op[1], milestone(op[1], op[3]), 1, op[2], "USD", f"re_{step}")
    if kind == "release":
        return ledger.release_escrow(op[1], milestone(op[1], op[4]), op[3], op[2], "USD")
    if kind == "clear":
        return ledger.clear_earnings(op[1], "USD", as_of)
    return ledger.record_payout(op[1], op[2], "USD", f"po_{step}")


@settings(
    max_examples=40,
    database=None,  # no .hypothesis/ folder in the repository
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    operations=st.lists(OPERATIONS, min_size=1, max_size=25),
    bps=st.integers(0, 5000),
    min_fee=st.integers(0, 2_000),
)
def test_random_sequences_keep_every_invariant(acme, in_tenant, operations, bps, min_fee):
    as_of = datetime.now(UTC) + timedelta(days=1)
    with in_tenant(acme):
        _reset_ledger(bps, min_fee)
        model = Model(bps, min_fee)
        done: list[tuple[int, tuple]] = []
        for step, op in enumerate(operations):
            if op[0] == "retry":
                if not done:
                    continue
                # The same operation again (a retried request or job): nothing may change.
                before = _balances()
                earlier_step, earlier_op = done[op[1] % len(done)]
                if earlier_op[0] != "clear":
                    execute(earlier_step, earlier_op, as_of)
                    db.session.commit()
                    assert _balances() == before
                continue
            if op[0] == "release" and milestone(op[1], op[4]) in model.released:
                continue  # one release per milestone (a repeat is the "retry" case)
            expected_ok = model.apply(step, op)
            try:
                execute(step, op, as_of)
                db.session.commit()
                assert expected_ok, f"{op} should have been refused"
                done.append((step, op))
            except InsufficientFunds:
                db.session.rollback()
                assert not expected_ok, f"{op} was refused"

        for order, held in model.escrow.items():
            assert ledger.escrow_balance(order, "USD") == held
        for ms, held in model.slices.items():
            assert ledger.milestone_escrow_balance(ms // 10, ms, "USD") == held
        for seller in (2, 3):
            assert ledger.seller_balances(seller, "USD") == {
                "pending": model.pending.get(seller, 0),
                "available": model.available.get(seller, 0),
            }
        assert ledger.account_balance("platform:commission", "USD") == model.commission
        clearing = ledger.account_balance("provider:clearing", "USD")
        assert clearing == model.clearing
        # Money at the provider is exactly what the marketplace owes plus its commission.
        assert clearing == (
            sum(model.escrow.values())
            + sum(model.pending.values())
            + sum(model.available.values())
            + model.commission
        )
        report = ledger.verify()
        assert report.ok, report.problems


def _balances() -> dict:
    return dict(db.session.execute(sa.select(LedgerAccount.code, LedgerAccount.balance_minor)).all())
