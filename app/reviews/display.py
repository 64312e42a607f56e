"""What the review pages show around a list of reviews: the people and gigs they name and the
viewer's "helpful" votes, each read in one query per page (never one per review).

Reads only; the rules are in ``app/reviews/services.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from math import ceil

import sqlalchemy as sa

from app.accounts.models import User
from app.gigs.models import Gig
from app.gigs.services import can_view
from app.reviews.models import RATING_MAX, RATING_MIN, Review, ReviewVote
from tenants.db import db

BAR_STEPS = 20  # histogram bars are drawn in 5 % steps (CSS classes: no inline styles)


@dataclass(frozen=True)
class Listing:
    """A page of reviews with what each row names."""

    reviews: list[Review]
    people: dict[int, User] = field(default_factory=dict)
    gigs: dict[int, Gig] = field(default_factory=dict)  # only the gigs the viewer may open
    voted: frozenset[int] = frozenset()


def people_of(reviews: Iterable[Review]) -> dict[int, User]:
    """The authors and subjects of ``reviews``, in one query (``{user_id: User}``)."""
    user_ids = {r.author_id for r in reviews} | {r.subject_id for r in reviews}
    if not user_ids:
        return {}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(user_ids)))}


def listing(reviews: Iterable[Review], viewer: User | None) -> Listing:
    """``reviews`` with their authors and subjects, their gigs (those ``viewer`` may see) and the
    ids of those ``viewer`` found helpful."""
    reviews = list(reviews)
    if not reviews:
        return Listing([])
    people = people_of(reviews)
    gig_ids = {r.gig_id for r in reviews if r.gig_id is not None}
    gigs = {}
    if gig_ids:
        # Title and link only: not the packages, extras, images and FAQs a Gig loads eagerly.
        lean = [sa.orm.lazyload(rel) for rel in (Gig.packages, Gig.extras, Gig.images, Gig.faqs)]
        for gig in db.session.scalars(sa.select(Gig).where(Gig.id.in_(gig_ids)).options(*lean)):
            if can_view(gig, viewer):
                gigs[gig.id] = gig
    voted: frozenset[int] = frozenset()
    if viewer is not None:
        voted = frozenset(
            db.session.scalars(
                sa.select(ReviewVote.review_id).where(
                    ReviewVote.user_id == viewer.id, ReviewVote.review_id.in_([r.id for r in reviews])
                )
            )
        )
    return Listing(reviews, people, gigs, voted)


def person(user_id: int) -> User | None:
    """One user by id (the other party of an order, before any review names them)."""
    return db.session.get(User, user_id)


@dataclass(frozen=True)
class Bar:
    stars: int
    count: int
    percent: int  # rounded to whole percents, for the text
    step: int  # 0..BAR_STEPS, the CSS width class


def histogram_bars(histogram: dict[int, int]) -> list[Bar]:
    """The rows of a rating breakdown, 5 stars first, each with its share of the total."""
    total = sum(histogram.values())
    bars = []
    for stars in range(RATING_MAX, RATING_MIN - 1, -1):
        count = int(histogram.get(stars, 0))
        share = count / total if total else 0
        # A bar for one review among thousands still shows a sliver.
        step = ceil(share * BAR_STEPS) if count else 0
        bars.append(Bar(stars, count, round(share * 100), step))
    return bars


def histogram_average(histogram: dict[int, int]) -> float:
    """The average rating behind a breakdown (ratings are whole stars, so it is exact)."""
    total = sum(histogram.values())
    return sum(stars * count for stars, count in histogram.items()) / total if total else 0.0
