"""The operator's side of jobs as specifications: job templates (checks, keys, hide, order),
hidden templates never offered to clients, matching weights per tenant (checks, and that they
change the rankings), and invites reading ``expired`` in the API once past ``expires_at``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import PortfolioItem, User
from app.accounts.services import upsert_seller_profile
from app.core.domain_errors import DomainError
from app.jobs import matching, proposals, services
from app.jobs import settings as job_settings
from app.jobs.models import MATCHING_TERMS, Job, JobInvite, JobSettings, JobTemplate
from tenants.db import db
from tests.helpers import bearer_headers, login
from tests.jobs.conftest import JOB, PROPOSAL

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
MILESTONES = [
    {
        "title": "Design",
        "deliverable": "Wireframes",
        "dod": ["Flows agreed", "Wireframes approved"],
        "share_percent": 40,
    },
    {"title": "Build", "deliverable": "The theme, live", "dod": ["Matches the designs"], "share_percent": 60},
]
TEMPLATE = {
    "name": "Shopify theme",
    "summary": "A custom theme for a Shopify store.",
    "scope": "Build a custom Shopify theme from the provided designs, editable in the theme editor.",
    "skills": ["Shopify", "Liquid"],
    "budget_type": "fixed",
    "duration": "1_to_4_weeks",
    "milestones": MILESTONES,
}


def u(user_id):
    return db.session.get(User, user_id)


def template_count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(JobTemplate))


# --------------------------------------------------------------------------- templates


def test_a_new_template_gets_a_key_from_its_name_unique_and_comes_last(acme, in_tenant):
    with in_tenant(acme):
        first = services.create_template(dict(TEMPLATE))
        second = services.create_template({**TEMPLATE, "name": "Shopify  théme!"})
        odd = services.create_template({**TEMPLATE, "name": "— ★ —"})
        db.session.commit()
        assert (first.key, second.key, odd.key) == ("shopify-theme", "shopify-theme-2", "template")
        assert first.skills == ["shopify", "liquid"] and first.milestones == MILESTONES
        assert [t.key for t in services.list_templates()][-3:] == [
            "shopify-theme",
            "shopify-theme-2",
            "template",
        ]
        assert first.position == 9 and odd.position == 11  # after the nine starters
        # Renaming keeps the key: jobs and links may rely on it.
        services.update_template(first.id, {"name": "Shopify theme, custom"})
        assert first.key == "shopify-theme" and first.name == "Shopify theme, custom"


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"name": "x"}, {"name"}),
        ({"name": "<b>Theme</b>"}, {"name"}),
        ({"scope": "Too short"}, {"scope"}),
        ({"summary": "s" * 301}, {"summary"}),
        ({"budget_type": "barter", "duration": "forever"}, {"budget_type", "duration"}),
        ({"skills": ["ok", "<script>"]}, {"skills"}),
        ({"milestones": []}, {"milestones"}),
        ({"milestones": "Design, Build"}, {"milestones"}),
        ({"milestones": [{**MILESTONES[0], "share_percent": 100}] * 11}, {"milestones"}),
        ({"milestones": [MILESTONES[0], {**MILESTONES[1], "share_percent": 50}]}, {"milestones"}),
        (
            {
                "milestones": [
                    {**MILESTONES[0], "title": "", "dod": []},
                    {**MILESTONES[1], "share_percent": "60"},
                ]
            },
            {"milestones.0.title", "milestones.0.dod", "milestones.1.share_percent"},
        ),
        (
            {"milestones": [{**MILESTONES[0], "share_percent": 0}, MILESTONES[1]]},
            {"milestones.0.share_percent"},
        ),
        ({"milestones": [{**MILESTONES[0], "dod": ["x" * 151]}, MILESTONES[1]]}, {"milestones.0.dod"}),
        ({"milestones": [{**MILESTONES[0], "dod": ["item"] * 11}, MILESTONES[1]]}, {"milestones.0.dod"}),
    ],
)
def test_bad_templates_are_refused_field_by_field_and_nothing_is_stored(acme, in_tenant, change, fields):
    with in_tenant(acme):
        before = template_count()
        with pytest.raises(DomainError) as exc:
            services.create_template({**TEMPLATE, **change})
        assert exc.value.status == 422 and set(exc.value.field_errors) == fields, exc.value.errors
        db.session.rollback()
        assert template_count() == before


def test_a_template_too_long_for_a_job_description_is_refused(acme, in_tenant):
    """Every piece within its limit, but the job description it would fill in exceeds 10,000."""
    long = {
        "title": "t" * 80,
        "deliverable": "d" * 200,
        "dod": ["x" * 150] * 10,
        "share_percent": 10,
    }
    with in_tenant(acme):
        with pytest.raises(DomainError) as exc:
            services.create_template({**TEMPLATE, "scope": "s" * 3000, "milestones": [long] * 10})
        assert set(exc.value.field_errors) == {"scope"} and "10,000" in exc.value.errors["scope"]


def test_update_checks_the_whole_template_and_keeps_what_is_not_given(acme, in_tenant):
    with in_tenant(acme):
        template = db.session.scalar(sa.select(JobTemplate).where(JobTemplate.key == "rest-api"))
        scope = template.scope
        with pytest.raises(DomainError) as exc:
            services.update_template(template.id, {"milestones": [{**MILESTONES[0], "share_percent": 99}]})
        assert set(exc.value.field_errors) == {"milestones"} and "99 %" in exc.value.errors["milestones"]
        db.session.rollback()
        services.update_template(template.id, {"milestones": MILESTONES, "duration": None})
        db.session.commit()
        template = db.session.get(JobTemplate, template.id)
        assert template.milestones == MILESTONES and template.duration is None and template.scope == scope
        with pytest.raises(DomainError) as exc:
            services.update_template(10_000, {"name": "Nothing"})
        assert exc.value.status == 404


def test_moving_a_template_renumbers_the_list(acme, in_tenant):
    with in_tenant(acme):
        keys = [t.key for t in services.list_templates(include_hidden=True)]
        last = db.session.scalar(sa.select(JobTemplate).where(JobTemplate.key == keys[-1]))
        services.move_template(last.id, 0)
        db.session.commit()
        moved = services.list_templates(include_hidden=True)
        assert [t.key for t in moved] == [keys[-1], *keys[:-1]]
        assert [t.position for t in moved] == list(range(len(keys)))
        for bad in (-1, len(keys), "1", None, True):
            with pytest.raises(DomainError) as exc:
                services.move_template(last.id, bad)
            assert set(exc.value.field_errors) == {"position"}


def test_hidden_templates_are_never_offered_to_clients(acme, people, tenant_client, in_tenant):
    p = people(acme)
    with in_tenant(acme):
        hidden = db.session.scalar(sa.select(JobTemplate).where(JobTemplate.key == "llm-app"))
        services.set_template_hidden(hidden.id, True)
        db.session.commit()
        hidden_id = hidden.id
        assert "llm-app" not in [t.key for t in services.list_templates()]
        assert "llm-app" in [t.key for t in services.list_templates(include_hidden=True)]
        with pytest.raises(DomainError) as exc:
            services.post_job(u(p.client), dict(JOB), template_id=hidden_id, now=NOW)
        assert "template_id" in exc.value.errors
    client = tenant_client("acme")
    headers = bearer_headers(client, p.emails["client"])
    listed = client.get("/api/v1/job-templates", headers=headers).json
    assert len(listed) == 8 and "llm-app" not in [t["key"] for t in listed]
    posted = client.post("/api/v1/jobs", json={**JOB, "template_id": hidden_id}, headers=headers)
    assert posted.status_code == 422 and "template_id" in posted.json["errors"]["json"]
    web = login(tenant_client("acme"), p.emails["client"])
    picker = web.get("/jobs/new").get_data(as_text=True)
    assert "LLM app" not in picker and "REST API" in picker
    assert web.get(f"/jobs/new?template={hidden_id}").status_code == 404
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0
        services.set_template_hidden(hidden_id, False)
        db.session.commit()
    assert "LLM app" in web.get("/jobs/new").get_data(as_text=True)


# --------------------------------------------------------------------------- matching weights


def test_weights_start_at_the_defaults_and_are_checked(acme, in_tenant):
    with in_tenant(acme):
        assert job_settings.matching_weights() == matching.DEFAULT_WEIGHTS
        assert set(matching.DEFAULT_WEIGHTS) == set(MATCHING_TERMS)
        assert matching.tenant_weights() == matching.DEFAULT_WEIGHTS
        for bad, fields in (
            ({"skill_match": 1.5}, {"skill_match"}),
            ({"skill_match": -0.1}, {"skill_match"}),
            ({"reviews": 0.1234}, {"reviews"}),
            ({"reviews": "much"}, {"reviews"}),
            ({"reviews": True}, {"reviews"}),
            ({"reviews": float("nan")}, {"reviews"}),
            ({"speed": 0.5}, {"speed"}),
            ({term: 0 for term in MATCHING_TERMS}, {"weights"}),
        ):
            with pytest.raises(DomainError) as exc:
                job_settings.update_matching_weights(bad)
            assert set(exc.value.field_errors) == fields, (bad, exc.value.errors)
        db.session.rollback()
        assert db.session.get(JobSettings, 1) is None
        weights, changes = job_settings.update_matching_weights({"skill_match": "0,5", "availability": 0})
        db.session.commit()
        assert changes == {"weights.skill_match": [0.35, 0.5], "weights.availability": [0.1, 0.0]}
        assert (
            job_settings.matching_weights()
            == weights
            == {**matching.DEFAULT_WEIGHTS, "skill_match": 0.5, "availability": 0.0}
        )
        # Matching uses the proportions: the weights scaled to sum 1.
        scaled = matching.tenant_weights()
        assert sum(scaled.values()) == pytest.approx(1) and scaled["skill_match"] == pytest.approx(0.5 / 1.05)
        assert job_settings.update_matching_weights({"skill_match": 0.5})[1] == {}  # nothing changed


def _unavailable_expert_and_available_novice(p, tenant, in_tenant):
    """Ann has every skill of the job but is unavailable; Bob has none but is free full time."""
    with in_tenant(tenant):
        upsert_seller_profile(u(p.ann), availability="unavailable")
        upsert_seller_profile(u(p.bob), availability="full_time")
        job = services.post_job(u(p.client), dict(JOB), publish_now=True, now=NOW)
        for who in (p.ann, p.bob):
            proposals.submit_proposal(u(who), job.id, dict(PROPOSAL), now=NOW)
        db.session.commit()
        return job.id


def test_the_tenants_weights_change_the_ranking_of_proposals(acme, globex, people, tenant_client, in_tenant):
    ranked = {}
    for tenant in (acme, globex):
        p = people(tenant)
        job_id = _unavailable_expert_and_available_novice(p, tenant, in_tenant)
        ranked[tenant.slug] = (p, job_id)
    p, job_id = ranked["acme"]
    with in_tenant(acme):
        order = [pr.freelancer_id for pr, _m in proposals.list_job_proposals(u(p.client), job_id)]
        assert order == [p.ann, p.bob]  # the defaults: skills weigh most
        job_settings.update_matching_weights({term: 0 for term in MATCHING_TERMS} | {"availability": 1})
        db.session.commit()
        ranked_now = proposals.list_job_proposals(u(p.client), job_id)
        assert [pr.freelancer_id for pr, _m in ranked_now] == [p.bob, p.ann]
        assert ranked_now[0][1].score == 1.0 and ranked_now[1][1].score == 0.0
        assert [m.user_id for m in matching.rank_freelancers(db.session.get(Job, job_id))][:1] == [p.bob]
    # Through the API too, and globex (same ids) keeps the defaults.
    client = tenant_client("acme")
    api = client.get(f"/api/v1/jobs/{job_id}/proposals", headers=bearer_headers(client, p.emails["client"]))
    assert [r["freelancer_id"] for r in api.json] == [p.bob, p.ann]
    gp, gjob = ranked["globex"]
    assert (gp.ann, gp.bob, gjob) == (p.ann, p.bob, job_id)
    other = tenant_client("globex")
    api = other.get(f"/api/v1/jobs/{gjob}/proposals", headers=bearer_headers(other, gp.emails["client"]))
    assert [r["freelancer_id"] for r in api.json] == [gp.ann, gp.bob]


def test_jobs_matching_my_skills_rank_by_the_weighted_fit(acme, people, in_tenant):
    """For one freelancer the score differs between jobs only by skill match and portfolio fit."""
    p = people(acme)
    with in_tenant(acme):
        # Ann (python, react, postgresql): job A names exactly two of her skills (share 1.0);
        # job B names all three plus five she lacks (share 3/8) but her portfolio names them all.
        job_a = services.post_job(
            u(p.client),
            {**JOB, "title": "Small python and react job", "skills": ["python", "react"]},
            publish_now=True,
            now=NOW,
        )
        extra = ["go", "rust", "kafka", "redis", "elixir"]
        job_b = services.post_job(
            u(p.client),
            {**JOB, "title": "Large platform rebuild", "skills": ["python", "react", "postgresql", *extra]},
            publish_now=True,
            now=NOW + timedelta(minutes=1),
        )
        db.session.add(
            PortfolioItem(
                user_id=p.ann,
                title="Platform in go and rust",
                description="python postgresql go rust kafka redis elixir",
            )
        )
        db.session.commit()
        skills = services.freelancer_skills(u(p.ann))
        rows, total = matching.jobs_for_skills(skills, freelancer_id=p.ann)
        assert total == 2 and [j.id for j, _ in rows] == [job_a.id, job_b.id]
        assert dict((j.id, n) for j, n in rows) == {job_a.id: 2, job_b.id: 3}
        portfolio_first = {term: 0 for term in MATCHING_TERMS} | {"portfolio_fit": 1}
        rows, _ = matching.jobs_for_skills(skills, freelancer_id=p.ann, weights=portfolio_first)
        assert [j.id for j, _ in rows] == [job_b.id, job_a.id]
        job_settings.update_matching_weights(portfolio_first)
        db.session.commit()
        assert [j.id for j, _ in matching.jobs_for_skills(skills, freelancer_id=p.ann)[0]] == [
            job_b.id,
            job_a.id,
        ]


# --------------------------------------------------------------------------- invites


def test_an_invite_past_its_expiry_reads_expired_in_the_api(acme, people, tenant_client, in_tenant):
    p = people(acme)
    client = tenant_client("acme")
    h = {who: bearer_headers(client, email) for who, email in p.emails.items()}
    job_id = client.post("/api/v1/jobs", json={**JOB, "publish": True}, headers=h["client"]).json["id"]
    fresh = client.post(f"/api/v1/jobs/{job_id}/invites", json={"freelancer_id": p.ann}, headers=h["client"])
    stale = client.post(f"/api/v1/jobs/{job_id}/invites", json={"freelancer_id": p.bob}, headers=h["client"])
    assert fresh.json["status"] == stale.json["status"] == "sent"
    with in_tenant(acme):
        db.session.get(JobInvite, stale.json["id"]).expires_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    listed = client.get(f"/api/v1/jobs/{job_id}/invites", headers=h["client"]).json
    assert {i["freelancer_id"]: i["status"] for i in listed} == {p.ann: "sent", p.bob: "expired"}
    assert [i["status"] for i in client.get("/api/v1/invites", headers=h["bob"]).json] == ["expired"]
    answer = client.post(
        f"/api/v1/invites/{stale.json['id']}/answer", json={"accept": True}, headers=h["bob"]
    )
    assert answer.status_code == 409 and answer.json["errors"]["current_status"] == "expired"
    with in_tenant(acme):
        assert db.session.get(JobInvite, stale.json["id"]).status == "sent"  # the row is not rewritten
