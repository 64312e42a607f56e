"""Console actions on contracts: each calls the contracts domain's rule and writes the audit
entry in the same transaction (the request's unit of work commits both, or rolls both back on
a refusal).

The rule and every refusal live in ``app/contracts/services.py``
(``operator_end_contract``); the web view and the API call only this action, so both are
audited alike.

Audit action (``changes`` is ``{"field": [old, new]}`` plus details):

- ``contract.end`` (target ``contract``): the money it moved (``refunded_minor`` to the
  client, ``released_minor`` before the end), the milestones' states before and after, the
  reason. Both parties are told by the ``contract.ended`` event the service publishes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.console.audit import record_audit
from app.contracts import services
from app.contracts.models import Contract
from app.core import money
from app.orders.models import Order, OrderEvent
from tenants.db import db


def _who(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return f"{user.display_name} <{user.email}>" if user is not None else "a deleted account"


def _milestones(order: Order | None) -> dict[str, str]:
    return {str(m.seq): m.status for m in sorted(order.milestones, key=lambda m: m.seq)} if order else {}


def end_contract(
    actor: User, contract_id: Any, reason: Any, *, now: datetime | None = None
) -> tuple[Contract, int]:
    """End an active contract as the marketplace (``services.operator_end_contract``: money
    held in escrow goes back to the client, both parties are told) and audit it as
    ``contract.end``. Returns the contract and what this end refunded. Raises
    ContractForbidden (403), ContractError (the reason, 422), ContractNotFound (404),
    ContractStateError (409, not active)."""
    current = services.get_contract(actor, contract_id) if actor.is_admin else None
    order = services.engagement(current) if current is not None else None
    before = {
        "status": current.status if current else None,
        "milestones": _milestones(order),
    }
    contract = services.operator_end_contract(actor, contract_id, reason, now=now)
    order = services.engagement(contract)
    # What this end refunded, as the engine recorded it under the order's lock (the snapshot
    # above is read before the lock: informative, not the money).
    ending = db.session.scalar(
        sa.select(OrderEvent)
        .where(OrderEvent.order_id == order.id, OrderEvent.kind.in_(("completed", "cancelled")))
        .order_by(OrderEvent.id.desc())
        .limit(1)
    )
    refunded = int((ending.data or {}).get("refund_minor", 0)) if ending is not None else 0
    released = sum(
        m.amount_minor - m.refunded_minor
        for m in order.milestones
        if m.status in ("paid", "partially_refunded")
    )
    refund_text = (
        f"refunded {money.format(refunded, contract.currency)} to the client"
        if refunded
        else "nothing to refund"
    )
    record_audit(
        actor,
        "contract.end",
        "contract",
        contract.id,
        f"Ended contract {contract.number} “{contract.title}” between {_who(contract.client_id)} and "
        f"{_who(contract.freelancer_id)} ({refund_text}): {contract.end_reason}",
        {
            "status": [before["status"], contract.status],
            "milestones": [before["milestones"], _milestones(order)],
            "reason": contract.end_reason,
            "order_id": contract.order_id,
            "refunded_minor": refunded,
            "released_minor": released,
            "currency": contract.currency,
        },
    )
    return contract, refunded
