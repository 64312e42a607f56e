"""Inbox web pages: the conversation list, a live conversation, "Contact seller".

Live updates come over Socket.IO (``static/js/chat.js``); the form on the
conversation page also works without JavaScript (POST, then redirect). The request's unit
of work commits; a refusal answered with a redirect is rolled back with ``abandon()``.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.core import unit_of_work
from app.messaging import services
from app.messaging.text import render_body
from tenants.db import current_tenant_or_none

bp = Blueprint("messaging", __name__, template_folder="templates")


@bp.app_context_processor
def _inbox_badge():
    def inbox_unread() -> int:
        if current_tenant_or_none() is None or not current_user.is_authenticated:
            return 0
        return services.unread_total(current_user)

    return {"inbox_unread": inbox_unread, "render_message_body": render_body}


@bp.get("/inbox")
@login_required
def inbox():
    return render_template("messaging/inbox.html", conversations=services.list_conversations(current_user))


@bp.get("/inbox/<int:conversation_id>")
@login_required
def conversation(conversation_id: int):
    try:
        summary = services.conversation_summary(current_user, conversation_id)
        messages, has_more = services.history(current_user, conversation_id)
    except services.MessagingError:
        abort(404)
    serialized = [services.serialize_message(m) for m in messages]
    return render_template(
        "messaging/conversation.html",
        summary=summary,
        messages=serialized,
        offers_after=services.offers_by_message(current_user, summary, serialized, has_more),
        has_more=has_more,
        max_length=current_app.config["MESSAGE_MAX_LENGTH"],
    )


@bp.get("/inbox/<int:conversation_id>/messages")
@login_required
def history(conversation_id: int):
    """Older messages for the page's "Load older" button (JSON, same shape as the API)."""
    try:
        messages, has_more = services.history(current_user, conversation_id, request.args.get("before_id"))
    except services.MessagingError as exc:
        return jsonify({"code": exc.code, "message": exc.message}), exc.status
    return jsonify(
        {
            "items": [services.serialize_message(m) for m in messages],
            "has_more": has_more,
            "next_before_id": messages[0].id if has_more and messages else None,
        }
    )


@bp.post("/inbox/<int:conversation_id>/messages")
@login_required
def post_message(conversation_id: int):
    """Form fallback for browsers without JavaScript."""
    try:
        services.post_message(current_user, conversation_id, request.form.get("body", ""))
    except services.ConversationNotFound:
        abort(404)
    except services.MessagingError as exc:
        unit_of_work.abandon()  # the answer is a redirect, which would otherwise commit
        flash(exc.message, "error")
        return redirect(url_for("messaging.conversation", conversation_id=conversation_id))
    return redirect(url_for("messaging.conversation", conversation_id=conversation_id))


@bp.get("/orders/<int:order_id>/conversation")
@login_required
def order_conversation(order_id: int):
    """The order page's "conversation" link: the order's own conversation (404 for others)."""
    conversation = services.order_conversation_of(current_user, order_id)
    if conversation is None:
        abort(404)
    return redirect(url_for("messaging.conversation", conversation_id=conversation.id))


@bp.post("/inbox/attachments")
@login_required
def upload_attachment():
    """Upload one file for the next message (JSON; the page sends the CSRF token in a header)."""
    upload = request.files.get("file")
    if upload is None:
        return jsonify({"code": "no_file", "message": "Choose a file to attach."}), 422
    data = upload.read(current_app.config["MESSAGE_ATTACHMENT_MAX_BYTES"] + 1)
    try:
        attachment = services.upload_attachment(current_user, data, upload.filename, upload.mimetype)
    except services.MessagingError as exc:
        return jsonify({"code": exc.code, "message": exc.message}), exc.status
    return jsonify({"id": attachment.id, "filename": attachment.filename, "size": attachment.size}), 201


@bp.post("/contact/<int:user_id>")
@login_required
def contact(user_id: int):
    """ "Contact seller" (gig pages and profiles): open the direct conversation and go there."""
    gig_id = services.parse_id(request.form.get("gig_id")) if request.form.get("gig_id") else None
    try:
        conversation = services.start_direct_conversation(current_user, user_id, gig_id)
    except services.MessagingError as exc:
        if exc.status == 404:
            abort(404)
        unit_of_work.abandon()  # the answer is a redirect, which would otherwise commit
        flash(exc.message, "error")
        return redirect(url_for("messaging.inbox"))
    return redirect(url_for("messaging.conversation", conversation_id=conversation.id))
