"""Issue #18's "Done when", end to end in headless Chromium on a local-services marketplace: a
buyer searches "plumber" near Manchester within 10 km (the city picked from the gazetteer's
completions), sees the on-site plumbers who serve that spot nearest first with their distances
(a London plumber and a Manchester plumber whose area does not reach the centre are not there;
an online gig still is), saves one with the card's heart and finds it in their saved list; the
same search, the saved list and the home page's featured gig answer through the API too."""

from __future__ import annotations

import math
import os
import re

import pytest
from playwright.sync_api import expect

from app.core import geo
from app.discovery import featured
from app.gigs import services as gig_services
from app.gigs.models import Gig
from app.settings.services import update_marketplace_settings
from tenants.db import db
from tests.gigs.conftest import api_token, make_gig  # noqa: F401  (fixtures)
from tests.helpers import PASSWORD, watched_page

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
MANCHESTER = geo.find_city("Manchester", prefer_country="GB")


def _shot(page, name: str) -> None:
    """Screenshots at 1366 and 390 px into GIGFORGE_SCREENSHOTS (when set); the page fits a phone."""
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        if viewport is PHONE:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
        if folder:
            os.makedirs(folder, exist_ok=True)
            page.screenshot(path=os.path.join(folder, f"{name}-{viewport['width']}.png"), full_page=True)


def _offset(km_north: float, km_east: float) -> tuple[float, float]:
    lat = MANCHESTER.lat + km_north / geo.KM_PER_DEGREE
    lng = MANCHESTER.lng + km_east / (geo.KM_PER_DEGREE * math.cos(math.radians(MANCHESTER.lat)))
    return round(lat, 6), round(lng, 6)


@pytest.fixture
def plumbers(acme, make_seller, make_user, make_gig, run_jobs, in_tenant):  # noqa: F811
    with in_tenant(acme):
        update_marketplace_settings(location_enabled=True, default_country="GB")
        db.session.commit()
    seller = make_seller(acme, display_name="Pat Plumber")
    far = make_seller(acme, display_name="Lou London")
    make_user(acme, email="buyer@acme.test", display_name="Bea Buyer")
    gigs = {
        "near": make_gig(acme, seller, title="I will fix your leaking pipes and taps", tags=["plumber"]),
        "nearer": make_gig(
            acme, seller, title="I will unblock your sink, a plumber at your door", tags=["plumber"]
        ),
        "small_area": make_gig(
            acme, seller, title="I will service your boiler as a local plumber", tags=["plumber"]
        ),
        "london": make_gig(acme, far, title="I will repair your toilet, London plumber", tags=["plumber"]),
        "online": make_gig(
            acme, far, title="I will plan your plumbing layout online as a plumber", tags=["plumber"]
        ),
    }
    places = {
        "near": (_offset(6.0, 0.0), 15),  # 6 km north, serves 15 km: in
        "nearer": (_offset(0.0, 2.0), 10),  # 2 km east: in, first
        "small_area": (_offset(0.0, -8.0), 5),  # 8 km west but serves only 5 km: out
    }
    with in_tenant(acme):
        for key, ((lat, lng), radius) in places.items():
            gig_services.set_gig_location(
                db.session.get(Gig, gigs[key]),
                delivery_mode="on_site",
                latitude=lat,
                longitude=lng,
                radius_km=radius,
            )
        gig_services.set_gig_location(
            db.session.get(Gig, gigs["london"]), delivery_mode="on_site", location="London", radius_km=30
        )
        featured.set_featured(None, [gigs["near"]])  # the operator's choice for the home page
        db.session.commit()
    run_jobs()
    return gigs


def test_a_buyer_finds_a_plumber_near_manchester_and_saves_one(
    browser,
    live_server,
    acme,
    plumbers,
    tenant_client,
    api_token,  # noqa: F811
):
    context = browser.new_context(viewport=DESKTOP)
    errors: list[str] = []
    try:
        page = watched_page(context, errors)
        page.goto(live_server.url("acme.localhost", "/login"))
        page.get_by_label("Email").fill("buyer@acme.test")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()

        page.goto(live_server.url("acme.localhost", "/search?q=plumber"))
        page.get_by_label("Near").press_sequentially("manch", delay=30)
        page.get_by_role("option", name="Manchester, United Kingdom").click()
        page.get_by_test_id("within").select_option("10")
        page.get_by_label("Sort by").select_option("distance")
        page.get_by_test_id("apply-filters").click()
        page.wait_for_url(re.compile(r"near=Manchester"))

        cards = page.get_by_test_id("gig-card")
        texts = [cards.nth(i).inner_text() for i in range(cards.count())]
        joined = "\n".join(texts)
        assert "unblock your sink" in texts[0] and "fix your leaking pipes" in texts[1], texts
        assert re.search(r"\b2\.0 km away", texts[0]) and re.search(r"\b6\.0 km away", texts[1]), texts
        assert "plan your plumbing layout online" in joined  # online gigs are delivered anywhere
        assert "London plumber" not in joined and "service your boiler" not in joined
        assert page.get_by_test_id("search-place").inner_text().startswith("Near Manchester")
        _shot(page, "done-when-18-search")

        # Save the nearest with the card's heart, then find it in the saved list.
        heart = page.get_by_test_id(f"heart-{plumbers['nearer']}")
        heart.click()
        expect(heart).to_have_attribute("aria-pressed", "true")  # toggled in place
        page.goto(live_server.url("acme.localhost", "/saved"))
        page.get_by_test_id("saved-lists").get_by_role("link").first.click()
        page.wait_for_load_state()
        assert page.get_by_test_id("list-count").inner_text().startswith("1 gig")
        assert "unblock your sink" in page.get_by_test_id(f"saved-item-{plumbers['nearer']}").inner_text()
        _shot(page, "done-when-18-saved")
        assert errors == []
    finally:
        context.close()

    # The same through the API: the search with distances, the saved list, the home page's featured gig.
    client = tenant_client("acme")
    found = client.get("/api/v1/gigs?q=plumber&near=Manchester&within_km=10&sort=distance").json
    items = found["items"] if isinstance(found, dict) else found
    on_site = [(item["id"], item["distance_km"]) for item in items if item["distance_km"] is not None]
    assert [gig_id for gig_id, _ in on_site] == [plumbers["nearer"], plumbers["near"]]
    assert [round(km, 1) for _, km in on_site] == [2.0, 6.0]
    home = client.get("/").get_data(as_text=True)
    assert "fix your leaking pipes" in home
    buyer_api, headers = api_token(acme, "buyer@acme.test")
    lists = buyer_api.get("/api/v1/saved-lists", headers=headers).json
    lists = lists["items"] if isinstance(lists, dict) else lists
    (default,) = lists
    gigs = buyer_api.get(f"/api/v1/saved-lists/{default['id']}/gigs", headers=headers).json
    gigs = gigs["items"] if isinstance(gigs, dict) else gigs
    assert [g.get("gig_id", g.get("id")) for g in gigs] == [plumbers["nearer"]]
