"""Messaging rules: who may talk to whom, what a message may hold, unread counts.

Every function acts for the bound tenant, flushes and never commits: the
request, socket event or job that calls it commits once. Broadcasts are queued
with ``on_commit``, so a message reaches sockets only once it is stored (and
never when the transaction rolls back).

Events published (transactional outbox, see ``app.events``):

- ``conversation.created`` ``{"conversation_id"}`` when a conversation is opened;
- ``message.posted`` ``{"conversation_id", "message_id", "sender_id"}`` for every
  message, ``sender_id`` None for system messages;
- ``message.mentioned`` ``{"conversation_id", "message_id", "mentioned_user_id",
  "by_user_id"}`` once per participant (other than the sender) ``@handle``-mentioned in a
  user message (see ``app.messaging.text`` for what counts as a mention).

Threads: a user message may reply to a user message of the same conversation
(``reply_to_id``); serialized messages carry ``reply_to`` (``reply_summaries``).

Socket.IO events emitted after commit (see docs/realtime.md for payloads):
``message`` and ``read_receipt`` to the conversation room; ``unread`` to each
participant's user room.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import distinct_on

from app.accounts.models import User
from app.accounts.services import require_verified, require_verified_id
from app.core import rate_limits
from app.core.after_commit import on_commit
from app.core.domain_errors import DomainError, NotFound
from app.core.ids import parse_id
from app.events import publish, publish_many
from app.messaging.models import Conversation, ConversationParticipant, Message, MessageAttachment
from app.messaging.text import clean_body, mentioned_handles, render_body
from app.orders.services import OfferConversation, OrderNotFound, get_order, offers_in_conversation
from app.realtime import conversation_room, emit_to_room, emit_to_user
from app.settings.models import MarketplaceSettings
from app.storage.uploads import Upload, UploadRefused, check_upload
from tenants.db import current_tenant, db

# Attachment types a message may carry; app.storage.uploads checks each one's content
# (magic bytes, or UTF-8 text).
ATTACHMENT_TYPES = frozenset(
    ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "application/zip", "text/plain")
)


class MessagingError(DomainError):
    """A refused messaging action. ``message`` is safe to show; ``code`` is stable (the API
    answers it as ``errors.code``, the sockets as ``error.code``)."""

    def __init__(
        self,
        message: str,
        field_errors: dict[str, str] | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
    ):
        super().__init__(message, field_errors, code=code, status=status)
        self.extra.setdefault("code", self.code)


class ConversationNotFound(MessagingError, NotFound):
    """Unknown conversation, or one the user is not part of (the two look the same)."""

    def __init__(self, message: str = "No such conversation."):
        super().__init__(message)


def _now() -> datetime:
    return datetime.now(UTC)


_DEFERRED_KEY = "gigforge_messaging_deferred"


def defer_broadcasts() -> None:
    """Collect this transaction's broadcasts instead of sending them from the commit hook.

    A socket handler calls it before acting, commits, gives the database
    connection back to the pool, then calls ``send_deferred_broadcasts``: no
    pooled connection is held while publishing on Redis.
    """
    db.session.info[_DEFERRED_KEY] = []


def take_deferred_broadcasts() -> list:
    """The broadcasts collected since ``defer_broadcasts`` (call after a successful commit)."""
    return db.session.info.pop(_DEFERRED_KEY, None) or []


def send_deferred_broadcasts(broadcasts: list) -> None:
    for fn, args in broadcasts:
        fn(*args)


def after_commit(fn, *args) -> None:
    """``on_commit``, or collected for the socket handler when it deferred broadcasts."""
    deferred = db.session.info.get(_DEFERRED_KEY)
    if deferred is not None:
        deferred.append((fn, args))
    else:
        on_commit(fn, *args)


def _conversation_id(value: Any) -> int:
    number = parse_id(value)
    if number is None:
        raise ConversationNotFound()
    return number


# --- conversations -----------------------------------------------------------------------


def participant_of(user: User, conversation_id: Any) -> ConversationParticipant:
    """The user's participation in a conversation; raises ConversationNotFound otherwise."""
    cid = _conversation_id(conversation_id)
    row = db.session.get(ConversationParticipant, (cid, user.id))
    if row is None:
        raise ConversationNotFound()
    return row


def get_conversation(user: User, conversation_id: Any) -> Conversation:
    """A conversation the user takes part in; raises ConversationNotFound otherwise."""
    return participant_of(user, conversation_id).conversation


