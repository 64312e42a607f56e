"""The review pages through HTTP: the order page's banner, form, waiting and published states;
the gig page's and the profile's reviews; "Helpful" and "Report"; every refusal shown on its
form with nothing stored; hidden reviews nowhere; another tenant's ids a 404 that changes nothing.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import update_profile
from app.gigs.models import Gig
from app.reviews import services
from app.reviews.models import Review, ReviewReport, ReviewVote
from tenants.db import db
from tests.helpers import PASSWORD, csrf_token, login
from tests.reviews.conftest import BACK, GOOD, drive, user

BUYER_FORM = {
    "rating": "5",
    "communication": "5",
    "as_described": "4",
    "would_recommend": "5",
    "text": "Great work, fast and friendly.",
}
SELLER_FORM = {"rating": "4", "text": "Clear brief, paid on time."}


def signed_in(tenant_client, slug, email):
    return login(tenant_client(slug), email, PASSWORD)


def post(client, page, action, data):
    """Submit a form found on ``page`` to ``action`` with the page's CSRF token."""
    return client.post(action, data={"csrf_token": csrf_token(client, page), **data})


def html(response) -> str:
    return response.get_data(as_text=True)


def snapshot(in_tenant, tenant) -> dict:
    """Everything a review form could change, to prove a refusal changed nothing."""
    with in_tenant(tenant):
        reviews = db.session.execute(
            sa.select(
                Review.id, Review.status, Review.rating, Review.text, Review.reply_text, Review.helpful_count
            ).order_by(Review.id)
        ).all()
        return {
            "reviews": [tuple(r) for r in reviews],
            "reports": db.session.scalar(sa.select(sa.func.count()).select_from(ReviewReport)),
            "votes": db.session.scalar(sa.select(sa.func.count()).select_from(ReviewVote)),
        }


def gig_slug(in_tenant, tenant, gig_id) -> str:
    with in_tenant(tenant):
        return db.session.get(Gig, gig_id).slug


def handle_of(in_tenant, tenant, user_id) -> str:
    with in_tenant(tenant):
        return db.session.get(User, user_id).handle


@pytest.fixture
def parties(acme, completed, tenant_client):
    """A completed order in acme with its buyer and seller signed in on acme's host."""
    m, order_id = completed(acme)
    return (
        m,
        order_id,
        signed_in(tenant_client, "acme", m.buyer_email),
        signed_in(tenant_client, "acme", m.seller_email),
    )


def test_the_buyer_is_asked_for_a_review_and_the_seller_cannot_read_it_before_publication(
    parties, in_tenant, acme
):
    m, order_id, buyer, seller = parties
    page = f"/orders/{order_id}"
    body = html(buyer.get(page))
    assert 'data-testid="review-banner"' in body and "Leave a review — 14 days left" in body
    for field in ("rating", "communication", "as_described", "would_recommend"):
        assert f'data-testid="stars-{field}"' in body
        assert f'id="{field}-5"' in body
    response = post(buyer, page, f"/orders/{order_id}/review", BUYER_FORM)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{page}#reviews")

    body = html(buyer.get(page))
    assert "Your review" in body and "waiting for Sally Seller’s review" in body
    assert "Great work, fast and friendly." in body and 'data-testid="review-edit-form"' in body
    # Double-blind: the seller's page asks for their review and never shows the buyer's.
    body = html(seller.get(page))
    assert "Leave a review" in body and 'data-testid="review-form"' in body
    assert "Great work, fast and friendly." not in body
    assert "communication" not in body  # the seller rates the buyer only overall

    response = post(seller, page, f"/orders/{order_id}/review", SELLER_FORM)
    assert response.status_code == 303
    for client, theirs in ((buyer, "Clear brief, paid on time."), (seller, "Great work, fast and friendly.")):
        body = html(client.get(page))
        assert theirs in body and 'data-testid="their-review"' in body
        assert "Leave a review" not in body and "review-edit-form" not in body
    with in_tenant(acme):
        assert sorted(db.session.scalars(sa.select(Review.status))) == ["published", "published"]


