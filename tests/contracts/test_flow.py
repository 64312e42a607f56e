"""Issue #15's "Done when" for contracts, through the REST API alone, with the sandbox and with
the Stripe emulation: a client posts a job from a template, two freelancers propose, the client
hires one, both sign the SoW, the client funds and accepts two milestones (the second after a
request for changes), the freelancer's balance shows both minus commission, is paid out, and
the ledger verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.events.models import OutboxEvent
from app.ledger import services as ledger
from app.payments import tasks as payment_tasks
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.helpers import login
from tests.orders.test_done_when import COMMISSION_BPS

AMOUNTS = (120000, 180000)
FEES = tuple(a * COMMISSION_BPS // 10000 for a in AMOUNTS)


def test_done_when_post_propose_hire_sign_fund_accept_pay_out(
    provider, acme, people, api_token, tenant_client, in_tenant, app, run_jobs
):
    p = people(acme)
    client, ch = api_token(acme, p.emails["client"])
    ann, ah = api_token(acme, p.emails["ann"])
    bob, bh = api_token(acme, p.emails["bob"])
    client_web = login(tenant_client("acme"), p.emails["client"])

    # --- the client posts a job from a template; two freelancers propose -----------------
    templates = client.get("/api/v1/job-templates", headers=ch).json
    saas = next(t for t in templates if t["key"] == "saas-mvp")
    r = client.post(
        "/api/v1/jobs",
        json={
            "template_id": saas["id"],
            "title": "Booking SaaS MVP for gyms",
            "budget_type": "fixed",
            "budget_min_minor": 200000,
            "budget_max_minor": 400000,
            "duration": "1_to_3_months",
            "experience_level": "intermediate",
            "publish": True,
        },
        headers=ch,
    )
    assert r.status_code == 201, r.json
    job = r.json
    assert job["status"] == "open"
    proposal = {
        "cover_letter": "I have shipped three SaaS MVPs on this stack; here is how I would split the work.",
        "total_minor": sum(AMOUNTS),
        "milestones": [
            {"title": "Foundations", "amount_minor": AMOUNTS[0]},
            {"title": "MVP", "amount_minor": AMOUNTS[1]},
        ],
        "delivery_days": 45,
    }
    r_ann = ann.post(f"/api/v1/jobs/{job['id']}/proposals", json=proposal, headers=ah)
    r_bob = bob.post(f"/api/v1/jobs/{job['id']}/proposals", json=proposal, headers=bh)
    assert r_ann.status_code == r_bob.status_code == 201, (r_ann.json, r_bob.json)

    # --- the client hires Ann: bad terms first, then the offer -----------------------------
    hire = f"/api/v1/proposals/{r_ann.json['id']}/hire"
    bad = client.post(
        hire,
        json={
            "scope": "x",
            "milestones": [{"title": "A", "amount_minor": 0, "due_date": "2001-01-01"}],
            "total_minor": 5,
        },
        headers=ch,
    )
    assert bad.status_code == 422
    assert set(bad.json["errors"]["json"]["milestones"]["0"]) == {"amount_minor", "due_date"}
    soon = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
    terms = {
        "scope": "The booking MVP: calendar, payments and reminders, as in the job.",
        "milestones": [
            {
                "title": "Foundations",
                "amount_minor": AMOUNTS[0],
                "due_date": soon,
                "dod": ["Data model reviewed"],
            },
            {"title": "MVP", "amount_minor": AMOUNTS[1], "dod": []},
        ],
        "total_minor": sum(AMOUNTS),
        "nda": True,
    }
    r = client.post(hire, json=terms, headers=ch)
    assert r.status_code == 201, r.json
    contract = r.json
    assert contract["status"] == "offered" and contract["actions"] == ["withdraw"]
    assert client.post(hire, json=terms, headers=ch).status_code == 409  # one open offer per proposal
    assert bob.get(f"/api/v1/contracts/{contract['id']}", headers=bh).status_code == 404
    cid = contract["id"]
    base = f"/api/v1/contracts/{cid}"

    r = ann.post(f"{base}/accept", json={}, headers=ah)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "awaiting_signatures" and r.json["sow"]["content_sha256"]
    assert "NDA" not in r.json["sow"]["body"] and "confidential" in r.json["sow"]["body"]
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=ch).json["status"] == "in_progress"
    # Bob's proposal can no longer be hired; the job is filled.
    assert (
        client.post(f"/api/v1/proposals/{r_bob.json['id']}/hire", json=terms, headers=ch).status_code == 409
    )

    # --- both sign -------------------------------------------------------------------------
    wrong = ann.post(f"{base}/sow/sign", json={"typed_name": "Someone Else"}, headers=ah)
    assert wrong.status_code == 422 and "typed_name" in wrong.json["errors"]["json"]
    assert ann.post(f"{base}/sow/sign", json={"typed_name": " ann  dev "}, headers=ah).status_code == 200
    assert ann.post(f"{base}/sow/sign", json={"typed_name": "Ann Dev"}, headers=ah).status_code == 409
    r = client.post(f"{base}/sow/sign", json={"typed_name": "Cleo Client"}, headers=ch)
    assert r.status_code == 200, r.json
    active = r.json
    assert active["status"] == "active" and active["order_id"]
    assert [s["role"] for s in active["sow"]["signatures"]] == ["freelancer", "client"]
    assert [m["status"] for m in active["milestones"]] == ["funding_required", "planned"]
    download = client.get(f"{base}/sow/download", headers=ch)
    assert download.status_code == 200 and active["sow"]["content_sha256"] in download.get_data(as_text=True)
    oid = active["order_id"]
    m1, m2 = (m["id"] for m in active["milestones"])
    steps = f"/api/v1/orders/{oid}/milestones"

    def money_step(who, headers, mid, path, key, body=None, status=200):
        r = who.post(f"{steps}/{mid}/{path}", json=body or {}, headers={**headers, "Idempotency-Key": key})
        assert r.status_code == status, (path, r.json)
        return r.json

    # --- milestone 1: funded, submitted, changes requested, resubmitted, accepted --------
    funded = money_step(client, ch, m1, "fund", "c-fund-1")
    provider.pay(client_web, funded["checkout_url"])
    assert money_step(client, ch, m1, "fund", "c-fund-1b", status=409)["errors"]["current_status"] == "funded"
    assert (
        money_step(client, ch, m1, "accept", "c-acc-early", status=409)["errors"]["current_status"]
        == "funded"
    )
    missing_dod = money_step(ann, ah, m1, "submit", "c-sub-0", {"message": "Done"}, status=422)
    assert "dod" in missing_dod["errors"]["json"]
    money_step(ann, ah, m1, "submit", "c-sub-1", {"message": "Schema and screens", "dod_done": [1]})
    money_step(client, ch, m1, "request-changes", "c-chg-1", {"feedback": "Add recurring bookings"})
    money_step(ann, ah, m1, "submit", "c-sub-2", {"message": "Recurring added", "dod_done": [1]})
    money_step(client, ch, m1, "accept", "c-acc-1")
    replay = client.post(f"{steps}/{m1}/accept", json={}, headers={**ch, "Idempotency-Key": "c-acc-1"})
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"

    # --- milestone 2 -----------------------------------------------------------------------
    funded = money_step(client, ch, m2, "fund", "c-fund-2")
    provider.pay(client_web, funded["checkout_url"])
    money_step(
        ann, ah, m2, "submit", "c-sub-3", {"message": "The MVP", "links": ["https://example.com/pr/1"]}
    )
    money_step(client, ch, m2, "accept", "c-acc-2")
    run_jobs()  # order.completed -> the contract ends, the job completes

    done = client.get(base, headers=ch).json
    assert done["status"] == "completed" and done["money"]["released"] == sum(AMOUNTS)
    assert done["money"]["in_escrow"] == 0
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=ch).json["status"] == "completed"
    net = sum(AMOUNTS) - sum(FEES)
    assert ann.get("/api/v1/balances", headers=ah).json["pending_minor"] == net

    # --- clearance and payout ----------------------------------------------------------------
    with in_tenant(acme):
        clearance_days = db.session.get(MarketplaceSettings, 1).clearance_days
    with app.app_context():
        payment_tasks.payments_tick(datetime.now(UTC) + timedelta(days=clearance_days, hours=1))
    run_jobs()
    assert ann.get("/api/v1/balances", headers=ah).json["available_minor"] == net
    ann_web = login(tenant_client("acme"), p.emails["ann"])
    provider.set_up_payouts(ann_web, p.ann)
    payout = ann.post(
        "/api/v1/payouts", json={"amount_minor": net}, headers={**ah, "Idempotency-Key": "c-po"}
    )
    assert payout.status_code == 201, payout.json
    provider.settle()
    assert ann.get("/api/v1/balances", headers=ah).json["available_minor"] == 0

    # --- a direct offer to Bob: funded, then ended before any work; refunded at the provider
    r = client.post(
        "/api/v1/contracts",
        json={**terms, "freelancer_id": p.bob, "title": "Landing page", "total_minor": None},
        headers=ch,
    )
    assert r.status_code == 201, r.json
    second = f"/api/v1/contracts/{r.json['id']}"
    assert bob.post(f"{second}/accept", json={}, headers=bh).status_code == 200
    assert bob.post(f"{second}/sow/sign", json={"typed_name": "Bob Dev"}, headers=bh).status_code == 200
    signed = client.post(f"{second}/sow/sign", json={"typed_name": "Cleo Client"}, headers=ch).json
    steps = f"/api/v1/orders/{signed['order_id']}/milestones"
    funded = money_step(client, ch, signed["milestones"][0]["id"], "fund", "c2-fund-1")
    provider.pay(client_web, funded["checkout_url"])
    ended = client.post(f"{second}/end", json={"reason": "Plans changed"}, headers=ch)
    assert ended.status_code == 200, ended.json
    assert ended.json["status"] == "cancelled" and ended.json["money"]["refunded"] == AMOUNTS[0]
    provider.settle()  # order.refunded -> the provider refunds the payment
    provider.settle()
    with in_tenant(acme):
        refunds = [
            e.payload
            for e in db.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.name == "refund.completed"))
        ]
    assert [(x["order_id"], x["amount_minor"]) for x in refunds] == [(signed["order_id"], AMOUNTS[0])]

    # --- the ledger and the outbox -----------------------------------------------------------
    with in_tenant(acme):
        report = ledger.verify()
        assert report.ok, report
        names = [
            n
            for n, payload in db.session.execute(
                sa.select(OutboxEvent.name, OutboxEvent.payload).order_by(OutboxEvent.id)
            )
            if payload.get("contract_id") == cid
        ]
    assert names == [
        "contract.offered",
        "contract.created",
        "contract.signed",
        "contract.signed",
        "contract.activated",
        "contract.ended",
    ]
