"""The gig form's "Where do you work?" in headless Chromium (#18): the place and radius hide while
"Online" is picked, the city box completes from the gazetteer (keyboard and mouse) and the pick is
what gets stored; the form fits a 390 px phone.
Set GIGFORGE_SCREENSHOTS=<folder> to keep screenshots of the form at 1366 and 390 px.
"""

from __future__ import annotations

import os
import re

import pytest

from app.accounts.models import User
from app.gigs import services as gig_services
from app.gigs.models import Gig
from app.settings.services import update_marketplace_settings
from tenants.db import db
from tests.gigs.conftest import PASSWORD, gig_data
from tests.helpers import watched_page

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def _shot(page, name: str) -> None:
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        width = page.viewport_size["width"]
        page.screenshot(path=os.path.join(folder, f"{name}-{width}.png"), full_page=True)


@pytest.fixture
def seller_gig(acme, make_seller, in_tenant):
    seller_id = make_seller(acme, email="tuner@example.com", display_name="Tia Tuner")
    with in_tenant(acme):
        update_marketplace_settings(location_enabled=True, default_country="DE")
        gig = gig_services.create_gig(
            db.session.get(User, seller_id), gig_data(title="I will tune your piano at your home")
        )
        db.session.commit()
        return gig.id


def _log_in(page, live_server):
    page.goto(live_server.url("acme.localhost", "/login"))
    page.get_by_label("Email").fill("tuner@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_a_seller_picks_a_city_and_a_radius(browser, live_server, acme, seller_gig, in_tenant):
    context = browser.new_context(viewport=DESKTOP)
    errors: list[str] = []
    try:
        page = watched_page(context, errors)
        _log_in(page, live_server)
        page.goto(live_server.url("acme.localhost", f"/seller/gigs/{seller_gig}/edit"))
        city = page.get_by_role("combobox", name="City you work from")
        assert page.get_by_test_id("mode-online").is_checked()
        assert not city.is_visible()  # online: no place to give
        page.get_by_test_id("mode-on_site").check()
        assert city.is_visible()
        city.press_sequentially("hambu", delay=30)
        listbox = page.get_by_role("listbox", name="Cities")
        listbox.wait_for()
        assert listbox.get_by_role("option").first.inner_text() == "Hamburg, Germany"
        city.press("ArrowDown")
        city.press("Enter")
        assert city.input_value() == "Hamburg, Germany"
        page.get_by_label("How far you travel (km)").fill("25")
        _shot(page, "gig-form-location")
        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        _shot(page, "gig-form-location")
        page.set_viewport_size(DESKTOP)
        page.get_by_test_id("save-gig").click()
        page.wait_for_url(re.compile(rf"/seller/gigs/{seller_gig}/edit$"))
        assert page.get_by_text("Your changes are saved.").is_visible()
        with in_tenant(acme):
            gig = db.session.get(Gig, seller_gig)
            assert (gig.delivery_mode, gig.location_name, gig.location_country, gig.service_radius_km) == (
                "on_site",
                "Hamburg",
                "DE",
                25,
            )

        # A typo is shown on the form, next to the box.
        city.fill("Hamburgxx")
        page.get_by_test_id("save-gig").click()
        page.wait_for_load_state()
        assert page.get_by_text("We don't know that place. Pick a city from the list.").is_visible()
        _shot(page, "gig-form-location-error")
        assert [e for e in errors if "422" not in e] == []
    finally:
        context.close()
