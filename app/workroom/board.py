"""The workroom's kanban board: tasks in three columns (todo, doing, done).

Ordering: each card has a fractional ``position`` within its column. A move puts the card
between its new neighbours (the mean of their positions; ``STEP`` past the end); when the gap
is under ``MIN_GAP`` the column is renumbered (``STEP``, ``2 * STEP`` ...). Every change of a
board locks its contract row first (``services.lock_workroom``), so concurrent moves by both
parties serialize and each one is applied to the order the previous one left: a move names
its place by neighbour (``after_id`` / ``before_id``) or by ``index`` in the target column,
resolved against the current order under the lock (a stale client's move lands next to the
neighbour it named, or at the end when that neighbour left the column).

Events: ``task.updated`` (outbox) ``{"contract_id", "task_id", "action": created | updated |
moved | deleted, "actor_id", "assigned_to"?}`` (``assigned_to``: a party newly assigned by the
other one; notifications tells them). Live: after commit, the contract's Socket.IO room
(``contract_room``: ``t<tenant>:k<contract>``, joined by the parties, ``app/workroom/sockets.py``)
gets ``task`` ``{"action", "contract_id", "task": {...} | {"id"}, "actor_id", "columns": {status:
[task ids in order]}}`` for the columns that changed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.contracts.models import Contract
from app.core.after_commit import on_commit
from app.core.domain_errors import NotFound, PreconditionFailed
from app.core.ids import parse_id
from app.core.text import text_field
from app.events import publish
from app.realtime import emit_to_room
from app.workroom import services
from app.workroom.models import TASK_STATUSES, WorkroomTask
from app.workroom.services import WorkroomError
from tenants.db import current_tenant, db

TITLE_MAX = 200
NOTES_MAX = 5000
MAX_TASKS = 500  # per contract
STEP = 1024.0
MIN_GAP = 1e-6
STATUS_LABELS = {"todo": "To do", "doing": "Doing", "done": "Done"}


class TaskNotFound(NotFound):
    code = "task_not_found"


def contract_room(tenant_id: int, contract_id: int) -> str:
    """The Socket.IO room of one contract's workroom (``t<tenant>:k<contract>``)."""
    return f"t{int(tenant_id)}:k{int(contract_id)}"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def serialize(task: WorkroomTask) -> dict:
    return {
        "id": task.id,
        "contract_id": task.contract_id,
        "title": task.title,
        "notes": task.notes,
        "status": task.status,
        "milestone_id": task.milestone_id,
        "assignee_id": task.assignee_id,
        "position": task.position,
        "version": task.version,
        "created_by": task.created_by,
        "created_at": task.created_at.isoformat() if task.created_at else None,
        "updated_at": task.updated_at.isoformat() if task.updated_at else None,
    }


def board(contract: Contract) -> dict[str, list[WorkroomTask]]:
    """The contract's tasks by column, each column in order."""
    columns: dict[str, list[WorkroomTask]] = {status: [] for status in TASK_STATUSES}
    rows = db.session.scalars(
        sa.select(WorkroomTask)
        .where(WorkroomTask.contract_id == contract.id)
        .order_by(WorkroomTask.position, WorkroomTask.id)
    )
    for task in rows:
        columns[task.status].append(task)
    return columns


def list_tasks(user: User, contract_id: Any) -> list[WorkroomTask]:
    """Every task of the contract (a party's), by column then position."""
    contract = services.open_workroom(user, contract_id)
    columns = board(contract)
    return [task for status in TASK_STATUSES for task in columns[status]]


def _column(contract_id: int, status: str, *, without: int | None = None) -> list[WorkroomTask]:
    query = sa.select(WorkroomTask).where(
        WorkroomTask.contract_id == contract_id, WorkroomTask.status == status
    )
    if without is not None:
        query = query.where(WorkroomTask.id != without)
    return list(
        db.session.scalars(
            query.order_by(WorkroomTask.position, WorkroomTask.id).execution_options(populate_existing=True)
        )
    )


def _get(contract: Contract, task_id: Any) -> WorkroomTask:
    tid = parse_id(task_id)
    task = db.session.get(WorkroomTask, tid, populate_existing=True) if tid else None
    if task is None or task.contract_id != contract.id:
        raise TaskNotFound("This task does not exist.")
    return task


def get_task(user: User, contract_id: Any, task_id: Any) -> WorkroomTask:
    return _get(services.open_workroom(user, contract_id), task_id)


