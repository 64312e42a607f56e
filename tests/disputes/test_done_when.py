"""Issue #16's "Done when" through the API, for a contract milestone: the client opens a
dispute on a funded milestone (its escrow locked, the other milestone going on), the freelancer
answers with the milestone's Definition of Done and escalates, an operator admin decides a 60/40
split through the console API; the milestone's money is split exactly, the engagement goes on;
the parties, the mediator queue and the admins were told at each step (bells with their links);
the ledger verifies."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.ledger import services as ledger
from app.notifications.models import Notification
from app.orders.models import Milestone, Order
from tenants.db import db
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import bearer_headers


def _bells(in_tenant, tenant, user_id) -> list[tuple[str, str]]:
    with in_tenant(tenant):
        rows = db.session.scalars(
            sa.select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
        )
        return [(n.kind, n.url) for n in rows if n.kind.startswith("dispute_")]


def test_a_disputed_milestone_up_the_ladder_through_the_api(
    acme, contract_in, api_token, tenant_client, in_tenant, run_jobs
):
    h, contract_id, order_id, ids = contract_in(acme, fund=2)
    client, ch = api_token(acme, h.emails["client"])
    ann, ah = api_token(acme, h.emails["ann"])
    body = {
        "order_id": order_id,
        "milestone_id": ids[0],
        "reason": "quality",
        "statement": "The ERD misses half of the entities.",
    }
    opened = client.post("/api/v1/disputes", json=body, headers={**ch, "Idempotency-Key": "dw-open"})
    assert opened.status_code == 201, opened.json
    dispute_id = opened.json["id"]
    run_jobs()  # the worker tells the freelancer now (a resolved dispute is no longer told as opened)
    # Locked: the milestone cannot be submitted or accepted; the other milestone goes on.
    refused = ann.post(
        f"/api/v1/orders/{order_id}/milestones/{ids[0]}/submit",
        json={"message": "Here", "dod_done": [1]},
        headers=ah,
    )
    assert refused.status_code == 409
    goes_on = ann.post(
        f"/api/v1/orders/{order_id}/milestones/{ids[1]}/submit", json={"message": "Built"}, headers=ah
    )
    assert goes_on.status_code == 200, goes_on.json

    dod = ann.post(
        f"/api/v1/disputes/{dispute_id}/evidence", json={"kind": "dod", "text": "All ticked"}, headers=ah
    )
    assert dod.status_code == 201, dod.json
    escalated = ann.post(
        f"/api/v1/disputes/{dispute_id}/escalate", json={"reason": "We disagree"}, headers=ah
    )
    assert escalated.status_code == 200 and escalated.json["stage"] == "mediation"
    run_jobs()

    operator = tenant_client("acme")
    oh = bearer_headers(operator, "admin@acme.test", ADMIN_PASSWORD)
    queue = operator.get("/api/v1/console/disputes?stage=mediation", headers=oh)
    assert queue.status_code == 200 and [d["id"] for d in queue.json] == [dispute_id]
    decided = operator.post(
        f"/api/v1/console/disputes/{dispute_id}/decision",
        json={"refund_minor": 60000, "release_minor": 40000, "reason": "The ERD is partly there."},
        headers={**oh, "Idempotency-Key": "dw-decide"},
    )
    assert decided.status_code == 200, decided.json
    assert decided.json["outcome"] == "resolved_split"
    run_jobs()

    with in_tenant(acme):
        m1 = db.session.get(Milestone, ids[0])
        assert (m1.status, m1.refunded_minor) == ("partially_refunded", 60000)
        order = db.session.get(Order, order_id)
        assert order.status == "in_progress"  # milestone 2 is still to be accepted
        assert ledger.milestone_escrow_balance(order_id, ids[0], order.currency) == 0
        assert ledger.milestone_escrow_balance(order_id, ids[1], order.currency) == 200000
        assert ledger.verify().ok
        admin_id = db.session.scalar(sa.select(User.id).where(User.email == "admin@acme.test"))
    page = f"/disputes/{dispute_id}"
    assert ("dispute_opened", page) in _bells(in_tenant, acme, h.ann)
    assert ("dispute_resolved", page) in _bells(in_tenant, acme, h.client)
    assert ("dispute_resolved", page) in _bells(in_tenant, acme, h.ann)
    # The marketplace's staff were told when the case reached mediation, with the console's link.
    assert ("dispute_escalated", f"/console/disputes/{dispute_id}") in _bells(in_tenant, acme, admin_id)
