"""The review rules, through the services (tenant bound, injected clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.gigs.models import Gig
from app.orders.models import Order
from app.reviews import services
from app.reviews.models import Review
from tenants.db import db
from tests.reviews.conftest import BACK, GOOD, drive, user


def _completed_at(order_id):
    return db.session.get(Order, order_id).completed_at


def test_only_parties_of_a_completed_order_review_once_each(acme, completed, in_tenant, market):
    m, order_id = completed(acme)
    with in_tenant(acme):
        with pytest.raises(services.ReviewNotFound):
            services.submit_review(user(m.stranger_id), order_id, GOOD)
        in_progress = drive(m, "in_progress")
        with pytest.raises(services.ReviewStateError) as exc:
            services.submit_review(user(m.buyer_id), in_progress, GOOD)
        assert exc.value.code == "order_not_completed"
        review = services.submit_review(user(m.buyer_id), order_id, GOOD)
        db.session.commit()
        assert review.status == "submitted" and review.subject_id == m.seller_id
        with pytest.raises(services.ReviewStateError) as exc:
            services.submit_review(user(m.buyer_id), order_id, GOOD)
        assert exc.value.code == "already_reviewed"


def test_double_blind_until_both_have_written(acme, completed, in_tenant):
    m, order_id = completed(acme)
    with in_tenant(acme):
        mine = services.submit_review(user(m.buyer_id), order_id, GOOD)
        db.session.commit()
        order = db.session.get(Order, order_id)
        seller_view = services.order_review_state(user(m.seller_id), order)
        assert seller_view.theirs is None and seller_view.can_write
        assert not services.can_see(user(m.seller_id), mine)
        assert services.gig_reviews(m.gig_id).total == 0
        services.submit_review(user(m.seller_id), order_id, BACK)
        db.session.commit()
        buyer_view = services.order_review_state(user(m.buyer_id), order)
        assert buyer_view.theirs is not None and buyer_view.mine.status == "published"
        assert services.gig_reviews(m.gig_id).total == 1
        gig = db.session.get(Gig, m.gig_id)
        db.session.refresh(gig)
        assert (float(gig.rating_avg), gig.rating_count) == (5.0, 1)


def test_window_closes_publishes_what_was_written_and_refuses_late_reviews(acme, completed, in_tenant):
    m, order_id = completed(acme)
    with in_tenant(acme):
        done = _completed_at(order_id)
        services.submit_review(user(m.buyer_id), order_id, GOOD, now=done + timedelta(days=1))
        db.session.commit()
        closes = done + timedelta(days=14)
        assert services.windows_due(closes - timedelta(seconds=1)) == []
        assert services.windows_due(closes) == [order_id]
        with pytest.raises(services.ReviewStateError) as exc:
            services.submit_review(user(m.seller_id), order_id, BACK, now=closes)
        assert exc.value.code == "window_closed"
        published = services.publish_window(order_id, now=closes)
        db.session.commit()
        assert [r.status for r in published] == ["published"]
        assert services.publish_window(order_id, now=closes) == []  # once


def test_author_edits_before_publication_never_after(acme, completed, in_tenant):
    m, order_id = completed(acme)
    with in_tenant(acme):
        review = services.submit_review(user(m.buyer_id), order_id, GOOD)
        services.edit_review(user(m.buyer_id), review.id, {**GOOD, "rating": 3})
        with pytest.raises(services.ReviewNotFound):
            services.edit_review(user(m.seller_id), review.id, GOOD)
        services.submit_review(user(m.seller_id), order_id, BACK)
        with pytest.raises(services.ReviewStateError):
            services.edit_review(user(m.buyer_id), review.id, GOOD)
        assert db.session.get(Review, review.id).rating == 3


def test_reply_once_by_the_reviewed_side(acme, completed, in_tenant):
    m, order_id = completed(acme)
    with in_tenant(acme):
        review = services.submit_review(user(m.buyer_id), order_id, GOOD)
        with pytest.raises(services.ReviewNotFound):  # unpublished: unseen by the seller
            services.reply_to_review(user(m.seller_id), review.id, "Thanks!")
        services.submit_review(user(m.seller_id), order_id, BACK)
        with pytest.raises(services.ReviewForbidden):
            services.reply_to_review(user(m.buyer_id), review.id, "Me again")
        services.reply_to_review(user(m.seller_id), review.id, "Thanks!")
        with pytest.raises(services.ReviewStateError) as exc:
            services.reply_to_review(user(m.seller_id), review.id, "Twice")
        assert exc.value.code == "already_replied"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "five"}, "rating"),
        ({"rating": 4.5}, "rating"),
        ({"rating": True}, "rating"),
        ({"communication": None}, "communication"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": "Nice <script>alert(1)</script>"}, "text"),
        ({"text": '<img src=x onerror="alert(1)">'}, "text"),
        ({"text": 42}, "text"),
    ],
)
def test_bad_reviews_are_refused_and_store_nothing(acme, completed, in_tenant, change, field):
    m, order_id = completed(acme)
    with in_tenant(acme):
        with pytest.raises(services.ReviewError) as exc:
            services.submit_review(user(m.buyer_id), order_id, {**GOOD, **change})
        assert field in exc.value.field_errors
        db.session.rollback()
        assert db.session.query(Review).count() == 0


def test_hidden_reviews_leave_the_averages_and_restore_brings_them_back(acme, completed, in_tenant, market):
    m, first = completed(acme)
    with in_tenant(acme):
        second = drive(m, "completed")
        a = services.submit_review(user(m.buyer_id), first, {**GOOD, "rating": 5})
        services.submit_review(user(m.seller_id), first, BACK)
        services.submit_review(user(m.buyer_id), second, {**GOOD, "rating": 1})
        services.submit_review(user(m.seller_id), second, BACK)
        db.session.commit()
        assert services.rating_summary(gig_id=m.gig_id) == (pytest.approx(3), 2)
        admin = user(m.admin_id)
        with pytest.raises(services.ReviewError):
            services.hide_review(admin, a.id, "")
        services.hide_review(admin, a.id, "Written by a friend")
        db.session.commit()
        gig = db.session.get(Gig, m.gig_id)
        db.session.refresh(gig)
        assert (float(gig.rating_avg), gig.rating_count) == (1.0, 1)
        services.restore_review(admin, a.id, "Checked again")
        db.session.commit()
        db.session.refresh(gig)
        assert (float(gig.rating_avg), gig.rating_count) == (3.0, 2)


def test_reports_one_per_member_never_your_own(acme, completed, in_tenant):
    m, order_id = completed(acme)
    with in_tenant(acme):
        review = services.submit_review(user(m.buyer_id), order_id, GOOD)
        services.submit_review(user(m.seller_id), order_id, BACK)
        with pytest.raises(services.ReviewForbidden):
            services.report_review(user(m.buyer_id), review.id, "spam")
        with pytest.raises(services.ReviewError) as exc:
            services.report_review(user(m.stranger_id), review.id, "nonsense")
        assert "reason" in exc.value.field_errors
        services.report_review(user(m.stranger_id), review.id, "spam", "An advert")
        with pytest.raises(services.ReviewStateError):
            services.report_review(user(m.stranger_id), review.id, "spam")
        queue, total = services.open_reports()
        assert total == 1 and queue[0][0].id == review.id and len(queue[0][1]) == 1


def test_banned_words_hold_the_review_until_approved(acme, completed, in_tenant):
    m, order_id = completed(acme)
    with in_tenant(acme):
        services.update_review_settings({"hold_banned_words": True, "banned_words": "scam, rubbish"})
        review = services.submit_review(user(m.buyer_id), order_id, {**GOOD, "text": "A total SCAM."})
        services.submit_review(user(m.seller_id), order_id, BACK)
        db.session.commit()
        assert review.status == "held" and review.held_words == ["scam"]
        assert services.gig_reviews(m.gig_id).total == 0
        services.approve_review(user(m.admin_id), review.id)
        assert services.gig_reviews(m.gig_id).total == 1


def test_reminder_once_before_the_window_closes(acme, completed, in_tenant):
    m, order_id = completed(acme)
    with in_tenant(acme):
        closes = _completed_at(order_id) + timedelta(days=14)
        services.submit_review(user(m.buyer_id), order_id, GOOD, now=closes - timedelta(days=10))
        assert services.windows_to_remind(closes - timedelta(days=4)) == []
        soon = closes - timedelta(days=2)
        assert services.windows_to_remind(soon) == [order_id]
        assert services.remind(order_id, now=soon) == [m.seller_id]
        assert services.remind(order_id, now=soon) == []


def test_a_review_of_one_tenant_is_invisible_from_another_with_equal_ids(acme, globex, completed, in_tenant):
    m, order_id = completed(acme)
    with in_tenant(acme):
        review = services.submit_review(user(m.buyer_id), order_id, GOOD)
        services.submit_review(user(m.seller_id), order_id, BACK)
        db.session.commit()
        review_id = review.id
    g, g_order = completed(globex)
    with in_tenant(globex):
        assert db.session.get(Review, review_id) is None
        with pytest.raises(services.ReviewNotFound):
            services.report_review(user(g.stranger_id), review_id, "spam")
        with pytest.raises(services.ReviewNotFound):
            services.hide_review(user(g.admin_id), review_id, "Nope")
        assert services.gig_reviews(m.gig_id).total == 0
        own = services.submit_review(user(g.buyer_id), g_order, {**GOOD, "rating": 2})
        db.session.commit()
        assert own.id == review_id  # equal ids, separate schemas
    with in_tenant(acme):
        assert db.session.get(Review, review_id).rating == 5


def test_now_must_be_aware():
    with pytest.raises(ValueError):
        services._now(datetime(2026, 1, 1))
    assert services._now(datetime(2026, 1, 1, tzinfo=UTC)).tzinfo is UTC


def test_rating_summaries_are_cached_per_tenant_and_forgotten_when_a_review_changes(
    acme, completed, in_tenant
):
    from app.extensions import redis_store

    m, order_id = completed(acme)
    with in_tenant(acme):
        review = services.submit_review(user(m.buyer_id), order_id, GOOD)
        services.submit_review(user(m.seller_id), order_id, BACK)
        db.session.commit()
        assert services.rating_breakdown(gig_id=m.gig_id)["histogram"][5] == 1
        key = services._summary_key(m.gig_id, None, "of_seller")
        assert key.startswith(f"t:{acme.id}:") and redis_store.client.exists(key)
        assert services.rating_breakdown(gig_id=m.gig_id)["sub_ratings"]["as_described"] == 4  # from Redis
        services.hide_review(user(m.admin_id), review.id, "Off topic")
        db.session.commit()
        assert services.rating_breakdown(gig_id=m.gig_id)["histogram"][5] == 0
        assert services.gig_reviews(m.gig_id).total == 0
        assert services.reviews_of(m.seller_id, "of_seller").total == 0
