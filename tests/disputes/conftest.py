"""Disputes test kit: a paid gig order or a contract's funded milestone to dispute, and the
people around it (the order kit's market: seller, buyer, admin, stranger; a moderator)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from tenants.db import db
from tests.contracts.conftest import TERMS, contract_in, hiring  # noqa: F401  (fixtures)
from tests.gigs.conftest import api_token, make_gig  # noqa: F401  (fixtures)
from tests.jobs.conftest import people  # noqa: F401  (fixture)
from tests.orders.conftest import drive, ledger_of, market, order_in  # noqa: F401  (fixtures)


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


@pytest.fixture
def moderator_of(make_user, in_tenant):
    """``moderator_of(tenant)`` -> the id of a moderator of that tenant."""

    def make(tenant):
        uid = make_user(tenant, email=f"mod@{tenant.slug}.test", display_name="Mia Moderator")
        with in_tenant(tenant):
            db.session.get(User, uid).role = "moderator"
            db.session.commit()
        return uid

    return make


def admin_id() -> int:
    return db.session.scalar(sa.select(User.id).where(User.role == "admin").order_by(User.id))
