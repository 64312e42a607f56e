"""Demo jobs and contracts (``app.demo.jobs.seed_jobs``), seeded small into the suite's acme
tenant: open jobs from the templates with proposals, an invite, the printed buyer's job ready
to hire, an active contract (milestone 1 submitted, milestone 2 funded at the sandbox), a
completed one and an open offer to the printed seller; the ledger verifies."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.contracts import services as contracts
from app.contracts import sow
from app.contracts.models import Contract, SowSignature
from app.demo import people
from app.demo.seed import DEMO_TENANTS, seed_demo
from app.events.models import OutboxEvent
from app.jobs import matching
from app.jobs import services as jobs
from app.jobs.models import Job, JobInvite, JobTemplate, Proposal
from app.ledger import services as ledger
from app.ledger.verify import verify
from app.notifications.models import Notification
from app.orders.models import Order, OrderEvent
from app.orders.services import commission_for
from app.payments.models import Payment
from app.reviews.models import ReviewWindow
from tenants.db import db

SELLERS, GIGS = 4, 2


@pytest.fixture
def seeded(app, search_index_dir):
    """Acme's demo, small: four sellers, two gigs, no gig orders (the contracts are all there is)."""
    with app.app_context():
        return seed_demo(
            sellers_per_tenant=SELLERS, gigs_per_tenant=GIGS, orders_per_tenant=0, tenants=[DEMO_TENANTS[0]]
        )


