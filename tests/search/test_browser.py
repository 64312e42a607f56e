"""End to end in headless Chromium: a buyer searches, picks a suggestion, narrows, opens a gig."""

from __future__ import annotations

import re

import pytest

from tests.helpers import watched_page

pytestmark = pytest.mark.browser


def test_buyer_finds_a_gig_through_suggestions_and_filters(
    browser, live_server, acme, make_seller, make_gig, run_jobs
):
    seller = make_seller(acme, display_name="Dana Designer")
    make_gig(
        acme,
        seller,
        title="I will design a modern minimalist logo",
        price=5000,
        days=3,
        tags=("logo", "minimalist"),
        category="logo-design",
    )
    make_gig(
        acme,
        seller,
        title="I will design a luxury minimalist logo",
        price=40000,
        days=3,
        tags=("logo", "luxury"),
        category="logo-design",
    )
    make_gig(
        acme,
        seller,
        title="I will design a playful minimalist logo",
        price=6000,
        days=14,
        tags=("logo", "fun"),
        category="logo-design",
    )
    run_jobs()

    context = browser.new_context()
    errors = []
    try:
        page = watched_page(context, errors)
        page.goto(live_server.url("acme.localhost", "/"))
        box = page.get_by_role("combobox", name="Search gigs")
        box.press_sequentially("minim", delay=40)
        listbox = page.get_by_role("listbox")
        listbox.wait_for()
        options = listbox.get_by_role("option")
        assert options.count() >= 3
        # Keyboard, like a screen-reader user: the active option is announced.
        box.press("ArrowDown")
        assert box.get_attribute("aria-activedescendant") == options.first.get_attribute("id")
        page.get_by_role("option", name="minimalist", exact=True).click()

        page.wait_for_url(re.compile(r"/search\?q=minimalist"))
        assert page.get_by_test_id("result-count").inner_text() == "3 gigs"

        page.get_by_label("From").fill("10")
        page.get_by_label("to", exact=True).fill("100.00")
        page.get_by_role("group", name="Delivery time").get_by_label("Up to 7 days").check()
        page.get_by_test_id("apply-filters").click()
        page.wait_for_url(re.compile(r"delivery=7"))
        cards = page.get_by_test_id("gig-card")
        assert cards.count() == 1
        assert "modern minimalist logo" in cards.first.inner_text()

        cards.first.get_by_role("link", name="I will design a modern minimalist logo", exact=True).click()
        page.wait_for_url(re.compile(r"/gigs/i-will-design-a-modern-minimalist-logo-"))
        assert page.get_by_role("heading", level=1).inner_text() == "I will design a modern minimalist logo"
        assert errors == []  # the autocomplete ran under the CSP without errors
    finally:
        context.close()
