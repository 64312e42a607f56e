"""Reputation: a seller's figures (delivery score), levels and their thresholds.

``seller_stats(user_id)`` answers live for one seller (profile pages, the API);
the daily job (``snapshot_tenant``, run by ``tasks.reputation_tick`` once per tenant and day,
or ``flask reviews reputation``) computes the same figures for every seller of a tenant
set-based, stores one ``reputation_snapshots`` row per seller and day, then assigns levels.

Levels are checked from the top (Top Rated, Level 2, Level 1); a seller meeting every
threshold of a level (each ``>=``) gets it, otherwise "New seller". A level is earned and lost
by the same rule every day (no grace period): the thresholds are the operator's to tune.

Delivery score (0-100, ``delivery_score``): a weighted mean of what was measured,

    score = 100 * (0.35 * on_time + 0.25 * completion + 0.25 * rating + 0.15 * response)
            / (sum of the weights of the parts measured)  -  10 * disputes,   clamped to 0..100

with ``on_time`` and ``completion`` and ``response`` the rates as fractions (0-1) and
``rating`` the average mapped from 1..5 onto 0..1 (``(average - 1) / 4``). A part with nothing
to measure (no delivery, no finished order, no review, no conversation to answer) is left out
and the others weigh more; with nothing measured at all the score is None. ``disputes`` is the
number of disputes the seller lost (refunded in full, or split with a refund) that ended in
the last 365 days (``app.disputes.services.seller_dispute_figures``). On time weighs most: it
is what buyers complain about first.

Events: ``seller.level_changed`` ``{"user_id", "old", "new"}`` (levels as in
``accounts.models.SELLER_LEVELS``), published by the daily job once per change, in the
transaction that stores it; notifications tells the seller. ``accounts`` also publishes
``seller.updated`` for each seller whose level or rating it stored (search re-indexes).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import redis
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.accounts.models import SELLER_LEVELS, SellerProfile, User
from app.accounts.services import SellerReputation, set_seller_reputations
from app.disputes import services as disputes_service
from app.events import publish_many
from app.extensions import redis_store
from app.messaging import services as messaging
from app.orders import services as orders
from app.reviews.models import ReputationSnapshot, Review
from app.reviews.services import rating_summary
from tenants.db import current_tenant, db

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


STATS_CACHE_SECONDS = 120  # how stale a public page's order and response figures may be


def _stats_key(user_id: int) -> str:
    return f"t:{current_tenant().id}:reputation:stats:{user_id}"


def _stats_to_json(stats: SellerStats) -> str:
    data = asdict(stats)
    data["member_since"] = stats.member_since.isoformat()
    for name in ("on_time_rate", "completion_rate", "rating_avg", "response_rate"):
        data[name] = None if data[name] is None else str(data[name])
    return json.dumps(data)


def _stats_from_json(raw: bytes) -> SellerStats:
    data = json.loads(raw)
    data["member_since"] = datetime.fromisoformat(data["member_since"])
    for name in ("on_time_rate", "completion_rate", "rating_avg", "response_rate"):
        data[name] = None if data[name] is None else Decimal(data[name])
    data["languages"] = tuple(data["languages"])
    return SellerStats(**data)


def cached_seller_stats(user_id: int, *, now: datetime | None = None) -> SellerStats | None:
    """``seller_stats`` for public pages (None when the user is not a seller).

    Counting a long record (a seller with 10,000 orders) costs tens of milliseconds per view, so
    the figures are kept in Redis (the key carries the tenant) for ``STATS_CACHE_SECONDS``; the
    level and the rating are read fresh from the profile (kept by every review published, hidden
    or restored, and by the daily job), so they always match the stars and badge beside them.
    A Redis outage only costs the cache.
    """
    profile = db.session.get(SellerProfile, user_id)
    if profile is None:
        return None
    key = _stats_key(user_id)
    try:
        raw = redis_store.client.get(key)
    except redis.RedisError:
        raw = None
    stats = None
    if raw is not None:
        try:
            stats = _stats_from_json(raw)
        except (ValueError, TypeError, KeyError):
            stats = None  # written by another version: recompute
    if stats is None or stats.user_id != user_id:
        stats = seller_stats(user_id, now=now)
        if stats is None:
            return None
        with contextlib.suppress(redis.RedisError):
            redis_store.client.set(key, _stats_to_json(stats), ex=STATS_CACHE_SECONDS)
    return replace(
        stats,
        level=profile.level,
        rating_avg=Decimal(profile.rating_avg or 0).quantize(Decimal("0.01")),
        rating_count=profile.rating_count,
    )


def response_figures(user_ids: list[int], *, now: datetime | None = None) -> dict[int, tuple]:
    """``{user_id: (response_rate %, average first-response seconds)}`` over the last 90 days of
    direct conversations others started with them (answered within 24 h counts as responded)."""
    return messaging.response_figures(user_ids, since=(now or datetime.now(UTC)) - timedelta(days=90))


# --------------------------------------------------------------------------- the daily job

RESPONSE_PERIOD = timedelta(days=90)  # response figures look this far back
SCORE_WEIGHTS = {"on_time": 0.35, "completion": 0.25, "rating": 0.25, "response": 0.15}
DISPUTE_PENALTY = 10  # points per dispute lost
DISPUTE_PERIOD = timedelta(days=365)  # disputes lost count this long after their resolution
SNAPSHOT_CHUNK = 1000  # snapshot rows per INSERT ... ON CONFLICT statement
RESPONSE_CHUNK = 20_000  # sellers per response-figures query


def _level_thresholds() -> dict[str, dict[str, float | int]]:
    """The tenant's thresholds (saved over the defaults): ``app.reviews.settings``, imported here
    because that module imports this one at its top."""
    from app.reviews import settings

    return settings.level_thresholds()


def delivery_score(
    *,
    on_time_rate: Decimal | None,
    completion_rate: Decimal | None,
    rating_avg: Decimal | None,
    rating_count: int,
    response_rate: Decimal | None,
    disputes: int = 0,
) -> Decimal | None:
    """The delivery score (0-100, two decimals) of the figures; see the module docstring."""
    parts = {
        "on_time": None if on_time_rate is None else float(on_time_rate) / 100,
        "completion": None if completion_rate is None else float(completion_rate) / 100,
        "rating": (float(rating_avg) - 1) / 4 if rating_count and rating_avg is not None else None,
        "response": None if response_rate is None else float(response_rate) / 100,
    }
    measured = {name: value for name, value in parts.items() if value is not None}
    if not measured:
        return None
    weight = sum(SCORE_WEIGHTS[name] for name in measured)
    score = 100 * sum(SCORE_WEIGHTS[name] * value for name, value in measured.items()) / weight
    score = min(100.0, max(0.0, score - DISPUTE_PENALTY * disputes))
    return Decimal(str(score)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _ratings() -> dict[int, tuple[Decimal, int]]:
    """``{seller_id: (average, count)}`` of published reviews of sellers: one aggregate query."""
    rows = db.session.execute(
        sa.select(Review.subject_id, sa.func.avg(Review.rating), sa.func.count())
        .where(Review.status == "published", Review.direction == "of_seller")
        .group_by(Review.subject_id)
    )
    return {
        subject_id: (Decimal(average).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), int(count))
        for subject_id, average, count in rows
    }


@dataclass
class SnapshotSummary:
    """What one run of the daily job did for one tenant."""

    day: date
    sellers: int = 0
    level_changes: list[tuple[int, str, str]] = field(default_factory=list)  # (user_id, old, new)
    seconds: float = 0.0


def snapshot_tenant(
    now: datetime | None = None,
    *,
    day: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> SnapshotSummary:
    """Snapshot the reputation of every seller of the bound tenant for ``day`` (default: the
    UTC date of ``now``), assign their levels and store what changed; flushes.

    Set-based whatever the number of sellers: one query for the sellers, the order figures
    (``orders.seller_order_figures``), the response figures (``messaging.response_figures``) and
    one aggregate of the ratings; snapshots are upserted a chunk per statement (re-running a
    day replaces that day's rows: idempotent), levels and ratings stored through
    ``accounts.set_seller_reputations`` (which locks and re-checks each changed profile), and
    ``seller.level_changed`` published once per change. ``progress(n)`` is called as rows are
    written (n sellers each time). The caller commits (the job's unit of work, or the CLI).
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    day = day or now.astimezone(UTC).date()
    summary = SnapshotSummary(day=day)
    sellers = db.session.execute(
        sa.select(
            SellerProfile.user_id,
            SellerProfile.level,
            SellerProfile.created_at,
            SellerProfile.rating_avg,
            SellerProfile.rating_count,
        ).order_by(SellerProfile.user_id)
    ).all()
    if not sellers:
        summary.seconds = time.perf_counter() - started
        return summary
    thresholds = _level_thresholds()
    figures = orders.seller_order_figures(None)
    lost = disputes_service.seller_dispute_figures(None, since=now - DISPUTE_PERIOD)
    ratings = _ratings()
    responses: dict[int, tuple] = {}
    seller_ids = [row[0] for row in sellers]
    since = now - RESPONSE_PERIOD
    for start in range(0, len(seller_ids), RESPONSE_CHUNK):  # bind parameters per statement are bounded
        responses.update(messaging.response_figures(seller_ids[start : start + RESPONSE_CHUNK], since=since))
    empty = orders.SellerOrderFigures()
    snapshots: list[dict] = []
    updates: list[SellerReputation] = []
    for user_id, level, profile_created, stored_avg, stored_count in sellers:
        record = figures.get(user_id, empty)
        average, count = ratings.get(user_id, (Decimal("0.00"), 0))
        on_time = _rate(record.delivered_on_time, record.delivered)
        completion = _rate(record.completed, record.completed + record.cancelled)
        response_rate, response_seconds = responses.get(user_id, (None, None))
        days_active = max(0, (now - profile_created).days) if profile_created else 0
        disputes = lost[user_id].lost if user_id in lost else 0
        new_level = level_for(
            {
                "orders": record.completed,
                "earnings_minor": record.earned_minor,
                "rating": average if count else None,
                "on_time_rate": on_time,
                "days_active": days_active,
            },
            thresholds,
        )
        snapshots.append(
            {
                "user_id": user_id,
                "taken_on": day,
                "orders_completed": record.completed,
                "orders_cancelled": record.cancelled,
                "orders_delivered": record.delivered,
                "delivered_on_time": record.delivered_on_time,
                "on_time_rate": on_time,
                "completion_rate": completion,
                "rating_avg": average if count else None,
                "rating_count": count,
                "earnings_minor": record.earned_minor,
                "response_rate": response_rate,
                "response_seconds": response_seconds,
                "disputes": disputes,
                "days_active": days_active,
                "delivery_score": delivery_score(
                    on_time_rate=on_time,
                    completion_rate=completion,
                    rating_avg=average,
                    rating_count=count,
                    response_rate=response_rate,
                    disputes=disputes,
                ),
                "level": new_level,
                "created_at": now,
            }
        )
        stored = (stored_avg or Decimal("0.00"), stored_count)
        if new_level != level or float(stored[0]) != float(average) or stored[1] != count:
            updates.append(SellerReputation(user_id, new_level, rating=(average, count), rating_seen=stored))
    _write_snapshots(snapshots, progress)
    summary.sellers = len(snapshots)
    summary.level_changes = set_seller_reputations(updates, now=now)
    publish_many(
        "seller.level_changed",
        [{"user_id": user_id, "old": old, "new": new} for user_id, old, new in summary.level_changes],
    )
    summary.seconds = time.perf_counter() - started
    return summary


_SNAPSHOT_UPDATED = (
    "orders_completed",
    "orders_cancelled",
    "orders_delivered",
    "delivered_on_time",
    "on_time_rate",
    "completion_rate",
    "rating_avg",
    "rating_count",
    "earnings_minor",
    "response_rate",
    "response_seconds",
    "disputes",
    "days_active",
    "delivery_score",
    "level",
    "created_at",
)


def _write_snapshots(rows: list[dict], progress: Callable[[int], None] | None) -> None:
    """Upsert the day's rows (a second run of the day replaces them): one statement compiled once,
    executed for a chunk of rows at a time (executemany: batched into multi-row VALUES)."""
    table = ReputationSnapshot.__table__
    statement = pg_insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.taken_on],
        set_={name: statement.excluded[name] for name in _SNAPSHOT_UPDATED},
    )
    for start in range(0, len(rows), SNAPSHOT_CHUNK):
        chunk = rows[start : start + SNAPSHOT_CHUNK]
        db.session.connection().execute(statement, chunk)
        if progress is not None:
            progress(len(chunk))


def seller_count() -> int:
    """How many sellers the bound tenant has (the CLI's progress bar)."""
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(SellerProfile)) or 0)
