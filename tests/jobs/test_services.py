"""Jobs, proposals, invites and matching as specifications (services, tenant bound)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.core.domain_errors import DomainError
from app.events.models import OutboxEvent
from app.jobs import matching, proposals, services
from app.jobs.models import Job, JobTemplate, Proposal
from tenants.db import db
from tests.jobs.conftest import JOB, PROPOSAL

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def u(user_id):
    return db.session.get(User, user_id)


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def world(acme, people, in_tenant):
    p = people(acme)
    with in_tenant(acme):
        job = services.post_job(u(p.client), dict(JOB), publish_now=True, now=NOW)
        db.session.commit()
        p.job_id = job.id
    return p


def test_new_tenants_get_the_nine_templates(acme, in_tenant):
    with in_tenant(acme):
        names = [t.name for t in services.list_templates()]
    assert names == [
        "SaaS MVP",
        "Shopify app",
        "Next.js site",
        "REST API",
        "Data pipeline",
        "LLM app",
        "Mobile app",
        "DevOps task",
        "Security audit",
    ]


def test_a_job_from_a_template_is_prefilled_and_hidden_templates_are_refused(acme, people, in_tenant):
    p = people(acme)
    with in_tenant(acme):
        template = db.session.scalar(sa.select(JobTemplate).where(JobTemplate.key == "rest-api"))
        job = services.post_job(
            u(p.client),
            {
                "budget_type": "fixed",
                "budget_min_minor": 1000,
                "budget_max_minor": 2000,
                "experience_level": "expert",
            },
            template_id=template.id,
            now=NOW,
        )
        assert job.status == "draft" and job.template_id == template.id
        assert "openapi" in job.skills and "Milestones" in job.description_html
        template.hidden = True
        db.session.flush()
        with pytest.raises(DomainError) as exc:
            services.post_job(u(p.client), dict(JOB), template_id=template.id, now=NOW)
        assert "template_id" in exc.value.errors


def test_publish_emits_job_posted_and_a_second_publish_is_a_409(acme, people, in_tenant):
    p = people(acme)
    with in_tenant(acme):
        job = services.post_job(u(p.client), dict(JOB), now=NOW)
        services.publish_job(u(p.client), job.id, now=NOW)
        assert job.status == "open" and job.published_at == NOW
        assert db.session.scalar(sa.select(sa.func.count()).where(OutboxEvent.name == "job.posted")) == 1
        with pytest.raises(DomainError) as exc:
            services.publish_job(u(p.client), job.id, now=NOW)
        assert exc.value.status == 409 and exc.value.extra["current_status"] == "open"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"budget_min_minor": 0}, "budget_min_minor"),
        ({"budget_min_minor": -5}, "budget_min_minor"),
        ({"budget_max_minor": 1000}, "budget_max_minor"),
        ({"budget_type": "hourly"}, "rate_min_minor"),
        ({"rate_min_minor": 100}, "rate_min_minor"),
        ({"title": "short"}, "title"),
        ({"title": "<b>Build a booking tool</b>"}, "title"),
        ({"screening_questions": ["q?"] * 6}, "screening_questions"),
        ({"experience_level": "guru"}, "experience_level"),
        ({"category_id": 999999}, "category_id"),
    ],
)
def test_bad_jobs_are_refused_and_nothing_is_stored(acme, people, in_tenant, change, field):
    p = people(acme)
    with in_tenant(acme):
        with pytest.raises(DomainError) as exc:
            services.post_job(u(p.client), {**JOB, **change}, now=NOW)
        assert field in exc.value.errors and exc.value.status == 422
        db.session.rollback()
        assert count(Job) == 0


def test_a_freelancer_proposes_once_and_the_client_is_told(acme, world, in_tenant):
    with in_tenant(acme):
        proposal = proposals.submit_proposal(u(world.ann), world.job_id, dict(PROPOSAL), now=NOW)
        assert proposal.status == "submitted" and proposal.total_minor == 300000
        names = db.session.scalars(sa.select(OutboxEvent.name)).all()
        assert "proposal.submitted" in names
        db.session.commit()
        with pytest.raises(DomainError) as exc:
            proposals.submit_proposal(u(world.ann), world.job_id, dict(PROPOSAL), now=NOW)
        assert exc.value.status == 409
        db.session.rollback()
        assert count(Proposal) == 1


@pytest.mark.parametrize(
    "change, field",
    [
        (
            {"milestones": [{"title": "A", "amount_minor": 100000}, {"title": "B", "amount_minor": 100000}]},
            "milestones",
        ),
        (
            {"milestones": [{"title": "A", "amount_minor": 0}, {"title": "B", "amount_minor": 300000}]},
            "milestones.0.amount_minor",
        ),
        (
            {"milestones": [{"title": "A", "amount_minor": -100}, {"title": "B", "amount_minor": 300100}]},
            "milestones.0.amount_minor",
        ),
        ({"total_minor": 0, "milestones": []}, "total_minor"),
        ({"total_minor": -1, "milestones": []}, "total_minor"),
        ({"rate_minor": 5000}, "rate_minor"),
        ({"cover_letter": "Hi"}, "cover_letter"),
        ({"delivery_days": 0}, "delivery_days"),
        ({"portfolio_item_ids": [424242]}, "portfolio_item_ids"),
    ],
)
def test_bad_proposals_are_refused_and_nothing_is_stored(acme, world, in_tenant, change, field):
    with in_tenant(acme):
        with pytest.raises(DomainError) as exc:
            proposals.submit_proposal(u(world.ann), world.job_id, {**PROPOSAL, **change}, now=NOW)
        assert field in exc.value.errors and exc.value.status == 422
        db.session.rollback()
        assert count(Proposal) == 0


def test_no_proposal_on_own_closed_or_draft_jobs_or_by_non_sellers(acme, world, in_tenant, make_seller):
    with in_tenant(acme):
        with pytest.raises(DomainError) as exc:
            proposals.submit_proposal(u(world.member), world.job_id, dict(PROPOSAL), now=NOW)
        assert exc.value.status == 403
    seller_client = make_seller(acme, email="sc@acme.test")
    with in_tenant(acme):
        own = services.post_job(u(seller_client), dict(JOB), publish_now=True, now=NOW)
        with pytest.raises(DomainError) as exc:
            proposals.submit_proposal(u(seller_client), own.id, dict(PROPOSAL), now=NOW)
        assert exc.value.status == 409
        services.close_job(u(world.client), world.job_id, now=NOW)
        with pytest.raises(DomainError) as exc:
            proposals.submit_proposal(u(world.ann), world.job_id, dict(PROPOSAL), now=NOW)
        assert exc.value.status == 409 and exc.value.extra["current_status"] == "cancelled"
        draft = services.post_job(u(world.client), dict(JOB), now=NOW)
        with pytest.raises(DomainError) as exc:
            proposals.submit_proposal(u(world.ann), draft.id, dict(PROPOSAL), now=NOW)
        assert exc.value.status == 404


def test_withdraw_then_propose_again_and_client_review_steps(acme, world, in_tenant):
    with in_tenant(acme):
        first = proposals.submit_proposal(u(world.ann), world.job_id, dict(PROPOSAL), now=NOW)
        proposals.withdraw_proposal(u(world.ann), first.id, now=NOW)
        second = proposals.submit_proposal(u(world.ann), world.job_id, dict(PROPOSAL), now=NOW)
        with pytest.raises(DomainError) as exc:
            proposals.review_proposal(u(world.ann), second.id, "shortlisted", now=NOW)
        assert exc.value.status == 403
        proposals.review_proposal(u(world.client), second.id, "shortlisted", now=NOW)
        proposals.review_proposal(
            u(world.client), second.id, "declined", message="We went another way.", now=NOW
        )
        assert second.status == "declined" and second.decline_message == "We went another way."
        with pytest.raises(DomainError) as exc:
            proposals.review_proposal(u(world.client), second.id, "shortlisted", now=NOW)
        assert exc.value.status == 409 and exc.value.extra["current_status"] == "declined"
        with pytest.raises(DomainError):
            proposals.edit_proposal(u(world.ann), second.id, dict(PROPOSAL), now=NOW)


def test_proposals_are_ranked_by_match_with_an_explanation(acme, world, in_tenant):
    with in_tenant(acme):
        bob = proposals.submit_proposal(u(world.bob), world.job_id, dict(PROPOSAL), now=NOW)
        ann = proposals.submit_proposal(u(world.ann), world.job_id, dict(PROPOSAL), now=NOW)
        ranked = proposals.list_job_proposals(u(world.client), world.job_id)
        assert [p.id for p, _ in ranked] == [ann.id, bob.id]
        top = ranked[0][1]
        assert top.terms["skill_match"] == 1.0 and top.terms["reviews"] == 0.5
        assert "matches 3 of 3 skills" in top.explanation
        assert ranked[1][1].terms["availability"] == pytest.approx(0.3)
        ranked_all = matching.rank_freelancers(db.session.get(Job, world.job_id))
        assert ranked_all[0].user_id == world.ann


def test_jobs_matching_my_skills_and_browse_filters(acme, world, in_tenant):
    with in_tenant(acme):
        rows, total = matching.jobs_for_skills(services.freelancer_skills(u(world.ann)))
        assert total == 1 and rows[0][1] == 3
        assert matching.jobs_for_skills(services.freelancer_skills(u(world.bob)))[1] == 0
        assert services.browse_jobs(q="booking gyms", now=NOW)[1] == 1
        assert services.browse_jobs(q="blockchain", now=NOW)[1] == 0
        assert services.browse_jobs(skills=["react"], budget_type="fixed", now=NOW)[1] == 1
        assert services.browse_jobs(budget_min_minor=600000, now=NOW)[1] == 0
        assert services.browse_jobs(posted_within_days=1, now=NOW + timedelta(days=3))[1] == 0


def test_invites_sent_answered_and_expired(acme, world, in_tenant):
    with in_tenant(acme):
        invite = services.send_invite(u(world.client), world.job_id, world.ann, "Please apply", now=NOW)
        with pytest.raises(DomainError) as exc:
            services.send_invite(u(world.client), world.job_id, world.ann, now=NOW)
        assert exc.value.status == 409
        with pytest.raises(DomainError):
            services.send_invite(u(world.client), world.job_id, world.member, now=NOW)
        services.respond_to_invite(u(world.ann), invite.id, accept=True, now=NOW)
        assert invite.status == "accepted"
        late = services.send_invite(u(world.client), world.job_id, world.bob, now=NOW)
        with pytest.raises(DomainError) as exc:
            services.respond_to_invite(u(world.bob), late.id, accept=True, now=NOW + timedelta(days=30))
        assert exc.value.extra["current_status"] == "expired"


def test_invite_only_jobs_are_seen_by_invited_freelancers_only(acme, world, in_tenant):
    with in_tenant(acme):
        job = services.post_job(
            u(world.client), {**JOB, "visibility": "invite_only"}, publish_now=True, now=NOW
        )
        with pytest.raises(DomainError):
            services.get_job(u(world.ann), job.id)
        assert services.browse_jobs(now=NOW)[1] == 1  # only the public one
        services.send_invite(u(world.client), job.id, world.ann, now=NOW)
        assert services.get_job(u(world.ann), job.id) is job
