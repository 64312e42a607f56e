"""Property-based: random sequences of order steps and dispute steps (open, split, decide,
dismiss, deadlines, retries, steps a dispute must refuse) keep the money exact: every order's
escrow is what a simple model says, the seller's pending balance is every release less its
commission on that release only, each dispute's refund + release is what was held, nothing
moves twice, and the ledger verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.domain_errors import DomainError
from app.disputes import services as disputes
from app.disputes.models import Dispute
from app.ledger import services as ledger
from app.orders import services as orders
from app.orders.models import Order
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.disputes.conftest import user
from tests.orders.conftest import drive

T0 = datetime(2026, 12, 1, tzinfo=UTC)
ORDER = st.integers(0, 2)
SHARE = st.integers(0, 100)  # percent of the held amount refunded
OPERATIONS = st.one_of(
    st.tuples(st.just("open"), ORDER, st.sampled_from(["buyer", "seller"])),
    st.tuples(st.just("agree"), ORDER, SHARE),
    st.tuples(st.just("decide"), ORDER, SHARE),
    st.tuples(st.just("dismiss"), ORDER),
    st.tuples(st.just("deadline"), st.integers(1, 20)),
    st.tuples(st.just("complete"), ORDER),
    st.tuples(st.just("cancel"), ORDER),
    st.tuples(st.just("retry"), ORDER),
)


def _open(order_id: int) -> Dispute | None:
    return db.session.scalars(
        sa.select(Dispute).where(Dispute.order_id == order_id, Dispute.status == "open")
    ).first()


@settings(
    max_examples=12,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(OPERATIONS, min_size=1, max_size=12), bps=st.integers(0, 3000))
def test_random_dispute_sequences_keep_the_money_exact(acme, in_tenant, market, operations, bps):
    m = _market(market, acme)
    with in_tenant(acme):
        row = db.session.get(MarketplaceSettings, 1)
        row.commission_bps, row.commission_min_fee_minor = bps, 0
        db.session.commit()
        ids = [drive(m, "delivered") for _ in range(3)]
        price = db.session.get(Order, ids[0]).total_minor
        held = dict.fromkeys(ids, price)  # the model: what each order's escrow holds
        released, fees = 0, 0
        base = ledger.seller_balances(m.seller_id, "USD")["pending"]  # earlier examples' releases
        admin, buyer, seller = user(m.admin_id), user(m.buyer_id), user(m.seller_id)
        now = T0
        for op in operations:
            kind, oid = op[0], ids[op[1]] if op[0] != "deadline" else None
            d = _open(oid) if oid else None
            try:
                if kind == "open":
                    disputes.open_dispute(
                        buyer if op[2] == "buyer" else seller, oid, "quality", "No", now=now
                    )
                    assert held[oid] > 0
                elif kind in ("agree", "decide") and d is not None:
                    refund = d.amount_minor * op[2] // 100
                    if kind == "agree":
                        p = disputes.propose(seller, d.id, refund, d.amount_minor - refund, now=now)
                        disputes.answer_proposal(buyer, d.id, p.id, True, now=now)
                    else:
                        if d.stage == "self_resolution":
                            disputes.escalate(buyer, d.id, now=now)
                        disputes.decide(admin, d.id, refund, d.amount_minor - refund, "ruled", now=now)
                    release = d.amount_minor - refund
                    held[oid] = 0
                    released += release
                    fees += ledger.commission_for(release, bps, 0) if release else 0
                elif kind == "dismiss" and d is not None:
                    disputes.dismiss(admin, d.id, "no case", now=now)
                elif kind == "deadline":
                    now += timedelta(days=op[1])
                    for dispute_id in disputes.due_ids(now):
                        d = db.session.get(Dispute, dispute_id)
                        outcome = disputes.apply_deadline(dispute_id, now=now)
                        if outcome == "resolved":
                            d = db.session.get(Dispute, dispute_id)
                            held[d.order_id] = 0
                            released += d.release_minor
                            fees += ledger.commission_for(d.release_minor, bps, 0) if d.release_minor else 0
                elif kind == "complete":
                    orders.complete(buyer, oid, now=now)
                    assert d is None, "completed while disputed"
                    released += held[oid]
                    fees += ledger.commission_for(held[oid], bps, 0)
                    held[oid] = 0
                elif kind == "cancel":
                    orders.operator_cancel(admin, oid, reason="ops", now=now)
                    assert d is None, "cancelled while disputed"
                    held[oid] = 0
                elif kind == "retry" and d is None:
                    last = db.session.scalars(
                        sa.select(Dispute).where(Dispute.order_id == oid).order_by(Dispute.id.desc())
                    ).first()
                    if last is not None and last.status == "resolved":
                        disputes.decide(
                            admin, last.id, last.refund_minor, last.release_minor, "again", now=now
                        )
                        raise AssertionError("a resolved dispute was decided twice")
                db.session.commit()
            except DomainError:
                db.session.rollback()
            for order_id in ids:
                assert ledger.escrow_balance(order_id, "USD") == held[order_id], (op, order_id)
        assert ledger.seller_balances(m.seller_id, "USD")["pending"] == base + released - fees
        for d in db.session.scalars(sa.select(Dispute).where(Dispute.status == "resolved")):
            assert d.refund_minor + d.release_minor == d.amount_minor
        assert ledger.verify().ok


_MARKETS: dict = {}


def _market(market, tenant):
    """One market per tenant for all examples (the data is truncated between tests, not examples)."""
    key = id(market)
    if key not in _MARKETS:
        _MARKETS.clear()
        _MARKETS[key] = market(tenant)
    return _MARKETS[key]
