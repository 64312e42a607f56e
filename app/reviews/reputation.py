"""Reputation: a seller's figures (delivery score), levels and their thresholds.

``seller_stats(user_id)`` answers live for one seller (profile pages, the API);
the daily job (``snapshot_all``) computes the same figures for every seller of a tenant
set-based and stores ``reputation_snapshots``, then assigns levels.

Levels are checked from the top (Top Rated, Level 2, Level 1); a seller meeting every
threshold of a level (each ``>=``) gets it, otherwise "New seller".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from app.accounts.models import SELLER_LEVELS, User
from app.messaging import services as messaging
from app.orders import services as orders
from app.reviews.services import rating_summary
from tenants.db import db

# Close to Fiverr's published criteria, in a marketplace's own currency (earnings in minor units
# of a two-decimal currency: 40000 = 400.00). Operators tune them in the console.
DEFAULT_THRESHOLDS: dict[str, dict[str, float | int]] = {
    "level_1": {"orders": 10, "earnings_minor": 40_000, "rating": 4.4, "on_time_rate": 90, "days_active": 60},
    "level_2": {
        "orders": 50,
        "earnings_minor": 200_000,
        "rating": 4.6,
        "on_time_rate": 90,
        "days_active": 120,
    },
    "top_rated": {
        "orders": 100,
        "earnings_minor": 2_000_000,
        "rating": 4.7,
        "on_time_rate": 90,
        "days_active": 180,
    },
}
THRESHOLD_FIELDS = ("orders", "earnings_minor", "rating", "on_time_rate", "days_active")
LEVEL_ORDER = ("top_rated", "level_2", "level_1")


@dataclass(frozen=True)
class SellerStats:
    """What a profile shows of a seller. Rates are percentages (None: nothing measured yet)."""

    user_id: int
    member_since: datetime
    orders_completed: int
    orders_cancelled: int
    orders_delivered: int
    delivered_on_time: int
    on_time_rate: Decimal | None
    completion_rate: Decimal | None
    rating_avg: Decimal
    rating_count: int
    earnings_minor: int
    response_rate: Decimal | None
    response_seconds: int | None
    days_active: int
    level: str
    languages: tuple[str, ...]

    @property
    def level_label(self) -> str:
        return SELLER_LEVELS.get(self.level, self.level)


def level_for(figures: dict, thresholds: dict | None = None) -> str:
    """The level ``figures`` (``orders``, ``earnings_minor``, ``rating``, ``on_time_rate``,
    ``days_active``) earn under ``thresholds`` (the defaults when None). A figure of None
    (nothing measured) meets no threshold."""
    thresholds = thresholds or DEFAULT_THRESHOLDS
    for level in LEVEL_ORDER:
        rule = thresholds.get(level) or DEFAULT_THRESHOLDS[level]
        if all(
            figures.get(field) is not None and float(figures[field]) >= float(rule[field])
            for field in THRESHOLD_FIELDS
        ):
            return level
    return "new"


def _rate(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(100) * part / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def seller_stats(user_id: int, *, now: datetime | None = None) -> SellerStats | None:
    """A seller's figures, live (None when the user is not a seller). Response figures come
    from the seller's conversations (``response_figures``)."""
    user = db.session.get(User, user_id)
    profile = user.seller_profile if user is not None else None
    if profile is None:
        return None
    now = now or datetime.now(UTC)
    figures = orders.seller_order_figures([user_id]).get(user_id) or orders.SellerOrderFigures()
    average, count = rating_summary(subject_id=user_id)
    rate, seconds = response_figures([user_id], now=now).get(user_id, (None, None))
    return SellerStats(
        user_id=user_id,
        member_since=user.created_at,
        orders_completed=figures.completed,
        orders_cancelled=figures.cancelled,
        orders_delivered=figures.delivered,
        delivered_on_time=figures.delivered_on_time,
        on_time_rate=_rate(figures.delivered_on_time, figures.delivered),
        completion_rate=_rate(figures.completed, figures.completed + figures.cancelled),
        rating_avg=average,
        rating_count=count,
        earnings_minor=figures.earned_minor,
        response_rate=rate,
        response_seconds=seconds,
        days_active=max(0, (now - profile.created_at).days),
        level=profile.level,
        languages=tuple(user.languages or ()),
    )


def response_figures(user_ids: list[int], *, now: datetime | None = None) -> dict[int, tuple]:
    """``{user_id: (response_rate %, average first-response seconds)}`` over the last 90 days of
    direct conversations others started with them (answered within 24 h counts as responded)."""
    return messaging.response_figures(user_ids, since=(now or datetime.now(UTC)) - timedelta(days=90))
