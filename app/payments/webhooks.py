"""Stripe webhooks: verified with the tenant's signing secret, de-duplicated by event id,
safe out of order.

Each event is applied in the request's unit of work together with its
``processed_webhooks`` row, so a redelivered event is a no-op and a failed one
is not recorded (Stripe retries it). An event its handler refuses (a
``DomainError``: our records can never take it) is recorded without its
effects (``EventRefused``) instead of being retried for days. State only moves forward: a payment that
succeeded stays succeeded when a late ``payment_intent.payment_failed``
arrives; an event naming something we have not recorded yet (a refund whose
row is not committed) answers 409 so that Stripe delivers it again later.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.core import money
from app.core.after_commit import on_commit
from app.core.domain_errors import DomainError
from app.ledger import services as ledger
from app.payments.models import Payment, Payout, ProcessedWebhook, Refund, SellerPaymentAccount
from app.payments.providers import get_provider
from app.payments.services import (
    PaymentError,
    _enqueue,
    _lock_payment,
    _mark_payout_sent,
    _now,
    _reverse_payout,
    _settings,
    apply_provider_account,
    confirm_payment,
    fail_payment,
    settle_refund,
)
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """The event names an object we do not have yet: answer non-2xx so the provider retries."""


class EventRefused(Exception):
    """A handler refused the event (a ``DomainError`` below 500). Its work is rolled back to a
    savepoint; the event's ``processed_webhooks`` row stays for the caller to commit."""

    def __init__(self, event_id: str, refusal: DomainError):
        super().__init__(refusal.message)
        self.event_id = event_id
        self.refusal = refusal
        self.status = refusal.status
        self.message = refusal.message


def handle_stripe_webhook(payload: bytes, signature_header: str | None) -> str:
    """Verify, de-duplicate and apply one Stripe event. Returns "processed" or "duplicate".

    Raises WebhookRejected (400) for a bad signature, a stale timestamp or a
    bad payload; PaymentError 404 when the tenant does not use Stripe;
    RetryLater when the event is ahead of our records (nothing is recorded, so
    the redelivery is handled); EventRefused when the handler refused it (the
    event is recorded, its handler's work rolled back).
    """
    settings = _settings()
    if settings.payment_provider != "stripe":
        raise PaymentError(404, "This marketplace does not use Stripe.")
    event = get_provider(settings).parse_webhook(payload, signature_header)
    inserted = db.session.execute(
        pg_insert(ProcessedWebhook)
        .values(provider="stripe", event_id=event["id"], event_type=event.get("type", "")[:64])
        .on_conflict_do_nothing()
        .returning(ProcessedWebhook.id)
    ).scalar()
    if inserted is None:
        return "duplicate"
    obj = (event.get("data") or {}).get("object") or {}
    metadata = obj.get("metadata") or {}
    if metadata.get("tenant_id") not in (None, str(current_tenant().id)):
        log.warning("stripe event %s names tenant %s; ignored", event["id"], metadata.get("tenant_id"))
        return "processed"
    handler = _STRIPE_HANDLERS.get(event.get("type"))
    if handler is not None:
        try:
            with db.session.begin_nested():  # a refusal drops the handler's work, not the record
                handler(obj)
        except DomainError as exc:
            if exc.status >= 500:
                raise  # not a refusal but an outage: roll everything back, Stripe retries
            log.error("stripe event %s (%s) refused: %s", event["id"], event.get("type"), exc.message)
            raise EventRefused(event["id"], exc) from exc
    db.session.flush()
    return "processed"


def _payment_of_intent(intent: dict) -> Payment | None:
    payment_id = (intent.get("metadata") or {}).get("payment_id")
    payment = None
    if payment_id and payment_id.isdigit():
        payment = db.session.get(Payment, int(payment_id))
    if payment is None:
        payment = db.session.scalars(
            sa.select(Payment).where(Payment.provider == "stripe", Payment.provider_ref == intent.get("id"))
        ).first()
    if payment is None:
        raise RetryLater(f"payment intent {intent.get('id')} is not known yet")
    if payment.provider_ref not in (None, intent.get("id")):
        # Not ours to act on (metadata copied onto another intent): ignore, don't retry forever.
        log.error("stripe %s names payment %s of another intent; ignored", intent.get("id"), payment.id)
        return None
    return payment


def _on_payment_intent_succeeded(intent: dict) -> None:
    payment = _payment_of_intent(intent)
    if payment is None:
        return
    if payment.provider_ref is None:
        payment.provider_ref = intent["id"]
    captured = intent.get("amount_received") or intent.get("amount")
    same_currency = (intent.get("currency") or "").upper() == payment.currency
    try:
        amount = money.from_provider_amount(int(captured), payment.currency) if same_currency else None
    except (money.MoneyError, TypeError, ValueError):
        amount = None
    if amount is None or amount != payment.amount_minor:
        log.error(
            "stripe %s captured %s %s for payment %s",
            intent.get("id"),
            captured,
            intent.get("currency"),
            payment.id,
        )
        fail_payment(payment.id, "The captured amount does not match the order.")
        return
    try:
        confirm_payment(payment.id, amount_minor=amount, currency=intent.get("currency"))
    except PaymentError as exc:
        if exc.status != 409:
            raise
        # The money arrived but the order cannot take it (cancelled meanwhile, or
        # paid twice): it never entered escrow, so it goes straight back.
        log.warning("stripe %s for payment %s refunded: %s", intent.get("id"), payment.id, exc.message)
        _return_unusable_payment(payment, exc.message)


