"""Marshmallow schemas of the notifications API."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from app.core.schema import Schema
from app.notifications.kinds import KINDS
from app.notifications.services import MAX_IDS_PER_CALL


class StrictBoolean(fields.Boolean):
    """JSON true or false only (marshmallow's Boolean also takes "yes", 1, "off"...)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class NotificationSchema(Schema):
    """Notifications are serialized by ``services.serialize``; this documents the shape."""

    id = fields.Integer(metadata={"example": 31})
    kind = fields.String(metadata={"example": "new_message", "enum": sorted(KINDS)})
    text = fields.String(metadata={"example": "Ada Lovelace: Could you do a blue variant?"})
    url = fields.String(
        allow_none=True,
        metadata={"example": "/inbox/12", "description": "Path on this marketplace's host."},
    )
    data = fields.Dict(
        metadata={
            "example": {
                "conversation_id": 12,
                "message_id": 240,
                "sender_id": 5,
                "actor_name": "Ada Lovelace",
            },
            "description": "IDs of what happened (depend on the kind).",
        }
    )
    read = fields.Boolean(metadata={"example": False})
    read_at = fields.String(allow_none=True, metadata={"example": None})
    created_at = fields.String(metadata={"example": "2025-05-01T09:30:00+00:00"})


class NotificationListArgsSchema(Schema):
    unread = fields.Boolean(load_default=False, metadata={"description": "Only unread notifications."})


class NotificationReadInputSchema(Schema):
    ids = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1)),
        validate=validate.Length(min=1, max=MAX_IDS_PER_CALL),
        metadata={"example": [31, 30], "description": "Notifications to mark read."},
    )
    all = StrictBoolean(metadata={"example": False, "description": "Mark every notification read."})

    @validates_schema
    def _one_of(self, data, **kwargs):
        if bool(data.get("ids")) == bool(data.get("all")):
            raise ValidationError("Give either ids or all=true.", "_schema")


class NotificationReadResultSchema(Schema):
    marked = fields.Integer(metadata={"example": 2, "description": "How many changed from unread to read."})
    unread_count = fields.Integer(metadata={"example": 3})


class NotificationUnreadCountSchema(Schema):
    count = fields.Integer(metadata={"example": 3})


class NotificationPreferenceSchema(Schema):
    kind = fields.String(required=True, metadata={"example": "new_message", "enum": sorted(KINDS)})
    label = fields.String(dump_only=True, metadata={"example": "New messages"})
    category = fields.String(dump_only=True, metadata={"example": "messages"})
    in_app = fields.Boolean(metadata={"example": True})
    email = fields.Boolean(metadata={"example": False})
    is_default = fields.Boolean(dump_only=True, metadata={"example": False})


class NotificationPreferencesSchema(Schema):
    preferences = fields.List(fields.Nested(NotificationPreferenceSchema), required=True)


class NotificationPreferenceChangeSchema(Schema):
    kind = fields.String(required=True)
    in_app = StrictBoolean()
    email = StrictBoolean()


class NotificationPreferencesInputSchema(Schema):
    preferences = fields.List(
        fields.Nested(NotificationPreferenceChangeSchema),
        required=True,
        validate=validate.Length(min=1, max=len(KINDS)),
        metadata={"example": [{"kind": "new_message", "email": False}]},
    )