def publish_pair(in_tenant, tenant, m, order_id, buyer_data=None, seller_data=None) -> tuple[int, int]:
    """Both reviews of an order written (so published) through the services: (buyer's, seller's) ids."""
    with in_tenant(tenant):
        mine = services.submit_review(user(m.buyer_id), order_id, buyer_data or GOOD)
        back = services.submit_review(user(m.seller_id), order_id, seller_data or BACK)
        db.session.commit()
        return mine.id, back.id


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rating": "0"}, "The overall rating must be a whole number from 1 to 5."),
        ({"rating": "6"}, "The overall rating must be a whole number from 1 to 5."),
        ({"rating": "x"}, "The overall rating must be a whole number from 1 to 5."),
        ({"rating": ""}, "The overall rating: choose from 1 to 5 stars."),
        ({"communication": "9"}, "Communication must be a whole number from 1 to 5."),
        ({"text": ""}, "The review is required."),
        ({"text": "   \n  "}, "The review is required."),
        ({"text": "x" * 2001}, "The review must be at most 2,000 characters (this one has 2,001)."),
        (
            {"text": "Nice <script>alert(1)</script>"},
            "The review must be plain text: HTML tags are not allowed.",
        ),
        ({"text": "Nul \x00 byte"}, "Remove the control characters"),
    ],
)
def test_a_bad_review_is_shown_on_the_form_and_nothing_is_stored(parties, in_tenant, acme, change, message):
    m, order_id, buyer, _seller = parties
    before = snapshot(in_tenant, acme)
    response = post(buyer, f"/orders/{order_id}", f"/orders/{order_id}/review", {**BUYER_FORM, **change})
    assert response.status_code == 422
    body = html(response)
    assert message in body and 'class="field-error"' in body
    assert 'data-testid="review-form"' in body  # the form again, with what was typed
    if change.get("text", "").startswith("Nice"):
        assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    assert snapshot(in_tenant, acme) == before


def test_a_second_review_or_a_strangers_is_refused_and_changes_nothing(
    parties, in_tenant, acme, tenant_client
):
    m, order_id, buyer, _seller = parties
    page = f"/orders/{order_id}"
    assert post(buyer, page, f"{page}/review", BUYER_FORM).status_code == 303
    before = snapshot(in_tenant, acme)
    response = post(buyer, page, f"{page}/review", {**BUYER_FORM, "rating": "1", "text": "Changed my mind"})
    assert response.status_code == 409
    assert "You have already reviewed this order." in html(response)
    assert snapshot(in_tenant, acme) == before
    # A stranger is not a party: the order does not exist for them.
    stranger = signed_in(tenant_client, "acme", m.stranger_email)
    assert post(stranger, "/dashboard", f"{page}/review", BUYER_FORM).status_code == 404
    assert stranger.get(page).status_code == 404
    assert snapshot(in_tenant, acme) == before


def test_after_the_window_the_page_says_so_and_a_late_review_is_refused(parties, in_tenant, acme):
    from datetime import UTC, datetime, timedelta

    from app.reviews.models import ReviewWindow

    m, order_id, buyer, _seller = parties
    page = f"/orders/{order_id}"
    assert "Leave a review" in html(buyer.get(page))  # opens the window
    with in_tenant(acme):  # the window's time is up (as the clock would have it in 14 days)
        window = db.session.get(ReviewWindow, order_id)
        window.closes_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    body = html(buyer.get(page))
    assert "Leave a review" not in body and 'data-testid="review-closed"' in body
    before = snapshot(in_tenant, acme)
    response = post(buyer, page, f"{page}/review", BUYER_FORM)
    assert response.status_code == 409 and "The time to review this order ended" in html(response)
    assert snapshot(in_tenant, acme) == before


