"""The kanban board: tasks CRUD, ordering, concurrent moves by both parties, cross-tenant."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.contracts.models import Contract
from app.contracts.services import ContractNotFound
from app.core.domain_errors import PreconditionFailed
from app.events.models import OutboxEvent
from app.workroom import board, services
from app.workroom.models import WorkroomTask
from app.workroom.services import WorkroomClosed, WorkroomError
from tenants.db import db
from tests.workroom.conftest import user


def titles(contract_id, status):
    return [
        t.title
        for t in db.session.scalars(
            sa.select(WorkroomTask)
            .where(WorkroomTask.contract_id == contract_id, WorkroomTask.status == status)
            .order_by(WorkroomTask.position, WorkroomTask.id)
        )
    ]


def test_parties_add_edit_move_and_delete_tasks(acme, room, in_tenant):
    r = room(acme)
    with in_tenant(acme):
        cleo, ann = user(r.client), user(r.ann)
        a = board.create_task(
            cleo, r.contract_id, {"title": "Wireframes", "milestone_id": r.milestone_ids[0]}
        )
        b = board.create_task(ann, r.contract_id, {"title": "API", "assignee_id": r.ann})
        c = board.create_task(ann, r.contract_id, {"title": "Deploy", "status": "doing"})
        db.session.commit()
        assert titles(r.contract_id, "todo") == ["Wireframes", "API"]
        assert titles(r.contract_id, "doing") == ["Deploy"]

        board.move_task(ann, r.contract_id, b.id, "todo", index=0)
        assert titles(r.contract_id, "todo") == ["API", "Wireframes"]
        board.move_task(cleo, r.contract_id, a.id, "doing", after_id=c.id)
        assert titles(r.contract_id, "doing") == ["Deploy", "Wireframes"]
        board.move_task(cleo, r.contract_id, a.id, "doing", before_id=c.id)
        assert titles(r.contract_id, "doing") == ["Wireframes", "Deploy"]
        board.step_task(ann, r.contract_id, c.id, "right")
        assert titles(r.contract_id, "done") == ["Deploy"]

        edited = board.update_task(
            cleo, r.contract_id, a.id, {"title": "Wireframes v2", "version": a.version}
        )
        assert edited.title == "Wireframes v2"
        with pytest.raises(PreconditionFailed):
            board.update_task(cleo, r.contract_id, a.id, {"title": "stale", "version": 1})
        board.delete_task(ann, r.contract_id, b.id)
        db.session.commit()
        assert [t.title for t in board.list_tasks(ann, r.contract_id)] == ["Wireframes v2", "Deploy"]
        kinds = db.session.scalars(
            sa.select(OutboxEvent.payload["action"].astext).where(OutboxEvent.name == "task.updated")
        ).all()
        assert {"created", "moved", "updated", "deleted"} <= set(kinds)
        assert services.task_in_contract(r.contract_id, a.id) is not None
        assert services.task_in_contract(r.contract_id + 1, a.id) is None


def test_bad_task_input_is_refused_with_field_errors(acme, room, in_tenant):
    r = room(acme)
    with in_tenant(acme):
        cleo = user(r.client)
        with pytest.raises(WorkroomError) as err:
            board.create_task(
                cleo,
                r.contract_id,
                {"title": " ", "status": "later", "assignee_id": r.bob, "milestone_id": 999999},
            )
        assert set(err.value.errors) == {"title", "status", "assignee_id", "milestone_id"}
        task = board.create_task(cleo, r.contract_id, {"title": "x" * 200})
        with pytest.raises(WorkroomError):
            board.move_task(cleo, r.contract_id, task.id, "nowhere")
        with pytest.raises(WorkroomError):
            board.move_task(cleo, r.contract_id, task.id, "todo", after_id=987654)


def test_strangers_and_admins_see_no_workroom(acme, room, in_tenant):
    r = room(acme)
    with in_tenant(acme):
        for outsider in (r.bob, r.member):
            with pytest.raises(ContractNotFound):
                board.list_tasks(user(outsider), r.contract_id)
            with pytest.raises(ContractNotFound):
                board.create_task(user(outsider), r.contract_id, {"title": "sneaky"})


def test_an_ended_contract_is_read_only(acme, room, in_tenant):
    r = room(acme)
    with in_tenant(acme):
        cleo = user(r.client)
        task = board.create_task(cleo, r.contract_id, {"title": "Keep me"})
        db.session.get(Contract, r.contract_id).status = "completed"
        db.session.commit()
        assert [t.title for t in board.list_tasks(cleo, r.contract_id)] == ["Keep me"]
        with pytest.raises(WorkroomClosed) as err:
            board.move_task(cleo, r.contract_id, task.id, "done")
        assert err.value.status == 409 and err.value.extra["current_status"] == "completed"


def test_renumbering_keeps_a_total_order_when_gaps_shrink(acme, room, in_tenant):
    r = room(acme)
    with in_tenant(acme):
        ann = user(r.ann)
        ids = [board.create_task(ann, r.contract_id, {"title": f"T{i}"}).id for i in range(3)]
        # Always between the first two: the gap halves each time until the column is renumbered.
        for _ in range(60):
            board.move_task(ann, r.contract_id, ids[2], "todo", index=1)
            board.move_task(ann, r.contract_id, ids[1], "todo", index=1)
        db.session.commit()
        positions = [t.position for t in board.board(db.session.get(Contract, r.contract_id))["todo"]]
        assert len(set(positions)) == 3 and positions == sorted(positions)


def test_concurrent_moves_by_both_parties_leave_a_total_order(acme, room, in_tenant, app):
    r = room(acme)
    with in_tenant(acme):
        ids = [board.create_task(user(r.client), r.contract_id, {"title": f"T{i}"}).id for i in range(8)]
        db.session.commit()

    errors: list = []
    barrier = threading.Barrier(2)

    def mover(user_id, seed):
        import random

        rng = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(15):
                with in_tenant(acme):
                    task = rng.choice(ids)
                    board.move_task(
                        user(user_id),
                        r.contract_id,
                        task,
                        rng.choice(["todo", "doing"]),
                        index=rng.randint(0, 8),
                    )
                    db.session.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=mover, args=(uid, n)) for n, uid in enumerate((r.client, r.ann))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with in_tenant(acme):
        rows = db.session.scalars(
            sa.select(WorkroomTask).where(WorkroomTask.contract_id == r.contract_id)
        ).all()
        assert sorted(t.id for t in rows) == sorted(ids)  # every task present, once
        for status in ("todo", "doing"):
            positions = [t.position for t in rows if t.status == status]
            assert len(positions) == len(set(positions)), f"duplicate positions in {status}"
        assert sum(t.version for t in rows) == 8 + 30  # every move applied


def test_tasks_of_another_tenant_with_equal_ids_stay_apart(acme, globex, room, in_tenant):
    a, g = room(acme), room(globex)
    assert (a.contract_id, a.client) == (g.contract_id, g.client)
    with in_tenant(acme):
        task_id = board.create_task(user(a.client), a.contract_id, {"title": "Acme only"}).id
        db.session.commit()
    with in_tenant(globex):
        assert board.list_tasks(user(g.client), g.contract_id) == []
        with pytest.raises(board.TaskNotFound):
            board.move_task(user(g.client), g.contract_id, task_id, "done")
