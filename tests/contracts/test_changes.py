"""Milestones change by mutual agreement during a contract: one party proposes adding a
milestone, or editing or removing one not funded yet; the other accepts or declines."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.contracts import changes, services
from app.contracts.models import Contract, ContractChange
from app.ledger import services as ledger
from app.orders import milestones
from app.orders.models import Order
from tenants.db import db
from tests.helpers import form_tokens, login

from .conftest import user

NEW = {"title": "Admin dashboard", "amount_minor": 50000, "dod": ["Roles work"], "note": "As discussed"}


def _fresh_order(order_id) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order_id)


def test_adding_editing_and_removing_milestones_by_agreement(acme, contract_in, in_tenant, run_jobs):
    h, cid, order_id, (m1, m2) = contract_in(acme, fund=1)
    with in_tenant(acme):
        changes.propose_change(user(h.client), cid, "add", dict(NEW))
        db.session.commit()
        with pytest.raises(services.ContractStateError):  # one proposal at a time
            changes.propose_change(user(h.ann), cid, "remove", {}, milestone_id=m2)
        db.session.rollback()
        with pytest.raises(services.ContractForbidden):  # the other party accepts it
            changes.answer_change(user(h.client), cid, True)
        db.session.rollback()
        changes.answer_change(user(h.ann), cid, True)
        db.session.commit()
        order = _fresh_order(order_id)
        assert [(m.seq, m.title, m.status) for m in order.milestones][-1] == (3, "Admin dashboard", "planned")
        assert order.total_minor == 350000 and db.session.get(Contract, cid).total_minor == 350000

        # Editing milestone 2 (not funded): Ann proposes a lower amount, Cleo accepts.
        changes.propose_change(
            user(h.ann), cid, "edit", {**NEW, "title": "Build", "amount_minor": 150000}, milestone_id=m2
        )
        changes.answer_change(user(h.client), cid, True)
        db.session.commit()
        order = _fresh_order(order_id)
        assert [m.amount_minor for m in order.milestones] == [100000, 150000, 50000]

        # Milestone 1 is funded: it cannot change.
        with pytest.raises(services.ContractStateError) as refused:
            changes.propose_change(user(h.client), cid, "edit", dict(NEW), milestone_id=m1)
        assert refused.value.extra["current_status"] == "funded"
        db.session.rollback()

        # Removing milestone 2, declined then proposed again and accepted.
        changes.propose_change(user(h.client), cid, "remove", {"note": "Out of scope"}, milestone_id=m2)
        changes.answer_change(user(h.ann), cid, False)
        db.session.commit()
        changes.propose_change(user(h.client), cid, "remove", {}, milestone_id=m2)
        changes.answer_change(user(h.ann), cid, True)
        db.session.commit()
        order = _fresh_order(order_id)
        assert [m.status for m in order.milestones] == ["funded", "cancelled", "planned"]
        assert order.total_minor == 150000
        statuses = [
            c.status for c in db.session.scalars(sa.select(ContractChange).order_by(ContractChange.id))
        ]
        assert statuses == ["accepted", "accepted", "declined", "accepted"]
        assert ledger.verify().ok
    run_jobs()
    with in_tenant(acme):
        from app.notifications.models import Notification

        kinds = {(n.user_id, n.kind) for n in db.session.scalars(sa.select(Notification))}
        assert (h.ann, "contract_change_proposed") in kinds and (
            h.client,
            "contract_change_answered",
        ) in kinds


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("add", {"title": "X", "amount_minor": 0}, "milestone.amount_minor"),
        ("add", {"amount_minor": 100}, "milestone.title"),
        ("add", {"title": "X", "amount_minor": 100, "due_date": "1999-12-31"}, "milestone.due_date"),
        ("rename", {}, "action"),
    ],
)
def test_bad_changes_are_refused_and_nothing_changes(acme, contract_in, in_tenant, action, data, field):
    h, cid, order_id, _ = contract_in(acme, fund=1)
    with in_tenant(acme):
        with pytest.raises(services.ContractError) as refused:
            changes.propose_change(user(h.client), cid, action, data)
        assert field in refused.value.errors
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ContractChange)) == 0


def test_removing_the_last_open_milestone_after_paid_work_completes_the_contract(
    acme, contract_in, in_tenant, run_jobs
):
    h, cid, order_id, (m1, m2) = contract_in(acme, fund=1)
    with in_tenant(acme):
        milestones.submit_milestone(user(h.ann), order_id, m1, "Designs", dod_done=[1])
        milestones.accept_milestone(user(h.client), order_id, m1)
        changes.propose_change(user(h.client), cid, "remove", {}, milestone_id=m2)
        changes.answer_change(user(h.ann), cid, True)
        db.session.commit()
        assert _fresh_order(order_id).status == "completed"
        assert db.session.get(Contract, cid).status == "completed"


def test_the_last_live_milestone_cannot_be_removed(acme, contract_in, in_tenant):
    h, cid, order_id, (m1, m2) = contract_in(acme, fund=0)
    with in_tenant(acme):
        changes.propose_change(user(h.client), cid, "remove", {}, milestone_id=m2)
        changes.answer_change(user(h.ann), cid, True)
        db.session.commit()
        changes.propose_change(user(h.client), cid, "remove", {}, milestone_id=m1)
        with pytest.raises(services.orders.OrderStateError) as refused:
            changes.answer_change(user(h.ann), cid, True)
        assert refused.value.code == "last_milestone"


def test_changes_through_the_page_and_the_api(acme, contract_in, tenant_client, in_tenant, api_token):
    h, cid, order_id, (m1, m2) = contract_in(acme, fund=1)
    client = login(tenant_client("acme"), h.emails["client"])
    path = f"/contracts/{cid}"
    r = client.post(
        f"{path}/changes",
        data={
            **form_tokens(client, path),
            "action": "add",
            "title": "Docs",
            "amount": "250",
            "note": "Please",
        },
    )
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    form = {"action": "add", "title": "More"}
    bad = client.post(f"{path}/changes", data={**form_tokens(client, path), **form, "amount": "x"})
    assert bad.status_code == 422
    again = client.post(f"{path}/changes", data={**form_tokens(client, path), **form, "amount": "10"})
    assert again.status_code == 409  # one waits already
    ann, ah = api_token(acme, h.emails["ann"])
    detail = ann.get(f"/api/v1/contracts/{cid}", headers=ah).json
    assert detail["actions"][-1] == "answer_change" and detail["changes"][0]["data"]["amount_minor"] == 25000
    r = ann.post(f"/api/v1/contracts/{cid}/changes/answer", json={"accept": True}, headers=ah)
    assert r.status_code == 200, r.json
    assert [m["title"] for m in r.json["milestones"]][-1] == "Docs" and r.json["total_minor"] == 325000
    r = ann.post(
        f"/api/v1/contracts/{cid}/changes", json={"action": "remove", "milestone_id": m1}, headers=ah
    )
    assert r.status_code == 409 and r.json["errors"]["current_status"] == "funded"


def test_a_pending_change_closes_with_the_contract(acme, contract_in, in_tenant):
    h, cid, order_id, (m1, m2) = contract_in(acme, fund=1)
    with in_tenant(acme):
        change = changes.propose_change(user(h.ann), cid, "remove", {}, milestone_id=m2)
        services.end_contract(user(h.client), cid, "Plans changed")
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(ContractChange, change.id).status == "withdrawn"
        assert services.actions(db.session.get(Contract, cid), user(h.ann)) == []
