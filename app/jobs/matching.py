"""Matching: how well a freelancer fits a job, and which open jobs fit a freelancer.

``score = w1·skill_match + w2·portfolio_fit + w3·reviews + w4·delivery_score + w5·availability``,
each term in 0..1 (docs/design/jobs-and-contracts.md):

- skill_match: the share of the job's skills among the seller's skills (case-insensitive);
  a job naming no skills gives 0.5 (neutral);
- portfolio_fit: the share of the job's skills named in the seller's portfolio titles and
  descriptions;
- reviews: the Bayesian average rating / 5, ``(avg·n + 2.5·C) / (n + C) / 5`` with C = 5:
  a seller without reviews scores 0.5 (neutral) and many good reviews approach their
  average (read from ``seller_profiles.rating_avg/rating_count``, kept by the reviews domain);
- delivery_score: the on-time rate of the seller's latest reputation snapshot / 100, from
  the source the reviews domain registers (``register_delivery_source``; jobs sit below
  reviews and cannot read its tables); 0.5 (neutral) without one;
- availability: full time 1, part time 0.6, occasional 0.3, unavailable 0.

Default weights .35 .15 .2 .2 .1 (``DEFAULT_WEIGHTS``). The operator tunes them per tenant in
the console (``job_settings``, app/jobs/settings.py); ``tenant_weights()`` is what every ranking
uses when no ``weights`` are passed, scaled to sum 1 so a score stays in 0..1 (a "% match").
One SQL statement scores any number of sellers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.accounts.models import PortfolioItem, SellerProfile
from app.jobs.models import Job, JobSettings
from tenants.db import db

DEFAULT_WEIGHTS = {
    "skill_match": 0.35,
    "portfolio_fit": 0.15,
    "reviews": 0.2,
    "delivery_score": 0.2,
    "availability": 0.1,
}
AVAILABILITY = {"full_time": 1.0, "part_time": 0.6, "occasional": 0.3, "unavailable": 0.0}
AVAILABILITY_LABELS = {
    "full_time": "available full time",
    "part_time": "available part time",
    "occasional": "available occasionally",
    "unavailable": "not available now",
}
PRIOR_COUNT, PRIOR_MEAN = 5, 2.5
NEUTRAL = 0.5

# Who registered the delivery source: a function returning a selectable with columns
# ``user_id`` and ``on_time_rate`` (percent), one row per seller (see app/__init__.py).
_delivery_source: list[Callable[[], sa.Subquery]] = []


def register_delivery_source(fn: Callable[[], sa.Subquery]) -> None:
    """Let a higher domain (reviews) provide sellers' latest on-time rates to the score."""
    _delivery_source[:] = [fn]


def tenant_weights() -> dict[str, float]:
    """The bound tenant's weights (the console's ``job_settings``; ``DEFAULT_WEIGHTS`` until the
    operator saves), scaled to sum 1: only their proportions rank, and a score stays in 0..1."""
    row = db.session.get(JobSettings, 1)
    weights = row.weights() if row is not None else dict(DEFAULT_WEIGHTS)
    total = sum(weights.values())
    if total <= 0:  # the table's CHECK refuses it; defaults rather than a division by zero
        return dict(DEFAULT_WEIGHTS)
    if abs(total - 1) < 1e-9:
        return weights
    return {term: value / total for term, value in weights.items()}


@dataclass
class Match:
    user_id: int
    score: float
    terms: dict[str, float]
    explanation: list[str] = field(default_factory=list)
    skills_matched: int = 0
    skills_total: int = 0

    @property
    def percent(self) -> int:
        return round(self.score * 100)


def _neutral(user_id: int) -> Match:
    terms = dict.fromkeys(DEFAULT_WEIGHTS, NEUTRAL)
    return Match(user_id, NEUTRAL, terms, ["no seller profile"])


