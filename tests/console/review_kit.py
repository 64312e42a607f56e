"""Test kit of the console's reviews area: a market (tests/orders) whose completed orders carry
published, reported and held reviews (written through the real services), a moderator, and
what a review, its reports, the gig's average and the audit log say, for "nothing changed"
checks. tests/console/conftest.py imports the fixtures; modules import the helpers by name.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.console.models import AuditEntry
from app.gigs.models import Gig
from app.reviews import services
from app.reviews.models import Review, ReviewReport, ReviewSettings
from tenants.db import db
from tests.reviews.conftest import BACK, GOOD, completed, drive, market, user  # noqa: F401  (fixtures)

SPAM = "Visit cheaplogos.example for better work."


@pytest.fixture
def reviewed(completed, make_user, in_tenant):  # noqa: F811  (the fixture imported above)
    """``reviewed(tenant)`` -> two completed orders of one gig, each reviewed by both sides: the
    buyer gave 5 and 1 stars (the gig's average: 3.00 from 2). The stranger reported the 1-star
    review as spam. With ``held=True`` a third order's buyer review holds a banned word."""

    def build(tenant, *, held=False):
        m, first = completed(tenant)
        slug = tenant.slug
        moderator_id = make_user(
            tenant, email=f"mod@{slug}.test", display_name="Mo Moderator", role="moderator"
        )
        with in_tenant(tenant):
            second = drive(m, "completed")
            five = services.submit_review(user(m.buyer_id), first, {**GOOD, "rating": 5})
            services.submit_review(user(m.seller_id), first, BACK)
            one = services.submit_review(user(m.buyer_id), second, {**GOOD, "rating": 1, "text": SPAM})
            services.submit_review(user(m.seller_id), second, BACK)
            report = services.report_review(
                user(m.stranger_id), one.id, "spam", "Advertises another website."
            )
            db.session.commit()
            held_id = None
            if held:
                services.update_review_settings({"hold_banned_words": True, "banned_words": ["scam"]})
                third = drive(m, "completed")
                held_review = services.submit_review(
                    user(m.buyer_id), third, {**GOOD, "rating": 4, "text": "Not a scam after all."}
                )
                services.submit_review(user(m.seller_id), third, BACK)
                db.session.commit()
                assert held_review.status == "held"
                held_id = held_review.id
            return SimpleNamespace(
                m=m,
                tenant=tenant,
                moderator_id=moderator_id,
                moderator_email=f"mod@{slug}.test",
                five_id=five.id,
                one_id=one.id,
                held_id=held_id,
                report_id=report.id,
                gig_id=m.gig_id,
            )

    return build


def review_state(review_id: int) -> dict | None:
    """What a review, its reports and its gig say now (tenant bound)."""
    db.session.expire_all()
    review = db.session.get(Review, review_id)
    if review is None:
        return None
    gig = db.session.get(Gig, review.gig_id)
    return {
        "status": review.status,
        "moderation_reason": review.moderation_reason,
        "moderated_by_id": review.moderated_by_id,
        "published_at": review.published_at,
        "reports": sorted(
            db.session.execute(
                sa.select(ReviewReport.id, ReviewReport.status).where(ReviewReport.review_id == review_id)
            ).all()
        ),
        "gig_rating": (float(gig.rating_avg), gig.rating_count) if gig else None,
    }


def audit_entries(action_prefix: str = "review") -> list[AuditEntry]:
    """The audit entries whose action starts with ``action_prefix`` (tenant bound), oldest first."""
    return list(
        db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action.startswith(action_prefix)).order_by(AuditEntry.id)
        )
    )


def settings_state() -> dict | None:
    """The tenant's review settings row as stored (None: never saved)."""
    db.session.expire_all()
    row = db.session.get(ReviewSettings, 1)
    if row is None:
        return None
    return {
        "window_days": row.window_days,
        "hold_banned_words": row.hold_banned_words,
        "banned_words": list(row.banned_words or []),
        "level_thresholds": dict(row.level_thresholds or {}),
    }