def test_the_author_edits_before_publication_with_the_same_checks(parties, in_tenant, acme):
    m, order_id, buyer, seller = parties
    page = f"/orders/{order_id}"
    post(buyer, page, f"{page}/review", BUYER_FORM)
    with in_tenant(acme):
        review_id = db.session.scalar(sa.select(Review.id))
    edit = f"/reviews/{review_id}/edit"
    body = html(buyer.get(page))
    assert 'id="rating-5" name="rating" value="5" required checked' in body  # the form holds the review
    before = snapshot(in_tenant, acme)
    response = post(buyer, page, edit, {**BUYER_FORM, "rating": "0"})
    assert response.status_code == 422 and "must be a whole number from 1 to 5" in html(response)
    assert 'data-testid="review-edit" open' in html(response)
    assert snapshot(in_tenant, acme) == before
    # Someone else's review does not exist for them.
    assert post(seller, page, edit, BUYER_FORM).status_code == 404
    assert snapshot(in_tenant, acme) == before

    response = post(buyer, page, edit, {**BUYER_FORM, "rating": "3", "text": "Good, a little slow."})
    assert response.status_code == 303
    with in_tenant(acme):
        assert db.session.get(Review, review_id).rating == 3
    post(seller, page, f"{page}/review", SELLER_FORM)  # both written: published
    before = snapshot(in_tenant, acme)
    response = post(buyer, page, edit, {**BUYER_FORM, "rating": "1"})
    assert response.status_code == 409 and "you cannot edit it after it was published" in html(response)
    assert snapshot(in_tenant, acme) == before


def test_the_reviewed_side_replies_once_and_nobody_else_can(parties, in_tenant, acme):
    m, order_id, buyer, seller = parties
    page = f"/orders/{order_id}"
    buyers_review, sellers_review = publish_pair(in_tenant, acme, m, order_id)
    body = html(seller.get(page))
    assert 'data-testid="reply-form"' in body and f"/reviews/{buyers_review}/reply" in body
    before = snapshot(in_tenant, acme)
    # The author of a review cannot answer it: only the person reviewed.
    response = post(buyer, page, f"/reviews/{buyers_review}/reply", {"text": "Me again"})
    assert response.status_code == 403 and "Only the person reviewed can reply" in html(response)
    for text, message in (
        ("", "The reply is required."),
        ("y" * 1001, "at most 1,000 characters"),
        ("<b>Thanks</b>", "must be plain text"),
    ):
        response = post(seller, page, f"/reviews/{buyers_review}/reply", {"text": text})
        assert response.status_code == 422 and message in html(response), text
    assert snapshot(in_tenant, acme) == before

    response = post(seller, page, f"/reviews/{buyers_review}/reply", {"text": "Thank you, Bob!"})
    assert response.status_code == 303
    body = html(seller.get(page))
    assert "Thank you, Bob!" in body and f"/reviews/{buyers_review}/reply" not in body
    before = snapshot(in_tenant, acme)
    response = post(seller, page, f"/reviews/{buyers_review}/reply", {"text": "And again"})
    assert response.status_code == 409 and "You have already replied to this review." in html(response)
    assert snapshot(in_tenant, acme) == before
    # The buyer, reviewed by the seller, has a reply form of their own.
    assert f"/reviews/{sellers_review}/reply" in html(buyer.get(page))