def start_direct_conversation(buyer: User, seller: User | int, gig_id: int | None = None) -> Conversation:
    """The direct conversation between two users, created on first contact (flushes).

    One per pair, whoever starts it; ``gig_id`` records the gig it started from
    (kept on the first conversation). Publishes ``conversation.created`` when
    one is created. Raises MessagingError when contacting yourself, an unknown
    or inactive user, or with a gig that is not the seller's.
    """
    if not isinstance(seller, User):
        seller_id = parse_id(seller)
        seller = db.session.get(User, seller_id) if seller_id else None
    if seller is None or not seller.is_active:
        raise MessagingError("This person cannot be contacted.", code="unknown_user", status=404)
    if seller.id == buyer.id:
        raise MessagingError("You cannot start a conversation with yourself.", code="self")
    require_verified(buyer)
    if gig_id is not None:
        from app.gigs.models import Gig

        gig = db.session.get(Gig, parse_id(gig_id)) if parse_id(gig_id) else None
        if gig is None or gig.seller_id != seller.id:
            raise MessagingError("That gig is not this seller's.", code="invalid_gig")
    low, high = sorted((buyer.id, seller.id))
    key = f"{low}:{high}"

    def find() -> Conversation | None:
        return db.session.scalars(
            sa.select(Conversation).where(Conversation.kind == "direct", Conversation.direct_key == key)
        ).first()

    existing = find()
    if existing is not None:
        return existing
    # Two first contacts at once: the unique index lets one insert win; the other
    # rolls back its savepoint and uses the winner's row.
    try:
        with db.session.begin_nested():
            conversation = Conversation(kind="direct", direct_key=key, gig_id=gig_id)
            db.session.add(conversation)
            db.session.flush()
            for user_id in (low, high):
                db.session.add(ConversationParticipant(conversation_id=conversation.id, user_id=user_id))
            db.session.flush()
    except sa.exc.IntegrityError:
        existing = find()
        if existing is None:
            raise
        return existing
    publish("conversation.created", {"conversation_id": conversation.id})
    return conversation


def open_conversation(
    user: User, *, user_id: Any = None, handle: str | None = None, gig_id: Any = None
) -> Conversation:
    """The direct conversation with another member named by ``user_id`` or by ``handle`` (their
    public handle, as profiles show it), or with the seller of ``gig_id`` (the gig recorded on a
    new conversation: "Contact seller" on a gig page). With a member *and* a gig, the gig must be
    that member's (the gig it is about, as before). Flushes; one conversation per pair.

    Raises MessagingError: 422 ``one_recipient`` (neither a member nor a gig, or both a user id
    and a handle), 404 ``unknown_user`` (no active member with that id or handle), 404
    ``unknown_gig`` (no gig you can see), 422 ``self`` (yourself, or your own gig), and as
    ``start_direct_conversation``.
    """
    if user_id is None and handle is None and gig_id is None:
        raise MessagingError(
            "Say who to talk to: user_id, handle or gig_id.",
            {"user_id": "Give one of user_id, handle or gig_id."},
            code="one_recipient",
        )
    if user_id is not None and handle is not None:
        raise MessagingError(
            "Give either user_id or handle, not both.",
            {"handle": "Give either user_id or handle, not both."},
            code="one_recipient",
        )
    gig = None
    if gig_id is not None:
        from app.gigs import services as gigs

        gig = gigs.get_gig(gig_id)
        if gig is None or not gigs.can_view(gig, user):
            raise MessagingError(
                "No such gig.", {"gig_id": "No gig with this id."}, code="unknown_gig", status=404
            )
    if handle is not None:
        from app.accounts.services import get_user_by_handle

        recipient = get_user_by_handle(handle.strip().lstrip("@"))
        if recipient is None:
            raise MessagingError(
                "No member has this handle.",
                {"handle": "No member has this handle."},
                code="unknown_user",
                status=404,
            )
    elif user_id is not None:
        recipient = user_id
    else:
        recipient = gig.seller_id
        if recipient == user.id:
            raise MessagingError(
                "This is your own gig.",
                {"gig_id": "You cannot contact yourself about your own gig."},
                code="self",
            )
    return start_direct_conversation(user, recipient, gig.id if gig is not None else None)


def offers_by_message(
    user: User, summary: ConversationSummary, messages: list[dict], has_more: bool
) -> dict[int | None, list]:
    """The custom offers of a direct conversation, placed in the chat after the last shown
    message sent before each (key None: before the first message shown). Offers older than
    the page's first message are left to the offers page when older messages exist."""
    if summary.conversation.kind != "direct":
        return {}
    placed: dict[int | None, list] = {}
    for offer in offers_in_conversation(user, summary.id):
        stamp = offer.created_at.isoformat()
        before = [m for m in messages if (m["created_at"] or "") <= stamp]
        if not before and has_more:
            continue
        placed.setdefault(before[-1]["id"] if before else None, []).append(offer)
    return placed


def order_conversation_of(user: User, order_id: Any) -> Conversation | None:
    """The conversation of an order ``user`` is a party to, else None (flushes).

    Normally made by the ``order.placed`` handler; made here when that has not run yet."""
    oid = parse_id(order_id)
    if oid is None:
        return None
    try:
        order = get_order(user, oid)
    except OrderNotFound:
        return None
    if order.party(user.id) is None:
        return None
    return start_order_conversation(order.id, order.buyer_id, order.seller_id)


def order_messages_for_operator(order_id: int, limit: int = 200) -> tuple[list[Message], bool]:
    """The latest messages of an order's conversation (oldest first; system ones included)
    and whether older ones exist, read without being a participant: for the operator console
    (a dispute's case view), which checks the operator's role itself. No conversation: none.
    Reading does not mark anything read."""
    oid = parse_id(order_id)
    conversation_id = (
        db.session.scalar(sa.select(Conversation.id).where(Conversation.order_id == oid)) if oid else None
    )
    if conversation_id is None:
        return [], False
    limit = max(1, min(int(limit), 500))
    rows = db.session.scalars(
        sa.select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(limit + 1)
    ).all()
    return list(reversed(rows[:limit])), len(rows) > limit


