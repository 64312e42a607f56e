"""Messaging REST API (bearer tokens): conversations, history, posting, read marks, attachments.

Views are thin: parse, call one service, serialize; the request's unit of work commits.
Refusals from the services (``MessagingError``, a ``DomainError``) carry their status and
a stable ``errors.code``: 404 unknown conversation (also when you are not part of it: the
two are indistinguishable), 422 bad input (empty or oversized text, forbidden file type,
unknown attachment, a `reply_to_id` that is no person's message of the conversation).

History pages backwards with a cursor: ``GET .../messages`` returns the latest
page (oldest first); pass ``next_before_id`` as ``before_id`` for older ones.
Messages posted here are broadcast over Socket.IO after commit, exactly like
messages sent over a socket.
"""

from __future__ import annotations

from flask import current_app, g
from flask.views import MethodView

from app.accounts import tokens
from app.core.api import Blueprint
from app.core.http import LOCATION, created
from app.messaging import services
from app.messaging.schemas import (
    AttachmentSchema,
    ConversationCreateSchema,
    ConversationReadSchema,
    ConversationSchema,
    HistoryArgsSchema,
    MessageInputSchema,
    MessagePageSchema,
    MessageSchema,
    UnreadSchema,
    UploadSchema,
)

blp = Blueprint(
    "messaging_api",
    __name__,
    url_prefix="/api/v1",
    description="Messaging: conversations between buyers and sellers, message history, "
    "posting messages, read marks and attachments. Live updates come over Socket.IO "
    "(connect with `auth={token: <access token>}`; see docs/realtime.md).",
)


def auth_required(view):
    view = blp.alt_response(401, response="UNAUTHORIZED")(view)
    view = blp.doc(security=[{"bearerAuth": []}])(view)
    return tokens.token_auth_required(view)


def conversation_json(summary: services.ConversationSummary, last_message: dict | None = None) -> dict:
    c = summary.conversation
    if last_message is None and summary.last_message is not None:
        last_message = services.serialize_message(summary.last_message)
    return {
        "id": c.id,
        "kind": c.kind,
        "gig_id": c.gig_id,
        "order_id": c.order_id,
        "created_at": c.created_at.isoformat(),
        "last_message_at": c.last_message_at.isoformat() if c.last_message_at else None,
        "unread_count": summary.unread_count,
        "participants": [
            {"id": u.id, "display_name": u.display_name, "handle": u.handle} for u in summary.others
        ],
        "last_message": last_message,
    }


@blp.route("/conversations")
class Conversations(MethodView):
    @auth_required
    @blp.response(200, ConversationSchema(many=True))
    @blp.paginate_list()
    def get(self):
        """Your conversations, most recent first, with unread counts."""
        summaries = services.list_conversations(g.api_user)
        last = services.serialize_messages([s.last_message for s in summaries if s.last_message])
        by_id = {m["conversation_id"]: m for m in last}
        return [conversation_json(s, by_id.get(s.id)) for s in summaries]

    @auth_required
    @blp.arguments(ConversationCreateSchema)
    @blp.response(201, ConversationSchema, headers=LOCATION)
    @blp.alt_response(
        404, response="NOT_FOUND", description="No member with this id or handle, or no such gig"
    )
    @blp.alt_response(
        422,
        response="UNPROCESSABLE_ENTITY",
        description="None of user_id, handle, gig_id, or both user_id and handle (errors.code "
        "`one_recipient`); yourself or your own gig (`self`); a gig that is not that member's",
    )
    def post(self, data):
        """Open (or reopen) your direct conversation with another member.

        Name them by `user_id`, by `handle` (the one their public profile shows), or give a
        `gig_id` alone to talk to the gig's seller (the gig is recorded on a new conversation).
        There is one direct conversation per pair of members: asking again returns the same
        one. `Location`: the conversation.
        """
        conversation = services.open_conversation(
            g.api_user, user_id=data["user_id"], handle=data["handle"], gig_id=data["gig_id"]
        )
        summary = services.conversation_summary(g.api_user, conversation.id)
        return created(
            conversation_json(summary), "messaging_api.ConversationResource", conversation_id=conversation.id
        )


@blp.route("/conversations/unread")
class Unread(MethodView):
    @auth_required
    @blp.response(200, UnreadSchema)
    def get(self):
        """Your unread message count across all conversations."""
        return {"total": services.unread_total(g.api_user)}


@blp.route("/conversations/<int:conversation_id>")
class ConversationResource(MethodView):
    @auth_required
    @blp.response(200, ConversationSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, conversation_id):
        """One of your conversations."""
        return conversation_json(services.conversation_summary(g.api_user, conversation_id))


@blp.route("/conversations/<int:conversation_id>/messages")
class Messages(MethodView):
    @auth_required
    @blp.arguments(HistoryArgsSchema, location="query")
    @blp.response(200, MessagePageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, conversation_id):
        """A page of history, oldest first; `before_id` pages backwards."""
        messages, has_more = services.history(
            g.api_user, conversation_id, before_id=args["before_id"], limit=args["limit"]
        )
        return {
            "items": services.serialize_messages(messages),
            "has_more": has_more,
            "next_before_id": messages[0].id if has_more and messages else None,
        }

    @auth_required
    @blp.arguments(MessageInputSchema)
    @blp.response(201, MessageSchema, headers=LOCATION)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, data, conversation_id):
        """Post a message (text, attachments or both); it is broadcast live after it is stored.

        `reply_to_id` makes it a reply (threads); `@handle` mentions of the conversation's
        participants notify them (`message.mentioned`). `Location`: the conversation's history.
        """
        message = services.post_message(
            g.api_user, conversation_id, data["body"], data["attachment_ids"], data["reply_to_id"]
        )
        body = services.serialize_message(message)
        # A message has no URL of its own: the conversation's history lists it.
        return created(body, "messaging_api.Messages", conversation_id=message.conversation_id)


@blp.route("/conversations/<int:conversation_id>/read")
class ReadMark(MethodView):
    @auth_required
    @blp.arguments(ConversationReadSchema)
    @blp.response(200, UnreadSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, data, conversation_id):
        """Mark the conversation read up to a message (sends a read receipt to the others)."""
        participant = services.mark_read(g.api_user, conversation_id, data["message_id"])
        total = services.unread_total(g.api_user)
        return {
            "conversation_id": participant.conversation_id,
            "unread": participant.unread_count,
            "total": total,
        }


@blp.route("/attachments")
class Attachments(MethodView):
    @auth_required
    @blp.arguments(UploadSchema, location="files")
    @blp.response(201, AttachmentSchema, headers=LOCATION)
    @blp.alt_response(413, response="DEFAULT_ERROR")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, files):
        """Upload a file (multipart field `file`) to reference in a message by its id.

        Allowed: PNG, JPEG, GIF, WebP, PDF, ZIP and UTF-8 text, up to
        MESSAGE_ATTACHMENT_MAX_BYTES (10 MB by default). `Location`: the file's signed URL.
        """
        upload = files["file"]
        data = upload.read(current_app.config["MESSAGE_ATTACHMENT_MAX_BYTES"] + 1)
        attachment = services.upload_attachment(g.api_user, data, upload.filename, upload.mimetype)
        body = {
            "id": attachment.id,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "size": attachment.size,
            "url": services.attachment_url(attachment),
        }
        return body, 201, {"Location": body["url"]}
