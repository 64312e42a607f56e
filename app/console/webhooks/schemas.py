"""Marshmallow schemas of the console API's webhook endpoints and deliveries. Input schemas
check shapes; the rules (URL and SSRF, known event types, limits) are app/webhooks/services.py's,
so the web console and the API answer alike."""

from __future__ import annotations

from marshmallow import fields, validate

from app.core.schema import Schema
from app.webhooks.models import DELIVERY_STATUSES, DESCRIPTION_MAX, URL_MAX
from app.webhooks.services import OVERLAP_MAX_HOURS

TYPES_DOC = 'Names from `GET /api/v1/webhook-event-types`, or `["*"]` for every type.'


class WebhookEndpointSchema(Schema):
    id = fields.Int(metadata={"example": 3})
    url = fields.Str(metadata={"example": "https://partner.example.com/gigforge/hooks"})
    description = fields.Str(metadata={"example": "Orders into our ERP"})
    event_types = fields.List(fields.Str(), metadata={"example": ["order.paid", "order.completed"]})
    status = fields.Str(metadata={"enum": ["enabled", "disabled"]})
    disabled_reason = fields.Str(
        allow_none=True,
        metadata={
            "enum": ["operator", "failing"],
            "description": "`failing`: disabled after 3 days of failures",
        },
    )
    disabled_at = fields.DateTime(allow_none=True)
    failing_since = fields.DateTime(
        allow_none=True, metadata={"description": "First failure since the last success"}
    )
    consecutive_failures = fields.Int()
    blocked_until = fields.DateTime(
        allow_none=True, metadata={"description": "Deliveries wait until then (back-off after a failure)"}
    )
    last_success_at = fields.DateTime(allow_none=True)
    previous_secret_expires_at = fields.DateTime(
        allow_none=True, metadata={"description": "Until then the rolled secret signs too"}
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Int(metadata={"description": "Bumped by every change (the ETag)"})


class WebhookEndpointCreatedSchema(WebhookEndpointSchema):
    secret = fields.Str(
        metadata={"description": "The signing secret: shown only in this answer", "example": "whsec_..."}
    )


class WebhookEndpointInputSchema(Schema):
    url = fields.Str(
        required=True, validate=validate.Length(max=URL_MAX + 100), metadata={"description": "https://"}
    )
    event_types = fields.List(
        fields.Str(validate=validate.Length(max=100)), required=True, metadata={"description": TYPES_DOC}
    )
    description = fields.Str(load_default="", validate=validate.Length(max=DESCRIPTION_MAX + 100))
    enabled = fields.Bool(load_default=True)


class WebhookEndpointPatchSchema(Schema):
    url = fields.Str(validate=validate.Length(max=URL_MAX + 100))
    event_types = fields.List(
        fields.Str(validate=validate.Length(max=100)), metadata={"description": TYPES_DOC}
    )
    description = fields.Str(validate=validate.Length(max=DESCRIPTION_MAX + 100))
    enabled = fields.Bool(
        metadata={"description": "true re-enables (failure state cleared, waiting deliveries due)"}
    )


class WebhookRollInputSchema(Schema):
    overlap_hours = fields.Int(
        strict=True,
        load_default=24,
        validate=validate.Range(0, OVERLAP_MAX_HOURS),
        metadata={"description": "How long the old secret keeps signing beside the new one (0..168)"},
    )


class WebhookSecretSchema(Schema):
    secret = fields.Str(metadata={"example": "whsec_..."})
    previous_secret_expires_at = fields.DateTime(allow_none=True)


class WebhookDeliverySchema(Schema):
    id = fields.Int()
    endpoint_id = fields.Int()
    endpoint_url = fields.Str()
    event_id = fields.Str(metadata={"example": "evt_42"})
    event_type = fields.Str(metadata={"example": "order.paid"})
    object_key = fields.Str(metadata={"example": "order:42"})
    status = fields.Str(metadata={"enum": list(DELIVERY_STATUSES)})
    attempts = fields.Int()
    next_attempt_at = fields.DateTime(metadata={"description": "When it is due (pending)"})
    last_status_code = fields.Int(allow_none=True)
    last_error = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)


class WebhookAttemptSchema(Schema):
    attempt = fields.Int()
    attempted_at = fields.DateTime()
    duration_ms = fields.Int()
    request_headers = fields.Dict(metadata={"description": "As sent, the signature included"})
    response_status = fields.Int(allow_none=True)
    response_body = fields.Str(allow_none=True, metadata={"description": "The first 2,000 characters"})
    error = fields.Str(allow_none=True, metadata={"example": "read timeout"})
    replay = fields.Bool()


class WebhookDeliveryDetailSchema(WebhookDeliverySchema):
    body = fields.Dict(
        metadata={"description": "The event body sent (byte for byte: compact JSON, sorted keys)"}
    )
    attempt_log = fields.List(
        fields.Nested(WebhookAttemptSchema), data_key="attempt_log", metadata={"description": "Newest first"}
    )


class WebhookDeliveryListArgs(Schema):
    endpoint_id = fields.Int(validate=validate.Range(1, 2**31 - 1))
    status = fields.Str(validate=validate.OneOf(DELIVERY_STATUSES))
    event_type = fields.Str(validate=validate.Length(max=100))
