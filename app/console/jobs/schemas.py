"""Marshmallow schemas of the console API's jobs area: jobs (list, detail, close), job
templates and the matching weights.

Request schemas check shapes and types only; the rules (a template's fields, milestones whose
shares add up to 100, the weights' range, the close reason) are the jobs domain's, so the web
console and the API give the same answers. Class names carry ``Console`` so the OpenAPI
component names never collide with the public API's. Money is integer minor units.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.console.people.schemas import ConsoleAuditBriefSchema
from app.core.schema import Schema
from app.jobs import services
from app.jobs.models import (
    BUDGET_TYPES,
    DURATIONS,
    INVITE_STATUSES,
    JOB_STATUSES,
    MATCHING_TERMS,
    MAX_MILESTONES,
    PROPOSAL_STATUSES,
    VISIBILITIES,
)
from app.jobs.settings import TERMS

MINOR = {"description": "Integer minor units (cents) of the job's currency."}
DAY = {"description": "A UTC day, inclusive (YYYY-MM-DD).", "example": "2026-05-31"}

# --- jobs ----------------------------------------------------------------------------


class ConsoleJobListArgs(Schema):
    status = fields.Str(
        metadata={
            "enum": list(JOB_STATUSES),
            "description": "`cancelled` is a job closed by its client or by the marketplace.",
            "example": "open",
        }
    )
    q = fields.Str(
        validate=validate.Length(max=200),
        metadata={"description": "Words of the title, or a job id (`#12` or `12`).", "example": "booking"},
    )
    date_from = fields.Date(
        data_key="from", metadata={**DAY, "description": "Posted on or after this UTC day."}
    )
    date_to = fields.Date(data_key="to", metadata={**DAY, "description": "Posted on or before this UTC day."})


class ConsoleJobPersonSchema(Schema):
    id = fields.Int(metadata={"example": 12})
    display_name = fields.Str(metadata={"example": "Cleo Client"})
    email = fields.Str(metadata={"example": "cleo@example.com"})
    status = fields.Str(metadata={"example": "active"})


class ConsoleJobSchema(Schema):
    id = fields.Int(metadata={"example": 42})
    title = fields.Str(metadata={"example": "Build a booking tool for gyms"})
    status = fields.Str(metadata={"enum": list(JOB_STATUSES)})
    visibility = fields.Str(metadata={"enum": list(VISIBILITIES)})
    client = fields.Nested(ConsoleJobPersonSchema, allow_none=True)
    budget_type = fields.Str(metadata={"enum": list(BUDGET_TYPES)})
    budget_min_minor = fields.Int(allow_none=True, metadata=MINOR)
    budget_max_minor = fields.Int(allow_none=True, metadata=MINOR)
    rate_min_minor = fields.Int(allow_none=True, metadata=MINOR)
    rate_max_minor = fields.Int(allow_none=True, metadata=MINOR)
    currency = fields.Str(metadata={"example": "USD"})
    proposals = fields.Int(metadata={"description": "Live proposals (submitted, shortlisted, hired)."})
    created_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True, metadata={"description": "When it was posted (opened)."})
    closed_at = fields.DateTime(allow_none=True)


class ConsoleJobProposalSchema(Schema):
    id = fields.Int(metadata={"example": 7})
    freelancer = fields.Nested(ConsoleJobPersonSchema, allow_none=True)
    status = fields.Str(metadata={"enum": list(PROPOSAL_STATUSES)})
    payment_type = fields.Str(metadata={"enum": list(BUDGET_TYPES)})
    total_minor = fields.Int(allow_none=True, metadata={**MINOR, "description": "Fixed price: the total."})
    rate_minor = fields.Int(allow_none=True, metadata={**MINOR, "description": "Hourly: the rate."})
    currency = fields.Str()
    delivery_days = fields.Int()
    created_at = fields.DateTime()


class ConsoleJobInviteSchema(Schema):
    id = fields.Int(metadata={"example": 3})
    freelancer = fields.Nested(ConsoleJobPersonSchema, allow_none=True)
    status = fields.Str(
        metadata={
            "enum": list(INVITE_STATUSES),
            "description": "`expired` once `expires_at` passed unanswered.",
        }
    )
    expires_at = fields.DateTime()
    responded_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class ConsoleJobDetailSchema(ConsoleJobSchema):
    class Meta:
        exclude = ("proposals",)

    description = fields.Str(attribute="description_source")
    skills = fields.List(fields.Str())
    category_id = fields.Int(allow_none=True)
    template_id = fields.Int(allow_none=True)
    duration = fields.Str(metadata={"enum": list(DURATIONS)})
    experience_level = fields.Str()
    hours_per_week = fields.Int(allow_none=True)
    closed_by = fields.Nested(
        ConsoleJobPersonSchema,
        allow_none=True,
        metadata={"description": "The operator who closed it, if one did."},
    )
    closed_reason = fields.Str(
        allow_none=True, metadata={"description": "The operator's reason, if one closed it."}
    )
    proposal_list = fields.List(
        fields.Nested(ConsoleJobProposalSchema), attribute="proposals", data_key="proposals"
    )
    invites = fields.List(fields.Nested(ConsoleJobInviteSchema))
    audit = fields.List(fields.Nested(ConsoleAuditBriefSchema), metadata={"description": "Newest first."})


class ConsoleJobCloseSchema(Schema):
    reason = fields.Str(
        required=True,
        metadata={
            "description": f"Why (the client reads it); {services.CLOSE_REASON_MIN} to "
            f"{services.CLOSE_REASON_MAX:,} characters.",
            "example": "Asks freelancers to pay a registration fee off the platform.",
        },
    )


# --- templates -----------------------------------------------------------------------


class ConsoleTemplateMilestoneSchema(Schema):
    title = fields.Str(load_default=None, metadata={"example": "Design", "maxLength": 80})
    deliverable = fields.Str(load_default=None, metadata={"example": "Clickable prototype", "maxLength": 200})
    dod = fields.List(
        fields.Str(),
        load_default=list,
        metadata={"description": "Definition-of-Done checklist: 1 to 10 items.", "example": ["Flows agreed"]},
    )
    share_percent = fields.Int(
        strict=True,
        load_default=None,
        metadata={"description": "Whole percent of the budget; the shares add up to 100.", "example": 40},
    )


_TEMPLATE_FIELDS = {
    "name": {"description": "2 to 80 characters of plain text.", "example": "Shopify theme"},
    "summary": {"description": "Up to 300 characters.", "example": "A custom theme for a Shopify store."},
    "scope": {
        "description": "20 to 3,000 characters.",
        "example": "Build a custom Shopify theme from the designs.",
    },
}


class ConsoleJobTemplateInputSchema(Schema):
    name = fields.Str(required=True, metadata=_TEMPLATE_FIELDS["name"])
    summary = fields.Str(load_default="", metadata=_TEMPLATE_FIELDS["summary"])
    scope = fields.Str(required=True, metadata=_TEMPLATE_FIELDS["scope"])
    skills = fields.List(fields.Str(), load_default=list, metadata={"example": ["shopify", "liquid"]})
    budget_type = fields.Str(load_default="fixed", validate=validate.OneOf(BUDGET_TYPES))
    duration = fields.Str(allow_none=True, load_default=None, validate=validate.OneOf(DURATIONS))
    milestones = fields.List(
        fields.Nested(ConsoleTemplateMilestoneSchema),
        required=True,
        metadata={"description": f"1 to {MAX_MILESTONES} milestones whose shares add up to 100."},
    )
    hidden = fields.Bool(load_default=False, metadata={"description": "Hidden templates are never offered."})


class ConsoleJobTemplatePatchSchema(Schema):
    name = fields.Str(metadata=_TEMPLATE_FIELDS["name"])
    summary = fields.Str(metadata=_TEMPLATE_FIELDS["summary"])
    scope = fields.Str(metadata=_TEMPLATE_FIELDS["scope"])
    skills = fields.List(fields.Str())
    budget_type = fields.Str(validate=validate.OneOf(BUDGET_TYPES))
    duration = fields.Str(allow_none=True, validate=validate.OneOf(DURATIONS))
    milestones = fields.List(
        fields.Nested(ConsoleTemplateMilestoneSchema),
        metadata={"description": "The whole list (replaces it); the shares add up to 100."},
    )
    hidden = fields.Bool(metadata={"description": "true: clients posting a job no longer see it."})
    position = fields.Int(
        strict=True,
        validate=validate.Range(min=0, max=10_000),
        metadata={"description": "0 is first; the others shift.", "example": 0},
    )


class ConsoleJobTemplateSchema(Schema):
    id = fields.Int(metadata={"example": 4})
    key = fields.Str(
        metadata={"description": "Unique, from the name when added; never changes.", "example": "rest-api"}
    )
    name = fields.Str()
    summary = fields.Str()
    scope = fields.Str()
    skills = fields.List(fields.Str())
    budget_type = fields.Str(metadata={"enum": list(BUDGET_TYPES)})
    duration = fields.Str(allow_none=True, metadata={"enum": list(DURATIONS)})
    milestones = fields.List(fields.Nested(ConsoleTemplateMilestoneSchema))
    hidden = fields.Bool()
    position = fields.Int(metadata={"description": "The order clients see, 0 first."})
    jobs_posted = fields.Int(metadata={"description": "Jobs posted from this template."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


# --- matching weights ----------------------------------------------------------------


def _weight(term: str, **kwargs) -> fields.Float:
    label, symbol, definition = TERMS[term]
    return fields.Float(
        metadata={"description": f"{symbol}, {label}: {definition}", "example": 0.2}, **kwargs
    )


class ConsoleMatchingWeightsPatchSchema(Schema):
    skill_match = _weight("skill_match")
    portfolio_fit = _weight("portfolio_fit")
    reviews = _weight("reviews")
    delivery_score = _weight("delivery_score")
    availability = _weight("availability")


class ConsoleMatchingWeightsMapSchema(ConsoleMatchingWeightsPatchSchema):
    pass


class ConsoleMatchingTermSchema(Schema):
    term = fields.Str(metadata={"enum": list(MATCHING_TERMS)})
    symbol = fields.Str(metadata={"example": "w1"})
    label = fields.Str(metadata={"example": "Skill match"})
    definition = fields.Str()
    weight = fields.Float(metadata={"description": "As saved."})
    default = fields.Float()
    effective = fields.Float(
        metadata={"description": "The share of the score matching uses (weights / their sum)."}
    )


class ConsoleMatchingSettingsSchema(Schema):
    formula = fields.Str(metadata={"example": "score = w1·skill_match + w2·portfolio_fit + ..."})
    weights = fields.Nested(
        ConsoleMatchingWeightsMapSchema, metadata={"description": "0 to 1 each, as saved."}
    )
    default_weights = fields.Nested(ConsoleMatchingWeightsMapSchema)
    effective_weights = fields.Nested(
        ConsoleMatchingWeightsMapSchema, metadata={"description": "Scaled to sum 1: what ranks."}
    )
    terms = fields.List(fields.Nested(ConsoleMatchingTermSchema))
