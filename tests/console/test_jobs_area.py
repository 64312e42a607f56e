"""Operator console, jobs area: every job (filters, search), a job's page with its proposals and
invites, closing an abusive job with a reason (audited, the client told), the job templates
(add, edit, hide, reorder) and the matching weights, on the web and through the API.

Moderators and admins read and close jobs; templates and weights are the admins'. Each
marketplace sees only its own jobs and templates, even with equal ids.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.events.models import OutboxEvent
from app.jobs import proposals, services
from app.jobs.models import Job, JobSettings, JobTemplate
from app.notifications.models import Notification
from tenants.db import db
from tests.console.conftest import ADMIN_PASSWORD, PASSWORD, csrf_token, login, token
from tests.console.jobs_kit import NOW
from tests.jobs.conftest import PROPOSAL

MILESTONES = [
    {"title": "Design", "deliverable": "Wireframes", "dod": ["Flows agreed"], "share_percent": 30},
    {
        "title": "Build",
        "deliverable": "Live theme",
        "dod": ["Matches designs", "Deployed"],
        "share_percent": 70,
    },
]
TEMPLATE = {
    "name": "Shopify theme",
    "summary": "A custom theme for a Shopify store.",
    "scope": "Build a custom Shopify theme from the provided designs, editable in the theme editor.",
    "skills": ["shopify", "liquid"],
    "duration": "1_to_4_weeks",
    "milestones": MILESTONES,
}


def u(user_id):
    return db.session.get(User, user_id)


def admin_web(tenant_client, tenant):
    return login(tenant_client(tenant.slug), f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def admin_api(tenant_client, tenant):
    client = tenant_client(tenant.slug)
    return client, token(client, f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def audit(in_tenant, tenant):
    from app.console.models import AuditEntry

    with in_tenant(tenant):
        return [
            (a.action, a.target_type, a.target_id, a.via, a.changes)
            for a in db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))
        ]


def job_state(in_tenant, tenant, job_id):
    with in_tenant(tenant):
        job = db.session.get(Job, job_id)
        return (job.status, job.closed_reason, job.closed_by_id)


# --------------------------------------------------------------------------- the list and a job


def test_operators_list_filter_and_search_jobs(acme, jobs_market, tenant_client):
    m = jobs_market(acme)
    web = admin_web(tenant_client, acme)
    page = web.get("/console/jobs").get_data(as_text=True)
    assert 'data-testid="job-total">3 jobs' in page
    for job_id in (m.job, m.draft, m.closed):
        assert f'data-testid="job-row-{job_id}"' in page
    assert ">Open (1)<" in page and ">Closed (1)<" in page and ">Draft (1)<" in page
    only_open = web.get("/console/jobs?status=open").get_data(as_text=True)
    assert f"job-row-{m.job}" in only_open and f"job-row-{m.draft}" not in only_open
    assert f"job-row-{m.closed}" in web.get("/console/jobs?q=logo").get_data(as_text=True)
    assert f"job-row-{m.job}" in web.get(f"/console/jobs?q=%23{m.job}").get_data(as_text=True)
    today = NOW.date().isoformat()
    recent = web.get(f"/console/jobs?from={today}&to={today}").get_data(as_text=True)
    assert f"job-row-{m.job}" in recent and f"job-row-{m.closed}" not in recent  # the draft was never posted
    assert f"job-row-{m.draft}" not in recent
    bad = web.get("/console/jobs?status=lost&from=2026-13-01")
    assert bad.status_code == 422 and "Unknown status" in bad.get_data(as_text=True)

    client, headers = admin_api(tenant_client, acme)
    listed = client.get("/api/v1/console/jobs", headers=headers)
    assert listed.status_code == 200 and [j["id"] for j in listed.json] == sorted(
        [m.job, m.draft, m.closed], reverse=True
    )
    row = next(j for j in listed.json if j["id"] == m.job)
    assert row["client"]["email"] == m.emails["client"] and row["proposals"] == 2 and row["status"] == "open"
    assert [j["id"] for j in client.get("/api/v1/console/jobs?status=draft", headers=headers).json] == [
        m.draft
    ]
    refused = client.get("/api/v1/console/jobs?status=lost", headers=headers)
    assert refused.status_code == 422 and "status" in refused.json["errors"]["query"]
    refused = client.get("/api/v1/console/jobs?from=2026-05-02&to=2026-05-01", headers=headers)
    assert refused.status_code == 422 and "to" in refused.json["errors"]["query"]


def test_a_jobs_page_shows_its_proposals_their_price_and_the_invites(acme, jobs_market, tenant_client):
    m = jobs_market(acme)
    page = admin_web(tenant_client, acme).get(f"/console/jobs/{m.job}").get_data(as_text=True)
    assert "Booking tool for acme gyms" in page and m.emails["client"] in page
    assert f'data-testid="proposal-price-{m.ann_proposal}">$3,000.00' in page
    assert f'data-testid="proposal-price-{m.bob_proposal}">$2,500.00' in page
    assert f'data-testid="proposal-status-{m.bob_proposal}">Shortlisted' in page
    assert f'data-testid="invite-status-{m.late_invite}">Expired' in page
    assert 'data-testid="close-form"' in page
    closed = admin_web(tenant_client, acme).get(f"/console/jobs/{m.closed}").get_data(as_text=True)
    assert 'data-testid="close-form"' not in closed  # only an open job can be closed here

    client, headers = admin_api(tenant_client, acme)
    detail = client.get(f"/api/v1/console/jobs/{m.job}", headers=headers).json
    assert {p["id"]: (p["status"], p["total_minor"]) for p in detail["proposals"]} == {
        m.ann_proposal: ("submitted", 300000),
        m.bob_proposal: ("shortlisted", 250000),
    }
    assert {i["freelancer"]["id"]: i["status"] for i in detail["invites"]} == {
        m.ann: "sent",
        m.bob: "expired",
    }
    assert client.get("/api/v1/console/jobs/999999", headers=headers).status_code == 404
    assert admin_web(tenant_client, acme).get("/console/jobs/999999").status_code == 404


# --------------------------------------------------------------------------- closing a job


def test_a_moderator_closes_an_abusive_job_the_client_is_told_why(
    acme, jobs_market, tenant_client, in_tenant, run_jobs
):
    m = jobs_market(acme)
    moderator = login(tenant_client("acme"), f"mod@{acme.slug}.test", PASSWORD)
    page = f"/console/jobs/{m.job}"
    token_ = csrf_token(moderator, page)
    # Without confirm=yes (no JavaScript) the server asks first: nothing happens.
    asked = moderator.post(f"{page}/close", data={"csrf_token": token_, "reason": "Asks for a fee."})
    assert asked.status_code == 200 and 'data-testid="confirm-page"' in asked.get_data(as_text=True)
    short = moderator.post(f"{page}/close", data={"csrf_token": token_, "reason": "no", "confirm": "yes"})
    assert short.status_code == 422 and "at least 5 characters" in short.get_data(as_text=True)
    assert job_state(in_tenant, acme, m.job) == ("open", None, None) and audit(in_tenant, acme) == []

    reason = "Asks freelancers to pay a registration fee off the platform."
    done = moderator.post(f"{page}/close", data={"csrf_token": token_, "reason": reason, "confirm": "yes"})
    assert done.status_code == 303
    assert job_state(in_tenant, acme, m.job) == ("cancelled", reason, m.moderator)
    [(action, target, target_id, via, changes)] = audit(in_tenant, acme)
    assert (action, target, target_id, via) == ("job.close", "job", str(m.job), "web")
    assert changes["status"] == ["open", "cancelled"] and changes["closed_reason"] == [None, reason]
    with in_tenant(acme):
        # (the market's own closed job, closed by its client, published one too)
        [event] = [
            e
            for e in db.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.name == "job.closed"))
            if e.payload["job_id"] == m.job
        ]
        assert event.payload == {"job_id": m.job, "by_operator": True, "reason": reason}
    run_jobs()
    with in_tenant(acme):
        [note] = db.session.scalars(
            sa.select(Notification).where(
                Notification.user_id == m.client, Notification.kind == "job_closed_by_operator"
            )
        ).all()
        assert reason in note.data["text"] and note.url == f"/jobs/{m.job}"
        with pytest.raises(proposals.ProposalStateError) as exc:  # closed: no more proposals
            proposals.submit_proposal(u(m.ann), m.job, dict(PROPOSAL), now=NOW)
        assert exc.value.extra["current_status"] == "cancelled"
    client_web = login(tenant_client("acme"), m.emails["client"])
    assert reason in client_web.get(f"/jobs/{m.job}").get_data(as_text=True)
    assert "History" in moderator.get(page).get_data(as_text=True)

    # Through the API: a job that is not open is a 409 naming its status; nothing changes.
    client, headers = tenant_client("acme"), token(tenant_client("acme"), f"mod@{acme.slug}.test")
    for job_id, status in ((m.job, "cancelled"), (m.draft, "draft")):
        again = client.post(f"/api/v1/console/jobs/{job_id}/close", json={"reason": reason}, headers=headers)
        assert again.status_code == 409 and again.json["errors"]["current_status"] == status
    assert len(audit(in_tenant, acme)) == 1


def test_closing_through_the_api_and_its_refusals(acme, jobs_market, tenant_client, in_tenant):
    m = jobs_market(acme)
    client, headers = admin_api(tenant_client, acme)
    url = f"/api/v1/console/jobs/{m.job}/close"
    for body in ({}, {"reason": ""}, {"reason": "x" * 1001}, {"reason": 12}):
        refused = client.post(url, json=body, headers=headers)
        assert refused.status_code == 422, body
    assert job_state(in_tenant, acme, m.job)[0] == "open" and audit(in_tenant, acme) == []
    assert (
        client.post(
            "/api/v1/console/jobs/999999/close", json={"reason": "Spam job"}, headers=headers
        ).status_code
        == 404
    )
    done = client.post(url, json={"reason": "Spam: the same job posted forty times."}, headers=headers)
    assert done.status_code == 200 and done.json["status"] == "cancelled"
    assert done.json["closed_reason"] == "Spam: the same job posted forty times."
    assert done.json["audit"][0]["action"] == "job.close" and audit(in_tenant, acme)[0][3] == "api"


# --------------------------------------------------------------------------- templates


def _template_form(client, url, name="Shopify theme", rows=None, **extra):
    data = {
        "csrf_token": csrf_token(client, url),
        "name": name,
        "summary": "A custom theme for a Shopify store.",
        "scope": TEMPLATE["scope"],
        "skills": "shopify, liquid",
        "budget_type": "fixed",
        "duration": "1_to_4_weeks",
    }
    for i, row in enumerate(rows or []):
        for key, value in row.items():
            data[f"milestones-{i}-{key}"] = value
    data.update(extra)
    return data


def test_admins_add_edit_hide_and_reorder_templates_on_the_web(acme, people, tenant_client, in_tenant):
    p = people(acme)
    web = admin_web(tenant_client, acme)
    listing = web.get("/console/job-templates").get_data(as_text=True)
    assert listing.count('<li class="template-card') == 9 and "SaaS MVP" in listing
    blank = {"title": "", "deliverable": "", "dod": "", "share_percent": ""}
    rows = [
        {
            "title": "Design",
            "deliverable": "Wireframes",
            "dod": "Flows agreed\nWireframes approved",
            "share_percent": "30",
        },
        blank,  # an empty row is dropped
        {"title": "", "deliverable": "Live theme", "dod": "Deployed", "share_percent": "60 %"},
    ]
    refused = web.post(
        "/console/job-templates/new", data=_template_form(web, "/console/job-templates/new", rows=rows)
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "add up to 100 % (they add up to 90 %)" in html  # above the form
    assert 'id="milestones-2-title-error"' in html  # the third row's title, where it was left empty
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(JobTemplate)) == 9

    rows[2] = {
        "title": "Build",
        "deliverable": "Live theme",
        "dod": "Deployed\n\nMatches designs",
        "share_percent": "70",
    }
    created = web.post(
        "/console/job-templates/new", data=_template_form(web, "/console/job-templates/new", rows=rows)
    )
    assert created.status_code == 303
    with in_tenant(acme):
        template = db.session.scalar(sa.select(JobTemplate).where(JobTemplate.key == "shopify-theme"))
        assert template.position == 9 and not template.hidden and template.skills == ["shopify", "liquid"]
        assert template.milestones == [
            {
                "title": "Design",
                "deliverable": "Wireframes",
                "dod": ["Flows agreed", "Wireframes approved"],
                "share_percent": 30,
            },
            {
                "title": "Build",
                "deliverable": "Live theme",
                "dod": ["Deployed", "Matches designs"],
                "share_percent": 70,
            },
        ]
        template_id = template.id
    edit_url = f"/console/job-templates/{template_id}"
    form_page = web.get(edit_url).get_data(as_text=True)
    assert 'value="Shopify theme"' in form_page and "Wireframes approved</textarea>" in form_page
    assert 'id="milestones-3-title"' in form_page  # two spare rows after the two milestones
    saved = web.post(edit_url, data=_template_form(web, edit_url, name="Shopify theme build", rows=rows))
    assert saved.status_code == 303
    # Hide, then offer again; move it to the top.
    token_ = csrf_token(web, "/console/job-templates")
    assert web.post(f"{edit_url}/hide", data={"csrf_token": token_}).status_code == 303
    client_web = login(tenant_client("acme"), p.emails["client"])
    assert "Shopify theme build" not in client_web.get("/jobs/new").get_data(as_text=True)
    assert web.post(f"{edit_url}/show", data={"csrf_token": token_}).status_code == 303
    assert "Shopify theme build" in client_web.get("/jobs/new").get_data(as_text=True)
    assert web.post(f"{edit_url}/move", data={"csrf_token": token_, "position": "0"}).status_code == 303
    bad_move = web.post(f"{edit_url}/move", data={"csrf_token": token_, "position": "99"})
    assert bad_move.status_code == 422 and "from 0 (first) to 9" in bad_move.get_data(as_text=True)
    with in_tenant(acme):
        first = services.list_templates()[0]
        assert (first.id, first.name) == (template_id, "Shopify theme build")
    assert [a[0] for a in audit(in_tenant, acme)] == [
        "job_template.create",
        "job_template.update",
        "job_template.hide",
        "job_template.unhide",
        "job_template.move",
    ]
    assert audit(in_tenant, acme)[1][4] == {"name": ["Shopify theme", "Shopify theme build"]}


def test_templates_through_the_api(acme, tenant_client, in_tenant):
    client, headers = admin_api(tenant_client, acme)
    listed = client.get("/api/v1/console/job-templates", headers=headers).json
    assert [t["position"] for t in listed] == list(range(9)) and listed[0]["jobs_posted"] == 0
    bad = client.post(
        "/api/v1/console/job-templates",
        json={
            **TEMPLATE,
            "milestones": [{**MILESTONES[0], "share_percent": 50}, {**MILESTONES[1], "dod": []}],
        },
        headers=headers,
    )
    assert bad.status_code == 422
    assert set(bad.json["errors"]["json"]) == {"milestones"}
    assert set(bad.json["errors"]["json"]["milestones"]) == {"_schema", "1"}
    typed = client.post(
        "/api/v1/console/job-templates",
        json={**TEMPLATE, "milestones": [{"share_percent": "100"}]},
        headers=headers,
    )
    assert typed.status_code == 422
    created = client.post("/api/v1/console/job-templates", json={**TEMPLATE, "hidden": True}, headers=headers)
    assert created.status_code == 201, created.json
    new = created.json
    assert new["key"] == "shopify-theme" and new["hidden"] and new["position"] == 9
    url = f"/api/v1/console/job-templates/{new['id']}"
    moved = client.patch(url, json={"position": 0, "hidden": False, "summary": "Themes."}, headers=headers)
    assert moved.status_code == 200 and moved.json["position"] == 0 and not moved.json["hidden"]
    assert client.patch(url, json={"position": 10}, headers=headers).status_code == 422
    assert client.patch(url, json={"milestones": []}, headers=headers).status_code == 422
    assert client.get(url, headers=headers).json["summary"] == "Themes."
    assert client.get("/api/v1/console/job-templates/999999", headers=headers).status_code == 404
    assert (
        client.patch(
            "/api/v1/console/job-templates/999999", json={"hidden": True}, headers=headers
        ).status_code
        == 404
    )
    actions = [(a[0], a[3]) for a in audit(in_tenant, acme)]
    assert actions == [("job_template.create", "api"), ("job_template.update", "api")]


# --------------------------------------------------------------------------- matching weights


def test_the_matching_page_explains_the_formula_and_saves_the_weights(acme, tenant_client, in_tenant):
    web = admin_web(tenant_client, acme)
    page = web.get("/console/matching").get_data(as_text=True)
    assert (
        "score = w1·skill_match + w2·portfolio_fit + w3·reviews + w4·delivery_score + w5·availability" in page
    )
    for words in (
        "Skill match",
        "Portfolio fit",
        "pulled towards 2.5 stars",
        "delivered on time",
        "full time 1",
    ):
        assert words in page, words
    assert 'value="0.35"' in page and "now 35 % of the score" in page
    form = {"csrf_token": csrf_token(web, "/console/matching")}
    values = {
        "skill_match": "0.5",
        "portfolio_fit": "0.15",
        "reviews": "0.2",
        "delivery_score": "0.2",
        "availability": "2",
    }
    refused = web.post("/console/matching", data={**form, **values})
    assert refused.status_code == 422 and 'id="availability-error"' in refused.get_data(as_text=True)
    zeros = web.post("/console/matching", data={**form, **dict.fromkeys(values, "0")})
    assert zeros.status_code == 422 and "At least one weight" in zeros.get_data(as_text=True)
    with in_tenant(acme):
        assert db.session.get(JobSettings, 1) is None
    saved = web.post("/console/matching", data={**form, **values, "availability": "0"})
    assert saved.status_code == 303
    assert "now 0 % of the score" in web.get("/console/matching").get_data(as_text=True)
    [(action, target, target_id, via, changes)] = audit(in_tenant, acme)
    assert (action, target, target_id, via) == ("jobs.matching_weights.update", "job_settings", "1", "web")
    assert changes == {"weights.skill_match": [0.35, 0.5], "weights.availability": [0.1, 0.0]}

    client, headers = admin_api(tenant_client, acme)
    current = client.get("/api/v1/console/matching-weights", headers=headers).json
    assert current["weights"]["skill_match"] == 0.5 and current["default_weights"]["skill_match"] == 0.35
    assert current["terms"][0]["symbol"] == "w1" and current["formula"].startswith("score = w1")
    assert (
        client.patch("/api/v1/console/matching-weights", json={"reviews": 1.2}, headers=headers).status_code
        == 422
    )
    assert (
        client.patch("/api/v1/console/matching-weights", json={"reviews": "x"}, headers=headers).status_code
        == 422
    )
    patched = client.patch("/api/v1/console/matching-weights", json={"reviews": 1}, headers=headers)
    assert patched.status_code == 200 and patched.json["weights"]["reviews"] == 1.0
    assert patched.json["effective_weights"]["reviews"] == pytest.approx(1 / 1.85, abs=1e-4)


# --------------------------------------------------------------------------- tenants and access


def test_each_marketplace_sees_only_its_own_jobs_and_templates_with_equal_ids(
    acme, globex, jobs_market, tenant_client, in_tenant
):
    ids = {tenant.slug: jobs_market(tenant) for tenant in (acme, globex)}
    a, g = ids["acme"], ids["globex"]
    assert (a.job, a.draft, a.closed) == (g.job, g.draft, g.closed)
    web = admin_web(tenant_client, acme)
    page = web.get(f"/console/jobs/{a.job}").get_data(as_text=True)
    assert "Booking tool for acme gyms" in page and "globex" not in page
    assert "globex" not in web.get("/console/jobs").get_data(as_text=True)
    client, headers = admin_api(tenant_client, acme)
    assert (
        client.post(
            f"/api/v1/console/jobs/{a.job}/close", json={"reason": "Spam job, closed."}, headers=headers
        ).status_code
        == 200
    )
    assert (
        job_state(in_tenant, acme, a.job)[0] == "cancelled"
        and job_state(in_tenant, globex, g.job)[0] == "open"
    )
    with in_tenant(globex):
        template_id = db.session.scalar(sa.select(JobTemplate.id).where(JobTemplate.key == "saas-mvp"))
    with in_tenant(acme):
        assert (
            db.session.scalar(sa.select(JobTemplate.id).where(JobTemplate.key == "saas-mvp")) == template_id
        )
    changed = client.patch(
        f"/api/v1/console/job-templates/{template_id}",
        json={"hidden": True, "name": "Acme MVP"},
        headers=headers,
    )
    assert changed.status_code == 200
    client.patch("/api/v1/console/matching-weights", json={"availability": 1}, headers=headers)
    with in_tenant(globex):
        other = db.session.get(JobTemplate, template_id)
        assert (other.name, other.hidden) == ("SaaS MVP", False)
        assert db.session.get(JobSettings, 1) is None
    # acme's operator is nobody on globex: their token and session open nothing there.
    globex_client = tenant_client("globex")
    assert globex_client.get(f"/api/v1/console/jobs/{g.job}", headers=headers).status_code == 401
    assert (
        globex_client.get(f"/api/v1/console/job-templates/{template_id}", headers=headers).status_code == 401
    )
    assert {a[0] for a in audit(in_tenant, globex)} == set()


@pytest.mark.parametrize(
    ("who", "path", "web_status"),
    [
        ("client", "/console/jobs", 403),
        ("ann", "/console/jobs", 403),
        ("client", "/console/job-templates", 403),
        ("ann", "/console/matching", 403),
        ("moderator", "/console/jobs", 200),
        ("moderator", "/console/job-templates", 403),
        ("moderator", "/console/job-templates/new", 403),
        ("moderator", "/console/matching", 403),
    ],
)
def test_who_may_use_the_jobs_area(acme, jobs_market, tenant_client, in_tenant, who, path, web_status):
    m = jobs_market(acme)
    email = f"mod@{acme.slug}.test" if who == "moderator" else m.emails[who]
    assert login(tenant_client("acme"), email).get(path).status_code == web_status
    api = {
        "/console/jobs": "/api/v1/console/jobs",
        "/console/job-templates": "/api/v1/console/job-templates",
        "/console/job-templates/new": "/api/v1/console/job-templates",
        "/console/matching": "/api/v1/console/matching-weights",
    }[path]
    client = tenant_client("acme")
    headers = token(client, email)
    assert client.get(api, headers=headers).status_code == web_status
    if web_status == 403:
        writes = {
            "/api/v1/console/jobs": (
                f"/api/v1/console/jobs/{m.job}/close",
                "post",
                {"reason": "Spam job, closed."},
            ),
            "/api/v1/console/job-templates": ("/api/v1/console/job-templates", "post", TEMPLATE),
            "/api/v1/console/matching-weights": ("/api/v1/console/matching-weights", "patch", {"reviews": 1}),
        }[api]
        url, method, body = writes
        assert getattr(client, method)(url, json=body, headers=headers).status_code == 403
        with in_tenant(acme):
            assert db.session.get(Job, m.job).status == "open"
            assert db.session.scalar(sa.select(sa.func.count()).select_from(JobTemplate)) == 9
            assert db.session.get(JobSettings, 1) is None
    assert tenant_client("acme").get(path).status_code == 302  # anonymous: the login page first
