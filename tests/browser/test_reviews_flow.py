"""Two-way reviews in headless Chromium, on acme.localhost: the buyer accepts a delivery and
reviews the seller with the star radios; the seller cannot read it until they have reviewed the
buyer back, then both publish; the seller replies; both reviews show on the gig page and on
both profiles; the gig, unrated before, is found under the "4 stars and up" search filter once
the rating reaches the index (through the outbox events, run by ``run_jobs``).

Every page is also checked at 390 px for sideways scrolling. Set GIGFORGE_SCREENSHOTS=<folder>
to keep full-page screenshots of the review pages at 390 and 1366 px.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import update_profile
from app.gigs.models import Gig
from app.reviews.models import Review
from tenants.db import db
from tests.helpers import PASSWORD, wait_until
from tests.orders.conftest import drive, make_gig, market  # noqa: F401  (fixtures, helper)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
GIG_TITLE = "I will design a modern minimalist logo"
BUYER_TEXT = "Sally nailed the logo on the first try. Quick, friendly and clear."
SELLER_TEXT = "Clear brief and quick answers. A pleasure to work with."
REPLY_TEXT = "Thank you, Bob! Enjoy the new logo."
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def deal(acme, market, in_tenant):  # noqa: F811  (the imported fixture)
    """A delivered order waiting for the buyer's acceptance; the buyer has a public page."""
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "delivered")
        update_profile(db.session.get(User, m.buyer_id), handle="bob-buys")
        db.session.commit()
        return {
            "m": m,
            "order_id": order_id,
            "slug": db.session.get(Gig, m.gig_id).slug,
            "seller_handle": db.session.get(User, m.seller_id).handle,
        }