def test_the_gig_page_shows_the_rating_the_histogram_and_the_reviews(
    acme, completed, in_tenant, tenant_client
):
    m, first = completed(acme)
    with in_tenant(acme):
        second = drive(m, "completed")
    a, _ = publish_pair(
        in_tenant, acme, m, first, {**GOOD, "text": "Lovely logo, see https://example.com/logo for it."}
    )
    b, _ = publish_pair(
        in_tenant, acme, m, second, {**GOOD, "rating": 3, "communication": 2, "text": "Fine."}
    )
    with in_tenant(acme):
        services.reply_to_review(user(m.seller_id), a, "Thanks a lot!")
        services.vote_helpful(user(m.stranger_id), b)
        db.session.commit()
    slug = gig_slug(in_tenant, acme, m.gig_id)
    body = html(tenant_client("acme").get(f"/gigs/{slug}"))
    assert 'data-testid="gig-reviews"' in body
    assert 'data-testid="gig-rating-average">4.0<' in body and "(2)" in body
    bars = dict(re.findall(r'data-stars="(\d)" data-count="(\d+)"', body))
    assert bars == {"5": "1", "4": "0", "3": "1", "2": "0", "1": "0"}
    assert "rating-w10" in body and "style=" not in body.split('data-testid="gig-reviews"')[1]
    assert "Communication" in body and "3.5" in body  # (5 + 2) / 2
    assert body.count('data-testid="review"') == 2
    assert "Bob Buyer" in body and "Thanks a lot!" in body
    # The seller is pointed to the order page to answer the review they have not answered yet.
    seller_view = html(signed_in(tenant_client, "acme", m.seller_email).get(f"/gigs/{slug}"))
    assert seller_view.count('data-testid="reply-link"') == 1
    assert f'href="/orders/{second}#reviews" data-testid="reply-link"' in seller_view
    assert '<a href="https://example.com/logo" target="_blank" rel="nofollow noopener noreferrer">' in body
    # Newest first; "most helpful" puts the voted review first.
    newest = re.findall(r'data-review-id="(\d+)"', body)
    assert newest == [str(b), str(a)]
    helpful = html(tenant_client("acme").get(f"/gigs/{slug}?reviews_sort=helpful"))
    assert re.findall(r'data-review-id="(\d+)"', helpful)[0] == str(b)
    assert "Helpful (1)" in helpful
    # Anonymous visitors are asked to log in to vote; nobody gets a report form without an account.
    assert 'data-testid="helpful-login"' in body and 'data-testid="report-form"' not in body
    # The full list, sorted and paged.
    full = tenant_client("acme").get(f"/gigs/{slug}/reviews?sort=helpful&page=1")
    assert full.status_code == 200 and html(full).count('data-testid="review"') == 2
    assert tenant_client("acme").get(f"/gigs/{slug}/reviews?page=9").status_code == 200
    assert tenant_client("acme").get(f"/gigs/{slug}/reviews?sort=nonsense&page=x").status_code == 200
    assert tenant_client("acme").get("/gigs/no-such-gig/reviews").status_code == 404


def test_the_gig_page_and_the_profile_read_each_rating_breakdown_once(
    acme, completed, in_tenant, tenant_client, monkeypatch
):
    """The section's histogram and its page of reviews share one breakdown (one Redis read; the
    page's total was a second read of the same key)."""
    m, first = completed(acme)
    publish_pair(in_tenant, acme, m, first, GOOD)
    asked = []
    real = services.rating_breakdown

    def counted(**scope):
        asked.append(tuple(sorted(scope.items())))
        return real(**scope)

    monkeypatch.setattr(services, "rating_breakdown", counted)
    client = tenant_client("acme")
    body = html(client.get(f"/gigs/{gig_slug(in_tenant, acme, m.gig_id)}"))
    assert 'data-testid="gig-rating-average">5.0<' in body and "(1)" in body
    assert len(asked) == len(set(asked)) == 1, asked
    asked.clear()
    assert client.get(f"/u/{handle_of(in_tenant, acme, m.seller_id)}").status_code == 200
    assert asked and len(asked) == len(set(asked)), asked  # each person's block reads its own once