def _return_unusable_payment(payment: Payment, reason: str) -> None:
    payment = _lock_payment(payment.id)
    payment.status = "succeeded"
    payment.succeeded_at = payment.succeeded_at or _now()
    payment.failure_reason = f"refunded: {reason}"[:255]
    reference = f"unusable:{payment.id}"
    if db.session.scalar(sa.select(Refund.id).where(Refund.reference == reference)):
        return
    refund = Refund(
        payment_id=payment.id,
        order_id=payment.order_id,
        provider=payment.provider,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        status="pending",
        reference=reference,
    )
    db.session.add(refund)
    db.session.flush()
    on_commit(_enqueue, "app.payments.tasks.send_refund", current_tenant().id, refund.id)


def _on_payment_intent_failed(intent: dict) -> None:
    payment = _payment_of_intent(intent)
    if payment is None:
        return
    error = intent.get("last_payment_error") or {}
    fail_payment(payment.id, error.get("message") or "The payment failed.")


def _on_charge_refunded(charge: dict) -> None:
    """Reconcile every refund on the charge: ours (by metadata) and ones made at Stripe."""
    for item in (charge.get("refunds") or {}).get("data") or []:
        refund_id = (item.get("metadata") or {}).get("refund_id")
        refund = None
        if refund_id and refund_id.isdigit():
            refund = db.session.scalars(
                sa.select(Refund).where(Refund.id == int(refund_id)).with_for_update()
            ).first()
            if refund is None:
                raise RetryLater(f"refund {refund_id} is not recorded yet")
        if refund is None:
            refund = db.session.scalars(
                sa.select(Refund)
                .where(Refund.provider == "stripe", Refund.provider_ref == item["id"])
                .with_for_update()
            ).first()
        if refund is None:
            _record_outside_refund(charge, item)
            continue
        refund.provider_ref = refund.provider_ref or item["id"]
        if refund.status == "pending" and item.get("status") in ("succeeded", "failed", "canceled"):
            settle_refund(refund, item["status"])


def _record_outside_refund(charge: dict, item: dict) -> None:
    """A refund made at Stripe (the dashboard): take it out of the order's escrow too."""
    payment = db.session.scalars(
        sa.select(Payment).where(
            Payment.provider == "stripe", Payment.provider_ref == charge.get("payment_intent")
        )
    ).first()
    if payment is None or item.get("status") != "succeeded":
        return
    try:
        amount = money.from_provider_amount(int(item["amount"]), payment.currency)
    except money.MoneyError as exc:
        log.error("stripe refund %s of payment %s needs an operator: %s", item["id"], payment.id, exc)
        return
    refund = Refund(
        payment_id=payment.id,
        order_id=payment.order_id,
        provider="stripe",
        provider_ref=item["id"],
        amount_minor=amount,
        currency=payment.currency,
        status="succeeded",
        origin="provider",
        succeeded_at=_now(),
    )
    db.session.add(refund)
    db.session.flush()
    try:
        with db.session.begin_nested():  # refused: the refund row stays, flagged for an operator
            ledger.refund_escrow(
                payment.order_id,
                payment.milestone_id,
                payment.buyer_id,
                refund.amount_minor,
                refund.currency,
                item["id"],
            )
    except ledger.LedgerError as exc:
        refund.failure_reason = f"not in escrow any more, needs an operator: {exc}"[:255]
        log.error(
            "stripe refund %s of order %s could not come out of escrow: %s", item["id"], payment.order_id, exc
        )


def _on_account_updated(account: dict) -> None:
    row = db.session.scalars(
        sa.select(SellerPaymentAccount).where(
            SellerPaymentAccount.provider == "stripe", SellerPaymentAccount.account_ref == account.get("id")
        )
    ).first()
    if row is not None:
        apply_provider_account(row, account)


def _payout_of_transfer(transfer: dict) -> Payout | None:
    payout_id = (transfer.get("metadata") or {}).get("payout_id")
    if not (payout_id and payout_id.isdigit()):
        return None
    payout = db.session.scalars(
        sa.select(Payout).where(Payout.id == int(payout_id)).with_for_update()
    ).first()
    if payout is None:
        raise RetryLater(f"payout {payout_id} is not recorded yet")
    return payout


def _on_transfer_created(transfer: dict) -> None:
    payout = _payout_of_transfer(transfer)
    if payout is None:
        return
    payout.provider_ref = payout.provider_ref or transfer.get("id")
    _mark_payout_sent(payout)


def _on_transfer_reversed(transfer: dict) -> None:
    payout = _payout_of_transfer(transfer)
    if payout is None:
        return
    payout.provider_ref = payout.provider_ref or transfer.get("id")
    _reverse_payout(payout, "reversed", "the transfer was reversed at Stripe")


_STRIPE_HANDLERS = {
    "payment_intent.succeeded": _on_payment_intent_succeeded,
    "payment_intent.payment_failed": _on_payment_intent_failed,
    "charge.refunded": _on_charge_refunded,
    "account.updated": _on_account_updated,
    "transfer.created": _on_transfer_created,
    "transfer.reversed": _on_transfer_reversed,
}
