"""Handlers of the orders domain's own events: tell both sides.

Every ``order.*`` event (payload ``{"order_id", "order_event_id"}``, see
``services``) posts a system message into the order's conversation (created
on first use through messaging's ``start_order_conversation``) and notifies
the people concerned with the matching notification kind: the other side of
the actor, or both sides when the marketplace acted (auto-completion, an
operator) or money moved (paid, completed, cancelled). Steps without a
notification kind of their own (requirements, a declined cancellation, a
refund) get the system message only.

``offer.*`` events (``{"offer_id"}``) post a system message into the direct
conversation the offer was made in.

Each handler runs once per event (the outbox records it); ``notify`` is
additionally de-duplicated by ``order-event:<id>``.
"""

from __future__ import annotations

from app.accounts.models import User
from app.core import money
from app.events import handles
from app.messaging.services import post_system_message, start_order_conversation
from app.notifications.services import notify, path_for
from app.orders.models import CustomOffer, Order, OrderEvent
from tenants.db import db

# event name -> (notification kind or None, notify both sides?)
NOTIFY = {
    "order.placed": ("order_placed", False),
    "order.paid": ("order_paid", True),
    "order.requirements_submitted": (None, False),
    "order.delivered": ("order_delivered", False),
    "order.revision_requested": ("order_revision_requested", False),
    "order.completed": ("order_completed", True),
    "order.cancellation_requested": ("order_cancellation_requested", False),
    "order.cancellation_declined": (None, False),
    "order.cancelled": ("order_cancellation_accepted", True),
    "order.refunded": (None, False),
}


def _name(user_id: int | None, fallback: str = "The marketplace") -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.display_name if user else fallback


def _text(order: Order, row: OrderEvent) -> str:
    who = _name(row.actor_id)
    data = row.data or {}
    amount = lambda key: money.format(data.get(key, 0), order.currency)  # noqa: E731
    total = money.format(order.total_minor, order.currency)
    texts = {
        "placed": f"{who} placed order {order.number}: {order.title} for {total}.",
        "paid": f"Order {order.number} is paid; the money is held in escrow. "
        "Waiting for the buyer's requirements.",
        "requirements_submitted": f"{who} submitted the requirements. The work has started"
        + (f"; delivery is due {order.due_at:%Y-%m-%d %H:%M} UTC." if order.due_at else "."),
        "delivered": f"{who} delivered the order.",
        "revision_requested": f"{who} asked for a revision: {data.get('reason', '')}",
        "completed": f"{who} accepted the delivery. Order {order.number} is complete.",
        "auto_completed": f"Order {order.number} completed automatically after the review period.",
        "cancellation_requested": f"{who} asked to cancel the order ({data.get('reason', '')}); "
        f"refund to the buyer: {amount('refund_minor')}.",
        "cancellation_declined": f"{who} declined the cancellation request.",
        "cancellation_withdrawn": f"{who} withdrew the cancellation request.",
        "cancelled": f"Order {order.number} was cancelled"
        + (" by the marketplace" if data.get("by_operator") else "")
        + (" automatically (the request was not answered)" if data.get("auto") else "")
        + f". Refund to the buyer: {amount('refund_minor')}; "
        f"released to the seller: {amount('released_minor')}.",
        "refunded": f"{amount('refund_minor')} is being refunded to the buyer.",
    }
    return texts.get(row.kind, f"Order {order.number}: {row.kind.replace('_', ' ')}.")


def _handle_order_event(event) -> None:
    payload = event.payload or {}
    order = db.session.get(Order, payload.get("order_id"))
    row = db.session.get(OrderEvent, payload.get("order_event_id"))
    if order is None or row is None:  # gone since: nothing to tell
        return
    conversation = start_order_conversation(order.id, order.buyer_id, order.seller_id)
    post_system_message(conversation.id, _text(order, row)[:4000])
    kind, both = NOTIFY.get(event.name, (None, False))
    if kind is None:
        return
    if both or row.actor_id is None:
        recipients = [order.buyer_id, order.seller_id]
    else:
        recipients = [uid for uid in (order.buyer_id, order.seller_id) if uid != row.actor_id]
    data = {"order_id": order.id, "gig_title": order.title[:80], "actor_name": _name(row.actor_id)}
    url = path_for("orders.order_page", order_id=order.id)
    for user_id in recipients:
        notify(user_id, kind, data, url=url, dedupe_key=f"order-event:{row.id}")


for _event_name in NOTIFY:
    handles(_event_name)(_handle_order_event)


def _offer_text(offer: CustomOffer, event_name: str) -> str:
    price = money.format(offer.total_minor, offer.currency)
    if event_name == "offer.sent":
        return (
            f"{_name(offer.seller_id)} sent a custom offer: {offer.title}, {price}, "
            f"delivery in {offer.delivery_days} day{'s' if offer.delivery_days != 1 else ''}."
        )
    if event_name == "offer.declined":
        return f"{_name(offer.buyer_id)} declined the custom offer “{offer.title}”."
    return f"{_name(offer.seller_id)} withdrew the custom offer “{offer.title}”."


@handles("offer.sent")
@handles("offer.declined")
@handles("offer.withdrawn")
def post_offer_message(event) -> None:
    offer = db.session.get(CustomOffer, (event.payload or {}).get("offer_id"))
    if offer is None:
        return
    post_system_message(offer.conversation_id, _offer_text(offer, event.name))
