"""Handlers of other domains' events that post into conversations.

Orders (``app/orders/services.py``; the words come from ``app.orders.announcements``):

- every ``order.*`` event ``{"order_id", "order_event_id"}``: a system message
  telling the step, in the order's conversation (created with the buyer and the
  seller on first use);
- ``offer.sent`` / ``offer.declined`` / ``offer.withdrawn`` ``{"offer_id"}``: a system
  message in the direct conversation the offer was made in.

Each handler runs once per event (``processed_events``); the notifications
domain tells the people concerned in its own handlers.
"""

from __future__ import annotations

from app.events import handles
from app.messaging.services import post_system_message, start_order_conversation
from app.orders.announcements import OFFER_EVENTS, ORDER_EVENTS, offer_step, order_step


def post_order_step(event) -> None:
    payload = event.payload or {}
    step = order_step(payload.get("order_id"), payload.get("order_event_id"))
    if step is None:  # gone since: nothing to tell
        return
    conversation = start_order_conversation(step.order_id, step.buyer_id, step.seller_id)
    post_system_message(conversation.id, step.text[:4000])


def post_offer_step(event) -> None:
    step = offer_step((event.payload or {}).get("offer_id"), event.name)
    if step is not None:
        post_system_message(step.conversation_id, step.text[:4000])


for _name in ORDER_EVENTS:
    handles(_name)(post_order_step)
for _name in OFFER_EVENTS:
    handles(_name)(post_offer_step)
