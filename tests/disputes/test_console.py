"""Operator console, disputes area: the queue (filters, sorting), the case view (everything a
mediator needs on one page), the operator's steps on the web and through the API (assign,
write to both parties, propose, ask an expert, hand over; admins decide and dismiss), each
audited; the decision's money moved once and exactly (commission on the released part
only), its refusals moving nothing; the dispute settings and experts; and each marketplace
seeing only its own disputes, even with equal ids.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.console.models import AuditEntry
from app.disputes import services
from app.disputes.models import Dispute, DisputeSettings
from app.ledger import services as ledger
from app.ledger.models import LedgerTransaction
from app.orders.models import Order
from app.settings.models import MarketplaceSettings
from app.storage.uploads import Upload
from tenants.db import db
from tests.conftest import ADMIN_PASSWORD
from tests.disputes.conftest import user
from tests.helpers import bearer_headers, form_tokens, login
from tests.orders.conftest import drive

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
NOW = datetime.now(UTC)


def fee_of(amount: int) -> int:
    s = db.session.get(MarketplaceSettings, 1)
    return ledger.commission_for(amount, s.commission_bps, s.commission_min_fee_minor)


def open_dispute(m, *, by="buyer", state="delivered", now=None, escalate=False):
    """A new order of market ``m`` driven to ``state`` and disputed (tenant bound); commits."""
    order_id = drive(m, state)
    who = m.buyer_id if by == "buyer" else m.seller_id
    d = services.open_dispute(
        user(who), order_id, "not_as_described", f"Not what we agreed (order {order_id}).", now=now or NOW
    )
    if escalate:
        services.escalate(user(who), d.id, now=now or NOW)
    db.session.commit()
    return d.id


def admin_web(tenant_client, tenant):
    return login(tenant_client(tenant.slug), f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def admin_api(tenant_client, tenant):
    client = tenant_client(tenant.slug)
    return client, bearer_headers(client, f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def audit_actions(in_tenant, tenant, dispute_id=None) -> list[tuple[str, str]]:
    with in_tenant(tenant):
        query = sa.select(AuditEntry.action, AuditEntry.via).order_by(AuditEntry.id)
        if dispute_id is not None:
            query = query.where(AuditEntry.target_type == "dispute", AuditEntry.target_id == str(dispute_id))
        return [tuple(r) for r in db.session.execute(query)]


def money_of(in_tenant, tenant, order_id) -> dict:
    with in_tenant(tenant):
        db.session.expire_all()
        order = db.session.get(Order, order_id)
        return {
            "order": order.status,
            "milestone": order.milestones[0].status,
            "escrow": ledger.escrow_balance(order_id, order.currency),
            "transactions": db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)),
        }


@pytest.fixture
def desk(market, moderator_of, in_tenant):
    """``desk(tenant)`` -> the order kit's market plus a moderator (id, email)."""

    def build(tenant):
        m = market(tenant)
        m.moderator_id = moderator_of(tenant)
        m.moderator_email = f"mod@{tenant.slug}.test"
        return m

    return build


# --------------------------------------------------------------------------- the queue


