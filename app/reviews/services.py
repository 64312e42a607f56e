"""Reviews: two-way, double-blind reviews of completed orders, replies, votes, reports, moderation.

The rules (docs/design/reviews-and-reputation.md):

- Only the two parties of a completed order review, once each, while its review window is open
  (``review_settings().window_days`` from completion, default 14).
- A review stays unseen by the other side (``submitted``) until both are written or the window
  closes; then the window publishes both in one transaction (``publish_window``). The author may
  edit a review until then, never after.
- The reviewed side may reply once, publicly. Anyone signed in may report a published review
  (not their own), once; moderators hide, restore, approve held reviews and dismiss reports.
- A tenant may hold reviews containing banned words for approval instead of publishing them.
- Averages (gig and seller) count published ``of_seller`` reviews only; every publish, hide and
  restore recomputes them and hands them to gigs / accounts, which tell search.

Services flush and raise ``ReviewError`` subclasses; the request or job commits. ``now`` is an
argument wherever time matters.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import redis
import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import set_seller_reputation
from app.core.after_commit import on_commit
from app.core.domain_errors import Conflict, DomainError, Forbidden, NotFound
from app.core.ids import parse_id
from app.events import publish
from app.extensions import redis_store
from app.gigs.services import set_gig_rating
from app.messaging.text import clean_body
from app.orders import services as orders
from app.orders.models import Order
from app.reviews.models import (
    RATING_MAX,
    RATING_MIN,
    REPLY_MAX,
    REPORT_REASONS,
    TEXT_MAX,
    Review,
    ReviewReport,
    ReviewSettings,
    ReviewVote,
    ReviewWindow,
)
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

DEFAULT_WINDOW_DAYS = 14
REMIND_BEFORE = timedelta(days=3)  # the one reminder goes out this long before the window closes
SUB_RATINGS = ("communication", "as_described", "would_recommend")
SUB_RATING_LABELS = {
    "communication": "Communication",
    "as_described": "Service as described",
    "would_recommend": "Would recommend",
}
REPORT_REASON_LABELS = {
    "spam": "Spam or advertising",
    "offensive": "Offensive or abusive",
    "off_topic": "Not about this order",
    "conflict_of_interest": "Written by someone with a conflict of interest",
    "private_information": "Shares private information",
    "other": "Something else",
}
SORTS = ("newest", "helpful", "highest", "lowest")
PER_PAGE_MAX = 50
MAX_BANNED_WORDS = 200
DETAILS_MAX = 1000
REASON_MAX = 500
# Anything that looks like a tag, a comment or a doctype: refused, not escaped and stored.
_MARKUP_RE = re.compile(r"<\s*/?\s*[a-zA-Z!?][^>]*>|<\s*/?\s*(script|style|iframe|img|svg)\b", re.IGNORECASE)

# The review state machine: (from, to) -> who moves it. Services consult it; a 409 names the
# current status. None as "from" is creation.
TRANSITIONS: dict[tuple[str | None, str], str] = {
    (None, "submitted"): "a party of the completed order, while the window is open",
    ("submitted", "submitted"): "the author (edit), while the window is open",
    ("submitted", "published"): "the window (both written, or closed)",
    ("submitted", "held"): "the window, when the text has a banned word and the tenant holds them",
    ("held", "published"): "a moderator (approve)",
    ("held", "hidden"): "a moderator (hide)",
    ("published", "hidden"): "a moderator (hide)",
    ("hidden", "published"): "a moderator (restore)",
}


# --------------------------------------------------------------------------- errors


class ReviewError(DomainError):
    """A refused review operation (422 unless a subclass says otherwise)."""

    status = 422
    code = "invalid"


class ReviewNotFound(ReviewError, NotFound):
    status = 404
    code = "not_found"


class ReviewForbidden(ReviewError, Forbidden):
    status = 403
    code = "forbidden"


class ReviewStateError(ReviewError, Conflict):
    """Not allowed in the current state (409); ``current_status`` says which."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, current_status: str, *, code: str | None = None):
        super().__init__(
            message, code=code, extra={"current_status": current_status, "code": code or "conflict"}
        )
        self.current_status = current_status


def _check_transition(review: Review | None, to: str, doing: str) -> None:
    current = review.status if review is not None else None
    if (current, to) not in TRANSITIONS:
        raise ReviewStateError(f"This review is {current}: you cannot {doing}.", current or "none")


