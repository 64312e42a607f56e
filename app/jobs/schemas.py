"""Marshmallow schemas of the jobs API.

Request schemas check shapes and types (strict integers: ``"10"`` or ``10.5`` is refused);
the rules (lengths after cleaning, budgets, milestones adding up, who may do what) are the
services' (``app.jobs.services``, ``app.jobs.proposals``), refused with the same 422 shape.
Money is integer minor units of the job's ``currency``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import fields, validate

from app.core.schema import Schema
from app.jobs import attachments
from app.jobs.models import (
    BUDGET_TYPES,
    DURATIONS,
    EXPERIENCE_LEVELS,
    INVITE_STATUSES,
    JOB_STATUSES,
    MAX_JOB_ATTACHMENTS,
    MAX_PROPOSAL_ATTACHMENTS,
    PROPOSAL_STATUSES,
    VISIBILITIES,
)

MINOR = {"description": "Integer minor units (cents) of the job's currency."}


def _strict_int(**kwargs) -> fields.Int:
    return fields.Int(strict=True, **kwargs)


# --------------------------------------------------------------------------- requests


class JobInputSchema(Schema):
    title = fields.Str(
        load_default=None,
        metadata={"example": "Build the MVP of a booking SaaS", "minLength": 10, "maxLength": 120},
    )
    description = fields.Str(
        load_default=None,
        metadata={
            "description": "Markdown (raw HTML is shown as text), 30 to 10,000 characters.",
            "example": "We need a booking tool for small gyms: calendar, payments, reminders.",
        },
    )
    category_id = _strict_int(allow_none=True, load_default=None)
    skills = fields.List(
        fields.Str(), load_default=list, metadata={"example": ["python", "react"], "maxItems": 15}
    )
    budget_type = fields.Str(load_default=None, validate=validate.OneOf(BUDGET_TYPES))
    budget_min_minor = _strict_int(allow_none=True, load_default=None, metadata={**MINOR, "example": 200000})
    budget_max_minor = _strict_int(allow_none=True, load_default=None, metadata={**MINOR, "example": 500000})
    rate_min_minor = _strict_int(allow_none=True, load_default=None, metadata=MINOR)
    rate_max_minor = _strict_int(allow_none=True, load_default=None, metadata=MINOR)
    hours_per_week = _strict_int(allow_none=True, load_default=None, validate=validate.Range(min=1, max=80))
    duration = fields.Str(load_default=None, validate=validate.OneOf(DURATIONS))
    experience_level = fields.Str(load_default=None, validate=validate.OneOf(EXPERIENCE_LEVELS))
    visibility = fields.Str(load_default="public", validate=validate.OneOf(VISIBILITIES))
    nda_required = fields.Bool(load_default=False)
    ip_assignment = fields.Bool(load_default=True)
    screening_questions = fields.List(fields.Str(), load_default=list, metadata={"maxItems": 5})


class JobCreateSchema(JobInputSchema):
    template_id = _strict_int(
        allow_none=True,
        load_default=None,
        metadata={"description": "Fill what is left out from this template."},
    )
    publish = fields.Bool(
        load_default=False, metadata={"description": "Open the job at once (else a draft)."}
    )


class JobBrowseArgs(Schema):
    q = fields.Str(
        metadata={"description": "Keywords (PostgreSQL web search syntax).", "maxLength": 200},
        validate=validate.Length(max=200),
    )
    category_id = _strict_int()
    skills = fields.List(
        fields.Str(validate=validate.Length(max=40)), metadata={"description": "Any of these skills."}
    )
    budget_type = fields.Str(validate=validate.OneOf(BUDGET_TYPES))
    budget_min_minor = _strict_int(validate=validate.Range(min=0, max=2**62), metadata=MINOR)
    budget_max_minor = _strict_int(validate=validate.Range(min=0, max=2**62), metadata=MINOR)
    posted_within_days = _strict_int(validate=validate.Range(min=1, max=365))
    matching = fields.Bool(
        load_default=False, metadata={"description": "Only jobs matching your seller skills (signed in)."}
    )


class MyJobsArgs(Schema):
    status = fields.Str(validate=validate.OneOf(JOB_STATUSES))


class ProposalMilestoneSchema(Schema):
    title = fields.Str(load_default=None, metadata={"example": "Design"})
    amount_minor = _strict_int(required=True, metadata={**MINOR, "example": 100000})
    due_in_days = _strict_int(allow_none=True, load_default=None, validate=validate.Range(min=1, max=365))


class ProposalInputSchema(Schema):
    cover_letter = fields.Str(required=True, metadata={"minLength": 50, "maxLength": 5000})
    answers = fields.List(
        fields.Str(), load_default=list, metadata={"description": "One per screening question, in order."}
    )
    total_minor = _strict_int(
        allow_none=True, load_default=None, metadata={**MINOR, "description": "Fixed-price jobs: the total."}
    )
    milestones = fields.List(
        fields.Nested(ProposalMilestoneSchema),
        load_default=list,
        metadata={"description": "Fixed-price jobs: amounts adding up to the total (none: one milestone)."},
    )
    rate_minor = _strict_int(
        allow_none=True, load_default=None, metadata={**MINOR, "description": "Hourly jobs: the rate."}
    )
    delivery_days = _strict_int(required=True, validate=validate.Range(min=1, max=365))
    portfolio_item_ids = fields.List(_strict_int(), load_default=list)


class ProposalListArgs(Schema):
    status = fields.Str(validate=validate.OneOf(PROPOSAL_STATUSES))


class ProposalReviewSchema(Schema):
    status = fields.Str(required=True, validate=validate.OneOf(("shortlisted", "archived", "declined")))
    message = fields.Str(
        load_default="",
        metadata={"description": "Declines only: an optional note to the freelancer.", "maxLength": 1000},
    )


class InviteInputSchema(Schema):
    freelancer_id = _strict_int(required=True)
    message = fields.Str(load_default="", metadata={"maxLength": 1000})


class InviteAnswerSchema(Schema):
    accept = fields.Bool(required=True)


def upload_body(limit: int) -> dict:
    """The OpenAPI request body of an attachments upload (multipart ``files``, repeated)."""
    return {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "minItems": 1,
                            "maxItems": limit,
                            "description": "One part per file (a single part may also be named `file`).",
                        }
                    },
                    "required": ["files"],
                }
            }
        }
    }


# --------------------------------------------------------------------------- responses


class JobAttachmentSchema(Schema):
    id = fields.Int()
    filename = fields.Str(
        metadata={"description": "The uploader's name for the file.", "example": "spec.pdf"}
    )
    content_type = fields.Str(metadata={"example": "application/pdf"})
    size = fields.Int(metadata={"description": "Bytes."})
    uploader_id = fields.Int()
    created_at = fields.DateTime()
    url = fields.Method(
        "_url",
        metadata={
            "type": "string",
            "description": f"Signed download URL, valid for {attachments.URL_SECONDS // 60} minutes, "
            "on this marketplace's host only; fetch the job or proposal again for a fresh one.",
        },
    )

    def _url(self, attachment):
        return attachments.url(attachment)


ATTACHMENTS_DOC = (
    "Files attached (at most {n}); download URLs only for those who may download them: "
    "{who}. Types: " + ", ".join(sorted(attachments.ATTACHMENT_TYPES)) + "."
)


class JobSchema(Schema):
    id = fields.Int()
    client_id = fields.Int()
    title = fields.Str()
    description = fields.Str(attribute="description_source")
    description_html = fields.Str()
    category_id = fields.Int(allow_none=True)
    skills = fields.List(fields.Str())
    budget_type = fields.Str(metadata={"enum": list(BUDGET_TYPES)})
    budget_min_minor = fields.Int(allow_none=True, metadata=MINOR)
    budget_max_minor = fields.Int(allow_none=True, metadata=MINOR)
    rate_min_minor = fields.Int(allow_none=True, metadata=MINOR)
    rate_max_minor = fields.Int(allow_none=True, metadata=MINOR)
    hours_per_week = fields.Int(allow_none=True)
    currency = fields.Str()
    duration = fields.Str(metadata={"enum": list(DURATIONS)})
    experience_level = fields.Str(metadata={"enum": list(EXPERIENCE_LEVELS)})
    visibility = fields.Str(metadata={"enum": list(VISIBILITIES)})
    nda_required = fields.Bool()
    ip_assignment = fields.Bool()
    screening_questions = fields.List(fields.Str())
    status = fields.Str(metadata={"enum": list(JOB_STATUSES)})
    template_id = fields.Int(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    attachments = fields.List(
        fields.Nested(JobAttachmentSchema),
        metadata={
            "description": ATTACHMENTS_DOC.format(n=MAX_JOB_ATTACHMENTS, who="everyone who may see the job")
        },
    )


class TemplateMilestoneSchema(Schema):
    title = fields.Str()
    deliverable = fields.Str()
    dod = fields.List(fields.Str(), metadata={"description": "Definition-of-Done checklist."})
    share_percent = fields.Int()


class TemplateSchema(Schema):
    id = fields.Int()
    key = fields.Str()
    name = fields.Str()
    summary = fields.Str()
    scope = fields.Str()
    skills = fields.List(fields.Str())
    budget_type = fields.Str()
    duration = fields.Str(allow_none=True)
    milestones = fields.List(fields.Nested(TemplateMilestoneSchema))


class MatchSchema(Schema):
    score = fields.Float(metadata={"description": "0..1, the weighted sum of the terms."})
    terms = fields.Dict(keys=fields.Str(), values=fields.Float())
    explanation = fields.List(fields.Str(), metadata={"example": ["matches 4 of 5 skills", "98 % on time"]})


class ProposalSchema(Schema):
    id = fields.Int()
    job_id = fields.Int()
    freelancer_id = fields.Int()
    cover_letter = fields.Str()
    answers = fields.List(fields.Str())
    payment_type = fields.Str(metadata={"enum": list(BUDGET_TYPES)})
    total_minor = fields.Int(allow_none=True, metadata=MINOR)
    milestones = fields.List(fields.Nested(ProposalMilestoneSchema))
    rate_minor = fields.Int(allow_none=True, metadata=MINOR)
    currency = fields.Str()
    delivery_days = fields.Int()
    portfolio_item_ids = fields.List(fields.Int())
    status = fields.Str(metadata={"enum": list(PROPOSAL_STATUSES)})
    decline_message = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    match = fields.Nested(
        MatchSchema, allow_none=True, metadata={"description": "For the job's client only."}
    )
    attachments = fields.List(
        fields.Nested(JobAttachmentSchema),
        metadata={
            "description": ATTACHMENTS_DOC.format(
                n=MAX_PROPOSAL_ATTACHMENTS, who="the freelancer and the job's client"
            )
        },
    )


def _invite_status(invite) -> str:
    # As of this answer: a ``sent`` invite past ``expires_at`` is ``expired`` (the services
    # refuse to answer it), although no job rewrites the row.
    return invite.effective_status(datetime.now(UTC))


class InviteSchema(Schema):
    id = fields.Int()
    job_id = fields.Int()
    freelancer_id = fields.Int()
    message = fields.Str()
    status = fields.Function(
        _invite_status,
        metadata={
            "type": "string",
            "enum": list(INVITE_STATUSES),
            "description": "`expired` once `expires_at` passed without an answer.",
        },
    )
    expires_at = fields.DateTime()
    created_at = fields.DateTime()
