"""Marshmallow schemas of the console API's disputes area: the queue, a dispute's case, the
operator's steps, the dispute settings and the experts.

Request schemas check shapes and types only; the rules (stages, splits summing to what is
held, lengths, the settings' ranges) are the disputes domain's, so the web console and the
API give the same answers. Class names carry ``Console`` so the OpenAPI component names never
collide with the public API's. Money is integer minor units of the dispute's currency.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.console.disputes.reads import MAX_AGE_DAYS, MEDIATOR_FILTERS, SORTS
from app.console.people.schemas import ConsoleAuditBriefSchema
from app.core.schema import Schema
from app.disputes.admin import DAY_RANGES, EXPERT_FIELD_MAX, FEE_RULE_MAX
from app.disputes.models import (
    EVIDENCE_KINDS,
    NOTE_MAX,
    OUTCOMES,
    PROPOSAL_STATUSES,
    REASONS,
    STAGES,
    STATUSES,
)

MINOR = {"description": "Integer minor units (cents) of the dispute's currency."}
DAY = {"description": "A UTC day, inclusive (YYYY-MM-DD).", "example": "2026-05-31"}


class ConsoleDisputeListArgs(Schema):
    status = fields.Str(metadata={"enum": list(STATUSES), "example": "open"})
    stage = fields.Str(
        metadata={"enum": list(STAGES), "example": "mediation", "description": "Open disputes at this stage."}
    )
    mediator = fields.Str(
        metadata={
            "enum": list(MEDIATOR_FILTERS),
            "description": "`mine` (assigned to the caller) or `unassigned`; absent: anyone.",
        }
    )
    older_than = fields.Int(
        strict=False,
        metadata={"description": f"Opened at least this many days ago (0 to {MAX_AGE_DAYS}).", "example": 3},
    )
    sort = fields.Str(
        metadata={
            "enum": list(SORTS),
            "description": "`age`: the oldest first (default); `deadline`: the soonest stage deadline first.",
        }
    )
    q = fields.Str(
        validate=validate.Length(max=400),
        metadata={
            "description": "A dispute number (`D-12`), an order id, a party's email or name, statement words."
        },
    )
    date_from = fields.Date(
        data_key="from", metadata={**DAY, "description": "Opened on or after this UTC day."}
    )
    date_to = fields.Date(data_key="to", metadata={**DAY, "description": "Opened on or before this UTC day."})


class ConsoleDisputePersonSchema(Schema):
    id = fields.Int(metadata={"example": 12})
    display_name = fields.Str(metadata={"example": "Bob Buyer"})
    email = fields.Str(metadata={"example": "bob@example.com"})
    status = fields.Str(metadata={"example": "active"})


class ConsoleDisputeSchema(Schema):
    id = fields.Int(metadata={"example": 7})
    number = fields.Str(metadata={"example": "D-000007"})
    order_id = fields.Int()
    milestone_id = fields.Int()
    order_title = fields.Str(metadata={"example": "I will design a logo"})
    reason = fields.Str(metadata={"enum": list(REASONS)})
    amount_minor = fields.Int(
        metadata={**MINOR, "description": "What the milestone held when it was opened."}
    )
    currency = fields.Str(metadata={"example": "USD"})
    stage = fields.Str(metadata={"enum": list(STAGES)})
    status = fields.Str(metadata={"enum": list(STATUSES)})
    outcome = fields.Str(allow_none=True, metadata={"enum": list(OUTCOMES)})
    buyer = fields.Nested(ConsoleDisputePersonSchema, allow_none=True)
    seller = fields.Nested(ConsoleDisputePersonSchema, allow_none=True)
    mediator = fields.Nested(ConsoleDisputePersonSchema, allow_none=True)
    age_days = fields.Int(metadata={"description": "Whole days since it was opened (until it ended)."})
    overdue = fields.Bool(metadata={"description": "Open and past its stage deadline."})
    stage_deadline_at = fields.DateTime(allow_none=True)
    opened_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)


class ConsoleDisputeEvidenceSchema(Schema):
    id = fields.Int()
    kind = fields.Str(metadata={"enum": list(EVIDENCE_KINDS)})
    author_id = fields.Int(allow_none=True)
    text = fields.Str()
    url = fields.Str(
        allow_none=True,
        metadata={"description": "A link's address; for a file, a signed download link valid for an hour."},
    )
    message_id = fields.Int(allow_none=True)
    filename = fields.Str(allow_none=True)
    content_type = fields.Str(allow_none=True)
    size = fields.Int(allow_none=True)
    data = fields.Dict()
    created_at = fields.DateTime()


class ConsoleDisputeProposalSchema(Schema):
    id = fields.Int()
    author_id = fields.Int(allow_none=True)
    by_mediator = fields.Bool()
    refund_minor = fields.Int(metadata=MINOR)
    release_minor = fields.Int(metadata=MINOR)
    message = fields.Str()
    status = fields.Str(metadata={"enum": list(PROPOSAL_STATUSES)})
    buyer_answer = fields.Str(allow_none=True)
    seller_answer = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    answered_at = fields.DateTime(allow_none=True)


class ConsoleDisputeEventSchema(Schema):
    id = fields.Int()
    kind = fields.Str(metadata={"example": "escalated"})
    actor_id = fields.Int(allow_none=True, metadata={"description": "null: the marketplace's deadline."})
    body = fields.Str()
    data = fields.Dict()
    created_at = fields.DateTime()


class ConsoleDisputeMessageSchema(Schema):
    id = fields.Int()
    sender_id = fields.Int(allow_none=True)
    kind = fields.Str(metadata={"example": "user"})
    body = fields.Str()
    created_at = fields.DateTime()


class ConsoleDisputeOrderTimelineSchema(Schema):
    id = fields.Int()
    kind = fields.Str(metadata={"example": "delivered"})
    actor_id = fields.Int(allow_none=True)
    data = fields.Dict()
    created_at = fields.DateTime()


class ConsoleDisputeMilestoneSchema(Schema):
    id = fields.Int()
    seq = fields.Int()
    title = fields.Str()
    status = fields.Str()
    amount_minor = fields.Int(metadata=MINOR)
    disputed_from = fields.Str(allow_none=True)
    description = fields.Str()
    submission_message = fields.Str(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)


class ConsoleDisputeDeliverySchema(Schema):
    id = fields.Int()
    message = fields.Str()
    created_at = fields.DateTime()


class ConsoleDisputeOrderSchema(Schema):
    id = fields.Int()
    kind = fields.Str(metadata={"example": "gig"})
    title = fields.Str()
    status = fields.Str()
    currency = fields.Str()
    total_minor = fields.Int(metadata=MINOR)
    escrow_minor = fields.Int(metadata={**MINOR, "description": "Held in escrow now (the ledger)."})
    contract_id = fields.Int(allow_none=True)


class ConsoleDisputeCaseSchema(ConsoleDisputeSchema):
    statement = fields.Str()
    opened_by = fields.Int()
    against_id = fields.Int()
    awaiting_id = fields.Int(allow_none=True, metadata={"description": "The party the deadline waits for."})
    refund_minor = fields.Int(metadata={**MINOR, "description": "Once resolved: back to the buyer."})
    release_minor = fields.Int(
        metadata={**MINOR, "description": "Once resolved: to the seller (before commission)."}
    )
    decided_by = fields.Int(allow_none=True)
    decision_reason = fields.Str(allow_none=True)
    expert = fields.Nested(ConsoleDisputePersonSchema, allow_none=True)
    expert_question = fields.Str(allow_none=True)
    expert_assessment = fields.Str(allow_none=True)
    escalated_at = fields.DateTime(allow_none=True)
    version = fields.Int()
    order = fields.Nested(ConsoleDisputeOrderSchema, attribute="order_brief")
    milestone = fields.Nested(ConsoleDisputeMilestoneSchema, allow_none=True)
    deliveries = fields.List(fields.Nested(ConsoleDisputeDeliverySchema))
    order_timeline = fields.List(fields.Nested(ConsoleDisputeOrderTimelineSchema))
    conversation = fields.List(
        fields.Nested(ConsoleDisputeMessageSchema),
        attribute="messages",
        metadata={"description": "The order conversation's latest messages, oldest first."},
    )
    evidence = fields.List(fields.Nested(ConsoleDisputeEvidenceSchema))
    proposals = fields.List(fields.Nested(ConsoleDisputeProposalSchema))
    timeline = fields.List(
        fields.Nested(ConsoleDisputeEventSchema),
        metadata={"description": "The dispute's steps and messages."},
    )
    audit = fields.List(fields.Nested(ConsoleAuditBriefSchema), metadata={"description": "Newest first."})


# --- steps -----------------------------------------------------------------------------


def _text(required: bool, description: str, example: str):
    return fields.Str(
        required=required,
        validate=validate.Length(max=NOTE_MAX * 2),
        metadata={"description": description, "example": example},
    )


class ConsoleDisputeAssignSchema(Schema):
    mediator_id = fields.Int(
        allow_none=True,
        metadata={"description": "A moderator or admin; absent or null: the caller.", "example": 3},
    )


class ConsoleDisputeMessageInSchema(Schema):
    body = _text(True, f"Read by both parties; up to {NOTE_MAX:,} characters.", "Please add the final files.")


class ConsoleDisputeProposalInSchema(Schema):
    refund_minor = fields.Int(
        required=True, strict=True, metadata={**MINOR, "description": "Back to the buyer."}
    )
    release_minor = fields.Int(
        required=True, strict=True, metadata={**MINOR, "description": "To the seller."}
    )
    message = _text(True, "Why this is fair (both parties read it).", "Half the work was delivered.")


class ConsoleDisputeExpertSchema(Schema):
    expert_id = fields.Int(required=True, metadata={"description": "An appointed expert (not a party)."})
    question = _text(True, "What the expert should assess.", "Does the logo match the brief?")


class ConsoleDisputeHandOverSchema(Schema):
    note = _text(False, "A note for the admin (optional).", "Both refuse my proposal.")


class ConsoleDisputeDecisionSchema(Schema):
    refund_minor = fields.Int(
        required=True, strict=True, metadata={**MINOR, "description": "Back to the buyer."}
    )
    release_minor = fields.Int(
        required=True,
        strict=True,
        metadata={**MINOR, "description": "To the seller; the commission is taken on this part only."},
    )
    currency = fields.Str(
        metadata={"description": "Optional: must be the dispute's currency when given.", "example": "USD"}
    )
    reason = _text(True, "Why (both parties read it).", "The work matches the brief except the colours.")


class ConsoleDisputeDismissSchema(Schema):
    reason = _text(True, "Why (both parties read it).", "The order goes on as agreed.")


# --- settings and experts --------------------------------------------------------------


class ConsoleDisputeSettingsSchema(Schema):
    self_resolution_days = fields.Int(
        required=True,
        strict=True,
        metadata={"description": f"1 to {DAY_RANGES['self_resolution_days'][2]}."},
    )
    answer_days = fields.Int(
        required=True,
        strict=True,
        metadata={"description": f"The other side's time to answer: 1 to {DAY_RANGES['answer_days'][2]}."},
    )
    mediation_days = fields.Int(
        required=True, strict=True, metadata={"description": f"1 to {DAY_RANGES['mediation_days'][2]}."}
    )
    expert_days = fields.Int(
        required=True, strict=True, metadata={"description": f"1 to {DAY_RANGES['expert_days'][2]}."}
    )
    expert_review_enabled = fields.Bool(required=True)
    expert_fee_rule = fields.Str(
        required=True,
        validate=validate.Length(max=FEE_RULE_MAX * 2),
        metadata={"description": f"Who pays the expert (up to {FEE_RULE_MAX:,} characters)."},
    )


class ConsoleDisputeExpertRowSchema(Schema):
    id = fields.Int()
    email = fields.Str()
    display_name = fields.Str()
    field = fields.Str()
    appointed_at = fields.DateTime()
    appointed_by = fields.Int(allow_none=True)


class ConsoleDisputeExpertInSchema(Schema):
    email = fields.Str(
        required=True, validate=validate.Length(max=400), metadata={"example": "eve@example.com"}
    )
    field = fields.Str(
        validate=validate.Length(max=EXPERT_FIELD_MAX * 2),
        metadata={"example": "Brand design", "description": f"Up to {EXPERT_FIELD_MAX} characters."},
    )
