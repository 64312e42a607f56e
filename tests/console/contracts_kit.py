"""Test kit of the console's contracts area: the contracts kit's active contract
(tests/contracts/conftest.py ``contract_in``) plus a moderator and contracts in the other
states the console shows, all written through the real services.

``contracts_market(tenant)`` ->
- ``active`` (C-1 on a fresh tenant): Ann hired on TERMS, both signed, milestone 1 funded
  ($1,000) and submitted (auto-release in 14 days), milestone 2 ($2,000) planned;
- ``offered``: a direct offer to Bob ($500), not answered;
- ``done``: a direct contract with Bob signed 40 days ago (started in the previous 30-day
  period), its one milestone ($500) funded, submitted and accepted now: paid, the contract
  completed;
- an extra job posted 40 days ago (the previous period's "Jobs posted").

Modules import the fixture: ``from tests.console.contracts_kit import contracts_market``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.accounts.models import User
from app.contracts import services
from app.jobs import services as jobs
from app.orders import milestones
from app.orders.models import Order
from tenants.db import db
from tests.contracts.conftest import TERMS, contract_in, hiring  # noqa: F401  (fixtures)
from tests.jobs.conftest import JOB

NOW = datetime.now(UTC)
M1, M2, SMALL = 100000, 200000, 50000


def u(user_id):
    return db.session.get(User, user_id)


def direct_terms(title: str) -> dict:
    return {
        "title": title,
        "scope": "A landing page in the client's brand, with the copy they send.",
        "milestones": [{"title": "Page", "amount_minor": SMALL, "description": "The page, live", "dod": []}],
        "total_minor": SMALL,
    }


@pytest.fixture
def contracts_market(contract_in, make_user, in_tenant):  # noqa: F811  (the imported fixture)
    def build(tenant):
        h, active, order_id, (m1, m2) = contract_in(tenant, fund=1)
        h.moderator = make_user(
            tenant, email=f"mod@{tenant.slug}.test", display_name="Mo Derator", role="moderator"
        )
        with in_tenant(tenant):
            client, ann, bob = u(h.client), u(h.ann), u(h.bob)
            milestones.submit_milestone(ann, order_id, m1, "The designs, as agreed", dod_done=[1])
            offered = services.direct_offer(client, h.bob, direct_terms(f"Logo refresh for {tenant.slug}"))
            done = services.direct_offer(
                client, h.bob, direct_terms("Landing page"), now=NOW - timedelta(days=41)
            )
            services.accept_offer(bob, done.id, now=NOW - timedelta(days=41))
            services.sign(bob, done.id, "Bob Dev", ip="10.0.0.3", now=NOW - timedelta(days=40))
            services.sign(client, done.id, "Cleo Client", ip="10.0.0.4", now=NOW - timedelta(days=40))
            done_order = db.session.get(Order, done.order_id)
            (done_m,) = [m.id for m in done_order.milestones]
            milestones.mark_milestone_funded(done_order.id, done_m, f"pay_{done_order.id}_0")
            milestones.submit_milestone(bob, done_order.id, done_m, "Live at /landing")
            milestones.accept_milestone(client, done_order.id, done_m)
            services.sync_with_engagement(done_order.id)  # as the order.completed handler does
            jobs.post_job(
                client, {**JOB, "title": "An older job"}, publish_now=True, now=NOW - timedelta(days=40)
            )
            db.session.commit()
            h.active, h.order_id, h.m1, h.m2 = active, order_id, m1, m2
            h.offered, h.done, h.done_order, h.done_m = offered.id, done.id, done_order.id, done_m
            h.moderator_email = f"mod@{tenant.slug}.test"
        return h

    return build
