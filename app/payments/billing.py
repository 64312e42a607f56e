"""Saved billing methods and charges made without the client (issue #17: hourly contracts).

A client saves a card once (``save_sandbox_card`` with a test card in the sandbox; Stripe: a
SetupIntent confirmed with Stripe.js, then ``complete_stripe_setup``). ``charge_saved`` charges
it for one milestone of an engagement (an approved hourly week): a ``Payment`` row for the
milestone like any milestone's checkout, charged off-session with the idempotency key
``payment_intent:<payment id>``; success confirms it (``confirm_payment``: the milestone is
funded in escrow), failure records the attempt and the reason. Flushes, never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.accounts.models import User
from app.orders.models import Milestone, Order
from app.payments.models import BillingMethod, Payment
from app.payments.providers import (
    ProviderError,
    idempotency_key,
    sandbox_payment_ref,
    transfer_group_for_order,
)
from app.payments.services import (
    TEST_CARDS,
    PaymentError,
    _lock_payment,
    _now,
    _provider,
    confirm_payment,
    fail_payment,
    validate_test_card,
)
from tenants.db import db

NO_METHOD_MESSAGE = "No saved card: add one on the billing page."
AUTH_REQUIRED_MESSAGE = (
    "The bank asked the cardholder to confirm this charge: update the card on the billing page and retry."
)


@dataclass(frozen=True)
class ChargeResult:
    outcome: str  # succeeded / failed / pending
    payment: Payment | None
    reason: str | None = None


def billing_method_of(user_id: int) -> BillingMethod | None:
    """The user's saved card with the marketplace's current provider, or None."""
    return db.session.scalar(
        sa.select(BillingMethod).where(
            BillingMethod.user_id == user_id, BillingMethod.provider == _provider().name
        )
    )


def _expiry(expiry: str) -> tuple[int, int]:
    month, year = (int(x) for x in expiry.replace(" ", "").split("/"))
    return month, year + 2000 if year < 100 else year


def _upsert(user: User, provider: str, **values) -> BillingMethod:
    db.session.execute(
        pg_insert(BillingMethod)
        .values(user_id=user.id, provider=provider, **values)
        .on_conflict_do_update(index_elements=["user_id", "provider"], set_={**values, "updated_at": _now()})
    )
    return db.session.scalars(
        sa.select(BillingMethod)
        .where(BillingMethod.user_id == user.id, BillingMethod.provider == provider)
        .execution_options(populate_existing=True)
    ).one()


def save_sandbox_card(
    user: User, card_number: str, expiry: str, cvc: str, *, today: date | None = None
) -> BillingMethod:
    """Save a sandbox test card for charges without the user (replacing the one saved);
    flushes. Only the test card's behaviour, last four digits and expiry are kept. Raises
    PaymentError 422 (card details, field errors), 409 (the marketplace uses Stripe)."""
    if _provider().name != "sandbox":
        raise PaymentError(409, "This marketplace takes cards through Stripe: use the card form.")
    digits = validate_test_card(card_number, expiry, cvc, today)
    month, year = _expiry(expiry)
    return _upsert(
        user,
        "sandbox",
        brand="visa",
        last4=digits[-4:],
        exp_month=month,
        exp_year=year,
        sandbox_behaviour=TEST_CARDS[digits],
        customer_ref=None,
        payment_method_ref=None,
    )


def remove_billing_method(user: User) -> bool:
    """Forget the user's saved card; flushes. True when there was one."""
    method = billing_method_of(user.id)
    if method is None:
        return False
    db.session.delete(method)
    db.session.flush()
    return True


def start_stripe_setup(user: User) -> tuple[str, str | None]:
    """(SetupIntent client secret, publishable key) for Stripe.js to save a card; flushes the
    user's Customer reference. Raises PaymentError 409 (not Stripe), 503 (Stripe failed)."""
    provider = _provider()
    if provider.name != "stripe":
        raise PaymentError(409, "This marketplace's test mode saves cards on the billing page.")
    method = db.session.scalar(
        sa.select(BillingMethod).where(BillingMethod.user_id == user.id, BillingMethod.provider == "stripe")
    )
    try:
        customer = method.customer_ref if method is not None and method.customer_ref else None
        if customer is None:
            customer = provider.create_customer(user, idempotency_key=idempotency_key("customer", user.id))
        secret = provider.create_setup_intent(customer)
    except ProviderError as exc:
        raise PaymentError(503, f"Stripe could not start saving the card: {exc.message}") from exc
    if method is None:
        # The card is not known yet: a placeholder row keeps the Customer (charges need a
        # payment method, so it is not usable until ``complete_stripe_setup``).
        _upsert(user, "stripe", brand="card", last4="0000", exp_month=1, exp_year=2000, customer_ref=customer)
    elif method.customer_ref != customer:
        method.customer_ref = customer
    db.session.flush()
    return secret, provider.publishable_key


