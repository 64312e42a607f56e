"""Payments' rules: checkout, confirming and failing payments, the sandbox card page,
refunds at the provider, payouts, clearance, Stripe keys and connected accounts.

Everything here flushes and never commits: the request or job that called it
commits once. Money moves in the ledger (``app.ledger.services``), whose
operations are idempotent by reference; the references given here are
deterministic (``payment-<id>``, ``payout-<id>``), so every path that confirms
the same payment (the sandbox page, a Stripe webhook, a replayed request) moves
money once.

Refusals raise ``PaymentError`` with an HTTP status and a message safe to show
(``errors`` maps form fields to messages for 422).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import orm
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.accounts.models import SellerProfile, User
from app.core import metrics, pagination, unit_of_work
from app.core.after_commit import on_commit
from app.core.crypto import encrypt_secret
from app.core.domain_errors import DomainError
from app.core.one_statement import update_together, write_with_next
from app.events import publish
from app.gigs.models import Gig
from app.ledger import services as ledger
from app.orders import milestones
from app.orders import services as orders
from app.orders.models import Milestone, Order
from app.payments.models import Payment, Payout, PayoutHold, Refund, SellerPaymentAccount
from app.payments.providers import (
    PaymentProvider,
    PaymentSession,
    ProviderError,
    get_provider,
    idempotency_key,
    stripe_kyc,
    transfer_group_for_order,
)
from app.settings.models import MarketplaceSettings
from app.settings.services import SettingsSnapshot, current_settings
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

OPEN_PAYMENT_STATUSES = ("pending", "requires_action", "failed")
MAX_PAGE = 10_000  # history and payout pages beyond this are empty (an OFFSET past bigint would fail)


class PaymentError(DomainError):
    """A refused payment operation: ``PaymentError(status, message, field_errors=None)``.

    ``status`` is the HTTP status that fits (403 to 503); ``message`` is safe to show;
    ``errors`` maps form fields to messages (``{"form": message}`` when none is given);
    ``code`` names a refusal of its own (``kyc_required``, ``payouts_held``...), also given to
    API clients as ``errors.code``; ``extra`` goes into the API's ``errors`` as is.
    """

    CODES = {403: "forbidden", 404: "not_found", 409: "conflict", 502: "provider_refused"}

    def __init__(
        self,
        status: int,
        message: str,
        errors: dict[str, str] | None = None,
        *,
        code: str | None = None,
        extra: dict | None = None,
    ):
        if code:  # a refusal of its own: API clients branch on ``errors.code``
            extra = {"code": code, **(extra or {})}
        code = code or self.CODES.get(status, "unavailable" if status >= 500 else None)
        super().__init__(message, errors or None, status=status, code=code, extra=extra)


def _provider_refused(exc: ProviderError) -> PaymentError:
    """The provider's refusal as one the buyer or seller is shown: 503 when worth retrying."""
    return PaymentError(503 if exc.transient else 502, f"The payment provider refused: {exc.message}")


def _now() -> datetime:
    return datetime.now(UTC)


def _settings() -> SettingsSnapshot | MarketplaceSettings:
    return current_settings()


def _positive_minor(amount_minor, field: str = "amount_minor") -> int:
    if type(amount_minor) is not int or amount_minor <= 0:
        raise PaymentError(
            422,
            "The amount must be a positive whole number of minor units.",
            {field: "Enter a positive whole number of minor units."},
        )
    return amount_minor


def _provider() -> PaymentProvider:
    try:
        return get_provider(_settings())
    except ProviderError as exc:
        raise PaymentError(503, exc.message) from exc


