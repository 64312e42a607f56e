"""The inbound webhook: GitHub and GitLab deliveries signed as the providers sign them; forged,
unsigned, replayed, for an unknown or unlinked repository, malformed; nothing stored on a
refusal, and one 401 body whatever the reason."""

from __future__ import annotations

import json

import sqlalchemy as sa

from app.code.models import CiRun, CodeDelivery, PullRequest, RepoLink
from app.code.services import summarize
from app.events.models import OutboxEvent
from tenants.db import db

from .conftest import (
    GITLAB_REPO,
    HEAD_SHA,
    check_run_event,
    github_signature,
    payload,
    pr_event,
    send_github,
    send_gitlab,
)


def _counts():
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(m))
        for m in (PullRequest, CiRun, CodeDelivery)
    )


def _events(name):
    return db.session.scalars(
        sa.select(OutboxEvent).where(OutboxEvent.name == name).order_by(OutboxEvent.id)
    ).all()


def test_a_signed_pull_request_is_recorded_and_published(acme, linked, tenant_client, in_tenant):
    r = linked(acme)
    client = tenant_client("acme")
    res = send_github(client, "pull_request", pr_event("opened"), r.secret)
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["changed"] is True
    with in_tenant(acme):
        pr = db.session.scalar(sa.select(PullRequest))
        assert (pr.link_id, pr.number, pr.state, pr.author) == (r.link_id, 42, "open", "ann-dev")
        assert pr.title == "Calendar view and booking reminders" and pr.head_sha == HEAD_SHA
        assert pr.url == "https://github.com/Ann-Dev/booking-tool/pull/42"
        event = _events("pr.updated")[-1]
        assert event.payload == {
            "contract_id": r.contract_id,
            "link_id": r.link_id,
            "pull_request_id": pr.id,
            "number": 42,
            "state": "open",
        }
        assert db.session.get(RepoLink, r.link_id).last_delivery_at is not None

    merged = send_github(client, "pull_request", pr_event("closed", merged=True), r.secret)
    assert merged.status_code == 200
    with in_tenant(acme):
        pr = db.session.scalar(sa.select(PullRequest))
        assert pr.state == "merged" and pr.merged_at is not None
        assert _events("pr.updated")[-1].payload["state"] == "merged"


def test_closed_without_merging_is_closed_and_an_older_report_changes_nothing(
    acme, linked, tenant_client, in_tenant
):
    r = linked(acme)
    client = tenant_client("acme")
    assert send_github(client, "pull_request", pr_event("closed"), r.secret).status_code == 200
    # A late "opened" (GitHub does not promise order): older than what we have, not applied.
    late = send_github(client, "pull_request", pr_event("opened"), r.secret)
    assert late.status_code == 200 and late.get_json()["changed"] is False
    with in_tenant(acme):
        assert db.session.scalar(sa.select(PullRequest.state)) == "closed"


def test_checks_are_recorded_and_summed_up_for_the_head(acme, linked, tenant_client, in_tenant):
    r = linked(acme)
    client = tenant_client("acme")
    send_github(client, "pull_request", pr_event("opened"), r.secret)
    for i, (name, conclusion) in enumerate((("lint", "success"), ("test", "success"), ("build", "success"))):
        res = send_github(
            client, "check_run", check_run_event(name, run_id=100 + i, conclusion=conclusion), r.secret
        )
        assert res.status_code == 200
    suite = send_github(client, "check_suite", payload("github_check_suite_completed"), r.secret)
    assert suite.status_code == 200
    with in_tenant(acme):
        pr = db.session.scalar(sa.select(PullRequest))
        runs = db.session.scalars(sa.select(CiRun).order_by(CiRun.id)).all()
        assert {run.pull_request_id for run in runs} == {pr.id}
        assert summarize(runs).text == "3 checks passed" and summarize(runs).status == "passed"
        assert _events("ci.updated")[-1].payload["status"] == "passed"

    # lint re-run fails: the newest run of each name counts.
    send_github(client, "check_run", check_run_event("lint", run_id=200, conclusion="failure"), r.secret)
    send_github(client, "check_run", check_run_event("e2e", run_id=201, status="in_progress"), r.secret)
    with in_tenant(acme):
        summary = summarize(db.session.scalars(sa.select(CiRun)).all())
        assert summary.status == "failed"
        assert summary.text == "lint failed, 1 running, 2 passed"