# --------------------------------------------------------------------------- helpers


def _now(now: datetime | None = None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def review_settings() -> ReviewSettings:
    """The tenant's review settings (defaults, unsaved, until the operator saves them)."""
    row = db.session.get(ReviewSettings, 1)
    if row is None:
        row = ReviewSettings(id=1, window_days=DEFAULT_WINDOW_DAYS, hold_banned_words=False, banned_words=[])
        row.level_thresholds = {}
    return row


def _rating(value: Any, field: str, label: str, errors: dict, *, required: bool = True) -> int | None:
    if value is None or value == "":
        if required:
            errors[field] = f"{label}: choose from {RATING_MIN} to {RATING_MAX} stars."
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not RATING_MIN <= value <= RATING_MAX:
        errors[field] = f"{label} must be a whole number from {RATING_MIN} to {RATING_MAX}."
        return None
    return value


def clean_review_text(value: Any, field: str, errors: dict, *, label: str, max_len: int) -> str:
    """Plain text as messages store it; refuses empty, oversized and markup."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = f"{label} must be text."
        return ""
    text = clean_body(value)
    if not text:
        errors[field] = f"{label} is required."
    elif len(text) > max_len:
        errors[field] = f"{label} must be at most {max_len:,} characters (this one has {len(text):,})."
    elif _MARKUP_RE.search(text):
        errors[field] = f"{label} must be plain text: HTML tags are not allowed."
    return text


def _clean_review(data: dict, direction: str) -> dict:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {"rating": _rating(data.get("rating"), "rating", "The overall rating", errors)}
    if direction == "of_seller":
        for field in SUB_RATINGS:
            clean[field] = _rating(data.get(field), field, SUB_RATING_LABELS[field], errors)
    clean["text"] = clean_review_text(data.get("text"), "text", errors, label="The review", max_len=TEXT_MAX)
    if errors:
        raise ReviewError("Please correct the review.", errors)
    return clean


def _order_for(user: User, order_id: Any) -> Order:
    try:
        return orders.get_order(user, order_id)
    except orders.OrderNotFound as exc:
        raise ReviewNotFound("This order does not exist.") from exc


def _party_direction(order: Order, user: User) -> str:
    party = order.party(user.id)
    if party is None:
        raise ReviewNotFound("This order does not exist.")
    return "of_seller" if party == "buyer" else "of_buyer"


def _lock_window(order_id: int) -> ReviewWindow | None:
    return db.session.execute(
        sa.select(ReviewWindow)
        .where(ReviewWindow.order_id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _review_for(review_id: Any, *, lock: bool = False) -> Review:
    rid = parse_id(review_id)
    if not rid:
        raise ReviewNotFound("This review does not exist.")
    query = sa.select(Review).where(Review.id == rid)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    review = db.session.execute(query).scalar_one_or_none()
    if review is None:
        raise ReviewNotFound("This review does not exist.")
    return review


def can_see(viewer: User | None, review: Review) -> bool:
    """Published reviews are public; unpublished ones are their author's (and moderators')."""
    if review.status == "published":
        return True
    if viewer is None or not getattr(viewer, "is_authenticated", False):
        return False
    return viewer.id == review.author_id or viewer.role in ("moderator", "admin")


def get_review(viewer: User | None, review_id: Any) -> Review:
    """A review ``viewer`` may see. Raises ReviewNotFound otherwise (unpublished ones included)."""
    review = _review_for(review_id)
    if not can_see(viewer, review):
        raise ReviewNotFound("This review does not exist.")
    return review


# --------------------------------------------------------------------------- windows


def open_window(order_id: int, *, now: datetime | None = None) -> ReviewWindow | None:
    """The order's review window, opened now if the order is completed and has none; flushes.

    Idempotent (the ``order.completed`` handler and the first review both call it). Returns
    None for an order that is not completed (or does not exist).
    """
    window = db.session.get(ReviewWindow, order_id)
    if window is not None:
        return window
    order = db.session.get(Order, order_id)
    if order is None or order.status != "completed" or order.completed_at is None:
        return None
    days = review_settings().window_days
    db.session.execute(
        sa.dialects.postgresql.insert(ReviewWindow)
        .values(
            order_id=order.id,
            buyer_id=order.buyer_id,
            seller_id=order.seller_id,
            gig_id=order.gig_id,
            status="open",
            opens_at=order.completed_at,
            closes_at=order.completed_at + timedelta(days=days),
        )
        .on_conflict_do_nothing(index_elements=["order_id"])
    )
    return db.session.get(ReviewWindow, order_id, populate_existing=True)


def _window_for_writing(order: Order, now: datetime) -> ReviewWindow:
    if order.status != "completed":
        raise ReviewStateError(
            "You can review this order once it is completed.", order.status, code="order_not_completed"
        )
    open_window(order.id, now=now)
    window = _lock_window(order.id)
    if window is None:  # pragma: no cover - open_window just made it
        raise ReviewStateError("This order cannot be reviewed.", order.status)
    if window.status != "open" or now >= window.closes_at:
        raise ReviewStateError(
            f"The time to review this order ended on {window.closes_at:%Y-%m-%d}.",
            "window_closed",
            code="window_closed",
        )
    return window


def _has_banned_word(text: str, words: list[str]) -> list[str]:
    lowered = text.lower()
    return [w for w in words if w and re.search(rf"(?<!\w){re.escape(w.lower())}(?!\w)", lowered)]


def publish_window(order_id: int, *, now: datetime | None = None) -> list[Review]:
    """Publish the order's reviews together (both written, or the window closed); flushes.

    Idempotent: a window publishes once (its row is locked); later calls return []. Reviews
    with a banned word go to ``held`` when the tenant holds them. Returns the reviews it moved.
    """
    now = _now(now)
    window = _lock_window(order_id)
    if window is None or window.status != "open":
        return []
    window.status = "published"
    window.published_at = now
    settings = review_settings()
    moved = []
    for review in db.session.scalars(
        sa.select(Review).where(Review.order_id == order_id, Review.status == "submitted").order_by(Review.id)
    ):
        words = (
            _has_banned_word(review.text, settings.banned_words or []) if settings.hold_banned_words else []
        )
        if words:
            review.status = "held"
            review.held_words = words
            publish("review.held", {"review_id": review.id})
        else:
            review.status = "published"
            review.published_at = now
            publish("review.published", {"review_id": review.id})
        moved.append(review)
    db.session.flush()
    for review in moved:
        if review.status == "published":
            refresh_aggregates(review)
    return moved


def windows_due(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Order ids of open windows whose time is up (the sweep publishes them)."""
    now = _now(now)
    return list(
        db.session.scalars(
            sa.select(ReviewWindow.order_id)
            .where(ReviewWindow.status == "open", ReviewWindow.closes_at <= now)
            .order_by(ReviewWindow.closes_at, ReviewWindow.order_id)
            .limit(limit)
        )
    )


