"""Operator console, gig moderation: the queue, approve, reject and pause, on the web and the API.

With ``gigs_require_approval`` on (set on the settings row here; the settings page is
another area's), a seller's publish sends the gig to the queue. Operators approve it
(it goes live and into search), reject it or pause a live one with a reason the seller
is told. Every decision is audited; refusals change nothing; tenants never meet.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.gigs import services as gig_services
from app.gigs.models import Gig
from app.notifications.models import Notification
from tenants.db import db
from tests.console.conftest import csrf_token, index_ids, login, token
from tests.gigs.conftest import first_subcategory_id, gig_data
from tests.helpers import race_for_a_lock

ADMIN_ID = 1


@pytest.fixture
def submit_gig(in_tenant, make_seller, approval):
    """``submit_gig(tenant, title=...)`` -> (seller id, gig id) of a gig pending approval."""
    emails = iter(f"seller{n}@example.com" for n in range(1, 100))

    def make(tenant, title="I will design a modern minimalist logo", seller_id=None):
        approval(tenant, True)
        seller_id = seller_id or make_seller(tenant, email=next(emails), display_name="Sally Seller")
        with in_tenant(tenant):
            seller = db.session.get(User, seller_id)
            gig = gig_services.create_gig(seller, gig_data(title=title, category_id=first_subcategory_id()))
            gig_services.publish_gig(seller, gig)
            assert gig.status == "pending_approval"
            db.session.commit()
            return seller_id, gig.id

    return make


@pytest.fixture
def gig_state(in_tenant):
    def read(tenant, gig_id):
        with in_tenant(tenant):
            gig = db.session.get(Gig, gig_id)
            return {
                "status": gig.status,
                "version": gig.version,
                "moderation_reason": gig.moderation_reason,
                "moderated_by_id": gig.moderated_by_id,
                "moderated_at": gig.moderated_at,
                "published_at": gig.published_at,
                "title": gig.title,
            }

    return read


@pytest.fixture
def notifications_of(in_tenant):
    def read(tenant, user_id):
        with in_tenant(tenant):
            rows = db.session.scalars(
                sa.select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
            ).all()
            return [(n.kind, n.data.get("text", ""), n.url) for n in rows]

    return read


# --------------------------------------------------------------------------- the queue


def test_a_pending_gig_waits_in_the_queue_and_is_not_public(
    acme, submit_gig, tenant_client, admin_api, operator_web, run_jobs, in_tenant, notifications_of, gig_state
):
    seller_id, gig_id = submit_gig(acme, title="I will paint a watercolor portrait")
    run_jobs()
    assert index_ids(in_tenant, acme, "watercolor") == []
    with in_tenant(acme):
        slug = db.session.get(Gig, gig_id).slug
    anonymous = tenant_client("acme")
    assert anonymous.get(f"/gigs/{slug}").status_code == 404
    assert anonymous.get(f"/api/v1/gigs/{gig_id}").status_code == 404
    # The operators hear of it, with a link to the review page.
    [(kind, text, url)] = notifications_of(acme, ADMIN_ID)
    assert kind == "gig_submitted" and "watercolor portrait" in text and url == f"/console/gigs/{gig_id}"

    client, headers = admin_api(acme)
    queue = client.get("/api/v1/console/gigs", query_string={"status": "pending_approval"}, headers=headers)
    assert queue.status_code == 200 and [g["id"] for g in queue.json] == [gig_id]
    assert queue.json[0]["seller"]["id"] == seller_id and queue.json[0]["status"] == "pending_approval"
    detail = client.get(f"/api/v1/console/gigs/{gig_id}", headers=headers)
    assert detail.status_code == 200
    assert detail.json["description_html"].startswith("<p>A <strong>clean</strong>")
    assert [p["tier"] for p in detail.json["packages"]] == ["basic", "standard", "premium"]
    assert detail.json["incomplete"] == {} and detail.json["version"] == gig_state(acme, gig_id)["version"]

    web = operator_web(acme)
    page = web.get("/console/gigs").get_data(as_text=True)
    assert f'data-testid="queue-row-{gig_id}"' in page and 'data-testid="queue-total">1<' in page
    review = web.get(f"/console/gigs/{gig_id}").get_data(as_text=True)
    for expected in (
        "I will paint a watercolor portrait",
        "<strong>clean</strong>",
        "Fast delivery",
        "Do I own the rights?",
        'data-testid="approve-form"',
        'data-testid="reject-form"',
    ):
        assert expected in review, expected


def test_operators_filter_every_gig_by_status_and_text(acme, submit_gig, make_seller, in_tenant, admin_api):
    _seller, pending = submit_gig(acme, title="I will paint a watercolor portrait")
    seller = make_seller(acme, email="other@example.com", display_name="Otto Other")
    with in_tenant(acme):
        user = db.session.get(User, seller)
        draft = gig_services.create_gig(user, gig_data(title="I will write a catchy jingle for you"))
        db.session.commit()
        draft_id = draft.id
    client, headers = admin_api(acme)

    def ids(**params):
        response = client.get("/api/v1/console/gigs", query_string=params, headers=headers)
        assert response.status_code == 200, response.json
        return [g["id"] for g in response.json]

    assert ids() == [draft_id, pending]
    assert ids(status="draft") == [draft_id]
    assert ids(q="jingle") == [draft_id] and ids(q="otto") == [draft_id] and ids(q=str(pending)) == [pending]
    bad = client.get("/api/v1/console/gigs", query_string={"status": "live"}, headers=headers)
    assert bad.status_code == 422 and "status" in bad.json["errors"]["query"]


# --------------------------------------------------------------------------- approve


def test_approving_on_the_web_publishes_indexes_audits_and_tells_the_seller(
    acme,
    submit_gig,
    operator_web,
    gig_state,
    audit_of,
    events_of,
    notifications_of,
    run_jobs,
    in_tenant,
    tenant_client,
):
    seller_id, gig_id = submit_gig(acme, title="I will paint a watercolor portrait")
    version = gig_state(acme, gig_id)["version"]
    web = operator_web(acme)
    page = f"/console/gigs/{gig_id}"
    response = web.post(
        f"{page}/approve", data={"approve-csrf_token": csrf_token(web, page), "approve-version": str(version)}
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    state = gig_state(acme, gig_id)
    assert state["status"] == "active" and state["published_at"] is not None
    assert state["moderated_by_id"] == ADMIN_ID and state["moderation_reason"] is None
    [entry] = audit_of(acme)
    assert entry[:5] == ("gig.approve", "gig", str(gig_id), "web", ADMIN_ID)
    assert entry[5]["status"] == ["pending_approval", "active"]
    assert events_of(acme)[-2:] == [
        ("gig.published", {"gig_id": gig_id}),
        ("gig.approved", {"gig_id": gig_id}),
    ]

    run_jobs()
    assert index_ids(in_tenant, acme, "watercolor") == [gig_id]
    assert "gig_approved" in [k for k, _t, _u in notifications_of(acme, seller_id)]
    with in_tenant(acme):
        slug = db.session.get(Gig, gig_id).slug
    assert tenant_client("acme").get(f"/gigs/{slug}").status_code == 200
    review = web.get(page).get_data(as_text=True)
    assert 'data-testid="approve-form"' not in review and 'data-testid="pause-form"' in review
    assert "Approved gig #" in review  # its history


def test_approving_a_version_the_seller_changed_since_is_refused(
    acme, submit_gig, admin_api, operator_web, gig_state, audit_of, in_tenant
):
    seller_id, gig_id = submit_gig(acme)
    reviewed = gig_state(acme, gig_id)["version"]
    with in_tenant(acme):
        gig_services.update_gig(
            db.session.get(User, seller_id),
            db.session.get(Gig, gig_id),
            {"title": "I will design a rude logo now"},
        )
        db.session.commit()
    client, headers = admin_api(acme)
    stale = client.post(f"/api/v1/console/gigs/{gig_id}/approve", json={"version": reviewed}, headers=headers)
    assert stale.status_code == 412 and "changed this gig" in stale.json["message"]
    web = operator_web(acme)
    page = f"/console/gigs/{gig_id}"
    form = web.post(
        f"{page}/approve",
        data={"approve-csrf_token": csrf_token(web, page), "approve-version": str(reviewed)},
    )
    assert form.status_code == 412
    body = form.get_data(as_text=True)
    assert "changed this gig" in body and "I will design a rude logo now" in body
    current = gig_state(acme, gig_id)
    assert current["status"] == "pending_approval" and f'value="{current["version"]}"' in body
    assert audit_of(acme) == []
    fresh = client.post(
        f"/api/v1/console/gigs/{gig_id}/approve", json={"version": current["version"]}, headers=headers
    )
    assert fresh.status_code == 200 and fresh.json["status"] == "active"


# --------------------------------------------------------------------------- reject and resubmit


def test_a_moderator_rejects_with_a_reason_the_seller_reads_then_the_seller_resubmits(
    acme,
    submit_gig,
    make_user,
    tenant_client,
    gig_state,
    audit_of,
    events_of,
    notifications_of,
    run_jobs,
    in_tenant,
    approval,
):
    mod = make_user(acme, email="mod@example.com", role="moderator")
    seller_id, gig_id = submit_gig(acme)
    client = tenant_client("acme")
    headers = token(client, "mod@example.com")
    reason = "The images show another company's logo.\nReplace them with your own work."
    response = client.post(f"/api/v1/console/gigs/{gig_id}/reject", json={"reason": reason}, headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "rejected" and response.json["moderation_reason"] == reason
    state = gig_state(acme, gig_id)
    assert state["status"] == "rejected" and state["moderated_by_id"] == mod
    [entry] = audit_of(acme)
    assert entry[:5] == ("gig.reject", "gig", str(gig_id), "api", mod) and reason in entry[6]
    assert entry[5]["moderation_reason"] == [None, reason]
    assert events_of(acme)[-1] == ("gig.rejected", {"gig_id": gig_id, "reason": reason})
    run_jobs()
    kind, text, url = notifications_of(acme, seller_id)[-1]
    assert (
        kind == "gig_rejected" and "another company's logo" in text and url == f"/seller/gigs/{gig_id}/edit"
    )

    seller = login(tenant_client("acme"), "seller1@example.com")
    edit = seller.get(f"/seller/gigs/{gig_id}/edit").get_data(as_text=True)
    assert 'data-testid="moderation-reason"' in edit and "another company&#39;s logo" in edit
    assert "Resubmit for review" in edit
    mine = seller.get("/seller/gigs").get_data(as_text=True)
    assert "Rejected" in mine and f'data-testid="moderation-reason-{gig_id}"' in mine

    # Even with approval switched off meanwhile, a rejected gig goes back to review.
    approval(acme, False)
    token_ = csrf_token(seller, "/seller/gigs")
    resubmit = seller.post(f"/seller/gigs/{gig_id}/publish", data={"csrf_token": token_})
    assert resubmit.status_code == 303
    assert "sent for review" in seller.get("/seller/gigs").get_data(as_text=True)
    assert gig_state(acme, gig_id)["status"] == "pending_approval"
    assert events_of(acme)[-1] == ("gig.submitted", {"gig_id": gig_id})


def test_a_moderator_never_decides_on_their_own_gig(
    acme, make_seller, submit_gig, in_tenant, tenant_client, gig_state
):
    mod = make_seller(acme, email="modseller@example.com")
    with in_tenant(acme):
        db.session.get(User, mod).role = "moderator"
        db.session.commit()
    _seller, gig_id = submit_gig(acme, seller_id=mod)
    client = tenant_client("acme")
    headers = token(client, "modseller@example.com")
    refused = client.post(f"/api/v1/console/gigs/{gig_id}/approve", headers=headers)
    assert refused.status_code == 403 and "your own gig" in refused.json["message"]
    assert gig_state(acme, gig_id)["status"] == "pending_approval"


# --------------------------------------------------------------------------- pause


def test_an_operator_pauses_a_live_gig_it_leaves_search_and_returns_only_through_review(
    acme,
    make_seller,
    in_tenant,
    operator_web,
    gig_state,
    audit_of,
    events_of,
    notifications_of,
    run_jobs,
    tenant_client,
):
    seller_id = make_seller(acme, email="seller1@example.com")
    with in_tenant(acme):
        seller = db.session.get(User, seller_id)
        gig = gig_services.create_gig(
            seller, gig_data(title="I will paint a watercolor portrait", category_id=first_subcategory_id())
        )
        gig_services.publish_gig(seller, gig)  # approval is off: live at once
        db.session.commit()
        gig_id = gig.id
    run_jobs()
    assert index_ids(in_tenant, acme, "watercolor") == [gig_id]

    web = operator_web(acme)
    page = f"/console/gigs/{gig_id}"
    empty = web.post(f"{page}/pause", data={"pause-csrf_token": csrf_token(web, page), "pause-reason": ""})
    assert empty.status_code == 422 and 'id="pause-reason-error"' in empty.get_data(as_text=True)
    assert gig_state(acme, gig_id)["status"] == "active"
    reason = "Reported by buyers: the samples are not the seller's own work."
    response = web.post(
        f"{page}/pause", data={"pause-csrf_token": csrf_token(web, page), "pause-reason": reason}
    )
    assert response.status_code == 303
    state = gig_state(acme, gig_id)
    assert state["status"] == "paused" and state["moderation_reason"] == reason
    assert [e[0] for e in audit_of(acme)] == ["gig.pause"]
    assert events_of(acme)[-1] == ("gig.paused", {"gig_id": gig_id, "by_operator": True, "reason": reason})
    run_jobs()
    assert index_ids(in_tenant, acme, "watercolor") == []
    kind, text, _url = notifications_of(acme, seller_id)[-1]
    assert kind == "gig_paused_by_operator" and "samples are not the seller" in text

    # The seller cannot simply switch it back on: publishing sends it to review.
    seller_web = login(tenant_client("acme"), "seller1@example.com")
    assert "Paused by the marketplace" in seller_web.get("/seller/gigs").get_data(as_text=True)
    seller_web.post(
        f"/seller/gigs/{gig_id}/publish", data={"csrf_token": csrf_token(seller_web, "/seller/gigs")}
    )
    assert gig_state(acme, gig_id)["status"] == "pending_approval"
    run_jobs()
    assert index_ids(in_tenant, acme, "watercolor") == []


# --------------------------------------------------------------------------- refusals


def test_moderation_refusals_are_clear_and_change_nothing(
    acme, submit_gig, make_seller, in_tenant, admin_api, gig_state, audit_of
):
    _seller, pending = submit_gig(acme)
    seller_id = make_seller(acme, email="drafter@example.com")
    with in_tenant(acme):
        draft = gig_services.create_gig(
            db.session.get(User, seller_id), gig_data(title="I will write a draft gig soon")
        )
        db.session.commit()
        draft_id = draft.id
    client, headers = admin_api(acme)
    base = "/api/v1/console/gigs"
    before = {gid: gig_state(acme, gid) for gid in (pending, draft_id)}

    cases = [
        (
            client.post(f"{base}/{draft_id}/approve", headers=headers),
            409,
            "Only a gig pending approval can be approved",
        ),
        (
            client.post(f"{base}/{draft_id}/reject", json={"reason": "Not good enough."}, headers=headers),
            409,
            "pending",
        ),
        (
            client.post(f"{base}/{draft_id}/pause", json={"reason": "Not live anyway."}, headers=headers),
            409,
            "live gig",
        ),
        (
            client.post(f"{base}/{pending}/pause", json={"reason": "Still pending."}, headers=headers),
            409,
            "live gig",
        ),
        (client.post(f"{base}/{pending}/reject", json={"reason": ""}, headers=headers), 422, "Give a reason"),
        (
            client.post(f"{base}/{pending}/reject", json={"reason": "x" * 1001}, headers=headers),
            422,
            "under 1000",
        ),
        (client.post(f"{base}/{pending}/reject", json={}, headers=headers), 422, "Missing data"),
        (
            client.post(f"{base}/{pending}/approve", json={"version": "3"}, headers=headers),
            422,
            "Not a valid integer",
        ),
        (client.post(f"{base}/999999/approve", headers=headers), 404, "does not exist"),
        (
            client.post(f"{base}/999999/reject", json={"reason": "Ghost gig."}, headers=headers),
            404,
            "does not exist",
        ),
        (client.get(f"{base}/999999", headers=headers), 404, "does not exist"),
    ]
    for response, status, text in cases:
        assert response.status_code == status, (response.status_code, response.json)
        assert text in str(response.json), (text, response.json)
    assert cases[4][0].json["errors"]["json"]["reason"] == ["Give a reason: the seller is told it."]
    assert {gid: gig_state(acme, gid) for gid in (pending, draft_id)} == before
    assert audit_of(acme) == []

    # Deciding twice: the second decision finds the gig no longer pending.
    assert client.post(f"{base}/{pending}/approve", headers=headers).status_code == 200
    again = client.post(f"{base}/{pending}/reject", json={"reason": "Too late now."}, headers=headers)
    assert again.status_code == 409 and "this one is live" in again.json["message"]
    assert gig_state(acme, pending)["status"] == "active" and len(audit_of(acme)) == 1


def test_web_reject_without_a_reason_shows_on_the_form(acme, submit_gig, operator_web, gig_state, audit_of):
    _seller, gig_id = submit_gig(acme)
    web = operator_web(acme)
    page = f"/console/gigs/{gig_id}"
    response = web.post(
        f"{page}/reject", data={"reject-csrf_token": csrf_token(web, page), "reject-reason": "  "}
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="reject-reason-error"' in body and "Give a reason" in body
    assert web.post(f"{page}/reject", data={"reject-reason": "No CSRF token."}).status_code == 400
    assert web.get("/console/gigs/999999").status_code == 404
    assert gig_state(acme, gig_id)["status"] == "pending_approval" and audit_of(acme) == []


# --------------------------------------------------------------------------- who may enter


def test_buyers_and_sellers_cannot_moderate(acme, submit_gig, make_user, tenant_client, gig_state):
    seller_id, gig_id = submit_gig(acme)
    make_user(acme, email="buyer@example.com")
    for email in ("buyer@example.com", "seller1@example.com"):
        web = login(tenant_client("acme"), email)
        assert web.get("/console/gigs").status_code == 403
        assert web.get(f"/console/gigs/{gig_id}").status_code == 403
        token_ = csrf_token(web, "/account")
        assert (
            web.post(f"/console/gigs/{gig_id}/approve", data={"approve-csrf_token": token_}).status_code
            == 403
        )
        client = tenant_client("acme")
        headers = token(client, email)
        assert client.get("/api/v1/console/gigs", headers=headers).status_code == 403
        assert client.post(f"/api/v1/console/gigs/{gig_id}/approve", headers=headers).status_code == 403
        assert (
            client.post(
                f"/api/v1/console/gigs/{gig_id}/reject", json={"reason": "Self-service."}, headers=headers
            ).status_code
            == 403
        )
    assert tenant_client("acme").post(f"/api/v1/console/gigs/{gig_id}/approve").status_code == 401
    assert gig_state(acme, gig_id)["status"] == "pending_approval"


# --------------------------------------------------------------------------- tenants


def test_an_acme_operator_cannot_see_or_decide_on_globex_gigs_even_with_equal_ids(
    acme, globex, submit_gig, admin_api, tenant_client, gig_state, audit_of
):
    _a, acme_gig = submit_gig(acme, title="I will paint an acme watercolor")
    _g, globex_gig = submit_gig(globex, title="I will paint a globex watercolor")
    assert acme_gig == globex_gig
    client, headers = admin_api(acme)
    listing = client.get("/api/v1/console/gigs", headers=headers).json
    assert [g["title"] for g in listing] == ["I will paint an acme watercolor"]
    assert (
        client.get(f"/api/v1/console/gigs/{acme_gig}", headers=headers)
        .json["title"]
        .endswith("acme watercolor")
    )
    approved = client.post(f"/api/v1/console/gigs/{acme_gig}/approve", headers=headers)
    assert approved.status_code == 200 and approved.json["title"] == "I will paint an acme watercolor"
    assert gig_state(acme, acme_gig)["status"] == "active"
    assert gig_state(globex, globex_gig)["status"] == "pending_approval" and audit_of(globex) == []
    # Acme's token means nothing on globex.
    globex_client = tenant_client("globex")
    assert (
        globex_client.post(f"/api/v1/console/gigs/{globex_gig}/approve", headers=headers).status_code == 401
    )
    assert gig_state(globex, globex_gig)["status"] == "pending_approval"


# --------------------------------------------------------------------------- API documentation


def test_the_moderation_api_is_documented_with_examples(acme, tenant_client):
    paths = tenant_client("acme").get("/api/v1/openapi.json").json["paths"]
    for path, method in (
        ("/api/v1/console/gigs", "get"),
        ("/api/v1/console/gigs/{gig_id}", "get"),
        ("/api/v1/console/gigs/{gig_id}/approve", "post"),
        ("/api/v1/console/gigs/{gig_id}/reject", "post"),
        ("/api/v1/console/gigs/{gig_id}/pause", "post"),
    ):
        operation = paths[path][method]
        assert operation["security"] == [{"bearerAuth": []}] and "403" in operation["responses"], path
    reject = paths["/api/v1/console/gigs/{gig_id}/reject"]["post"]
    assert reject["requestBody"]["content"]["application/json"]["example"]["reason"]
    assert {"404", "409", "412", "422"} <= set(reject["responses"])


# --------------------------------------------------------------------------- concurrency


def test_two_operators_deciding_at_once_are_serialised(
    app, acme, submit_gig, make_user, in_tenant, gig_state
):
    """The approval holds the gig's row lock until it commits; the rejection waits, re-reads the
    gig and is refused as a state conflict (409), not a lost update."""
    from app.console.people import actions as people

    mod = make_user(acme, email="mod@example.com", role="moderator")
    _seller, gig_id = submit_gig(acme)
    results = race_for_a_lock(
        app,
        in_tenant,
        acme,
        lambda: people.approve_gig(db.session.get(User, ADMIN_ID), gig_id),
        lambda: people.reject_gig(db.session.get(User, mod), gig_id, "Not for this marketplace."),
        gig_services.GigError,
    )
    assert results["first"] == "ok"
    assert isinstance(results["second"], gig_services.GigStateError), results["second"]
    assert gig_state(acme, gig_id)["status"] == "active"
