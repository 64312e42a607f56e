"""Jobs through HTTP: the API's rules and refusals, tenants that never meet (equal ids), and
the web pages rendering."""

from __future__ import annotations

import sqlalchemy as sa

from app.jobs.models import Job, JobInvite, Proposal
from tenants.db import db
from tests.helpers import bearer_headers, login
from tests.jobs.conftest import JOB, PROPOSAL


def _setup(tenant, people, tenant_client):
    p = people(tenant)
    client = tenant_client(tenant.slug)
    h = {who: bearer_headers(client, email) for who, email in p.emails.items()}
    return p, client, h


def test_the_flow_through_the_api_and_its_refusals(acme, people, tenant_client, in_tenant):
    p, c, h = _setup(acme, people, tenant_client)
    job = c.post("/api/v1/jobs", json={**JOB, "publish": True}, headers=h["client"])
    assert job.status_code == 201, job.json
    job_id = job.json["id"]
    assert job.json["status"] == "open" and job.json["skills"] == ["python", "react", "postgresql"]
    assert c.get("/api/v1/jobs?q=booking", headers=h["ann"]).json[0]["id"] == job_id
    assert c.get("/api/v1/jobs?matching=true", headers=h["ann"]).json[0]["id"] == job_id
    bad = c.post(
        f"/api/v1/jobs/{job_id}/proposals",
        json={**PROPOSAL, "milestones": [{"title": "A", "amount_minor": 1}]},
        headers=h["ann"],
    )
    assert bad.status_code == 422 and "milestones" in bad.json["errors"]["json"]
    own = c.post(f"/api/v1/jobs/{job_id}/proposals", json=PROPOSAL, headers=h["client"])
    assert own.status_code == 403  # the client has no seller profile
    sent = c.post(f"/api/v1/jobs/{job_id}/proposals", json=PROPOSAL, headers=h["ann"])
    assert sent.status_code == 201, sent.json
    again = c.post(f"/api/v1/jobs/{job_id}/proposals", json=PROPOSAL, headers=h["ann"])
    assert again.status_code == 409 and again.json["errors"]["current_status"] == "submitted"
    c.post(f"/api/v1/jobs/{job_id}/proposals", json=PROPOSAL, headers=h["bob"])
    ranked = c.get(f"/api/v1/jobs/{job_id}/proposals", headers=h["client"])
    assert [r["freelancer_id"] for r in ranked.json] == [p.ann, p.bob]
    assert "matches 3 of 3 skills" in ranked.json[0]["match"]["explanation"]
    assert c.get(f"/api/v1/jobs/{job_id}/proposals", headers=h["ann"]).status_code == 403
    declined = c.post(
        f"/api/v1/proposals/{sent.json['id']}/review",
        json={"status": "declined", "message": "Sorry"},
        headers=h["client"],
    )
    assert declined.status_code == 200 and declined.json["status"] == "declined"
    closed = c.post(f"/api/v1/jobs/{job_id}/close", headers=h["client"])
    assert closed.json["status"] == "cancelled"
    late = c.post(f"/api/v1/jobs/{job_id}/proposals", json=PROPOSAL, headers=h["ann"])
    assert late.status_code == 409 and late.json["errors"]["current_status"] == "cancelled"
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Proposal)) == 2


def test_bad_budgets_through_the_api_store_nothing(acme, people, tenant_client, in_tenant):
    p, c, h = _setup(acme, people, tenant_client)
    for change in ({"budget_min_minor": 0}, {"budget_max_minor": 100}, {"budget_min_minor": "100"}):
        response = c.post("/api/v1/jobs", json={**JOB, **change}, headers=h["client"])
        assert response.status_code == 422, response.json
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_tenants_never_meet_with_equal_ids(acme, globex, people, tenant_client, in_tenant):
    ids = {}
    for tenant in (acme, globex):
        p, c, h = _setup(tenant, people, tenant_client)
        job = c.post(
            "/api/v1/jobs",
            json={**JOB, "title": f"{tenant.slug} booking tool job", "publish": True},
            headers=h["client"],
        ).json
        proposal = c.post(f"/api/v1/jobs/{job['id']}/proposals", json=PROPOSAL, headers=h["ann"]).json
        invite = c.post(
            f"/api/v1/jobs/{job['id']}/invites", json={"freelancer_id": p.bob}, headers=h["client"]
        ).json
        ids[tenant.slug] = (job["id"], proposal["id"], invite["id"], c, h)
    assert ids["acme"][:3] == ids["globex"][:3]  # equal ids on both sides
    job_id, proposal_id, invite_id, c, h = ids["acme"]
    assert c.get(f"/api/v1/jobs/{job_id}", headers=h["ann"]).json["title"] == "acme booking tool job"
    assert [j["title"] for j in c.get("/api/v1/jobs", headers=h["ann"]).json] == ["acme booking tool job"]
    # globex's token is refused on acme's host: nothing of globex is reachable there.
    globex_h = ids["globex"][4]
    assert c.get(f"/api/v1/proposals/{proposal_id}", headers=globex_h["ann"]).status_code == 401
    answer = c.post(f"/api/v1/invites/{invite_id}/answer", json={"accept": False}, headers=h["bob"])
    assert answer.status_code == 200
    with in_tenant(globex):
        assert db.session.get(JobInvite, invite_id).status == "sent"
        assert db.session.get(Job, job_id).title == "globex booking tool job"
    page = c.get(f"/jobs/{job_id}")
    assert b"acme booking tool job" in page.data and b"globex" not in page.data


def test_web_pages_render(acme, people, tenant_client):
    p, c, h = _setup(acme, people, tenant_client)
    job_id = c.post("/api/v1/jobs", json={**JOB, "publish": True}, headers=h["client"]).json["id"]
    c.post(f"/api/v1/jobs/{job_id}/proposals", json=PROPOSAL, headers=h["ann"])
    web = tenant_client("acme")
    assert web.get("/jobs").status_code == 200
    assert b"Build a booking tool" in web.get(f"/jobs/{job_id}").data
    login(web, p.emails["client"])
    for path in (
        "/jobs/new",
        "/jobs/new?template=1",
        "/jobs/mine",
        f"/jobs/{job_id}/proposals",
        "/proposals",
    ):
        response = web.get(path)
        assert response.status_code == 200, path
    assert b"matches 3 of 3 skills" in web.get(f"/jobs/{job_id}/proposals").data
    assert b"SaaS MVP project" in web.get("/jobs/new?template=1").data
