"""Marshmallow schemas of the console API's contracts area: contracts (list, detail, the
operator's end) and the milestones of every contract's engagement.

Request schemas check shapes and types only; the rules (the filters, the end's reason and
the states an end needs) are the console reads' and the contracts domain's, so the web
console and the API give the same answers. Class names carry ``Console`` so the OpenAPI
component names never collide with the public API's. Money is integer minor units.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.console.contracts.reads import MAX_DUE_DAYS
from app.console.operations.schemas import ConsoleLedgerTransactionSchema, ConsoleProviderRecordSchema
from app.console.people.schemas import ConsoleAuditBriefSchema
from app.contracts import services
from app.contracts.models import CHANGE_ACTIONS, CHANGE_STATUSES, CONTRACT_STATUSES
from app.core.schema import Schema
from app.orders.models import MILESTONE_STATUSES

MINOR = {"description": "Integer minor units (cents) of the contract's currency."}
DAY = {"description": "A UTC day, inclusive (YYYY-MM-DD).", "example": "2026-05-31"}


# --- contracts -----------------------------------------------------------------------


class ConsoleContractListArgs(Schema):
    status = fields.Str(metadata={"enum": list(CONTRACT_STATUSES), "example": "active"})
    q = fields.Str(
        validate=validate.Length(max=400),
        metadata={
            "description": "Words of the title, a contract number (`C-12`, `#12` or `12`), or a party's "
            "email or name.",
            "example": "client@example.com",
        },
    )
    date_from = fields.Date(
        data_key="from", metadata={**DAY, "description": "Started (activated) on or after this UTC day."}
    )
    date_to = fields.Date(
        data_key="to", metadata={**DAY, "description": "Started (activated) on or before this UTC day."}
    )


class ConsoleContractPartySchema(Schema):
    id = fields.Int(metadata={"example": 12})
    display_name = fields.Str(metadata={"example": "Cleo Client"})
    email = fields.Str(metadata={"example": "cleo@example.com"})
    status = fields.Str(metadata={"example": "active"})


class ConsoleContractMoneySchema(Schema):
    total_minor = fields.Int(metadata={**MINOR, "description": "The milestones' sum."})
    funded_minor = fields.Int(metadata={**MINOR, "description": "Paid into escrow by the client."})
    in_escrow_minor = fields.Int(metadata={**MINOR, "description": "Held in escrow now (the ledger)."})
    released_minor = fields.Int(
        metadata={**MINOR, "description": "Released to the freelancer (before commission)."}
    )
    refunded_minor = fields.Int(metadata={**MINOR, "description": "Refunded to the client."})


class ConsoleContractSchema(Schema):
    id = fields.Int(metadata={"example": 5})
    number = fields.Str(metadata={"example": "C-5"})
    title = fields.Str(metadata={"example": "Booking tool for gyms"})
    status = fields.Str(metadata={"enum": list(CONTRACT_STATUSES)})
    job_id = fields.Int(allow_none=True)
    order_id = fields.Int(
        allow_none=True,
        metadata={"description": "The engagement (an order of kind `contract`), once active."},
    )
    client = fields.Nested(ConsoleContractPartySchema, allow_none=True)
    freelancer = fields.Nested(ConsoleContractPartySchema, allow_none=True)
    currency = fields.Str(metadata={"example": "USD"})
    total_minor = fields.Int(metadata=MINOR)
    money = fields.Nested(ConsoleContractMoneySchema)
    created_at = fields.DateTime()
    activated_at = fields.DateTime(allow_none=True, metadata={"description": "When it started."})
    ended_at = fields.DateTime(allow_none=True)


class ConsoleTermsMilestoneSchema(Schema):
    title = fields.Str()
    description = fields.Str(metadata={"description": "The deliverable."})
    amount_minor = fields.Int(metadata=MINOR)
    due_date = fields.Str(allow_none=True, metadata={"example": "2026-07-01"})
    dod = fields.List(fields.Str(), metadata={"description": "Definition of Done."})


class ConsoleTermsSchema(Schema):
    scope = fields.Str()
    milestones = fields.List(fields.Nested(ConsoleTermsMilestoneSchema))
    nda = fields.Bool()
    ip_assignment = fields.Bool()


class ConsoleSignatureSchema(Schema):
    user_id = fields.Int()
    role = fields.Str(metadata={"enum": ["client", "freelancer"]})
    typed_name = fields.Str(metadata={"example": "Ann Dev"})
    content_sha256 = fields.Str(metadata={"description": "The hash of the text this signature signed."})
    signed_at = fields.DateTime()
    ip = fields.Str(allow_none=True, metadata={"example": "203.0.113.7"})
    user_agent = fields.Str(allow_none=True)


class ConsoleSowSchema(Schema):
    version = fields.Int()
    content_sha256 = fields.Str(metadata={"example": "9f86d081884c7d659a2feaa0c55ad015..."})
    intact = fields.Bool(
        metadata={"description": "false: the stored text no longer matches its hash (tampered with)."}
    )
    created_at = fields.DateTime()
    body = fields.Str(metadata={"description": "The plain text both parties signed."})
    signatures = fields.List(fields.Nested(ConsoleSignatureSchema))


class ConsoleContractMilestoneSchema(Schema):
    id = fields.Int(metadata={"example": 31})
    order_id = fields.Int()
    seq = fields.Int(metadata={"example": 1})
    title = fields.Str(metadata={"example": "Design"})
    status = fields.Str(metadata={"enum": list(MILESTONE_STATUSES)})
    amount_minor = fields.Int(metadata=MINOR)
    refunded_minor = fields.Int(metadata=MINOR)
    held_minor = fields.Int(metadata={**MINOR, "description": "What it holds in escrow by its state."})
    due_at = fields.DateTime(allow_none=True)
    funding_requested_at = fields.DateTime(allow_none=True)
    funded_at = fields.DateTime(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    changes_requested_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    auto_release_at = fields.DateTime(
        allow_none=True, metadata={"description": "Submitted work is accepted by itself then."}
    )


class ConsoleContractChangeSchema(Schema):
    id = fields.Int()
    action = fields.Str(metadata={"enum": list(CHANGE_ACTIONS)})
    status = fields.Str(metadata={"enum": list(CHANGE_STATUSES)})
    milestone_id = fields.Int(allow_none=True)
    data = fields.Dict(metadata={"description": "The milestone's fields for add and edit."})
    note = fields.Str()
    proposed_by = fields.Nested(ConsoleContractPartySchema, attribute="proposed_by_user", allow_none=True)
    responded_by = fields.Nested(ConsoleContractPartySchema, attribute="responded_by_user", allow_none=True)
    created_at = fields.DateTime()
    responded_at = fields.DateTime(allow_none=True)


class ConsoleTimelineEventSchema(Schema):
    id = fields.Int()
    kind = fields.Str(metadata={"example": "milestone_funded"})
    actor_id = fields.Int(allow_none=True, metadata={"description": "null: the marketplace itself."})
    data = fields.Dict()
    created_at = fields.DateTime()


class ConsoleJobBriefSchema(Schema):
    id = fields.Int()
    title = fields.Str()
    status = fields.Str()


class ConsoleContractDetailSchema(ConsoleContractSchema):
    payment_model = fields.Str(metadata={"enum": ["fixed", "hourly"]})
    terms = fields.Nested(ConsoleTermsSchema)
    message = fields.Str(metadata={"description": "The client's message with the offer."})
    offer_expires_at = fields.DateTime(allow_none=True)
    decline_reason = fields.Str(allow_none=True)
    end_reason = fields.Str(allow_none=True)
    ended_by = fields.Nested(
        ConsoleContractPartySchema,
        attribute="ended_by_user",
        allow_none=True,
        metadata={"description": "Who ended it: a party, or an operator."},
    )
    job = fields.Nested(ConsoleJobBriefSchema, allow_none=True)
    sow = fields.Nested(ConsoleSowSchema, allow_none=True, metadata={"description": "null until accepted."})
    milestones = fields.List(fields.Nested(ConsoleContractMilestoneSchema))
    changes = fields.List(fields.Nested(ConsoleContractChangeSchema))
    timeline = fields.List(
        fields.Nested(ConsoleTimelineEventSchema), metadata={"description": "The engagement's steps."}
    )
    ledger_transactions = fields.List(
        fields.Nested(ConsoleLedgerTransactionSchema),
        metadata={"description": "The engagement's payments, releases and refunds with their entries."},
    )
    provider_records = fields.List(fields.Nested(ConsoleProviderRecordSchema))
    audit = fields.List(fields.Nested(ConsoleAuditBriefSchema), metadata={"description": "Newest first."})


class ConsoleContractEndSchema(Schema):
    reason = fields.Str(
        required=True,
        metadata={
            "description": f"Why (both parties read it); {services.OPERATOR_REASON_MIN} to "
            f"{services.TEXT_MAX:,} characters.",
            "example": "Both parties reported the freelancer's account as compromised.",
        },
    )


# --- milestones ----------------------------------------------------------------------


class ConsoleMilestoneListArgs(Schema):
    state = fields.Str(metadata={"enum": list(MILESTONE_STATUSES), "example": "submitted"})
    due_within = fields.Int(
        strict=False,
        metadata={
            "description": f"Days (0 to {MAX_DUE_DAYS}): submitted milestones the engine releases on its "
            "own by then, overdue ones included; soonest first.",
            "example": 3,
        },
    )


class ConsoleContractBriefSchema(Schema):
    id = fields.Int()
    number = fields.Str(metadata={"example": "C-5"})
    title = fields.Str()
    status = fields.Str(metadata={"enum": list(CONTRACT_STATUSES)})


class ConsoleMilestoneRowSchema(ConsoleContractMilestoneSchema):
    currency = fields.Str(metadata={"example": "USD"})
    since = fields.DateTime(allow_none=True, metadata={"description": "When it entered its state."})
    contract = fields.Nested(ConsoleContractBriefSchema)
    client = fields.Nested(ConsoleContractPartySchema, allow_none=True)
    freelancer = fields.Nested(ConsoleContractPartySchema, allow_none=True)