def log_in(page, live_server, email):
    page.goto(live_server.url("acme.localhost", "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:2000]


def look(page, name: str) -> None:
    """The page fits a 390 px phone; with GIGFORGE_SCREENSHOTS, keep it at 390 and 1366 px."""
    page.set_viewport_size(PHONE)
    assert page.evaluate(FITS), f"{name} scrolls sideways at 390 px"
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=os.path.join(folder, f"{name}-390.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=os.path.join(folder, f"{name}-1366.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def stars(form, group: str, count: int) -> None:
    """Choose ``count`` stars in the radio group named ``group`` (a click on the star's label)."""
    form.get_by_role("group", name=group).locator("label").filter(has_text=f"{count} star").click()


def found_with_four_stars_and_up(page, live_server) -> bool:
    page.goto(live_server.url("acme.localhost", "/search?q=logo&rating=4"))
    return GIG_TITLE in page.get_by_test_id("search-page").inner_text()


def test_buyer_and_seller_review_each_other_and_the_gig_reaches_four_stars_and_up(
    browser, live_server, deal, acme, in_tenant, run_jobs
):
    run_jobs()  # the gig's publication reaches the search index
    m, order_id = deal["m"], deal["order_id"]
    order_url = live_server.url("acme.localhost", f"/orders/{order_id}")
    buyer_context = browser.new_context(viewport=DESKTOP)
    seller_context = browser.new_context(viewport=DESKTOP)
    try:
        buyer, seller = buyer_context.new_page(), seller_context.new_page()
        for page in (buyer, seller):
            page.set_default_timeout(15_000)
        log_in(buyer, live_server, m.buyer_email)
        log_in(seller, live_server, m.seller_email)

        # Unrated: found by its words, not under "4 stars and up".
        buyer.goto(live_server.url("acme.localhost", "/search?q=logo"))
        assert GIG_TITLE in buyer.get_by_test_id("search-page").inner_text()
        assert not found_with_four_stars_and_up(buyer, live_server)

        # --- the buyer accepts the delivery: the order completes and asks for a review ------
        buyer.goto(order_url)
        buyer.get_by_test_id("complete-form").get_by_role("button", name="Accept and complete").click()
        buyer.get_by_role("dialog").get_by_role("button", name="Complete and release the payment").click()
        buyer.wait_for_load_state()
        assert buyer.get_by_test_id("order-status").inner_text() == "Completed"
        assert "Leave a review — 14 days left" in buyer.get_by_test_id("review-banner").inner_text()
        look(buyer, "order-review-form")

        form = buyer.get_by_test_id("review-form")
        stars(form, "Overall rating", 5)
        stars(form, "Communication", 5)
        stars(form, "Service as described", 4)
        stars(form, "Would recommend", 5)
        assert form.get_by_role("group", name="Overall rating").get_by_label("5 stars").is_checked()
        form.get_by_label("Your review").fill(BUYER_TEXT)
        look(buyer, "order-review-form-filled")
        form.get_by_role("button", name="Review the seller").click()
        buyer.wait_for_load_state()
        mine = buyer.get_by_test_id("my-review").inner_text()
        assert "waiting for Sally Seller’s review" in mine and BUYER_TEXT in mine
        look(buyer, "order-review-waiting")

        # --- the seller is asked too, and cannot read the buyer's review yet ------------------
        seller.goto(order_url)
        assert "Leave a review" in seller.get_by_test_id("review-banner").inner_text()
        assert BUYER_TEXT not in seller.content()
        form = seller.get_by_test_id("review-form")
        assert form.get_by_role("group").count() == 1  # the buyer is rated overall only
        # Sent without stars: the message is on the form, with what was typed kept.
        form.get_by_label("Your review").fill(SELLER_TEXT)
        form.get_by_role("button", name="Review the buyer").click()
        seller.wait_for_load_state()
        form = seller.get_by_test_id("review-form")
        assert "choose from 1 to 5 stars" in form.get_by_role("alert").inner_text()
        assert form.get_by_label("Your review").input_value() == SELLER_TEXT
        look(seller, "order-review-refused")
        stars(form, "Overall rating", 4)
        form.get_by_label("Your review").fill(SELLER_TEXT)
        form.get_by_role("button", name="Review the buyer").click()
        seller.wait_for_load_state()
        assert BUYER_TEXT in seller.get_by_test_id("their-review").inner_text()

        # The seller answers the buyer's review, once.
        reply = seller.get_by_test_id("reply-form")
        reply.get_by_label("Your public reply").fill(REPLY_TEXT)
        reply.get_by_role("button", name="Publish your reply").click()
        seller.wait_for_load_state()
        assert REPLY_TEXT in seller.get_by_test_id("their-review").inner_text()
        assert seller.get_by_test_id("reply-form").count() == 0

        buyer.reload()
        theirs = buyer.get_by_test_id("their-review").inner_text()
        assert SELLER_TEXT in theirs and "waiting for" not in buyer.get_by_test_id("my-review").inner_text()
        look(buyer, "order-reviews-published")

        # --- both reviews in public --------------------------------------------------------
        buyer.goto(live_server.url("acme.localhost", f"/gigs/{deal['slug']}"))
        reviews = buyer.get_by_test_id("gig-reviews")
        assert buyer.get_by_test_id("gig-rating-average").inner_text() == "5.0"
        assert BUYER_TEXT in reviews.inner_text() and REPLY_TEXT in reviews.inner_text()
        assert (
            buyer.get_by_test_id("gig-rating-histogram")
            .locator('[data-stars="5"]')
            .get_attribute("data-count")
            == "1"
        )
        look(buyer, "gig-reviews")

        seller.goto(live_server.url("acme.localhost", f"/u/{deal['seller_handle']}"))
        assert BUYER_TEXT in seller.get_by_test_id("reviews-as-seller").inner_text()
        look(seller, "profile-seller-reviews")
        buyer.goto(live_server.url("acme.localhost", "/u/bob-buys"))
        assert SELLER_TEXT in buyer.get_by_test_id("reviews-from-sellers").inner_text()
        look(buyer, "profile-buyer-reviews")

        # --- the rating reaches the search index through the events ------------------------
        wait_until(
            lambda: run_jobs() or found_with_four_stars_and_up(buyer, live_server),
            message="the reviewed gig never appeared under 4 stars and up",
        )
        assert buyer.get_by_label("Rating").input_value() == "4"
        assert "4 stars and up" in buyer.get_by_label("Rating").locator("option:checked").inner_text()
    finally:
        buyer_context.close()
        seller_context.close()

    with in_tenant(acme):
        rows = db.session.execute(sa.select(Review.direction, Review.status, Review.rating)).all()
        assert sorted(rows) == [("of_buyer", "published", 4), ("of_seller", "published", 5)]