def score_freelancers(
    job: Job, user_ids: Iterable[int] | None = None, *, limit: int | None = None, weights: dict | None = None
) -> dict[int, Match]:
    """Score sellers for ``job``: the given ``user_ids`` (members without a seller profile get a
    neutral score), or every seller but the client (best first, ``limit``). ``weights``: the
    tenant's (``tenant_weights()``) unless given."""
    weights = weights or tenant_weights()
    skills = [s.lower() for s in job.skills]
    n = len(skills)
    sp = SellerProfile.__table__
    lowered = sa.func.string_to_array(sa.func.lower(sa.func.array_to_string(sp.c.skills, "\x1f")), "\x1f")
    if n:
        skill_hits = sum(
            (sa.case((sa.literal(s) == sa.any_(lowered), 1), else_=0) for s in skills), sa.literal(0)
        )
    else:
        skill_hits = sa.literal(0)
    portfolio = (
        sa.select(
            PortfolioItem.user_id.label("user_id"),
            sa.func.lower(
                sa.func.string_agg(PortfolioItem.title + " " + PortfolioItem.description, " ")
            ).label("text"),
        )
        .group_by(PortfolioItem.user_id)
        .subquery("portfolio")
    )
    if n:
        portfolio_hits = sum(
            (
                sa.case((sa.func.strpos(sa.func.coalesce(portfolio.c.text, ""), s) > 0, 1), else_=0)
                for s in skills
            ),
            sa.literal(0),
        )
    else:
        portfolio_hits = sa.literal(0)
    reviews = (
        (sp.c.rating_avg * sp.c.rating_count + PRIOR_MEAN * PRIOR_COUNT)
        / (sp.c.rating_count + PRIOR_COUNT)
        / 5
    )
    availability = sa.case(*((sp.c.availability == k, v) for k, v in AVAILABILITY.items()), else_=0)
    source = _delivery_source[0]() if _delivery_source else None
    on_time = source.c.on_time_rate if source is not None else sa.null()
    columns = [
        sp.c.user_id,
        skill_hits.label("skill_hits"),
        portfolio_hits.label("portfolio_hits"),
        sa.cast(reviews, sa.Float).label("reviews"),
        sa.cast(on_time, sa.Float).label("on_time"),
        sp.c.availability,
        sa.cast(availability, sa.Float).label("availability_term"),
        sp.c.rating_avg,
        sp.c.rating_count,
    ]
    query = sa.select(*columns).select_from(sp.outerjoin(portfolio, portfolio.c.user_id == sp.c.user_id))
    if source is not None:
        query = query.outerjoin(source, source.c.user_id == sp.c.user_id)
    wanted = None if user_ids is None else list(set(user_ids))
    if wanted is not None:
        query = query.where(sp.c.user_id.in_(wanted))
    else:
        query = query.where(sp.c.user_id != job.client_id)
    if limit is not None:
        w = weights
        score_sql = (
            w["skill_match"] * (sa.cast(skill_hits, sa.Float) / n if n else NEUTRAL)
            + w["portfolio_fit"] * (sa.cast(portfolio_hits, sa.Float) / n if n else NEUTRAL)
            + w["reviews"] * sa.cast(reviews, sa.Float)
            + w["delivery_score"] * sa.func.coalesce(sa.cast(on_time, sa.Float) / 100, NEUTRAL)
            + w["availability"] * sa.cast(availability, sa.Float)
        )
        query = query.order_by(score_sql.desc(), sp.c.user_id).limit(limit)
    matches: dict[int, Match] = {}
    for row in db.session.execute(query):
        terms = {
            "skill_match": row.skill_hits / n if n else NEUTRAL,
            "portfolio_fit": row.portfolio_hits / n if n else NEUTRAL,
            "reviews": float(row.reviews),
            "delivery_score": row.on_time / 100 if row.on_time is not None else NEUTRAL,
            "availability": float(row.availability_term),
        }
        score = sum(weights[k] * v for k, v in terms.items())
        explanation = [f"matches {row.skill_hits} of {n} skills" if n else "the job names no skills"]
        if row.on_time is not None:
            explanation.append(f"{row.on_time:.0f} % on time")
        if row.rating_count:
            plural = "s" if row.rating_count != 1 else ""
            explanation.append(f"{float(row.rating_avg):.1f}★ from {row.rating_count} review{plural}")
        if row.portfolio_hits:
            explanation.append(f"portfolio shows {row.portfolio_hits} of the skills")
        explanation.append(AVAILABILITY_LABELS.get(row.availability, row.availability))
        matches[row.user_id] = Match(row.user_id, round(score, 4), terms, explanation, row.skill_hits, n)
    if wanted is not None:
        for user_id in wanted:
            matches.setdefault(user_id, _neutral(user_id))
    return matches


def rank_freelancers(job: Job, *, limit: int = 20, weights: dict | None = None) -> list[Match]:
    """The best-matching sellers for a job, best first (for invites)."""
    matches = score_freelancers(job, limit=limit, weights=weights)
    return sorted(matches.values(), key=lambda m: (-m.score, m.user_id))


def _portfolio_text(user_id: int) -> str:
    return (
        db.session.scalar(
            sa.select(
                sa.func.lower(sa.func.string_agg(PortfolioItem.title + " " + PortfolioItem.description, " "))
            ).where(PortfolioItem.user_id == user_id)
        )
        or ""
    )


def jobs_for_skills(
    skills: list[str],
    *,
    exclude_client_id: int | None = None,
    freelancer_id: int | None = None,
    page: int = 1,
    per_page: int = 20,
    weights: dict | None = None,
) -> tuple[list[tuple[Job, int]], int]:
    """Open public jobs naming any of ``skills`` (lower-case), each with the number of skills in
    common, best fit first, then newest.

    For one freelancer only the job-dependent terms of the score differ between jobs, so the
    fit is ``w_skill_match · skill_match + w_portfolio_fit · portfolio_fit`` with the tenant's
    weights (``weights`` if given); portfolio_fit reads ``freelancer_id``'s portfolio."""
    if not skills:
        return [], 0
    weights = weights or tenant_weights()
    hits = sum((sa.case((sa.literal(s) == sa.any_(Job.skills), 1), else_=0) for s in skills), sa.literal(0))
    per_skill = sa.cast(sa.func.greatest(sa.func.cardinality(Job.skills), 1), sa.Float)
    fit = weights["skill_match"] * sa.cast(hits, sa.Float) / per_skill
    portfolio = _portfolio_text(freelancer_id) if freelancer_id is not None else ""
    if portfolio and weights["portfolio_fit"]:
        named = sa.func.unnest(Job.skills).table_valued("skill").render_derived()
        portfolio_hits = (
            sa.select(sa.func.count())
            .select_from(named)
            .where(sa.func.strpos(sa.literal(portfolio), named.c.skill) > 0)
            .scalar_subquery()
        )
        fit = fit + weights["portfolio_fit"] * sa.cast(portfolio_hits, sa.Float) / per_skill
    query = sa.select(Job, hits.label("hits")).where(
        Job.status == "open", Job.visibility == "public", Job.skills.overlap(sa.cast(skills, Job.skills.type))
    )
    if exclude_client_id is not None:
        query = query.where(Job.client_id != exclude_client_id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(fit.desc(), sa.desc("hits"), Job.published_at.desc(), Job.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [(row.Job, row.hits) for row in rows], total
