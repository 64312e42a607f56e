"""Event handlers of the reviews domain.

``order.completed`` ``{"order_id", "order_event_id"}`` (orders): open the order's review window
(idempotent: a window opens once, so the event may arrive twice or after the first review).
"""

from __future__ import annotations

from app.events import handles
from app.reviews import services


@handles("order.completed")
def order_completed(event) -> None:
    order_id = event.payload.get("order_id")
    if isinstance(order_id, int):
        services.open_window(order_id)
