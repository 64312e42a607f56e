"""Workroom test kit: an active contract (Ann hired by Cleo, the SoW signed, milestone 1
funded) per tenant, its people, and helpers to act as them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.accounts.models import User
from tenants.db import db
from tests.code.conftest import linked  # noqa: F401  (fixture: a contract with a linked repo)
from tests.contracts.conftest import TERMS, contract_in, hiring  # noqa: F401  (fixtures)
from tests.gigs.conftest import api_token  # noqa: F401  (fixture)
from tests.hourly.conftest import hourly_in  # noqa: F401  (fixture: an active hourly contract)
from tests.jobs.conftest import people  # noqa: F401  (fixture)

TODAY = datetime.now(UTC).date()
DUE_1, DUE_2 = TODAY + timedelta(days=20), TODAY + timedelta(days=45)
DUE_TERMS = {
    **TERMS,
    "milestones": [
        {**TERMS["milestones"][0], "due_date": DUE_1.isoformat()},
        {**TERMS["milestones"][1], "due_date": DUE_2.isoformat()},
    ],
}


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


@pytest.fixture
def room(contract_in):  # noqa: F811  (the imported fixture)
    """``room(tenant)`` -> SimpleNamespace(people..., contract_id, order_id, milestone_ids)."""

    def make(tenant, terms=DUE_TERMS):
        h, contract_id, order_id, ids = contract_in(tenant, terms=terms)
        return SimpleNamespace(**vars(h), contract_id=contract_id, order_id=order_id, milestone_ids=ids)

    return make
