"""The reviews API over HTTP: the rules of issue #14 through each endpoint, refusals with field
errors and nothing stored, double-blind visibility, public reads, and tenants that never meet."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.orders.models import Order
from app.reviews import services
from app.reviews.models import Review, ReviewReport, ReviewVote, ReviewWindow
from tenants.db import db
from tests.gigs.conftest import api_token  # noqa: F401  (fixture)
from tests.reviews.conftest import BACK, GOOD, drive, user


def _reviews(in_tenant, tenant) -> list[tuple]:
    """Every review row of the tenant: (order_id, direction, status, rating, text, reply_text)."""
    with in_tenant(tenant):
        return db.session.execute(
            sa.select(
                Review.order_id,
                Review.direction,
                Review.status,
                Review.rating,
                Review.text,
                Review.reply_text,
            ).order_by(Review.id)
        ).all()


def _age(in_tenant, tenant, order_id, days):
    """Move an order's completion (and its review window, if open already) ``days`` back: the
    HTTP requests run on the real clock, so the past comes to them."""
    with in_tenant(tenant):
        back = timedelta(days=days)
        order = db.session.get(Order, order_id)
        order.completed_at -= back
        window = db.session.get(ReviewWindow, order_id)
        if window is not None:
            window.opens_at -= back
            window.closes_at -= back
        db.session.commit()


def _field_error(response, field, location="json"):
    assert response.status_code == 422, response.json
    body = response.json
    assert set(body) >= {"code", "status", "message", "errors"}, body
    messages = body["errors"][location][field]
    assert isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages), body
    return messages


@pytest.fixture
def parties(completed, api_token, tenant_client):  # noqa: F811  (the imported fixture)
    """``parties(tenant)`` -> (market, order_id, clients) for a completed order; ``clients`` has
    ``buyer``, ``seller``, ``stranger`` as (client, headers) and ``anon`` (a client, no token)."""

    def make(tenant, m=None):
        m, order_id = completed(tenant, m)
        clients = {
            "buyer": api_token(tenant, m.buyer_email),
            "seller": api_token(tenant, m.seller_email),
            "stranger": api_token(tenant, m.stranger_email),
            "anon": tenant_client(tenant.slug),
        }
        return m, order_id, clients

    return make


def _published_pair(parties, tenant):
    m, oid, c = parties(tenant)
    (buyer, bh), (seller, sh) = c["buyer"], c["seller"]
    mine = buyer.post(f"/api/v1/orders/{oid}/reviews", json=GOOD, headers=bh)
    theirs = seller.post(f"/api/v1/orders/{oid}/reviews", json=BACK, headers=sh)
    assert mine.status_code == 201 and theirs.status_code == 201, (mine.json, theirs.json)
    return m, oid, c, mine.json["id"], theirs.json["id"]


# --------------------------------------------------------------------------- the whole flow


def test_both_sides_review_double_blind_then_both_publish(acme, parties, in_tenant):
    m, oid, c = parties(acme)
    (buyer, bh), (seller, sh), (stranger, xh), anon = c["buyer"], c["seller"], c["stranger"], c["anon"]

    state = buyer.get(f"/api/v1/orders/{oid}/reviews", headers=bh)
    assert state.status_code == 200, state.json
    assert state.json["mine"] is None and state.json["theirs"] is None
    assert state.json["can_write"] is True and state.json["can_edit"] is False
    assert state.json["direction"] == "of_seller"
    window = state.json["window"]
    assert window["status"] == "open" and window["opens_at"] < window["closes_at"]

    r = buyer.post(f"/api/v1/orders/{oid}/reviews", json=GOOD, headers=bh)
    assert r.status_code == 201, r.json
    mine = r.json
    assert mine["status"] == "submitted" and mine["published_at"] is None
    assert (mine["rating"], mine["communication"], mine["as_described"], mine["would_recommend"]) == (
        5,
        5,
        4,
        5,
    )
    assert mine["author"]["id"] == m.buyer_id and mine["subject"]["id"] == m.seller_id
    assert mine["author"]["display_name"] == "Bob Buyer" and mine["reply"] is None

    # double-blind: the seller, strangers and the public cannot read it yet; its author can
    seller_state = seller.get(f"/api/v1/orders/{oid}/reviews", headers=sh).json
    assert seller_state["theirs"] is None and seller_state["mine"] is None and seller_state["can_write"]
    assert seller.get(f"/api/v1/reviews/{mine['id']}", headers=sh).status_code == 404
    assert stranger.get(f"/api/v1/reviews/{mine['id']}", headers=xh).status_code == 404
    assert anon.get(f"/api/v1/reviews/{mine['id']}").status_code == 404
    assert buyer.get(f"/api/v1/reviews/{mine['id']}", headers=bh).json["status"] == "submitted"
    assert anon.get(f"/api/v1/gigs/{m.gig_id}/reviews").json == []
    assert anon.get(f"/api/v1/users/{m.seller_id}/reviews").json == []
    # nor reply to, vote on or report what it cannot see
    assert (
        seller.post(f"/api/v1/reviews/{mine['id']}/reply", json={"text": "Thanks"}, headers=sh).status_code
        == 404
    )
    assert stranger.put(f"/api/v1/reviews/{mine['id']}/helpful", headers=xh).status_code == 404
    r = stranger.post(f"/api/v1/reviews/{mine['id']}/reports", json={"reason": "spam"}, headers=xh)
    assert r.status_code == 404

    # the author edits before publication: the fields sent change, the others stay
    r = buyer.patch(f"/api/v1/reviews/{mine['id']}", json={"rating": 4}, headers=bh)
    assert r.status_code == 200, r.json
    assert r.json["rating"] == 4 and r.json["text"] == GOOD["text"] and r.json["communication"] == 5
    state = buyer.get(f"/api/v1/orders/{oid}/reviews", headers=bh).json
    assert state["mine"]["rating"] == 4 and state["can_edit"] is True and state["can_write"] is False
    # nobody else edits it
    assert seller.patch(f"/api/v1/reviews/{mine['id']}", json={"rating": 1}, headers=sh).status_code == 404

    # the second review publishes both at once
    r = seller.post(f"/api/v1/orders/{oid}/reviews", json={**BACK, "communication": 1}, headers=sh)
    assert r.status_code == 201, r.json
    back = r.json
    assert back["status"] == "published" and back["communication"] is None  # the seller gives no sub-ratings
    buyer_state = buyer.get(f"/api/v1/orders/{oid}/reviews", headers=bh).json
    assert buyer_state["theirs"]["id"] == back["id"] and buyer_state["mine"]["status"] == "published"
    assert buyer_state["can_write"] is False and buyer_state["can_edit"] is False
    assert buyer_state["window"]["status"] == "published"
    assert seller.get(f"/api/v1/orders/{oid}/reviews", headers=sh).json["theirs"]["id"] == mine["id"]
    published = anon.get(f"/api/v1/reviews/{mine['id']}")
    assert published.status_code == 200 and published.json["published_at"]

    # published: no more edits
    r = buyer.patch(f"/api/v1/reviews/{mine['id']}", json={"rating": 5}, headers=bh)
    assert r.status_code == 409 and r.json["errors"]["current_status"] == "published"
    assert [row[3] for row in _reviews(in_tenant, acme)] == [4, 4]


def test_public_reads_of_gig_and_member_reviews_summaries_and_reputation(acme, parties):
    m, oid, c, of_seller, of_buyer = _published_pair(parties, acme)
    anon = c["anon"]

    r = anon.get(f"/api/v1/gigs/{m.gig_id}/reviews")
    assert r.status_code == 200, r.json
    assert [x["id"] for x in r.json] == [of_seller]
    assert json.loads(r.headers["X-Pagination"])["total"] == 1
    summary = anon.get(f"/api/v1/gigs/{m.gig_id}/reviews/summary").json
    assert summary["average"] == 5.0 and summary["count"] == 1
    assert summary["histogram"] == [{"stars": s, "count": int(s == 5)} for s in (5, 4, 3, 2, 1)]
    assert summary["sub_ratings"] == {"communication": 5.0, "as_described": 4.0, "would_recommend": 5.0}

    assert [x["id"] for x in anon.get(f"/api/v1/users/{m.seller_id}/reviews?as=seller").json] == [of_seller]
    assert [x["id"] for x in anon.get(f"/api/v1/users/{m.buyer_id}/reviews?as=buyer").json] == [of_buyer]
    assert anon.get(f"/api/v1/users/{m.buyer_id}/reviews?as=seller").json == []
    buyer_summary = anon.get(f"/api/v1/users/{m.buyer_id}/reviews/summary?as=buyer").json
    assert (buyer_summary["average"], buyer_summary["count"], buyer_summary["sub_ratings"]) == (4.0, 1, None)
    none_yet = anon.get(f"/api/v1/users/{m.stranger_id}/reviews/summary").json
    assert none_yet["average"] is None and none_yet["count"] == 0

    rep = anon.get(f"/api/v1/users/{m.seller_id}/reputation")
    assert rep.status_code == 200, rep.json
    figures = rep.json
    assert (
        figures["user_id"] == m.seller_id
        and figures["level"] == "new"
        and figures["level_label"] == "New seller"
    )
    assert figures["rating_avg"] == 5.0 and figures["rating_count"] == 1 and figures["orders_completed"] == 1
    assert figures["completion_rate"] == 100.0 and isinstance(figures["on_time_rate"], float)
    assert "earnings_minor" not in figures  # a seller's income is not public
    # a member who is not a seller has no reputation; an unknown member is a 404
    assert anon.get(f"/api/v1/users/{m.buyer_id}/reputation").status_code == 404
    assert anon.get("/api/v1/users/424242/reputation").status_code == 404
    assert anon.get("/api/v1/users/424242/reviews").status_code == 404
    assert anon.get("/api/v1/gigs/424242/reviews").status_code == 404
    # a bad token on a public read is refused, not ignored
    r = anon.get(f"/api/v1/gigs/{m.gig_id}/reviews", headers={"Authorization": "Bearer gfa_nope"})
    assert r.status_code == 401


def test_gig_reviews_page_and_sort(acme, parties, in_tenant):
    m, first, c = parties(acme)
    buyer, bh = c["buyer"]
    seller, sh = c["seller"]
    with in_tenant(acme):
        orders = [first, drive(m, "completed"), drive(m, "completed")]
    for oid, rating in zip(orders, (3, 5, 1), strict=True):
        assert (
            buyer.post(
                f"/api/v1/orders/{oid}/reviews", json={**GOOD, "rating": rating}, headers=bh
            ).status_code
            == 201
        )
        assert seller.post(f"/api/v1/orders/{oid}/reviews", json=BACK, headers=sh).status_code == 201
    anon = c["anon"]

    def ratings(sort):
        return [x["rating"] for x in anon.get(f"/api/v1/gigs/{m.gig_id}/reviews?sort={sort}").json]

    assert ratings("highest") == [5, 3, 1] and ratings("lowest") == [1, 3, 5]
    assert ratings("newest") == [1, 5, 3]
    page = anon.get(f"/api/v1/gigs/{m.gig_id}/reviews?sort=highest&page=2&page_size=2")
    assert [x["rating"] for x in page.json] == [1]
    meta = json.loads(page.headers["X-Pagination"])
    assert (meta["total"], meta["total_pages"], meta["page"]) == (3, 2, 2)
    # a helpful vote moves a review up under sort=helpful
    stranger, xh = c["stranger"]
    lowest = anon.get(f"/api/v1/gigs/{m.gig_id}/reviews?sort=lowest").json[0]["id"]
    assert stranger.put(f"/api/v1/reviews/{lowest}/helpful", headers=xh).json["helpful_count"] == 1
    assert anon.get(f"/api/v1/gigs/{m.gig_id}/reviews?sort=helpful").json[0]["id"] == lowest
    summary = anon.get(f"/api/v1/gigs/{m.gig_id}/reviews/summary").json
    assert summary["average"] == 3.0 and summary["count"] == 3
    assert [b["count"] for b in summary["histogram"]] == [1, 0, 1, 0, 1]
    # bad query parameters: 422 naming the parameter, in the query
    _field_error(anon.get(f"/api/v1/gigs/{m.gig_id}/reviews?sort=best"), "sort", "query")
    _field_error(anon.get(f"/api/v1/gigs/{m.gig_id}/reviews?page=0"), "page", "query")
    _field_error(anon.get(f"/api/v1/gigs/{m.gig_id}/reviews?page_size=51"), "page_size", "query")
    _field_error(anon.get(f"/api/v1/users/{m.seller_id}/reviews?as=owner"), "as", "query")


# --------------------------------------------------------------------------- bad input

SERVICE = "service"  # refused by app.reviews.services (the schema lets it through)
EDGE = "edge"  # refused by the schema


@pytest.mark.parametrize(
    ("change", "field", "where"),
    [
        ({"rating": 0}, "rating", EDGE),
        ({"rating": 6}, "rating", EDGE),
        ({"rating": -1}, "rating", EDGE),
        ({"rating": "5"}, "rating", EDGE),
        ({"rating": "five"}, "rating", EDGE),
        ({"rating": 4.5}, "rating", EDGE),
        ({"rating": True}, "rating", EDGE),
        ({"rating": None}, "rating", EDGE),
        ({"rating": ...}, "rating", EDGE),
        ({"communication": 9}, "communication", EDGE),
        ({"as_described": ...}, "as_described", SERVICE),
        ({"would_recommend": None}, "would_recommend", SERVICE),
        ({"text": ""}, "text", SERVICE),
        ({"text": "   \n  "}, "text", SERVICE),
        ({"text": ...}, "text", EDGE),
        ({"text": 42}, "text", EDGE),
        ({"text": "x" * 2001}, "text", SERVICE),
        ({"text": "<script>alert(1)</script>Great"}, "text", SERVICE),
        ({"text": 'Nice <img src=x onerror="alert(1)">'}, "text", SERVICE),
        ({"text": "Good\x00work"}, "text", EDGE),
        ({"stars": 5}, "stars", EDGE),
    ],
)
def test_bad_reviews_are_refused_with_field_errors_and_nothing_stored(
    acme, parties, in_tenant, change, field, where
):
    m, oid, c = parties(acme)
    buyer, bh = c["buyer"]
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not ...}
    r = buyer.post(f"/api/v1/orders/{oid}/reviews", json=body, headers=bh)
    messages = _field_error(r, field)
    # Whoever refused (the schema at the edge or the services), the answer has one shape; the
    # message tells them apart here, so each case proves which layer holds the rule.
    if where == SERVICE:
        assert r.json["message"] == "Please correct the review.", r.json
    else:
        assert r.json["message"] != "Please correct the review.", r.json
    assert all(m.strip() for m in messages)
    assert _reviews(in_tenant, acme) == []
    assert buyer.get(f"/api/v1/orders/{oid}/reviews", headers=bh).json["mine"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [({"rating": 9}, "rating"), ({"rating": None}, "rating"), ({"communication": 0}, "communication")],
)
def test_the_edge_words_a_refusal_as_the_services_do(acme, parties, in_tenant, change, field):
    m, oid, c = parties(acme)
    buyer, bh = c["buyer"]
    edge = _field_error(
        buyer.post(f"/api/v1/orders/{oid}/reviews", json={**GOOD, **change}, headers=bh), field
    )
    with in_tenant(acme), pytest.raises(services.ReviewError) as refused:
        services.submit_review(user(m.buyer_id), oid, {**GOOD, **change})
    assert edge == [refused.value.errors[field]]
    assert _reviews(in_tenant, acme) == []


def test_bad_edits_are_refused_and_the_review_is_unchanged(acme, parties, in_tenant):
    m, oid, c = parties(acme)
    buyer, bh = c["buyer"]
    review_id = buyer.post(f"/api/v1/orders/{oid}/reviews", json=GOOD, headers=bh).json["id"]
    before = _reviews(in_tenant, acme)
    for body, field in (
        ({"rating": 0}, "rating"),
        ({"rating": None}, "rating"),
        ({"text": ""}, "text"),
        ({"text": "<b>bold</b>"}, "text"),
        ({"communication": "x"}, "communication"),
        ({"status": "published"}, "status"),
    ):
        _field_error(buyer.patch(f"/api/v1/reviews/{review_id}", json=body, headers=bh), field)
    assert _reviews(in_tenant, acme) == before


def test_no_review_before_completion_or_after_the_window_or_twice(acme, parties, in_tenant, market):
    m, oid, c = parties(acme)
    buyer, bh = c["buyer"]
    seller, sh = c["seller"]
    with in_tenant(acme):
        in_progress = drive(m, "in_progress")
    r = buyer.post(f"/api/v1/orders/{in_progress}/reviews", json=GOOD, headers=bh)
    assert r.status_code == 409, r.json
    assert r.json["errors"]["code"] == "order_not_completed"
    assert r.json["errors"]["current_status"] == "in_progress"
    state = buyer.get(f"/api/v1/orders/{in_progress}/reviews", headers=bh).json
    assert state["window"] is None and state["can_write"] is False

    # a stranger is no party: the order does not exist for them
    stranger, xh = c["stranger"]
    assert stranger.post(f"/api/v1/orders/{oid}/reviews", json=GOOD, headers=xh).status_code == 404
    assert stranger.get(f"/api/v1/orders/{oid}/reviews", headers=xh).status_code == 404

    assert buyer.post(f"/api/v1/orders/{oid}/reviews", json=GOOD, headers=bh).status_code == 201
    r = buyer.post(f"/api/v1/orders/{oid}/reviews", json={**GOOD, "rating": 1}, headers=bh)
    assert r.status_code == 409 and r.json["errors"]["code"] == "already_reviewed"
    assert r.json["errors"]["current_status"] == "submitted"

    # the window (14 days) closes: the seller can no longer write, the buyer no longer edit
    _age(in_tenant, acme, oid, 15)
    r = seller.post(f"/api/v1/orders/{oid}/reviews", json=BACK, headers=sh)
    assert r.status_code == 409 and r.json["errors"]["code"] == "window_closed"
    mine = buyer.get(f"/api/v1/orders/{oid}/reviews", headers=bh).json
    assert mine["can_edit"] is False and mine["can_write"] is False
    r = buyer.patch(f"/api/v1/reviews/{mine['mine']['id']}", json={"rating": 1}, headers=bh)
    assert r.status_code == 409 and r.json["errors"]["code"] == "window_closed"
    assert [(row[1], row[2], row[3]) for row in _reviews(in_tenant, acme)] == [("of_seller", "submitted", 5)]

    # the sweep publishes what was written: now the seller reads it
    assert seller.get(f"/api/v1/orders/{oid}/reviews", headers=sh).json["theirs"] is None
    with in_tenant(acme):
        services.publish_window(oid)
        db.session.commit()
    assert seller.get(f"/api/v1/orders/{oid}/reviews", headers=sh).json["theirs"]["id"] == mine["mine"]["id"]


def test_a_window_never_opened_is_closed_after_its_days_too(acme, parties, in_tenant):
    m, oid, c = parties(acme)
    _age(in_tenant, acme, oid, 14)  # completed exactly 14 days ago: the window has just closed
    seller, sh = c["seller"]
    r = seller.post(f"/api/v1/orders/{oid}/reviews", json=BACK, headers=sh)
    assert r.status_code == 409 and r.json["errors"]["code"] == "window_closed"
    assert _reviews(in_tenant, acme) == []


def test_writes_need_a_token(acme, parties):
    m, oid, c, of_seller, _ = _published_pair(parties, acme)
    anon = c["anon"]
    for method, path, body in (
        ("get", f"/api/v1/orders/{oid}/reviews", None),
        ("post", f"/api/v1/orders/{oid}/reviews", GOOD),
        ("patch", f"/api/v1/reviews/{of_seller}", {"rating": 1}),
        ("post", f"/api/v1/reviews/{of_seller}/reply", {"text": "Thanks"}),
        ("put", f"/api/v1/reviews/{of_seller}/helpful", None),
        ("delete", f"/api/v1/reviews/{of_seller}/helpful", None),
        ("post", f"/api/v1/reviews/{of_seller}/reports", {"reason": "spam"}),
    ):
        r = getattr(anon, method)(path, json=body)
        assert r.status_code == 401, (method, path, r.json)


# --------------------------------------------------------------------------- replies, votes, reports


def test_the_reviewed_side_replies_once(acme, parties, in_tenant):
    m, oid, c, of_seller, of_buyer = _published_pair(parties, acme)
    (buyer, bh), (seller, sh), (stranger, xh) = c["buyer"], c["seller"], c["stranger"]
    # someone else: the author, a stranger
    for client, headers in ((buyer, bh), (stranger, xh)):
        r = client.post(f"/api/v1/reviews/{of_seller}/reply", json={"text": "Me too"}, headers=headers)
        assert r.status_code == 403 and r.json["message"] == "Only the person reviewed can reply to a review."
    for body, field in (
        ({"text": ""}, "text"),
        ({"text": "<script>x</script>"}, "text"),
        ({"text": "y" * 1001}, "text"),
        ({}, "text"),
        ({"text": None}, "text"),
    ):
        _field_error(seller.post(f"/api/v1/reviews/{of_seller}/reply", json=body, headers=sh), field)
    assert [row[5] for row in _reviews(in_tenant, acme)] == [None, None]

    r = seller.post(f"/api/v1/reviews/{of_seller}/reply", json={"text": "Thank you!"}, headers=sh)
    assert r.status_code == 201, r.json
    assert r.json["reply"]["text"] == "Thank you!" and r.json["reply"]["created_at"]
    r = seller.post(f"/api/v1/reviews/{of_seller}/reply", json={"text": "Again"}, headers=sh)
    assert r.status_code == 409 and r.json["errors"]["code"] == "already_replied"
    # the buyer answers the review of them
    assert (
        buyer.post(f"/api/v1/reviews/{of_buyer}/reply", json={"text": "Cheers"}, headers=bh).status_code
        == 201
    )
    assert [row[5] for row in _reviews(in_tenant, acme)] == ["Thank you!", "Cheers"]
    assert c["anon"].get(f"/api/v1/reviews/{of_seller}").json["reply"]["text"] == "Thank you!"


def test_helpful_votes_once_per_member_never_on_your_own(acme, parties, in_tenant):
    m, oid, c, of_seller, _ = _published_pair(parties, acme)
    (buyer, bh), (seller, sh), (stranger, xh) = c["buyer"], c["seller"], c["stranger"]
    assert stranger.put(f"/api/v1/reviews/{of_seller}/helpful", headers=xh).json["helpful_count"] == 1
    assert stranger.put(f"/api/v1/reviews/{of_seller}/helpful", headers=xh).json["helpful_count"] == 1
    assert seller.put(f"/api/v1/reviews/{of_seller}/helpful", headers=sh).json["helpful_count"] == 2
    r = buyer.put(f"/api/v1/reviews/{of_seller}/helpful", headers=bh)
    assert r.status_code == 403 and r.json["message"] == "You cannot vote on your own review."
    assert stranger.delete(f"/api/v1/reviews/{of_seller}/helpful", headers=xh).json["helpful_count"] == 1
    assert stranger.delete(f"/api/v1/reviews/{of_seller}/helpful", headers=xh).json["helpful_count"] == 1
    with in_tenant(acme):
        assert db.session.scalars(sa.select(ReviewVote.user_id)).all() == [m.seller_id]


def test_reports_once_per_member_never_your_own(acme, parties, in_tenant):
    m, oid, c, of_seller, _ = _published_pair(parties, acme)
    (buyer, bh), (stranger, xh) = c["buyer"], c["stranger"]
    r = buyer.post(f"/api/v1/reviews/{of_seller}/reports", json={"reason": "spam"}, headers=bh)
    assert r.status_code == 403 and r.json["message"] == "You cannot report your own review."
    for body, field in (
        ({"reason": "boring"}, "reason"),
        ({}, "reason"),
        ({"reason": 3}, "reason"),
        ({"reason": "spam", "details": "<a href=x>here</a>"}, "details"),
        ({"reason": "spam", "details": "d" * 1001}, "details"),
    ):
        _field_error(stranger.post(f"/api/v1/reviews/{of_seller}/reports", json=body, headers=xh), field)
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReviewReport)) == 0

    r = stranger.post(
        f"/api/v1/reviews/{of_seller}/reports", json={"reason": "off_topic", "details": None}, headers=xh
    )
    assert r.status_code == 201, r.json
    assert r.json["reason"] == "off_topic" and r.json["status"] == "open" and r.json["review_id"] == of_seller
    r = stranger.post(f"/api/v1/reviews/{of_seller}/reports", json={"reason": "spam"}, headers=xh)
    assert r.status_code == 409 and r.json["errors"]["code"] == "already_reported"
    with in_tenant(acme):
        assert db.session.scalars(sa.select(ReviewReport.reason)).all() == ["off_topic"]
        assert db.session.get(Review, of_seller).report_count == 1


def test_a_hidden_review_leaves_the_public_reads(acme, parties, in_tenant):
    m, oid, c, of_seller, _ = _published_pair(parties, acme)
    with in_tenant(acme):
        services.hide_review(user(m.admin_id), of_seller, "Off topic")
        db.session.commit()
    anon = c["anon"]
    assert anon.get(f"/api/v1/reviews/{of_seller}").status_code == 404
    assert anon.get(f"/api/v1/gigs/{m.gig_id}/reviews").json == []
    assert anon.get(f"/api/v1/gigs/{m.gig_id}/reviews/summary").json["count"] == 0
    assert anon.get(f"/api/v1/users/{m.seller_id}/reputation").json["rating_avg"] is None
    # its author still reads it, hidden
    buyer, bh = c["buyer"]
    assert buyer.get(f"/api/v1/reviews/{of_seller}", headers=bh).json["status"] == "hidden"


def test_ids_in_paths_are_bounded(acme, parties):
    m, oid, c = parties(acme)
    buyer, bh = c["buyer"]
    for path in (
        "/api/v1/reviews/0",
        "/api/v1/reviews/9223372036854775808",
        "/api/v1/orders/9223372036854775808/reviews",
        "/api/v1/gigs/2147483648/reviews",
        "/api/v1/users/2147483648/reputation",
        "/api/v1/users/-1/reviews",
    ):
        assert buyer.get(path, headers=bh).status_code == 404, path
    r = buyer.post("/api/v1/reviews/9223372036854775807/reply", json={"text": "x"}, headers=bh)
    assert r.status_code == 404


# --------------------------------------------------------------------------- tenants


def test_reviews_reports_and_reputation_of_one_tenant_are_invisible_and_untouchable_from_another(
    acme, globex, parties, in_tenant
):
    m, oid, c, of_seller, of_buyer = _published_pair(parties, acme)
    g, g_oid, gc = parties(globex)
    # equal ids on both sides: globex has the same order, gig and people ids, and no review
    assert (g_oid, g.gig_id, g.seller_id, g.buyer_id) == (oid, m.gig_id, m.seller_id, m.buyer_id)
    (gbuyer, gbh), (gseller, gsh), (gstranger, gxh), ganon = (
        gc["buyer"],
        gc["seller"],
        gc["stranger"],
        gc["anon"],
    )
    before = _reviews(in_tenant, acme)

    assert ganon.get(f"/api/v1/reviews/{of_seller}").status_code == 404
    assert gstranger.get(f"/api/v1/reviews/{of_seller}", headers=gxh).status_code == 404
    assert ganon.get(f"/api/v1/gigs/{g.gig_id}/reviews").json == []
    assert ganon.get(f"/api/v1/users/{g.seller_id}/reviews").json == []
    assert ganon.get(f"/api/v1/gigs/{g.gig_id}/reviews/summary").json["count"] == 0
    assert ganon.get(f"/api/v1/users/{g.seller_id}/reputation").json["rating_count"] == 0
    assert gbuyer.get(f"/api/v1/orders/{g_oid}/reviews", headers=gbh).json["mine"] is None
    assert (
        gseller.post(f"/api/v1/reviews/{of_seller}/reply", json={"text": "Hi"}, headers=gsh).status_code
        == 404
    )
    assert gstranger.put(f"/api/v1/reviews/{of_seller}/helpful", headers=gxh).status_code == 404
    r = gstranger.post(f"/api/v1/reviews/{of_seller}/reports", json={"reason": "spam"}, headers=gxh)
    assert r.status_code == 404
    assert gbuyer.patch(f"/api/v1/reviews/{of_seller}", json={"rating": 1}, headers=gbh).status_code == 404
    # an acme token means nothing on globex's host
    buyer, bh = c["buyer"]
    assert ganon.get(f"/api/v1/orders/{g_oid}/reviews", headers=bh).status_code == 401
    assert ganon.get(f"/api/v1/gigs/{g.gig_id}/reviews", headers=bh).status_code == 401

    # acme is untouched; globex's own review of its equal order id is globex's only
    assert _reviews(in_tenant, acme) == before
    with in_tenant(acme):
        review = db.session.get(Review, of_seller)
        assert (review.helpful_count, review.report_count, review.reply_text) == (0, 0, None)
    assert gbuyer.post(f"/api/v1/orders/{g_oid}/reviews", json=GOOD, headers=gbh).status_code == 201
    assert _reviews(in_tenant, acme) == before
    assert len(_reviews(in_tenant, globex)) == 1
    assert c["anon"].get(f"/api/v1/gigs/{m.gig_id}/reviews/summary").json["count"] == 1
