"""Handlers the contracts domain runs for the orders domain's events.

``order.completed`` / ``order.cancelled`` ``{"order_id", "order_event_id"}``: when the
order is a contract's engagement (its last milestone paid, an agreed split accepted, an
operator's cancellation), the contract ends and its job is completed
(``services.sync_with_engagement``, idempotent: a contract ended by ``end_contract`` itself
is left as it is).
"""

from __future__ import annotations

from app.contracts import services
from app.events import handles


@handles("order.completed")
@handles("order.cancelled")
def end_with_engagement(event) -> None:
    services.sync_with_engagement((event.payload or {}).get("order_id"))
