"""Milestones change by mutual agreement during an active contract: one party proposes adding
a milestone, or editing or removing one not funded yet; the other accepts (the milestone
engine applies it, ``orders.milestones.change_milestones``) or declines; the proposer may
withdraw it. One proposal at a time. The SoW stays as signed: accepted changes are its
amendments, listed on the contract.

Events (outbox): ``contract.change_proposed`` and ``contract.change_answered``
``{"contract_id", "change_id", "user_id"[, "status"]}`` (``app.notifications.events`` tells the
other party).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.accounts.models import User
from app.contracts.models import CHANGE_ACTIONS, ContractChange
from app.contracts.services import (
    ContractError,
    ContractForbidden,
    ContractStateError,
    _clean_milestone,
    _due_at,
    _lock_for,
    _now,
    _state_error,
    _text,
    engagement,
    pending_change,
    sync_with_engagement,
)
from app.core.ids import parse_id
from app.events import publish
from app.orders import milestones as engine
from tenants.db import db


def _planned(m: dict) -> engine.PlannedMilestone:
    return engine.PlannedMilestone(
        title=m["title"],
        amount_minor=m["amount_minor"],
        description=m.get("description", ""),
        due_at=_due_at(m.get("due_date")),
        dod=tuple(m.get("dod", [])),
    )


def propose_change(
    user: User,
    contract_id: Any,
    action: Any,
    data: Any,
    *,
    milestone_id: Any = None,
    now: datetime | None = None,
) -> ContractChange:
    """A party proposes to add a milestone, or to edit or remove one not funded yet; the other
    party accepts or declines (``answer_change``). One proposal at a time. Publishes
    ``contract.change_proposed``. Raises ContractError (bad fields), ContractNotFound,
    ContractStateError (not active, a proposal already pending, the milestone already funded).
    """
    now = _now(now)
    if action not in CHANGE_ACTIONS:
        raise ContractError({"action": "Choose add, edit or remove."})
    data = data if isinstance(data, dict) else {}
    errors: dict[str, str] = {}
    note = _text(data.get("note"), "note", errors, label="The note", max_len=1000)
    clean: dict = {}
    if action in ("add", "edit"):
        clean = _clean_milestone(data, "milestone", errors, now.date())
    if errors:
        raise ContractError(errors)
    contract = _lock_for(user, contract_id)
    if contract.status != "active" or contract.payment_model == "hourly":
        raise _state_error(contract, "change its milestones")
    if pending_change(contract) is not None:
        raise ContractStateError(
            "A change is already waiting for an answer: answer or withdraw it first.",
            extra={"current_status": contract.status},
        )
    mid = None
    if action in ("edit", "remove"):
        order = engagement(contract)
        mid = parse_id(milestone_id)
        m = next((x for x in order.milestones if x.id == mid), None)
        if m is None:
            raise ContractError({"milestone_id": "This contract has no such milestone."})
        if m.status not in engine.FUNDABLE:
            raise ContractStateError(
                f"Milestone {m.seq} is {engine.state_label(m.status).lower()}: "
                "only milestones not funded yet change.",
                extra={"current_status": m.status},
            )
    change = ContractChange(
        contract_id=contract.id,
        proposed_by=user.id,
        action=action,
        milestone_id=mid,
        data=clean,
        note=note,
        status="pending",
        created_at=now,
    )
    db.session.add(change)
    db.session.flush()
    publish(
        "contract.change_proposed", {"contract_id": contract.id, "change_id": change.id, "user_id": user.id}
    )
    return change


def answer_change(
    user: User, contract_id: Any, accept: bool, *, now: datetime | None = None
) -> ContractChange:
    """The other party accepts (the change is applied to the engagement) or declines the
    pending change; its proposer may withdraw it (``accept=False``). Publishes
    ``contract.change_answered``. Raises ContractNotFound, ContractForbidden (accepting your
    own), ContractStateError (no change pending), OrderStateError (the milestone was funded
    meanwhile)."""
    if not isinstance(accept, bool):
        raise ContractError({"accept": "Answer true (accept) or false (decline)."})
    now = _now(now)
    contract = _lock_for(user, contract_id)
    change = pending_change(contract)
    if change is None or contract.status != "active":
        raise ContractStateError(
            "No change is waiting for an answer.", extra={"current_status": contract.status}
        )
    own = change.proposed_by == user.id
    if own and accept:
        raise ContractForbidden("The other party accepts your change.")
    change.responded_by, change.responded_at = user.id, now
    if accept:
        planned = _planned(change.data) if change.action in ("add", "edit") else None
        m = engine.change_milestones(
            contract.order_id,
            change.action,
            milestone_id=change.milestone_id,
            planned=planned,
            actor_id=user.id,
            now=now,
        )
        change.milestone_id = m.id
        change.status = "accepted"
        contract.total_minor = engagement(contract).total_minor
    else:
        change.status = "withdrawn" if own else "declined"
    db.session.flush()
    publish(
        "contract.change_answered",
        {"contract_id": contract.id, "change_id": change.id, "user_id": user.id, "status": change.status},
    )
    sync_with_engagement(contract.order_id, now=now)  # removing the last open milestone may end it
    return change
