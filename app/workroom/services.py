"""Who may enter a contract's workroom, and what other domains ask of it.

The workroom of a contract opens when its engagement does (both signed: ``order_id`` set)
and is the two parties' only (an operator reads contracts in the console, not here). It
stays readable after the contract ends; changes need a live contract (``active``, or
``paused`` for hourly contracts): anything else is a 409 naming the contract's status.

The parts live in their own modules: ``board`` (kanban tasks), ``calendar`` (events, the
``.ics`` feed, reminders) and ``files`` (uploads and the list of everything shared).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup

from app.accounts.models import User
from app.contracts import services as contracts
from app.contracts.models import Contract
from app.core.domain_errors import Conflict, DomainError
from app.core.ids import parse_id
from tenants.db import db

# A paused (hourly) contract keeps its workroom open for planning.
WRITABLE = ("active", "paused")


class WorkroomError(DomainError):
    code = "workroom_invalid"


class WorkroomClosed(Conflict):
    code = "workroom_closed"


def _refuse_closed(contract: Contract, doing: str) -> WorkroomClosed:
    label = contracts.status_label(contract.status).lower()
    return WorkroomClosed(
        f"Contract {contract.number} is {label}: the workroom is read-only, you cannot {doing}.",
        extra={"current_status": contract.status},
    )


def open_workroom(user: User, contract_id: Any) -> Contract:
    """The contract whose workroom ``user`` (a party) may read. ContractNotFound for anyone
    else (admins included) and for a contract whose engagement has not opened yet."""
    contract = contracts.get_contract(user, contract_id)
    if contract.party(user.id) is None or contract.order_id is None:
        raise contracts.ContractNotFound("This contract does not exist.")
    return contract


def is_writable(contract: Contract) -> bool:
    return contract.status in WRITABLE


def lock_workroom(user: User, contract_id: Any, doing: str) -> Contract:
    """``open_workroom`` for a change: the contract row locked (``FOR NO KEY UPDATE``: changes
    of one board serialize, inserts referencing the contract are not blocked) and live, else
    WorkroomClosed (409)."""
    contract = open_workroom(user, contract_id)
    db.session.execute(
        sa.select(Contract.id).where(Contract.id == contract.id).with_for_update(key_share=True)
    )
    db.session.refresh(contract, ["status"])
    if not is_writable(contract):
        raise _refuse_closed(contract, doing)
    return contract


def task_in_contract(contract_id: Any, task_id: Any):
    """The task ``task_id`` when it belongs to contract ``contract_id``, else None (the hourly
    domain checks a time entry's linked task with it)."""
    from app.workroom.models import WorkroomTask

    cid, tid = parse_id(contract_id), parse_id(task_id)
    if cid is None or tid is None:
        return None
    task = db.session.get(WorkroomTask, tid)
    return task if task is not None and task.contract_id == cid else None


def milestones_of(contract: Contract) -> list:
    """The engagement's milestones, in order (the side panel, the files' groups, task links)."""
    order = contracts.engagement(contract)
    return sorted(order.milestones, key=lambda m: m.seq) if order is not None else []


def parties(contract: Contract) -> dict[int, User]:
    return contracts.users_by_id({contract.client_id, contract.freelancer_id})


# --------------------------------------------------------------------------- side panels

# A higher domain's card in the workroom's side panel (hourly: this week's time), registered
# in app/__init__.py::_register_domain_hooks: ``panel(contract, viewer) -> Markup | None``
# (None: nothing to show for this contract). Called on every tab, for a party only.
SidePanel = Callable[[Contract, User], Markup | None]
_side_panels: list[SidePanel] = []


def register_side_panel(panel: SidePanel) -> None:
    if panel not in _side_panels:
        _side_panels.append(panel)


def side_panels(contract: Contract, viewer: User) -> list[Markup]:
    """The registered side-panel cards of ``contract`` as ``viewer`` (a party) sees them."""
    if contract.party(viewer.id) is None:
        return []
    return [html for html in (panel(contract, viewer) for panel in _side_panels) if html]
