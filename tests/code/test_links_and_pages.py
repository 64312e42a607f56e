"""Linking repositories (API and web), the contract page's Repository section, a milestone's
PRs, CI and previews, and tenants that never meet with equal ids."""

from __future__ import annotations

import sqlalchemy as sa

from app.code import services
from app.code.models import RepoLink
from app.contracts import services as contracts
from app.core.crypto import decrypt_secret
from app.orders import milestones
from tenants.db import db
from tests.helpers import form_tokens, login

from .conftest import GITHUB_REPO, check_run_event, pr_event, send_github, user

API = "/api/v1/contracts/{}/repos"


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_link_through_the_api_shows_the_secret_once(
    acme, contract_in, tenant_client, access_token, in_tenant
):
    h, cid, _, _ = contract_in(acme)
    client = tenant_client("acme")
    ann = _auth(access_token(acme, h.ann))
    res = client.post(
        API.format(cid), json={"provider": "github", "full_name": "Ann-Dev/Booking-Tool"}, headers=ann
    )
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["full_name"] == "ann-dev/booking-tool" and body["provider"] == "github"
    assert body["webhook_url"] == "http://acme.localhost/webhooks/code/github"
    assert body["content_type"] == "application/json" and "check_run" in body["events"]
    secret = body["secret"]
    assert len(secret) >= 40
    with in_tenant(acme):
        link = db.session.get(RepoLink, body["id"])
        assert secret not in link.secret_encrypted and decrypt_secret(link.secret_encrypted) == secret

    listed = client.get(API.format(cid), headers=_auth(access_token(acme, h.client)))
    assert listed.status_code == 200
    assert [row["full_name"] for row in listed.get_json()] == ["ann-dev/booking-tool"]
    assert "secret" not in listed.get_data(as_text=True)

    again = client.post(
        API.format(cid), json={"provider": "github", "full_name": "ann-dev/booking-tool"}, headers=ann
    )
    assert again.status_code == 422 and "already linked" in again.get_json()["message"]

    gone = client.delete(f"{API.format(cid)}/{body['id']}", headers=ann)
    assert gone.status_code == 204
    assert client.delete(f"{API.format(cid)}/{body['id']}", headers=ann).status_code == 404
    assert client.get(API.format(cid), headers=ann).get_json() == []
    # Linked again after removal: a new link and a new secret.
    relinked = client.post(
        API.format(cid), json={"provider": "github", "full_name": GITHUB_REPO}, headers=ann
    )
    assert relinked.status_code == 201 and relinked.get_json()["secret"] != secret


def test_bad_input_through_the_api(acme, contract_in, tenant_client, access_token, make_user, in_tenant):
    h, cid, _, _ = contract_in(acme)
    client = tenant_client("acme")
    ann = _auth(access_token(acme, h.ann))
    cases = [
        ({"provider": "github", "full_name": "no-slash"}, "full_name"),
        ({"provider": "github", "full_name": "-bad/name"}, "full_name"),
        ({"provider": "github", "full_name": "a/b/c"}, "full_name"),
        ({"provider": "github", "full_name": "owner/.."}, "full_name"),
        ({"provider": "gitlab", "full_name": "group/-x"}, "full_name"),
        ({"provider": "gitlab", "full_name": "group/x.git.git"}, "full_name"),
        ({"provider": "bitbucket", "full_name": "a/b"}, "provider"),
        ({"provider": "github"}, "full_name"),
        ({"provider": "github", "full_name": 7}, "full_name"),
    ]
    for body, field in cases:
        res = client.post(API.format(cid), json=body, headers=ann)
        assert res.status_code == 422, (body, res.get_json())
        assert field in res.get_json()["errors"]["json"], (body, res.get_json())
    ok = client.post(API.format(cid), json={"provider": "gitlab", "full_name": "Group/Sub/Name"}, headers=ann)
    assert ok.status_code == 201 and ok.get_json()["full_name"] == "group/sub/name"

    # Not a party: 404 (the contract is not theirs to see); an admin who is no party: 403.
    bob = _auth(access_token(acme, h.bob))
    assert (
        client.post(API.format(cid), json={"provider": "github", "full_name": "a/b"}, headers=bob).status_code
        == 404
    )
    assert client.get(f"/api/v1/contracts/{cid}/pull-requests", headers=bob).status_code == 404
    admin = make_user(acme, email="boss@acme.test", role="admin")
    res = client.post(
        API.format(cid),
        json={"provider": "github", "full_name": "a/b"},
        headers=_auth(access_token(acme, admin)),
    )
    assert res.status_code == 403

    # An ended contract: 409 naming its status.
    with in_tenant(acme):
        contracts.end_contract(user(h.client), cid, "We stop here.")
        db.session.commit()
    res = client.post(API.format(cid), json={"provider": "github", "full_name": "a/b"}, headers=ann)
    assert res.status_code == 409 and res.get_json()["errors"]["current_status"] in ("cancelled", "completed")


def test_another_tenants_ids_are_404(
    acme, globex, linked, contract_in, tenant_client, access_token, in_tenant
):
    r = linked(acme)
    h, gid, _, _ = contract_in(globex)  # the same ids on globex
    assert gid == r.contract_id
    client = tenant_client("globex")
    token = _auth(access_token(globex, h.ann))
    assert client.delete(f"{API.format(gid)}/{r.link_id}", headers=token).status_code == 404
    assert client.get(API.format(gid), headers=token).get_json() == []
    assert client.get(f"/api/v1/contracts/{gid}/pull-requests", headers=token).get_json() == []
    # acme's token on globex's host is no token there.
    acme_token = _auth(access_token(acme, r.h.ann))
    assert client.get(API.format(gid), headers=acme_token).status_code == 401
    with in_tenant(acme):
        assert db.session.get(RepoLink, r.link_id).removed_at is None


