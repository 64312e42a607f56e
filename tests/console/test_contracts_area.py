"""Operator console, contracts area: every contract (filters, search, money), a contract's page
(parties, terms, the SoW with its hash and signatures, milestones, changes, the engagement's
timeline and ledger), the operator's end (refunds in the ledger, the contract ended, audited,
both parties told), the milestones queue, and the dashboard's jobs-and-contracts figures, on
the web and through the API.

Moderators and admins read; only admins end a contract. Each marketplace sees only its own
contracts, even with equal ids.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.contracts.models import Contract, StatementOfWork
from app.jobs.models import Job
from app.ledger import services as ledger
from app.ledger.models import LedgerTransaction
from app.notifications.kinds import get_kind
from app.notifications.models import Notification
from app.orders.models import Order
from tenants.db import db
from tests.console.conftest import ADMIN_PASSWORD, PASSWORD, audit_rows, csrf_token, form_tokens, login, token
from tests.console.contracts_kit import M1, M2, NOW, SMALL


def admin_web(tenant_client, tenant):
    return login(tenant_client(tenant.slug), f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def admin_api(tenant_client, tenant):
    client = tenant_client(tenant.slug)
    return client, token(client, f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def state_of(in_tenant, tenant, contract_id):
    """What the contract, its engagement and the ledger say (for "nothing changed" checks)."""
    with in_tenant(tenant):
        db.session.expire_all()
        contract = db.session.get(Contract, contract_id)
        order = db.session.get(Order, contract.order_id) if contract.order_id else None
        return {
            "status": contract.status,
            "ended_by": contract.ended_by,
            "milestones": [(m.status, m.refunded_minor) for m in order.milestones] if order else [],
            "escrow": ledger.escrow_balance(order.id, order.currency) if order else 0,
            "refunds": db.session.scalar(
                sa.select(sa.func.count())
                .select_from(LedgerTransaction)
                .where(LedgerTransaction.order_id == contract.order_id, LedgerTransaction.kind == "refund")
            ),
        }


# --------------------------------------------------------------------------- the list


def test_operators_list_filter_and_search_contracts_with_their_money(acme, contracts_market, tenant_client):
    m = contracts_market(acme)
    web = admin_web(tenant_client, acme)
    page = web.get("/console/contracts").get_data(as_text=True)
    assert 'data-testid="contract-total">3 contracts' in page
    for cid in (m.active, m.offered, m.done):
        assert f'data-testid="contract-row-{cid}"' in page
    assert ">Active (1)<" in page and ">Offer sent (1)<" in page and ">Completed (1)<" in page
    # money per contract: total, in escrow (the ledger), released, refunded
    assert f'data-testid="total-{m.active}">$3,000.00' in page
    assert f'data-testid="escrow-{m.active}">$1,000.00' in page
    assert f'data-testid="released-{m.active}">$0.00' in page
    assert (
        f'data-testid="released-{m.done}">$500.00' in page and f'data-testid="escrow-{m.done}">$0.00' in page
    )

    def rows(query):
        html = web.get(f"/console/contracts?{query}").get_data(as_text=True)
        return {cid for cid in (m.active, m.offered, m.done) if f"contract-row-{cid}" in html}

    assert rows("status=active") == {m.active}
    assert rows(f"q=C-{m.done}") == {m.done} and rows(f"q=%23{m.offered}") == {m.offered}
    assert rows("q=bob%40acme.test") == {m.offered, m.done}  # a party's email
    assert rows("q=landing") == {m.done}  # words of the title
    today = NOW.date().isoformat()
    assert rows(f"from={today}&to={today}") == {m.active}  # started today; the offer never started
    bad = web.get("/console/contracts?status=lost&from=2026-13-01")
    assert bad.status_code == 422 and "Unknown status" in bad.get_data(as_text=True)

    client, headers = admin_api(tenant_client, acme)
    listed = client.get("/api/v1/console/contracts", headers=headers)
    # newest offer first: the done contract was offered 41 days ago
    assert listed.status_code == 200 and [c["id"] for c in listed.json] == [m.offered, m.active, m.done]
    row = next(c for c in listed.json if c["id"] == m.active)
    assert row["client"]["email"] == m.emails["client"] and row["freelancer"]["email"] == m.emails["ann"]
    assert row["money"] == {
        "total_minor": M1 + M2,
        "funded_minor": M1,
        "in_escrow_minor": M1,
        "released_minor": 0,
        "refunded_minor": 0,
    }
    assert row["number"] == f"C-{m.active}" and row["status"] == "active" and row["order_id"] == m.order_id
    assert [
        c["id"] for c in client.get("/api/v1/console/contracts?status=completed", headers=headers).json
    ] == [m.done]
    assert [c["id"] for c in client.get("/api/v1/console/contracts?q=ann%40acme", headers=headers).json] == [
        m.active
    ]
    refused = client.get("/api/v1/console/contracts?status=lost", headers=headers)
    assert refused.status_code == 422 and "status" in refused.json["errors"]["query"]
    refused = client.get("/api/v1/console/contracts?from=2026-05-02&to=2026-05-01", headers=headers)
    assert refused.status_code == 422 and "to" in refused.json["errors"]["query"]


# --------------------------------------------------------------------------- a contract's page


def test_a_contracts_page_shows_the_sow_signatures_milestones_changes_and_ledger(
    acme, contracts_market, tenant_client, in_tenant
):
    m = contracts_market(acme)
    with in_tenant(acme):
        sow_hash = db.session.scalar(
            sa.select(StatementOfWork.content_sha256).where(StatementOfWork.contract_id == m.active)
        )
    moderator = login(tenant_client("acme"), m.moderator_email)
    response = moderator.get(f"/console/contracts/{m.active}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert m.emails["client"] in page and m.emails["ann"] in page
    assert f'href="/console/jobs/{m.job_id}"' in page and f'href="/console/orders/{m.order_id}"' in page
    assert f'data-testid="sow-hash">{sow_hash}<' in page and "The text matches its hash" in page
    assert "10.0.0.1" in page and "10.0.0.2" in page  # each signature's IP
    assert 'data-testid="signature-client"' in page and 'data-testid="signature-freelancer"' in page
    assert "STATEMENT OF WORK" in page
    assert (
        'data-testid="milestone-state-1">Submitted' in page
        and 'data-testid="milestone-state-2">Planned' in page
    )
    assert 'data-testid="money-escrow">$1,000.00' in page
    entry = 'data-testid="ledger-entry" data-kind='
    assert page.count(entry + '"payment"') == 2 and f"escrow:order:{m.order_id}" in page
    assert 'data-kind="milestone_submitted"' in page  # the engagement's timeline
    # a moderator reads but cannot end: a note instead of the form
    assert 'data-testid="end-admins-only"' in page and 'data-testid="end-form"' not in page
    assert 'data-testid="end-form"' in admin_web(tenant_client, acme).get(
        f"/console/contracts/{m.active}"
    ).get_data(as_text=True)
    done = moderator.get(f"/console/contracts/{m.done}").get_data(as_text=True)
    assert "end-admins-only" not in done and 'data-testid="contract-status">Completed' in done
    assert done.count(entry + '"release"') == 3  # escrow -> the freelancer's pending + commission

    client, headers = admin_api(tenant_client, acme)
    detail = client.get(f"/api/v1/console/contracts/{m.active}", headers=headers).json
    assert detail["sow"]["content_sha256"] == sow_hash and detail["sow"]["intact"] is True
    assert {s["role"]: s["ip"] for s in detail["sow"]["signatures"]} == {
        "freelancer": "10.0.0.1",
        "client": "10.0.0.2",
    }
    assert [(x["seq"], x["status"], x["amount_minor"]) for x in detail["milestones"]] == [
        (1, "submitted", M1),
        (2, "planned", M2),
    ]
    assert [t["kind"] for t in detail["ledger_transactions"]] == ["payment"]
    assert detail["job"]["id"] == m.job_id and detail["terms"]["nda"] is True
    assert "milestone_submitted" in [e["kind"] for e in detail["timeline"]]
    engagement = moderator.get(f"/console/orders/{m.order_id}").get_data(as_text=True)
    assert f'href="/console/contracts/{m.active}"' in engagement  # the order page leads back
    assert client.get("/api/v1/console/contracts/999999", headers=headers).status_code == 404
    assert moderator.get("/console/contracts/999999").status_code == 404

    # A SoW whose stored text was altered is shown as such (not a 409 page: the operator must see it).
    with in_tenant(acme):
        db.session.execute(
            sa.update(StatementOfWork)
            .where(StatementOfWork.contract_id == m.active)
            .values(body=StatementOfWork.body + "extra")
        )
        db.session.commit()
    tampered = moderator.get(f"/console/contracts/{m.active}")
    assert tampered.status_code == 200 and "no longer matches its hash" in tampered.get_data(as_text=True)
    assert client.get(f"/api/v1/console/contracts/{m.active}", headers=headers).json["sow"]["intact"] is False


def test_the_page_lists_the_milestone_changes(acme, contracts_market, tenant_client, in_tenant):
    from app.contracts import changes
    from tests.console.contracts_kit import u

    m = contracts_market(acme)
    with in_tenant(acme):
        change = changes.propose_change(
            u(m.client),
            m.active,
            "add",
            {"title": "Admin dashboard", "amount_minor": 80000, "note": "As agreed"},
        )
        changes.answer_change(u(m.ann), m.active, True)
        change_id = change.id
        db.session.commit()
    page = admin_web(tenant_client, acme).get(f"/console/contracts/{m.active}").get_data(as_text=True)
    assert f'data-testid="change-{change_id}"' in page and "Admin dashboard" in page and "$800.00" in page
    assert "Accepted" in page and 'data-testid="milestone-state-3">Planned' in page
    client, headers = admin_api(tenant_client, acme)
    detail = client.get(f"/api/v1/console/contracts/{m.active}", headers=headers).json
    assert [(c["action"], c["status"], c["proposed_by"]["id"]) for c in detail["changes"]] == [
        ("add", "accepted", m.client)
    ]
    assert detail["money"]["total_minor"] == M1 + M2 + 80000


# --------------------------------------------------------------------------- the operator's end


def test_an_admin_ends_a_contract_from_its_page_the_escrow_goes_back_once_and_both_are_told(
    acme, contracts_market, tenant_client, in_tenant, run_jobs
):
    m = contracts_market(acme)
    admin = admin_web(tenant_client, acme)
    page = f"/console/contracts/{m.active}"
    tokens = form_tokens(admin, page)
    assert "idempotency_key" in tokens
    # Without confirm=yes (no JavaScript) the server asks first: nothing happens.
    asked = admin.post(f"{page}/end", data={**tokens, "reason": "Account compromised."})
    assert asked.status_code == 200 and 'data-testid="confirm-page"' in asked.get_data(as_text=True)
    assert "$1,000.00 in escrow goes back to the client" in asked.get_data(as_text=True)
    short = admin.post(f"{page}/end", data={**tokens, "reason": "no", "confirm": "yes"})
    assert short.status_code == 422 and "at least 5 characters" in short.get_data(as_text=True)
    assert state_of(in_tenant, acme, m.active)["status"] == "active"

    # the refused attempt keeps its key (replayed as refused): the corrected form is a new one
    data = {
        **form_tokens(admin, page),
        "reason": "The freelancer's account was compromised.",
        "confirm": "yes",
    }
    done = admin.post(f"{page}/end", data=data)
    assert done.status_code == 303
    again = admin.post(f"{page}/end", data=data)  # a double click: the same attempt, replayed
    assert again.status_code == 303 and again.headers.get("Idempotent-Replayed") == "true"
    state = state_of(in_tenant, acme, m.active)
    with in_tenant(acme):
        admin_id = db.session.scalar(sa.select(Contract.ended_by).where(Contract.id == m.active))
        assert db.session.get(Job, m.job_id).status == "completed"
        assert ledger.verify().ok
    # the submitted milestone's money went back to the client; the unfunded one was dropped
    assert state == {
        "status": "cancelled",
        "ended_by": admin_id,
        "milestones": [("refunded", M1), ("cancelled", 0)],
        "escrow": 0,
        "refunds": 1,
    }
    html = admin.get(page).get_data(as_text=True)
    assert 'data-testid="contract-status">Cancelled' in html and "(operator)" in html
    assert html.count('data-testid="ledger-entry" data-kind="refund"') == 2
    assert 'data-testid="end-form"' not in html and "account was compromised" in html
    with in_tenant(acme):
        (entry,) = [row for row in audit_rows() if row[0] == "contract.end"]
        assert entry[1:] == ("contract", str(m.active), admin_id, "web")
        from app.console.models import AuditEntry

        changes = db.session.scalar(sa.select(AuditEntry.changes).where(AuditEntry.action == "contract.end"))
        assert changes["status"] == ["active", "cancelled"] and changes["refunded_minor"] == M1
        assert changes["milestones"] == [
            {"1": "submitted", "2": "planned"},
            {"1": "refunded", "2": "cancelled"},
        ]
    run_jobs()
    with in_tenant(acme):
        told = [
            n
            for n in db.session.scalars(sa.select(Notification).where(Notification.kind == "contract_ended"))
            if n.data["contract_id"] == m.active
        ]
        assert {n.user_id for n in told} == {m.client, m.ann}
        assert all(n.data.get("by_operator") and "compromised" in n.data["reason"] for n in told)
        text = get_kind("contract_ended").render(told[0].data)
        assert f"C-{m.active}" in text and "ended by the marketplace (cancelled): " in text

    # A new attempt (a fresh form) on the ended contract: 409 on the page, nothing moves.
    fresh = {**form_tokens(admin, page), "reason": "Once more, to be sure.", "confirm": "yes"}
    refused = admin.post(f"{page}/end", data=fresh)
    assert refused.status_code == 409 and "cancelled" in refused.get_data(as_text=True).lower()
    assert state_of(in_tenant, acme, m.active) == state


def test_ending_through_the_api_and_its_refusals(acme, contracts_market, tenant_client, in_tenant, run_jobs):
    m = contracts_market(acme)
    url = f"/api/v1/console/contracts/{m.active}/end"
    body = {"reason": "Both parties asked us to stop it."}
    before = state_of(in_tenant, acme, m.active)
    for email in (m.moderator_email, m.emails["member"], m.emails["client"]):
        client = tenant_client("acme")
        assert client.post(url, json=body, headers=token(client, email)).status_code == 403
    client, headers = admin_api(tenant_client, acme)
    short = client.post(url, json={"reason": "no"}, headers=headers)
    assert short.status_code == 422 and "reason" in short.json["errors"]["json"]
    assert client.post(url, json={}, headers=headers).status_code == 422
    assert client.post("/api/v1/console/contracts/999999/end", json=body, headers=headers).status_code == 404
    offer = client.post(f"/api/v1/console/contracts/{m.offered}/end", json=body, headers=headers)
    assert offer.status_code == 409 and offer.json["errors"]["current_status"] == "offered"
    assert state_of(in_tenant, acme, m.active) == before
    assert not [row for row in _audit(in_tenant, acme) if row[0] == "contract.end"]

    keyed = {**headers, "Idempotency-Key": "end-once-1"}
    ended = client.post(url, json=body, headers=keyed)
    assert ended.status_code == 200 and ended.json["status"] == "cancelled"
    assert [(x["status"], x["refunded_minor"]) for x in ended.json["milestones"]] == [
        ("refunded", M1),
        ("cancelled", 0),
    ]
    assert [t["kind"] for t in ended.json["ledger_transactions"]] == ["payment", "refund"]
    assert ended.json["money"]["refunded_minor"] == M1 and ended.json["money"]["in_escrow_minor"] == 0
    assert ended.json["audit"][0]["action"] == "contract.end"
    replay = client.post(url, json=body, headers=keyed)
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    again = client.post(url, json=body, headers={**headers, "Idempotency-Key": "end-once-2"})
    assert again.status_code == 409 and again.json["errors"]["current_status"] == "cancelled"
    assert state_of(in_tenant, acme, m.active)["refunds"] == 1
    assert [row[3] for row in _audit(in_tenant, acme) if row[0] == "contract.end"] == ["api"]
    # a completed contract is ended already
    done = client.post(f"/api/v1/console/contracts/{m.done}/end", json=body, headers=headers)
    assert done.status_code == 409 and done.json["errors"]["current_status"] == "completed"
    with in_tenant(acme):
        assert ledger.verify().ok


def _audit(in_tenant, tenant):
    with in_tenant(tenant):
        return [(a, t, i, v) for a, t, i, _actor, v in audit_rows()]


# --------------------------------------------------------------------------- the milestones queue


def test_the_milestones_queue_filters_by_state_and_auto_release_due(acme, contracts_market, tenant_client):
    m = contracts_market(acme)
    moderator = login(tenant_client("acme"), m.moderator_email)
    page = moderator.get("/console/milestones").get_data(as_text=True)
    assert 'data-testid="milestone-total">3 milestones' in page  # an offer has no engagement yet
    for mid in (m.m1, m.m2, m.done_m):
        assert f'data-testid="milestone-row-{mid}"' in page
    assert f'href="/console/contracts/{m.active}#milestone-{m.m1}"' in page
    assert ">Submitted (1)<" in page and ">Paid (1)<" in page and ">Planned (1)<" in page

    def rows(query):
        html = moderator.get(f"/console/milestones?{query}").get_data(as_text=True)
        return {mid for mid in (m.m1, m.m2, m.done_m) if f"milestone-row-{mid}" in html}

    assert rows("state=submitted") == {m.m1}
    assert rows("state=paid") == {m.done_m}
    assert rows("state=refunded") == set()
    assert rows("due_within=13") == set()  # released on its own in 14 days
    assert rows("due_within=14") == {m.m1}
    bad = moderator.get("/console/milestones?state=lost&due_within=-1")
    assert bad.status_code == 422 and "Unknown state" in bad.get_data(as_text=True)
    assert moderator.get("/console/milestones?due_within=400").status_code == 422

    client = tenant_client("acme")
    headers = token(client, m.moderator_email)
    listed = client.get("/api/v1/console/milestones?state=submitted", headers=headers)
    assert listed.status_code == 200
    (row,) = listed.json
    assert (row["id"], row["contract"]["id"], row["contract"]["number"]) == (m.m1, m.active, f"C-{m.active}")
    assert row["held_minor"] == M1 and row["freelancer"]["email"] == m.emails["ann"]
    assert row["auto_release_at"] and row["since"]
    due = client.get("/api/v1/console/milestones?due_within=14", headers=headers).json
    assert [x["id"] for x in due] == [m.m1]
    assert [x["id"] for x in client.get("/api/v1/console/milestones", headers=headers).json] == [
        m.done_m,
        m.m1,
        m.m2,
    ]  # the newest contract first, its milestones in order
    for query in ("state=lost", "due_within=-1", "due_within=366"):
        refused = client.get(f"/api/v1/console/milestones?{query}", headers=headers)
        assert refused.status_code == 422 and refused.json["errors"]["query"]
    assert client.get("/api/v1/console/milestones?due_within=soon", headers=headers).status_code == 422


# --------------------------------------------------------------------------- the dashboard


def test_the_dashboard_counts_jobs_contracts_milestones_and_contract_gmv(
    acme, globex, contracts_market, tenant_client
):
    contracts_market(acme)
    client, headers = admin_api(tenant_client, acme)
    body = client.get("/api/v1/console/dashboard?period=30d", headers=headers).json
    figures = {f["key"]: (f["value"], f["previous"]) for f in body["figures"]}
    keys = [f["key"] for f in body["figures"]]
    assert keys[:9] == [
        "gmv",
        "commission",
        "refunds",
        "orders",
        "paid_orders",
        "average_order",
        "new_users",
        "active_sellers",
        "reviews",
    ]  # the marketplace's figures keep their order; the new ones follow
    assert keys[9:] == ["jobs_posted", "contracts_started", "milestones_paid", "contract_gmv"]
    assert figures["jobs_posted"] == (1, 1)  # the hired job now, "An older job" 40 days ago
    assert figures["contracts_started"] == (1, 1)  # the active one now, the done one 40 days ago
    assert figures["milestones_paid"] == (1, 0)
    assert figures["contract_gmv"] == (M1 + SMALL, 0)  # the two milestones funded
    assert figures["gmv"][0] == M1 + SMALL  # GMV includes milestone payments
    page = admin_web(tenant_client, acme).get("/console/?period=30d").get_data(as_text=True)
    assert 'data-testid="contract-kpis"' in page
    assert 'data-testid="kpi-contract_gmv" data-value="150000" data-previous="0"' in page
    assert 'data-testid="kpi-contracts_started" data-value="1" data-previous="1"' in page
    assert page.index('data-testid="kpi-average_rating"') < page.index('data-testid="kpi-jobs_posted"')
    # another marketplace counts its own: none
    g_client, g_headers = admin_api(tenant_client, globex)
    g_body = g_client.get("/api/v1/console/dashboard?period=30d", headers=g_headers).json
    assert {f["key"]: f["value"] for f in g_body["figures"]}["contract_gmv"] == 0
    assert {f["key"]: f["value"] for f in g_body["figures"]}["contracts_started"] == 0


# --------------------------------------------------------------------------- tenants and access


def test_each_marketplace_sees_only_its_own_contracts_with_equal_ids(
    acme, globex, contracts_market, tenant_client, in_tenant
):
    a, g = contracts_market(acme), contracts_market(globex)
    assert (a.active, a.order_id, a.m1) == (g.active, g.order_id, g.m1)
    web = admin_web(tenant_client, acme)
    offer = web.get(f"/console/contracts/{a.offered}").get_data(as_text=True)
    assert "Logo refresh for acme" in offer and "globex" not in offer
    assert "globex" not in web.get("/console/contracts").get_data(as_text=True)
    assert "globex" not in web.get("/console/milestones").get_data(as_text=True)
    client, headers = admin_api(tenant_client, acme)
    ended = client.post(
        f"/api/v1/console/contracts/{a.active}/end", json={"reason": "Fraud on acme."}, headers=headers
    )
    assert ended.status_code == 200
    assert state_of(in_tenant, acme, a.active)["status"] == "cancelled"
    untouched = state_of(in_tenant, globex, g.active)
    assert untouched["status"] == "active" and untouched["escrow"] == M1 and untouched["refunds"] == 0
    # acme's operator is nobody on globex: their token opens nothing there.
    globex_client = tenant_client("globex")
    assert globex_client.get(f"/api/v1/console/contracts/{g.active}", headers=headers).status_code == 401
    assert (
        globex_client.post(
            f"/api/v1/console/contracts/{g.active}/end", json={"reason": "Fraud on acme."}, headers=headers
        ).status_code
        == 401
    )
    assert [row for row in _audit(in_tenant, globex) if row[0] == "contract.end"] == []


@pytest.mark.parametrize(
    ("who", "path", "web_status"),
    [
        ("client", "/console/contracts", 403),
        ("ann", "/console/contracts", 403),
        ("member", "/console/milestones", 403),
        ("moderator", "/console/contracts", 200),
        ("moderator", "/console/milestones", 200),
    ],
)
def test_who_may_use_the_contracts_area(
    acme, contracts_market, tenant_client, in_tenant, who, path, web_status
):
    m = contracts_market(acme)
    email = m.moderator_email if who == "moderator" else m.emails[who]
    web = login(tenant_client("acme"), email, PASSWORD)
    assert web.get(path).status_code == web_status
    api = {
        "/console/contracts": "/api/v1/console/contracts",
        "/console/milestones": "/api/v1/console/milestones",
    }[path]
    client = tenant_client("acme")
    headers = token(client, email)
    assert client.get(api, headers=headers).status_code == web_status
    detail = f"/console/contracts/{m.active}"
    assert web.get(detail).status_code == web_status
    # nobody below admin ends a contract, on the web or through the API
    any_form = detail if web_status == 200 else "/account"  # the session's CSRF token
    data = {"csrf_token": csrf_token(web, any_form), "confirm": "yes", "reason": "Not mine to end."}
    assert web.post(f"{detail}/end", data=data).status_code == 403
    end_url = f"/api/v1/console/contracts/{m.active}/end"
    assert client.post(end_url, json={"reason": "Not mine to end."}, headers=headers).status_code == 403
    assert state_of(in_tenant, acme, m.active)["status"] == "active"
    assert tenant_client("acme").get(path).status_code == 302  # anonymous: the login page first
