"""Order and offer steps told in words, for the domains that tell people about them.

The messaging domain posts each step into the order's conversation and the
notifications domain notifies the parties; both sit above orders in the domain
graph and read orders only through these functions, never its tables:

- ``order_step(order_id, order_event_id)``: one timeline row, named by the
  payload of every ``order.*`` event (see ``app.orders.services``);
  and every ``milestone.*`` step of the milestone engine (``app.orders.milestones``);
- ``offer_step(offer_id, event_name)``: an ``offer.sent`` / ``offer.declined`` /
  ``offer.withdrawn`` event (payload ``{"offer_id"}``).

Both return None when the row is gone since (nothing to tell).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.accounts.models import User
from app.core import money
from app.orders.models import CustomOffer, Order, OrderEvent
from tenants.db import db

# Every event an order step publishes (payload ``{"order_id", "order_event_id"}``).
ORDER_EVENTS = (
    "order.placed",
    "order.paid",
    "order.requirements_submitted",
    "order.delivered",
    "order.revision_requested",
    "order.completed",
    "order.cancellation_requested",
    "order.cancellation_declined",
    "order.cancelled",
    "order.refunded",
    # The milestone engine's steps (``app.orders.milestones``): the same payload plus
    # ``milestone_id``, a timeline row ``milestone_<step>`` told below.
    "milestone.funding_requested",
    "milestone.funded",
    "milestone.submitted",
    "milestone.rejected",
    "milestone.accepted",
    "milestone.auto_release_reminder",
    "milestone.changed",
    # A dispute (``app.disputes``) locks the money, then settles or gives it back.
    "order.disputed",
    "milestone.disputed",
    "milestone.dispute_resolved",
    "milestone.dispute_dismissed",
)
OFFER_EVENTS = ("offer.sent", "offer.declined", "offer.withdrawn")


@dataclass(frozen=True)
class OrderStep:
    order_id: int
    title: str
    buyer_id: int
    seller_id: int
    order_event_id: int  # the timeline row: a stable key to de-duplicate on
    actor_id: int | None  # None: the marketplace acted (auto-completion, an operator)
    actor_name: str
    text: str  # one message both sides read


@dataclass(frozen=True)
class OfferStep:
    offer_id: int
    conversation_id: int  # the direct conversation the offer was made in
    text: str


def _name(user_id: int | None, fallback: str = "The marketplace") -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.display_name if user else fallback


def _text(order: Order, row: OrderEvent) -> str:
    who = _name(row.actor_id)
    data = row.data or {}
    amount = lambda key: money.format(data.get(key, 0), order.currency)  # noqa: E731
    total = money.format(order.total_minor, order.currency)
    ms = f"{data.get('seq', '')} ({data.get('title', '')})"
    if data.get("dispute_id") and row.kind in ("completed", "cancelled"):
        return (
            f"Order {order.number} is settled by its dispute: {amount('released_minor')} released to the "
            f"seller, {amount('refund_minor')} refunded to the buyer."
        )
    texts = {
        "disputed": f"{who} opened a dispute. The money in escrow is locked until it is resolved.",
        "milestone_disputed": f"{who} opened a dispute about milestone {ms}. Its money in escrow is "
        "locked until the dispute is resolved.",
        "milestone_dispute_resolved": f"The dispute about milestone {ms} is resolved: "
        f"{amount('release_minor')} released to the seller, {amount('refund_minor')} refunded to the buyer.",
        "milestone_dispute_dismissed": f"The dispute about milestone {ms} was dismissed; the milestone "
        "goes on where it was.",
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
        "milestone_funding_requested": f"{who} is funding milestone {ms}.",
        "milestone_funded": f"Milestone {ms} is funded: {amount('amount_minor')} is held in escrow.",
        "milestone_submitted": f"{who} submitted milestone {ms} for review.",
        "milestone_changes_requested": f"{who} asked for changes to milestone {ms}: "
        f"{data.get('feedback', '')}",
        "milestone_accepted": f"{who} accepted milestone {ms}; its payment is released to the seller.",
        "milestone_auto_accepted": f"Milestone {ms} was accepted automatically after the review period; "
        "its payment is released to the seller.",
        "milestone_billed": f"Milestone {ms} was charged to the client and paid to the freelancer.",
        "milestone_changed": {
            "add": f"Milestone {ms} ({amount('amount_minor')}) was added by agreement.",
            "edit": f"Milestone {ms} was changed by agreement: it is now {amount('amount_minor')}.",
            "remove": f"Milestone {ms} was removed by agreement.",
        }.get(data.get("action"), f"Milestone {ms} was changed by agreement."),
        "milestone_auto_release_reminder": f"Milestone {ms} will be accepted and paid automatically on "
        f"{str(data.get('auto_release_at', ''))[:16].replace('T', ' ')} UTC unless the buyer accepts it "
        "or asks for changes.",
    }
    return texts.get(row.kind, f"Order {order.number}: {row.kind.replace('_', ' ')}.")


def order_step(order_id, order_event_id) -> OrderStep | None:
    """The timeline row ``order_event_id`` of order ``order_id``, told in words."""
    order = db.session.get(Order, order_id) if isinstance(order_id, int) else None
    row = db.session.get(OrderEvent, order_event_id) if isinstance(order_event_id, int) else None
    if order is None or row is None or row.order_id != order.id:
        return None
    return OrderStep(
        order_id=order.id,
        title=order.title,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
        order_event_id=row.id,
        actor_id=row.actor_id,
        actor_name=_name(row.actor_id),
        text=_text(order, row),
    )


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


def offer_step(offer_id, event_name: str) -> OfferStep | None:
    """The ``offer.*`` event ``event_name`` of offer ``offer_id``, told in words."""
    offer = db.session.get(CustomOffer, offer_id) if isinstance(offer_id, int) else None
    if offer is None:
        return None
    return OfferStep(
        offer_id=offer.id, conversation_id=offer.conversation_id, text=_offer_text(offer, event_name)
    )