def remind(order_id: int, *, now: datetime | None = None) -> list[int]:
    """Remind, once, the parties who have not reviewed yet; flushes. Returns their ids.

    Publishes ``review.reminder`` ``{"order_id", "user_ids"}`` when someone is left to remind.
    """
    now = _now(now)
    window = _lock_window(order_id)
    if window is None or window.status != "open" or window.reminded_at is not None:
        return []
    if window.closes_at - REMIND_BEFORE > now or window.closes_at <= now:
        return []
    window.reminded_at = now
    written = set(db.session.scalars(sa.select(Review.author_id).where(Review.order_id == order_id)))
    missing = [uid for uid in (window.buyer_id, window.seller_id) if uid not in written]
    if missing:
        publish("review.reminder", {"order_id": order_id, "user_ids": missing})
    db.session.flush()
    return missing


def windows_to_remind(now: datetime | None = None, limit: int = 500) -> list[int]:
    now = _now(now)
    return list(
        db.session.scalars(
            sa.select(ReviewWindow.order_id)
            .where(
                ReviewWindow.status == "open",
                ReviewWindow.reminded_at.is_(None),
                ReviewWindow.closes_at <= now + REMIND_BEFORE,
                ReviewWindow.closes_at > now,
            )
            .order_by(ReviewWindow.closes_at, ReviewWindow.order_id)
            .limit(limit)
        )
    )


# --------------------------------------------------------------------------- writing


