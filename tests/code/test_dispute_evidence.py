"""Pull requests and CI runs of the contract as dispute evidence: through the API and the
dispute page, shown on the console's case view; another contract's or tenant's ids refused with
a field error."""

from __future__ import annotations

import sqlalchemy as sa

from app.code.models import CiRun, PullRequest
from app.disputes import services as disputes
from app.disputes.models import DisputeEvidence
from tenants.db import db
from tests.helpers import form_tokens, login

from .conftest import check_run_event, pr_event, send_github, user


def _dispute_with_code(linked, tenant, tenant_client, in_tenant):
    r = linked(tenant)
    hook = tenant_client(tenant.slug)
    send_github(hook, "pull_request", pr_event("opened"), r.secret)
    send_github(hook, "check_run", check_run_event("lint", run_id=9, conclusion="failure"), r.secret)
    with in_tenant(tenant):
        d = disputes.open_dispute(
            user(r.h.client), r.order_id, "quality", "The checks fail.", milestone_id=r.milestones[0]
        )
        pr_id = db.session.scalar(sa.select(PullRequest.id))
        run_id = db.session.scalar(sa.select(CiRun.id))
        db.session.commit()
        return r, d.id, pr_id, run_id


def test_pr_and_ci_evidence_through_the_api(acme, globex, linked, tenant_client, access_token, in_tenant):
    r, dispute_id, pr_id, run_id = _dispute_with_code(linked, acme, tenant_client, in_tenant)
    client = tenant_client("acme")
    auth = {"Authorization": f"Bearer {access_token(acme, r.h.client)}"}
    path = f"/api/v1/disputes/{dispute_id}/evidence"

    res = client.post(path, json={"kind": "pr", "pull_request_id": pr_id, "text": "Still red"}, headers=auth)
    assert res.status_code == 201, res.get_json()
    (row,) = res.get_json()
    assert row["kind"] == "pr" and row["url"] == "https://github.com/Ann-Dev/booking-tool/pull/42"
    assert row["data"]["number"] == 42 and row["data"]["state"] == "open"
    assert row["data"]["ci_status"] == "failed" and row["data"]["ci_text"] == "lint failed"

    ci = client.post(path, json={"kind": "ci", "ci_run_id": run_id}, headers=auth)
    assert ci.status_code == 201
    assert ci.get_json()[0]["data"]["name"] == "lint" and ci.get_json()[0]["data"]["status"] == "failed"

    # Missing or unknown ids: 422 naming the field.
    for body, field in (
        ({"kind": "pr"}, "pull_request_id"),
        ({"kind": "pr", "pull_request_id": 999}, "pull_request_id"),
        ({"kind": "ci", "ci_run_id": 999}, "ci_run_id"),
    ):
        bad = client.post(path, json=body, headers=auth)
        assert bad.status_code == 422, body
        assert field in bad.get_json()["errors"]["json"], bad.get_json()

    # Nothing stored by the refusals.
    with in_tenant(acme):
        count = db.session.scalar(sa.select(sa.func.count()).select_from(DisputeEvidence))
    assert count == 2

    # Globex: a dispute with equal ids; acme's PR id is not globex's (globex has none).
    g_r, g_dispute, g_pr, g_run = _dispute_with_code(linked, globex, tenant_client, in_tenant)
    with in_tenant(globex):
        db.session.execute(sa.delete(CiRun))
        db.session.execute(sa.delete(PullRequest))
        db.session.commit()
    g_auth = {"Authorization": f"Bearer {access_token(globex, g_r.h.client)}"}
    gpath = f"/api/v1/disputes/{g_dispute}/evidence"
    res = tenant_client("globex").post(gpath, json={"kind": "pr", "pull_request_id": pr_id}, headers=g_auth)
    assert res.status_code == 422 and "pull_request_id" in res.get_json()["errors"]["json"]
    res = tenant_client("globex").post(gpath, json={"kind": "ci", "ci_run_id": run_id}, headers=g_auth)
    assert res.status_code == 422 and "ci_run_id" in res.get_json()["errors"]["json"]


def test_another_contracts_pull_request_is_refused(acme, linked, tenant_client, in_tenant):
    from app.code import services as code

    r, dispute_id, pr_id, _ = _dispute_with_code(linked, acme, tenant_client, in_tenant)
    with in_tenant(acme):
        # A second contract (Bob's) with its own repository and PR.
        from app.contracts import services as contracts
        from tests.contracts.conftest import TERMS

        other = contracts.direct_offer(user(r.h.client), r.h.bob, {**TERMS, "title": "Another contract"})
        contracts.accept_offer(user(r.h.bob), other.id)
        link, secret = code.link_repo(user(r.h.bob), other.id, "github", "bob-dev/other")
        link_id = link.id
        db.session.commit()
    data = pr_event("opened", number=5)
    data["repository"]["full_name"] = "bob-dev/other"
    assert send_github(tenant_client("acme"), "pull_request", data, secret).status_code == 200
    with in_tenant(acme):
        other_pr = db.session.scalar(sa.select(PullRequest.id).where(PullRequest.link_id == link_id))
        try:
            disputes.add_evidence(user(r.h.client), dispute_id, "pr", pull_request_id=other_pr)
        except disputes.DisputeError as exc:
            assert exc.status == 422 and "pull_request_id" in exc.errors
        else:
            raise AssertionError("another contract's pull request was accepted")


def test_pr_evidence_on_the_dispute_page_and_the_console(acme, linked, tenant_client, in_tenant, make_user):
    r, dispute_id, pr_id, run_id = _dispute_with_code(linked, acme, tenant_client, in_tenant)
    ann = login(tenant_client("acme"), r.h.emails["ann"])
    page_path = f"/disputes/{dispute_id}"
    page = ann.get(page_path).get_data(as_text=True)
    assert 'data-testid="evidence-pr-form"' in page and 'data-testid="evidence-ci-form"' in page
    assert "#42 Calendar view and booking reminders (open)" in page

    bad = ann.post(
        f"{page_path}/evidence",
        data={**form_tokens(ann, page_path), "kind": "pr", "pull_request_id": "999999"},
    )
    assert bad.status_code == 422 and "Pick a pull request" in bad.get_data(as_text=True)
    res = ann.post(
        f"{page_path}/evidence",
        data={
            **form_tokens(ann, page_path),
            "kind": "pr",
            "pull_request_id": str(pr_id),
            "text": "Merged soon",
        },
    )
    assert res.status_code == 303
    res = ann.post(
        f"{page_path}/evidence", data={**form_tokens(ann, page_path), "kind": "ci", "ci_run_id": str(run_id)}
    )
    assert res.status_code == 303
    page = ann.get(page_path).get_data(as_text=True)
    assert 'data-testid="evidence-pr"' in page and 'data-testid="evidence-ci"' in page
    assert "lint failed" in page

    admin = make_user(acme, email="boss@acme.test", role="admin")
    with in_tenant(acme):
        email = user(admin).email
    console = login(tenant_client("acme"), email)
    case = console.get(f"/console/disputes/{dispute_id}")
    assert case.status_code == 200
    text = case.get_data(as_text=True)
    assert 'data-testid="evidence-pr"' in text and 'data-testid="evidence-ci"' in text
