"""The workroom joined up with the other domains: the Messages tab embeds the live conversation
(threads, @mentions; the no-JavaScript form comes back to the tab), the side panel shows the
linked repository's open PRs with their CI and, for an hourly contract, this week's time; a
billed hourly week is told as a timesheet (not as milestone steps); a merged PR and failing
CI are told once; nothing of acme's shows on globex."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from app.notifications.models import Notification
from tenants.db import db
from tests.code.conftest import GITHUB_REPO, check_run_event, pr_event, send_github
from tests.helpers import csrf_token, login
from tests.hourly.conftest import T0
from tests.workroom.conftest import user

SOCKET_IO = "vendor/socket.io.min.js"


def _page(client, contract_id, tab, **args):
    query = "&".join(f"{k}={v}" for k, v in {"tab": tab, **args}.items())
    response = client.get(f"/contracts/{contract_id}/workroom?{query}")
    assert response.status_code == 200, response.data[:300]
    return response.get_data(as_text=True)


def _kinds(in_tenant, tenant, user_id, *kinds):
    with in_tenant(tenant):
        query = sa.select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
        return [(n.kind, n.data["text"], n.url) for n in db.session.scalars(query) if n.kind in kinds]


# --------------------------------------------------------------------------- messages


def test_the_messages_tab_embeds_the_live_conversation(acme, room, tenant_client, in_tenant):
    r = room(acme)
    with in_tenant(acme):
        ann_handle = user(r.ann).handle
    client = tenant_client("acme")
    login(client, r.emails["client"])
    html = _page(client, r.contract_id, "messages")
    assert 'data-testid="chat"' in html and "chat-embedded" in html
    assert 'data-testid="chat-form"' in html and 'data-testid="mention-list"' in html
    assert ann_handle and f"&#34;handle&#34;: &#34;{ann_handle}&#34;" in html  # @ autocomplete
    # socket.io once (the chat's), then chat.js; the page's own script after it
    assert html.count(SOCKET_IO) == 1 and html.count("js/chat.js") == 1 and "js/workroom.js" in html
    cid = int(re.search(r'data-conversation-id="(\d+)"', html).group(1))
    here = f"/contracts/{r.contract_id}/workroom?tab=messages"
    assert f'name="next" value="{here}"' in html

    # The no-JavaScript form posts to messaging and comes back to the tab.
    token = csrf_token(client, here)
    sent = client.post(
        f"/inbox/{cid}/messages",
        data={"csrf_token": token, "body": f"Kick-off today? @{ann_handle}", "next": here},
    )
    assert (
        sent.status_code == 302
        and urlsplit(sent.headers["Location"]).path + "?" + urlsplit(sent.headers["Location"]).query == here
    )
    html = _page(client, r.contract_id, "messages")
    assert "Kick-off today?" in html and 'class="mention"' in html
    first = int(re.findall(r'data-message-id="(\d+)"[^>]*data-sender-id="' + str(r.client) + '"', html)[-1])
    # Reply without JavaScript: ?reply_to= keeps the tab, the reply quotes its parent.
    assert f"tab=messages&amp;reply_to={first}#chat-form" in html
    ann = tenant_client("acme")
    login(ann, r.emails["ann"])
    html = _page(ann, r.contract_id, "messages", reply_to=first)
    assert f'name="reply_to_id" value="{first}"' in html
    token = csrf_token(ann, here)
    ann.post(
        f"/inbox/{cid}/messages",
        data={"csrf_token": token, "body": "Yes, at ten", "reply_to_id": str(first), "next": here},
    )
    html = _page(ann, r.contract_id, "messages")
    assert "Yes, at ten" in html and f'data-quote-of="{first}"' in html

    # Every tab loads the Socket.IO client once (the board's and the bell's), no chat elsewhere.
    for tab in ("tasks", "files", "calendar"):
        other = _page(client, r.contract_id, tab)
        assert other.count(SOCKET_IO) == 1 and "js/chat.js" not in other, tab
    inbox = client.get(f"/inbox/{cid}").get_data(as_text=True)
    assert inbox.count(SOCKET_IO) == 1 and client.get("/inbox").get_data(as_text=True).count(SOCKET_IO) == 1


# --------------------------------------------------------------------------- side panel


def test_the_side_panel_shows_the_linked_repository_pr_and_ci(acme, linked, tenant_client):
    r = linked(acme)
    client = tenant_client("acme")
    assert send_github(client, "pull_request", pr_event("opened"), r.secret).status_code == 200
    failed = check_run_event("lint", conclusion="failure")
    assert send_github(client, "check_run", failed, r.secret).status_code == 200
    login(client, r.h.emails["client"])
    for tab in ("tasks", "messages"):
        html = _page(client, r.contract_id, tab)
        panel = html[html.index('data-testid="workroom-repo"') :]
        assert GITHUB_REPO.lower() in panel
        assert 'data-testid="workroom-pr" data-number="42"' in panel
        assert "Calendar view and booking reminders" in panel and "lint failed" in panel
        assert f"/contracts/{r.contract_id}#repository" in panel  # manage it on the contract page
    # merged: no longer among the open pull requests
    send_github(client, "pull_request", pr_event("closed", merged=True), r.secret)
    html = _page(client, r.contract_id, "tasks")
    assert 'data-testid="workroom-pr"' not in html and "No open pull requests." in html


def test_without_a_repository_the_panel_links_the_contract_page(acme, room, tenant_client):
    r = room(acme)
    client = tenant_client("acme")
    login(client, r.emails["ann"])
    html = _page(client, r.contract_id, "tasks")
    assert "No repository linked." in html
    assert re.search(rf'href="/contracts/{r.contract_id}#repository" data-testid="link-repo"', html)
    assert 'data-testid="workroom-hourly"' not in html  # a fixed-price contract: no week


def test_the_hourly_panel_shows_this_weeks_time_against_the_limit(
    app, acme, hourly_in, tenant_client, in_tenant
):
    from app.contracts.models import Contract
    from app.hourly import services
    from app.hourly.panels import workroom_panel

    h = hourly_in(acme)
    with in_tenant(acme):
        services.log_time(
            user(h.ann),
            h.contract_id,
            {"work_date": "2026-03-03", "minutes": 150},
            now=T0 + timedelta(days=2),
        )
        services.log_time(
            user(h.ann),
            h.contract_id,
            {"work_date": "2026-03-04", "minutes": 540},
            now=T0 + timedelta(days=3),
        )
        db.session.commit()
        contract = db.session.get(Contract, h.contract_id)
        request = app.test_request_context(base_url="http://acme.localhost")  # the panel links the time page
        request.push()
        html = str(workroom_panel(contract, user(h.client), now=T0 + timedelta(days=3)))
        assert "11 h 30 min</strong> of 10 h" in html and "Week of 2 Mar 2026" in html
        assert (
            "Over the weekly limit: 1 h 30 min not billed." in html and "$450.00 so far at $45.00/h" in html
        )
        assert f'href="/contracts/{h.contract_id}/time"' in html and 'data-testid="time-page"' in html
        # the next week starts empty
        assert "0 h</strong> of 10 h" in str(
            workroom_panel(contract, user(h.ann), now=T0 + timedelta(days=7, hours=1))
        )
        request.pop()
    client = tenant_client("acme")
    login(client, h.emails["ann"])
    html = _page(client, h.contract_id, "tasks")
    assert 'data-testid="workroom-hourly"' in html and "of 10 h" in html
    assert "billed by the week" in html


# --------------------------------------------------------------------------- notifications

MILESTONE_KINDS = ("milestone_funded", "milestone_accepted")


def test_a_billed_hourly_week_is_told_as_a_timesheet_only(acme, globex, hourly_in, room, in_tenant, run_jobs):
    from app.hourly import services

    h = hourly_in(acme)
    with in_tenant(acme):
        services.log_time(
            user(h.ann), h.contract_id, {"work_date": "2026-03-04", "minutes": 90}, now=T0 + timedelta(days=3)
        )
        sheet = services.close_week(h.contract_id, date(2026, 3, 2), now=T0 + timedelta(days=7, hours=1))
        db.session.commit()
        sheet_id = sheet.id
    with in_tenant(acme):
        assert services.auto_approve(sheet_id, now=T0 + timedelta(days=12, hours=2)).status == "billed"
        db.session.commit()
    run_jobs()
    for uid in (h.client, h.ann):
        kinds = [k for k, *_ in _kinds(in_tenant, acme, uid, "timesheet_billed", *MILESTONE_KINDS)]
        assert kinds == ["timesheet_billed"], kinds
    # a fixed-price contract's funded milestone is still told
    r = room(globex)
    run_jobs()
    assert _kinds(in_tenant, globex, r.ann, "milestone_funded")


def test_a_merged_pr_and_failing_ci_are_told_once(acme, linked, tenant_client, in_tenant, run_jobs):
    from app.events.models import OutboxEvent
    from app.notifications import events as handlers

    r = linked(acme)
    client = tenant_client("acme")
    send_github(client, "pull_request", pr_event("opened", title="Add booking API"), r.secret)
    # lint fails, then a second check of the same head: one ci_failed for that commit
    send_github(client, "check_run", check_run_event("lint", conclusion="failure"), r.secret)
    send_github(
        client, "check_run", check_run_event("tests", run_id=20817364599, conclusion="failure"), r.secret
    )
    send_github(client, "check_run", check_run_event("types", run_id=20817364600), r.secret)  # passed
    run_jobs()
    (ci,) = _kinds(in_tenant, acme, r.h.ann, "ci_failed")
    assert ci[0] == "ci_failed" and ci[2] == f"/contracts/{r.contract_id}#repository"
    assert (
        ci[1].startswith(f"CI failed on PR #42 “Add booking API” in {GITHUB_REPO.lower()}")
        and "failed" in ci[1]
    )
    assert _kinds(in_tenant, acme, r.h.client, "ci_failed") == []

    merged = pr_event("closed", merged=True, title="Add booking API")
    send_github(client, "pull_request", merged, r.secret)
    later = pr_event(
        "edited", state="closed", title="Add booking API (v1)", updated_at="2026-11-02T12:00:00Z"
    )
    send_github(client, "pull_request", later, r.secret)  # a merged PR stays merged: "merged" again
    # CI failing after the merge tells no one
    send_github(
        client, "check_run", check_run_event("deploy", run_id=20817364700, conclusion="failure"), r.secret
    )
    run_jobs()
    (done,) = _kinds(in_tenant, acme, r.h.client, "pr_merged")
    assert done[1].startswith("PR #42 “Add booking API") and f"was merged in {GITHUB_REPO.lower()}" in done[1]
    assert _kinds(in_tenant, acme, r.h.ann, "pr_merged") == []
    assert len(_kinds(in_tenant, acme, r.h.ann, "ci_failed")) == 1

    # handlers run again (a retried job): still once each
    with in_tenant(acme):
        for event in db.session.scalars(
            sa.select(OutboxEvent).where(OutboxEvent.name.in_(["pr.updated", "ci.updated"]))
        ):
            (handlers.notify_pr_merged if event.name == "pr.updated" else handlers.notify_ci_failed)(event)
        db.session.commit()
    assert len(_kinds(in_tenant, acme, r.h.client, "pr_merged")) == 1
    assert len(_kinds(in_tenant, acme, r.h.ann, "ci_failed")) == 1


def test_code_kinds_have_a_preference_and_render():
    from app.notifications.kinds import KINDS

    data = {
        "contract_id": 7,
        "pull_request_id": 3,
        "number": 12,
        "repo": "acme/booking",
        "pr_title": "Add booking API",
    }
    assert KINDS["pr_merged"].render(data).startswith("PR #12 “Add booking API” was merged in acme/booking")
    gitlab = KINDS["ci_failed"].render({**data, "provider": "gitlab", "summary": "lint failed"})
    assert gitlab.startswith("CI failed on MR !12 “Add booking API” in acme/booking: lint failed")
    assert {KINDS["pr_merged"].category, KINDS["ci_failed"].category} == {"jobs"}


# --------------------------------------------------------------------------- tenants


def test_nothing_of_acme_shows_on_globex(acme, globex, linked, room, tenant_client, in_tenant):
    a = linked(acme)
    g = room(globex)
    assert a.contract_id == g.contract_id  # equal ids in both schemas
    acme_client = tenant_client("acme")
    send_github(acme_client, "pull_request", pr_event("opened", title="Acme secret PR"), a.secret)
    login(acme_client, a.h.emails["client"])
    here = f"/contracts/{a.contract_id}/workroom?tab=messages"
    html = _page(acme_client, a.contract_id, "messages")
    cid = int(re.search(r'data-conversation-id="(\d+)"', html).group(1))
    acme_client.post(
        f"/inbox/{cid}/messages",
        data={"csrf_token": csrf_token(acme_client, here), "body": "Acme only", "next": here},
    )
    glob = tenant_client("globex")
    login(glob, g.emails["client"])
    for tab in ("messages", "tasks"):
        html = _page(glob, g.contract_id, tab)
        assert "Acme secret PR" not in html and "Acme only" not in html and GITHUB_REPO.lower() not in html
        assert "No repository linked." in html
    # acme's people have no session on globex; globex's client posting to acme's conversation id
    # reaches only globex's conversation of that id (or nothing)
    stranger = tenant_client("globex")
    login(stranger, g.emails["bob"])
    assert stranger.get(f"/contracts/{g.contract_id}/workroom?tab=messages").status_code == 404
    with in_tenant(globex):
        assert not db.session.scalars(
            sa.select(Notification).where(Notification.kind.in_(["pr_merged", "ci_failed"]))
        ).all()