def test_ping_answers_pong(acme, linked, tenant_client):
    r = linked(acme)
    res = send_github(tenant_client("acme"), "ping", payload("github_ping"), r.secret)
    assert res.status_code == 200 and res.get_json() == {"pong": True}


def test_unsupported_events_are_ignored(acme, linked, tenant_client, in_tenant):
    r = linked(acme)
    data = payload("github_ping") | {"ref": "refs/heads/main"}
    res = send_github(tenant_client("acme"), "push", data, r.secret)
    assert res.status_code == 200 and res.get_json()["ignored"] is True
    labeled = send_github(tenant_client("acme"), "pull_request", pr_event("labeled"), r.secret)
    assert labeled.status_code == 200 and labeled.get_json()["ignored"] is True
    with in_tenant(acme):
        assert _counts()[:2] == (0, 0)


def test_a_replayed_delivery_is_stored_once(acme, linked, tenant_client, in_tenant):
    r = linked(acme)
    client = tenant_client("acme")
    delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    first = send_github(client, "pull_request", pr_event("opened"), r.secret, delivery=delivery)
    assert first.status_code == 200
    # The same delivery again, even with a different (validly signed) body: nothing changes.
    again = send_github(client, "pull_request", pr_event("closed", merged=True), r.secret, delivery=delivery)
    assert again.status_code == 200 and again.get_json() == {"duplicate": True}
    with in_tenant(acme):
        assert _counts() == (1, 0, 1)
        assert db.session.scalar(sa.select(PullRequest.state)) == "open"
        assert len(_events("pr.updated")) == 1


def _refused(res):
    assert res.status_code == 401
    body = res.get_json()
    assert body["error"] == "webhook_refused"
    return res.get_data()


def test_forged_unsigned_unknown_and_removed_are_refused_alike(acme, linked, tenant_client, in_tenant):
    from app.code import services
    from tests.contracts.conftest import user

    r = linked(acme)
    client = tenant_client("acme")
    data = pr_event("opened")
    bodies = {
        "forged": _refused(send_github(client, "pull_request", data, "not-the-secret")),
        "tampered": _refused(
            send_github(
                client,
                "pull_request",
                json.dumps(data).encode() + b" ",
                r.secret,
                signature=github_signature(r.secret, json.dumps(data).encode()),
            )
        ),
        "sha1 only": _refused(send_github(client, "pull_request", data, r.secret, signature="sha1=abc")),
        "no signature": _refused(
            send_github(client, "pull_request", data, r.secret, **{"X-Hub-Signature-256": None})
        ),
        "no delivery": _refused(
            send_github(client, "pull_request", data, r.secret, **{"X-GitHub-Delivery": None})
        ),
        "no event": _refused(send_github(client, "pull_request", data, r.secret, **{"X-GitHub-Event": None})),
    }
    other = pr_event("opened")
    other["repository"]["full_name"] = "someone/else"
    bodies["unknown repo"] = _refused(send_github(client, "pull_request", other, r.secret))
    with in_tenant(acme):
        services.unlink(user(r.h.client), r.contract_id, r.link_id)
        db.session.commit()
    bodies["removed link"] = _refused(send_github(client, "pull_request", data, r.secret))
    assert len(set(bodies.values())) == 1, bodies  # one body: nothing tells what is linked
    with in_tenant(acme):
        assert _counts() == (0, 0, 0)
        assert _events("pr.updated") == []


def test_malformed_json_with_a_valid_signature_is_a_400_and_stores_nothing(
    acme, linked, tenant_client, in_tenant
):
    r = linked(acme)
    client = tenant_client("acme")
    res = send_github(client, "pull_request", b'{"action": "opened", "repository": {', r.secret)
    assert res.status_code == 400
    # Valid JSON, right repository, but no pull request in it.
    data = pr_event("opened")
    del data["pull_request"]
    assert send_github(client, "pull_request", data, r.secret).status_code == 400
    # A forged malformed body is refused, not "malformed".
    _refused(send_github(client, "pull_request", b"{not json", "guess"))
    with in_tenant(acme):
        assert _counts() == (0, 0, 0)


