"""Business metrics derived from committed outbox events (docs/observability.md, "Business metrics").

``count_committed`` is a commit listener (``register_commit_listener``, wired in
``app/__init__.py``): it sees the ``(name, payload)`` of every event a transaction committed,
after the commit, so a rolled-back transaction (or savepoint) counts nothing and an event
counts once however often its delivery is retried. It maps event names and payload keys only:
the domains that publish sit above this module and are never imported here.

What each event counts (amounts are minor units, currencies upper-case ISO 4217 codes):

- ``order.placed`` / ``order.completed`` / ``order.cancelled``: ``orders{state}``.
- ``order.paid``: ``orders{paid}``; a gig order's payment (a payload without ``milestone_id``)
  also adds ``amount_minor`` to ``gmv{currency}``. An order worked milestone by milestone
  (offers, contracts) adds to the GMV with each ``escrow.funded`` instead, its first
  milestone's included, so a payment is never counted twice.
- ``escrow.funded``: ``gmv{currency} += amount_minor``.
- ``order.refunded``: ``orders{refunded}`` and ``refunds{currency} += refund_minor`` (the
  buyer's share taken out of escrow; the provider's own ``refund.completed`` that follows is
  the same money, not counted again).
- ``payout.sent``: ``payouts{paid}`` and ``payout_amounts{currency} += amount_minor``.

Payments with the provider (``payments{succeeded,failed}``) and failed payouts publish no
event: ``app/payments`` counts them with ``on_commit``, which has the same guarantees.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from babel.numbers import is_currency

from app.core import metrics

log = logging.getLogger(__name__)

ORDER_STATES = {
    "order.placed": "placed",
    "order.paid": "paid",
    "order.completed": "completed",
    "order.cancelled": "cancelled",
    "order.refunded": "refunded",
}


def currency_label(value) -> str:
    """The upper-case ISO code, or ``other`` for anything that is not a currency (bounded labels)."""
    code = value.strip().upper() if isinstance(value, str) else ""
    return code if len(code) == 3 and is_currency(code) else metrics.OTHER


def _amount(payload: dict, key: str) -> int | None:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _add(counter, payload: dict, key: str, name: str) -> None:
    amount = _amount(payload, key)
    if amount is None:
        log.warning("event %s carries no %s: its amount is not counted", name, key)
        return
    if amount:
        counter.labels(currency_label(payload.get("currency"))).inc(amount)


def count_event(name: str, payload: dict) -> None:
    """Record one committed event in the business metrics (events that are none of theirs: nothing)."""
    state = ORDER_STATES.get(name)
    if state is not None:
        metrics.orders.labels(state).inc()
    if (name == "order.paid" and "milestone_id" not in payload) or name == "escrow.funded":
        _add(metrics.gmv, payload, "amount_minor", name)
    elif name == "order.refunded":
        _add(metrics.refunds, payload, "refund_minor", name)
    elif name == "payout.sent":
        metrics.payouts.labels("paid").inc()
        _add(metrics.payout_amounts, payload, "amount_minor", name)


def count_committed(events: Iterable[tuple[str, dict]]) -> None:
    """The commit listener: every event the transaction committed, in order."""
    for name, payload in events:
        count_event(name, payload or {})
