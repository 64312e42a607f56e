"""Handlers the payments domain runs for other domains' events.

``order.refunded`` (orders, payload ``{"order_id", "order_event_id",
"refund_minor", "refunds"}``): the orders domain has taken the refund out of
escrow in the ledger; here the money goes back to the buyer at the provider.
The order event names the refund, so a redelivered event refunds nothing twice.
"""

from __future__ import annotations

from app.events import handles
from app.payments import services


@handles("order.refunded")
def refund_at_provider(event) -> None:
    payload = event.payload or {}
    amount = payload.get("refund_minor")
    if not isinstance(amount, int) or amount <= 0:
        return
    services.refund_order_payment(
        payload["order_id"], amount, reference=f"order-event:{payload.get('order_event_id', event.id)}"
    )