def test_reviews_page_through_on_the_gig_page_and_the_full_list(acme, completed, in_tenant, tenant_client):
    m, first = completed(acme)
    orders = [first]
    with in_tenant(acme):
        orders += [drive(m, "completed") for _ in range(5)]
    for n, order_id in enumerate(orders):
        publish_pair(in_tenant, acme, m, order_id, {**GOOD, "text": f"Review number {n}."})
    slug = gig_slug(in_tenant, acme, m.gig_id)
    client = tenant_client("acme")
    first_page = html(client.get(f"/gigs/{slug}"))
    assert first_page.count('data-testid="review"') == 5 and "Page 1 of 2" in first_page
    assert f'href="/gigs/{slug}?reviews_page=2#reviews"' in first_page
    assert "See all 6 reviews" in first_page
    second_page = html(client.get(f"/gigs/{slug}?reviews_page=2"))
    assert second_page.count('data-testid="review"') == 1 and "Review number 0." in second_page
    assert html(client.get(f"/gigs/{slug}/reviews")).count('data-testid="review"') == 6


def test_helpful_votes_count_once_toggle_and_never_on_your_own(acme, completed, in_tenant, tenant_client):
    m, order_id = completed(acme)
    buyers_review, _ = publish_pair(in_tenant, acme, m, order_id)
    slug = gig_slug(in_tenant, acme, m.gig_id)
    page = f"/gigs/{slug}"
    stranger = signed_in(tenant_client, "acme", m.stranger_email)
    vote = f"/reviews/{buyers_review}/helpful"
    response = post(stranger, page, vote, {"helpful": "1", "next": page})
    assert response.status_code == 303 and response.headers["Location"] == f"{page}#review-{buyers_review}"
    post(stranger, page, vote, {"helpful": "1", "next": page})  # twice: still one vote
    body = html(stranger.get(page))
    assert 'aria-pressed="true" data-testid="helpful">Helpful (1)' in body
    assert snapshot(in_tenant, acme)["votes"] == 1
    post(stranger, page, vote, {"helpful": "0", "next": page})
    assert snapshot(in_tenant, acme)["votes"] == 0

    # The author sees the count without a button; a crafted vote is refused with a message.
    author = signed_in(tenant_client, "acme", m.buyer_email)
    body = html(author.get(page))
    assert 'data-testid="helpful-count">Helpful (0)' in body and 'data-testid="helpful"' not in body
    before = snapshot(in_tenant, acme)
    response = post(author, page, vote, {"helpful": "1", "next": page})
    assert response.status_code == 303
    assert "You cannot vote on your own review." in html(author.get(page))
    assert snapshot(in_tenant, acme) == before
    # Anonymous: to the login page; an open redirect in "next" is ignored.
    assert tenant_client("acme").post(vote, data={"helpful": "1"}).status_code in (302, 400)
    response = post(stranger, page, vote, {"helpful": "1", "next": "https://evil.example/"})
    assert response.headers["Location"].startswith(f"/gigs/{slug}/reviews")


def test_reports_are_sent_once_with_a_reason_and_never_on_your_own_review(
    acme, completed, in_tenant, tenant_client
):
    m, order_id = completed(acme)
    buyers_review, _ = publish_pair(in_tenant, acme, m, order_id)
    page = f"/gigs/{gig_slug(in_tenant, acme, m.gig_id)}"
    report = f"/reviews/{buyers_review}/report"
    stranger = signed_in(tenant_client, "acme", m.stranger_email)
    body = html(stranger.get(page))
    assert 'data-testid="report-form"' in body and "Shares private information" in body

    before = snapshot(in_tenant, acme)
    for data, message in (
        ({"reason": ""}, "Choose a reason"),
        ({"reason": "nonsense"}, "Choose a reason"),
        ({"reason": "spam", "details": "<a href=x>buy</a>"}, "must be plain text"),
        ({"reason": "spam", "details": "z" * 1001}, "at most 1,000 characters"),
    ):
        response = post(stranger, page, report, {**data, "next": page})
        assert response.status_code == 422 and message in html(response), data
        assert 'data-testid="report-page-form"' in html(response)
    # Your own review: refused on the report page with the reason why.
    author = signed_in(tenant_client, "acme", m.buyer_email)
    assert 'data-testid="report-form"' not in html(author.get(page))
    response = post(author, page, report, {"reason": "spam", "next": page})
    assert response.status_code == 403 and "You cannot report your own review." in html(response)
    assert snapshot(in_tenant, acme) == before

    response = post(stranger, page, report, {"reason": "spam", "details": "An advert.", "next": page})
    assert response.status_code == 303 and response.headers["Location"] == page
    assert "the moderators will look at this review" in html(stranger.get(page))
    with in_tenant(acme):
        row = db.session.scalars(sa.select(ReviewReport)).one()
        assert (row.reason, row.details, row.reporter_id) == ("spam", "An advert.", m.stranger_id)
    before = snapshot(in_tenant, acme)
    response = post(stranger, page, report, {"reason": "offensive", "next": page})
    assert response.status_code == 409 and "You have already reported this review." in html(response)
    assert snapshot(in_tenant, acme) == before
    # The report page itself (for a link without the inline form).
    assert stranger.get(f"{report}?next={page}").status_code == 200


