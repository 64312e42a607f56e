"""The payouts back office: sellers' identity verification (KYC) in the sandbox, operators'
holds on a seller's payouts, and the retry of a failed payout.

KYC. Payouts need the seller's account at the tenant's provider to be ``verified``
(``services.payout_refusal``). With Stripe the status comes from Stripe
(``services.apply_provider_account``, from ``account.updated``). The sandbox has no one to
check identities, so it simulates the flow: the seller starts it on the earnings page
(``start_sandbox_verification``: their sandbox account becomes ``pending``) and an operator
completes it in the console (``decide_sandbox_kyc``: ``verified`` or ``rejected`` with a note).
Nothing is sent anywhere: the status is the only thing that changes.

Holds. ``place_hold`` stops every new payout of a seller (requested or scheduled; the money
stays on the available balance) until ``release_hold``. At most one hold is active per seller
(a partial unique index backs the check). Payouts already requested before the hold go on.

Retry. ``retry_payout`` pays a ``failed`` payout again as a new payout (``retry_of_id``) of the
same amount: a failed payout's money already went back to the seller's available balance (the
``payout-returned:`` adjustment), and the provider refused the transfer, so nothing was paid.
The new payout is recorded in the ledger under its own reference and sent with its own
idempotency key (``<tenant>:transfer:<new id>``); the row lock on the failed payout and the
unique ``retry_of_id`` let a failed payout be retried once, so two operators pressing Retry
at once make one payout. It goes through the same gates as any payout (KYC, hold, balance).

Every function flushes and never commits; the console action that calls it audits and the
request commits. Refusals are ``PaymentError`` (404 a user or payout this marketplace does not
have, another marketplace's ids included; 403 not an admin; 409 with a code; 422 field errors).

Events (payload ``{"user_id", "hold_id"}``), for the notifications domain to tell the seller:
``payout.held`` and ``payout.hold_released``; ``payout_account.kyc_changed``
``{"user_id", "old", "new"}`` when a KYC status changes.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.accounts.models import User
from app.core.ids import INT32_MAX, parse_id
from app.events import publish
from app.payments.models import Payout, PayoutHold, SellerPaymentAccount
from app.payments.services import (
    PaymentError,
    _now,
    _provider,
    active_hold,
    request_payout,
)
from tenants.db import db

REASON_MAX = 1000
NOTE_MAX = 1000
SANDBOX_DECISIONS = ("verified", "rejected")


def _text(value, field: str, label: str, *, required: bool, max_len: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise PaymentError(422, f"Enter {label}.", {field: f"Enter {label}."})
        return None
    if not isinstance(value, str):
        raise PaymentError(422, f"{label.capitalize()} must be text.", {field: "Must be text."})
    value = value.strip()
    if len(value) > max_len:
        message = f"At most {max_len:,} characters."
        raise PaymentError(422, message, {field: message})
    return value


def _require_admin(actor: User) -> None:
    if actor is None or not actor.is_admin:
        raise PaymentError(403, "Only the marketplace's admins manage payouts.")


def seller_for_payouts(user_id) -> User:
    """The seller ``user_id`` of this marketplace. Raises PaymentError 404 (unknown here: another
    marketplace's users included), 409 ``not_a_seller``."""
    uid = parse_id(user_id, maximum=INT32_MAX)
    user = db.session.get(User, uid) if uid is not None else None
    if user is None:
        raise PaymentError(404, "No such user in this marketplace.")
    if not user.is_seller:
        raise PaymentError(
            409, f"{user.display_name} is not a seller: there are no payouts.", code="not_a_seller"
        )
    return user


# --- KYC: the sandbox's simulated verification ---------------------------------------------


def _sandbox_only() -> None:
    if _provider().name != "sandbox":
        raise PaymentError(
            409,
            "This marketplace pays out with Stripe: Stripe verifies sellers' identities.",
            code="not_sandbox",
        )


def start_sandbox_verification(seller: User, now: datetime | None = None) -> SellerPaymentAccount:
    """The seller asks for the sandbox's (simulated) identity check: their sandbox account is
    created if needed and becomes ``pending`` until an operator decides. Starting again while
    pending changes nothing; after a rejection it starts over. Raises PaymentError 403 not a
    seller, 409 ``not_sandbox`` (Stripe verifies), 409 ``kyc_verified`` (already verified)."""
    if not seller.is_seller:
        raise PaymentError(403, "Only sellers verify their identity for payouts.")
    _sandbox_only()
    db.session.execute(
        pg_insert(SellerPaymentAccount)
        .values(
            user_id=seller.id,
            provider="sandbox",
            account_ref=f"sandbox_acct_{seller.id}",
            ready=False,
            kyc_status="none",
        )
        .on_conflict_do_nothing()
    )
    account = db.session.scalars(
        sa.select(SellerPaymentAccount)
        .where(SellerPaymentAccount.user_id == seller.id, SellerPaymentAccount.provider == "sandbox")
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if account.kyc_status == "verified":
        raise PaymentError(409, "Your identity is already verified.", code="kyc_verified")
    if account.kyc_status != "pending":
        old = account.kyc_status
        account.kyc_status, account.ready = "pending", False
        account.kyc_requirements = ["operator_review"]
        account.kyc_note = None
        account.kyc_checked_at = now or _now()
        publish("payout_account.kyc_changed", {"user_id": seller.id, "old": old, "new": "pending"})
    db.session.flush()
    return account


def decide_sandbox_kyc(
    admin: User, user_id, status, note=None, now: datetime | None = None
) -> tuple[SellerPaymentAccount, str]:
    """An operator completes the sandbox's simulated check: ``status`` ``verified`` or
    ``rejected`` (a note is required then; the seller reads it). Returns the account and the
    status it had. Raises PaymentError 403 not an admin, 404 unknown user, 409
    ``not_a_seller``, ``not_sandbox`` (Stripe decides), ``kyc_not_started`` (the seller has not
    asked), ``kyc_unchanged`` (already so), 422 an unknown status or a missing note."""
    _require_admin(admin)
    if status not in SANDBOX_DECISIONS:
        raise PaymentError(422, "Choose verified or rejected.", {"status": "Choose verified or rejected."})
    note = _text(note, "note", "a note for the seller", required=status == "rejected", max_len=NOTE_MAX)
    seller = seller_for_payouts(user_id)
    _sandbox_only()
    account = db.session.scalars(
        sa.select(SellerPaymentAccount)
        .where(SellerPaymentAccount.user_id == seller.id, SellerPaymentAccount.provider == "sandbox")
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if account is None or account.kyc_status == "none":
        raise PaymentError(
            409,
            f"{seller.display_name} has not started identity verification yet.",
            code="kyc_not_started",
        )
    old = account.kyc_status
    if old == status:
        raise PaymentError(409, f"This seller is already {status}.", code="kyc_unchanged")
    account.kyc_status, account.ready = status, status == "verified"
    account.kyc_requirements = [] if status == "verified" else ["operator_review"]
    account.kyc_note = note
    account.kyc_checked_at = now or _now()
    publish("payout_account.kyc_changed", {"user_id": seller.id, "old": old, "new": status})
    db.session.flush()
    return account, old


# --- holds ---------------------------------------------------------------------------------


def place_hold(admin: User, user_id, reason, now: datetime | None = None) -> PayoutHold:
    """Hold the seller's payouts with ``reason`` (kept for operators; the seller is told to
    contact support). Publishes ``payout.held``. Raises PaymentError 403 not an admin, 404
    unknown user, 409 ``not_a_seller``, 409 ``hold_active`` (one is already active), 422 an
    empty or overlong reason."""
    _require_admin(admin)
    reason = _text(reason, "reason", "a reason", required=True, max_len=REASON_MAX)
    seller = seller_for_payouts(user_id)
    hold_id = db.session.execute(
        pg_insert(PayoutHold)
        .values(user_id=seller.id, reason=reason, placed_by=admin.id, placed_at=now or _now())
        .on_conflict_do_nothing(index_elements=["user_id"], index_where=sa.text("released_at IS NULL"))
        .returning(PayoutHold.id)
    ).scalar()
    if hold_id is None:
        raise PaymentError(409, f"Payouts of {seller.display_name} are already on hold.", code="hold_active")
    hold = db.session.get(PayoutHold, hold_id)
    publish("payout.held", {"user_id": seller.id, "hold_id": hold.id})
    db.session.flush()
    return hold


def release_hold(admin: User, user_id, note=None, now: datetime | None = None) -> PayoutHold:
    """Release the seller's active hold (``note``: optional, for operators). Publishes
    ``payout.hold_released``. Raises PaymentError 403 not an admin, 404 unknown user, 409
    ``not_a_seller``, 409 ``no_active_hold``, 422 an overlong note."""
    _require_admin(admin)
    note = _text(note, "note", "a note", required=False, max_len=NOTE_MAX)
    seller = seller_for_payouts(user_id)
    hold = active_hold(seller.id, lock=True)
    if hold is None:
        raise PaymentError(409, f"Payouts of {seller.display_name} are not on hold.", code="no_active_hold")
    hold.released_at, hold.released_by, hold.release_note = now or _now(), admin.id, note
    publish("payout.hold_released", {"user_id": seller.id, "hold_id": hold.id})
    db.session.flush()
    return hold


# --- retry ---------------------------------------------------------------------------------


def retry_payout(admin: User, payout_id) -> Payout:
    """Pay a failed payout again, as a new payout of the same amount (see the module's
    docstring: the ledger stays balanced and nothing is paid twice). Returns the new payout
    (``sent`` at once in the sandbox, ``pending`` until its transfer job with Stripe). Raises
    PaymentError 403 not an admin, 404 unknown payout, 409 ``not_failed``
    (``errors.current_status``), 409 ``already_retried``, and the refusals of any payout
    (``kyc_required``, ``payouts_held``, more than the available balance)."""
    _require_admin(admin)
    pid = parse_id(payout_id, maximum=INT32_MAX)
    payout = (
        db.session.scalars(
            sa.select(Payout)
            .where(Payout.id == pid)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()
        if pid is not None
        else None
    )
    if payout is None:
        raise PaymentError(404, "No such payout in this marketplace.")
    if payout.status != "failed":
        raise PaymentError(
            409,
            f"Payout #{payout.id} is {payout.status}: only a failed payout can be retried.",
            code="not_failed",
            extra={"current_status": payout.status},
        )
    again = db.session.scalar(sa.select(Payout.id).where(Payout.retry_of_id == payout.id))
    if again is not None:
        raise PaymentError(
            409,
            f"Payout #{payout.id} was already retried as payout #{again}.",
            code="already_retried",
            extra={"retry_id": again},
        )
    seller = db.session.get(User, payout.seller_id)
    return request_payout(seller, payout.amount_minor, retry_of=payout)
