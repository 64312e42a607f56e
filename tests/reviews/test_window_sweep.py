"""The worker's review-window sweep: due windows publish, the reminder goes once, per tenant."""

from __future__ import annotations

from datetime import timedelta

from app.orders.models import Order
from app.reviews import services, tasks
from app.reviews.models import Review, ReviewWindow
from tenants.db import db
from tests.reviews.conftest import GOOD, user


def test_sweep_queues_only_tenants_with_a_due_window_once_per_slot(app, acme, globex, completed, in_tenant):
    m, order_id = completed(acme)
    with in_tenant(acme):
        closes = db.session.get(Order, order_id).completed_at + timedelta(days=services.DEFAULT_WINDOW_DAYS)
        services.submit_review(user(m.buyer_id), order_id, GOOD, now=closes - timedelta(days=10))
        db.session.commit()
    completed(globex)  # its window opens with the order.completed event, not run here: no job
    with app.app_context():
        assert tasks.sweep(closes - timedelta(days=5)) == 0  # nothing due, nobody to remind yet
        assert tasks.sweep(closes) == 1  # acme only
        assert tasks.sweep(closes) == 0  # the same slot: queued once


def test_the_job_reminds_then_publishes_what_was_written(app, acme, completed, in_tenant, globex):
    m, order_id = completed(acme)
    g, g_order = completed(globex)  # equal order id in globex: untouched by acme's job
    with in_tenant(acme):
        closes = db.session.get(Order, order_id).completed_at + timedelta(days=services.DEFAULT_WINDOW_DAYS)
        review = services.submit_review(user(m.buyer_id), order_id, GOOD, now=closes - timedelta(days=10))
        db.session.commit()
        review_id = review.id
    with app.app_context():
        assert tasks.publish_due_windows(acme.id, now=closes - timedelta(days=1)) == {
            "published": 0,
            "reminded": 1,
        }
        assert tasks.publish_due_windows(acme.id, now=closes - timedelta(hours=1)) == {
            "published": 0,
            "reminded": 0,
        }
        assert tasks.publish_due_windows(acme.id, now=closes) == {"published": 1, "reminded": 0}
        assert tasks.publish_due_windows(acme.id, now=closes) == {"published": 0, "reminded": 0}
    with in_tenant(acme):
        assert db.session.get(Review, review_id).status == "published"
    with in_tenant(globex):
        assert g_order == order_id
        window = db.session.get(ReviewWindow, g_order)
        assert window is None or window.status == "open"
