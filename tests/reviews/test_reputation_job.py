"""The daily reputation job: snapshots, levels at their edges, level-change events, the daily claim,
the CLI, and tenants that never meet (injected clock throughout)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.accounts.models import SellerProfile
from app.accounts.services import SellerReputation, set_seller_reputation, set_seller_reputations
from app.events.models import OutboxEvent
from app.extensions import get_queue, redis_store
from app.orders import services as orders
from app.reviews import reputation, services, tasks
from app.reviews.models import ReputationSnapshot, ReviewSettings
from tenants.db import db
from tests.reviews.conftest import BACK, GOOD, drive, user


def _save_thresholds(thresholds: dict) -> None:
    row = db.session.get(ReviewSettings, 1)
    if row is None:
        row = ReviewSettings(id=1, window_days=14, hold_banned_words=False, banned_words=[])
        db.session.add(row)
    row.level_thresholds = thresholds
    db.session.commit()


def _profile(user_id: int) -> SellerProfile:
    return db.session.get(SellerProfile, user_id, populate_existing=True)


def _level_events(user_id: int | None = None) -> list[dict]:
    payloads = db.session.scalars(
        sa.select(OutboxEvent.payload)
        .where(OutboxEvent.name == "seller.level_changed")
        .order_by(OutboxEvent.id)
    ).all()
    return [p for p in payloads if user_id is None or p["user_id"] == user_id]


@pytest.fixture
def reviewed_seller(completed, in_tenant):
    """``reviewed_seller(tenant)`` -> (market, earnings): one completed, on-time order with a
    published 5-star review (both sides wrote theirs)."""

    def make(tenant):
        m, order_id = completed(tenant)
        with in_tenant(tenant):
            services.submit_review(user(m.buyer_id), order_id, GOOD)
            services.submit_review(user(m.seller_id), order_id, BACK)
            db.session.commit()
            earned = orders.seller_order_figures([m.seller_id])[m.seller_id].earned_minor
        return m, earned

    return make


def _rule(earned: int, days: int) -> dict:
    return {"orders": 1, "earnings_minor": earned, "rating": 5, "on_time_rate": 100, "days_active": days}


def test_levels_at_their_edges_through_the_job(acme, reviewed_seller, in_tenant):
    m, earned = reviewed_seller(acme)
    with in_tenant(acme):
        _save_thresholds(
            {"level_1": _rule(earned, 3), "level_2": _rule(earned, 5), "top_rated": _rule(earned, 7)}
        )
        start = _profile(m.seller_id).created_at
        steps = [(2, "new"), (3, "level_1"), (4, "level_1"), (5, "level_2"), (6, "level_2"), (7, "top_rated")]
        for days, level in steps:
            now = start + timedelta(days=days)
            reputation.snapshot_tenant(now)
            db.session.commit()
            assert _profile(m.seller_id).level == level, days
            snapshot = db.session.scalar(
                sa.select(ReputationSnapshot).where(
                    ReputationSnapshot.user_id == m.seller_id, ReputationSnapshot.taken_on == now.date()
                )
            )
            assert (snapshot.level, snapshot.days_active) == (level, days)
        assert _profile(m.seller_id).level_since == start + timedelta(days=7)
        # One unit short on earnings at every level: back to "new" (a level is lost by the same rule).
        _save_thresholds(
            {name: _rule(earned + 1, d) for name, d in (("level_1", 3), ("level_2", 5), ("top_rated", 7))}
        )
        reputation.snapshot_tenant(start + timedelta(days=8))
        db.session.commit()
        assert _profile(m.seller_id).level == "new"
        assert [(e["old"], e["new"]) for e in _level_events(m.seller_id)] == [
            ("new", "level_1"),
            ("level_1", "level_2"),
            ("level_2", "top_rated"),
            ("top_rated", "new"),
        ]


def test_snapshot_carries_the_figures_and_the_delivery_score(acme, reviewed_seller, in_tenant):
    m, earned = reviewed_seller(acme)
    with in_tenant(acme):
        now = datetime.now(UTC) + timedelta(days=1)
        summary = reputation.snapshot_tenant(now)
        db.session.commit()
        assert summary.sellers == 1 and summary.day == now.date()
        row = db.session.scalar(
            sa.select(ReputationSnapshot).where(ReputationSnapshot.user_id == m.seller_id)
        )
        assert (row.orders_completed, row.orders_delivered, row.delivered_on_time) == (1, 1, 1)
        assert (row.on_time_rate, row.completion_rate) == (Decimal("100.00"), Decimal("100.00"))
        assert (row.rating_avg, row.rating_count, row.earnings_minor) == (Decimal("5.00"), 1, earned)
        assert row.response_rate is None and row.disputes == 0
        assert row.delivery_score == Decimal("100.00")  # every measured part is perfect
        assert row.level == "new"  # the default thresholds ask for far more


def test_delivery_score_weighs_what_was_measured():
    score = reputation.delivery_score
    assert (
        score(on_time_rate=None, completion_rate=None, rating_avg=None, rating_count=0, response_rate=None)
        is None
    )
    # 0.35 * 0.8 + 0.25 * 1 + 0.25 * 0.75 + 0.15 * 0.5 = 0.7925
    assert score(
        on_time_rate=Decimal(80),
        completion_rate=Decimal(100),
        rating_avg=Decimal(4),
        rating_count=3,
        response_rate=Decimal(50),
    ) == Decimal("79.25")
    # Only on time and completion measured: their weights are scaled up to the whole.
    assert score(
        on_time_rate=Decimal(50),
        completion_rate=Decimal(100),
        rating_avg=Decimal(0),
        rating_count=0,
        response_rate=None,
    ) == Decimal("70.83")
    assert score(
        on_time_rate=Decimal(5),
        completion_rate=Decimal(5),
        rating_avg=None,
        rating_count=0,
        response_rate=None,
        disputes=1,
    ) == Decimal("0.00")  # clamped


def test_rerunning_a_day_is_idempotent_and_publishes_each_change_once(acme, reviewed_seller, in_tenant):
    m, earned = reviewed_seller(acme)
    with in_tenant(acme):
        _save_thresholds({"level_1": _rule(earned, 0)})
        now = datetime.now(UTC) + timedelta(hours=1)
        first = reputation.snapshot_tenant(now)
        db.session.commit()
        again = reputation.snapshot_tenant(now + timedelta(minutes=5))
        db.session.commit()
        assert first.level_changes == [(m.seller_id, "new", "level_1")] and again.level_changes == []
        rows = db.session.execute(
            sa.select(ReputationSnapshot.user_id, ReputationSnapshot.taken_on, ReputationSnapshot.level)
        ).all()
        assert rows == [(m.seller_id, now.date(), "level_1")]  # one row per seller and day
        assert _level_events() == [{"user_id": m.seller_id, "old": "new", "new": "level_1"}]
        updated = db.session.scalars(
            sa.select(OutboxEvent.payload).where(OutboxEvent.name == "seller.updated")
        ).all()
        assert updated.count({"user_id": m.seller_id}) >= 1


def test_the_job_repairs_a_drifted_rating_but_never_overwrites_a_newer_one(acme, reviewed_seller, in_tenant):
    m, _earned = reviewed_seller(acme)
    with in_tenant(acme):
        set_seller_reputation(m.seller_id, rating=(Decimal("2.00"), 7))  # drifted
        db.session.commit()
        reputation.snapshot_tenant(datetime.now(UTC))
        db.session.commit()
        profile = _profile(m.seller_id)
        assert (profile.rating_avg, profile.rating_count) == (Decimal("5.00"), 1)
        # The job read (5.00, 1) but a review changed it before the job wrote: the newer value stays.
        set_seller_reputation(m.seller_id, rating=(Decimal("4.50"), 2))
        set_seller_reputations(
            [
                SellerReputation(
                    m.seller_id, "new", rating=(Decimal("3.00"), 1), rating_seen=(Decimal("5.00"), 1)
                )
            ]
        )
        db.session.commit()
        profile = _profile(m.seller_id)
        assert (profile.rating_avg, profile.rating_count) == (Decimal("4.50"), 2)


def test_one_tenants_job_never_touches_another_tenants_sellers(acme, globex, reviewed_seller, in_tenant):
    a, earned = reviewed_seller(acme)
    g, _ = reviewed_seller(globex)
    assert a.seller_id == g.seller_id  # equal ids in both tenants
    with in_tenant(globex):
        _save_thresholds({"level_1": _rule(earned, 0)})  # globex would promote its seller...
    with in_tenant(acme):
        _save_thresholds({"level_1": _rule(earned + 1, 0)})  # ...acme's thresholds do not
        set_seller_reputation(a.seller_id, level="level_2")
        db.session.commit()
        summary = reputation.snapshot_tenant(datetime.now(UTC))
        db.session.commit()
        assert summary.level_changes == [(a.seller_id, "level_2", "new")]
    with in_tenant(globex):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReputationSnapshot)) == 0
        assert _profile(g.seller_id).level == "new"
        assert _level_events() == []
        reputation.snapshot_tenant(datetime.now(UTC))
        db.session.commit()
        assert _profile(g.seller_id).level == "level_1"
    with in_tenant(acme):
        assert _profile(a.seller_id).level == "new"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReputationSnapshot)) == 1


def test_the_daily_tick_enqueues_each_tenant_once_per_day(
    app, acme, globex, reviewed_seller, in_tenant, run_jobs
):
    m, earned = reviewed_seller(acme)
    with in_tenant(acme):
        _save_thresholds({"level_1": _rule(earned, 0)})
    now = datetime(2031, 3, 4, 0, 5, tzinfo=UTC)
    with app.app_context():
        assert tasks.reputation_tick(now) == 2  # acme and globex
        assert tasks.reputation_tick(now + timedelta(hours=23)) == 0  # same day: claimed
        queue = get_queue("default")
        assert queue.fetch_job(f"reviews-reputation-t{acme.id}-2031-03-04") is not None
    run_jobs()
    with in_tenant(acme):
        assert _profile(m.seller_id).level == "level_1"
        days = db.session.scalars(sa.select(ReputationSnapshot.taken_on)).all()
        assert [d.isoformat() for d in days] == ["2031-03-04"]
    with app.app_context():
        assert tasks.reputation_tick(now + timedelta(days=1)) == 2  # the next day
    run_jobs()
    with in_tenant(acme):
        assert len(db.session.scalars(sa.select(ReputationSnapshot.taken_on)).all()) == 2
        assert len(_level_events(m.seller_id)) == 1  # no second change


def test_cli_runs_the_job_with_a_summary(app, acme, reviewed_seller, in_tenant):
    m, earned = reviewed_seller(acme)
    with in_tenant(acme):
        _save_thresholds({"level_1": _rule(earned, 0)})
    result = app.test_cli_runner().invoke(args=["reviews", "reputation", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    assert "acme: 1 seller(s), 1 level change(s)" in result.output
    assert "1 tenant(s), 1 seller(s), 1 level change(s)" in result.output
    with in_tenant(acme):
        assert _profile(m.seller_id).level == "level_1"
    bad = app.test_cli_runner().invoke(args=["reviews", "reputation", "--tenant", "nope"])
    assert bad.exit_code != 0 and "no tenant" in bad.output


def test_cached_stats_keep_the_figures_briefly_but_level_and_rating_fresh(
    acme, globex, completed, market, in_tenant
):
    m, _order_id = completed(acme)
    g = market(globex)
    assert m.seller_id == g.seller_id  # equal ids: the cache key carries the tenant
    with in_tenant(acme):
        assert reputation.cached_seller_stats(m.seller_id).orders_completed == 1
        drive(m, "completed")
        assert reputation.cached_seller_stats(m.seller_id).orders_completed == 1  # cached
        assert reputation.seller_stats(m.seller_id).orders_completed == 2  # live
        set_seller_reputation(m.seller_id, level="level_1", rating=(Decimal("4.50"), 3))
        db.session.commit()
        cached = reputation.cached_seller_stats(m.seller_id)
        assert (cached.level, cached.rating_avg, cached.rating_count) == ("level_1", Decimal("4.50"), 3)
        assert reputation.cached_seller_stats(m.buyer_id) is None  # not a seller
    with in_tenant(globex):
        assert reputation.cached_seller_stats(g.seller_id).orders_completed == 0
    with in_tenant(acme):
        redis_store.client.delete(reputation._stats_key(m.seller_id))
        assert reputation.cached_seller_stats(m.seller_id).orders_completed == 2