def submit_review(user: User, order_id: Any, data: dict, *, now: datetime | None = None) -> Review:
    """``user`` reviews the other party of a completed order; flushes.

    ``data``: ``rating`` 1-5 and ``text``; a buyer adds ``communication``, ``as_described`` and
    ``would_recommend`` (1-5). When the other side has written theirs, both publish now.
    Raises ReviewNotFound (not a party), ReviewStateError (not completed, window closed,
    already reviewed), ReviewError (field errors).
    """
    now = _now(now)
    order = _order_for(user, order_id)
    direction = _party_direction(order, user)
    clean = _clean_review(data if isinstance(data, dict) else {}, direction)
    window = _window_for_writing(order, now)
    existing = db.session.scalar(
        sa.select(Review).where(Review.order_id == order.id, Review.direction == direction)
    )
    if existing is not None:
        raise ReviewStateError(
            "You have already reviewed this order.", existing.status, code="already_reviewed"
        )
    review = Review(
        order_id=order.id,
        gig_id=order.gig_id,
        direction=direction,
        author_id=user.id,
        subject_id=order.seller_id if direction == "of_seller" else order.buyer_id,
        status="submitted",
        created_at=now,
        updated_at=now,
        **clean,
    )
    db.session.add(review)
    db.session.flush()
    publish("review.submitted", {"review_id": review.id})
    other = db.session.scalar(
        sa.select(sa.func.count()).select_from(Review).where(Review.order_id == window.order_id)
    )
    if other == 2:
        publish_window(window.order_id, now=now)
    return review


def edit_review(user: User, review_id: Any, data: dict, *, now: datetime | None = None) -> Review:
    """The author changes their review before it is published; flushes.

    Raises ReviewNotFound (not theirs), ReviewStateError (published, held, window closed),
    ReviewError (field errors).
    """
    now = _now(now)
    review = _review_for(review_id, lock=True)
    if review.author_id != user.id:
        raise ReviewNotFound("This review does not exist.")
    _check_transition(review, "submitted", "edit it after it was published")
    clean = _clean_review(data if isinstance(data, dict) else {}, review.direction)
    window = _lock_window(review.order_id)
    if window is None or window.status != "open" or now >= window.closes_at:
        raise ReviewStateError(
            "The time to review this order has ended.", "window_closed", code="window_closed"
        )
    for field, value in clean.items():
        setattr(review, field, value)
    review.updated_at = now
    db.session.flush()
    return review


def reply_to_review(user: User, review_id: Any, text: Any, *, now: datetime | None = None) -> Review:
    """The reviewed side answers a published review, once, publicly; flushes.

    Raises ReviewNotFound, ReviewForbidden (not the reviewed side), ReviewStateError (not
    published, already replied), ReviewError (text).
    """
    now = _now(now)
    review = _review_for(review_id, lock=True)
    if not can_see(user, review):
        raise ReviewNotFound("This review does not exist.")
    if review.subject_id != user.id:
        raise ReviewForbidden("Only the person reviewed can reply to a review.", code="not_reviewed_party")
    if review.status != "published":
        raise ReviewStateError("You can reply once the review is published.", review.status)
    if review.reply_text is not None:
        raise ReviewStateError(
            "You have already replied to this review.", review.status, code="already_replied"
        )
    errors: dict[str, str] = {}
    clean = clean_review_text(text, "text", errors, label="The reply", max_len=REPLY_MAX)
    if errors:
        raise ReviewError("Please correct the reply.", errors)
    review.reply_text = clean
    review.reply_at = now
    db.session.flush()
    publish("review.replied", {"review_id": review.id})
    return review


def vote_helpful(user: User, review_id: Any, helpful: bool = True) -> Review:
    """Mark (or unmark) a published review as helpful; one vote per member; flushes.

    Raises ReviewNotFound, ReviewForbidden (your own review).
    """
    review = _review_for(review_id, lock=True)
    if review.status != "published":
        raise ReviewNotFound("This review does not exist.")
    if review.author_id == user.id:
        raise ReviewForbidden("You cannot vote on your own review.", code="own_review")
    # RETURNING counts the rows: an ORM-enabled INSERT ... ON CONFLICT reports rowcount -1.
    if helpful:
        added = db.session.execute(
            sa.dialects.postgresql.insert(ReviewVote)
            .values(review_id=review.id, user_id=user.id)
            .on_conflict_do_nothing()
            .returning(ReviewVote.user_id)
        ).all()
        review.helpful_count += len(added)
    else:
        removed = db.session.execute(
            sa.delete(ReviewVote)
            .where(ReviewVote.review_id == review.id, ReviewVote.user_id == user.id)
            .returning(ReviewVote.user_id)
        ).all()
        review.helpful_count = max(0, review.helpful_count - len(removed))
    db.session.flush()
    return review


