"""Operator console, review moderation: the queue of reported and held reviews, every review with
filters, and the decisions (hide with a reason, restore, approve a held review, dismiss a
report) on the web and the API.

Every decision is audited in the same transaction; a hidden review leaves the gig's and the
seller's averages (a restored one counts again); refusals change nothing and write no audit
entry; members never reach these pages; tenants never meet (acme's review ids are unknown on
globex, and where globex has reviews with equal ids, only globex's own change).
"""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import SellerProfile
from app.events.models import OutboxEvent
from app.reviews import services
from app.reviews.models import Review
from tenants.db import db
from tests.console.conftest import ADMIN_PASSWORD, PASSWORD, csrf_token, login, token
from tests.console.review_kit import GOOD, SPAM, audit_entries, drive, review_state, user


def _web(tenant_client, tenant, email, password=PASSWORD):
    return login(tenant_client(tenant.slug), email, password)


def _api(tenant_client, tenant, email, password=PASSWORD):
    client = tenant_client(tenant.slug)
    return client, token(client, email, password)


def _admin_web(tenant_client, tenant):
    return _web(tenant_client, tenant, f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def _events(name: str) -> list[dict]:
    query = sa.select(OutboxEvent).where(OutboxEvent.name == name).order_by(OutboxEvent.id)
    return [row.payload for row in db.session.scalars(query)]


def _seller_rating(seller_id: int) -> tuple[float, int]:
    profile = db.session.get(SellerProfile, seller_id)
    db.session.refresh(profile)
    return float(profile.rating_avg), profile.rating_count


def _post(client, url, data, page):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


# --------------------------------------------------------------------------- who


def test_members_cannot_reach_the_reviews_area_moderators_and_admins_can(
    acme, reviewed, tenant_client, in_tenant
):
    r = reviewed(acme)
    buyer = _web(tenant_client, acme, r.m.buyer_email)
    for url in ("/console/reviews", f"/console/reviews/{r.one_id}", "/console/reputation"):
        assert buyer.get(url).status_code == 403, url
    buyer_token = csrf_token(buyer, "/account")
    for url in (f"/console/reviews/{r.one_id}/hide", f"/console/reviews/reports/{r.report_id}/dismiss"):
        response = buyer.post(url, data={"csrf_token": buyer_token, "reason": "Spam", "confirm": "yes"})
        assert response.status_code == 403, url
    client, headers = _api(tenant_client, acme, r.m.buyer_email)
    for url in (
        "/api/v1/console/reviews",
        "/api/v1/console/reviews/queue",
        f"/api/v1/console/reviews/{r.one_id}",
    ):
        assert client.get(url, headers=headers).status_code == 403, url
    hide = client.post(f"/api/v1/console/reviews/{r.one_id}/hide", json={"reason": "Spam"}, headers=headers)
    assert hide.status_code == 403 and hide.is_json

    moderator = _web(tenant_client, acme, r.moderator_email)
    page = moderator.get("/console/reviews")
    assert page.status_code == 200
    nav = page.get_data(as_text=True).split('data-testid="console-nav"')[1].split("</nav>")[0]
    assert ">Reviews<" in nav and ">Reputation<" not in nav  # the settings are the admins'
    assert moderator.get(f"/console/reviews/{r.one_id}").status_code == 200
    assert moderator.get("/console/reputation").status_code == 403
    mod_client, mod_headers = _api(tenant_client, acme, r.moderator_email)
    assert mod_client.get("/api/v1/console/reviews/queue", headers=mod_headers).status_code == 200
    assert mod_client.get("/api/v1/console/reviews/settings", headers=mod_headers).status_code == 403
    assert ">Reputation<" in _admin_web(tenant_client, acme).get("/console/reviews").get_data(as_text=True)
    with in_tenant(acme):  # the members' attempts changed nothing
        assert review_state(r.one_id)["status"] == "published"
        assert audit_entries() == []


# --------------------------------------------------------------------------- the queue


def test_the_queue_shows_reported_reviews_with_reasons_reporters_details_and_held_words(
    acme, reviewed, tenant_client
):
    r = reviewed(acme, held=True)
    moderator = _web(tenant_client, acme, r.moderator_email)
    html = moderator.get("/console/reviews").get_data(as_text=True)
    queue = html.split('data-testid="review-queue"')[1].split("</section>")[0]
    assert 'data-testid="queue-total">2<' in queue
    reported = queue.split(f'data-testid="queue-item-{r.one_id}"')[1].split("</li>\n    \n")[0]
    assert "1 open report" in reported and "Spam or advertising" in reported
    assert "Sam Stranger" in reported and "Advertises another website." in reported
    assert SPAM in reported
    held = queue.split(f'data-testid="queue-item-{r.held_id}"')[1]
    assert f'data-testid="held-words-{r.held_id}"' in held and "<mark>scam</mark>" in held
    assert f'data-testid="queue-item-{r.five_id}"' not in queue  # neither reported nor held

    client, headers = _api(tenant_client, acme, r.moderator_email)
    response = client.get("/api/v1/console/reviews/queue", headers=headers)
    assert response.status_code == 200
    items = {item["id"]: item for item in response.json}
    assert set(items) == {r.one_id, r.held_id}
    one = items[r.one_id]
    assert one["open_report_count"] == 1 and one["status"] == "published" and one["rating"] == 1
    assert (
        one["reports"][0]["reason"] == "spam"
        and one["reports"][0]["details"] == "Advertises another website."
    )
    assert one["reports"][0]["reporter"]["display_name"] == "Sam Stranger"
    assert one["author"]["id"] == r.m.buyer_id and one["subject"]["id"] == r.m.seller_id
    assert one["gig"]["id"] == r.gig_id
    assert items[r.held_id]["held_words"] == ["scam"] and items[r.held_id]["status"] == "held"


# --------------------------------------------------------------------------- hide and restore


def test_a_moderator_hides_a_reported_review_after_confirming_it_leaves_the_averages_and_is_audited(
    acme, reviewed, tenant_client, in_tenant
):
    r = reviewed(acme)
    moderator = _web(tenant_client, acme, r.moderator_email)
    with in_tenant(acme):
        before = review_state(r.one_id)
        assert before["gig_rating"] == (3.0, 2) and _seller_rating(r.m.seller_id) == (3.0, 2)
    page = f"/console/reviews/{r.one_id}"
    html = moderator.get(page).get_data(as_text=True)
    assert 'data-confirm="It disappears from the gig page' in html  # the dialog asks first (JS)
    # Without confirm=yes (no JavaScript), the server asks: nothing happens yet.
    asked = _post(moderator, f"{page}/hide", {"reason": "Advertising another website."}, page)
    assert asked.status_code == 200 and 'data-testid="confirm-page"' in asked.get_data(as_text=True)
    with in_tenant(acme):
        assert review_state(r.one_id) == before and audit_entries() == []
    done = _post(
        moderator, f"{page}/hide", {"reason": "Advertising another website.", "confirm": "yes"}, page
    )
    assert done.status_code == 303 and done.headers["Location"].endswith(page)
    with in_tenant(acme):
        after = review_state(r.one_id)
        assert after["status"] == "hidden" and after["moderation_reason"] == "Advertising another website."
        assert after["moderated_by_id"] == r.moderator_id
        assert after["reports"] == [(r.report_id, "upheld")]
        assert after["gig_rating"] == (5.0, 1)  # the 1-star review left the gig's average
        assert _seller_rating(r.m.seller_id) == (5.0, 1)
        assert services.gig_reviews(r.gig_id).total == 1
        assert {"review_id": r.one_id} in _events("review.hidden")  # the author is told from this
        [entry] = audit_entries()
        assert (entry.action, entry.target_type, entry.target_id, entry.actor_id, entry.via) == (
            "review.hide",
            "review",
            str(r.one_id),
            r.moderator_id,
            "web",
        )
        assert entry.changes["status"] == ["published", "hidden"]
        assert entry.changes["open_reports"] == [1, 0]
        assert entry.changes["gig_rating"] == ["3.00 (2 reviews)", "5.00 (1 review)"]
        assert "Advertising another website." in entry.summary
    shown = moderator.get(page).get_data(as_text=True)
    assert 'data-testid="review-status">Hidden<' in shown and 'data-testid="restore-form"' in shown
    assert f"Hid review #{r.one_id} by Bob Buyer of Sally Seller" in shown  # the history
    queue = moderator.get("/console/reviews").get_data(as_text=True)
    assert 'data-testid="queue-total">0<' in queue


def test_a_hidden_review_is_found_in_the_list_and_restored_through_the_api(
    acme, reviewed, tenant_client, in_tenant
):
    r = reviewed(acme)
    client, headers = _api(tenant_client, acme, r.moderator_email)
    hidden = client.post(
        f"/api/v1/console/reviews/{r.one_id}/hide", json={"reason": "Advertising."}, headers=headers
    )
    assert hidden.status_code == 200 and hidden.json["status"] == "hidden"
    assert hidden.json["gig"]["rating_avg"] == 5.0 and hidden.json["gig"]["rating_count"] == 1
    found = client.get("/api/v1/console/reviews?status=hidden", headers=headers)
    assert [item["id"] for item in found.json] == [r.one_id]
    restored = client.post(
        f"/api/v1/console/reviews/{r.one_id}/restore",
        json={"reason": "The buyer explained the link."},
        headers=headers,
    )
    assert restored.status_code == 200 and restored.json["status"] == "published"
    assert (restored.json["gig"]["rating_avg"], restored.json["gig"]["rating_count"]) == (3.0, 2)
    assert [e["action"] for e in restored.json["audit"]] == ["review.restore", "review.hide"]
    with in_tenant(acme):
        state = review_state(r.one_id)
        assert state["status"] == "published" and state["gig_rating"] == (3.0, 2)
        assert state["moderation_reason"] == "The buyer explained the link."
        assert _seller_rating(r.m.seller_id) == (3.0, 2)
        hide, restore = audit_entries()
        assert (restore.action, restore.via, restore.actor_id) == ("review.restore", "api", r.moderator_id)
        assert restore.changes["status"] == ["hidden", "published"]
        assert restore.changes["gig_rating"] == ["5.00 (1 review)", "3.00 (2 reviews)"]
        assert {"review_id": r.one_id} in _events("review.restored")


def test_restore_on_the_web_needs_a_reason(acme, reviewed, tenant_client, in_tenant):
    r = reviewed(acme)
    with in_tenant(acme):
        services.hide_review(user(r.m.admin_id), r.one_id, "Spam")
        db.session.commit()
        before = review_state(r.one_id)
    admin = _admin_web(tenant_client, acme)
    page = f"/console/reviews/{r.one_id}"
    refused = _post(admin, f"{page}/restore", {"restore-reason": "   "}, page)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "The reason is required." in html and 'id="restore-reason-error"' in html
    with in_tenant(acme):
        assert review_state(r.one_id) == before and audit_entries() == []
    done = _post(admin, f"{page}/restore", {"restore-reason": "Checked again: genuine."}, page)
    assert done.status_code == 303
    with in_tenant(acme):
        assert review_state(r.one_id)["status"] == "published"
        assert [(e.action, e.actor_id) for e in audit_entries()] == [("review.restore", r.m.admin_id)]


# --------------------------------------------------------------------------- approve and dismiss


def test_a_held_review_is_approved_from_the_queue_and_counts_in_the_averages(
    acme, reviewed, tenant_client, in_tenant
):
    r = reviewed(acme, held=True)
    with in_tenant(acme):
        assert review_state(r.held_id)["gig_rating"] == (3.0, 2)
    moderator = _web(tenant_client, acme, r.moderator_email)
    done = _post(
        moderator,
        f"/console/reviews/{r.held_id}/approve",
        {"next": "queue"},
        "/console/reviews",
    )
    assert done.status_code == 303 and "/console/reviews#queue-heading" in done.headers["Location"]
    with in_tenant(acme):
        state = review_state(r.held_id)
        assert state["status"] == "published" and state["published_at"] is not None
        assert state["gig_rating"] == (3.33, 3)  # (5 + 1 + 4) / 3
        [entry] = audit_entries()
        assert (entry.action, entry.target_id, entry.via) == ("review.approve", str(r.held_id), "web")
        assert entry.changes["status"] == ["held", "published"] and entry.changes["held_words"] == ["scam"]
        assert {"review_id": r.held_id} in _events("review.published")
    # A second approval is a conflict, flashed on the page it came from; nothing more is written.
    page = f"/console/reviews/{r.held_id}"
    again = moderator.post(
        f"{page}/approve",
        data={"csrf_token": csrf_token(moderator, page)},
        headers={"Referer": f"http://acme.localhost{page}"},
    )
    assert again.status_code == 303 and again.headers["Location"].endswith(page)
    assert "only a held review can be approved" in moderator.get(page).get_data(as_text=True)
    with in_tenant(acme):
        assert len(audit_entries()) == 1


def test_dismissing_a_report_keeps_the_review_and_empties_the_queue(acme, reviewed, tenant_client, in_tenant):
    r = reviewed(acme)
    client, headers = _api(tenant_client, acme, r.moderator_email)
    response = client.post(f"/api/v1/console/reviews/reports/{r.report_id}/dismiss", headers=headers)
    assert response.status_code == 200
    assert (response.json["id"], response.json["status"], response.json["review_id"]) == (
        r.report_id,
        "dismissed",
        r.one_id,
    )
    assert client.get("/api/v1/console/reviews/queue", headers=headers).json == []
    again = client.post(f"/api/v1/console/reviews/reports/{r.report_id}/dismiss", headers=headers)
    assert again.status_code == 409 and again.json["errors"]["current_status"] == "dismissed"
    with in_tenant(acme):
        state = review_state(r.one_id)
        assert state["status"] == "published" and state["gig_rating"] == (3.0, 2)
        assert state["reports"] == [(r.report_id, "dismissed")]
        [entry] = audit_entries()
        assert (entry.action, entry.target_type, entry.target_id, entry.via) == (
            "review_report.dismiss",
            "review_report",
            str(r.report_id),
            "api",
        )
        assert entry.changes["status"] == ["open", "dismissed"] and entry.changes["review_id"] == r.one_id


def test_dismissing_on_the_web_shows_in_the_reviews_history(acme, reviewed, tenant_client, in_tenant):
    r = reviewed(acme)
    moderator = _web(tenant_client, acme, r.moderator_email)
    page = f"/console/reviews/{r.one_id}"
    done = _post(moderator, f"/console/reviews/reports/{r.report_id}/dismiss", {}, page)
    assert done.status_code == 303 and done.headers["Location"].endswith(page)
    html = moderator.get(page).get_data(as_text=True)
    assert f'data-testid="report-status-{r.report_id}">Dismissed<' in html
    assert "Dismissed the report “Spam or advertising” by Sam Stranger" in html


# --------------------------------------------------------------------------- bad input


def test_hiding_without_a_reason_or_with_markup_is_refused_and_changes_nothing(
    acme, reviewed, tenant_client, in_tenant
):
    r = reviewed(acme)
    with in_tenant(acme):
        before = review_state(r.one_id)
    moderator = _web(tenant_client, acme, r.moderator_email)
    page = f"/console/reviews/{r.one_id}"
    refused = _post(moderator, f"{page}/hide", {"reason": "", "confirm": "yes"}, page)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="reason-error"' in html and "The reason is required." in html
    client, headers = _api(tenant_client, acme, r.moderator_email)
    for body, field in (({"reason": ""}, "reason"), ({"reason": "<b>spam</b>"}, "reason"), ({}, "reason")):
        response = client.post(f"/api/v1/console/reviews/{r.one_id}/hide", json=body, headers=headers)
        assert response.status_code == 422, body
        assert field in response.json["errors"]["json"], response.json
    long = client.post(
        f"/api/v1/console/reviews/{r.one_id}/hide", json={"reason": "x" * 501}, headers=headers
    )
    assert long.status_code == 422 and "reason" in long.json["errors"]["json"]
    with in_tenant(acme):
        assert review_state(r.one_id) == before
        assert audit_entries() == [] and _events("review.hidden") == []


def test_decisions_the_reviews_state_does_not_allow_are_conflicts(acme, reviewed, tenant_client, in_tenant):
    r = reviewed(acme)
    client, headers = _api(tenant_client, acme, r.moderator_email)
    restore = client.post(
        f"/api/v1/console/reviews/{r.five_id}/restore", json={"reason": "Why not"}, headers=headers
    )
    assert restore.status_code == 409 and restore.json["errors"]["current_status"] == "published"
    approve = client.post(f"/api/v1/console/reviews/{r.five_id}/approve", headers=headers)
    assert approve.status_code == 409 and approve.json["errors"]["current_status"] == "published"
    unknown = client.post("/api/v1/console/reviews/999999/hide", json={"reason": "Spam"}, headers=headers)
    assert unknown.status_code == 404
    assert client.post("/api/v1/console/reviews/reports/999999/dismiss", headers=headers).status_code == 404
    moderator = _web(tenant_client, acme, r.moderator_email)
    assert moderator.get("/console/reviews/999999").status_code == 404
    with in_tenant(acme):
        assert review_state(r.five_id)["status"] == "published" and audit_entries() == []


def test_a_submitted_review_cannot_be_hidden_before_it_publishes(
    acme, completed, make_user, tenant_client, in_tenant
):
    m, order_id = completed(acme)
    make_user(acme, email="mod@acme.test", role="moderator")
    with in_tenant(acme):
        waiting = services.submit_review(user(m.buyer_id), order_id, GOOD)
        db.session.commit()
        waiting_id = waiting.id
    client, headers = _api(tenant_client, acme, "mod@acme.test")
    response = client.post(
        f"/api/v1/console/reviews/{waiting_id}/hide", json={"reason": "Spam"}, headers=headers
    )
    assert response.status_code == 409 and response.json["errors"]["current_status"] == "submitted"
    page = _web(tenant_client, acme, "mod@acme.test").get(f"/console/reviews/{waiting_id}")
    assert 'data-testid="no-decision"' in page.get_data(as_text=True)
    with in_tenant(acme):
        assert db.session.get(Review, waiting_id).status == "submitted"


# --------------------------------------------------------------------------- the list


def test_every_review_can_be_filtered_by_status_and_searched_by_gig_or_person(
    acme, reviewed, tenant_client, in_tenant
):
    r = reviewed(acme, held=True)
    with in_tenant(acme):
        services.hide_review(user(r.m.admin_id), r.one_id, "Spam")
        waiting = services.submit_review(user(r.m.buyer_id), drive(r.m, "completed"), GOOD)
        db.session.commit()
        waiting_id = waiting.id
    client, headers = _api(tenant_client, acme, r.moderator_email)

    def ids(**query):
        response = client.get("/api/v1/console/reviews", query_string=query, headers=headers)
        assert response.status_code == 200, response.json
        return sorted(item["id"] for item in response.json)

    everything = ids()
    assert len(everything) == 7  # three orders reviewed by both sides, one by the buyer so far
    assert ids(status="hidden") == [r.one_id]
    assert ids(status="held") == [r.held_id]
    assert ids(status="submitted") == [waiting_id]
    assert r.five_id in ids(status="published") and r.one_id not in ids(status="published")
    assert ids(q="cheaplogos") == [r.one_id]  # words of the review
    assert ids(q="Bob Buyer") == everything  # a person: the author or the one reviewed
    assert ids(q="Sam Stranger") == [] and ids(user_id=r.m.stranger_id) == []
    assert r.one_id in ids(q=str(r.one_id))  # an id
    gig_title = client.get(f"/api/v1/console/reviews/{r.one_id}", headers=headers).json["gig"]["title"]
    assert ids(q=gig_title[:12]) == everything
    assert ids(gig_id=r.gig_id, status="hidden") == [r.one_id]

    moderator = _web(tenant_client, acme, r.moderator_email)
    html = moderator.get("/console/reviews?status=hidden").get_data(as_text=True)
    assert (
        f'data-testid="reviews-row-{r.one_id}"' in html
        and f'data-testid="reviews-row-{r.five_id}"' not in html
    )
    assert 'data-testid="review-total">1 review<' in html


def test_bad_filters_are_refused_with_field_errors(acme, reviewed, tenant_client):
    r = reviewed(acme)
    client, headers = _api(tenant_client, acme, r.moderator_email)
    for query, field in (("status=gone", "status"), ("gig_id=abc", "gig_id"), ("q=" + "x" * 101, "q")):
        response = client.get(f"/api/v1/console/reviews?{query}", headers=headers)
        assert response.status_code == 422, query
        assert field in response.json["errors"]["query"], response.json
    moderator = _web(tenant_client, acme, r.moderator_email)
    page = moderator.get("/console/reviews?status=gone")
    assert page.status_code == 422 and "Unknown status" in page.get_data(as_text=True)


# --------------------------------------------------------------------------- tenants


def test_acmes_review_is_unknown_and_untouched_on_globex(
    acme, globex, reviewed, market, tenant_client, in_tenant
):
    r = reviewed(acme)
    market(globex)  # a globex market without reviews: acme's ids name nothing there
    with in_tenant(acme):
        before = review_state(r.one_id)
    admin = _admin_web(tenant_client, globex)
    assert admin.get(f"/console/reviews/{r.one_id}").status_code == 404
    token_page = "/console/reviews"
    for url, data in (
        (f"/console/reviews/{r.one_id}/hide", {"reason": "Spam", "confirm": "yes"}),
        (f"/console/reviews/{r.one_id}/hide", {"reason": "Spam"}),  # even the confirmation step
        (f"/console/reviews/{r.one_id}/approve", {}),
        (f"/console/reviews/reports/{r.report_id}/dismiss", {}),
    ):
        assert _post(admin, url, data, token_page).status_code == 404, url
    client, headers = _api(tenant_client, globex, f"admin@{globex.slug}.test", ADMIN_PASSWORD)
    assert client.get(f"/api/v1/console/reviews/{r.one_id}", headers=headers).status_code == 404
    for url, body in (
        (f"/api/v1/console/reviews/{r.one_id}/hide", {"reason": "Spam"}),
        (f"/api/v1/console/reviews/{r.one_id}/restore", {"reason": "Spam"}),
        (f"/api/v1/console/reviews/{r.one_id}/approve", None),
        (f"/api/v1/console/reviews/reports/{r.report_id}/dismiss", None),
    ):
        response = client.post(url, json=body, headers=headers) if body else client.post(url, headers=headers)
        assert response.status_code == 404, url
    assert client.get("/api/v1/console/reviews", headers=headers).json == []
    assert client.get("/api/v1/console/reviews/queue", headers=headers).json == []
    with in_tenant(acme):
        assert review_state(r.one_id) == before and audit_entries() == []
    with in_tenant(globex):
        assert audit_entries() == []


def test_equal_ids_on_globex_move_only_globexs_own_review(acme, globex, reviewed, tenant_client, in_tenant):
    a = reviewed(acme)
    g = reviewed(globex)
    assert (a.one_id, a.report_id) == (g.one_id, g.report_id)  # equal ids, separate schemas
    client, headers = _api(tenant_client, globex, g.moderator_email)
    response = client.post(
        f"/api/v1/console/reviews/{g.one_id}/hide", json={"reason": "Spam"}, headers=headers
    )
    assert response.status_code == 200
    with in_tenant(globex):
        assert review_state(g.one_id)["status"] == "hidden" and len(audit_entries()) == 1
    with in_tenant(acme):
        state = review_state(a.one_id)
        assert state["status"] == "published" and state["gig_rating"] == (3.0, 2)
        assert state["reports"] == [(a.report_id, "open")] and audit_entries() == []
