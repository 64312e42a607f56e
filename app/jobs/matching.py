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
One SQL statement scores any number of sellers (``score_freelancers``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.accounts.models import PortfolioItem, SellerProfile
from app.jobs.models import Job, JobSettings
from app.jobs.services import page_by_ids, skill_vocabulary
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
    """Let a higher domain (reviews) provide sellers' latest on-time rates to the score.

    The source is read seller by seller (``WHERE user_id = <seller> LIMIT 1``, a LATERAL
    join): at most one row per ``user_id``, and cheap to filter on it (an index leading with
    ``user_id``: reviews' ``DISTINCT ON`` is served by ``(user_id, taken_on)``)."""
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
    tenant's (``tenant_weights()``) unless given.

    One statement. The terms read from the profile row (skills, reviews, availability) are
    computed for every seller first; with ``limit``, the portfolio and delivery terms (an
    aggregate and a lookup per seller, the expensive part) are then computed only for the
    sellers who can still reach the top ``limit``: a seller whose profile terms plus the most
    the other two terms can add stay below the ``limit``-th best profile terms plus the least
    they can add cannot make the list. Exact for any weights (``bench/jobs_bench.py``: ranking
    10,000 sellers reads the portfolios and snapshots of one to two thousand of them).
    """
    weights = weights or tenant_weights()
    w = weights
    skills = [s.lower() for s in job.skills]
    n = len(skills)
    wanted = None if user_ids is None else list(set(user_ids))
    sp = SellerProfile.__table__
    # Sellers' skills are stored lower-case (``upsert_seller_profile`` lowers them; t0025 lowered
    # any row written before), so each job skill is a plain array membership test.
    if n:
        skill_hits = sum(
            (sa.case((sa.literal(s) == sa.any_(sp.c.skills), 1), else_=0) for s in skills), sa.literal(0)
        )
    else:
        skill_hits = sa.literal(0)
    reviews = sa.cast(
        (sp.c.rating_avg * sp.c.rating_count + PRIOR_MEAN * PRIOR_COUNT)
        / (sp.c.rating_count + PRIOR_COUNT)
        / 5,
        sa.Float,
    )
    availability = sa.cast(
        sa.case(*((sp.c.availability == k, v) for k, v in AVAILABILITY.items()), else_=0), sa.Float
    )
    profile_terms = (
        w["skill_match"] * (sa.cast(skill_hits, sa.Float) / n if n else NEUTRAL)
        + w["reviews"] * reviews
        + w["availability"] * availability
    )
    sellers = sa.select(
        sp.c.user_id,
        skill_hits.label("skill_hits"),
        reviews.label("reviews"),
        sp.c.availability,
        availability.label("availability_term"),
        sp.c.rating_avg,
        sp.c.rating_count,
        profile_terms.label("profile_terms"),
    )
    if wanted is not None:
        sellers = sellers.where(sp.c.user_id.in_(wanted))
    else:
        sellers = sellers.where(sp.c.user_id != job.client_id)
    sellers = sellers.cte("sellers")

    # The portfolio's titles and descriptions, lower-cased, and the latest on-time rate: per seller.
    portfolio = (
        sa.select(
            sa.func.lower(
                sa.func.string_agg(PortfolioItem.title + " " + PortfolioItem.description, " ")
            ).label("text")
        )
        .where(PortfolioItem.user_id == sellers.c.user_id)
        .lateral("portfolio")
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
    source = _delivery_source[0]() if _delivery_source else None
    joined = sellers.join(portfolio, sa.true())
    on_time = sa.null()
    if source is not None:
        # Looked up seller by seller (the source's index serves each lookup) rather than the
        # source computed for every seller and joined: snapshots grow by a row per seller a day.
        delivery = (
            sa.select(source.c.on_time_rate)
            .where(source.c.user_id == sellers.c.user_id)
            .limit(1)
            .lateral("delivery")
        )
        joined = joined.outerjoin(delivery, sa.true())
        on_time = delivery.c.on_time_rate
    query = sa.select(
        sellers.c.user_id,
        sellers.c.skill_hits,
        portfolio_hits.label("portfolio_hits"),
        sellers.c.reviews,
        sa.cast(on_time, sa.Float).label("on_time"),
        sellers.c.availability,
        sellers.c.availability_term,
        sellers.c.rating_avg,
        sellers.c.rating_count,
    ).select_from(joined)
    if limit is not None:
        # Portfolio and delivery terms are each in 0..1: with weights of either sign, they add
        # between ``least`` and ``most`` to a seller's profile terms.
        others = (w["portfolio_fit"], w["delivery_score"])
        least, most = sum(min(0.0, x) for x in others), sum(max(0.0, x) for x in others)
        kth_lowest = (
            sa.select(sellers.c.profile_terms + least)
            .order_by(sellers.c.profile_terms.desc())
            .offset(limit - 1)
            .limit(1)
            .correlate(None)  # its own scan of the CTE, not the outer row's
            .scalar_subquery()
        )
        # 1e-9: the bound and the score add the same floats in a different order.
        query = query.where(
            sellers.c.profile_terms + most
            >= sa.func.coalesce(kth_lowest, sellers.c.profile_terms + most) - 1e-9
        )
        score_sql = (
            sellers.c.profile_terms
            + w["portfolio_fit"] * (sa.cast(portfolio_hits, sa.Float) / n if n else NEUTRAL)
            + w["delivery_score"] * sa.func.coalesce(sa.cast(on_time, sa.Float) / 100, NEUTRAL)
        )
        query = query.order_by(score_sql.desc(), sellers.c.user_id).limit(limit)
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
    weights (``weights`` if given); portfolio_fit counts the job's skills that
    ``freelancer_id``'s portfolio names. Ties: newest first. Every job
    naming one of the skills is read to order them: the same pass counts them
    (``page_by_ids``), and the page's jobs are loaded by id.
    """
    if not skills:
        return [], 0
    weights = weights or tenant_weights()
    conditions = [
        Job.status == "open",
        Job.visibility == "public",
        Job.skills.overlap(sa.cast(skills, Job.skills.type)),
    ]
    if exclude_client_id is not None:
        conditions.append(Job.client_id != exclude_client_id)
    # portfolio_fit counts the job's skills that the portfolio names: which skills of open jobs
    # the portfolio names is found once here (``skill_vocabulary``), not by a text search per
    # row. So the fit is one weighted sum per row over those skills and the freelancer's:
    # (w_skill · skills in common + w_portfolio · skills the portfolio names) / the job's count.
    portfolio = _portfolio_text(freelancer_id) if freelancer_id is not None else ""
    named = (
        {s for s in skill_vocabulary() if s in portfolio} if portfolio and weights["portfolio_fit"] else set()
    )
    weight_of = {s: weights["skill_match"] for s in skills}
    for s in named:
        weight_of[s] = weight_of.get(s, 0.0) + weights["portfolio_fit"]
    weighted = sum(
        (
            sa.case((sa.literal(s) == sa.any_(Job.skills), sa.literal(w, sa.Float)), else_=0.0)
            for s, w in weight_of.items()
        ),
        sa.literal(0.0, sa.Float),
    )
    fit = weighted / sa.cast(sa.func.greatest(sa.func.cardinality(Job.skills), 1), sa.Float)
    ids_query = (
        sa.select(Job.id, sa.literal(0).label("value"), sa.func.count().over().label("total"))
        .where(*conditions)
        .order_by(fit.desc(), Job.published_at.desc(), Job.id.desc())
    )
    count_query = sa.select(sa.func.count()).select_from(Job).where(*conditions)
    jobs, _values, total = page_by_ids(ids_query, count_query, page=page, per_page=per_page)
    wanted = set(skills)
    return [(job, len(wanted.intersection(job.skills))) for job in jobs], total
