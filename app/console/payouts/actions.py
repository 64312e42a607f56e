"""Console actions on payouts: each calls the payments back office (``app/payments/backoffice.py``)
and writes the audit entry in the same transaction (the request's unit of work commits both, or
rolls both back on a refusal). The web views and the API call only these, so both are audited
alike.

Audit actions (``changes`` is ``{"field": [old, new]}`` plus details):

- ``payout.retry`` (target ``payout``, the failed one): the new payout's id, amount, status;
- ``payout_account.kyc`` (target ``user``): the sandbox's KYC decision, old and new status, note;
- ``payout.hold`` (target ``user``): the hold's id and reason;
- ``payout.hold_release`` (target ``user``): the hold's id, its reason, the release note.

The seller is told by the events the back office publishes (``payout.held``,
``payout.hold_released``, ``payout_account.kyc_changed``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.accounts.models import User
from app.console.audit import record_audit
from app.core import money
from app.payments import backoffice
from app.payments.models import Payout, PayoutHold, SellerPaymentAccount
from tenants.db import db


def _who(user: User) -> str:
    return f"{user.display_name} <{user.email}>"


def retry_payout(actor: User, payout_id: Any) -> Payout:
    """``backoffice.retry_payout`` and the ``payout.retry`` audit entry; returns the new payout."""
    new = backoffice.retry_payout(actor, payout_id)
    seller = db.session.get(User, new.seller_id)
    record_audit(
        actor,
        "payout.retry",
        "payout",
        new.retry_of_id,
        f"Retried failed payout #{new.retry_of_id} of {_who(seller)} as payout #{new.id} "
        f"({money.format(new.amount_minor, new.currency)}, {new.status})",
        {
            "retry_id": new.id,
            "seller_id": seller.id,
            "amount_minor": new.amount_minor,
            "currency": new.currency,
            "status": new.status,
        },
    )
    return new


def decide_kyc(
    actor: User, user_id: Any, status: Any, note: Any = None, *, now: datetime | None = None
) -> SellerPaymentAccount:
    """``backoffice.decide_sandbox_kyc`` and the ``payout_account.kyc`` audit entry."""
    account, old = backoffice.decide_sandbox_kyc(actor, user_id, status, note, now=now)
    seller = db.session.get(User, account.user_id)
    record_audit(
        actor,
        "payout_account.kyc",
        "user",
        seller.id,
        f"Sandbox identity check of {_who(seller)}: {old} → {account.kyc_status}"
        + (f": {account.kyc_note}" if account.kyc_note else ""),
        {"kyc_status": [old, account.kyc_status], "note": account.kyc_note, "provider": account.provider},
    )
    return account


def place_hold(actor: User, user_id: Any, reason: Any, *, now: datetime | None = None) -> PayoutHold:
    """``backoffice.place_hold`` and the ``payout.hold`` audit entry."""
    hold = backoffice.place_hold(actor, user_id, reason, now=now)
    seller = db.session.get(User, hold.user_id)
    record_audit(
        actor,
        "payout.hold",
        "user",
        seller.id,
        f"Held the payouts of {_who(seller)}: {hold.reason}",
        {"hold_id": hold.id, "held": [False, True], "reason": hold.reason},
    )
    return hold


def release_hold(actor: User, user_id: Any, note: Any = None, *, now: datetime | None = None) -> PayoutHold:
    """``backoffice.release_hold`` and the ``payout.hold_release`` audit entry."""
    hold = backoffice.release_hold(actor, user_id, note, now=now)
    seller = db.session.get(User, hold.user_id)
    record_audit(
        actor,
        "payout.hold_release",
        "user",
        seller.id,
        f"Released the hold on the payouts of {_who(seller)}"
        + (f": {hold.release_note}" if hold.release_note else ""),
        {"hold_id": hold.id, "held": [True, False], "reason": hold.reason, "note": hold.release_note},
    )
    return hold