def report_review(user: User, review_id: Any, reason: Any, details: Any = "", *, now: datetime | None = None):
    """Report a published review to the moderators, once per member; flushes.

    Raises ReviewNotFound, ReviewForbidden (your own review), ReviewStateError (already
    reported by you), ReviewError (reason, details).
    """
    now = _now(now)
    review = _review_for(review_id, lock=True)
    if review.status != "published":
        raise ReviewNotFound("This review does not exist.")
    if review.author_id == user.id:
        raise ReviewForbidden("You cannot report your own review.", code="own_review")
    errors: dict[str, str] = {}
    if reason not in REPORT_REASONS:
        errors["reason"] = "Choose a reason: " + ", ".join(REPORT_REASONS) + "."
    text = ""
    if details not in (None, ""):
        text = clean_review_text(details, "details", errors, label="The details", max_len=DETAILS_MAX)
    if errors:
        raise ReviewError("Please correct the report.", errors)
    exists = db.session.scalar(
        sa.select(ReviewReport.id).where(
            ReviewReport.review_id == review.id, ReviewReport.reporter_id == user.id
        )
    )
    if exists:
        raise ReviewStateError(
            "You have already reported this review.", review.status, code="already_reported"
        )
    report = ReviewReport(
        review_id=review.id, reporter_id=user.id, reason=reason, details=text, created_at=now
    )
    db.session.add(report)
    review.report_count += 1
    db.session.flush()
    publish("review.reported", {"review_id": review.id, "report_id": report.id})
    return report


# --------------------------------------------------------------------------- moderation


def _moderation_reason(reason: Any) -> str:
    errors: dict[str, str] = {}
    text = clean_review_text(reason, "reason", errors, label="The reason", max_len=REASON_MAX)
    if errors:
        raise ReviewError("Please give a reason.", errors)
    return text


def _resolve_reports(review: Review, actor: User, status: str, now: datetime) -> int:
    return db.session.execute(
        sa.update(ReviewReport)
        .where(ReviewReport.review_id == review.id, ReviewReport.status == "open")
        .values(status=status, resolved_at=now, resolved_by_id=actor.id)
    ).rowcount


def hide_review(actor: User, review_id: Any, reason: Any, *, now: datetime | None = None) -> Review:
    """A moderator takes a review down (it leaves the averages); its open reports are upheld;
    flushes. Publishes ``review.hidden`` (the author is told the reason).

    Raises ReviewNotFound, ReviewStateError (not published or held), ReviewError (reason).
    """
    now = _now(now)
    review = _review_for(review_id, lock=True)
    _check_transition(review, "hidden", "hide it")
    text = _moderation_reason(reason)
    was_public = review.status == "published"
    review.status = "hidden"
    review.moderated_at, review.moderated_by_id, review.moderation_reason = now, actor.id, text
    _resolve_reports(review, actor, "upheld", now)
    db.session.flush()
    publish("review.hidden", {"review_id": review.id})
    if was_public:
        refresh_aggregates(review)
    return review


def restore_review(actor: User, review_id: Any, reason: Any, *, now: datetime | None = None) -> Review:
    """A moderator puts a hidden review back (it counts again); flushes. Publishes
    ``review.restored``. Raises ReviewNotFound, ReviewStateError (not hidden), ReviewError."""
    now = _now(now)
    review = _review_for(review_id, lock=True)
    if review.status != "hidden":
        raise ReviewStateError(
            f"This review is {review.status}: only a hidden review can be restored.", review.status
        )
    text = _moderation_reason(reason)
    review.status = "published"
    review.published_at = review.published_at or now
    review.moderated_at, review.moderated_by_id, review.moderation_reason = now, actor.id, text
    db.session.flush()
    publish("review.restored", {"review_id": review.id})
    refresh_aggregates(review)
    return review


