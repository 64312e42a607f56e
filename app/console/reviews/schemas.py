"""Marshmallow schemas of the console API's reviews area (moderation and reputation settings).

Request schemas check shapes and types only; the rules (reason length, states, the window's
range, thresholds and their order) are the reviews domain's, so the web console and the API
give the same answers. Class names carry ``Console`` so the OpenAPI component names never
collide with the public API's.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.console.people.schemas import ConsoleAuditBriefSchema
from app.core.schema import Schema
from app.reviews import services
from app.reviews.models import DIRECTIONS, REPORT_REASONS, REPORT_STATUSES, REVIEW_STATUSES

# --- reviews -------------------------------------------------------------------------


class ConsoleReviewListArgsSchema(Schema):
    status = fields.Str(
        metadata={
            "enum": list(REVIEW_STATUSES),
            "description": "`published`, `hidden` (taken down by a moderator), `held` (a banned word, "
            "waiting for approval) or `submitted` (written, waiting for the other side).",
            "example": "hidden",
        }
    )
    q = fields.Str(
        metadata={
            "description": "Part of the gig's title, of the name, email or handle of the author or "
            "of the person reviewed, or of the review's text; a number also matches the review, "
            "order or gig id. At most 100 characters.",
            "example": "logo",
        }
    )
    gig_id = fields.Str(metadata={"description": "Only the reviews of this gig.", "example": "7"})
    user_id = fields.Str(
        metadata={"description": "Only the reviews this person wrote or received.", "example": "12"}
    )


class ConsoleReviewPersonSchema(Schema):
    id = fields.Int(metadata={"example": 12})
    display_name = fields.Str(metadata={"example": "Sally Seller"})
    email = fields.Str(metadata={"example": "sally@example.com"})
    handle = fields.Str(allow_none=True, metadata={"example": "sally"})


class ConsoleReviewGigSchema(Schema):
    id = fields.Int(metadata={"example": 7})
    title = fields.Str(metadata={"example": "I will design a minimalist logo for your brand"})
    slug = fields.Str(metadata={"example": "i-will-design-a-minimalist-logo-3fa2c1"})
    rating_avg = fields.Float(
        metadata={"description": "Average of the gig's published reviews.", "example": 4.8}
    )
    rating_count = fields.Int(metadata={"example": 31})


class ConsoleReviewReportSchema(Schema):
    id = fields.Int(metadata={"example": 55})
    reason = fields.Str(metadata={"enum": list(REPORT_REASONS), "example": "spam"})
    reason_label = fields.Str(metadata={"example": services.REPORT_REASON_LABELS["spam"]})
    details = fields.Str(metadata={"example": "Advertises another website."})
    status = fields.Str(metadata={"enum": list(REPORT_STATUSES), "example": "open"})
    reporter = fields.Nested(ConsoleReviewPersonSchema, allow_none=True)
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by_id = fields.Int(allow_none=True, metadata={"example": 1})


class ConsoleReviewSchema(Schema):
    id = fields.Int(metadata={"example": 310})
    order_id = fields.Int(metadata={"example": 1042})
    direction = fields.Str(
        metadata={
            "enum": list(DIRECTIONS),
            "description": "`of_seller`: the buyer reviews the seller (with sub-ratings; counts in the "
            "gig's and the seller's average); `of_buyer`: the seller reviews the buyer.",
            "example": "of_seller",
        }
    )
    status = fields.Str(metadata={"enum": list(REVIEW_STATUSES), "example": "published"})
    author = fields.Nested(ConsoleReviewPersonSchema, allow_none=True)
    subject = fields.Nested(
        ConsoleReviewPersonSchema, allow_none=True, metadata={"description": "The person reviewed."}
    )
    gig = fields.Nested(ConsoleReviewGigSchema, allow_none=True)
    rating = fields.Int(metadata={"example": 2})
    communication = fields.Int(allow_none=True, metadata={"example": 3})
    as_described = fields.Int(allow_none=True, metadata={"example": 2})
    would_recommend = fields.Int(allow_none=True, metadata={"example": 1})
    text = fields.Str(metadata={"example": "Visit my site for cheaper logos!"})
    reply_text = fields.Str(allow_none=True, metadata={"example": None})
    reply_at = fields.DateTime(allow_none=True)
    helpful_count = fields.Int(metadata={"example": 0})
    report_count = fields.Int(metadata={"description": "Reports ever made.", "example": 3})
    open_report_count = fields.Method(
        "_open_reports", metadata={"type": "integer", "description": "Reports not decided yet.", "example": 2}
    )
    held_words = fields.List(
        fields.Str(),
        metadata={"description": "The banned words that held the review (held reviews).", "example": []},
    )
    created_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    moderated_at = fields.DateTime(allow_none=True)
    moderated_by_id = fields.Int(allow_none=True, metadata={"example": 1})
    moderation_reason = fields.Str(
        allow_none=True,
        metadata={
            "description": "The reason of the last hide or restore (a hidden review's author is told).",
            "example": "Advertising",
        },
    )
    reports = fields.List(fields.Nested(ConsoleReviewReportSchema))

    def _open_reports(self, item) -> int:
        return len(item.open_reports)


class ConsoleReviewDetailSchema(ConsoleReviewSchema):
    """A review with every report and the console's decisions about it (newest first)."""

    audit = fields.List(fields.Nested(ConsoleAuditBriefSchema))


