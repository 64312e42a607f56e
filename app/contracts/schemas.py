"""Marshmallow schemas of the contracts API.

Request schemas check shapes and types; the rules (milestones adding up, due dates, who may
do what, the typed name) are the services' (``app.contracts.services``), refused with the
same 422 shape. Money is integer minor units of the contract's ``currency``.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.contracts.models import CONTRACT_STATUSES, PAYMENT_MODELS
from app.contracts.services import TABS, effective_status
from app.core.schema import Schema
from app.orders.schemas import MilestoneSchema

MINOR = {"description": "Integer minor units (cents) of the contract's currency."}


class TermMilestoneSchema(Schema):
    title = fields.Str(required=True, metadata={"example": "Design and data model"})
    description = fields.Str(load_default="", metadata={"description": "The deliverable."})
    amount_minor = fields.Int(strict=True, required=True, metadata={**MINOR, "example": 150000})
    due_date = fields.Str(
        allow_none=True,
        load_default=None,
        metadata={"description": "YYYY-MM-DD, today or later.", "example": None},
    )
    dod = fields.List(
        fields.Str(), load_default=list, metadata={"description": "Definition-of-Done items (at most 10)."}
    )


class TermsInputSchema(Schema):
    payment_model = fields.Str(
        load_default="fixed",
        validate=validate.OneOf(PAYMENT_MODELS),
        metadata={
            "description": "`fixed` (milestones) or `hourly` (`rate_minor`, `weekly_cap_hours`, "
            "`timezone`; no milestones: each week is billed)."
        },
    )
    scope = fields.Str(required=True, metadata={"example": "Build the booking MVP described in the job."})
    milestones = fields.List(
        fields.Nested(TermMilestoneSchema),
        load_default=None,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "Required for `fixed`; ignored for `hourly`."},
    )
    rate_minor = fields.Int(
        strict=True,
        allow_none=True,
        load_default=None,
        metadata={**MINOR, "description": "Hourly: the rate an hour (above 0).", "example": 4500},
    )
    weekly_cap_hours = fields.Int(
        strict=True,
        allow_none=True,
        load_default=None,
        metadata={"description": "Hourly: the most hours billed a week (1 to 80).", "example": 20},
    )
    timezone = fields.Str(
        allow_none=True,
        load_default=None,
        metadata={
            "description": "Hourly: the IANA time zone the weeks (Monday to Sunday) run in; default UTC.",
            "example": "Europe/Berlin",
        },
    )
    total_minor = fields.Int(
        strict=True,
        allow_none=True,
        load_default=None,
        metadata={**MINOR, "description": "Optional: when given, must equal the milestones' sum."},
    )
    nda = fields.Bool(load_default=None, allow_none=True)
    ip_assignment = fields.Bool(load_default=None, allow_none=True)
    message = fields.Str(load_default="", metadata={"description": "A note to the freelancer."})


class HireSchema(TermsInputSchema):
    pass


class DirectOfferSchema(TermsInputSchema):
    freelancer_id = fields.Int(strict=True, required=True)
    job_id = fields.Int(
        strict=True, allow_none=True, load_default=None, metadata={"description": "One of your open jobs."}
    )
    title = fields.Str(
        load_default=None, metadata={"description": "Required without a job.", "example": "Landing page"}
    )


class DeclineSchema(Schema):
    reason = fields.Str(load_default="", metadata={"example": "I am fully booked this month."})


class SignSchema(Schema):
    typed_name = fields.Str(
        required=True, metadata={"description": "Your name as on your account.", "example": "Ada Lovelace"}
    )


class EndSchema(Schema):
    reason = fields.Str(required=True, metadata={"example": "The project is done."})


class ContractListArgs(Schema):
    role = fields.Str(load_default=None, validate=validate.OneOf(("client", "freelancer")))
    tab = fields.Str(load_default=None, validate=validate.OneOf(tuple(TABS)))
    status = fields.Str(
        load_default=None,
        validate=validate.OneOf(CONTRACT_STATUSES),
        metadata={"description": "One status: " + ", ".join(CONTRACT_STATUSES) + "."},
    )


class RateHistorySchema(Schema):
    week = fields.Str(metadata={"description": "The Monday (YYYY-MM-DD) it applies from."})
    rate_minor = fields.Int(metadata=MINOR)
    weekly_cap_hours = fields.Int()


class TermsSchema(Schema):
    scope = fields.Str()
    milestones = fields.List(fields.Nested(TermMilestoneSchema), metadata={"description": "Fixed only."})
    rate_minor = fields.Int(metadata={**MINOR, "description": "Hourly only: the starting rate an hour."})
    weekly_cap_hours = fields.Int(metadata={"description": "Hourly only: the starting weekly limit."})
    timezone = fields.Str(metadata={"description": "Hourly only: the weeks' time zone."})
    rate_history = fields.List(
        fields.Nested(RateHistorySchema),
        metadata={"description": "Hourly only: accepted changes, each from its Monday."},
    )
    nda = fields.Bool()
    ip_assignment = fields.Bool()


class SignatureSchema(Schema):
    user_id = fields.Int()
    role = fields.Str(metadata={"example": "client"})
    typed_name = fields.Str()
    signed_at = fields.DateTime()
    content_sha256 = fields.Str()


class SowSchema(Schema):
    version = fields.Int()
    body = fields.Str()
    content_sha256 = fields.Str(metadata={"description": "SHA-256 of `body`, checked on every read."})
    created_at = fields.DateTime()
    signatures = fields.List(fields.Nested(SignatureSchema))


class ContractMoneySchema(Schema):
    total = fields.Int(metadata=MINOR)
    funded = fields.Int(metadata=MINOR)
    in_escrow = fields.Int(metadata=MINOR)
    released = fields.Int(metadata=MINOR)
    refunded = fields.Int(metadata=MINOR)


class ChangeInputSchema(Schema):
    action = fields.Str(required=True, validate=validate.OneOf(("add", "edit", "remove")))
    milestone_id = fields.Int(
        strict=True, allow_none=True, load_default=None, metadata={"description": "edit, remove"}
    )
    title = fields.Str(load_default=None, metadata={"example": "Admin dashboard"})
    description = fields.Str(load_default="")
    amount_minor = fields.Int(strict=True, allow_none=True, load_default=None, metadata=MINOR)
    due_date = fields.Str(allow_none=True, load_default=None, metadata={"description": "YYYY-MM-DD"})
    dod = fields.List(fields.Str(), load_default=list)
    note = fields.Str(load_default="", metadata={"description": "Why, for the other party."})


class AnswerSchema(Schema):
    accept = fields.Bool(required=True)


class ChangeSchema(Schema):
    id = fields.Int()
    action = fields.Str()
    milestone_id = fields.Int(allow_none=True)
    data = fields.Dict(metadata={"description": "The milestone's fields (add, edit)."})
    note = fields.Str()
    status = fields.Str(metadata={"example": "pending"})
    proposed_by = fields.Int()
    responded_by = fields.Int(allow_none=True)
    created_at = fields.DateTime()
    responded_at = fields.DateTime(allow_none=True)


class ContractSchema(Schema):
    id = fields.Int()
    number = fields.Str(metadata={"example": "C-12"})
    title = fields.Str()
    status = fields.Function(
        lambda c: effective_status(c),
        metadata={
            "type": "string",
            "description": "One of "
            + ", ".join(CONTRACT_STATUSES)
            + "; `expired` for an offer past its time.",
        },
    )
    job_id = fields.Int(allow_none=True)
    proposal_id = fields.Int(allow_none=True)
    order_id = fields.Int(
        allow_none=True,
        metadata={
            "description": "The engagement (an order of kind `contract`) once both signed: fund, submit, "
            "accept and request changes on its milestones with `/orders/{order_id}/milestones/...`."
        },
    )
    client_id = fields.Int()
    freelancer_id = fields.Int()
    payment_model = fields.Str(metadata={"description": "`fixed` or `hourly`.", "example": "fixed"})
    currency = fields.Str(metadata={"example": "USD"})
    total_minor = fields.Int(metadata=MINOR)
    message = fields.Str()
    offer_expires_at = fields.DateTime(allow_none=True)
    decline_reason = fields.Str(allow_none=True)
    activated_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    end_reason = fields.Str(allow_none=True)
    paused_at = fields.DateTime(
        allow_none=True, metadata={"description": "Hourly: paused since (no time is logged)."}
    )
    pause_reason = fields.Str(
        allow_none=True,
        metadata={"description": "Hourly: who paused it (`client`, `freelancer`) or `payment_failed`."},
    )
    created_at = fields.DateTime()


class ContractDetailSchema(ContractSchema):
    terms = fields.Nested(TermsSchema)
    milestones = fields.List(
        fields.Nested(MilestoneSchema), metadata={"description": "The engagement's, once active."}
    )
    money = fields.Nested(ContractMoneySchema)
    sow = fields.Nested(SowSchema, allow_none=True)
    changes = fields.List(
        fields.Nested(ChangeSchema), metadata={"description": "Milestone changes proposed."}
    )
    actions = fields.List(
        fields.Str(), metadata={"description": "What you may do now: accept, decline, withdraw, sign, end."}
    )
