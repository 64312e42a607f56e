"""Inbox web pages: the conversation list, a live conversation, "Contact seller".

Live updates come over Socket.IO (``static/js/chat.js``); the form on the
conversation page also works without JavaScript (POST, then redirect). The request's unit
of work commits; a refusal answered with a redirect is rolled back with ``abandon()``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts.views import safe_next
from app.core import unit_of_work
from app.messaging import services
from app.messaging.text import render_body

bp = Blueprint("messaging", __name__, template_folder="templates")


@bp.app_context_processor
def _message_helpers():
    # The header's inbox badge (``inbox_unread``) comes from app.notifications.views: one
    # statement reads it with the bell's count and dropdown.
    return {"render_message_body": render_body}


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
    return render_template("messaging/conversation.html", **conversation_context(summary, messages, has_more))


def conversation_context(
    summary: services.ConversationSummary,
    messages,
    has_more: bool,
    *,
    embedded: bool = False,
    next_url: str | None = None,
) -> dict:
    """What ``messaging/_conversation.html`` needs; a page that embeds the conversation (the
    contract workroom) renders it with ``{% include "messaging/_conversation.html" %}`` and
    this context (``summary`` and ``messages`` from ``services.conversation_summary`` and
    ``services.history``; ``embedded=True``; ``next_url``: where the no-JavaScript form
    returns, a local path)."""
    serialized = services.serialize_messages(messages)
    participants = [u for u in summary.others if u.handle and u.is_active]
    names = {str(u.id): u.display_name for u in summary.others}
    names[str(current_user.id)] = "You"

    def reply_url(message_id: int | None) -> str:
        args = request.args.to_dict()
        args.pop("reply_to", None)
        if message_id:
            args["reply_to"] = message_id
        return request.path + (f"?{urlencode(args)}" if args else "")

    return {
        "summary": summary,
        "messages": serialized,
        "offers_after": services.offers_by_message(current_user, summary, serialized, has_more),
        "has_more": has_more,
        "max_length": current_app.config["MESSAGE_MAX_LENGTH"],
        "mention_candidates": [{"handle": u.handle, "name": u.display_name} for u in participants],
        "sender_names": names,
        "reply_to": services.parse_id(request.args.get("reply_to")),
        "reply_url": reply_url,
        "embedded": embedded,
        "next_url": safe_next(next_url) if next_url else None,
    }


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
            "items": services.serialize_messages(messages),
            "has_more": has_more,
            "next_before_id": messages[0].id if has_more and messages else None,
        }
    )


@bp.post("/inbox/<int:conversation_id>/messages")
@login_required
def post_message(conversation_id: int):
    """Form fallback for browsers without JavaScript (``reply_to_id`` from the Reply link;
    ``next``: the embedding page to return to, a local path)."""
    back = safe_next(request.form.get("next")) or url_for(
        "messaging.conversation", conversation_id=conversation_id
    )
    try:
        services.post_message(
            current_user,
            conversation_id,
            request.form.get("body", ""),
            reply_to_id=request.form.get("reply_to_id") or None,
        )
    except services.ConversationNotFound:
        abort(404)
    except services.MessagingError as exc:
        unit_of_work.abandon()  # the answer is a redirect, which would otherwise commit
        flash(exc.message, "error")
        return redirect(back)
    return redirect(back)


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