def _user(email: str):
    return db.session.scalar(sa.select(jobs.User).where(jobs.User.email == email))


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_demo_jobs_proposals_and_contracts_in_their_states(seeded, app, in_tenant, acme):
    line = next(line for line in seeded if line.startswith("acme: added"))
    assert re.search(r"\d+ jobs \(\d+ open\), \d+ proposals", line) and "3 contracts" in line
    printed_seller = re.search(r"(\S+) \(seller\)", next(x for x in seeded if "log in as" in x)).group(1)
    now = datetime.now(UTC)
    with in_tenant(acme):
        seller = _user(printed_seller)
        buyer = _user(f"{people.BUYERS[0][1]}@acme.test")
        all_jobs = list(db.session.scalars(sa.select(Job)))
        open_jobs = [j for j in all_jobs if j.status == "open"]
        # About ten open jobs, posted from all nine templates by several buyers, in the past.
        assert 8 <= len(open_jobs) <= 12
        assert _count(JobTemplate) == len({j.template_id for j in all_jobs}) == 9
        assert len({j.client_id for j in open_jobs}) >= 4
        assert all(j.published_at < now and j.created_at <= j.published_at for j in all_jobs)
        # Two to four fixed-price proposals on each open job, with milestones adding up.
        for job in open_jobs:
            proposals = list(db.session.scalars(sa.select(Proposal).where(Proposal.job_id == job.id)))
            assert 2 <= len(proposals) <= 4, job.title
            for p in proposals:
                assert p.payment_type == "fixed" and len(p.milestones) >= 2
                assert sum(m["amount_minor"] for m in p.milestones) == p.total_minor
                assert job.budget_min_minor <= p.total_minor <= job.budget_max_minor
                assert job.published_at <= p.created_at < now
        statuses = set(db.session.scalars(sa.select(Proposal.status)))
        assert {"submitted", "shortlisted", "archived", "hired"} <= statuses
        # The printed seller finds jobs matching their skills.
        matches, total = matching.jobs_for_skills(jobs.freelancer_skills(seller))
        assert total >= 3
        # One invite, waiting for the printed seller.
        invite = db.session.scalars(sa.select(JobInvite)).one()
        assert (invite.freelancer_id, invite.effective_status(now)) == (seller.id, "sent")

        # The printed buyer's job: two proposals, the printed seller's among them, ready to hire.
        ready = [
            j for j in open_jobs if j.client_id == buyer.id and not _count(Contract, Contract.job_id == j.id)
        ]
        assert len(ready) == 1
        proposals = list(db.session.scalars(sa.select(Proposal).where(Proposal.job_id == ready[0].id)))
        assert len(proposals) == 2 and seller.id in {p.freelancer_id for p in proposals}
        assert {p.status for p in proposals} <= {"submitted", "shortlisted"}

        fixed = sa.select(Contract).where(
            Contract.payment_model == "fixed"
        )  # the hourly one: test_demo_hourly
        by_status = {c.status: c for c in db.session.scalars(fixed)}
        assert set(by_status) == {"offered", "active", "completed"}

        # The open offer: from a proposal of the printed seller, waiting for them.
        offer = by_status["offered"]
        assert offer.freelancer_id == seller.id and contracts.effective_status(offer) == "offered"
        assert contracts.actions(offer, seller) == ["accept", "decline"]
        assert db.session.get(Job, offer.job_id).status == "open"

        # The active contract: signed by both, milestone 1 submitted, milestone 2 funded ahead.
        active = by_status["active"]
        assert active.client_id == buyer.id
        assert _count(SowSignature) >= 4  # both signatures of the active and the completed contract
        assert {s.role for s in sow.signatures(sow.statement_of(active))} == {
            "client",
            "freelancer",
        }
        order = db.session.get(Order, active.order_id)
        m1, m2, *rest = order.milestones
        # Milestone 2 (funded ahead) is disputed by the client in the demo disputes (app/demo/disputes.py).
        assert (m1.status, m2.status) == ("submitted", "disputed") and all(
            m.status == "planned" for m in rest
        )
        assert m1.funded_at < m1.submitted_at < now and m1.auto_release_at > now
        assert order.status == "in_progress" and db.session.get(Job, active.job_id).status == "in_progress"
        paid = dict(
            db.session.execute(
                sa.select(Payment.milestone_id, Payment.status).where(Payment.order_id == order.id)
            ).all()
        )
        assert paid == {m1.id: "succeeded", m2.id: "succeeded"}  # the sandbox checkout, per milestone
        assert ledger.milestone_escrow_balance(order.id, m1.id, order.currency) == m1.amount_minor
        assert ledger.escrow_balance(order.id, order.currency) == m1.amount_minor + m2.amount_minor
        # Dated as the story goes, not all "now".
        stamps = list(
            db.session.scalars(
                sa.select(OrderEvent.created_at)
                .where(OrderEvent.order_id == order.id)
                .order_by(OrderEvent.id)
            )
        )
        assert stamps == sorted(stamps) and (now - stamps[0]).days >= 20

        # The completed contract: the printed seller's, two milestones paid, job completed.
        done = by_status["completed"]
        assert done.freelancer_id == seller.id and done.ended_at < now
        order = db.session.get(Order, done.order_id)
        assert order.status == "completed" and [m.status for m in order.milestones] == ["paid", "paid"]
        assert db.session.get(Job, done.job_id).status == "completed"
        assert ledger.escrow_balance(order.id, order.currency) == 0
        first, second = (m.amount_minor - commission_for(m.amount_minor) for m in order.milestones)
        balances = ledger.seller_balances(seller.id, order.currency)
        # The first was released three weeks ago (cleared), the second five days ago (pending);
        # the demo hourly contract's billed week (app/demo/hourly.py) is pending too.
        hourly = db.session.scalars(sa.select(Contract).where(Contract.payment_model == "hourly")).one()
        weeks = db.session.get(Order, hourly.order_id).milestones
        billed = sum(m.amount_minor - commission_for(m.amount_minor) for m in weeks if m.status == "paid")
        assert (balances["available"], balances["pending"]) == (first, second + billed)
        assert db.session.get(ReviewWindow, order.id).status == "open"

        # History: no bells, nothing left for the worker; the ledger verifies.
        assert _count(Notification) == 0
        assert _count(OutboxEvent, OutboxEvent.status != "dispatched") == 0
        report = verify()
        assert report.ok, report.problems
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0 and "acme: OK" in result.output, result.output

    # Seeding again adds nothing.
    with app.app_context():
        again = seed_demo(
            sellers_per_tenant=SELLERS, gigs_per_tenant=GIGS, orders_per_tenant=0, tenants=[DEMO_TENANTS[0]]
        )
    assert "acme: demo content already there" in again, again
    with in_tenant(acme):
        assert _count(Job) == len(all_jobs)