def test_the_queue_filters_by_stage_status_mediator_and_age_and_sorts(acme, desk, in_tenant, tenant_client):
    m = desk(acme)
    with in_tenant(acme):
        old = open_dispute(m, now=NOW - timedelta(days=10))  # self-resolution, its deadline passed
        mediated = open_dispute(m, escalate=True)
        services.assign(user(m.moderator_id), mediated, now=NOW)
        ended = open_dispute(m)
        services.withdraw(user(m.buyer_id), ended, now=NOW)
        db.session.commit()
    moderator = login(tenant_client("acme"), m.moderator_email)

    def rows(query=""):
        response = moderator.get(f"/console/disputes?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)[:400]
        html = response.get_data(as_text=True)
        found = [(html.find(f'data-testid="dispute-row-{i}"'), i) for i in (old, mediated, ended)]
        return [i for pos, i in sorted(found) if pos >= 0]

    assert rows() == [old, mediated]  # the queue: open disputes, the oldest first
    page = moderator.get("/console/disputes").get_data(as_text=True)
    assert f'data-testid="stage-{mediated}">Mediation' in page and "overdue" in page
    assert f'data-testid="mediator-{mediated}">Mia Moderator' in page
    assert f'data-testid="mediator-{old}"><span class="badge-status badge-warn">unassigned' in page
    assert "$50.00" in page and "Bob Buyer → Sally Seller" in page
    assert rows("stage=mediation") == [mediated]
    assert rows("mediator=mine") == [mediated]
    assert rows("mediator=unassigned") == [old]
    assert rows("status=dismissed") == [ended]
    assert rows("status=") == [old, mediated, ended]
    assert rows("older_than=5") == [old]
    assert rows(f"q=D-{mediated:06d}") == [mediated]
    assert rows("q=buyer%40acme") == [old, mediated]
    assert rows("sort=deadline") == [old, mediated]  # the overdue deadline first
    bad = moderator.get("/console/disputes?stage=lost&older_than=-1&sort=size&mediator=you")
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "Unknown stage" in html and "whole number of days" in html and "Sort by age or deadline" in html

    client = tenant_client("acme")
    headers = bearer_headers(client, m.moderator_email)
    listed = client.get("/api/v1/console/disputes?status=open&sort=deadline", headers=headers)
    assert listed.status_code == 200 and [r["id"] for r in listed.json] == [old, mediated]
    row = listed.json[1]
    assert row["stage"] == "mediation" and row["mediator"]["id"] == m.moderator_id
    assert row["buyer"]["email"] == m.buyer_email and row["amount_minor"] == 5000 and row["currency"] == "USD"
    assert listed.json[0]["overdue"] is True and listed.json[0]["age_days"] == 10
    mine = client.get("/api/v1/console/disputes?mediator=mine", headers=headers).json
    assert [r["id"] for r in mine] == [mediated]
    assert [r["id"] for r in client.get("/api/v1/console/disputes", headers=headers).json] == [
        old,
        mediated,
        ended,
    ]  # the API lists every status unless asked
    for query in ("stage=lost", "older_than=400", "mediator=you", "sort=size", "status=lost"):
        refused = client.get(f"/api/v1/console/disputes?{query}", headers=headers)
        assert refused.status_code == 422 and refused.json["errors"]["query"], query


# --------------------------------------------------------------------------- the case view


def test_the_case_view_shows_everything_a_mediator_needs_and_is_closed_to_members(
    acme, desk, in_tenant, tenant_client
):
    from app.messaging import services as messaging

    m = desk(acme)
    with in_tenant(acme):
        order_id = drive(m, "delivered")
        conversation = messaging.order_conversation_of(user(m.buyer_id), order_id)
        said = messaging.post_message(user(m.seller_id), conversation.id, "I will fix the colours tomorrow")
        db.session.commit()
        d = services.open_dispute(user(m.buyer_id), order_id, "quality", "The colours are wrong.", now=NOW)
        services.add_evidence(user(m.buyer_id), d.id, "message", message_id=said.id, now=NOW)
        services.add_evidence(
            user(m.buyer_id), d.id, "file", files=[Upload("proof.png", "image/png", PNG)], now=NOW
        )
        services.propose(user(m.seller_id), d.id, 1000, 4000, "A small refund?", now=NOW)
        db.session.commit()
        dispute_id = d.id

    moderator = login(tenant_client("acme"), m.moderator_email)
    response = moderator.get(f"/console/disputes/{dispute_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "The colours are wrong." in page and 'data-testid="dispute-amount"><strong>$50.00' in page
    assert 'aria-current="step"' in page and "Self-resolution" in page  # the stepper
    assert "I will fix the colours tomorrow" in page  # the conversation and the quoted message
    assert 'data-testid="evidence-file"' in page and "proof.png" in page
    assert "$10.00 back to the buyer · $40.00 to the seller" in page  # the seller's proposal
    assert 'data-kind="delivered"' in page and 'data-testid="delivery"' in page  # order timeline, deliveries
    assert 'data-kind="opened"' in page  # the dispute's timeline
    assert 'data-testid="decide-unavailable"' in page  # self-resolution: nobody decides yet
    with in_tenant(acme):
        services.escalate(user(m.buyer_id), dispute_id, now=NOW)
        db.session.commit()
    page = moderator.get(f"/console/disputes/{dispute_id}").get_data(as_text=True)
    assert 'data-testid="decide-admins-only"' in page and "disabled" in page  # a moderator cannot decide
    assert 'data-testid="dismiss-form"' not in page
    admin_page = admin_web(tenant_client, acme).get(f"/console/disputes/{dispute_id}").get_data(as_text=True)
    assert 'data-testid="decide-form"' in admin_page and 'data-testid="decide-admins-only"' not in admin_page
    assert 'data-testid="dismiss-form"' in admin_page

    member = login(tenant_client("acme"), m.buyer_email)
    assert member.get(f"/console/disputes/{dispute_id}").status_code == 403
    assert member.get("/console/disputes").status_code == 403
    assert tenant_client("acme").get("/console/disputes").status_code in (302, 401)
    assert moderator.get("/console/disputes/999999").status_code == 404
    assert moderator.get("/console/disputes/settings").status_code == 403  # admins only

    client = tenant_client("acme")
    headers = bearer_headers(client, m.moderator_email)
    case = client.get(f"/api/v1/console/disputes/{dispute_id}", headers=headers).json
    assert case["statement"] == "The colours are wrong." and case["stage"] == "mediation"
    assert [e["kind"] for e in case["evidence"]] == ["message", "file"]
    assert case["evidence"][1]["url"] and case["evidence"][0]["text"] == "I will fix the colours tomorrow"
    assert [(p["refund_minor"], p["release_minor"], p["status"]) for p in case["proposals"]] == [
        (1000, 4000, "superseded")
    ]
    assert case["order"]["id"] == order_id and case["order"]["escrow_minor"] == 5000
    assert "escalated" in [e["kind"] for e in case["timeline"]]
    assert any(x["body"] == "I will fix the colours tomorrow" for x in case["conversation"])
    buyer_client = tenant_client("acme")
    buyer_headers = bearer_headers(buyer_client, m.buyer_email)
    assert (
        buyer_client.get(f"/api/v1/console/disputes/{dispute_id}", headers=buyer_headers).status_code == 403
    )
    assert client.get("/api/v1/console/disputes/999999", headers=headers).status_code == 404


# --------------------------------------------------------------------------- mediation steps


def test_a_moderator_mediates_on_the_web_and_every_step_is_audited(acme, desk, in_tenant, tenant_client):
    m = desk(acme)
    with in_tenant(acme):
        dispute_id = open_dispute(m, escalate=True)
    moderator = login(tenant_client("acme"), m.moderator_email)
    page = f"/console/disputes/{dispute_id}"

    done = moderator.post(f"{page}/assign", data={**form_tokens(moderator, page), "to": "me"})
    assert done.status_code == 303
    empty = moderator.post(f"{page}/messages", data={**form_tokens(moderator, page), "body": "  "})
    assert empty.status_code == 422 and "The message is required" in empty.get_data(as_text=True)
    sent = moderator.post(
        f"{page}/messages", data={**form_tokens(moderator, page), "body": "Send the files."}
    )
    assert sent.status_code == 303
    bad = moderator.post(
        f"{page}/proposals",
        data={
            **form_tokens(moderator, page),
            "proposal_outcome": "split",
            "proposal_refund": "30.00",
            "proposal_release": "25",
            "proposal_message": "Fair",
        },
    )
    assert bad.status_code == 422 and "must add up to the $50.00" in bad.get_data(as_text=True)
    words = moderator.post(
        f"{page}/proposals",
        data={**form_tokens(moderator, page), "proposal_outcome": "split", "proposal_refund": "lots"},
    )
    assert words.status_code == 422 and "Enter an amount like" in words.get_data(as_text=True)
    proposed = moderator.post(
        f"{page}/proposals",
        data={
            **form_tokens(moderator, page),
            "proposal_outcome": "split",
            "proposal_refund": "30.00",
            "proposal_release": "20",
            "proposal_message": "Half the logos were usable.",
        },
    )
    assert proposed.status_code == 303
    handed = moderator.post(
        f"{page}/hand-over", data={**form_tokens(moderator, page), "note": "No agreement."}
    )
    assert handed.status_code == 303
    html = moderator.get(page).get_data(as_text=True)
    assert 'data-testid="dispute-state">Admin decision' in html and "Send the files." in html

    with in_tenant(acme):
        d = db.session.get(Dispute, dispute_id)
        assert (d.stage, d.mediator_id) == ("decision", m.moderator_id)
        proposal = services.proposals_of(d)[0]
        assert (proposal.refund_minor, proposal.release_minor, proposal.by_mediator) == (3000, 2000, True)
        assert proposal.status == "superseded"  # the hand-over leaves it to the admin
        kinds = [e.kind for e in services.timeline(d)]
        assert {"assigned", "message", "mediator_proposal", "escalated"} <= set(kinds)
    assert audit_actions(in_tenant, acme, dispute_id) == [
        ("dispute.assign", "web"),
        ("dispute.message", "web"),
        ("dispute.propose", "web"),
        ("dispute.hand_over", "web"),
    ]
    # The API's steps answer the case, audited as api; a refused step changes nothing.
    client = tenant_client("acme")
    headers = bearer_headers(client, m.moderator_email)
    url = f"/api/v1/console/disputes/{dispute_id}"
    late = client.post(
        f"{url}/proposals", json={"refund_minor": 0, "release_minor": 5000, "message": "x"}, headers=headers
    )
    assert late.status_code == 409 and late.json["errors"]["current_status"] == "decision"
    wrote = client.post(f"{url}/messages", json={"body": "An admin decides now."}, headers=headers)
    assert wrote.status_code == 200 and wrote.json["timeline"][-1]["body"] == "An admin decides now."
    assert client.post(f"{url}/messages", json={}, headers=headers).status_code == 422
    assigned = client.post(f"{url}/assign", json={"mediator_id": m.buyer_id}, headers=headers)
    assert assigned.status_code == 422 and "mediator_id" in assigned.json["errors"]["json"]
    assert audit_actions(in_tenant, acme, dispute_id)[-1] == ("dispute.message", "api")


def test_expert_review_needs_the_setting_and_an_appointed_expert(
    acme, desk, in_tenant, tenant_client, make_user
):
    m = desk(acme)
    expert_id = make_user(acme, email="eve@acme.test", display_name="Eve Expert")
    with in_tenant(acme):
        dispute_id = open_dispute(m, escalate=True)
    admin = admin_web(tenant_client, acme)

    # Appoint on the settings page: unknown email, then Eve.
    settings_page = "/console/disputes/settings"
    unknown = admin.post(
        "/console/disputes/experts", data={**form_tokens(admin, settings_page), "email": "nobody@acme.test"}
    )
    assert unknown.status_code == 422 and "No active member has the email" in unknown.get_data(as_text=True)
    appointed = admin.post(
        "/console/disputes/experts",
        data={**form_tokens(admin, settings_page), "email": "EVE@acme.test", "field": "Brand design"},
    )
    assert appointed.status_code == 303
    twice = admin.post(
        "/console/disputes/experts", data={**form_tokens(admin, settings_page), "email": "eve@acme.test"}
    )
    assert twice.status_code == 422 and "an expert already" in twice.get_data(as_text=True)
    assert f'data-testid="expert-{expert_id}"' in admin.get(settings_page).get_data(as_text=True)

    client = tenant_client("acme")
    headers = bearer_headers(client, m.moderator_email)
    url = f"/api/v1/console/disputes/{dispute_id}/expert"
    a_party = client.post(url, json={"expert_id": m.buyer_id, "question": "Is it good?"}, headers=headers)
    assert a_party.status_code == 422 and "expert_id" in a_party.json["errors"]["json"]
    # Expert review turned off: 409, and the case page says why instead of a form.
    admin_client, admin_headers = admin_api(tenant_client, acme)
    off = {
        "self_resolution_days": 3,
        "answer_days": 3,
        "mediation_days": 7,
        "expert_days": 5,
        "expert_review_enabled": False,
        "expert_fee_rule": "The party who asks pays.",
    }
    assert (
        admin_client.put("/api/v1/console/dispute-settings", json=off, headers=admin_headers).status_code
        == 200
    )
    refused = client.post(url, json={"expert_id": expert_id, "question": "Is it good?"}, headers=headers)
    assert refused.status_code == 409 and refused.json["errors"]["code"] == "expert_review_off"
    moderator = login(tenant_client("acme"), m.moderator_email)
    page = moderator.get(f"/console/disputes/{dispute_id}").get_data(as_text=True)
    assert "Expert review is turned off" in page and 'data-testid="expert-form"' not in page
    on = {**off, "expert_review_enabled": True}
    assert (
        admin_client.put("/api/v1/console/dispute-settings", json=on, headers=admin_headers).status_code
        == 200
    )
    asked = client.post(
        url, json={"expert_id": expert_id, "question": "Does it match the brief?"}, headers=headers
    )
    assert asked.status_code == 200 and asked.json["stage"] == "expert_review"
    assert asked.json["expert"]["id"] == expert_id
    experts = admin_client.get("/api/v1/console/dispute-experts", headers=admin_headers).json
    assert [(e["id"], e["field"]) for e in experts] == [(expert_id, "Brand design")]
    removed = admin_client.delete(f"/api/v1/console/dispute-experts/{expert_id}", headers=admin_headers)
    assert removed.status_code == 204
    again = admin_client.delete(f"/api/v1/console/dispute-experts/{expert_id}", headers=admin_headers)
    assert again.status_code == 404
    assert client.get("/api/v1/console/dispute-experts", headers=headers).status_code == 403  # moderator
    assert [a for a, _via in audit_actions(in_tenant, acme) if a.startswith(("dispute", "disputes"))] == [
        "dispute_expert.appoint",
        "disputes.settings.update",
        "disputes.settings.update",
        "dispute.expert_request",
        "dispute_expert.remove",
    ]


def test_the_dispute_settings_are_validated_on_the_form_and_in_the_api(acme, in_tenant, tenant_client):
    admin = admin_web(tenant_client, acme)
    page = "/console/disputes/settings"
    html = admin.get(page).get_data(as_text=True)
    assert 'name="self_resolution_days"' in html and 'value="3"' in html
    bad = admin.post(
        page,
        data={
            **form_tokens(admin, page),
            "self_resolution_days": "0",
            "answer_days": "31",
            "mediation_days": "61",
            "expert_days": "soon",
            "expert_fee_rule": "x" * 2001,
        },
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    for message in ("from 1 to 30", "from 1 to 60", "The fee rule is too long"):
        assert message in text
    saved = admin.post(
        page,
        data={
            **form_tokens(admin, page),
            "self_resolution_days": "5",
            "answer_days": "2",
            "mediation_days": "10",
            "expert_days": "4",
            "expert_fee_rule": "Split equally.",
        },
    )
    assert saved.status_code == 303
    with in_tenant(acme):
        row = db.session.get(DisputeSettings, 1)
        assert (row.self_resolution_days, row.answer_days, row.mediation_days, row.expert_days) == (
            5,
            2,
            10,
            4,
        )
        assert row.expert_review_enabled is False and row.expert_fee_rule == "Split equally."
        changes = db.session.scalar(
            sa.select(AuditEntry.changes).where(AuditEntry.action == "disputes.settings.update")
        )
        assert changes["self_resolution_days"] == [3, 5] and changes["expert_review_enabled"] == [True, False]

    client, headers = admin_api(tenant_client, acme)
    assert client.get("/api/v1/console/dispute-settings", headers=headers).json["mediation_days"] == 10
    body = {
        "self_resolution_days": 31,
        "answer_days": 0,
        "mediation_days": 7,
        "expert_days": 100,
        "expert_review_enabled": True,
        "expert_fee_rule": "",
    }
    refused = client.put("/api/v1/console/dispute-settings", json=body, headers=headers)
    assert refused.status_code == 422
    assert set(refused.json["errors"]["json"]) == {"self_resolution_days", "answer_days", "expert_days"}
    assert client.put("/api/v1/console/dispute-settings", json={}, headers=headers).status_code == 422
    with in_tenant(acme):
        assert db.session.get(DisputeSettings, 1).self_resolution_days == 5


# --------------------------------------------------------------------------- the decision


def test_an_admin_decides_a_split_on_the_web_once_with_commission_on_the_release_only(
    acme, desk, in_tenant, tenant_client
):
    m = desk(acme)
    with in_tenant(acme):
        dispute_id = open_dispute(m, escalate=True)
        order_id = db.session.get(Dispute, dispute_id).order_id
        seller_before = ledger.seller_balances(m.seller_id, "USD")["pending"]
    admin = admin_web(tenant_client, acme)
    page = f"/console/disputes/{dispute_id}"
    tokens = form_tokens(admin, page)
    assert "idempotency_key" in tokens
    fields = {
        "outcome": "split",
        "refund": "30.00",
        "release": "20.00",
        "reason": "Half the logos were usable.",
    }
    asked = admin.post(f"{page}/decision", data={**tokens, **fields})  # no confirm=yes: the server asks
    assert asked.status_code == 200 and 'data-testid="confirm-page"' in asked.get_data(as_text=True)
    wrong = admin.post(f"{page}/decision", data={**tokens, **fields, "release": "25.00", "confirm": "yes"})
    assert wrong.status_code == 422 and "must add up to the $50.00" in wrong.get_data(as_text=True)
    negative = {**fields, "refund": "-10", "release": "60", "confirm": "yes"}
    refused = admin.post(f"{page}/decision", data={**form_tokens(admin, page), **negative})
    assert refused.status_code == 422 and "cannot be negative" in refused.get_data(as_text=True)
    assert money_of(in_tenant, acme, order_id)["escrow"] == 5000  # nothing moved

    data = {**form_tokens(admin, page), **fields, "confirm": "yes"}
    done = admin.post(f"{page}/decision", data=data)
    assert done.status_code == 303
    again = admin.post(f"{page}/decision", data=data)  # a double click: replayed, decided once
    assert again.status_code == 303 and again.headers.get("Idempotent-Replayed") == "true"
    with in_tenant(acme):
        db.session.expire_all()
        d = db.session.get(Dispute, dispute_id)
        order = db.session.get(Order, order_id)
        assert (d.status, d.outcome, d.refund_minor, d.release_minor) == (
            "resolved",
            "resolved_split",
            3000,
            2000,
        )
        assert ledger.escrow_balance(order_id, "USD") == 0
        pending = ledger.seller_balances(m.seller_id, "USD")["pending"] - seller_before
        assert pending == 2000 - fee_of(2000)  # the commission on the released part only
        assert (
            order.milestones[0].status == "partially_refunded" and order.milestones[0].refunded_minor == 3000
        )
        assert ledger.verify().ok
        changes = db.session.scalar(
            sa.select(AuditEntry.changes).where(AuditEntry.action == "dispute.decide")
        )
        assert (changes["refund_minor"], changes["release_minor"], changes["outcome"]) == (
            3000,
            2000,
            "resolved_split",
        )
    assert audit_actions(in_tenant, acme, dispute_id) == [("dispute.decide", "web")]
    html = admin.get(page).get_data(as_text=True)
    assert 'data-testid="dispute-outcome">Split: $30.00 back to the buyer' in html
    assert 'data-testid="decide-form"' not in html


def test_decisions_through_the_api_refusals_move_nothing_and_a_replay_decides_once(
    acme, desk, in_tenant, tenant_client
):
    m = desk(acme)
    with in_tenant(acme):
        early = open_dispute(m)
        dispute_id = open_dispute(m, escalate=True)
        order_id = db.session.get(Dispute, dispute_id).order_id
    url = f"/api/v1/console/disputes/{dispute_id}/decision"
    body = {"refund_minor": 5000, "release_minor": 0, "reason": "Nothing was delivered as agreed."}
    moderator = tenant_client("acme")
    refused = moderator.post(url, json=body, headers=bearer_headers(moderator, m.moderator_email))
    assert refused.status_code == 403
    client, headers = admin_api(tenant_client, acme)
    before = money_of(in_tenant, acme, order_id)
    for bad in (
        {**body, "release_minor": 1},  # does not add up
        {**body, "refund_minor": -1, "release_minor": 5001},  # negative
        {**body, "currency": "EUR"},  # another currency
        {**body, "refund_minor": "5000"},  # not an integer
        {**body, "reason": " "},
        {"refund_minor": 5000, "release_minor": 0},
    ):
        answer = client.post(url, json=bad, headers=headers)
        assert answer.status_code == 422, (bad, answer.json)
        assert answer.json["errors"]["json"]
    assert money_of(in_tenant, acme, order_id) == before
    too_early = client.post(f"/api/v1/console/disputes/{early}/decision", json=body, headers=headers)
    assert too_early.status_code == 409 and too_early.json["errors"]["current_status"] == "self_resolution"
    assert (
        client.post("/api/v1/console/disputes/999999/decision", json=body, headers=headers).status_code == 404
    )
    assert audit_actions(in_tenant, acme, dispute_id) == []

    keyed = {**headers, "Idempotency-Key": "decide-once-1"}
    decided = client.post(url, json=body, headers=keyed)
    assert decided.status_code == 200 and decided.json["outcome"] == "resolved_client"
    assert decided.json["refund_minor"] == 5000 and decided.json["order"]["escrow_minor"] == 0
    assert decided.json["audit"][0]["action"] == "dispute.decide"
    replay = client.post(url, json=body, headers=keyed)
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    second = client.post(url, json={**body, "refund_minor": 0, "release_minor": 5000}, headers=headers)
    assert second.status_code == 409 and second.json["errors"]["current_status"] == "resolved"
    after = money_of(in_tenant, acme, order_id)
    assert (after["order"], after["escrow"]) == ("cancelled", 0)
    assert audit_actions(in_tenant, acme, dispute_id) == [("dispute.decide", "api")]
    with in_tenant(acme):
        assert ledger.verify().ok

    # Dismissal: admins only, idempotent, nothing moves.
    dismiss = f"/api/v1/console/disputes/{early}/dismiss"
    assert (
        moderator.post(
            dismiss, json={"reason": "No"}, headers=bearer_headers(moderator, m.moderator_email)
        ).status_code
        == 403
    )
    dismissed = client.post(
        dismiss, json={"reason": "Opened by mistake."}, headers={**headers, "Idempotency-Key": "dismiss-1"}
    )
    assert dismissed.status_code == 200 and dismissed.json["outcome"] == "dismissed"
    assert dismissed.json["milestone"]["status"] == "funded"
    assert client.post(dismiss, json={"reason": "Again"}, headers=headers).status_code == 409
    assert audit_actions(in_tenant, acme, early) == [("dispute.dismiss", "api")]


def test_two_admins_deciding_at_once_through_the_console_one_wins(app, acme, desk, in_tenant):
    from app.console.disputes import actions
    from tests.helpers import race_for_a_lock

    m = desk(acme)
    with in_tenant(acme):
        dispute_id = open_dispute(m, escalate=True)
        order_id = db.session.get(Dispute, dispute_id).order_id

    results = race_for_a_lock(
        app,
        in_tenant,
        acme,
        lambda: actions.decide(user(m.admin_id), dispute_id, 5000, 0, "Refund"),
        lambda: actions.decide(user(m.admin_id), dispute_id, 0, 5000, "Release"),
        services.DisputeStateError,
    )
    assert results["first"] == "ok" and isinstance(results["second"], services.DisputeStateError)
    with in_tenant(acme):
        d = db.session.get(Dispute, dispute_id)
        assert d.outcome == "resolved_client" and ledger.escrow_balance(order_id, "USD") == 0
        assert ledger.verify().ok
        decisions = db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "dispute.decide")
        )
        assert decisions == 1


# --------------------------------------------------------------------------- two marketplaces


def test_an_operator_of_globex_never_sees_or_touches_acmes_disputes(
    acme, globex, desk, in_tenant, tenant_client
):
    a, g = desk(acme), desk(globex)
    with in_tenant(acme):
        acme_first = open_dispute(a, escalate=True)
        acme_second = open_dispute(a, escalate=True)
        acme_order = db.session.get(Dispute, acme_first).order_id
        statement = db.session.get(Dispute, acme_first).statement
    with in_tenant(globex):
        globex_first = open_dispute(g, escalate=True)
    assert acme_first == globex_first  # equal ids in both marketplaces

    web = admin_web(tenant_client, globex)
    queue = web.get("/console/disputes?status=").get_data(as_text=True)
    assert f"dispute-row-{globex_first}" in queue and f"dispute-row-{acme_second}" not in queue
    page = web.get(f"/console/disputes/{globex_first}").get_data(as_text=True)
    assert "buyer@globex.test" in page and "buyer@acme.test" not in page
    assert web.get(f"/console/disputes/{acme_second}").status_code == 404

    client, headers = admin_api(tenant_client, globex)
    assert [r["id"] for r in client.get("/api/v1/console/disputes", headers=headers).json] == [globex_first]
    assert client.get(f"/api/v1/console/disputes/{acme_second}", headers=headers).status_code == 404
    body = {"refund_minor": 5000, "release_minor": 0, "reason": "Refund it."}
    assert (
        client.post(
            f"/api/v1/console/disputes/{acme_second}/decision", json=body, headers=headers
        ).status_code
        == 404
    )
    decided = client.post(f"/api/v1/console/disputes/{globex_first}/decision", json=body, headers=headers)
    assert decided.status_code == 200 and decided.json["buyer"]["email"] == "buyer@globex.test"
    # acme's dispute with the same id is untouched; acme's token means nothing on globex
    with in_tenant(acme):
        db.session.expire_all()
        d = db.session.get(Dispute, acme_first)
        assert d.status == "open" and d.statement == statement
        assert ledger.escrow_balance(acme_order, "USD") == 5000
    acme_client, acme_headers = admin_api(tenant_client, acme)
    on_globex = tenant_client("globex")
    assert on_globex.get(f"/api/v1/console/disputes/{globex_first}", headers=acme_headers).status_code == 401
    assert audit_actions(in_tenant, acme) == []


# --------------------------------------------------------------------------- the dashboard


def test_the_dashboard_counts_open_disputes_resolution_time_and_refunds(acme, desk, in_tenant, tenant_client):
    m = desk(acme)
    with in_tenant(acme):
        open_dispute(m)
        decided = open_dispute(m, escalate=True, now=NOW - timedelta(hours=30))
        services.decide(user(m.admin_id), decided, 1500, 3500, "Split", now=NOW - timedelta(hours=6))
        db.session.commit()
    client, headers = admin_api(tenant_client, acme)
    body = client.get("/api/v1/console/dashboard?period=30d", headers=headers).json
    assert body["disputes"]["open"] == 1 and body["disputes"]["median_hours"] == 24.0
    assert body["disputes"]["refunded_minor"] == 1500
    assert sum(p["disputes_opened"] for p in body["series"]) == 2
    assert sum(p["disputes_resolved"] for p in body["series"]) == 1
    html = admin_web(tenant_client, acme).get("/console/").get_data(as_text=True)
    assert 'data-testid="kpi-open_disputes" data-value="1"' in html
    assert 'data-testid="kpi-dispute_refunds"' in html and "$15.00" in html
    assert 'data-testid="chart-disputes-opened"' in html
