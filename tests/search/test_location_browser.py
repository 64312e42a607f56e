"""The search page's location filters in headless Chromium (#18): the browser's position is asked
for only when the buyer presses "Use my location" (never on load), then the hidden lat/lng carry
it and the on-site gig near it shows its distance; a city completes from the gazetteer. The page
fits a 390 px phone. Set GIGFORGE_SCREENSHOTS=<folder> to keep screenshots at 1366 and 390 px.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlparse

import pytest

from app.accounts.models import User
from app.gigs import services as gig_services
from app.gigs.models import Gig
from app.settings.services import update_marketplace_settings
from tenants.db import db
from tests.helpers import watched_page

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

# Replaces the browser's geolocation: records each call and answers with a point in Potsdam
# (~25 km from Berlin), so the test sees whether and when the page asks.
FAKE_GEOLOCATION = """
window.__geoCalls = [];
const fake = {
  getCurrentPosition(success) {
    window.__geoCalls.push('getCurrentPosition');
    setTimeout(() => success({coords: {latitude: 52.3906, longitude: 13.0645, accuracy: 50}}), 0);
  },
  watchPosition() { window.__geoCalls.push('watchPosition'); return 1; },
  clearWatch() {},
};
Object.defineProperty(Navigator.prototype, 'geolocation', {get() { return fake; }, configurable: true});
"""


def _shot(page, name: str) -> None:
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        width = page.viewport_size["width"]
        page.screenshot(path=os.path.join(folder, f"{name}-{width}.png"), full_page=True)


@pytest.fixture
def local_market(acme, make_seller, make_gig, run_jobs, in_tenant):
    from app.accounts.services import update_profile

    with in_tenant(acme):
        update_marketplace_settings(location_enabled=True, default_country="DE")
        db.session.commit()
    seller_id = make_seller(acme, display_name="Paul Plumber")
    with in_tenant(acme):
        update_profile(db.session.get(User, seller_id), languages=["de", "en"], country="DE")
        db.session.commit()
    on_site = make_gig(acme, seller_id, title="I will fix your leaking pipes today", days=1)
    make_gig(acme, seller_id, title="I will plan your bathroom pipes online", days=3)
    with in_tenant(acme):
        gig_services.set_gig_location(
            db.session.get(Gig, on_site), delivery_mode="on_site", location="Berlin", radius_km=40
        )
        db.session.commit()
    run_jobs()
    return on_site


def test_the_position_is_asked_only_when_the_buyer_presses_the_button(browser, live_server, local_market):
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(FAKE_GEOLOCATION)
    errors: list[str] = []
    try:
        page = watched_page(context, errors)
        page.goto(live_server.url("acme.localhost", "/search?q=pipes"))
        page.wait_for_load_state("load")
        button = page.get_by_role("button", name="Use my location")
        button.wait_for()  # shown by the script once it knows geolocation is there
        assert page.evaluate("window.__geoCalls") == []  # nothing asked on load
        assert page.locator("#search-lat").input_value() == ""
        _shot(page, "search-location")

        button.click()
        page.get_by_test_id("locate-status").filter(has_text="Your location").wait_for()
        assert page.evaluate("window.__geoCalls") == ["getCurrentPosition"]
        assert page.locator("#search-lat").input_value() == "52.39060"
        assert page.locator("#search-lng").input_value() == "13.06450"
        assert page.get_by_label("Near").get_attribute("placeholder") == "Your location"
        page.get_by_label("Sort by").select_option("distance")
        page.get_by_test_id("apply-filters").click()
        page.wait_for_url(re.compile(r"lat=52\.39060.*lng=13\.06450"))
        first = page.get_by_test_id("gig-card").first
        assert "fix your leaking pipes" in first.inner_text()
        assert re.fullmatch(r"2\d\.\d km away", first.get_by_test_id("gig-card-distance").inner_text())
        assert page.get_by_test_id("search-place").inner_text().startswith("Near your location")
        assert page.evaluate("window.__geoCalls") == []  # the new page asked nothing either
        _shot(page, "search-location-near")
        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # On a phone the filters fold behind a button, so the results come first.
        assert not page.get_by_test_id("search-filters").is_visible()
        _shot(page, "search-location-near")
        toggle = page.get_by_test_id("filters-toggle")
        assert (
            toggle.inner_text().strip() == "Filters (1)"
        )  # the place; the keywords and sort are not filters
        toggle.click()
        assert page.get_by_test_id("search-filters").is_visible()
        assert toggle.get_attribute("aria-expanded") == "true"
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        _shot(page, "search-location-filters-open")

        # Typing a city drops the position; a suggestion completes it.
        page.set_viewport_size(DESKTOP)
        near = page.get_by_label("Near")
        near.press_sequentially("hamb", delay=30)
        assert page.locator("#search-lat").input_value() == ""
        page.get_by_role("option", name="Hamburg, Germany").click()
        assert near.input_value() == "Hamburg, Germany"
        page.get_by_test_id("apply-filters").click()
        page.wait_for_url(re.compile(r"near=Hamburg"))
        assert parse_qs(urlparse(page.url).query).get("lat") is None  # sent empty: no position
        assert "fix your leaking pipes" not in page.get_by_test_id("search-page").inner_text()  # out of reach
        assert errors == []
    finally:
        context.close()