def start_order_conversation(order_id: int, buyer_id: int, seller_id: int) -> Conversation:
    """The conversation of an order, created with the order (flushes). Idempotent per order."""
    existing = db.session.scalars(sa.select(Conversation).where(Conversation.order_id == order_id)).first()
    if existing is not None:
        return existing
    conversation = Conversation(kind="order", order_id=order_id)
    db.session.add(conversation)
    db.session.flush()
    for user_id in sorted({buyer_id, seller_id}):
        db.session.add(ConversationParticipant(conversation_id=conversation.id, user_id=user_id))
    db.session.flush()
    publish("conversation.created", {"conversation_id": conversation.id})
    return conversation


@dataclass
class ConversationSummary:
    """One inbox row."""

    conversation: Conversation
    others: list[User]
    unread_count: int
    last_message: Message | None
    last_read_message_id: int | None = None
    other_last_read: dict[int, int | None] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.conversation.id

    @property
    def title(self) -> str:
        if not self.others:
            return "Just you"
        return ", ".join(u.display_name for u in self.others)


def _summaries(user: User, rows: list[ConversationParticipant]) -> list[ConversationSummary]:
    ids = [row.conversation_id for row in rows]
    if not ids:
        return []
    members = db.session.execute(
        sa.select(ConversationParticipant, User)
        .join(User, User.id == ConversationParticipant.user_id)
        .where(ConversationParticipant.conversation_id.in_(ids), ConversationParticipant.user_id != user.id)
        .order_by(User.id)
    ).all()
    others: dict[int, list[User]] = {}
    reads: dict[int, dict[int, int | None]] = {}
    for participant, other in members:
        others.setdefault(participant.conversation_id, []).append(other)
        reads.setdefault(participant.conversation_id, {})[other.id] = participant.last_read_message_id
    last = db.session.scalars(
        sa.select(Message)
        .where(Message.conversation_id.in_(ids))
        .ext(distinct_on(Message.conversation_id))
        .order_by(Message.conversation_id, Message.id.desc())
    ).all()
    last_by_conversation = {m.conversation_id: m for m in last}
    return [
        ConversationSummary(
            conversation=row.conversation,
            others=others.get(row.conversation_id, []),
            unread_count=row.unread_count,
            last_message=last_by_conversation.get(row.conversation_id),
            last_read_message_id=row.last_read_message_id,
            other_last_read=reads.get(row.conversation_id, {}),
        )
        for row in rows
    ]


def list_conversations(user: User, *, limit: int = 100) -> list[ConversationSummary]:
    """The user's conversations, most recent activity first, with unread counts."""
    rows = db.session.scalars(
        sa.select(ConversationParticipant)
        .join(Conversation, Conversation.id == ConversationParticipant.conversation_id)
        .where(ConversationParticipant.user_id == user.id)
        .order_by(sa.func.coalesce(Conversation.last_message_at, Conversation.created_at).desc())
        .limit(limit)
    ).all()
    return _summaries(user, rows)


def conversation_summary(user: User, conversation_id: Any) -> ConversationSummary:
    """One conversation as an inbox row; raises ConversationNotFound."""
    return _summaries(user, [participant_of(user, conversation_id)])[0]


def unread_total_query(user: User | sa.BindParameter) -> sa.ScalarSelect:
    """``unread_total`` as a scalar subquery, for a page's header to read with its other counts
    in one statement (``app.notifications.services.header``, which passes a bind parameter: its
    statement is built once)."""
    user_id = user if isinstance(user, sa.BindParameter) else user.id
    return (
        sa.select(sa.func.coalesce(sa.func.sum(ConversationParticipant.unread_count), 0))
        .where(ConversationParticipant.user_id == user_id)
        .scalar_subquery()
    )


def unread_total(user: User) -> int:
    """Unread messages across all of the user's conversations."""
    total = db.session.scalar(sa.select(unread_total_query(user)))
    return int(total or 0)


def _unread_totals_for(user_ids: list[int]) -> dict[int, int]:
    """Unread totals of several users in one query."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        sa.select(ConversationParticipant.user_id, sa.func.sum(ConversationParticipant.unread_count))
        .where(ConversationParticipant.user_id.in_(user_ids))
        .group_by(ConversationParticipant.user_id)
    ).all()
    totals = dict.fromkeys(user_ids, 0)
    totals.update({user_id: int(total or 0) for user_id, total in rows})
    return totals


def history(
    user: User, conversation_id: Any, before_id: Any = None, limit: int | None = None
) -> tuple[list[Message], bool]:
    """A page of messages, oldest first, ending just before ``before_id`` (latest page when None).

    Returns ``(messages, has_more)``. Raises ConversationNotFound.
    """
    participant = participant_of(user, conversation_id)
    page = current_app.config["MESSAGE_HISTORY_PAGE"]
    limit = max(1, min(int(limit or page), 100))
    query = sa.select(Message).where(Message.conversation_id == participant.conversation_id)
    if before_id not in (None, ""):
        before = parse_id(before_id)
        if before is None:
            raise MessagingError("before_id must be a message id.", code="invalid_cursor")
        query = query.where(Message.id < before)
    rows = db.session.scalars(query.order_by(Message.id.desc()).limit(limit + 1)).all()
    has_more = len(rows) > limit
    return list(reversed(rows[:limit])), has_more


# --- messages ------------------------------------------------------------------------------


def _clean_text(body: Any, *, allow_empty: bool) -> str:
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise MessagingError("The message must be text.", code="invalid_body")
    text = clean_body(body)
    limit = current_app.config["MESSAGE_MAX_LENGTH"]
    if len(text) > limit:
        raise MessagingError(f"The message is too long (at most {limit} characters).", code="too_long")
    if not text and not allow_empty:
        raise MessagingError("The message is empty.", code="empty")
    return text


def _claim_attachments(user: User, attachment_ids: Any) -> list[MessageAttachment]:
    if attachment_ids in (None, ""):
        return []
    if not isinstance(attachment_ids, list | tuple):
        raise MessagingError("attachment_ids must be a list of ids.", code="invalid_attachments")
    limit = current_app.config["MESSAGE_MAX_ATTACHMENTS"]
    ids = [parse_id(value) for value in attachment_ids]
    if any(i is None for i in ids) or len(set(ids)) != len(ids):
        raise MessagingError("attachment_ids must be distinct ids.", code="invalid_attachments")
    if len(ids) > limit:
        raise MessagingError(f"At most {limit} attachments per message.", code="too_many_attachments")
    if not ids:
        return []
    rows = db.session.scalars(
        sa.select(MessageAttachment)
        .where(
            MessageAttachment.id.in_(ids),
            MessageAttachment.uploader_id == user.id,
            MessageAttachment.message_id.is_(None),
        )
        .with_for_update()
    ).all()
    if len(rows) != len(ids):
        raise MessagingError("Unknown or already used attachment.", code="invalid_attachments")
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in ids]


def attachment_url(attachment: MessageAttachment) -> str:
    """A signed URL of the file (24 hours), served on the tenant's own host."""
    from app.storage import storage

    return storage.url(attachment.storage_key, expires_in=24 * 3600)


