"""Marshmallow schemas of the console API's API keys. The input schema checks the shape; the
rules (known scopes, a name, a future expiry, an active member) are ``app.accounts.api_keys``'s,
so the web page and the API answer alike."""

from __future__ import annotations

from marshmallow import fields, validate

from app.accounts.api_keys import SCOPES
from app.accounts.models import API_KEY_NAME_MAX
from app.core.schema import Schema

SCOPE_NAMES = ", ".join(f"`{scope}`" for scope in SCOPES)


class ApiKeyMemberSchema(Schema):
    id = fields.Int(metadata={"example": 7})
    handle = fields.Str(allow_none=True, metadata={"example": "partner-bot"})
    display_name = fields.Str(metadata={"example": "Partner Bot"})
    role = fields.Str(metadata={"example": "member"})


class ApiKeySchema(Schema):
    id = fields.Int(metadata={"example": 3})
    name = fields.Str(metadata={"example": "Order sync"})
    prefix = fields.Str(
        metadata={"description": "The secret's first 12 characters", "example": "gfk_Q2x9aB7c"}
    )
    scopes = fields.List(fields.Str(), metadata={"example": ["orders:read", "catalog:read"]})
    status = fields.Str(metadata={"description": "`active`, `revoked` or `expired`", "example": "active"})
    acts_as = fields.Nested(ApiKeyMemberSchema, metadata={"description": "The member the key acts as"})
    created_by = fields.Nested(ApiKeyMemberSchema, allow_none=True)
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    last_used_ip = fields.Str(allow_none=True)


class ApiKeyCreatedSchema(ApiKeySchema):
    secret = fields.Str(
        metadata={
            "description": "The key itself, shown this once (only its hash is stored): send it as "
            "`Authorization: Bearer <secret>`",
            "example": "gfk_Q2x9aB7cDdEeFfGgHhIiJjKkLlMmNnOoPpQqRrSsTtU",
        }
    )


class ApiKeyCreateSchema(Schema):
    name = fields.Str(
        required=True,
        validate=validate.Length(max=API_KEY_NAME_MAX),
        metadata={"description": "What uses the key", "example": "Order sync"},
    )
    scopes = fields.List(
        fields.Str(validate=validate.Length(max=40)),
        required=True,
        validate=validate.Length(max=len(SCOPES)),
        metadata={
            "description": f"One or more of: {SCOPE_NAMES} (write includes read)",
            "example": ["orders:read", "orders:write", "catalog:read"],
        },
    )
    user_handle = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=40),
        metadata={"description": "The member the key acts as (default: you)", "example": "partner-bot"},
    )
    expires_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "When the key stops working (at most 10 years ahead; none: never)"},
    )


class ApiKeyCallSchema(Schema):
    id = fields.Int(metadata={"example": 1201})
    at = fields.DateTime()
    method = fields.Str(metadata={"example": "GET"})
    route = fields.Str(metadata={"description": "The URL rule called", "example": "/api/v1/orders"})
    status = fields.Int(metadata={"example": 200})
    ip = fields.Str(allow_none=True)
    request_id = fields.Str(allow_none=True)