def approve_review(actor: User, review_id: Any, *, now: datetime | None = None) -> Review:
    """A moderator publishes a held review; flushes. Raises ReviewNotFound, ReviewStateError."""
    now = _now(now)
    review = _review_for(review_id, lock=True)
    if review.status != "held":
        raise ReviewStateError(
            f"This review is {review.status}: only a held review can be approved.", review.status
        )
    review.status = "published"
    review.published_at = now
    review.moderated_at, review.moderated_by_id = now, actor.id
    db.session.flush()
    publish("review.published", {"review_id": review.id})
    refresh_aggregates(review)
    return review


def dismiss_report(actor: User, report_id: Any, *, now: datetime | None = None) -> ReviewReport:
    """A moderator finds nothing wrong with a report; flushes. Raises ReviewNotFound,
    ReviewStateError (already resolved)."""
    now = _now(now)
    rid = parse_id(report_id)
    report = db.session.get(ReviewReport, rid, with_for_update=True) if rid else None
    if report is None:
        raise ReviewNotFound("This report does not exist.")
    if report.status != "open":
        raise ReviewStateError(f"This report is already {report.status}.", report.status)
    report.status, report.resolved_at, report.resolved_by_id = "dismissed", now, actor.id
    db.session.flush()
    return report


# --------------------------------------------------------------------------- aggregates


