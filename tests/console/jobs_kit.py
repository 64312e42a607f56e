"""Test kit of the console's jobs area: the jobs kit's people (tests/jobs/conftest.py) plus a
moderator, and jobs in every state the console shows, written through the real services.
Modules import the fixture: ``from tests.console.jobs_kit import jobs_market, people``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.accounts.models import User
from app.jobs import proposals, services
from tenants.db import db
from tests.jobs.conftest import JOB, PROPOSAL, people  # noqa: F401  (fixture)

NOW = datetime.now(UTC)


def u(user_id):
    return db.session.get(User, user_id)


@pytest.fixture
def jobs_market(people, make_user, in_tenant):  # noqa: F811  (the imported fixture)
    """``jobs_market(tenant)`` -> the jobs kit's people plus a moderator, an open job with two
    proposals and two invites (one past its expiry), a draft and a job the client closed."""

    def build(tenant):
        p = people(tenant)
        p.moderator = make_user(
            tenant, email=f"mod@{tenant.slug}.test", display_name="Mo Derator", role="moderator"
        )
        with in_tenant(tenant):
            client = u(p.client)
            job = services.post_job(
                client, {**JOB, "title": f"Booking tool for {tenant.slug} gyms"}, publish_now=True, now=NOW
            )
            draft = services.post_job(client, {**JOB, "title": "A draft nobody sees yet"}, now=NOW)
            closed = services.post_job(
                client,
                {**JOB, "title": "An old logo contest job"},
                publish_now=True,
                now=NOW - timedelta(days=40),
            )
            services.close_job(client, closed.id, now=NOW)
            ann = proposals.submit_proposal(u(p.ann), job.id, dict(PROPOSAL), now=NOW)
            bob = proposals.submit_proposal(
                u(p.bob), job.id, {**PROPOSAL, "total_minor": 250000, "milestones": []}, now=NOW
            )
            proposals.review_proposal(client, bob.id, "shortlisted", now=NOW)
            services.send_invite(client, job.id, p.ann, now=NOW)
            late = services.send_invite(client, job.id, p.bob, now=NOW - timedelta(days=30))
            db.session.commit()
            p.job, p.draft, p.closed = job.id, draft.id, closed.id
            p.ann_proposal, p.bob_proposal, p.late_invite = ann.id, bob.id, late.id
        return p

    return build
