"""Matching and browsing at the edges the fast paths take (bench.jobs_bench): ranking the best
few reads portfolios and snapshots of the sellers who can still make the list only, and a page
counted in the same pass as it is ordered still knows its total past the end."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.accounts.models import SellerProfile, User
from app.accounts.services import add_portfolio_item, upsert_seller_profile
from app.jobs import matching, services
from app.jobs.models import Job
from app.reviews.models import ReputationSnapshot
from tenants.db import db
from tests.jobs.conftest import JOB

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)

# (skills, availability, rating avg and count, portfolio item text, on-time % per day or None)
SELLERS = [
    (["python", "react"], "full_time", ("4.90", 40), "React dashboards in Python", [90, 100]),
    (["python"], "part_time", ("3.50", 3), "", [40]),
    (["react", "postgresql"], "occasional", ("5.00", 200), "PostgreSQL tuning", None),
    ([], "full_time", ("0", 0), "Python, React and PostgreSQL apps", [100, 20]),
    (["php"], "unavailable", ("4.00", 10), "", [70]),
    (["python", "react", "postgresql"], "unavailable", ("2.00", 5), "", [0]),
    (["postgresql"], "full_time", ("0", 0), "react native apps with postgresql", None),
    (["react"], "part_time", ("4.50", 12), "", [100]),
]
WEIGHTS = [
    None,
    {
        "skill_match": 0.05,
        "portfolio_fit": 0.6,
        "reviews": 0.05,
        "delivery_score": 0.25,
        "availability": 0.05,
    },
    {"skill_match": 0.5, "portfolio_fit": -0.3, "reviews": 0.2, "delivery_score": 0.9, "availability": 0.0},
    {"skill_match": 0.0, "portfolio_fit": 0.0, "reviews": 0.0, "delivery_score": 1.0, "availability": 0.0},
]


@pytest.fixture
def market(acme, make_user, make_seller, in_tenant):
    """A client's open job (python, react, postgresql) and eight sellers of every kind."""
    client = make_user(acme, email="client@acme.test")
    sellers = [make_seller(acme, email=f"seller{n}@acme.test") for n in range(len(SELLERS))]
    with in_tenant(acme):
        for user_id, (skills, availability, (avg, n), portfolio, on_time) in zip(
            sellers, SELLERS, strict=True
        ):
            user = db.session.get(User, user_id)
            upsert_seller_profile(user, skills=skills, availability=availability)
            profile = db.session.get(SellerProfile, user_id)
            profile.rating_avg, profile.rating_count = Decimal(avg), n
            if portfolio:
                add_portfolio_item(user, portfolio, link="https://example.com/work")
            for days_ago, rate in enumerate(reversed(on_time or [])):
                db.session.add(
                    ReputationSnapshot(
                        user_id=user_id,
                        taken_on=date(2026, 11, 30) - timedelta(days=days_ago),
                        on_time_rate=rate,
                    )
                )
        job = services.post_job(db.session.get(User, client), dict(JOB), publish_now=True, now=NOW)
        db.session.commit()
        return job.id, sellers


@pytest.mark.parametrize("weights", WEIGHTS)
def test_ranking_the_best_few_gives_the_top_of_scoring_everyone(acme, market, in_tenant, weights):
    job_id, sellers = market
    with in_tenant(acme):
        job = db.session.get(Job, job_id)
        everyone = matching.score_freelancers(job, weights=weights)
        assert sorted(everyone) == sorted(sellers)
        best = sorted(everyone.values(), key=lambda m: (-m.score, m.user_id))
        for limit in range(1, len(sellers) + 2):
            ranked = matching.rank_freelancers(job, limit=limit, weights=weights)
            assert [m.score for m in ranked] == [m.score for m in best[:limit]]
            assert all(m.terms == everyone[m.user_id].terms for m in ranked)


def test_a_job_without_skills_ranks_like_scoring_everyone(acme, market, in_tenant):
    job_id, _sellers = market
    with in_tenant(acme):
        job = db.session.get(Job, job_id)
        job.skills = []
        everyone = matching.score_freelancers(job)
        best = sorted(everyone.values(), key=lambda m: (-m.score, m.user_id))
        assert [m.score for m in matching.rank_freelancers(job, limit=3)] == [m.score for m in best[:3]]
        assert all(m.terms["skill_match"] == 0.5 for m in everyone.values())
        db.session.rollback()


def test_the_latest_snapshot_gives_the_delivery_term(acme, market, in_tenant):
    job_id, sellers = market
    with in_tenant(acme):
        job = db.session.get(Job, job_id)
        scores = matching.score_freelancers(job, sellers[:4])
        assert scores[sellers[0]].terms["delivery_score"] == 1.0  # 90 the day before, 100 on the latest
        assert scores[sellers[3]].terms["delivery_score"] == pytest.approx(0.2)
        assert scores[sellers[2]].terms["delivery_score"] == 0.5  # no snapshot: neutral
        assert scores[sellers[3]].terms["portfolio_fit"] == 1.0  # "Python, React and PostgreSQL apps"
        assert scores[sellers[0]].skills_matched == 2


def test_pages_past_the_end_still_tell_the_total(acme, market, in_tenant, make_seller):
    job_id, sellers = market
    with in_tenant(acme):
        jobs, total = services.browse_jobs(q="booking gyms", now=NOW)
        assert [j.id for j in jobs] == [job_id] and total == 1
        assert services.browse_jobs(q="booking gyms", page=3, now=NOW) == ([], 1)
        assert services.browse_jobs(q="blockchain", now=NOW) == ([], 0)
        rows, total = matching.jobs_for_skills(["react", "go"])
        assert [(job.id, hits) for job, hits in rows] == [(job_id, 1)] and total == 1
        assert matching.jobs_for_skills(["react", "go"], page=2) == ([], 1)
        assert matching.jobs_for_skills(["go"]) == ([], 0)