REPLY_EXCERPT_LENGTH = 140


def _excerpt(message: Message) -> str:
    """At most REPLY_EXCERPT_LENGTH characters of the body on one line (or the attachments)."""
    text = " ".join((message.body or "").split())
    if not text and message.attachments:
        text = "Attachment: " + ", ".join(a.filename for a in message.attachments)
    limit = REPLY_EXCERPT_LENGTH
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def reply_summaries(message_ids: Iterable[int]) -> dict[int, dict]:
    """message id -> the ``reply_to`` object of a reply to it: ``{id, sender_id, sender_name,
    excerpt, deleted}`` (``deleted``: its author's account is gone). One query for many."""
    ids = sorted({i for i in message_ids if i})
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Message, User.display_name, User.status)
        .outerjoin(User, User.id == Message.sender_id)
        .where(Message.id.in_(ids))
    ).all()
    return {
        parent.id: {
            "id": parent.id,
            "sender_id": parent.sender_id,
            "sender_name": name if name and status != "deleted" else "Deleted user",
            "excerpt": _excerpt(parent),
            "deleted": parent.sender_id is None or status == "deleted",
        }
        for parent, name, status in rows
    }


def participant_handles(conversation_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """conversation id -> {lower-case handle: user id} of its participants (those with a handle)."""
    ids = sorted(set(conversation_ids))
    result: dict[int, dict[str, int]] = {cid: {} for cid in ids}
    if not ids:
        return result
    rows = db.session.execute(
        sa.select(ConversationParticipant.conversation_id, sa.func.lower(User.handle), User.id)
        .join(User, User.id == ConversationParticipant.user_id)
        .where(ConversationParticipant.conversation_id.in_(ids), User.handle.is_not(None))
    ).all()
    for cid, handle, user_id in rows:
        result[cid][handle] = user_id
    return result


def _mentioned(conversation_id: int, text: str) -> dict[str, int]:
    """{handle: user id} of the participants ``text`` mentions (no query without a mention)."""
    handles = mentioned_handles(text) if "@" in text else []
    if not handles:
        return {}
    rows = db.session.execute(
        sa.select(sa.func.lower(User.handle), User.id)
        .join(ConversationParticipant, ConversationParticipant.user_id == User.id)
        .where(
            ConversationParticipant.conversation_id == conversation_id,
            sa.func.lower(User.handle).in_(handles),
        )
    ).all()
    return dict(rows)


def _publish_mentions(
    conversation_id: int, message_id: int, sender_id: int, mentioned: dict[str, int]
) -> None:
    for user_id in sorted(set(mentioned.values())):
        if user_id == sender_id:
            continue  # mentioning yourself tells no one
        publish(
            "message.mentioned",
            {
                "conversation_id": conversation_id,
                "message_id": message_id,
                "mentioned_user_id": user_id,
                "by_user_id": sender_id,
            },
        )


def serialize_message(
    message: Message,
    *,
    with_urls: bool = True,
    handles: Iterable[str] | None = None,
    replies: dict[int, dict] | None = None,
) -> dict:
    """The JSON shape of a message, for sockets, the API and the web page.

    ``handles`` (the conversation's participants' handles) are highlighted where mentioned,
    ``replies`` (``reply_summaries``) give ``reply_to``; either is looked up when not given
    (``serialize_messages`` does it once for a page)."""
    if handles is None:
        handles = (
            participant_handles([message.conversation_id])[message.conversation_id]
            if message.kind == "user" and "@" in (message.body or "")
            else ()
        )
    if replies is None:
        replies = reply_summaries([message.reply_to_id]) if message.reply_to_id else {}
    attachments = []
    for a in message.attachments:
        item = {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
        if with_urls:
            item["url"] = attachment_url(a)
        attachments.append(item)
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "sender_id": message.sender_id,
        "kind": message.kind,
        "body": message.body,
        "body_html": str(render_body(message.body, handles if message.kind == "user" else None)),
        "created_at": message.created_at.isoformat() if message.created_at else None,
        "attachments": attachments,
        "reply_to": replies.get(message.reply_to_id) if message.reply_to_id else None,
    }


def serialize_messages(messages: list[Message], *, with_urls: bool = True) -> list[dict]:
    """``serialize_message`` for a page of messages: two queries for the lot (handles, parents)."""
    handles = participant_handles({m.conversation_id for m in messages})
    replies = reply_summaries(m.reply_to_id for m in messages if m.reply_to_id)
    return [
        serialize_message(m, with_urls=with_urls, handles=handles[m.conversation_id], replies=replies)
        for m in messages
    ]


def _reply_target(value: Any) -> int | None:
    """The id of ``reply_to_id`` as given (None: no reply); MessagingError when it is no id."""
    if value in (None, ""):
        return None
    number = parse_id(value)
    if number is None:
        raise _bad_reply("reply_to_id must be a message id.")
    return number


def _bad_reply(message: str) -> MessagingError:
    return MessagingError(message, {"reply_to_id": message}, code="invalid_reply")


_NO_PARENT = "You can only reply to a person's message in this conversation."


def _check_reply(conversation_id: int, reply_to_id: int | None) -> None:
    """Refuse a parent that is not a user message of ``conversation_id``."""
    if reply_to_id is None:
        return
    kind = db.session.scalar(
        sa.select(Message.kind).where(Message.id == reply_to_id, Message.conversation_id == conversation_id)
    )
    if kind != "user":
        raise _bad_reply(_NO_PARENT)


def _store(
    conversation_id: int,
    sender_id: int | None,
    kind: str,
    text: str,
    attachments,
    reply_to_id: int | None = None,
) -> Message:
    now = _now()
    message = Message(
        conversation_id=conversation_id,
        sender_id=sender_id,
        kind=kind,
        body=text,
        created_at=now,
        reply_to_id=reply_to_id,
    )
    db.session.add(message)
    db.session.flush()
    for attachment in attachments:
        attachment.message_id = message.id
    db.session.execute(
        sa.update(Conversation).where(Conversation.id == conversation_id).values(last_message_at=now)
    )
    recipients = db.session.execute(
        sa.update(ConversationParticipant)
        .where(
            ConversationParticipant.conversation_id == conversation_id,
            ConversationParticipant.user_id != (sender_id or 0),
        )
        .values(unread_count=ConversationParticipant.unread_count + 1)
        .returning(ConversationParticipant.user_id, ConversationParticipant.unread_count)
    ).all()
    if sender_id is not None:  # the sender has read everything up to their own message
        db.session.execute(
            sa.update(ConversationParticipant)
            .where(
                ConversationParticipant.conversation_id == conversation_id,
                ConversationParticipant.user_id == sender_id,
            )
            .values(last_read_message_id=message.id, unread_count=0)
        )
    db.session.flush()
    db.session.refresh(message, ["attachments"])
    publish(
        "message.posted",
        {"conversation_id": conversation_id, "message_id": message.id, "sender_id": sender_id},
    )
    mentioned = _mentioned(conversation_id, text) if sender_id is not None else {}
    if mentioned:
        _publish_mentions(conversation_id, message.id, sender_id, mentioned)
    tenant_id = current_tenant().id
    payload = serialize_message(message, handles=mentioned)
    totals = _unread_totals_for([user_id for user_id, _count in recipients])
    unread = [
        (user_id, {"conversation_id": conversation_id, "unread": count, "total": totals[user_id]})
        for user_id, count in recipients
    ]
    after_commit(_broadcast_message, tenant_id, payload, unread)
    return message


def _broadcast_message(tenant_id: int, payload: dict, unread: list[tuple[int, dict]]) -> None:
    emit_to_room(conversation_room(tenant_id, payload["conversation_id"]), "message", payload)
    for user_id, counts in unread:
        emit_to_user(tenant_id, user_id, "unread", {**counts, "message_id": payload["id"]})


def post_message(
    user: User, conversation_id: Any, body: Any, attachment_ids: Any = None, reply_to_id: Any = None
) -> Message:
    """Store a message from a participant and queue its broadcast for after commit (flushes).

    ``reply_to_id`` makes it a reply to a user message of the same conversation.
    Publishes ``message.posted``, and ``message.mentioned`` per mentioned participant.
    Raises ConversationNotFound (unknown conversation or not a participant) and
    MessagingError (empty or oversized text, bad attachments, a ``reply_to_id`` that
    is no user message of this conversation: code ``invalid_reply``, field
    ``reply_to_id``; the user's ``RATELIMIT_MESSAGES`` spent: code ``rate_limited``, 429).
    Nothing is stored when it raises.
    """
    if not user.is_active:
        raise MessagingError("Your account cannot send messages.", code="inactive", status=403)
    require_verified(user)
    participant = participant_of(user, conversation_id)
    reply_to = _reply_target(reply_to_id)
    _check_reply(participant.conversation_id, reply_to)
    attachments = _claim_attachments(user, attachment_ids)
    text = _clean_text(body, allow_empty=bool(attachments))
    _spend_message_budget(current_tenant().id, user.id)
    return _store(participant.conversation_id, user.id, "user", text, attachments, reply_to)


def _spend_message_budget(tenant_id: int, user_id: int) -> None:
    """One message of the user's ``RATELIMIT_MESSAGES``; MessagingError ``rate_limited`` (429)
    when it is spent. Every door that posts a user's message comes through here."""
    spent = rate_limits.hit_messages(tenant_id, user_id)
    if spent is not None:
        raise MessagingError(
            f"You are sending messages too fast. Wait {spent.reset} s and try again.",
            code="rate_limited",
            status=429,
        )


def send_message(
    tenant_id: int,
    sender_id: int,
    conversation_id: Any,
    body: Any,
    attachment_ids: Any = None,
    reply_to_id: Any = None,
) -> dict:
    """``post_message`` for the socket hot path: returns the serialised message (flushes).

    The sender is known by id (the socket cached it at connect); being an
    active participant is checked in the same statement that stores the
    message, bumps the others' unread counters, clears the sender's and
    returns every recipient's new totals: one round trip plus the outbox
    insert (a reply's parent is checked in the same statement; its summary and
    the mentioned participants each cost one query, only when there are any).
    Messages with attachments take ``post_message``'s ORM path. Raises what
    ``post_message`` raises (``rate_limited`` too); nothing is stored when it raises.
    """
    if attachment_ids not in (None, "", [], ()):
        sender = db.session.get(User, sender_id)
        if sender is None:
            raise ConversationNotFound()
        return serialize_message(post_message(sender, conversation_id, body, attachment_ids, reply_to_id))
    cid = _conversation_id(conversation_id)
    try:
        reply_to = _reply_target(reply_to_id)
        text = _clean_text(body, allow_empty=False)
    except MessagingError:
        _check_sender(sender_id, cid)  # "not found" wins over bad input, as in post_message
        raise
    _spend_message_budget(tenant_id, sender_id)
    now = _now()
    stored = _insert_message(cid, sender_id, text, now, reply_to)
    if not stored:
        require_verified_id(sender_id)
        _check_sender(sender_id, cid)
        _check_reply(cid, reply_to)
        raise ConversationNotFound()
    message_id = stored[0].message_id
    publish_many(
        "message.posted", [{"conversation_id": cid, "message_id": message_id, "sender_id": sender_id}]
    )
    mentioned = _mentioned(cid, text)
    if mentioned:
        _publish_mentions(cid, message_id, sender_id, mentioned)
    payload = {
        "id": message_id,
        "conversation_id": cid,
        "sender_id": sender_id,
        "kind": "user",
        "body": text,
        "body_html": str(render_body(text, mentioned)),
        "created_at": now.isoformat(),
        "attachments": [],
        "reply_to": reply_summaries([reply_to]).get(reply_to) if reply_to else None,
    }
    unread = [
        (row.user_id, {"conversation_id": cid, "unread": row.unread_count, "total": int(row.total)})
        for row in stored
        if row.user_id is not None
    ]
    after_commit(_broadcast_message, tenant_id, payload, unread)
    return payload


def _check_sender(sender_id: int, conversation_id: int) -> None:
    """Raise the error ``post_message`` would give an inactive sender or a non-participant."""
    status = db.session.scalar(sa.select(User.status).where(User.id == sender_id))
    if status != "active":
        raise MessagingError("Your account cannot send messages.", code="inactive", status=403)
    if db.session.get(ConversationParticipant, (conversation_id, sender_id)) is None:
        raise ConversationNotFound()


def _insert_message(
    conversation_id: int,
    sender_id: int,
    text: str,
    now: datetime,
    reply_to_id: int | None = None,
) -> list:
    """Store a user message in one statement; rows ``(message_id, user_id, unread_count, total)``
    (one per recipient, ``user_id`` None when there is none), or no row when the sender
    is not an active participant with a confirmed address (when the marketplace asks for one,
    ``require_verified_id``) or ``reply_to_id`` is no user message of the conversation."""
    statement = _insert_message_statement(reply_to_id is not None)
    params = {"cid": conversation_id, "sender": sender_id, "body": text, "now": now, "reply_to": reply_to_id}
    return db.session.execute(statement, params).all()


@functools.cache
def _insert_message_statement(with_reply: bool) -> sa.Select:
    """``_insert_message``'s statement, built once per shape (building it cost more than
    running it): every value is a bound parameter, the tables are the tenant's by its
    schema translation."""
    p = ConversationParticipant.__table__
    users = User.__table__
    messages = Message.__table__
    conversations = Conversation.__table__
    cid = sa.bindparam("cid", type_=sa.BigInteger)
    sender_id = sa.bindparam("sender", type_=sa.BigInteger)
    now = sa.bindparam("now", type_=sa.DateTime(timezone=True))
    reply_to = sa.bindparam("reply_to", type_=sa.BigInteger)
    verification_asked = sa.select(MarketplaceSettings.require_verified_email).scalar_subquery()
    sender = (
        sa.select(p.c.conversation_id, p.c.user_id)
        .join(users, users.c.id == p.c.user_id)
        .where(
            p.c.conversation_id == cid,
            p.c.user_id == sender_id,
            users.c.status == "active",
            sa.or_(
                users.c.email_verified_at.is_not(None), sa.func.coalesce(verification_asked, True).is_(False)
            ),
        )
        .cte("sender")
    )
    row = sa.select(
        sender.c.conversation_id,
        sender.c.user_id,
        sa.literal("user"),
        sa.bindparam("body", type_=sa.Text),
        now,
        reply_to,
    )
    if with_reply:
        parent = messages.alias("parent")
        row = row.where(
            sa.exists(
                sa.select(parent.c.id).where(
                    parent.c.id == reply_to,
                    parent.c.conversation_id == cid,
                    parent.c.kind == "user",
                )
            )
        )
    inserted = (
        messages.insert()
        .from_select(["conversation_id", "sender_id", "kind", "body", "created_at", "reply_to_id"], row)
        .returning(messages.c.id, messages.c.conversation_id)
        .cte("inserted")
    )
    touched = (
        conversations.update()
        .where(conversations.c.id == inserted.c.conversation_id)
        .values(last_message_at=now)
        .returning(conversations.c.id)
        .cte("touched")
    )
    is_sender = p.c.user_id == sender_id
    counted = (
        p.update()
        .where(p.c.conversation_id == inserted.c.conversation_id)
        .values(
            unread_count=sa.case((is_sender, 0), else_=p.c.unread_count + 1),
            last_read_message_id=sa.case((is_sender, inserted.c.id), else_=p.c.last_read_message_id),
        )
        .returning(p.c.user_id, p.c.unread_count)
        .cte("counted")
    )
    # The statement's snapshot predates its own updates: the others' totals are
    # their other conversations' counters plus the new counter of this one.
    others = p.alias("others")
    elsewhere = (
        sa.select(sa.func.coalesce(sa.func.sum(others.c.unread_count), 0))
        .where(others.c.user_id == counted.c.user_id, others.c.conversation_id != cid)
        .scalar_subquery()
    )
    return (
        sa.select(
            inserted.c.id.label("message_id"),
            counted.c.user_id,
            counted.c.unread_count,
            (elsewhere + counted.c.unread_count).label("total"),
        )
        .select_from(inserted)
        .outerjoin(counted, counted.c.user_id != sender_id)
        .where(sa.exists(sa.select(touched.c.id)))
    )


def post_system_message(conversation_id: int, body: str) -> Message:
    """A message from the marketplace itself (order events), unread for every participant.

    Callable from workers (the tenant must be bound); broadcast after commit
    through Redis. Raises ConversationNotFound / MessagingError.
    """
    cid = _conversation_id(conversation_id)
    if db.session.get(Conversation, cid) is None:
        raise ConversationNotFound()
    return _store(cid, None, "system", _clean_text(body, allow_empty=False), [])


def mark_read(user: User, conversation_id: Any, message_id: Any = None) -> ConversationParticipant:
    """Mark the conversation read up to ``message_id`` (the latest message when None); flushes.

    Read marks only move forward. Emits ``read_receipt`` to the conversation and
    ``unread`` to the user's sockets after commit. Raises ConversationNotFound,
    or MessagingError for a message that is not in the conversation.
    """
    participant = participant_of(user, conversation_id)
    cid = participant.conversation_id
    if message_id in (None, ""):
        target = db.session.scalar(sa.select(sa.func.max(Message.id)).where(Message.conversation_id == cid))
        if target is None:
            return participant
    else:
        target = parse_id(message_id)
        in_conversation = (
            target is not None
            and db.session.scalar(
                sa.select(Message.id).where(Message.id == target, Message.conversation_id == cid)
            )
            is not None
        )
        if not in_conversation:
            raise MessagingError("No such message in this conversation.", code="unknown_message")
    if participant.last_read_message_id is not None and target <= participant.last_read_message_id:
        return participant
    participant.last_read_message_id = target
    participant.unread_count = db.session.scalar(
        sa.select(sa.func.count(Message.id)).where(
            Message.conversation_id == cid,
            Message.id > target,
            sa.or_(Message.sender_id.is_(None), Message.sender_id != user.id),
        )
    )
    db.session.flush()
    tenant_id = current_tenant().id
    receipt = {"conversation_id": cid, "user_id": user.id, "message_id": target}
    counts = {"conversation_id": cid, "unread": participant.unread_count, "total": unread_total(user)}
    after_commit(_broadcast_read, tenant_id, user.id, receipt, counts)
    return participant


def _broadcast_read(tenant_id: int, user_id: int, receipt: dict, counts: dict) -> None:
    emit_to_room(conversation_room(tenant_id, receipt["conversation_id"]), "read_receipt", receipt)
    emit_to_user(tenant_id, user_id, "unread", counts)


# --- attachments -------------------------------------------------------------------------


def upload_attachment(
    user: User, data: bytes, filename: str | None, content_type: str | None
) -> MessageAttachment:
    """Store an uploaded file for a later message of ``user`` (flushes).

    Raises MessagingError for an empty or oversized file, a type not in
    ATTACHMENT_TYPES, or content that is not what its type claims. Nothing is
    stored when it raises.
    """
    from app.storage import storage

    if not user.is_active:
        raise MessagingError("Your account cannot send messages.", code="inactive", status=403)
    try:
        upload = check_upload(
            Upload(filename or "", content_type or "", data),
            allowed=ATTACHMENT_TYPES,
            max_bytes=current_app.config["MESSAGE_ATTACHMENT_MAX_BYTES"],
        )
    except UploadRefused as exc:
        raise MessagingError(exc.message, code=exc.code) from None
    key = storage.save(
        upload.data, namespace="attachments", filename=upload.filename, content_type=upload.content_type
    )
    attachment = MessageAttachment(
        uploader_id=user.id,
        storage_key=key,
        filename=upload.filename,
        content_type=upload.content_type,
        size=upload.size,
    )
    db.session.add(attachment)
    db.session.flush()
    return attachment


# --- what messaging tells other domains ---------------------------------------------------


def offer_conversation(user: User, conversation_id: Any) -> OfferConversation | None:
    """Registered with orders (``register_conversation_lookup``): the conversation ``user``
    takes part in, described for custom offers; None when there is no such conversation."""
    try:
        conversation = get_conversation(user, conversation_id)
    except MessagingError:
        return None
    return OfferConversation(
        id=conversation.id,
        kind=conversation.kind,
        participant_ids=tuple(p.user_id for p in conversation.participants),
    )


@dataclass(frozen=True)
class PostedMessage:
    """A stored message as other domains see it (notifications tells its recipients)."""

    conversation_id: int
    message_id: int
    body: str
    has_attachments: bool
    participant_ids: tuple[int, ...]
    sender_id: int | None = None
    mentioned_ids: tuple[int, ...] = ()  # participants @mentioned (the sender left out)


def posted_message(message_id: Any) -> PostedMessage | None:
    """The message ``message_id`` with its conversation's participants; None when it is gone."""
    mid = parse_id(message_id)
    message = db.session.get(Message, mid) if mid else None
    if message is None:
        return None
    conversation = db.session.get(Conversation, message.conversation_id)
    mentioned = _mentioned(conversation.id, message.body) if message.kind == "user" else {}
    return PostedMessage(
        conversation_id=conversation.id,
        message_id=message.id,
        body=message.body,
        has_attachments=bool(message.attachments),
        participant_ids=tuple(p.user_id for p in conversation.participants),
        sender_id=message.sender_id,
        mentioned_ids=tuple(sorted({u for u in mentioned.values() if u != message.sender_id})),
    )


def read_up_to(user_id: int, conversation_ids: Iterable[int]) -> dict[int, int | None]:
    """conversation id -> the last message ``user_id`` has read there (for the conversations
    the user takes part in)."""
    return dict(
        db.session.execute(
            sa.select(
                ConversationParticipant.conversation_id, ConversationParticipant.last_read_message_id
            ).where(
                ConversationParticipant.user_id == user_id,
                ConversationParticipant.conversation_id.in_(list(conversation_ids)),
            )
        ).all()
    )


RESPONSE_WINDOW = timedelta(hours=24)


def response_figures(user_ids: list[int], *, since: datetime) -> dict[int, tuple[Decimal | None, int | None]]:
    """How people answer those who write to them first: ``{user_id: (rate %, avg seconds)}``.

    Counted over direct conversations another member started (their first user message) since
    ``since``: the rate is the share answered within 24 hours, the time the average delay of
    the answered ones. Users with no such conversation are left out. Set-based (three queries'
    worth of work in one statement, whatever the number of users).
    """
    if not user_ids:
        return {}
    first = (
        sa.select(Message.conversation_id, Message.sender_id, Message.created_at)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.kind == "direct", Message.kind == "user")
        .order_by(Message.conversation_id, Message.id)
        .ext(distinct_on(Message.conversation_id))
        .subquery("first")
    )
    reply = sa.orm.aliased(Message)
    answered_at = (
        sa.select(sa.func.min(reply.created_at))
        .where(
            reply.conversation_id == first.c.conversation_id,
            reply.sender_id == ConversationParticipant.user_id,
            reply.kind == "user",
            reply.created_at >= first.c.created_at,
        )
        .correlate(first, ConversationParticipant)
        .scalar_subquery()
    )
    asked = (
        sa.select(
            ConversationParticipant.user_id.label("user_id"),
            first.c.created_at.label("asked_at"),
            answered_at.label("answered_at"),
        )
        .join(first, first.c.conversation_id == ConversationParticipant.conversation_id)
        .where(
            ConversationParticipant.user_id.in_(user_ids),
            first.c.sender_id != ConversationParticipant.user_id,
            first.c.created_at >= since,
        )
        .subquery("asked")
    )
    delay = sa.func.extract("epoch", asked.c.answered_at - asked.c.asked_at)
    rows = db.session.execute(
        sa.select(
            asked.c.user_id,
            sa.func.count(),
            sa.func.count().filter(asked.c.answered_at <= asked.c.asked_at + RESPONSE_WINDOW),
            sa.func.avg(delay),
        ).group_by(asked.c.user_id)
    )
    return {
        user_id: (
            (Decimal(100) * responded / total).quantize(Decimal("0.01")) if total else None,
            int(average) if average is not None else None,
        )
        for user_id, total, responded, average in rows
    }


def message_of_conversation(conversation_id: int, message_id: int) -> Message | None:
    """A person's message (not a system one) of conversation ``conversation_id``, else None
    (the disputes domain quotes such a message as evidence)."""
    message = db.session.get(Message, message_id) if isinstance(message_id, int) else None
    if message is None or message.conversation_id != conversation_id or message.kind != "user":
        return None
    return message


def attachments_of_conversation(conversation_id: int) -> list[MessageAttachment]:
    """Every file sent in conversation ``conversation_id``, oldest first, for the workroom's
    Files tab. Each attachment has ``message_id``, ``uploader_id``, ``filename``,
    ``content_type``, ``size``, ``created_at`` and ``message`` (its ``sender_id``,
    ``created_at``); ``attachment_url(a)`` signs a download. Who may see them is the
    caller's check (a party of the contract); uploads not yet sent are not listed."""
    cid = parse_id(conversation_id)
    if cid is None:
        return []
    return list(
        db.session.scalars(
            sa.select(MessageAttachment)
            .join(Message, Message.id == MessageAttachment.message_id)
            .where(Message.conversation_id == cid)
            .options(sa.orm.contains_eager(MessageAttachment.message))
            .order_by(MessageAttachment.id)
        ).all()
    )
