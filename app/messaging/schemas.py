"""Marshmallow schemas of the messaging API."""

from __future__ import annotations

from marshmallow import fields, validate

from app.core.schema import Schema


class AttachmentSchema(Schema):
    id = fields.Integer(dump_only=True)
    filename = fields.String(dump_only=True)
    content_type = fields.String(dump_only=True)
    size = fields.Integer(dump_only=True, metadata={"description": "Bytes."})
    url = fields.String(dump_only=True, metadata={"description": "Signed URL, valid for 24 hours."})


class ReplyToSchema(Schema):
    id = fields.Integer(metadata={"description": "The message replied to."})
    sender_id = fields.Integer(allow_none=True)
    sender_name = fields.String()
    excerpt = fields.String(metadata={"description": "Its text on one line, at most 140 characters."})
    deleted = fields.Boolean(metadata={"description": "Its author's account is deleted."})


class MessageSchema(Schema):
    """Messages are serialized by ``services.serialize_message``; this documents the shape."""

    id = fields.Integer()
    conversation_id = fields.Integer()
    sender_id = fields.Integer(allow_none=True, metadata={"description": "Null for system messages."})
    kind = fields.String(metadata={"description": "`user` or `system`."})
    body = fields.String(metadata={"description": "Plain text as stored."})
    body_html = fields.String(
        metadata={
            "description": "The body as safe HTML: escaped, links made clickable, line breaks, "
            'participants\' `@handle` mentions in `<span class="mention">`.'
        }
    )
    created_at = fields.String()
    attachments = fields.List(fields.Nested(AttachmentSchema))
    reply_to = fields.Nested(
        ReplyToSchema,
        allow_none=True,
        metadata={"description": "The message this one replies to (null: not a reply, or it is gone)."},
    )


class MessagePageSchema(Schema):
    items = fields.List(fields.Nested(MessageSchema), metadata={"description": "Oldest first."})
    has_more = fields.Boolean()
    next_before_id = fields.Integer(
        allow_none=True, metadata={"description": "Pass as `before_id` for the previous page."}
    )


class HistoryArgsSchema(Schema):
    before_id = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1),
        metadata={"description": "Messages older than this id."},
    )
    limit = fields.Integer(load_default=30, validate=validate.Range(min=1, max=100))


class MessageInputSchema(Schema):
    body = fields.String(load_default="", metadata={"description": "Plain text; links become clickable."})
    attachment_ids = fields.List(
        fields.Integer(strict=True),
        load_default=list,
        metadata={"description": "Ids from `POST /api/v1/attachments`, each usable once."},
    )
    reply_to_id = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        metadata={
            "description": "Reply to this message: a person's message (not a system one) of the same "
            "conversation, else 422 with a `reply_to_id` field error. `@handle` mentions of "
            "participants in `body` notify them."
        },
    )


class ParticipantSchema(Schema):
    id = fields.Integer()
    display_name = fields.String()
    handle = fields.String(allow_none=True)


class ConversationSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "`direct` or `order`."})
    gig_id = fields.Integer(allow_none=True)
    order_id = fields.Integer(allow_none=True)
    created_at = fields.String()
    last_message_at = fields.String(allow_none=True)
    unread_count = fields.Integer()
    participants = fields.List(fields.Nested(ParticipantSchema), metadata={"description": "The others."})
    last_message = fields.Nested(MessageSchema, allow_none=True)


class ConversationCreateSchema(Schema):
    """Who to talk to: a member by ``user_id`` or by ``handle``, or the seller of ``gig_id``."""

    user_id = fields.Integer(load_default=None, strict=True, metadata={"description": "A member's id."})
    handle = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "A member's public handle, as profiles show it (`@` optional).",
            "example": "ada",
        },
    )
    gig_id = fields.Integer(
        load_default=None,
        strict=True,
        metadata={
            "description": "A gig: alone, opens the conversation with its seller; with `user_id` or "
            "`handle`, the gig it is about (that member's)."
        },
    )


class ConversationReadSchema(Schema):
    message_id = fields.Integer(
        load_default=None, strict=True, metadata={"description": "Read up to here; latest when omitted."}
    )


class UnreadSchema(Schema):
    conversation_id = fields.Integer(allow_none=True)
    unread = fields.Integer(allow_none=True)
    total = fields.Integer()


class UploadSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
