"""Console reads of the reviews area: the moderation queue, every review (filters, search),
one review with its reports and history, and the reputation settings as the page shows them.

The queue is the reviews domain's (``services.open_reports``: reviews with open reports or
held for banned words, most reported first); this module adds who wrote, who is reviewed,
the gig and the reporters, each read once per page. The list's filters are checked here for
web and API alike (``ConsoleInputError`` with field errors ``status``, ``q``, ``gig_id``,
``user_id``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app.accounts.models import SELLER_LEVELS, User
from app.console.errors import ConsoleInputError
from app.console.filters import blank, short_text
from app.console.models import AuditEntry
from app.core.ids import INT32_MAX, parse_id
from app.core.text import escape_like
from app.gigs.models import Gig
from app.orders.models import Order
from app.reviews import services
from app.reviews import settings as level_settings
from app.reviews.models import REVIEW_STATUSES, Review, ReviewReport
from app.settings.services import settings_row
from tenants.db import db

REVIEW_PAGE_SIZE = 25
QUEUE_PAGE_SIZE = 10
MAX_QUERY = 100
_NUMBER_RE = re.compile(r"^#?\s*(\d{1,18})\Z")

STATUS_LABELS = {
    "submitted": "Waiting for the other side",
    "held": "Held for approval",
    "published": "Published",
    "hidden": "Hidden",
}
STATUS_BADGES = {"held": "badge-warn", "published": "badge-ok", "hidden": "badge-bad", "submitted": ""}
DIRECTION_LABELS = {"of_seller": "Buyer reviews seller", "of_buyer": "Seller reviews buyer"}
REPORT_STATUS_LABELS = {"open": "Open", "upheld": "Upheld (review hidden)", "dismissed": "Dismissed"}


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class ReportItem:
    """A report with its reporter (None when the account is gone)."""

    report: ReviewReport
    reporter: User | None

    @property
    def reason_label(self) -> str:
        return services.REPORT_REASON_LABELS.get(self.report.reason, self.report.reason)

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "report":
            raise AttributeError(name)
        return getattr(self.report, name)


@dataclass
class ReviewItem:
    """A review with the people and the gig around it, and its reports (oldest first)."""

    review: Review
    author: User | None
    subject: User | None
    gig: Gig | None
    reports: list[ReportItem] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    order: Order | None = None  # read for one review's page only

    @property
    def open_reports(self) -> list[ReportItem]:
        return [r for r in self.reports if r.report.status == "open"]

    @property
    def open_reasons(self) -> list[tuple[str, int]]:
        """``(reason label, count)`` of the open reports, most frequent first."""
        counts = Counter(r.reason_label for r in self.open_reports)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.review.status, self.review.status)

    @property
    def direction_label(self) -> str:
        return DIRECTION_LABELS.get(self.review.direction, self.review.direction)

    def __getattr__(self, name: str):
        # The review's own fields (id, rating, text, status...) read straight through.
        if name.startswith("__") or name == "review":
            raise AttributeError(name)
        return getattr(self.review, name)


def _hydrate(pairs: list[tuple[Review, list[ReviewReport]]]) -> list[ReviewItem]:
    """The users and gigs of a page of reviews, one query each."""
    user_ids = {uid for review, _r in pairs for uid in (review.author_id, review.subject_id)}
    user_ids |= {report.reporter_id for _review, reports in pairs for report in reports}
    gig_ids = {review.gig_id for review, _r in pairs if review.gig_id is not None}
    users = (
        {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    gigs = {g.id: g for g in db.session.scalars(sa.select(Gig).where(Gig.id.in_(gig_ids)))} if gig_ids else {}
    return [
        ReviewItem(
            review=review,
            author=users.get(review.author_id),
            subject=users.get(review.subject_id),
            gig=gigs.get(review.gig_id) if review.gig_id is not None else None,
            reports=[ReportItem(report, users.get(report.reporter_id)) for report in reports],
        )
        for review, reports in pairs
    ]


def _reports_of(review_ids: list[int]) -> dict[int, list[ReviewReport]]:
    out: dict[int, list[ReviewReport]] = {rid: [] for rid in review_ids}
    if review_ids:
        for report in db.session.scalars(
            sa.select(ReviewReport).where(ReviewReport.review_id.in_(review_ids)).order_by(ReviewReport.id)
        ):
            out[report.review_id].append(report)
    return out


# --------------------------------------------------------------------------- the queue


def queue(page: int = 1, per_page: int = QUEUE_PAGE_SIZE) -> tuple[list[ReviewItem], int]:
    """Reviews with open reports or held for banned words, most reported first, and the total."""
    page = page if isinstance(page, int) and 1 <= page <= 10_000 else 1
    per_page = max(1, min(100, int(per_page)))
    pairs, total = services.open_reports(page=page, per_page=per_page)
    return _hydrate(pairs), total


# --------------------------------------------------------------------------- every review


@dataclass(frozen=True)
class ReviewFilters:
    status: str | None = None
    q: str | None = None
    gig_id: int | None = None
    user_id: int | None = None

    def as_args(self) -> dict:
        """The filters given, for links (page numbers keep them)."""
        values = {"status": self.status, "q": self.q, "gig_id": self.gig_id, "user_id": self.user_id}
        return {k: v for k, v in values.items() if v is not None}


def _id_filter(value: Any, name: str, label: str, errors: dict) -> int | None:
    if blank(value):
        return None
    number = parse_id(value.strip() if isinstance(value, str) else value, maximum=INT32_MAX)
    if not number:
        errors[name] = f"{label} must be a number."
        return None
    return number


def review_filters(
    status: Any = None, q: Any = None, gig_id: Any = None, user_id: Any = None
) -> ReviewFilters:
    """Checked filters of the review list: a status, a search text (gig title, the name, email
    or handle of the author or of the person reviewed, the review's text; a number also
    matches the review, order or gig id), a gig and a person (author or reviewed).
    Raises ConsoleInputError."""
    errors: dict[str, str] = {}
    if not blank(status) and status not in REVIEW_STATUSES:
        errors["status"] = f"Unknown status; use one of {', '.join(REVIEW_STATUSES)}."
    text = short_text(q, "q", "The search", MAX_QUERY, errors)
    gig = _id_filter(gig_id, "gig_id", "The gig", errors)
    person = _id_filter(user_id, "user_id", "The person", errors)
    if errors:
        raise ConsoleInputError(errors)
    return ReviewFilters(status=None if blank(status) else status, q=text, gig_id=gig, user_id=person)


def _conditions(filters: ReviewFilters) -> list:
    conditions = []
    if filters.status:
        conditions.append(Review.status == filters.status)
    if filters.gig_id is not None:
        conditions.append(Review.gig_id == filters.gig_id)
    if filters.user_id is not None:
        conditions.append(sa.or_(Review.author_id == filters.user_id, Review.subject_id == filters.user_id))
    if filters.q:
        like = "%" + escape_like(filters.q) + "%"
        # The people and gigs are searched first (a CTE read once for both sides of the review).
        people = (
            sa.select(User.id)
            .where(sa.or_(User.email.ilike(like), User.display_name.ilike(like), User.handle.ilike(like)))
            .cte("people")
        )
        matches = [
            Review.author_id.in_(sa.select(people.c.id)),
            Review.subject_id.in_(sa.select(people.c.id)),
            Review.gig_id.in_(sa.select(Gig.id).where(Gig.title.ilike(like))),
            Review.text.ilike(like),
        ]
        number = _NUMBER_RE.match(filters.q)
        if number and int(number[1]) < 2**63:
            value = int(number[1])
            matches += [Review.id == value, Review.order_id == value]
            if value < 2**31:
                matches.append(Review.gig_id == value)
        conditions.append(sa.or_(*matches))
    return conditions


def search_reviews(
    filters: ReviewFilters | None = None, page: int = 1, per_page: int = REVIEW_PAGE_SIZE
) -> tuple[list[ReviewItem], int]:
    """Reviews matching ``filters`` in any status, newest first, and the total."""
    filters = filters or ReviewFilters()
    page = page if isinstance(page, int) and 1 <= page <= 10_000 else 1
    per_page = max(1, min(100, int(per_page)))
    conditions = _conditions(filters)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Review).where(*conditions))
    rows = list(
        db.session.scalars(
            sa.select(Review)
            .where(*conditions)
            .order_by(Review.created_at.desc(), Review.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    reports = _reports_of([r.id for r in rows])
    return _hydrate([(r, reports[r.id]) for r in rows]), int(total or 0)


def status_counts() -> dict[str, int]:
    """How many reviews are in each status (for the filter's choices)."""
    counts = dict(db.session.execute(sa.select(Review.status, sa.func.count()).group_by(Review.status)).all())
    return {status: int(counts.get(status, 0)) for status in REVIEW_STATUSES}


# --------------------------------------------------------------------------- one review


def review_audit(review_id: int, report_ids: list[int], limit: int = 50) -> list[AuditEntry]:
    """The console's decisions about a review and its reports, newest first."""
    about = sa.and_(AuditEntry.target_type == "review", AuditEntry.target_id == str(review_id))
    if report_ids:
        about = sa.or_(
            about,
            sa.and_(
                AuditEntry.target_type == "review_report",
                AuditEntry.target_id.in_([str(i) for i in report_ids]),
            ),
        )
    return list(
        db.session.scalars(sa.select(AuditEntry).where(about).order_by(AuditEntry.id.desc()).limit(limit))
    )


def review_detail(actor: User, review_id: Any) -> ReviewItem:
    """A review in any status with its people, gig, every report and the audit entries about
    it. Raises ``services.ReviewNotFound`` (unknown here, another marketplace's id included)."""
    review = services.get_review(actor, review_id)
    reports = _reports_of([review.id])[review.id]
    item = _hydrate([(review, reports)])[0]
    item.audit = review_audit(review.id, [r.id for r in reports])
    item.order = db.session.get(Order, review.order_id)
    return item


def get_review(actor: User, review_id: Any) -> Review:
    """The review (any status) or ``services.ReviewNotFound``."""
    return services.get_review(actor, review_id)


# --------------------------------------------------------------------------- settings


def reputation_settings() -> dict:
    """The review window, the banned-word hold and the level thresholds (saved over the
    defaults), with the defaults and the marketplace's currency (earnings are minor units)."""
    row = services.review_settings()
    return {
        "window_days": row.window_days,
        "hold_banned_words": bool(row.hold_banned_words),
        "banned_words": list(row.banned_words or []),
        "level_thresholds": level_settings.level_thresholds(row),
        "default_level_thresholds": level_settings.defaults(),
        "currency": settings_row().currency,
    }


LEVEL_LABELS = {level: SELLER_LEVELS[level] for level in level_settings.LEVELS}