def _two_places(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def rating_summary(*, gig_id: int | None = None, subject_id: int | None = None, direction: str = "of_seller"):
    """``(average, count)`` of the published reviews of a gig or of a person (indexed)."""
    query = sa.select(sa.func.avg(Review.rating), sa.func.count()).where(
        Review.status == "published", Review.direction == direction
    )
    query = (
        query.where(Review.gig_id == gig_id)
        if gig_id is not None
        else query.where(Review.subject_id == subject_id)
    )
    average, count = db.session.execute(query).one()
    return _two_places(average), int(count)


def refresh_aggregates(review: Review) -> None:
    """Recompute the gig's and the seller's rating after ``review`` changed state (of_seller only);
    forget the cached summaries it counts in (both directions)."""
    _forget_summaries(review)
    if review.direction != "of_seller":
        return
    if review.gig_id is not None:
        set_gig_rating(review.gig_id, *rating_summary(gig_id=review.gig_id))
    set_seller_reputation(review.subject_id, rating=rating_summary(subject_id=review.subject_id))


SUMMARY_CACHE_SECONDS = 600


def _summary_key(gig_id: int | None, subject_id: int | None, direction: str) -> str:
    scope = f"gig:{gig_id}" if gig_id is not None else f"user:{subject_id}:{direction}"
    return f"t:{current_tenant().id}:reviews:summary:{scope}"


def _forget_summaries(review: Review) -> None:
    """Drop the cached summaries ``review`` counts in, now and again after the commit (so a reader
    between the two cannot keep the old figures)."""
    keys = [_summary_key(None, review.subject_id, review.direction)]
    if review.gig_id is not None and review.direction == "of_seller":
        keys.append(_summary_key(review.gig_id, None, review.direction))

    def forget() -> None:
        try:
            redis_store.client.delete(*keys)
        except redis.RedisError:
            log.warning("review summaries not forgotten (Redis): %s", keys)

    forget()
    on_commit(forget)


def _computed_breakdown(gig_id: int | None, subject_id: int | None, direction: str) -> dict:
    scope = [Review.status == "published", Review.direction == direction]
    scope.append(Review.gig_id == gig_id if gig_id is not None else Review.subject_id == subject_id)
    counts = dict(
        db.session.execute(
            sa.select(Review.rating, sa.func.count()).where(*scope).group_by(Review.rating)
        ).all()
    )
    subs = {}
    if direction == "of_seller":
        row = db.session.execute(
            sa.select(*(sa.func.avg(getattr(Review, f)) for f in SUB_RATINGS)).where(*scope)
        ).one()
        subs = {f: (_two_places(v) if v is not None else None) for f, v in zip(SUB_RATINGS, row, strict=True)}
    return {
        "histogram": {star: int(counts.get(star, 0)) for star in range(RATING_MAX, RATING_MIN - 1, -1)},
        "sub_ratings": subs,
    }


def rating_breakdown(
    *, gig_id: int | None = None, subject_id: int | None = None, direction: str = "of_seller"
):
    """``{5: n, 4: n, ... 1: n}`` of published reviews, plus sub-rating averages (of_seller).

    Kept in Redis (the key carries the tenant) for ``SUMMARY_CACHE_SECONDS``: a seller with
    10,000 reviews would otherwise cost two aggregates over all of them on every profile view.
    Every change of what is published (``refresh_aggregates``) forgets the entries it affects;
    a Redis outage only costs the cache.
    """
    key = _summary_key(gig_id, subject_id, direction)
    try:
        raw = redis_store.client.get(key)
    except redis.RedisError:
        raw = None
    if raw is not None:
        try:
            cached = json.loads(raw)
            return {
                "histogram": {int(star): int(n) for star, n in cached["histogram"].items()},
                "sub_ratings": {
                    f: (Decimal(v) if v is not None else None) for f, v in cached["sub_ratings"].items()
                },
            }
        except (ValueError, TypeError, KeyError, ArithmeticError):
            pass  # written by another version: recompute
    result = _computed_breakdown(gig_id, subject_id, direction)
    encoded = {
        "histogram": result["histogram"],
        "sub_ratings": {f: (str(v) if v is not None else None) for f, v in result["sub_ratings"].items()},
    }
    with contextlib.suppress(redis.RedisError):
        redis_store.client.set(key, json.dumps(encoded), ex=SUMMARY_CACHE_SECONDS)
    return result


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Page:
    items: list[Review]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _order_by(sort: str):
    return {
        "newest": (Review.published_at.desc(), Review.id.desc()),
        "helpful": (Review.helpful_count.desc(), Review.published_at.desc(), Review.id.desc()),
        "highest": (Review.rating.desc(), Review.published_at.desc(), Review.id.desc()),
        "lowest": (Review.rating.asc(), Review.published_at.desc(), Review.id.desc()),
    }[sort]


def _page(scope: list, sort: str, page: int, per_page: int, total: int | None = None) -> Page:
    if sort not in SORTS:
        raise ReviewError("Unknown sort.", {"sort": f"Choose one of: {', '.join(SORTS)}."})
    if not isinstance(page, int) or page < 1 or page > 10_000:
        raise ReviewError("Unknown page.", {"page": "The page goes from 1 to 10,000."})
    per_page = max(1, min(int(per_page), PER_PAGE_MAX))
    if total is None:
        total = db.session.scalar(sa.select(sa.func.count()).select_from(Review).where(*scope))
    items = list(
        db.session.scalars(
            sa.select(Review)
            .where(*scope)
            .order_by(*_order_by(sort))
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    return Page(items, int(total or 0), page, per_page)


def gig_reviews(
    gig_id: int, *, sort: str = "newest", page: int = 1, per_page: int = 10, breakdown: dict | None = None
) -> Page:
    """Published reviews of a gig (by its buyers). ``breakdown``: the gig's ``rating_breakdown``
    when the caller has it already (its total is the page's; else it is read, from its cache)."""
    scope = [Review.gig_id == gig_id, Review.status == "published", Review.direction == "of_seller"]
    breakdown = breakdown if breakdown is not None else rating_breakdown(gig_id=gig_id)
    return _page(scope, sort, page, per_page, sum(breakdown["histogram"].values()))


def reviews_of(
    user_id: int,
    direction: str,
    *,
    sort: str = "newest",
    page: int = 1,
    per_page: int = 10,
    breakdown: dict | None = None,
) -> Page:
    """Published reviews of a person: as a seller (``of_seller``) or as a buyer (``of_buyer``).
    ``breakdown``: as in ``gig_reviews``."""
    scope = [Review.subject_id == user_id, Review.status == "published", Review.direction == direction]
    if breakdown is None:
        breakdown = rating_breakdown(subject_id=user_id, direction=direction)
    return _page(scope, sort, page, per_page, sum(breakdown["histogram"].values()))


@dataclass(frozen=True)
class OrderReviews:
    """What a party of an order sees of its reviews, for the order page and the API."""

    window: ReviewWindow | None
    mine: Review | None
    theirs: Review | None  # only once published (or held/hidden: shown as such to no one else)
    can_write: bool
    can_edit: bool
    direction: str


def order_review_state(user: User, order: Order, *, now: datetime | None = None) -> OrderReviews:
    """The reviews of an order as ``user`` (a party) may see them: their own always, the other
    side's once published. Opens the window on the way if the completion event is late."""
    now = _now(now)
    direction = _party_direction(order, user)
    window = db.session.get(ReviewWindow, order.id)
    if window is None and order.status == "completed":
        window = open_window(order.id, now=now)
    rows = {r.direction: r for r in db.session.scalars(sa.select(Review).where(Review.order_id == order.id))}
    mine = rows.get(direction)
    other = rows.get("of_buyer" if direction == "of_seller" else "of_seller")
    theirs = other if other is not None and other.status == "published" else None
    is_open = window is not None and window.status == "open" and now < window.closes_at
    return OrderReviews(
        window=window,
        mine=mine,
        theirs=theirs,
        can_write=is_open and mine is None,
        can_edit=is_open and mine is not None and mine.status == "submitted",
        direction=direction,
    )


def pending_reviews_for(user: User, *, now: datetime | None = None, limit: int = 20) -> list[ReviewWindow]:
    """Open windows where ``user`` has not written their review yet (the dashboard's prompt)."""
    now = _now(now)
    written = sa.select(Review.order_id).where(Review.author_id == user.id)
    return list(
        db.session.scalars(
            sa.select(ReviewWindow)
            .where(
                sa.or_(ReviewWindow.buyer_id == user.id, ReviewWindow.seller_id == user.id),
                ReviewWindow.status == "open",
                ReviewWindow.closes_at > now,
                ReviewWindow.order_id.not_in(written),
            )
            .order_by(ReviewWindow.closes_at, ReviewWindow.order_id)
            .limit(limit)
        )
    )


def open_reports(*, page: int = 1, per_page: int = 25) -> tuple[list[tuple[Review, list[ReviewReport]]], int]:
    """Reviews with open reports or held for approval, most reported first (the console queue)."""
    reported = sa.select(ReviewReport.review_id).where(ReviewReport.status == "open")
    scope = sa.or_(Review.id.in_(reported), Review.status == "held")
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Review).where(scope))
    reviews = list(
        db.session.scalars(
            sa.select(Review)
            .where(scope)
            .order_by(Review.report_count.desc(), Review.id)
            .offset((max(1, page) - 1) * per_page)
            .limit(per_page)
        )
    )
    reports: dict[int, list[ReviewReport]] = {r.id: [] for r in reviews}
    if reviews:
        for report in db.session.scalars(
            sa.select(ReviewReport).where(ReviewReport.review_id.in_(list(reports))).order_by(ReviewReport.id)
        ):
            reports[report.review_id].append(report)
    return [(r, reports[r.id]) for r in reviews], int(total or 0)


# --------------------------------------------------------------------------- settings


def update_review_settings(data: dict) -> tuple[ReviewSettings, dict]:
    """Save the review window and the banned-word hold; flushes. Returns the row and the
    ``{"field": [old, new]}`` changes (for the console's audit). Raises ReviewError."""
    errors: dict[str, str] = {}
    row = db.session.get(ReviewSettings, 1, with_for_update=True)
    if row is None:
        row = ReviewSettings(id=1, window_days=DEFAULT_WINDOW_DAYS, hold_banned_words=False, banned_words=[])
        row.level_thresholds = {}
        db.session.add(row)
    clean: dict[str, Any] = {}
    if "window_days" in data:
        value = data["window_days"]
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 90:
            errors["window_days"] = "The review window is 1 to 90 days."
        else:
            clean["window_days"] = value
    if "hold_banned_words" in data:
        if not isinstance(data["hold_banned_words"], bool):
            errors["hold_banned_words"] = "Yes or no."
        else:
            clean["hold_banned_words"] = data["hold_banned_words"]
    if "banned_words" in data:
        words = data["banned_words"]
        if isinstance(words, str):
            words = re.split(r"[,\n]", words)
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            errors["banned_words"] = "A list of words."
        else:
            cleaned = sorted({" ".join(w.split()).lower() for w in words if w.strip()})
            if len(cleaned) > MAX_BANNED_WORDS or any(len(w) > 40 for w in cleaned):
                errors["banned_words"] = f"At most {MAX_BANNED_WORDS} words of up to 40 characters."
            else:
                clean["banned_words"] = cleaned
    if errors:
        raise ReviewError("Please correct the settings.", errors)
    changes = {}
    for field, value in clean.items():
        old = getattr(row, field)
        if old != value:
            changes[field] = [old, value]
            setattr(row, field, value)
    db.session.flush()
    return row, changes
