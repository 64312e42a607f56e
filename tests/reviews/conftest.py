"""Reviews test kit: completed orders in a market (tests/orders/conftest.py) and the parties."""

from __future__ import annotations

import pytest

from tests.gigs.conftest import make_gig  # noqa: F401  (fixture)
from tests.orders.conftest import drive, market, user  # noqa: F401  (fixtures and helpers)

GOOD = {"rating": 5, "communication": 5, "as_described": 4, "would_recommend": 5, "text": "Great work, fast."}
BACK = {"rating": 4, "text": "Clear brief, paid on time."}


@pytest.fixture
def completed(market, in_tenant):  # noqa: F811
    """``completed(tenant)`` -> (market, order_id) of a completed order (tenant not bound after)."""

    def make(tenant, m=None):
        m = m or market(tenant)
        with in_tenant(tenant):
            return m, drive(m, "completed")

    return make