class ConsoleReviewReasonSchema(Schema):
    reason = fields.Str(
        required=True,
        metadata={
            "description": f"Why (a hidden review's author is told); 1 to {services.REASON_MAX} characters "
            "of plain text.",
            "maxLength": services.REASON_MAX,
            "example": "Advertises another website, which the review rules do not allow.",
        },
    )


class ConsoleReportDismissedSchema(ConsoleReviewReportSchema):
    review_id = fields.Int(metadata={"example": 310})


# --- reputation settings -------------------------------------------------------------


class ConsoleLevelThresholdSchema(Schema):
    """One level's thresholds; a seller meets each at `>=`."""

    orders = fields.Int(strict=True, metadata={"description": "Orders completed.", "example": 10})
    earnings_minor = fields.Int(
        strict=True,
        metadata={
            "description": "Earnings released to the seller, in minor units (cents) of the "
            "marketplace's currency.",
            "example": 40000,
        },
    )
    rating = fields.Float(
        metadata={"description": "Average rating, 0 to 5, at most 2 decimals.", "example": 4.4}
    )
    on_time_rate = fields.Float(
        metadata={"description": "Orders delivered on time, percent (0-100).", "example": 90}
    )
    days_active = fields.Int(
        strict=True, metadata={"description": "Days since becoming a seller.", "example": 60}
    )


class ConsoleLevelThresholdsSchema(Schema):
    level_1 = fields.Nested(ConsoleLevelThresholdSchema)
    level_2 = fields.Nested(ConsoleLevelThresholdSchema)
    top_rated = fields.Nested(ConsoleLevelThresholdSchema)


class ConsoleReputationSettingsSchema(Schema):
    window_days = fields.Int(
        metadata={
            "description": "Days both sides of a completed order have to review each other (1-90).",
            "example": 14,
        }
    )
    hold_banned_words = fields.Bool(
        metadata={
            "description": "Reviews with a banned word wait for a moderator's approval.",
            "example": True,
        }
    )
    banned_words = fields.List(fields.Str(), metadata={"example": ["scam", "idiot"]})
    level_thresholds = fields.Nested(
        ConsoleLevelThresholdsSchema,
        metadata={"description": "Level 1 <= Level 2 <= Top Rated, field by field."},
    )
    default_level_thresholds = fields.Nested(
        ConsoleLevelThresholdsSchema, dump_only=True, metadata={"description": "The defaults, for reference."}
    )
    currency = fields.Str(
        dump_only=True, metadata={"description": "The currency of `earnings_minor`.", "example": "USD"}
    )


class ConsoleReputationSettingsPatchSchema(Schema):
    window_days = fields.Int(strict=True, metadata={"example": 21})
    hold_banned_words = fields.Bool(metadata={"example": True})
    banned_words = fields.List(
        fields.Str(validate=validate.Length(max=200)),
        validate=validate.Length(max=1000),
        metadata={
            "description": f"The whole list (replaces it): at most {services.MAX_BANNED_WORDS} words or "
            "phrases of up to 40 characters; matched as whole words, any case.",
            "example": ["scam", "idiot"],
        },
    )
    level_thresholds = fields.Nested(
        ConsoleLevelThresholdsSchema,
        metadata={
            "description": "Any levels and fields to change; the others keep their values. "
            "Refused when a higher level would ask less than a lower one."
        },
    )
