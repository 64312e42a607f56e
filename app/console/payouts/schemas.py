"""Marshmallow schemas of the console API's payouts area: payouts (list, retry), payout accounts
(KYC, the sandbox's decision) and holds (list, place, release).

Request schemas check shapes and types only; the rules (filters, reasons, decisions) are the
console reads' and the payments back office's, so the web console and the API answer alike.
Class names carry ``Console`` so the OpenAPI component names never collide with the public
API's. Money is integer minor units.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.core.schema import Schema
from app.payments.backoffice import SANDBOX_DECISIONS
from app.payments.models import KYC_STATUSES, PAYOUT_STATUSES

MINOR = {"description": "Integer minor units (cents) of the currency."}
DAY = {"description": "A UTC day, inclusive (YYYY-MM-DD).", "example": "2026-05-31"}
SELLER_Q = {
    "description": "A seller's email or name (part of it), or their id (`#12` or `12`).",
    "example": "sally@example.com",
}


class ConsolePayoutPartySchema(Schema):
    id = fields.Int(metadata={"example": 12})
    display_name = fields.Str(metadata={"example": "Sally Seller"})
    email = fields.Str(metadata={"example": "sally@example.com"})


# --- payouts -------------------------------------------------------------------------


class ConsolePayoutListArgs(Schema):
    status = fields.Str(metadata={"enum": list(PAYOUT_STATUSES), "example": "failed"})
    q = fields.Str(validate=validate.Length(max=400), metadata=SELLER_Q)
    date_from = fields.Date(
        data_key="from", metadata={**DAY, "description": "Requested on or after this UTC day."}
    )
    date_to = fields.Date(
        data_key="to", metadata={**DAY, "description": "Requested on or before this UTC day."}
    )


class ConsolePayoutSchema(Schema):
    id = fields.Int(metadata={"example": 31})
    seller_id = fields.Int()
    seller = fields.Nested(ConsolePayoutPartySchema, allow_none=True)
    amount_minor = fields.Int(metadata=MINOR)
    currency = fields.Str(metadata={"example": "USD"})
    status = fields.Str(metadata={"enum": list(PAYOUT_STATUSES)})
    provider = fields.Str(metadata={"enum": ["sandbox", "stripe"]})
    provider_ref = fields.Str(allow_none=True, metadata={"description": "The transfer at the provider."})
    schedule_key = fields.Str(
        allow_none=True, metadata={"description": "`auto:<period>:<seller>` for a scheduled payout."}
    )
    failure_reason = fields.Str(allow_none=True)
    requested_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    retry_of_id = fields.Int(allow_none=True, metadata={"description": "The failed payout this one retries."})
    retried_as = fields.Int(
        allow_none=True, metadata={"description": "The payout that retried this failed one."}
    )
    can_retry = fields.Bool(metadata={"description": "Failed and not retried yet."})


# --- accounts ------------------------------------------------------------------------


class ConsolePayoutAccountListArgs(Schema):
    kyc = fields.Str(metadata={"enum": list(KYC_STATUSES), "example": "pending"})
    q = fields.Str(validate=validate.Length(max=400), metadata=SELLER_Q)
    held = fields.Str(
        metadata={"enum": ["yes", "no"], "description": "Only sellers whose payouts are held (or not)."}
    )


class ConsoleHoldSchema(Schema):
    id = fields.Int(metadata={"example": 4})
    user_id = fields.Int()
    seller = fields.Nested(ConsolePayoutPartySchema, allow_none=True)
    reason = fields.Str(metadata={"example": "Chargebacks on three orders: checking with the buyers."})
    placed_by = fields.Nested(ConsolePayoutPartySchema, allow_none=True)
    placed_at = fields.DateTime()
    released_by = fields.Nested(ConsolePayoutPartySchema, allow_none=True)
    released_at = fields.DateTime(allow_none=True)
    release_note = fields.Str(allow_none=True)
    active = fields.Bool()


class ConsolePayoutAccountSchema(Schema):
    user = fields.Nested(ConsolePayoutPartySchema)
    provider = fields.Str(metadata={"enum": ["sandbox", "stripe"]})
    account_ref = fields.Function(
        lambda row: row.account.account_ref if row.account is not None else None,
        allow_none=True,
        metadata={"description": "The connected account at the provider (`acct_...`), or the sandbox's."},
    )
    kyc_status = fields.Str(metadata={"enum": list(KYC_STATUSES)})
    kyc_requirements = fields.List(
        fields.Str(),
        metadata={"description": "What the provider still needs (Stripe's `requirements.currently_due`)."},
    )
    kyc_note = fields.Str(
        allow_none=True, metadata={"description": "Stripe's disabled reason, or the sandbox decision's note."}
    )
    kyc_checked_at = fields.DateTime(allow_none=True)
    hold = fields.Nested(ConsoleHoldSchema, allow_none=True, metadata={"description": "The active hold."})
    available_minor = fields.Int(metadata=MINOR)
    currency = fields.Str()
    blocked = fields.Str(
        attribute="block",
        allow_none=True,
        metadata={
            "enum": ["kyc_required", "payouts_held", None],
            "description": "Why a payout (scheduled ones included) is refused now; null: nothing.",
        },
    )


class ConsoleKycDecisionSchema(Schema):
    status = fields.Str(
        required=True,
        metadata={
            "enum": list(SANDBOX_DECISIONS),
            "description": "The sandbox's simulated check: the decision.",
        },
    )
    note = fields.Str(
        allow_none=True,
        validate=validate.Length(max=10_000),
        metadata={
            "description": "Required to reject; the seller reads it.",
            "example": "The ID document is expired.",
        },
    )


# --- holds ---------------------------------------------------------------------------


class ConsoleHoldListArgs(Schema):
    state = fields.Str(
        validate=validate.OneOf(["active", "released", "all"]),
        metadata={"description": "Active holds (the default), released ones or all."},
    )


class ConsoleHoldPlaceSchema(Schema):
    user_id = fields.Int(required=True, strict=True, metadata={"example": 12})
    reason = fields.Str(
        required=True,
        validate=validate.Length(max=10_000),
        metadata={"example": "Chargebacks on three orders: checking with the buyers."},
    )


class ConsoleHoldReleaseSchema(Schema):
    note = fields.Str(
        allow_none=True,
        validate=validate.Length(max=10_000),
        metadata={"example": "The buyers confirmed delivery."},
    )
