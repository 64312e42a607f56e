"""Marshmallow schemas of the reviews API.

Request schemas check shapes and types at the edge (a rating must be a JSON integer from 1
to 5: ``"5"`` or ``4.5`` is refused) with the services' own messages, so a refusal reads the
same whether the edge or ``app.reviews.services`` caught it: 422 with
``errors.json.<field>``. The rules (who may review, when, text cleaning, markup, lengths after
cleaning) are the services'.

Response schemas: rates and averages are JSON numbers (null when nothing was measured yet);
people are small public cards (id, handle, display name, country, avatar).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from marshmallow import fields, pre_dump, validate

from app.accounts.models import SELLER_LEVELS, User
from app.accounts.services import avatar_url
from app.core.schema import Schema
from app.reviews import display, services
from app.reviews.models import RATING_MAX, RATING_MIN, REPLY_MAX, REPORT_REASONS, TEXT_MAX
from tenants.db import db

DIRECTION_DOC = (
    "`of_seller`: a buyer reviews the seller (with sub-ratings); `of_buyer`: a seller reviews the buyer."
)


def _rating_field(
    label: str, *, required: bool, description: str, nullable: bool | None = None
) -> fields.Integer:
    """An integer 1-5 whose refusals say what the services say."""
    whole = f"{label} must be a whole number from {RATING_MIN} to {RATING_MAX}."
    return fields.Int(
        strict=True,
        required=required,
        allow_none=not required if nullable is None else nullable,
        validate=validate.Range(min=RATING_MIN, max=RATING_MAX, error=whole),
        error_messages={
            "invalid": whole,
            "required": f"{label}: choose from {RATING_MIN} to {RATING_MAX} stars.",
            "null": f"{label}: choose from {RATING_MIN} to {RATING_MAX} stars.",
        },
        metadata={"description": description, "example": 5},
    )


def _text_field(
    label: str, *, max_len: int, example: str, required: bool = True, optional_text: bool = False
) -> fields.String:
    # The length is the services' (counted after cleaning: newlines unified, trimmed), so the
    # spec documents it without the edge enforcing it on the raw text.
    shortest = 0 if optional_text else 1
    return fields.Str(
        required=required,
        allow_none=optional_text,
        error_messages={
            "required": f"{label} is required.",
            "null": f"{label} is required.",
            "invalid": f"{label} must be text.",
        },
        metadata={
            "description": f"Plain text, {shortest} to {max_len:,} characters after trimming; "
            "HTML tags are refused.",
            "minLength": shortest,
            "maxLength": max_len,
            "example": example,
        },
    )


# --------------------------------------------------------------------------- requests


class ReviewInputSchema(Schema):
    rating = _rating_field("The overall rating", required=True, description="Overall rating, 1 to 5 stars.")
    text = _text_field("The review", max_len=TEXT_MAX, example="Great work, delivered a day early.")
    communication = _rating_field(
        services.SUB_RATING_LABELS["communication"],
        required=False,
        description="Buyer only (required from the buyer, ignored from the seller): 1 to 5.",
    )
    as_described = _rating_field(
        services.SUB_RATING_LABELS["as_described"],
        required=False,
        description="Buyer only (required from the buyer, ignored from the seller): 1 to 5.",
    )
    would_recommend = _rating_field(
        services.SUB_RATING_LABELS["would_recommend"],
        required=False,
        description="Buyer only (required from the buyer, ignored from the seller): 1 to 5.",
    )


class ReviewPatchSchema(ReviewInputSchema):
    """The fields to change; the others keep their values."""

    rating = _rating_field(
        "The overall rating", required=False, nullable=False, description="Overall rating, 1 to 5 stars."
    )
    text = _text_field(
        "The review", max_len=TEXT_MAX, example="Great work, delivered a day early.", required=False
    )


class ReplyInputSchema(Schema):
    text = _text_field("The reply", max_len=REPLY_MAX, example="Thank you, it was a pleasure!")


class ReportInputSchema(Schema):
    reason = fields.Str(
        required=True,
        validate=validate.OneOf(REPORT_REASONS, error="Choose a reason: " + ", ".join(REPORT_REASONS) + "."),
        error_messages={"required": "Choose a reason: " + ", ".join(REPORT_REASONS) + "."},
        metadata={
            "description": "; ".join(f"`{k}`: {v}" for k, v in services.REPORT_REASON_LABELS.items()),
            "example": "spam",
        },
    )
    details = _text_field(
        "The details",
        max_len=services.DETAILS_MAX,
        example="Links to another site.",
        required=False,
        optional_text=True,
    )


class ReviewListArgs(Schema):
    sort = fields.Str(
        load_default="newest",
        validate=validate.OneOf(services.SORTS, error="Choose one of: " + ", ".join(services.SORTS) + "."),
        metadata={"description": "`helpful`: most helpful first; `highest` / `lowest`: by rating."},
    )


def _as_field() -> fields.String:
    return fields.Str(
        data_key="as",
        load_default="seller",
        validate=validate.OneOf(("seller", "buyer"), error="Choose seller or buyer."),
        metadata={
            "description": "`seller`: the reviews buyers wrote of this member as a seller; "
            "`buyer`: the reviews sellers wrote of them as a buyer."
        },
    )


class UserReviewListArgs(ReviewListArgs):
    as_ = _as_field()


class UserSummaryArgs(Schema):
    as_ = _as_field()


# The API's ``as`` to the services' direction: the member is the subject of the review.
DIRECTION_OF = {"seller": "of_seller", "buyer": "of_buyer"}


# --------------------------------------------------------------------------- responses


def preload_people(reviews: Iterable) -> None:
    """Load the authors and subjects of ``reviews`` in one query (the schema then reads them
    from the session's identity map instead of one query per review)."""
    display.people_of(list(reviews))


class PersonSchema(Schema):
    id = fields.Int(metadata={"example": 7})
    handle = fields.Str(metadata={"example": "ada"})
    display_name = fields.Str(metadata={"example": "Ada Lovelace"})
    country = fields.Str(allow_none=True, metadata={"example": "GB"})
    avatar_url = fields.Function(
        avatar_url,
        allow_none=True,
        metadata={"type": "string", "description": "Signed URL, valid for an hour"},
    )


class _PersonById(fields.Nested):
    """A person card from a user id column (reviews keep ids, not relationships)."""

    def __init__(self, **kwargs):
        super().__init__(PersonSchema, allow_none=True, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        user = db.session.get(User, value) if value else None
        return None if user is None else super()._serialize(user, attr, obj, **kwargs)


class ReplySchema(Schema):
    text = fields.Str(metadata={"example": "Thank you, it was a pleasure!"})
    created_at = fields.DateTime()


class _Reply(fields.Nested):
    def __init__(self, **kwargs):
        super().__init__(ReplySchema, allow_none=True, attribute="reply_text", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return super()._serialize({"text": value, "created_at": obj.reply_at}, attr, obj, **kwargs)


class ReviewSchema(Schema):
    id = fields.Int(metadata={"example": 31})
    order_id = fields.Int(metadata={"example": 12})
    gig_id = fields.Int(allow_none=True, metadata={"description": "Null for a custom offer without a gig."})
    direction = fields.Str(metadata={"enum": ["of_seller", "of_buyer"], "description": DIRECTION_DOC})
    status = fields.Str(
        metadata={
            "enum": ["submitted", "held", "published", "hidden"],
            "description": "Only the author sees a review before it is `published` (double-blind).",
        }
    )
    rating = fields.Int(metadata={"example": 5})
    communication = fields.Int(allow_none=True, metadata={"description": "Buyer's reviews only."})
    as_described = fields.Int(allow_none=True, metadata={"description": "Buyer's reviews only."})
    would_recommend = fields.Int(allow_none=True, metadata={"description": "Buyer's reviews only."})
    text = fields.Str(metadata={"description": "Plain text: escape it when you render it."})
    author = _PersonById(attribute="author_id", metadata={"description": "The reviewer."})
    subject = _PersonById(attribute="subject_id", metadata={"description": "The person reviewed."})
    reply = _Reply(metadata={"description": "The reviewed side's one public reply, or null."})
    helpful_count = fields.Int()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)


class WindowSchema(Schema):
    status = fields.Str(metadata={"enum": ["open", "published"]})
    opens_at = fields.DateTime()
    closes_at = fields.DateTime(metadata={"description": "No review can be written from then on."})
    published_at = fields.DateTime(allow_none=True)


class OrderReviewsSchema(Schema):
    """What a party of an order sees of its reviews."""

    direction = fields.Str(
        metadata={"enum": ["of_seller", "of_buyer"], "description": "The direction of the caller's review."}
    )
    window = fields.Nested(
        WindowSchema, allow_none=True, metadata={"description": "Null until the order is completed."}
    )
    mine = fields.Nested(ReviewSchema, allow_none=True, metadata={"description": "The caller's review."})
    theirs = fields.Nested(
        ReviewSchema,
        allow_none=True,
        metadata={"description": "The other side's review: null until published (double-blind)."},
    )
    can_write = fields.Bool()
    can_edit = fields.Bool()


class ReportSchema(Schema):
    id = fields.Int()
    review_id = fields.Int()
    reason = fields.Str(metadata={"enum": list(REPORT_REASONS)})
    details = fields.Str()
    status = fields.Str(metadata={"enum": ["open", "upheld", "dismissed"]})
    created_at = fields.DateTime()


class HistogramBarSchema(Schema):
    stars = fields.Int(metadata={"example": 5})
    count = fields.Int(metadata={"example": 12})


class SubRatingsSchema(Schema):
    communication = fields.Float(allow_none=True, metadata={"example": 4.9})
    as_described = fields.Float(allow_none=True, metadata={"example": 4.8})
    would_recommend = fields.Float(allow_none=True, metadata={"example": 5.0})


class RatingSummarySchema(Schema):
    average = fields.Float(
        allow_none=True, metadata={"example": 4.85, "description": "Null: no reviews yet."}
    )
    count = fields.Int(metadata={"example": 20})
    histogram = fields.List(
        fields.Nested(HistogramBarSchema), metadata={"description": "Published reviews per star, 5 to 1."}
    )
    sub_ratings = fields.Nested(
        SubRatingsSchema,
        allow_none=True,
        metadata={"description": "Averages of the buyers' sub-ratings; null for reviews of a buyer."},
    )


def rating_summary(*, gig_id: int | None = None, subject_id: int | None = None, direction: str) -> dict:
    """The summary's data from the services' aggregates (published reviews only)."""
    average, count = services.rating_summary(gig_id=gig_id, subject_id=subject_id, direction=direction)
    breakdown = services.rating_breakdown(gig_id=gig_id, subject_id=subject_id, direction=direction)
    return {
        "average": average if count else None,
        "count": count,
        "histogram": [{"stars": s, "count": n} for s, n in breakdown["histogram"].items()],
        "sub_ratings": breakdown["sub_ratings"] if direction == "of_seller" else None,
    }


class ReputationSchema(Schema):
    user_id = fields.Int(metadata={"example": 7})
    level = fields.Str(metadata={"enum": list(SELLER_LEVELS), "example": "level_1"})
    level_label = fields.Str(metadata={"example": "Level 1"})
    member_since = fields.DateTime()
    days_active = fields.Int(metadata={"description": "Days since the seller profile was created."})
    orders_completed = fields.Int(metadata={"example": 42})
    on_time_rate = fields.Float(
        allow_none=True,
        metadata={
            "description": "% of delivered orders delivered by their due date (null: none yet).",
            "example": 97.5,
        },
    )
    completion_rate = fields.Float(
        allow_none=True,
        metadata={
            "description": "% completed of completed + cancelled orders (null: none yet).",
            "example": 95.45,
        },
    )
    rating_avg = fields.Float(
        allow_none=True,
        metadata={"description": "Average of published reviews (null: none yet).", "example": 4.9},
    )
    rating_count = fields.Int(metadata={"example": 40})
    response_rate = fields.Float(
        allow_none=True,
        metadata={
            "description": "% of new direct conversations answered within 24 h, last 90 days (null: none).",
            "example": 100.0,
        },
    )
    response_seconds = fields.Int(
        allow_none=True,
        metadata={"description": "Average first-response time, seconds (null: none).", "example": 3600},
    )
    languages = fields.List(fields.Str(), metadata={"example": ["en", "fr"]})

    @pre_dump
    def _figures(self, stats, **kwargs):
        data = dataclasses.asdict(stats)
        data["level_label"] = stats.level_label
        data["languages"] = list(stats.languages)
        if not stats.rating_count:  # the services' 0.00 means "no reviews", not a zero average
            data["rating_avg"] = None
        return data
