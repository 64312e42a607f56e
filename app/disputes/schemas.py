"""Marshmallow schemas of the disputes API.

Request schemas are strict (bounded integers, enums, lengths) so a malformed request is a 422
naming the field before any rule runs; the rules themselves (what is disputable, who may do
what, a split summing to what is held) are the services' (``app.disputes.services``), refused
in the same shape. Money is integer minor units of the dispute's ``currency``.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.core.schema import Schema
from app.disputes.models import (
    EVIDENCE_KINDS,
    NOTE_MAX,
    OUTCOMES,
    PROPOSAL_STATUSES,
    REASONS,
    STAGES,
    STATEMENT_MAX,
    STATUSES,
)
from app.disputes.services import URL_MAX

ID = {"strict": True, "validate": validate.Range(min=1, max=2**31 - 1)}
MINOR_MAX = 2**53 - 1  # what a JSON number holds exactly
MINOR = {"description": "Integer minor units (cents) of the dispute's currency."}
JSON_KINDS = tuple(k for k in EVIDENCE_KINDS if k != "file")


def _minor(**metadata):
    return fields.Int(
        strict=True,
        required=True,
        validate=validate.Range(min=0, max=MINOR_MAX),
        metadata={**MINOR, **metadata},
    )


# --------------------------------------------------------------------------- input


class DisputeListArgs(Schema):
    status = fields.Str(
        load_default=None,
        validate=validate.OneOf(("open", "closed")),
        metadata={"description": "`open`, or `closed` (resolved and dismissed); both by default."},
    )


class OpenDisputeSchema(Schema):
    order_id = fields.Int(required=True, **ID)
    milestone_id = fields.Int(
        load_default=None,
        allow_none=True,
        **ID,
        metadata={
            "description": "The milestone of a contract or a multi-milestone offer; a gig order's "
            "only milestone by default."
        },
    )
    reason = fields.Str(required=True, validate=validate.OneOf(REASONS))
    statement = fields.Str(required=True, validate=validate.Length(min=1, max=STATEMENT_MAX))


class OpenTimesheetDisputeSchema(Schema):
    reason = fields.Str(required=True, validate=validate.OneOf(REASONS))
    statement = fields.Str(required=True, validate=validate.Length(min=1, max=STATEMENT_MAX))


class DisputeEvidenceInputSchema(Schema):
    """JSON evidence (files are sent as multipart ``files`` to the same path)."""

    kind = fields.Str(required=True, validate=validate.OneOf(JSON_KINDS))
    text = fields.Str(
        load_default="",
        validate=validate.Length(max=NOTE_MAX),
        metadata={"description": "A note's text (required for `note`), or a comment on a link or the DoD."},
    )
    url = fields.Str(
        load_default="",
        validate=validate.Length(max=URL_MAX),
        metadata={"description": "For `link`: an http(s) address (a pull request, a CI run, a preview)."},
    )
    message_id = fields.Int(
        load_default=None,
        allow_none=True,
        **ID,
        metadata={"description": "For `message`: a message of the order's conversation, quoted as it is."},
    )
    pull_request_id = fields.Int(
        load_default=None,
        allow_none=True,
        **ID,
        metadata={
            "description": "For `pr`: a pull request of the contract's repositories (GET "
            "/contracts/{id}/pull-requests), copied as it is now with its latest CI."
        },
    )
    ci_run_id = fields.Int(
        load_default=None,
        allow_none=True,
        **ID,
        metadata={
            "description": "For `ci`: a CI run of the contract's repositories (the `runs` of "
            "a pull request's `ci`), copied as it is now."
        },
    )


class DisputeMessageInputSchema(Schema):
    body = fields.Str(required=True, validate=validate.Length(min=1, max=NOTE_MAX))


class DisputeProposalInputSchema(Schema):
    refund_minor = _minor(description="Back to the buyer, in minor units.")
    release_minor = _minor(
        description="Released to the seller (commission on this part only), in minor units."
    )
    currency = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Length(equal=3),
        metadata={"description": "Optional: when given, must be the dispute's currency."},
    )
    message = fields.Str(load_default="", validate=validate.Length(max=NOTE_MAX))


class DisputeAnswerInputSchema(Schema):
    accept = fields.Bool(
        required=True,
        truthy={True},
        falsy={False},
        metadata={"description": "true accepts, false declines (or withdraws your own proposal)."},
    )


class DisputeEscalateInputSchema(Schema):
    reason = fields.Str(load_default="", validate=validate.Length(max=NOTE_MAX))


class DisputeNoBody(Schema):
    """No fields: the step needs none."""


class DisputeAssessmentInputSchema(Schema):
    assessment = fields.Str(required=True, validate=validate.Length(min=1, max=NOTE_MAX))


# --------------------------------------------------------------------------- output


class DisputeSchema(Schema):
    id = fields.Int()
    number = fields.Str(metadata={"example": "D-000123"})
    order_id = fields.Int()
    milestone_id = fields.Int()
    buyer_id = fields.Int()
    seller_id = fields.Int()
    opened_by = fields.Int()
    against_id = fields.Int()
    reason = fields.Str(validate=validate.OneOf(REASONS))
    statement = fields.Str()
    amount_minor = fields.Int(
        metadata={**MINOR, "description": "What the milestone held when the dispute opened."}
    )
    currency = fields.Str()
    stage = fields.Str(validate=validate.OneOf(STAGES))
    status = fields.Str(validate=validate.OneOf(STATUSES))
    outcome = fields.Str(
        allow_none=True,
        metadata={"description": "Once ended: " + ", ".join(f"`{o}`" for o in OUTCOMES) + "."},
    )
    refund_minor = fields.Int(metadata=MINOR)
    release_minor = fields.Int(metadata=MINOR)
    decision_reason = fields.Str(allow_none=True)
    mediator_id = fields.Int(allow_none=True)
    expert_id = fields.Int(allow_none=True)
    awaiting_id = fields.Int(
        allow_none=True, metadata={"description": "The party whose answer the deadline waits for."}
    )
    stage_deadline_at = fields.DateTime(allow_none=True)
    opened_at = fields.DateTime()
    escalated_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    version = fields.Int()
    next_step = fields.Str(metadata={"description": "What you should do next, in words."})


class DisputeEvidenceSchema(Schema):
    id = fields.Int()
    author_id = fields.Int(allow_none=True)
    kind = fields.Str(validate=validate.OneOf(EVIDENCE_KINDS))
    message_id = fields.Int(allow_none=True)
    text = fields.Str()
    url = fields.Str(allow_none=True)
    filename = fields.Str(allow_none=True)
    content_type = fields.Str(allow_none=True)
    size = fields.Int(allow_none=True)
    data = fields.Dict(
        metadata={
            "description": "A quoted message's `sent_at` and `sender_id`; a DoD's `items`; a pull "
            "request's `repo`, `number`, `title`, `state`, `ci_status`, `ci_text`; a CI run's `repo`, "
            "`name`, `status`, `summary`, `head_sha`."
        }
    )
    download_url = fields.Str(
        allow_none=True, metadata={"description": "A file's signed download URL (valid one hour)."}
    )
    created_at = fields.DateTime()


class DisputeProposalSchema(Schema):
    id = fields.Int()
    author_id = fields.Int(allow_none=True)
    by_mediator = fields.Bool()
    refund_minor = fields.Int(metadata=MINOR)
    release_minor = fields.Int(metadata=MINOR)
    message = fields.Str()
    status = fields.Str(validate=validate.OneOf(PROPOSAL_STATUSES))
    buyer_answer = fields.Str(allow_none=True)
    seller_answer = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    answered_at = fields.DateTime(allow_none=True)


class DisputeEventSchema(Schema):
    id = fields.Int()
    kind = fields.Str()
    actor_id = fields.Int(allow_none=True)
    body = fields.Str()
    data = fields.Dict()
    created_at = fields.DateTime()


class DisputeDetailSchema(DisputeSchema):
    evidence = fields.List(fields.Nested(DisputeEvidenceSchema))
    proposals = fields.List(fields.Nested(DisputeProposalSchema))
    timeline = fields.List(fields.Nested(DisputeEventSchema))
    expert_question = fields.Str(allow_none=True)
    expert_assessment = fields.Str(allow_none=True)