def complete_stripe_setup(user: User, setup_intent_id: str) -> BillingMethod:
    """Save the card of a succeeded SetupIntent of the user's Customer; flushes. Raises
    PaymentError 404 (not this user's), 409 (not succeeded), 503 (Stripe failed)."""
    provider = _provider()
    if provider.name != "stripe":
        raise PaymentError(409, "This marketplace does not use Stripe.")
    method = db.session.scalar(
        sa.select(BillingMethod).where(BillingMethod.user_id == user.id, BillingMethod.provider == "stripe")
    )
    if method is None or not method.customer_ref:
        raise PaymentError(404, "No card setup was started.")
    try:
        intent = provider.retrieve_setup_intent(setup_intent_id)
        if intent.get("customer") != method.customer_ref:
            raise PaymentError(404, "No such card setup.")
        if intent.get("status") != "succeeded" or not intent.get("payment_method"):
            raise PaymentError(409, "The card was not saved: try again.")
        card = provider.retrieve_card(intent["payment_method"])
    except ProviderError as exc:
        raise PaymentError(503, f"Stripe could not confirm the card: {exc.message}") from exc
    method.payment_method_ref = intent["payment_method"]
    method.brand = str(card.get("brand") or "card")[:20]
    method.last4 = str(card.get("last4") or "0000")[-4:]
    method.exp_month = int(card.get("exp_month") or 1)
    method.exp_year = int(card.get("exp_year") or 2000)
    db.session.flush()
    return method


def usable(method: BillingMethod | None) -> bool:
    if method is None:
        return False
    if method.provider == "stripe":
        return bool(method.customer_ref and method.payment_method_ref)
    return method.sandbox_behaviour is not None


def _milestone_payment(order: Order, milestone: Milestone, provider_name: str) -> Payment:
    db.session.execute(
        pg_insert(Payment)
        .values(
            order_id=order.id,
            milestone_id=milestone.id,
            buyer_id=order.buyer_id,
            provider=provider_name,
            amount_minor=milestone.amount_minor,
            currency=order.currency,
            status="pending",
        )
        .on_conflict_do_nothing(
            index_elements=["milestone_id"], index_where=sa.text("milestone_id IS NOT NULL")
        )
    )
    payment = db.session.scalar(sa.select(Payment.id).where(Payment.milestone_id == milestone.id))
    return _lock_payment(payment)


def charge_saved(order: Order, milestone: Milestone) -> ChargeResult:
    """Charge the buyer's saved card for ``milestone`` (waiting for money) of ``order``;
    flushes. ``succeeded``: confirmed, the milestone is funded (escrow). ``failed``: the
    attempt and its reason are recorded (no card, declined, the bank wants the cardholder),
    nothing moved. ``pending``: the provider is still processing (its webhook confirms).
    A payment already succeeded is returned as succeeded without charging again."""
    provider = _provider()
    payment = _milestone_payment(order, milestone, provider.name)
    if payment.status == "succeeded":
        return ChargeResult("succeeded", payment)
    if payment.provider != provider.name and payment.provider_ref is None:
        payment.provider = provider.name
    method = billing_method_of(order.buyer_id)
    payment.attempts += 1
    if not usable(method):
        fail_payment(payment.id, NO_METHOD_MESSAGE)
        return ChargeResult("failed", payment, NO_METHOD_MESSAGE)
    if method.provider == "sandbox":
        if method.sandbox_behaviour == "succeeds":
            payment.provider_ref = payment.provider_ref or sandbox_payment_ref(order.id, milestone.id)
            db.session.flush()
            return ChargeResult("succeeded", confirm_payment(payment.id))
        reason = (
            AUTH_REQUIRED_MESSAGE
            if method.sandbox_behaviour == "authenticate"
            else ("Your card was declined. Update the card on the billing page and retry.")
        )
        fail_payment(payment.id, reason)
        return ChargeResult("failed", payment, reason)
    try:
        status, ref, reason = provider.charge_saved(
            payment,
            method.customer_ref,
            method.payment_method_ref,
            transfer_group=transfer_group_for_order(order.id),
            # A new key per attempt: a declined PaymentIntent is not retried with the same key.
            idempotency_key=idempotency_key("payment_intent", f"{payment.id}-{payment.attempts}"),
        )
    except ProviderError as exc:
        fail_payment(payment.id, exc.message[:255])
        return ChargeResult("failed", payment, exc.message)
    if ref:
        payment.provider_ref = ref
        db.session.flush()
    if status == "succeeded":
        return ChargeResult("succeeded", confirm_payment(payment.id))
    if status == "pending":
        return ChargeResult("pending", payment)
    fail_payment(payment.id, (reason or "The card was declined.")[:255])
    return ChargeResult("failed", payment, reason or "The card was declined.")
