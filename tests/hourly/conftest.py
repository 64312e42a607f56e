"""Hourly test kit: an active hourly contract (Cleo hires Ann) on a fixed clock, with Cleo's
saved sandbox card; ``clock`` gives the instants tests move through."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tests.contracts.conftest import contract_in, user  # noqa: F401  (fixtures)
from tests.contracts.conftest import hiring as hiring  # noqa: F401  (fixture)
from tests.gigs.conftest import api_token  # noqa: F401  (fixture)
from tests.jobs.conftest import JOB, PROPOSAL, people  # noqa: F401  (fixtures)
from tests.payments.conftest import stripe_emulator, use_stripe  # noqa: F401  (fixtures)

# Monday 2 March 2026, 08:00 UTC (09:00 in Berlin): the contract starts on a week's first day.
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HOURLY = {
    "payment_model": "hourly",
    "title": "Backend work on the booking tool",
    "scope": "Keep the booking tool's backend healthy: features, fixes and reviews.",
    "rate_minor": 4_500,  # 45.00 an hour
    "weekly_cap_hours": 10,
    "timezone": "Europe/Berlin",
    "message": "Weekly, as discussed.",
}


@pytest.fixture
def hourly_in(request, in_tenant):
    """``hourly_in(tenant, card="4242424242424242", terms=HOURLY, now=T0)`` -> namespace with
    people, ``contract_id`` and ``order_id``: Ann hired on hourly terms, both signed, Cleo's
    card saved (``card=None``: none)."""
    from app.contracts import services
    from app.payments import billing
    from tenants.db import db

    hiring = request.getfixturevalue("hiring")

    def make(tenant, card="4242424242424242", terms=HOURLY, now=T0):
        h = hiring(tenant)
        with in_tenant(tenant):
            contract = services.direct_offer(user(h.client), h.ann, dict(terms), now=now)
            services.accept_offer(user(h.ann), contract.id, now=now)
            services.sign(user(h.ann), contract.id, "Ann Dev", now=now)
            services.sign(user(h.client), contract.id, "Cleo Client", now=now)
            if card:
                billing.save_sandbox_card(user(h.client), card, "12/30", "123", today=now.date())
            db.session.commit()
            return SimpleNamespace(**vars(h), contract_id=contract.id, order_id=contract.order_id)

    return make
