"""End to end in headless Chromium: the home page (featured gigs, recently viewed, "because you
viewed", category pictures, top sellers, newest gigs, recent jobs; and an empty marketplace),
the /recently-viewed page and the console's featured gigs page fit a 390 px phone and a
1366 px laptop (no sideways scrolling, nothing cut off; rows of cards scroll inside themselves).

Set GIGFORGE_SCREENSHOTS=<folder> to keep a full-page screenshot of each page at both widths.
"""

from __future__ import annotations

import pytest

from app.accounts.services import set_seller_reputation
from app.discovery import featured
from app.gigs.models import Gig
from tenants.db import db
from tests.browser.test_console_reviews import _fits, _log_in, _shot
from tests.browser.test_phone_layout import DESKTOP, PHONE
from tests.conftest import ADMIN_PASSWORD
from tests.discovery.home_kit import post_job
from tests.helpers import watched_page

pytestmark = pytest.mark.browser

GIGS = [
    # (seller, title, category index, tags, colour)
    ("ada", "I will design a modern minimalist logo", 0, ["logo", "branding"], (29, 191, 115)),
    ("ada", "I will design your business cards and letterhead", 0, ["branding", "print"], (242, 153, 74)),
    ("bob", "I will draw a flat icon set for your mobile app", 0, ["logo", "icons"], (86, 119, 252)),
    ("bob", "I will build a fast landing page website", 1, ["web"], (52, 73, 94)),
    ("cleo", "I will write SEO blog posts for your startup", 2, ["seo", "blog"], (231, 76, 60)),
    ("cleo", "I will translate your website from English to German", 2, ["translation"], (155, 89, 182)),
    ("bob", "I will fix bugs in your Django or Flask application", 1, ["python", "web"], (22, 160, 133)),
    (
        "ada",
        "I will design a brand style guide with a very long title to wrap",
        0,
        ["branding"],
        (241, 196, 15),
    ),
]


@pytest.fixture
def storefront(acme, make_seller, make_user, add_gig, in_tenant, run_jobs):
    sellers = {
        "ada": make_seller(acme, email="ada@example.com", display_name="Ada Designer"),
        "bob": make_seller(acme, email="bob@example.com", display_name="Bob Builder"),
        "cleo": make_seller(acme, email="cleo@example.com", display_name="Cleopatra Wordsmith-Longname"),
    }
    buyer = make_user(acme, email="buyer@example.com", display_name="Betty Buyer")
    ids = [
        add_gig(acme, sellers[who], title, category=cat, tags=tags, image=colour)
        for who, title, cat, tags, colour in GIGS
    ]
    with in_tenant(acme):
        set_seller_reputation(sellers["bob"], level="top_rated", rating=(4.9, 120))
        set_seller_reputation(sellers["ada"], level="level_2", rating=(4.7, 38))
        featured.set_featured(None, [ids[3], ids[0], ids[4], ids[6]])
        slugs = [db.session.get(Gig, i).slug for i in ids]
        db.session.commit()
    post_job(in_tenant, acme, buyer, "Build a booking tool for yoga studios")
    post_job(in_tenant, acme, buyer, "Redesign the logo of a family bakery")
    run_jobs()
    return slugs


def test_the_home_pages_fit_a_phone_and_a_laptop(browser, live_server, storefront):
    problems: list[str] = []
    errors: list[str] = []
    for viewport in (PHONE, DESKTOP):
        context = browser.new_context(viewport=viewport)
        try:
            page = watched_page(context, errors)
            page.goto(live_server.url("acme.localhost", "/"))
            _fits(page, "home-anonymous", problems)
            _shot(page, "home-anonymous")
            _log_in(page, live_server, "buyer@example.com")
            for slug in (storefront[2], storefront[0]):
                page.goto(live_server.url("acme.localhost", f"/gigs/{slug}"))
            page.goto(live_server.url("acme.localhost", "/"))
            assert page.get_by_test_id("home-recently-viewed").is_visible()
            assert page.get_by_test_id("because-you-viewed").is_visible()
            assert page.get_by_test_id("featured").is_visible()
            _fits(page, "home-buyer", problems)
            _shot(page, "home-buyer")
            page.goto(live_server.url("acme.localhost", "/recently-viewed"))
            _fits(page, "recently-viewed", problems)
            _shot(page, "recently-viewed")
            # The search box sends the buyer to the search page.
            page.goto(live_server.url("acme.localhost", "/"))
            page.locator("#home-search-q").fill("logo")
            page.locator("#home-search-q").press("Enter")
            page.wait_for_load_state()
            assert "/search?q=logo" in page.url
        finally:
            context.close()
        context = browser.new_context(viewport=viewport)
        try:
            page = watched_page(context, errors)
            page.goto(live_server.url("globex.localhost", "/"))  # no gigs at all
            assert page.get_by_test_id("home-empty").is_visible()
            _fits(page, "home-empty", problems)
            _shot(page, "home-empty")
        finally:
            context.close()
    assert errors == []
    assert not problems, "\n".join(problems)


def test_the_console_featured_page_fits_and_reorders(browser, live_server, storefront):
    problems: list[str] = []
    errors: list[str] = []
    for viewport in (PHONE, DESKTOP):
        context = browser.new_context(viewport=viewport)
        try:
            page = watched_page(context, errors)
            _log_in(page, live_server, "admin@acme.test", ADMIN_PASSWORD)
            page.goto(live_server.url("acme.localhost", "/console/featured-gigs?q=design"))
            _fits(page, "console-featured", problems)
            _shot(page, "console-featured")
        finally:
            context.close()
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = watched_page(context, errors)
        _log_in(page, live_server, "admin@acme.test", ADMIN_PASSWORD)
        page.goto(live_server.url("acme.localhost", "/console/featured-gigs"))
        items = page.locator(".featured-admin-list > li")
        first_id = items.nth(0).get_attribute("data-testid")
        items.nth(1).locator("button[aria-label^='Move'][aria-label$='up']").click()
        page.wait_for_load_state()
        assert page.locator(".featured-admin-list > li").nth(1).get_attribute("data-testid") == first_id
    finally:
        context.close()
    assert errors == []
    assert not problems, "\n".join(problems)