def _clean(contract: Contract, data: dict, *, partial: bool) -> dict:
    """The task's fields from ``data`` (only those given when ``partial``), or WorkroomError."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    if not partial or "title" in data:
        out["title"] = text_field(
            data.get("title"), "title", errors, label="The title", max_len=TITLE_MAX, required=True
        )
    if not partial or "notes" in data:
        out["notes"] = text_field(data.get("notes"), "notes", errors, label="The notes", max_len=NOTES_MAX)
    if not partial or "status" in data:
        status = data.get("status") or "todo"
        if status not in TASK_STATUSES:
            errors["status"] = "The status is todo, doing or done."
        out["status"] = status
    if "milestone_id" in data:
        raw = data.get("milestone_id")
        if raw in (None, ""):
            out["milestone_id"] = None
        else:
            mid = parse_id(raw)
            ids = {m.id for m in services.milestones_of(contract)}
            if mid is None or mid not in ids:
                errors["milestone_id"] = "No milestone of this contract with this id."
            out["milestone_id"] = mid
    if "assignee_id" in data:
        raw = data.get("assignee_id")
        if raw in (None, ""):
            out["assignee_id"] = None
        else:
            uid = parse_id(raw)
            if uid is None or contract.party(uid) is None:
                errors["assignee_id"] = "Assign the task to the client or the freelancer."
            out["assignee_id"] = uid
    if errors:
        raise WorkroomError(errors)
    return out


def _announce(contract: Contract, task_id: int, action: str, actor: User, payload: dict, **extra) -> None:
    publish(
        "task.updated",
        {"contract_id": contract.id, "task_id": task_id, "action": action, "actor_id": actor.id, **extra},
    )
    on_commit(emit_to_room, contract_room(current_tenant().id, contract.id), "task", payload)


def _columns_payload(contract_id: int, statuses) -> dict[str, list[int]]:
    return {status: [t.id for t in _column(contract_id, status)] for status in dict.fromkeys(statuses)}


def create_task(user: User, contract_id: Any, data: dict, *, now: datetime | None = None) -> WorkroomTask:
    """Add a task at the end of its column (``status``, default todo); flushes. Publishes
    ``task.updated`` (created). Raises WorkroomError (field errors), ContractNotFound,
    WorkroomClosed (the contract is not live)."""
    if not isinstance(data, dict):
        raise WorkroomError({"title": "Give the task as an object."})
    contract = services.lock_workroom(user, contract_id, "add tasks")
    fields = _clean(contract, data, partial=False)
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(WorkroomTask).where(WorkroomTask.contract_id == contract.id)
    )
    if count >= MAX_TASKS:
        raise WorkroomError({"title": f"A contract has at most {MAX_TASKS} tasks: delete done ones first."})
    column = _column(contract.id, fields["status"])
    now = _now(now)
    task = WorkroomTask(
        contract_id=contract.id,
        position=(column[-1].position + STEP) if column else STEP,
        created_by=user.id,
        created_at=now,
        updated_at=now,
        version=1,
        **fields,
    )
    db.session.add(task)
    db.session.flush()
    assigned = task.assignee_id if task.assignee_id not in (None, user.id) else None
    _announce(
        contract,
        task.id,
        "created",
        user,
        {
            "action": "created",
            "contract_id": contract.id,
            "actor_id": user.id,
            "task": serialize(task),
            "columns": _columns_payload(contract.id, [task.status]),
        },
        **({"assigned_to": assigned} if assigned else {}),
    )
    return task


def update_task(
    user: User, contract_id: Any, task_id: Any, data: dict, *, now: datetime | None = None
) -> WorkroomTask:
    """Edit a task's title, notes, milestone or assignee (``status`` moves it to the end of
    that column; use ``move_task`` to place it); flushes. ``data["version"]``, when given, must
    be the task's current version (else PreconditionFailed, 412). Publishes ``task.updated``."""
    if not isinstance(data, dict):
        raise WorkroomError({"title": "Give the changes as an object."})
    contract = services.lock_workroom(user, contract_id, "edit tasks")
    task = _get(contract, task_id)
    expected = data.get("version")
    if expected is not None and expected != task.version:
        raise PreconditionFailed(
            "The task changed since you read it: reload it and try again.", extra={"version": task.version}
        )
    fields = _clean(contract, data, partial=True)
    old_status, old_assignee = task.status, task.assignee_id
    new_status = fields.pop("status", old_status)
    for name, value in fields.items():
        setattr(task, name, value)
    if new_status != old_status:
        column = _column(contract.id, new_status)
        task.status = new_status
        task.position = (column[-1].position + STEP) if column else STEP
    task.version += 1
    task.updated_at = _now(now)
    db.session.flush()
    assigned = (
        task.assignee_id
        if task.assignee_id not in (None, user.id) and task.assignee_id != old_assignee
        else None
    )
    _announce(
        contract,
        task.id,
        "updated",
        user,
        {
            "action": "updated",
            "contract_id": contract.id,
            "actor_id": user.id,
            "task": serialize(task),
            "columns": _columns_payload(contract.id, [old_status, task.status]),
        },
        **({"assigned_to": assigned} if assigned else {}),
    )
    return task