def test_gitlab_merge_request_and_pipeline(acme, linked, tenant_client, in_tenant):
    r = linked(acme, provider="gitlab")
    client = tenant_client("acme")
    res = send_gitlab(client, "Merge Request Hook", payload("gitlab_merge_request_open"), r.secret)
    assert res.status_code == 200, res.get_json()
    pipe = send_gitlab(client, "Pipeline Hook", payload("gitlab_pipeline"), r.secret)
    assert pipe.status_code == 200
    with in_tenant(acme):
        pr = db.session.scalar(sa.select(PullRequest))
        assert (pr.number, pr.state, pr.author, pr.head_sha[:7]) == (7, "open", "ann.dev", "c0ffee1")
        runs = db.session.scalars(sa.select(CiRun)).all()
        assert {run.kind for run in runs} == {"pipeline", "job"} and len(runs) == 4
        assert all(run.pull_request_id == pr.id for run in runs)
        summary = summarize(runs)
        assert (summary.status, summary.text) == ("failed", "lint failed, 2 passed")

    merged = payload("gitlab_merge_request_open")
    merged["object_attributes"].update(action="merge", state="merged", updated_at="2026-11-03 12:00:00 UTC")
    assert send_gitlab(client, "Merge Request Hook", merged, r.secret).status_code == 200
    with in_tenant(acme):
        pr = db.session.scalar(sa.select(PullRequest))
        assert pr.state == "merged" and pr.author == "ann.dev"


def test_gitlab_wrong_token_missing_token_and_replay(acme, linked, tenant_client, in_tenant):
    r = linked(acme, provider="gitlab")
    client = tenant_client("acme")
    data = payload("gitlab_merge_request_open")
    a = _refused(send_gitlab(client, "Merge Request Hook", data, "wrong"))
    b = _refused(send_gitlab(client, "Merge Request Hook", data, r.secret, **{"X-Gitlab-Token": None}))
    unknown = payload("gitlab_merge_request_open")
    unknown["project"]["path_with_namespace"] = "other/" + GITLAB_REPO
    c = _refused(send_gitlab(client, "Merge Request Hook", unknown, r.secret))
    assert a == b == c
    uuid = "0d6b3b8a-7e53-4b4e-9b73-2b1c1d3e4f50"
    assert send_gitlab(client, "Merge Request Hook", data, r.secret, delivery=uuid).status_code == 200
    again = send_gitlab(client, "Merge Request Hook", data, r.secret, delivery=uuid)
    assert again.get_json() == {"duplicate": True}
    with in_tenant(acme):
        assert _counts() == (1, 0, 1)


def test_a_github_secret_is_not_a_gitlab_token(acme, linked, tenant_client):
    r = linked(acme)  # a GitHub link: its secret sent as a GitLab token for the same name
    data = payload("gitlab_merge_request_open")
    data["project"]["path_with_namespace"] = "ann-dev/booking-tool"
    _refused(send_gitlab(tenant_client("acme"), "Merge Request Hook", data, r.secret))


def test_acme_secret_and_repository_on_globex_host_is_refused(acme, globex, linked, tenant_client, in_tenant):
    r = linked(acme)
    res = send_github(tenant_client("globex"), "pull_request", pr_event("opened"), r.secret)
    _refused(res)
    # Globex links the same repository with its own secret: acme's secret still does nothing there.
    g = linked(globex)
    _refused(send_github(tenant_client("globex"), "pull_request", pr_event("opened"), r.secret))
    assert (
        send_github(tenant_client("globex"), "pull_request", pr_event("opened"), g.secret).status_code == 200
    )
    with in_tenant(acme):
        assert _counts() == (0, 0, 0)


def test_a_body_over_the_limit_is_refused_before_reading(acme, linked, tenant_client):
    from app.code.views import WEBHOOK_MAX_BYTES

    r = linked(acme)
    body = b'{"pad": "' + b"x" * WEBHOOK_MAX_BYTES + b'"}'
    res = send_github(tenant_client("acme"), "pull_request", body, r.secret)
    assert res.status_code == 413


def test_the_webhook_needs_no_csrf_and_no_session_and_only_known_providers(acme, tenant_client):
    res = tenant_client("acme").post("/webhooks/code/bitbucket", data=b"{}")
    assert res.status_code == 404