def test_profiles_show_reviews_as_a_seller_and_from_sellers(acme, completed, in_tenant, tenant_client):
    m, order_id = completed(acme)
    publish_pair(in_tenant, acme, m, order_id, seller_data={"rating": 2, "text": "Slow to answer."})
    client = tenant_client("acme")
    seller_page = html(client.get(f"/u/{handle_of(in_tenant, acme, m.seller_id)}"))
    assert 'data-testid="reviews-as-seller"' in seller_page
    assert 'data-testid="seller-reviews-average">5.0<' in seller_page
    assert "Great work, fast." in seller_page
    assert "On <a href=" in seller_page  # the gig reviewed
    with in_tenant(acme):  # a buyer gets a public page once they choose a handle
        update_profile(user(m.buyer_id), handle="bob-buys")
        db.session.commit()
    buyer_handle = handle_of(in_tenant, acme, m.buyer_id)
    buyer_page = html(client.get(f"/u/{buyer_handle}"))
    assert 'data-testid="reviews-as-seller"' not in buyer_page
    assert 'data-testid="reviews-from-sellers"' in buyer_page and "Slow to answer." in buyer_page
    assert 'data-testid="buyer-rating"' in buyer_page and "Great work, fast." not in buyer_page
    full = client.get(f"/u/{buyer_handle}/reviews?as=buyer")
    assert full.status_code == 200 and "Slow to answer." in html(full)
    seller_full = html(client.get(f"/u/{handle_of(in_tenant, acme, m.seller_id)}/reviews?as=seller"))
    assert "Great work, fast." in seller_full and "Slow to answer." not in seller_full
    assert client.get("/u/nobody-here/reviews").status_code == 404


def test_hidden_and_unpublished_reviews_never_show(acme, completed, in_tenant, tenant_client):
    m, first = completed(acme)
    with in_tenant(acme):
        second = drive(m, "completed")
        third = drive(m, "completed")
    hidden, _ = publish_pair(in_tenant, acme, m, first, {**GOOD, "text": "Hidden words here."})
    publish_pair(in_tenant, acme, m, second, {**GOOD, "rating": 4, "text": "Visible words here."})
    with in_tenant(acme):
        services.submit_review(user(m.buyer_id), third, {**GOOD, "text": "Unpublished words here."})
        services.hide_review(user(m.admin_id), hidden, "Written by a friend")
        db.session.commit()
    client = tenant_client("acme")
    slug = gig_slug(in_tenant, acme, m.gig_id)
    for path in (
        f"/gigs/{slug}",
        f"/gigs/{slug}/reviews",
        f"/u/{handle_of(in_tenant, acme, m.seller_id)}",
        f"/u/{handle_of(in_tenant, acme, m.seller_id)}/reviews",
    ):
        body = html(client.get(path))
        assert "Visible words here." in body, path
        assert "Hidden words here." not in body and "Unpublished words here." not in body, path
    gig_page = html(client.get(f"/gigs/{slug}"))
    assert 'data-testid="gig-rating-average">4.0<' in gig_page  # the hidden 5 left the average
    # Nor can a hidden review be voted on or reported.
    stranger = signed_in(tenant_client, "acme", m.stranger_email)
    before = snapshot(in_tenant, acme)
    assert post(stranger, f"/gigs/{slug}", f"/reviews/{hidden}/helpful", {"helpful": "1"}).status_code == 404
    assert post(stranger, f"/gigs/{slug}", f"/reviews/{hidden}/report", {"reason": "spam"}).status_code == 404
    assert snapshot(in_tenant, acme) == before
    # The author sees on the order page that a moderator hid it, and why.
    author = signed_in(tenant_client, "acme", m.buyer_email)
    body = html(author.get(f"/orders/{first}"))
    assert 'data-testid="review-hidden"' in body and "Written by a friend" in body


