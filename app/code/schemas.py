"""Marshmallow schemas of the code & CI API (repository links, pull requests with their CI).

Request schemas check shapes; the rules (name syntax per provider, who may link, the contract's
status) are ``app.code.services``', refused with the same 422 shape."""

from __future__ import annotations

from marshmallow import fields, validate

from app.code.models import CI_KINDS, CI_STATUSES, PR_STATES, PROVIDERS
from app.core.schema import Schema


class RepoLinkInputSchema(Schema):
    provider = fields.Str(required=True, validate=validate.OneOf(PROVIDERS), metadata={"example": "github"})
    full_name = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=300),
        metadata={
            "description": "owner/name (GitLab: group/subgroup/name); stored lower-cased.",
            "example": "acme/booking-tool",
        },
    )


class RepoLinkSchema(Schema):
    id = fields.Int()
    contract_id = fields.Int()
    provider = fields.Str(validate=validate.OneOf(PROVIDERS))
    full_name = fields.Str()
    web_url = fields.Str()
    webhook_url = fields.Str(metadata={"description": "Where the provider sends the webhook."})
    created_by = fields.Int(allow_none=True)
    created_at = fields.DateTime()
    last_delivery_at = fields.DateTime(allow_none=True)


class RepoLinkCreatedSchema(RepoLinkSchema):
    secret = fields.Str(
        metadata={
            "description": "The webhook secret (GitHub: Secret; GitLab: Secret token). Only in this "
            "answer: it is stored encrypted and never shown again."
        }
    )
    content_type = fields.Str(metadata={"example": "application/json"})
    events = fields.List(fields.Str(), metadata={"description": "The events to send."})


class CiRunSchema(Schema):
    id = fields.Int()
    kind = fields.Str(validate=validate.OneOf(CI_KINDS))
    name = fields.Str()
    status = fields.Str(validate=validate.OneOf(CI_STATUSES))
    summary = fields.Str()
    url = fields.Str(allow_none=True)
    head_sha = fields.Str()
    updated_at = fields.DateTime()


class CiSummarySchema(Schema):
    status = fields.Str(
        allow_none=True,
        validate=validate.OneOf(CI_STATUSES),
        metadata={"description": "failed > running > cancelled > passed; null without results."},
    )
    text = fields.Str(metadata={"example": "3 checks passed"})
    runs = fields.List(fields.Nested(CiRunSchema))


class PullRequestSchema(Schema):
    id = fields.Int()
    link_id = fields.Int()
    provider = fields.Str(validate=validate.OneOf(PROVIDERS))
    repo = fields.Str(metadata={"description": "The repository's full name."})
    number = fields.Int()
    title = fields.Str()
    url = fields.Str()
    author = fields.Str()
    state = fields.Str(validate=validate.OneOf(PR_STATES))
    head_sha = fields.Str()
    merged_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()
    ci = fields.Nested(CiSummarySchema, metadata={"description": "The latest CI of the head commit."})
