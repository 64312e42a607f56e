"""Handlers of other domains' events that notify people.

``message.posted`` (messaging) ``{"conversation_id", "message_id", "sender_id"}``:
every participant but the sender gets a ``new_message`` notification. System
messages (``sender_id`` None) notify no one here: they tell an order step, whose
own event notifies with its own kind (below).

Orders (``app/orders/services.py``; who acted comes from ``app.orders.announcements``):
every ``order.*`` event ``{"order_id", "order_event_id"}`` with a notification kind of
its own (``ORDER_NOTIFICATIONS``) notifies the other side of the actor, or both sides
when the marketplace acted (auto-completion, an operator) or money moved (paid,
completed, cancelled). Steps without a kind (requirements, a declined cancellation, a
refund) are told in the order's conversation only (``app.messaging.events``).
De-duplicated by ``order-event:<id>``.

Gig moderation (``app/gigs/moderation.py``, ``app/gigs/services.py``):

- ``gig.approved`` ``{"gig_id"}``: the seller gets ``gig_approved``;
- ``gig.rejected`` ``{"gig_id", "reason"}``: the seller gets ``gig_rejected`` with the reason;
- ``gig.paused`` ``{"gig_id", "by_operator": true, "reason"}``: the seller gets
  ``gig_paused_by_operator`` (a pause by the seller themself notifies no one);
- ``gig.submitted`` ``{"gig_id"}``: every active admin and moderator (but the seller)
  gets ``gig_submitted``, linking to the gig's review page in the console.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.events import handles
from app.gigs.models import Gig
from app.messaging.services import posted_message, read_up_to
from app.notifications.models import Notification
from app.notifications.services import notify, path_for, register_seen_check
from app.orders.announcements import order_step
from tenants.db import db


@handles("message.posted")
def notify_message_recipients(event) -> None:
    payload = event.payload or {}
    sender_id = payload.get("sender_id")
    if sender_id is None:
        return
    message = posted_message(payload.get("message_id"))
    if message is None:  # deleted since: nothing to tell
        return
    sender = db.session.get(User, sender_id)
    snippet = message.body or ("sent an attachment" if message.has_attachments else "")
    data = {
        "conversation_id": message.conversation_id,
        "message_id": message.message_id,
        "sender_id": sender_id,
        "actor_name": sender.display_name if sender else "Someone",
        "snippet": snippet[:200],
    }
    url = path_for("messaging.conversation", conversation_id=message.conversation_id)
    for user_id in message.participant_ids:
        if user_id == sender_id:
            continue
        notify(user_id, "new_message", data, url=url, dedupe_key=f"message:{message.message_id}")


@register_seen_check("new_message")
def _messages_already_read(user_id: int, notifications: list[Notification]) -> set[int]:
    """Messages the user read in the conversation itself need no email."""
    read = read_up_to(user_id, {int(n.data["conversation_id"]) for n in notifications})
    return {
        n.id
        for n in notifications
        if (read.get(int(n.data["conversation_id"])) or 0) >= int(n.data["message_id"])
    }


@handles("account.password_changed")
def notify_password_changed(event) -> None:
    """The account's owner sees the security notice in the bell too (the email is sent by accounts)."""
    notify(int(event.payload["user_id"]), "password_changed", {}, dedupe_key=f"event:{event.id}")


@handles("account.email_changed")
def notify_email_changed(event) -> None:
    user = db.session.get(User, int(event.payload["user_id"]))
    if user is not None:
        notify(user.id, "email_changed", {"new_email": user.email}, dedupe_key=f"event:{event.id}")


# --- gig moderation --------------------------------------------------------------------


def _gig_of(event) -> Gig | None:
    gig_id = (event.payload or {}).get("gig_id")
    return db.session.get(Gig, gig_id) if isinstance(gig_id, int) else None


def _tell_seller(event, kind: str, url: str | None = None) -> None:
    gig = _gig_of(event)
    if gig is None:  # gone since: nothing to tell
        return
    reason = (event.payload or {}).get("reason") or gig.moderation_reason or ""
    data = {"gig_id": gig.id, "gig_title": gig.title, "reason": reason[:1000]}
    url = url or path_for("gigs.edit_gig", gig_id=gig.id)
    notify(gig.seller_id, kind, data, url=url, dedupe_key=f"event:{event.id}")


@handles("gig.approved")
def notify_gig_approved(event) -> None:
    gig = _gig_of(event)
    if gig is not None:
        _tell_seller(event, "gig_approved", path_for("gigs.gig_page", slug=gig.slug))


@handles("gig.rejected")
def notify_gig_rejected(event) -> None:
    _tell_seller(event, "gig_rejected")


@handles("gig.paused")
def notify_gig_paused_by_operator(event) -> None:
    if (event.payload or {}).get("by_operator"):
        _tell_seller(event, "gig_paused_by_operator")


@handles("gig.submitted")
def notify_operators_of_submission(event) -> None:
    gig = _gig_of(event)
    if gig is None or gig.status != "pending_approval":  # decided (or withdrawn) already
        return
    operators = db.session.scalars(
        sa.select(User.id).where(
            User.role.in_(("admin", "moderator")), User.status == "active", User.id != gig.seller_id
        )
    ).all()
    data = {"gig_id": gig.id, "gig_title": gig.title, "actor_name": gig.seller.display_name}
    url = path_for("console.gig", gig_id=gig.id)
    for operator_id in operators:
        notify(operator_id, "gig_submitted", data, url=url, dedupe_key=f"event:{event.id}")


# --- orders ---------------------------------------------------------------------------

# order event -> (notification kind, notify both sides?)
ORDER_NOTIFICATIONS = {
    "order.placed": ("order_placed", False),
    "order.paid": ("order_paid", True),
    "order.delivered": ("order_delivered", False),
    "order.revision_requested": ("order_revision_requested", False),
    "order.completed": ("order_completed", True),
    "order.cancellation_requested": ("order_cancellation_requested", False),
    "order.cancelled": ("order_cancellation_accepted", True),
}


def notify_order_step(event) -> None:
    payload = event.payload or {}
    step = order_step(payload.get("order_id"), payload.get("order_event_id"))
    if step is None:  # gone since: nothing to tell
        return
    kind, both = ORDER_NOTIFICATIONS[event.name]
    if both or step.actor_id is None:
        recipients = [step.buyer_id, step.seller_id]
    else:
        recipients = [uid for uid in (step.buyer_id, step.seller_id) if uid != step.actor_id]
    data = {"order_id": step.order_id, "gig_title": step.title[:80], "actor_name": step.actor_name}
    url = path_for("orders.order_page", order_id=step.order_id)
    for user_id in recipients:
        notify(user_id, kind, data, url=url, dedupe_key=f"order-event:{step.order_event_id}")


for _event_name in ORDER_NOTIFICATIONS:
    handles(_event_name)(notify_order_step)