def _lock_payment(payment_id: int) -> Payment | None:
    return db.session.scalars(
        sa.select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


# --- checkout ---------------------------------------------------------------------------


def start_checkout(order, milestone=None) -> str:
    """Open (or reopen) a payment of ``order``; returns the URL to send the buyer to.

    A one-milestone order has one payment for its total (the order's checkout). An order
    worked milestone by milestone (``order.uses_milestones``) has one payment per milestone,
    for that milestone's amount: ``milestone`` names it (None: the first, which the order's
    checkout funds). Calling it again returns the same payment (a declined card is retried
    on it). Raises PaymentError: 409 when the order or milestone is not waiting for money or
    is already paid, 503 when the tenant's provider is not configured or unreachable.

    A refusal leaves nothing behind (``orders.checkout_url`` goes on without a checkout): the
    refusals before the payment row is written write nothing, and a provider that calls out
    (which may fail after the row is written) runs in a savepoint; the sandbox needs none.
    """
    guard = db.session.begin_nested() if _provider().calls_out else contextlib.nullcontext()
    with guard:
        return open_checkout(order, milestone).redirect_url


def _checkout_target(order, milestone):
    """(milestone_id or None, amount) of the payment to open; refuses what needs no money."""
    if order.uses_milestones:
        milestone = milestone or order.milestones[0]
        if milestone.order_id != order.id:
            raise PaymentError(404, "No such milestone.")
        if order.status in ("completed", "cancelled") or milestone.status not in (
            "planned",
            "funding_required",
        ):
            raise PaymentError(
                409,
                f"Milestone {milestone.seq} of order {order.number} cannot be paid: "
                f"it is {milestone.status.replace('_', ' ')}.",
            )
        return milestone.id, milestone.amount_minor
    if order.status != "awaiting_payment":
        raise PaymentError(
            409, f"Order {order.number} cannot be paid: it is {order.status.replace('_', ' ')}."
        )
    amount = sum(m.amount_minor for m in order.milestones)
    if amount != order.total_minor or amount <= 0:
        raise PaymentError(
            409,
            f"Order {order.number} is inconsistent: milestones sum to {amount}, total {order.total_minor}.",
        )
    return None, amount


def open_checkout(order, milestone=None) -> PaymentSession:
    """``start_checkout`` with the whole session (the Stripe page needs the client secret)."""
    milestone_id, amount = _checkout_target(order, milestone)
    provider = _provider()
    # A new payment comes back from the INSERT itself (this transaction's row: nobody else
    # sees it yet); an existing one (a checkout opened again) is read and locked.
    payment = db.session.scalars(
        _open_statement(milestone=milestone_id is not None),
        {
            "order_id": order.id,
            "milestone_id": milestone_id,
            "buyer_id": order.buyer_id,
            "provider": provider.name,
            "provider_ref": provider.reference_before_insert(order.id, milestone_id),
            "amount_minor": amount,
            "currency": order.currency,
        },
        execution_options={"populate_existing": True},
    ).one_or_none()
    if payment is None:
        mine = (
            Payment.milestone_id.is_(None) if milestone_id is None else Payment.milestone_id == milestone_id
        )
        payment = db.session.scalars(
            sa.select(Payment)
            .where(Payment.order_id == order.id, mine)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
    if payment.status == "succeeded":
        raise PaymentError(409, f"Order {order.number} is already paid.")
    if (payment.amount_minor, payment.currency) != (amount, order.currency):
        raise PaymentError(409, "The order's amount changed since its payment was opened.")
    if payment.provider != provider.name:
        if payment.provider_ref:
            raise PaymentError(409, "This order's payment was opened with another payment provider.")
        payment.provider = provider.name  # nothing exists at the old provider: switch over
    if payment.provider_ref is None or (provider.name == "stripe" and payment.client_secret is None):
        try:
            session = provider.create_payment(
                payment,
                transfer_group=transfer_group_for_order(order.id),
                idempotency_key=idempotency_key("payment_intent", payment.id),
            )
        except ProviderError as exc:
            raise _provider_refused(exc) from exc
        payment.provider_ref = session.provider_ref
        payment.client_secret = session.client_secret
        db.session.flush()
        return session
    return PaymentSession(
        payment_id=payment.id,
        status=payment.status,
        redirect_url=f"/checkout/{provider.name}/{payment.id}",
        client_secret=payment.client_secret,
        provider_ref=payment.provider_ref,
    )


@cache
def _open_statement(*, milestone: bool) -> sa.Select:
    """``INSERT INTO payments ... ON CONFLICT DO NOTHING RETURNING *`` of a pending payment of an
    order (``milestone=False``: one per order) or of a milestone (one per milestone), built once:
    the values are parameters named after the columns. A Core INSERT of the table, its rows
    loaded as ``Payment`` (``from_statement``): the ORM's bulk INSERT of the entity did the same
    through its bulk-persistence machinery, ~2.5 % of an order -> paid's CPU (py-spy)."""
    columns = Payment.__table__.c
    names = ("order_id", "milestone_id", "buyer_id", "provider", "provider_ref", "amount_minor", "currency")
    insert = pg_insert(Payment.__table__).values(
        {**{name: sa.bindparam(name, type_=columns[name].type) for name in names}, "status": "pending"}
    )
    if milestone:
        insert = insert.on_conflict_do_nothing(
            index_elements=["milestone_id"], index_where=sa.text("milestone_id IS NOT NULL")
        )
    else:
        insert = insert.on_conflict_do_nothing(
            index_elements=["order_id"], index_where=sa.text("milestone_id IS NULL")
        )
    return sa.select(Payment).from_statement(insert.returning(*columns))


def confirm_payment(
    payment_id: int, *, amount_minor: int | None = None, currency: str | None = None
) -> Payment:
    """The provider captured the payment: mark the order paid, which escrows it in the ledger.

    ``orders.mark_paid`` records the ledger payment of every milestone it funds
    in this same transaction (reference ``payment-<id>``), so payments never
    posts it a second time. Idempotent: a payment already succeeded is
    returned unchanged (a second webhook, a replayed form). A success after a
    failure is accepted (the buyer retried). Raises PaymentError 409 when the
    captured amount or currency is not the payment's, or when the order cannot
    take the payment any more (cancelled, paid by another payment): the caller
    decides whether to refund it (see ``_on_payment_intent_succeeded``).
    """
    payment = _lock_payment(payment_id)
    if payment is None:
        raise PaymentError(404, "No such payment.")
    return _confirm_locked(payment, amount_minor=amount_minor, currency=currency)


def _confirm_locked(
    payment: Payment,
    *,
    amount_minor: int | None = None,
    currency: str | None = None,
    count_attempt: bool = False,
    savepoint: bool = True,
):
    """``confirm_payment`` of a payment this transaction has locked already (``count_attempt``:
    one more attempt, written with the success). ``savepoint=False`` when the caller does not go
    on after a refusal (the sandbox card pages and API: their request, or the demo's seed, ends
    with the error and rolls back): marking the order paid then needs no savepoint of its own."""
    if payment.status == "succeeded":
        return payment
    if (amount_minor is not None and amount_minor != payment.amount_minor) or (
        currency is not None and currency.upper() != payment.currency
    ):
        raise PaymentError(
            409,
            f"Captured {amount_minor} {currency} does not match payment {payment.id} "
            f"of {payment.amount_minor} {payment.currency}.",
        )
    # A refused mark_paid leaves the caller's transaction usable (a webhook then refunds). No
    # savepoint when the caller's refusals end its unit of work (the API's money views: the
    # hourly approval's charge): a refusal then marks the transaction, as the ledger's does.
    guard = unit_of_work.step_guard("a payment's confirmation") if savepoint else contextlib.nullcontext()
    # The success is written by the order's own UPDATE statement (one statement fewer), or after
    # the step when it sends none (a payment reported again); a refusal drops it.
    success = {
        "status": "succeeded",
        "succeeded_at": _now(),
        "failure_reason": None,
        **({"attempts": payment.attempts + 1} if count_attempt else {}),
    }
    try:
        with guard, write_with_next(payment, **success):
            if payment.milestone_id is not None:  # one milestone's payment: the milestone engine
                milestones.mark_milestone_funded(
                    payment.order_id,
                    payment.milestone_id,
                    payment.ledger_ref,
                    amount_minor=payment.amount_minor,
                    currency=payment.currency,
                )
            else:
                orders.mark_paid(
                    payment.order_id,
                    payment.ledger_ref,
                    amount_minor=payment.amount_minor,
                    currency=payment.currency,
                )
    except orders.OrderError as exc:
        raise PaymentError(409, exc.message) from exc
    update_together([payment])  # without the flush's bookkeeping; nothing when it was written
    db.session.flush()
    on_commit(metrics.payments.labels("succeeded").inc)  # once: a second call returns above
    return payment


def fail_payment(payment_id: int, reason: str, *, status: str = "failed") -> Payment | None:
    """Record a failed attempt (or a pending second step). Never undoes a success."""
    return _fail_locked(_lock_payment(payment_id), reason, status=status)


def _fail_locked(payment: Payment | None, reason: str, *, status: str = "failed") -> Payment | None:
    """``fail_payment`` of a payment this transaction has locked already."""
    if payment is None or payment.status == "succeeded":
        return payment
    payment.status = status
    payment.failure_reason = reason[:255] if reason else None
    db.session.flush()
    if status == "failed":  # each failed attempt (a retry may then succeed); not a pending step
        on_commit(metrics.payments.labels("failed").inc)
    return payment


def payment_for_party(user: User, payment_id: int) -> Payment:
    """A payment the user may see (the buyer or the seller of its order); 404 otherwise."""
    payment = db.session.get(Payment, payment_id)
    order = db.session.get(Order, payment.order_id) if payment else None
    if payment is None or order is None or user.id not in (order.buyer_id, order.seller_id):
        raise PaymentError(404, "No such payment.")
    return payment


# --- the sandbox card page --------------------------------------------------------------

# Stripe's test cards (https://docs.stripe.com/testing), with the same behaviour.
TEST_CARDS = {
    "4242424242424242": "succeeds",
    "4000000000000002": "declined",
    "4000002500003155": "authenticate",
}
DECLINED_MESSAGE = "Your card was declined. Try another card."
AUTH_FAILED_MESSAGE = "The card's authentication failed. Try again or use another card."
_EXPIRY_RE = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


@dataclass(frozen=True)
class CardResult:
    outcome: str  # succeeded / declined / requires_action
    payment: Payment


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def validate_test_card(number: str, expiry: str, cvc: str, today: date | None = None) -> str:
    """The card's digits; raises PaymentError(422) with field errors."""
    errors = {}
    digits = re.sub(r"[\s-]", "", number or "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not _luhn_ok(digits):
        errors["card_number"] = "Enter a valid card number."
    elif digits not in TEST_CARDS:
        errors["card_number"] = "This is test mode: use a test card such as 4242 4242 4242 4242."
    match = _EXPIRY_RE.match(expiry or "")
    if not match:
        errors["expiry"] = "Enter the expiry date as MM/YY."
    else:
        month, year = int(match.group(1)), int(match.group(2))
        year = year + 2000 if year < 100 else year
        today = today or _now().date()
        if not 1 <= month <= 12:
            errors["expiry"] = "Enter the expiry date as MM/YY."
        elif (year, month) < (today.year, today.month):
            errors["expiry"] = "This card has expired."
    if not re.fullmatch(r"\d{3,4}", (cvc or "").strip()):
        errors["cvc"] = "Enter the 3 or 4 digit security code."
    if errors:
        raise PaymentError(422, "Check the card details.", errors)
    return digits


def _sandbox_payment_of(buyer: User, payment_id: int) -> tuple[Payment, Order]:
    """The buyer's sandbox payment and its order, both locked by one statement, and the order's
    milestones read after the locks are granted (``orders.read_locked_milestones``, which notes
    the lock): what ``mark_paid`` would lock and read again, so it sends nothing for it."""
    found = db.session.execute(_sandbox_payment_statement(), {"payment_id": payment_id}).first()
    payment, order = found if found is not None else (None, None)
    _own_sandbox_payment(buyer, payment)
    orders.read_locked_milestones(order)
    return payment, order


@cache
def _sandbox_payment_statement() -> sa.Select:
    """``_sandbox_payment_of``'s select, built once (parameter ``payment_id``)."""
    return (
        sa.select(Payment, Order)
        .join(Order, Order.id == Payment.order_id)
        .where(Payment.id == sa.bindparam("payment_id", type_=Payment.__table__.c.id.type))
        .with_for_update(of=(Payment, Order))
        .options(orm.lazyload(Order.milestones))  # read after the locks: orders.read_locked_milestones
        .execution_options(populate_existing=True)
    )


@cache
def _checkout_page_statement() -> sa.Select:
    """``sandbox_checkout_page``'s select, built once (parameter ``payment_id``)."""
    return (
        sa.select(Payment, Order, Gig.slug)
        .join(Order, Order.id == Payment.order_id)
        .outerjoin(Gig, Gig.id == Order.gig_id)
        .where(Payment.id == sa.bindparam("payment_id", type_=Payment.__table__.c.id.type))
        .options(orm.lazyload(Order.milestones))
    )


def _own_sandbox_payment(buyer: User, payment: Payment | None) -> None:
    """Raises PaymentError 404 unless ``payment`` is ``buyer``'s sandbox payment."""
    if payment is None or payment.buyer_id != buyer.id or payment.provider != "sandbox":
        raise PaymentError(404, "No such payment.")


def _order_awaiting_payment(payment: Payment, order: Order) -> None:
    if payment.milestone_id is not None:  # a milestone's own payment: that milestone must wait for it
        milestone = db.session.get(Milestone, payment.milestone_id)
        if order.status in ("completed", "cancelled") or milestone.status not in (
            "planned",
            "funding_required",
        ):
            raise PaymentError(
                409,
                f"Milestone {milestone.seq} of order {order.number} cannot be paid: "
                f"it is {milestone.status.replace('_', ' ')}.",
            )
        return
    if order.status != "awaiting_payment":
        raise PaymentError(
            409, f"Order {order.number} cannot be paid: it is {order.status.replace('_', ' ')}."
        )


def sandbox_pay(buyer: User, payment_id: int, card_number: str, expiry: str, cvc: str) -> CardResult:
    """Pay a sandbox payment with a test card, as Stripe test mode would.

    4242 4242 4242 4242 succeeds; 4000 0000 0000 0002 is declined (the attempt
    is recorded; the buyer may try again); 4000 0025 0000 3155 needs a second
    step (``sandbox_authenticate``). A payment already paid is returned as
    succeeded without moving money again. Raises PaymentError: 422 for bad card
    details (nothing recorded), 404 someone else's payment, 409 an order no
    longer awaiting payment (the caller rolls back: no savepoint keeps the
    transaction usable after it).
    """
    digits = validate_test_card(card_number, expiry, cvc)
    payment, order = _sandbox_payment_of(buyer, payment_id)
    if payment.status == "succeeded":
        return CardResult("succeeded", payment)
    _order_awaiting_payment(payment, order)
    behaviour = TEST_CARDS[digits]
    # The payment is locked (``_sandbox_payment_of``): record the outcome on it, no second read.
    # The attempt is counted with the outcome (one UPDATE of the payment).
    if behaviour == "declined":
        payment.attempts += 1
        return CardResult("declined", _fail_locked(payment, DECLINED_MESSAGE))
    if behaviour == "authenticate":
        payment.attempts += 1
        return CardResult("requires_action", _fail_locked(payment, None, status="requires_action"))
    return CardResult("succeeded", _confirm_locked(payment, count_attempt=True, savepoint=False))


def sandbox_authenticate(buyer: User, payment_id: int, approve: bool) -> CardResult:
    """The second step of 4000 0025 0000 3155: approve pays, refuse fails the attempt.

    Raises PaymentError 409 when no second step is pending.
    """
    payment, order = _sandbox_payment_of(buyer, payment_id)
    if payment.status == "succeeded":
        return CardResult("succeeded", payment)
    if payment.status != "requires_action":
        raise PaymentError(409, "This payment is not waiting for authentication.")
    _order_awaiting_payment(payment, order)
    if not approve:
        return CardResult("declined", _fail_locked(payment, AUTH_FAILED_MESSAGE))
    return CardResult("succeeded", _confirm_locked(payment, savepoint=False))


def sandbox_payment_for_page(buyer: User, payment_id: int) -> Payment:
    payment = db.session.get(Payment, payment_id)
    _own_sandbox_payment(buyer, payment)
    return payment


@dataclass(frozen=True)
class SandboxCheckout:
    """What the sandbox card page shows: the payment, its order and the slug of the order's gig
    (None for an offer, or a gig since removed)."""

    payment: Payment
    order: Order
    gig_slug: str | None


def sandbox_checkout_page(buyer: User, payment_id: int) -> SandboxCheckout:
    """The buyer's sandbox payment with its order and gig slug, in one query (the order's
    milestones load only if the page lists them: an offer's). Raises PaymentError 404."""
    found = db.session.execute(_checkout_page_statement(), {"payment_id": payment_id}).first()
    _own_sandbox_payment(buyer, found[0] if found is not None else None)
    return SandboxCheckout(*found)


def stripe_payment_for_page(buyer: User, payment_id: int) -> tuple[Payment, str | None]:
    """The buyer's Stripe payment and the tenant's publishable key (for Stripe.js)."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.buyer_id != buyer.id or payment.provider != "stripe":
        raise PaymentError(404, "No such payment.")
    return payment, _settings().stripe_publishable_key


# --- refunds ----------------------------------------------------------------------------


def refund_order_payment(order_id: int, amount_minor: int, *, reference: str | None = None) -> list[Refund]:
    """Give ``amount_minor`` of the order's payments back to the buyer at the provider.

    Runs on ``order.refunded`` (``app/payments/events.py``), after the orders
    domain's ledger refund (the ledger is not touched here). ``reference``
    names the refund (the order event): a second call with it returns the
    refunds already made. The sandbox refunds at once; Stripe's refund is
    created by a job after commit (``send_refund``, idempotency key
    ``<tenant>:refund:<refund id>``). Raises PaymentError 422 for a bad amount,
    409 when the order's payments hold less than the amount still refundable.
    """
    _positive_minor(amount_minor)
    if reference is not None:
        existing = db.session.scalars(
            sa.select(Refund)
            .where(Refund.order_id == order_id, Refund.reference == reference)
            .order_by(Refund.id)
        ).all()
        if existing:
            return list(existing)
    payments = db.session.scalars(
        sa.select(Payment)
        .where(Payment.order_id == order_id, Payment.status == "succeeded")
        .order_by(Payment.id)
        .with_for_update()
    ).all()
    refunded = dict(
        db.session.execute(
            sa.select(Refund.payment_id, sa.func.sum(Refund.amount_minor))
            .where(Refund.order_id == order_id, Refund.status != "failed")
            .group_by(Refund.payment_id)
        ).all()
    )
    refundable = {p.id: p.amount_minor - int(refunded.get(p.id, 0)) for p in payments}
    if amount_minor > sum(refundable.values()):
        raise PaymentError(
            409,
            f"A refund of {amount_minor} exceeds the {sum(refundable.values())} "
            "still refundable on this order.",
        )
    provider = _provider()
    refunds, remaining = [], amount_minor
    for payment in payments:
        share = min(remaining, refundable[payment.id])
        if share <= 0:
            continue
        refund = Refund(
            payment_id=payment.id,
            order_id=order_id,
            provider=payment.provider,
            amount_minor=share,
            currency=payment.currency,
            status="pending",
            reference=reference,
        )
        db.session.add(refund)
        db.session.flush()
        if provider.name == "sandbox" and payment.provider == "sandbox":
            result = provider.refund(payment, refund, idempotency_key=idempotency_key("refund", refund.id))
            refund.provider_ref = result.provider_ref
            settle_refund(refund, result.status)
        else:
            on_commit(_enqueue, "app.payments.tasks.send_refund", current_tenant().id, refund.id)
        refunds.append(refund)
        remaining -= share
    db.session.flush()
    return refunds


def send_refund(refund_id: int) -> Refund | None:
    """Create the provider refund of a pending Refund (job body; idempotent).

    Raises ProviderError when the provider is unreachable (the job retries
    with the same idempotency key); a refusal marks the refund failed.
    """
    refund = db.session.scalars(sa.select(Refund).where(Refund.id == refund_id).with_for_update()).first()
    if refund is None or refund.status != "pending" or refund.provider_ref:
        return refund
    payment = db.session.get(Payment, refund.payment_id)
    provider = get_provider(_settings())
    try:
        result = provider.refund(payment, refund, idempotency_key=idempotency_key("refund", refund.id))
    except ProviderError as exc:
        if exc.transient:
            raise
        refund.status, refund.failure_reason = "failed", exc.message[:255]
        log.error(
            "refund %s of order %s refused by %s: %s", refund.id, refund.order_id, provider.name, exc.message
        )
        db.session.flush()
        return refund
    refund.provider_ref = result.provider_ref
    if result.status != "pending":
        settle_refund(refund, result.status)
    db.session.flush()
    return refund


def settle_refund(refund: Refund, status: str) -> None:
    """The provider's last word on a pending refund (``succeeded`` or ``failed``). A success
    publishes ``refund.completed`` ``{"refund_id", "order_id", "amount_minor", "currency"}``
    (the brief's saga event: the buyer has the money back), once."""
    if refund.status != "pending":
        return
    refund.status = "succeeded" if status == "succeeded" else "failed"
    refund.succeeded_at = _now() if refund.status == "succeeded" else None
    if refund.status == "succeeded":
        publish(
            "refund.completed",
            {
                "refund_id": refund.id,
                "order_id": refund.order_id,
                "amount_minor": refund.amount_minor,
                "currency": refund.currency,
            },
        )


# --- earnings and payouts ---------------------------------------------------------------


def _currency() -> str:
    return _settings().currency


@dataclass(frozen=True)
class Earnings:
    currency: str
    pending_minor: int
    available_minor: int
    provider: str
    needs_onboarding: bool
    payouts: list[Payout]
    history: object  # ledger HistoryPage
    # The seller's KYC status at the tenant's provider (``none`` without an account yet),
    # what the provider still needs, the note of the last decision, and whether an
    # operator holds the seller's payouts.
    kyc_status: str = "none"
    kyc_requirements: tuple[str, ...] = ()
    kyc_note: str | None = None
    held: bool = False

    @property
    def payout_block(self) -> str | None:
        """Why a payout would be refused now (``kyc_required``, ``payouts_held``), or None."""
        if self.kyc_status != "verified":
            return "kyc_required"
        return "payouts_held" if self.held else None


def balances(user: User) -> dict:
    currency = _currency()
    balance = ledger.seller_balances(user.id, currency)
    return {
        "currency": currency,
        "pending_minor": balance["pending"],
        "available_minor": balance["available"],
    }


def earnings(user: User, page: int = 1) -> Earnings:
    """What the earnings page shows: balances, payout set-up, payouts and history."""
    settings = _settings()
    balance = ledger.seller_balances(user.id, settings.currency)
    needs_onboarding = False
    account = _seller_account(user.id, settings.payment_provider)
    if settings.payment_provider == "stripe":
        needs_onboarding = account is None or not account.ready
    return Earnings(
        currency=settings.currency,
        pending_minor=balance["pending"],
        available_minor=balance["available"],
        provider=settings.payment_provider,
        needs_onboarding=needs_onboarding,
        payouts=list_payouts(user, per_page=10)[0],
        history=transaction_history(user, page),
        kyc_status=account.kyc_status if account is not None else "none",
        kyc_requirements=tuple(account.kyc_requirements or ()) if account is not None else (),
        kyc_note=account.kyc_note if account is not None else None,
        held=active_hold(user.id) is not None,
    )


def transaction_history(
    user: User, page: int = 1, per_page: int = 20, window: pagination.Window | None = None
):
    """The user's ledger history (``ledger.transactions_for_user``); a page past
    ``MAX_PAGE`` is empty, with the real total."""
    page = max(1, page)
    if page <= MAX_PAGE:
        return ledger.transactions_for_user(user.id, page, per_page, window=window)
    history = ledger.transactions_for_user(user.id, 1, per_page, window=window)
    return dataclasses.replace(history, items=[], page=page)


def list_payouts(
    user: User, page: int = 1, per_page: int = 20, window: pagination.Window | None = None
) -> tuple[list[Payout], int]:
    """The seller's payouts, newest first, and their count (from the API's cursor position
    and inside its created range when ``window`` is given)."""
    query = sa.select(Payout).where(
        Payout.seller_id == user.id, *pagination.where(window, Payout.id, created=Payout.requested_at)
    )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    if page > MAX_PAGE:
        return [], int(total)
    rows = db.session.scalars(
        query.order_by(Payout.id.desc()).limit(per_page).offset((max(1, page) - 1) * per_page)
    ).all()
    return list(rows), int(total)


def payout_account_of(user_id: int) -> SellerPaymentAccount | None:
    """The user's payout account at the tenant's current provider (None: none yet)."""
    return _seller_account(user_id, _settings().payment_provider)


def _seller_account(user_id: int, provider: str) -> SellerPaymentAccount | None:
    return db.session.scalars(
        sa.select(SellerPaymentAccount).where(
            SellerPaymentAccount.user_id == user_id, SellerPaymentAccount.provider == provider
        )
    ).first()


def active_hold(user_id: int, *, lock: bool = False) -> PayoutHold | None:
    """The seller's active payout hold (``released_at`` NULL), or None."""
    query = sa.select(PayoutHold).where(PayoutHold.user_id == user_id, PayoutHold.released_at.is_(None))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalars(query).first()


KYC_REQUIRED = "kyc_required"
PAYOUTS_HELD = "payouts_held"


def payout_refusal(seller_id: int, provider: PaymentProvider) -> PaymentError | None:
    """Why the seller cannot be paid out now, whatever the amount, or None.

    The KYC gate: the seller's account at the tenant's provider must be ``verified``
    (Stripe: by Stripe, the sandbox: by its simulated check); then no active hold. Both
    are 409s with a code of their own (``kyc_required``, ``payouts_held``); the money
    stays on the available balance.
    """
    account = _seller_account(seller_id, provider.name)
    if account is None or account.kyc_status != "verified":
        status = account.kyc_status if account is not None else "none"
        if provider.requires_onboarding and (account is None or not account.ready):
            message = "Set up your payout account before requesting a payout."
        elif status == "pending":
            message = "Your identity verification is in progress: payouts open once it is verified."
        elif status == "rejected":
            message = "Your identity verification was not accepted: contact support to be paid out."
        else:
            message = "Verify your identity before requesting a payout (see your earnings page)."
        return PaymentError(409, message, code=KYC_REQUIRED, extra={"kyc_status": status})
    if active_hold(seller_id) is not None:
        return PaymentError(
            409,
            "Payouts from your account are on hold. Your balance stays available; contact support.",
            code=PAYOUTS_HELD,
        )
    return None


def request_payout(
    seller: User, amount_minor, *, schedule_key: str | None = None, retry_of: Payout | None = None
) -> Payout:
    """Pay ``amount_minor`` of the seller's available balance out.

    Recorded in the ledger at once (so the balance cannot be paid twice); the
    sandbox pays instantly, Stripe by a transfer job after commit
    (``send_payout``). Raises PaymentError, with nothing changed: 422 bad
    amount, 403 not a seller, 409 ``kyc_required`` (the seller's account is not
    verified, or a Stripe seller has not finished onboarding), 409 ``payouts_held``
    (an operator holds the seller's payouts), 409 more than the available balance.
    ``retry_of``: the failed payout an operator retries with this one (``retry_payout``).
    """
    amount_minor = _positive_minor(amount_minor)
    if not seller.is_seller:
        raise PaymentError(403, "Only sellers have earnings to pay out.")
    settings = _settings()
    provider = _provider()
    refusal = payout_refusal(seller.id, provider)
    if refusal is not None:
        raise refusal
    available = ledger.seller_balances(seller.id, settings.currency)["available"]
    if amount_minor > available:
        raise PaymentError(
            409,
            f"You can pay out at most your available balance ({available} minor units).",
            {"amount_minor": "This is more than your available balance."},
        )
    try:
        with db.session.begin_nested():  # refused: no payout row either (scheduled payouts go on)
            payout = Payout(
                seller_id=seller.id,
                provider=provider.name,
                amount_minor=amount_minor,
                currency=settings.currency,
                status="pending",
                schedule_key=schedule_key,
                retry_of_id=retry_of.id if retry_of is not None else None,
            )
            db.session.add(payout)
            db.session.flush()
            ledger.record_payout(seller.id, amount_minor, settings.currency, payout.ledger_ref)
    except ledger.InsufficientFunds as exc:
        raise PaymentError(
            409,
            "You can pay out at most your available balance.",
            {"amount_minor": "This is more than your available balance."},
        ) from exc
    if provider.instant_payouts:
        payout.provider_ref = provider.transfer(
            None,
            amount_minor,
            payout.currency,
            transfer_group=f"payout_{current_tenant().id}_{payout.id}",
            idempotency_key=idempotency_key("transfer", payout.id),
            metadata={"payout_id": payout.id},
        )
        _mark_payout_sent(payout)
    else:
        on_commit(_enqueue, "app.payments.tasks.send_payout", current_tenant().id, payout.id)
    db.session.flush()
    return payout


def _mark_payout_sent(payout: Payout) -> None:
    if payout.status != "pending":
        return
    payout.status = "sent"
    payout.sent_at = _now()
    publish(
        "payout.sent",
        {"payout_id": payout.id, "amount_minor": payout.amount_minor, "currency": payout.currency},
    )


def _reverse_payout(payout: Payout, status: str, reason: str) -> None:
    """A payout that failed or was reversed: the money goes back to the seller's available balance."""
    if payout.status in ("failed", "reversed"):
        return
    ledger.post_transaction(
        "adjustment",
        [
            (ledger.seller_available_account(payout.seller_id), -payout.amount_minor),
            (ledger.CLEARING, payout.amount_minor),
        ],
        currency=payout.currency,
        idempotency_key=f"payout-returned:{payout.ledger_ref}",
        seller_id=payout.seller_id,
        memo=f"{payout.ledger_ref} {status}: {reason}"[:200],
    )
    payout.status = status
    payout.failure_reason = reason[:255]
    on_commit(metrics.payouts.labels("failed").inc)  # no event says it: counted once it commits


def send_payout(payout_id: int) -> Payout | None:
    """Send a pending payout to the seller's connected account (job body; idempotent).

    The transfer's idempotency key is ``<tenant>:transfer:<payout id>``: a
    retried job gets the same transfer. A transient provider error is raised
    (the job retries); a refusal fails the payout and returns the money to the
    seller's available balance.
    """
    payout = db.session.scalars(sa.select(Payout).where(Payout.id == payout_id).with_for_update()).first()
    if payout is None or payout.status != "pending":
        return payout
    provider = get_provider(_settings())
    account = _seller_account(payout.seller_id, provider.name)
    try:
        ref = provider.transfer(
            account.account_ref if account else None,
            payout.amount_minor,
            payout.currency,
            transfer_group=f"payout_{current_tenant().id}_{payout.id}",
            idempotency_key=idempotency_key("transfer", payout.id),
            metadata={"payout_id": payout.id},
        )
    except ProviderError as exc:
        if exc.transient:
            raise
        _reverse_payout(payout, "failed", exc.message)
        db.session.flush()
        return payout
    payout.provider_ref = ref
    _mark_payout_sent(payout)
    db.session.flush()
    return payout


def seller_ids_with_profiles() -> list[int]:
    return list(db.session.scalars(sa.select(SellerProfile.user_id).order_by(SellerProfile.user_id)))


def clear_due_earnings(as_of: datetime) -> int:
    """Move every seller's pending earnings older than ``clearance_days`` to available.

    Idempotent (the ledger's clearance keys are cumulative). Returns how many
    sellers had something cleared.
    """
    currency = _currency()
    cleared = 0
    for seller_id in seller_ids_with_profiles():
        if ledger.clear_earnings(seller_id, currency, as_of) is not None:
            cleared += 1
    return cleared


def schedule_period(schedule: str, day: date) -> str | None:
    """The payout period ``day`` falls in: the day (daily), the ISO week (weekly), None (manual)."""
    if schedule == "daily":
        return day.isoformat()
    if schedule == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return None


@dataclass(frozen=True)
class ScheduledPayouts:
    """What one run of the scheduled payouts did: the payouts made, and the sellers with an
    available balance it skipped, as ``(seller_id, code, message)`` (``kyc_required``,
    ``payouts_held``, or the refusal's code)."""

    made: list[Payout] = dataclasses.field(default_factory=list)
    skipped: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)


def run_scheduled_payouts(day: date) -> ScheduledPayouts:
    """Pay every seller's whole available balance once per period of the tenant's schedule.

    Each payout carries ``schedule_key = auto:<period>:<seller>``, so running
    this twice in a period pays nobody twice. Sellers who cannot be paid out now
    (KYC not verified, Stripe onboarding not finished, payouts held) are skipped
    and listed in ``skipped`` (and logged); their money stays available and the
    next period tries again.
    """
    settings = _settings()
    period = schedule_period(settings.payout_schedule, day)
    result = ScheduledPayouts()
    if period is None:
        return result
    made, skipped = result.made, result.skipped
    for seller_id in seller_ids_with_profiles():
        key = f"auto:{period}:{seller_id}"
        if db.session.scalar(sa.select(Payout.id).where(Payout.schedule_key == key)):
            continue
        available = ledger.seller_balances(seller_id, settings.currency)["available"]
        if available <= 0:
            continue
        try:
            made.append(request_payout(db.session.get(User, seller_id), available, schedule_key=key))
        except PaymentError as exc:
            skipped.append((seller_id, exc.code, exc.message))
            log.info("scheduled payout of seller %s skipped (%s): %s", seller_id, exc.code, exc.message)
    if skipped:
        log.warning(
            "scheduled payouts of %s skipped %d seller(s): %s",
            period,
            len(skipped),
            ", ".join(f"{seller_id} ({code})" for seller_id, code, _ in skipped),
        )
    return result


# --- Stripe keys and connected accounts -------------------------------------------------


def configure_stripe(publishable_key: str, secret_key: str, webhook_secret: str) -> MarketplaceSettings:
    """Store the tenant's Stripe keys (secrets encrypted) and switch it to Stripe.

    Raises PaymentError 422 when a key does not look like the kind it should be.
    """
    errors = {}
    if not re.fullmatch(r"pk_(test|live)_[A-Za-z0-9]+", publishable_key or ""):
        errors["publishable_key"] = "must be a Stripe publishable key (pk_test_... or pk_live_...)"
    if not re.fullmatch(r"(sk|rk)_(test|live)_[A-Za-z0-9]+", secret_key or ""):
        errors["secret_key"] = "must be a Stripe secret key (sk_test_... or sk_live_...)"  # noqa: S105
    if not re.fullmatch(r"whsec_[A-Za-z0-9]+", webhook_secret or ""):
        errors["webhook_secret"] = "must be a Stripe webhook signing secret (whsec_...)"  # noqa: S105
    if errors:
        raise PaymentError(422, "Check the Stripe keys.", errors)
    settings = db.session.scalars(
        sa.select(MarketplaceSettings).where(MarketplaceSettings.id == 1).with_for_update()
    ).one()
    settings.payment_provider = "stripe"
    settings.stripe_publishable_key = publishable_key
    settings.stripe_secret_key_encrypted = encrypt_secret(secret_key)
    settings.stripe_webhook_secret_encrypted = encrypt_secret(webhook_secret)
    db.session.flush()
    return settings


def start_onboarding(seller: User, *, return_url: str, refresh_url: str) -> str:
    """Create (once) the seller's connected account and return an onboarding link.

    Raises PaymentError 403 not a seller, 409 the provider needs no onboarding,
    502/503 the provider refused or is unreachable.
    """
    if not seller.is_seller:
        raise PaymentError(403, "Only sellers set up payouts.")
    provider = _provider()
    if not provider.requires_onboarding:
        raise PaymentError(409, "This marketplace pays out without an account set-up.")
    account = _seller_account(seller.id, provider.name)
    try:
        if account is None:
            ref = provider.create_seller_account(
                seller, idempotency_key=idempotency_key("account", seller.id)
            )
            db.session.execute(
                pg_insert(SellerPaymentAccount)
                .values(user_id=seller.id, provider=provider.name, account_ref=ref, ready=False)
                .on_conflict_do_nothing()
            )
            account = _seller_account(seller.id, provider.name)
        return provider.onboarding_link(account.account_ref, return_url=return_url, refresh_url=refresh_url)
    except ProviderError as exc:
        raise _provider_refused(exc) from exc


def apply_provider_account(row: SellerPaymentAccount, account: dict, now: datetime | None = None) -> None:
    """Store what Stripe says of a connected account (``account.updated``, or the
    onboarding's return): whether it can receive transfers, and its KYC status,
    requirements and disabled reason (``providers.stripe_kyc``). A change of KYC status
    publishes ``payout_account.kyc_changed`` ``{"user_id", "old", "new"}`` (the seller is told)."""
    status, requirements, note = stripe_kyc(account)
    old = row.kyc_status
    row.ready = status == "verified"
    row.kyc_status, row.kyc_requirements, row.kyc_note = status, requirements, note
    row.kyc_checked_at = now or _now()
    if old != status:
        publish("payout_account.kyc_changed", {"user_id": row.user_id, "old": old, "new": status})


def refresh_seller_account(seller: User) -> bool:
    """Ask the provider whether the seller's account can receive payouts; stores and returns it
    (with the KYC status: ``apply_provider_account``)."""
    provider = _provider()
    if not provider.requires_onboarding:
        return True
    account = _seller_account(seller.id, provider.name)
    if account is None:
        return False
    try:
        apply_provider_account(account, provider.retrieve_account(account.account_ref))
    except ProviderError as exc:
        raise _provider_refused(exc) from exc
    db.session.flush()
    return account.ready


# --- jobs -------------------------------------------------------------------------------


def _enqueue(job_path: str, tenant_id: int, object_id: int) -> None:
    """After commit: put a payments job on the default queue (with retries)."""
    from rq import Retry

    from app.extensions import get_queue

    intervals = current_app.config["PAYMENT_JOB_RETRY_INTERVALS"]
    get_queue("default").enqueue(
        job_path,
        tenant_id,
        object_id,
        job_id=f"payments-{job_path.rsplit('.', 1)[-1]}-{tenant_id}-{object_id}",
        retry=Retry(max=len(intervals), interval=intervals),
        job_timeout=120,
    )
