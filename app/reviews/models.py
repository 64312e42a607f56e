"""Reviews and reputation: two-way, double-blind reviews of completed orders, their reports and
helpful votes, the per-tenant review settings, and the daily reputation snapshots.

The rules live in ``app/reviews/services.py`` (reviews, replies, reports, moderation) and
``app/reviews/reputation.py`` (delivery score, levels, snapshots); the CHECK constraints here
are the database's backstop. Design: docs/design/reviews-and-reputation.md.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

DIRECTIONS = ("of_seller", "of_buyer")  # the buyer reviews the seller / the seller the buyer
# submitted: written, unseen by the other side until the pair publishes (double-blind);
# held: due to publish but holding a banned word, waiting for a moderator;
# published: public; hidden: taken down by a moderator (it leaves the averages).
REVIEW_STATUSES = ("submitted", "held", "published", "hidden")
WINDOW_STATUSES = ("open", "published")
REPORT_REASONS = ("spam", "offensive", "off_topic", "conflict_of_interest", "private_information", "other")
REPORT_STATUSES = ("open", "upheld", "dismissed")
LEVELS = ("new", "level_1", "level_2", "top_rated")
RATING_MIN, RATING_MAX = 1, 5
TEXT_MAX = 2000
REPLY_MAX = 1000


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def _rating_check(column: str, *, nullable: bool = False) -> sa.CheckConstraint:
    rule = f"{column} between {RATING_MIN} and {RATING_MAX}"
    return sa.CheckConstraint(f"{column} is null or {rule}" if nullable else rule, name=column)


class ReviewWindow(TenantModel):
    """The time both parties of a completed order have to review each other.

    Opened once per order (when ``order.completed`` is handled, or by the first review if that
    event is still on its way), closed by publishing: when the second review arrives, or at
    ``closes_at`` (the sweep publishes whatever was written). ``reminded_at``: the one reminder
    sent before the window closes.
    """

    __tablename__ = "review_windows"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("status", WINDOW_STATUSES), name="status"),
        sa.Index("ix_review_windows_closes_at", "closes_at", postgresql_where=sa.text("status = 'open'")),
        sa.Index("ix_review_windows_buyer_id", "buyer_id"),
        sa.Index("ix_review_windows_seller_id", "seller_id"),
    )

    order_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.orders.id", ondelete="CASCADE"), primary_key=True
    )
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    gig_id: Mapped[int | None] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.gigs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(16), default="open", server_default="open")
    opens_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    closes_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Review(TenantModel):
    """One side's review of the other. ``of_seller`` reviews carry the sub-ratings.

    ``gig_id`` is copied from the order (a custom offer may have none). ``reply_*`` is the
    reviewed side's one public answer. ``helpful_count`` and ``report_count`` are kept by the
    services with the votes and reports.
    """

    __tablename__ = "reviews"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("order_id", "direction"),
        sa.CheckConstraint(_in("direction", DIRECTIONS), name="direction"),
        sa.CheckConstraint(_in("status", REVIEW_STATUSES), name="status"),
        sa.CheckConstraint("author_id <> subject_id", name="distinct_parties"),
        _rating_check("rating"),
        _rating_check("communication", nullable=True),
        _rating_check("as_described", nullable=True),
        _rating_check("would_recommend", nullable=True),
        sa.CheckConstraint(f"char_length(text) between 1 and {TEXT_MAX}", name="text_length"),
        sa.CheckConstraint(
            f"reply_text is null or char_length(reply_text) <= {REPLY_MAX}", name="reply_length"
        ),
        sa.CheckConstraint("helpful_count >= 0 and report_count >= 0", name="counts"),
        # Published reviews of a gig / of a person, newest first with the id as tiebreaker (the
        # lists' ORDER BY, so LIMIT reads a handful of index entries however many reviews there are).
        sa.Index(
            "ix_reviews_gig_direction_published",
            "gig_id",
            "direction",
            "published_at",
            "id",
            postgresql_where=sa.text("status = 'published'"),
        ),
        sa.Index(
            "ix_reviews_subject_direction_published",
            "subject_id",
            "direction",
            "published_at",
            "id",
            postgresql_where=sa.text("status = 'published'"),
        ),
        sa.Index("ix_reviews_author_id", "author_id"),
        # The console's reviews per day (ranges of published_at). BRIN: it serves ranges but no
        # ORDER BY, so the planner never walks it newest-first filtering a seller's reviews.
        sa.Index("ix_reviews_published_at_brin", "published_at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.review_windows.order_id", ondelete="CASCADE")
    )
    gig_id: Mapped[int | None] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.gigs.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(sa.String(16))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(sa.SmallInteger)
    communication: Mapped[int | None] = mapped_column(sa.SmallInteger)
    as_described: Mapped[int | None] = mapped_column(sa.SmallInteger)
    would_recommend: Mapped[int | None] = mapped_column(sa.SmallInteger)
    text: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="submitted", server_default="submitted")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    reply_text: Mapped[str | None] = mapped_column(sa.Text)
    reply_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    helpful_count: Mapped[int] = mapped_column(default=0, server_default="0")
    report_count: Mapped[int] = mapped_column(default=0, server_default="0")
    moderated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    moderated_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    moderation_reason: Mapped[str | None] = mapped_column(sa.String(500))
    held_words: Mapped[list] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))

    @property
    def is_public(self) -> bool:
        return self.status == "published"

    def __repr__(self) -> str:
        return f"<Review {self.id} {self.direction} {self.status}>"


class ReviewVote(TenantModel):
    """A member found a published review helpful (one vote per member and review)."""

    __tablename__ = "review_votes"
    __table_args__ = tenant_table_args()

    review_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.reviews.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class ReviewReport(TenantModel):
    """Someone reported a published review; the operator upholds (hides it) or dismisses."""

    __tablename__ = "review_reports"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("review_id", "reporter_id"),
        sa.CheckConstraint(_in("reason", REPORT_REASONS), name="reason"),
        sa.CheckConstraint(_in("status", REPORT_STATUSES), name="status"),
        sa.Index("ix_review_reports_open", "created_at", postgresql_where=sa.text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    review_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.reviews.id", ondelete="CASCADE"), index=True
    )
    reporter_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(sa.String(32))
    details: Mapped[str] = mapped_column(sa.String(1000), default="", server_default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="open", server_default="open")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    resolved_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )


class ReviewSettings(TenantModel):
    """The operator's review and reputation rules (one row per tenant, created on first need).

    ``level_thresholds``: ``{"level_1": {...}, "level_2": {...}, "top_rated": {...}}``, each with
    ``orders`` (completed), ``earnings_minor``, ``rating`` (average, 0-5), ``on_time_rate``
    (0-100), ``days_active``; see ``app.reviews.reputation.DEFAULT_THRESHOLDS``.
    """

    __tablename__ = "review_settings"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("id = 1", name="singleton"),
        sa.CheckConstraint("window_days between 1 and 90", name="window_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    window_days: Mapped[int] = mapped_column(sa.SmallInteger, default=14, server_default="14")
    hold_banned_words: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    banned_words: Mapped[list] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    level_thresholds: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )


class ReputationSnapshot(TenantModel):
    """A seller's reputation on one day (the daily job writes one row per seller and day).

    Rates are percentages with two decimals (None: nothing to measure yet); the response
    figures come from the seller's direct conversations (first answer to a new conversation).
    """

    __tablename__ = "reputation_snapshots"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("user_id", "taken_on"),
        sa.CheckConstraint(_in("level", LEVELS), name="level"),
        sa.Index("ix_reputation_snapshots_taken_on", "taken_on"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    taken_on: Mapped[date] = mapped_column(sa.Date)
    orders_completed: Mapped[int] = mapped_column(default=0, server_default="0")
    orders_cancelled: Mapped[int] = mapped_column(default=0, server_default="0")
    orders_delivered: Mapped[int] = mapped_column(default=0, server_default="0")
    delivered_on_time: Mapped[int] = mapped_column(default=0, server_default="0")
    on_time_rate: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 2))
    completion_rate: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 2))
    rating_avg: Mapped[Decimal | None] = mapped_column(sa.Numeric(3, 2))
    rating_count: Mapped[int] = mapped_column(default=0, server_default="0")
    earnings_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    response_rate: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 2))
    response_seconds: Mapped[int | None] = mapped_column()
    disputes: Mapped[int] = mapped_column(default=0, server_default="0")
    days_active: Mapped[int] = mapped_column(default=0, server_default="0")
    delivery_score: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 2))
    level: Mapped[str] = mapped_column(sa.String(16), default="new", server_default="new")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
