"""Console actions on reviews: each calls the reviews domain's rule and writes the audit entry
in the same transaction (the request's unit of work commits both, or rolls both back on a
refusal).

The rules, and every refusal, live in ``app/reviews/services.py`` (moderation, the review
window and banned words) and ``app/reviews/settings.py`` (level thresholds); the web views
(``views.py``) and the API (``api.py``) call only these actions, so both are audited alike.
The author of a hidden review is told by a notification built from the ``review.hidden``
event the service publishes.

Audit actions: ``review.hide``, ``review.restore``, ``review.approve`` (target ``review``),
``review_report.dismiss`` (target ``review_report``) and ``reviews.settings.update`` (target
``review_settings``); ``changes`` holds ``{"field": [old, new]}``, with the gig's and the
seller's rating before and after when the review counts in them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.console.audit import diff, record_audit
from app.console.reviews import reads
from app.reviews import services
from app.reviews import settings as level_settings
from app.reviews.models import Review, ReviewReport
from tenants.db import db


def _who(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.display_name if user is not None else "a deleted account"


def _label(review: Review) -> str:
    return f"review #{review.id} by {_who(review.author_id)} of {_who(review.subject_id)}"


def _state(review: Review) -> dict:
    """What a moderation decision changes, as values (the service refreshes the row in place)."""
    state: dict[str, Any] = {
        "status": review.status,
        "moderation_reason": review.moderation_reason,
        "open_reports": db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ReviewReport)
            .where(ReviewReport.review_id == review.id, ReviewReport.status == "open")
        ),
    }
    if review.direction == "of_seller":
        # The averages the decision moves (the stars on the gig and on the seller's profile).
        if review.gig_id is not None:
            state["gig_rating"] = _rating(services.rating_summary(gig_id=review.gig_id))
        state["seller_rating"] = _rating(services.rating_summary(subject_id=review.subject_id))
    return state


def _rating(summary: tuple) -> str:
    average, count = summary
    return f"{average} ({count} review{'s' if count != 1 else ''})"


def hide_review(actor: User, review_id: Any, reason: Any) -> Review:
    """Hide a published or held review with a reason (see ``services.hide_review``: it leaves
    the averages, its open reports are upheld, the author is told) and audit it."""
    before = _state(reads.get_review(actor, review_id))
    review = services.hide_review(actor, review_id, reason)
    record_audit(
        actor,
        "review.hide",
        "review",
        review.id,
        f"Hid {_label(review)}: {review.moderation_reason}",
        diff(before, _state(review)),
    )
    return review


def restore_review(actor: User, review_id: Any, reason: Any) -> Review:
    """Put a hidden review back with a reason (see ``services.restore_review``) and audit it."""
    before = _state(reads.get_review(actor, review_id))
    review = services.restore_review(actor, review_id, reason)
    record_audit(
        actor,
        "review.restore",
        "review",
        review.id,
        f"Restored {_label(review)}: {review.moderation_reason}",
        diff(before, _state(review)),
    )
    return review


def approve_review(actor: User, review_id: Any) -> Review:
    """Publish a review held for banned words (see ``services.approve_review``) and audit it."""
    current = reads.get_review(actor, review_id)
    held_words = list(current.held_words or [])
    before = _state(current)
    review = services.approve_review(actor, review_id)
    changes = diff(before, _state(review))
    changes["held_words"] = held_words  # a detail: what the moderator accepted
    record_audit(
        actor,
        "review.approve",
        "review",
        review.id,
        f"Approved {_label(review)}" + (f" (held for: {', '.join(held_words)})" if held_words else ""),
        changes,
    )
    return review


def dismiss_report(actor: User, report_id: Any) -> ReviewReport:
    """Dismiss one open report of a review (see ``services.dismiss_report``) and audit it.
    The review stays as it is (other open reports keep it in the queue)."""
    report = services.dismiss_report(actor, report_id)
    reason = services.REPORT_REASON_LABELS.get(report.reason, report.reason)
    record_audit(
        actor,
        "review_report.dismiss",
        "review_report",
        report.id,
        f"Dismissed the report “{reason}” by {_who(report.reporter_id)} on review #{report.review_id}",
        {"status": ["open", report.status], "review_id": report.review_id, "reason": report.reason},
    )
    return report


def update_reputation_settings(
    actor: User, review_settings: dict | None = None, level_thresholds: dict | None = None
) -> dict:
    """Change the review window, the banned-word hold and list (``services.update_review_settings``)
    and the level thresholds (``settings.update_level_thresholds``), audited together as
    ``reviews.settings.update``. Both parts are checked before either refuses, so every bad
    field is reported at once. Raises ReviewError with field errors named like the request's
    fields (``window_days``, ``level_thresholds.level_2.orders``); nothing changed: the request
    rolls back. Returns ``reads.reputation_settings()``."""
    errors: dict[str, str] = {}
    changes: dict[str, list] = {}
    if review_settings:
        try:
            _row, changed = services.update_review_settings(review_settings)
            changes.update(changed)
        except services.ReviewError as exc:
            errors.update(exc.field_errors or exc.errors)
    if level_thresholds:
        try:
            _thresholds, changed = level_settings.update_level_thresholds(level_thresholds)
            changes.update(changed)
        except services.ReviewError as exc:
            # Named like the request's fields: ``level_thresholds.level_2.orders``.
            errors.update({f"level_thresholds.{k}": v for k, v in (exc.field_errors or exc.errors).items()})
    if errors:
        raise services.ReviewError("Please correct the settings.", errors)
    if changes:
        record_audit(
            actor,
            "reviews.settings.update",
            "review_settings",
            1,
            "Review and reputation settings changed: " + ", ".join(sorted(changes)),
            changes,
        )
    return reads.reputation_settings()
