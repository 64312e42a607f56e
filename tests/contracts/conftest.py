"""Contracts test kit: a published job of each tenant's client with proposals of Ann and Bob,
and terms to hire with."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tests.gigs.conftest import api_token  # noqa: F401  (fixture)
from tests.jobs.conftest import JOB, PROPOSAL, people  # noqa: F401  (fixture)
from tests.orders.test_done_when import provider  # noqa: F401  (fixture: the sandbox, then Stripe)
from tests.payments.conftest import stripe_emulator  # noqa: F401  (fixture)

TERMS = {
    "scope": "Build the booking tool described in the job: calendar, payments and reminders.",
    "milestones": [
        {
            "title": "Design",
            "amount_minor": 100000,
            "description": "Screens and data model",
            "dod": ["ERD shared"],
        },
        {"title": "Build", "amount_minor": 200000, "description": "The working tool", "dod": []},
    ],
    "total_minor": 300000,
    "nda": True,
    "ip_assignment": True,
    "message": "Happy to start on Monday.",
}


@pytest.fixture
def hiring(request, in_tenant):
    """``hiring(tenant)`` -> people plus ``job_id`` (open) and ``ann_proposal`` / ``bob_proposal`` ids."""
    from app.accounts.models import User
    from app.jobs import proposals, services
    from tenants.db import db

    make_people = request.getfixturevalue("people")

    def build(tenant):
        p = make_people(tenant)
        now = datetime.now(UTC)
        with in_tenant(tenant):
            client = db.session.get(User, p.client)
            job = services.post_job(client, dict(JOB), publish_now=True, now=now)
            ann = proposals.submit_proposal(db.session.get(User, p.ann), job.id, dict(PROPOSAL), now=now)
            bob = proposals.submit_proposal(db.session.get(User, p.bob), job.id, dict(PROPOSAL), now=now)
            db.session.commit()
            return SimpleNamespace(**vars(p), job_id=job.id, ann_proposal=ann.id, bob_proposal=bob.id)

    return build


def user(user_id):
    from app.accounts.models import User
    from tenants.db import db

    return db.session.get(User, user_id)


@pytest.fixture
def contract_in(hiring, in_tenant):
    """``contract_in(tenant, sign=True, fund=1)`` -> (people, contract_id, order_id or None,
    milestone ids): Ann hired on TERMS, the SoW signed by both (the engagement open) and the
    first ``fund`` milestones funded in the ledger (as payments would)."""
    from app.contracts import services
    from app.orders import milestones
    from app.orders.models import Order
    from tenants.db import db

    def make(tenant, sign=True, fund=1, terms=TERMS):
        h = hiring(tenant)
        with in_tenant(tenant):
            contract = services.offer_from_proposal(user(h.client), h.ann_proposal, dict(terms))
            services.accept_offer(user(h.ann), contract.id)
            order_id, ids = None, []
            if sign:
                services.sign(user(h.ann), contract.id, "Ann Dev", ip="10.0.0.1")
                services.sign(user(h.client), contract.id, "Cleo Client", ip="10.0.0.2")
                order_id = contract.order_id
                ids = [m.id for m in db.session.get(Order, order_id).milestones]
                for i, mid in enumerate(ids[:fund]):
                    milestones.mark_milestone_funded(order_id, mid, f"pay_{order_id}_{i}")
            db.session.commit()
            return h, contract.id, order_id, ids

    return make