def delete_task(user: User, contract_id: Any, task_id: Any) -> None:
    """Delete a task (either party); flushes. Publishes ``task.updated`` (deleted)."""
    contract = services.lock_workroom(user, contract_id, "delete tasks")
    task = _get(contract, task_id)
    status, tid = task.status, task.id
    db.session.delete(task)
    db.session.flush()
    _announce(
        contract,
        tid,
        "deleted",
        user,
        {
            "action": "deleted",
            "contract_id": contract.id,
            "actor_id": user.id,
            "task": {"id": tid},
            "columns": _columns_payload(contract.id, [status]),
        },
    )


def _target_index(column: list[WorkroomTask], contract: Contract, after_id, before_id, index) -> int:
    """Where in ``column`` (the target column without the moving card) the card goes."""
    if index is not None:
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise WorkroomError({"index": "The index is a whole number from 0."})
        return min(index, len(column))
    ids = [t.id for t in column]
    for name, raw, offset in (("after_id", after_id, 1), ("before_id", before_id, 0)):
        if raw is None:
            continue
        nid = parse_id(raw)
        if nid is not None and nid in ids:
            return ids.index(nid) + offset
        neighbour = db.session.get(WorkroomTask, nid) if nid else None
        if neighbour is None or neighbour.contract_id != contract.id:
            raise WorkroomError({name: "No task of this contract with this id."})
        # The neighbour left this column (or is the card itself) since the client looked.
        return len(column)
    return len(column)


def move_task(
    user: User,
    contract_id: Any,
    task_id: Any,
    status: Any,
    *,
    after_id: Any = None,
    before_id: Any = None,
    index: Any = None,
    now: datetime | None = None,
) -> WorkroomTask:
    """Move a task to column ``status``, placed after ``after_id``, before ``before_id`` or at
    ``index`` (0: first) of that column as it is now (none given: at the end); flushes.

    Locks the contract's board first, so moves by both parties apply one after the other to
    the current order. Publishes ``task.updated`` (moved). Raises WorkroomError (unknown
    column or neighbour), TaskNotFound, ContractNotFound, WorkroomClosed.
    """
    contract = services.lock_workroom(user, contract_id, "move tasks")
    task = _get(contract, task_id)
    if status not in TASK_STATUSES:
        raise WorkroomError({"status": "The status is todo, doing or done."})
    old_status = task.status
    column = _column(contract.id, status, without=task.id)
    at = _target_index(column, contract, after_id, before_id, index)
    prev_pos = column[at - 1].position if at > 0 else None
    next_pos = column[at].position if at < len(column) else None
    if prev_pos is None and next_pos is None:
        position = STEP
    elif prev_pos is None:
        position = next_pos - STEP
    elif next_pos is None:
        position = prev_pos + STEP
    else:
        position = (prev_pos + next_pos) / 2
    task.status = status
    if (
        prev_pos is not None
        and next_pos is not None
        and (next_pos - prev_pos < MIN_GAP or not prev_pos < position < next_pos)
    ):
        ordered = column[:at] + [task] + column[at:]
        for i, card in enumerate(ordered, start=1):
            card.position = i * STEP
    else:
        task.position = position
    task.version += 1
    task.updated_at = _now(now)
    db.session.flush()
    _announce(
        contract,
        task.id,
        "moved",
        user,
        {
            "action": "moved",
            "contract_id": contract.id,
            "actor_id": user.id,
            "task": serialize(task),
            "columns": _columns_payload(contract.id, [old_status, status]),
        },
    )
    return task


def step_task(user: User, contract_id: Any, task_id: Any, direction: str, *, now=None) -> WorkroomTask:
    """The no-JavaScript and keyboard moves: ``up`` / ``down`` within the column, ``left`` /
    ``right`` to the neighbouring column's end."""
    contract = services.open_workroom(user, contract_id)
    task = _get(contract, task_id)
    order = list(TASK_STATUSES)
    if direction in ("left", "right"):
        i = order.index(task.status) + (1 if direction == "right" else -1)
        if not 0 <= i < len(order):
            return task
        return move_task(user, contract_id, task.id, order[i], now=now)
    if direction in ("up", "down"):
        ids = [t.id for t in _column(contract.id, task.status)]
        i = ids.index(task.id) + (1 if direction == "down" else -1)
        if not 0 <= i < len(ids):
            return task
        return move_task(user, contract_id, task.id, task.status, index=i, now=now)
    raise WorkroomError({"direction": "Move up, down, left or right."})
