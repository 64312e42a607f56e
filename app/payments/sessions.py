"""Payment sessions: paying for an order or one milestone through the API alone.

A session is the order's (or the milestone's) ``Payment`` seen by its buyer: opening one is the
web checkout's ``open_checkout`` (the same payment row, reopened on every call, a declined card
retried on it), and it says how to pay with the tenant's provider:

- **Stripe**: the PaymentIntent's ``client_secret`` and the tenant's ``publishable_key`` for
  Stripe.js (``stripe.confirmCardPayment``); the Stripe webhook ``payment_intent.succeeded``
  marks the order paid, exactly as after the browser checkout;
- **sandbox** (test mode): ``confirm`` with a test card, the web checkout's rules
  (``services.sandbox_pay``): 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined,
  4000 0025 0000 3155 asks for a second step (``authenticate``).

Money moves only in ``services.confirm_payment`` (ledger references ``payment-<id>``), so a
replayed confirm, the web page and the API together pay once. Only the order's buyer may open,
see or confirm its session: anyone else gets 404, as for an order they do not take part in
(the seller: 403, the other side's step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.core.ids import parse_id
from app.orders import milestones
from app.orders import services as orders
from app.orders.models import Order
from app.payments import services
from app.payments.models import Payment
from app.payments.services import PaymentError
from tenants.db import db


@dataclass(frozen=True)
class Session:
    """What the API answers for a payment session."""

    payment: Payment
    order: Order
    publishable_key: str | None

    @property
    def provider(self) -> str:
        return self.payment.provider


def _buyers_order(buyer: User, order_id: Any) -> Order:
    order = orders.get_order(buyer, order_id)  # OrderNotFound (404) for strangers
    if order.buyer_id != buyer.id:
        raise orders.OrderForbidden("Only the buyer pays for an order.")
    return order


def _session(payment: Payment, order: Order) -> Session:
    key = services._settings().stripe_publishable_key if payment.provider == "stripe" else None
    return Session(payment=payment, order=order, publishable_key=key)


def open_order_session(buyer: User, order_id: Any) -> Session:
    """Open (or reopen) the payment of the buyer's order awaiting payment; flushes.

    For an order worked milestone by milestone this funds its first milestone (the web
    checkout does the same). Raises OrderNotFound (404, not the buyer's... or nobody's),
    OrderForbidden (403, the seller), PaymentError 409 (not awaiting payment, already paid),
    503 (the provider is not set up or unreachable), 502 (the provider refused).
    """
    order = _buyers_order(buyer, order_id)
    opened = services.open_checkout(order)
    return _session(db.session.get(Payment, opened.payment_id), order)


def open_milestone_session(buyer: User, order_id: Any, milestone_id: Any) -> Session:
    """Fund one milestone: its funding is requested (``planned -> funding_required``, as the
    web's Fund button) and its own payment opened (or reopened); flushes. Raises as
    ``open_order_session`` and ``milestones.request_funding`` (404 no such milestone, 409
    already funded or the order finished)."""
    order = _buyers_order(buyer, order_id)
    milestone = milestones.request_funding(buyer, order.id, milestone_id)
    opened = services.open_checkout(order, milestone)
    return _session(db.session.get(Payment, opened.payment_id), order)


def _payment_of(buyer: User, order_id: Any, milestone_id: Any = None) -> tuple[Payment, Order]:
    order = _buyers_order(buyer, order_id)
    query = sa.select(Payment).where(Payment.order_id == order.id)
    if milestone_id is None:
        query = query.where(Payment.milestone_id.is_(None))
    else:
        mid = parse_id(milestone_id)
        if not any(m.id == mid for m in order.milestones):
            raise orders.OrderNotFound({"milestone_id": "This order has no such milestone."})
        query = query.where(Payment.milestone_id == mid)
    payment = db.session.scalars(query).first()
    if payment is None:
        raise PaymentError(404, "No payment session yet: open one first (POST .../payment-session).")
    return payment, order


def get_session(buyer: User, order_id: Any, milestone_id: Any = None) -> Session:
    """The buyer's payment session of the order (or of one milestone). Raises 404 when none
    was opened (or the order is not the buyer's)."""
    payment, order = _payment_of(buyer, order_id, milestone_id)
    return _session(payment, order)


def _sandbox_payment(buyer: User, order_id: Any, milestone_id: Any) -> tuple[Payment, Order]:
    payment, order = _payment_of(buyer, order_id, milestone_id)
    if payment.provider != "sandbox":
        raise PaymentError(
            409,
            "This payment is made with Stripe: confirm it with Stripe.js and the session's client_secret.",
            code="not_sandbox",
        )
    return payment, order


def confirm_sandbox(
    buyer: User, order_id: Any, milestone_id: Any, card_number: str, expiry: str, cvc: str
) -> services.CardResult:
    """Pay the session with a test card (``services.sandbox_pay``: the web checkout's rules).

    Returns the CardResult (``succeeded``, ``declined`` — the attempt recorded, the caller keeps
    it — or ``requires_action``). A paid session answers ``succeeded`` again and moves nothing.
    Raises PaymentError 404 (no session), 409 (a Stripe session, or the order no longer awaits
    payment), 422 (bad card details, nothing recorded).
    """
    services.validate_test_card(card_number, expiry, cvc)  # bad details: 422 before any lookup
    payment, _order = _sandbox_payment(buyer, order_id, milestone_id)
    return services.sandbox_pay(buyer, payment.id, card_number, expiry, cvc)


def authenticate_sandbox(buyer: User, order_id: Any, milestone_id: Any, approve: bool) -> services.CardResult:
    """The second step of 4000 0025 0000 3155 (``services.sandbox_authenticate``): approve pays,
    refuse fails the attempt. Raises PaymentError 404, 409 (no second step pending)."""
    payment, _order = _sandbox_payment(buyer, order_id, milestone_id)
    return services.sandbox_authenticate(buyer, payment.id, approve)
