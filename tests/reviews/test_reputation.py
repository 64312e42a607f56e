"""Reputation figures and the level rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.messaging import services as messaging
from app.reviews import reputation, services
from tenants.db import db
from tests.reviews.conftest import BACK, GOOD, drive, user

BASE = {"orders": 10, "earnings_minor": 40_000, "rating": 4.4, "on_time_rate": 90, "days_active": 60}


@pytest.mark.parametrize(
    "change, level",
    [
        ({}, "level_1"),
        ({"orders": 9}, "new"),
        ({"earnings_minor": 39_999}, "new"),
        ({"rating": 4.39}, "new"),
        ({"on_time_rate": 89.99}, "new"),
        ({"days_active": 59}, "new"),
        ({"on_time_rate": None}, "new"),
        ({"orders": 50, "earnings_minor": 200_000, "rating": 4.6, "days_active": 120}, "level_2"),
        ({"orders": 100, "earnings_minor": 2_000_000, "rating": 4.7, "days_active": 180}, "top_rated"),
        ({"orders": 100, "earnings_minor": 2_000_000, "rating": 4.69, "days_active": 180}, "level_2"),
    ],
)
def test_level_thresholds_at_their_edges(change, level):
    assert reputation.level_for({**BASE, **change}) == level


def test_seller_stats_count_orders_ratings_and_responses(acme, completed, in_tenant, market):
    m, order_id = completed(acme)
    with in_tenant(acme):
        drive(m, "cancelled")  # never paid: does not count against the seller
        services.submit_review(user(m.buyer_id), order_id, GOOD)
        services.submit_review(user(m.seller_id), order_id, BACK)
        db.session.commit()
        stats = reputation.seller_stats(m.seller_id)
        assert (stats.orders_completed, stats.orders_cancelled, stats.orders_delivered) == (1, 0, 1)
        assert stats.on_time_rate == 100 and stats.completion_rate == 100
        assert (float(stats.rating_avg), stats.rating_count) == (5.0, 1)
        assert stats.earnings_minor > 0 and stats.level == "new"
        assert reputation.seller_stats(m.buyer_id) is None  # not a seller


def test_response_figures_measure_first_answers(acme, market, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        from app.messaging.models import Message

        conversation = messaging.start_direct_conversation(user(m.buyer_id), m.seller_id)
        messaging.post_message(user(m.buyer_id), conversation.id, "Hello, are you free?")
        messaging.post_message(user(m.seller_id), conversation.id, "Yes!")
        db.session.flush()
        asked, answered = db.session.query(Message).order_by(Message.id).all()[-2:]
        asked.created_at = datetime(2026, 11, 1, 9, tzinfo=UTC)
        answered.created_at = asked.created_at + timedelta(hours=2)
        db.session.commit()
        figures = messaging.response_figures(
            [m.seller_id, m.buyer_id], since=datetime(2026, 10, 1, tzinfo=UTC)
        )
        assert figures[m.seller_id] == (100, 7200)
        assert m.buyer_id not in figures  # the buyer started it: nothing to answer