def test_pull_requests_with_their_ci_through_the_api(acme, linked, tenant_client, access_token):
    r = linked(acme)
    client = tenant_client("acme")
    send_github(client, "pull_request", pr_event("opened"), r.secret)
    send_github(client, "check_run", check_run_event("lint", run_id=1, conclusion="failure"), r.secret)
    res = client.get(
        f"/api/v1/contracts/{r.contract_id}/pull-requests", headers=_auth(access_token(acme, r.h.client))
    )
    assert res.status_code == 200
    (pr,) = res.get_json()
    assert (pr["number"], pr["state"], pr["repo"]) == (42, "open", "ann-dev/booking-tool")
    assert pr["ci"]["status"] == "failed" and pr["ci"]["text"] == "lint failed"
    assert pr["ci"]["runs"][0]["name"] == "lint"


def test_merged_pr_and_green_checks_show_on_the_milestone(acme, linked, tenant_client, in_tenant):
    r = linked(acme)
    hook = tenant_client("acme")
    with in_tenant(acme):
        milestones.submit_milestone(
            user(r.h.ann),
            r.order_id,
            r.milestones[0],
            "The calendar is done.",
            links=[
                "https://github.com/Ann-Dev/booking-tool/pull/42",
                "https://booking-tool-git-calendar-ann.vercel.app",
                "https://booking.example.com/staging",
            ],
            dod_done=[1],
        )
        db.session.commit()
    client = login(tenant_client("acme"), r.h.emails["client"])
    page = client.get(f"/contracts/{r.contract_id}").get_data(as_text=True)
    assert 'data-testid="milestone-code"' in page
    assert "no update from GitHub yet" in page
    assert 'data-label="Vercel"' in page and 'data-label="Preview"' in page

    send_github(hook, "pull_request", pr_event("opened"), r.secret)
    for i, name in enumerate(("lint", "test", "build")):
        send_github(hook, "check_run", check_run_event(name, run_id=10 + i), r.secret)
    send_github(hook, "pull_request", pr_event("closed", merged=True), r.secret)
    page = client.get(f"/contracts/{r.contract_id}").get_data(as_text=True)
    assert 'data-testid="milestone-pr" data-number="42"' in page
    assert 'data-state="merged"' in page
    assert "3 checks passed" in page and 'data-status="passed"' in page
    assert "Calendar view and booking reminders" in page
    # The Repository section lists the repo with its PR too.
    assert 'data-testid="repository"' in page and "ann-dev/booking-tool" in page


def test_link_and_unlink_on_the_web(acme, contract_in, tenant_client, in_tenant):
    h, cid, _, _ = contract_in(acme)
    ann = login(tenant_client("acme"), h.emails["ann"])
    page = ann.get(f"/contracts/{cid}").get_data(as_text=True)
    assert 'data-testid="repo-link-form"' in page
    path = f"/contracts/{cid}/repos/new"

    bad = ann.post(path, data={**form_tokens(ann, path), "provider": "github", "full_name": "not a repo"})
    assert bad.status_code == 422 and "owner/name" in bad.get_data(as_text=True)
    unknown = ann.post(path, data={**form_tokens(ann, path), "provider": "svn", "full_name": "a/b"})
    assert unknown.status_code == 422 and "Choose GitHub or GitLab" in unknown.get_data(as_text=True)
    no_csrf = ann.post(path, data={"provider": "github", "full_name": "a/b"})
    assert no_csrf.status_code in (400, 422)
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RepoLink)) == 0

    done = ann.post(path, data={**form_tokens(ann, path), "provider": "github", "full_name": GITHUB_REPO})
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    text = done.get_data(as_text=True)
    assert "http://acme.localhost/webhooks/code/github" in text and "application/json" in text
    with in_tenant(acme):
        link = db.session.scalar(sa.select(RepoLink))
        assert f'data-testid="webhook-secret">{decrypt_secret(link.secret_encrypted)}<' in text
        link_id = link.id
    page = ann.get(f"/contracts/{cid}").get_data(as_text=True)
    assert "ann-dev/booking-tool" in page and decrypt_secret.__name__ not in page

    # Bob (no party) cannot see or unlink it.
    bob = login(tenant_client("acme"), h.emails["bob"])
    assert bob.get(path).status_code == 404
    client = login(tenant_client("acme"), h.emails["client"])
    res = client.post(
        f"/contracts/{cid}/repos/{link_id}/remove", data=form_tokens(client, f"/contracts/{cid}")
    )
    assert res.status_code == 303
    with in_tenant(acme):
        assert db.session.get(RepoLink, link_id).removed_at is not None


def test_repo_summary_for_the_workroom(acme, linked, tenant_client, in_tenant):
    r = linked(acme)
    hook = tenant_client("acme")
    send_github(hook, "pull_request", pr_event("opened"), r.secret)
    send_github(hook, "pull_request", pr_event("opened", number=43, title="Docs"), r.secret)
    send_github(hook, "pull_request", pr_event("closed", number=43, merged=True), r.secret)
    send_github(hook, "check_run", check_run_event("lint", run_id=5, status="in_progress"), r.secret)
    with in_tenant(acme):
        (panel,) = services.repo_summary(r.contract_id)
        assert panel.link.full_name == "ann-dev/booking-tool"
        assert [(pr.number, ci.text) for pr, ci in panel.pull_requests] == [(42, "1 running")]