def test_the_dashboard_lists_the_reviews_to_write(parties, run_jobs):
    m, order_id, buyer, seller = parties
    run_jobs()  # order.completed opens the review window
    for client in (buyer, seller):
        body = html(client.get("/dashboard"))
        assert 'data-testid="dashboard-reviews"' in body
        assert f'href="/orders/{order_id}#reviews"' in body
    post(buyer, f"/orders/{order_id}", f"/orders/{order_id}/review", BUYER_FORM)
    assert 'data-testid="dashboard-reviews"' not in html(buyer.get("/dashboard"))
    assert "review the buyer" in html(seller.get("/dashboard"))


def test_another_tenants_review_and_order_ids_are_404_and_change_nothing(
    acme, globex, completed, in_tenant, tenant_client
):
    m, order_id = completed(acme)
    buyers_review, sellers_review = publish_pair(in_tenant, acme, m, order_id)
    g, g_order = completed(globex)  # equal order id in globex, no reviews there
    assert g_order == order_id
    acme_before = snapshot(in_tenant, acme)
    globex_before = snapshot(in_tenant, globex)
    globex_buyer = signed_in(tenant_client, "globex", g.buyer_email)
    page = "/dashboard"
    for action, data in (
        (f"/reviews/{buyers_review}/edit", BUYER_FORM),
        (f"/reviews/{buyers_review}/reply", {"text": "Hello from globex"}),
        (f"/reviews/{sellers_review}/reply", {"text": "Hello from globex"}),
        (f"/reviews/{buyers_review}/helpful", {"helpful": "1"}),
        (f"/reviews/{buyers_review}/report", {"reason": "spam"}),
    ):
        assert post(globex_buyer, page, action, data).status_code == 404, action
    assert globex_buyer.get(f"/reviews/{buyers_review}/report").status_code == 404
    acme_slug = gig_slug(in_tenant, acme, m.gig_id)
    assert tenant_client("globex").get(f"/gigs/{acme_slug}/reviews").status_code == 404
    # globex's own order with the same id is globex's: its page knows nothing of acme's reviews.
    body = html(globex_buyer.get(f"/orders/{order_id}"))
    assert "Great work, fast." not in body and "Leave a review" in body
    # The acme buyer's session is worthless on globex's host.
    acme_buyer = signed_in(tenant_client, "acme", m.buyer_email)
    acme_cookie = acme_buyer.get_cookie("session", domain=acme_buyer.host)
    intruder = tenant_client("globex")
    intruder.set_cookie("session", acme_cookie.value, domain=intruder.host)
    response = intruder.post(f"/orders/{order_id}/review", data=BUYER_FORM)
    assert response.status_code in (302, 400)  # to the login page (or no valid CSRF token)
    assert snapshot(in_tenant, acme) == acme_before
    assert snapshot(in_tenant, globex) == globex_before
