"""Orders test kit: a market (seller, buyer, gig) per tenant, orders driven to any state,
and the ledger's view of an order's money for "no money moved" checks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.ledger import services as ledger
from app.ledger.models import LedgerTransaction
from app.orders import services
from app.orders.models import Order
from tenants.db import db
from tests.gigs.conftest import api_token, csrf_token, login, make_gig  # noqa: F401  (fixtures)

PASSWORD = "correct-horse-battery"
# gig_data(): basic 5000 / 5 days / 2 revisions; standard 12000; premium 25000 unlimited;
# one extra "Fast delivery" 3000, -2 days.
BASIC, STANDARD, PREMIUM, EXTRA = 5000, 12000, 25000, 3000


@pytest.fixture
def market(make_user, make_seller, make_gig, in_tenant):  # noqa: F811  (the imported fixtures)
    """``market(tenant)`` -> ids of a seller with an active gig, a buyer, an admin and a stranger."""

    def build(tenant, **gig_overrides):
        slug = tenant.slug
        seller_id = make_seller(tenant, email=f"seller@{slug}.test", display_name="Sally Seller")
        buyer_id = make_user(tenant, email=f"buyer@{slug}.test", display_name="Bob Buyer")
        stranger_id = make_user(tenant, email=f"stranger@{slug}.test", display_name="Sam Stranger")
        gig_id = make_gig(tenant, seller_id, **gig_overrides)
        with in_tenant(tenant):
            from app.gigs.models import Gig

            gig = db.session.get(Gig, gig_id)
            extra_ids = [e.id for e in gig.extras]
            admin_id = db.session.scalar(sa.select(User.id).where(User.role == "admin"))
        return SimpleNamespace(
            tenant=tenant,
            seller_id=seller_id,
            buyer_id=buyer_id,
            stranger_id=stranger_id,
            admin_id=admin_id,
            gig_id=gig_id,
            extra_ids=extra_ids,
            seller_email=f"seller@{slug}.test",
            buyer_email=f"buyer@{slug}.test",
            stranger_email=f"stranger@{slug}.test",
        )

    return build


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


STEPS = ("awaiting_payment", "awaiting_requirements", "in_progress", "delivered", "completed")


def drive(m, state: str, *, tier: str = "basic", extras=(), quantity: int = 1) -> int:
    """Place an order in market ``m`` (tenant bound) and move it to ``state``; commits; returns its id."""
    order = services.place_order(user(m.buyer_id), m.gig_id, tier, list(extras), quantity)
    db.session.commit()
    order_id = order.id
    target = STEPS.index(state) if state in STEPS else None
    if state == "cancelled":
        services.request_cancellation(user(m.buyer_id), order_id, "Changed my mind")
        db.session.commit()
        return order_id
    if target >= 1:
        services.mark_paid(order_id, f"pay_test_{order_id}")
        db.session.commit()
    if target >= 2:
        services.submit_requirements(user(m.buyer_id), order_id, "Blue and round, please.")
        db.session.commit()
    if target >= 3:
        services.deliver(user(m.seller_id), order_id, "Here it is.")
        db.session.commit()
    if target >= 4:
        services.complete(user(m.buyer_id), order_id)
        db.session.commit()
    return order_id


@pytest.fixture
def order_in(market, in_tenant):
    """``order_in(tenant, state, **order)`` -> (market, order_id)."""

    def make(tenant, state, **kwargs):
        m = market(tenant)
        with in_tenant(tenant):
            return m, drive(m, state, **kwargs)

    return make


def money_snapshot(order_id: int) -> dict:
    """What the ledger says about an order (tenant bound): escrow and transactions by kind."""
    order = db.session.get(Order, order_id)
    rows = db.session.execute(
        sa.select(LedgerTransaction.kind, sa.func.count())
        .where(LedgerTransaction.order_id == order_id)
        .group_by(LedgerTransaction.kind)
    ).all()
    return {
        "escrow": ledger.escrow_balance(order_id, order.currency),
        "transactions": dict(rows),
        "total_transactions": db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)),
    }


@pytest.fixture
def ledger_of(in_tenant):
    """``ledger_of(tenant, order_id)`` -> ``money_snapshot`` in that tenant."""

    def read(tenant, order_id):
        with in_tenant(tenant):
            return money_snapshot(order_id)

    return read


@pytest.fixture
def web():
    return SimpleNamespace(csrf_token=csrf_token, login=login)
