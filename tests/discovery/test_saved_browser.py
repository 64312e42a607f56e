"""Saved gigs in headless Chromium: the heart on a card toggles in place (no reload), the gig
page's heart and "Save to list" chooser, /saved and /saved/<id> (move, rename). Every page fits
a 390 px phone; GIGFORGE_SCREENSHOTS=<folder> keeps screenshots at 390 and 1366 px."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image
from playwright.sync_api import expect

from app.accounts.models import User
from app.discovery import saved
from app.gigs import services as gig_services
from app.gigs.models import Gig
from tenants.db import db
from tests.browser.test_phone_layout import MEASURE
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
FRAMES = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
COLOURS = [(29, 191, 115), (64, 65, 69), (230, 126, 34), (52, 152, 219), (155, 89, 182)]


def _png(color) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), color).save(out, format="PNG")
    return out.getvalue()


def _shot(page, name: str) -> None:
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    size = page.viewport_size
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        page.evaluate(FRAMES)
        if viewport is PHONE:
            m = page.evaluate(MEASURE)  # no sideways scrolling, nothing cut off at the right edge
            assert m["scrollWidth"] <= PHONE["width"] and not m["wide"], (name, m)
        if folder:
            os.makedirs(folder, exist_ok=True)
            page.screenshot(path=os.path.join(folder, f"{name}-{viewport['width']}.png"), full_page=True)
    page.set_viewport_size(size)


def test_saving_gigs_in_the_browser(browser, live_server, acme, saved_shop, in_tenant, as_user):
    s = saved_shop(acme, gigs=4)
    with in_tenant(acme):
        seller = db.session.get(User, s.seller)
        for n, gig_id in enumerate(s.gigs[:3]):
            gig_services.add_gig_image(seller, db.session.get(Gig, gig_id), _png(COLOURS[n]))
        gig = db.session.get(Gig, s.gigs[0])
        gig_path, category_path = f"/gigs/{gig.slug}", f"/c/{gig.category.slug}"
        db.session.commit()
    with as_user(acme, s.buyer) as buyer:
        ideas = saved.create_list(buyer, "Logo ideas for the spring launch campaign").id
        saved.save_gig(buyer, s.gigs[1], ideas)
        saved.save_gig(buyer, s.gigs[2], ideas)
        saved.create_list(buyer, "Later")
    with as_user(acme, s.seller) as seller:
        gig_services.pause_gig(seller, db.session.get(Gig, s.gigs[2]))

    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(live_server.url("acme.localhost", "/login"))
        page.get_by_label("Email").fill("buyer@acme.test")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()

        # A card grid: the heart toggles in place (the page is not reloaded).
        page.goto(live_server.url("acme.localhost", category_path))
        heart = page.get_by_test_id(f"heart-{s.gigs[0]}")
        assert heart.get_attribute("aria-pressed") == "false"
        page.evaluate("window.__same_page = true")
        heart.click()
        expect(heart).to_have_attribute("aria-pressed", "true")
        assert page.evaluate("window.__same_page") is True
        assert heart.locator(".heart-label").text_content() == "Saved"
        _shot(page, "saved-cards")
        with as_user(acme, s.buyer) as buyer:
            assert saved.is_saved(buyer, s.gigs[0])

        # The gig page: heart with its label, the chooser open.
        page.goto(live_server.url("acme.localhost", gig_path))
        assert page.get_by_test_id(f"heart-{s.gigs[0]}").get_attribute("aria-pressed") == "true"
        page.get_by_test_id("save-chooser").locator("summary").click()
        _shot(page, "saved-gig-page")
        page.get_by_test_id(f"save-to-list-{ideas}").click()
        page.wait_for_load_state()
        with as_user(acme, s.buyer) as buyer:
            assert saved.lists_with(buyer, s.gigs[0]) == {saved.default_list(buyer).id, ideas}

        page.get_by_test_id("saved-link").first.click()
        page.wait_for_load_state()
        assert page.get_by_test_id(f"saved-list-count-{ideas}").text_content().startswith("3 gigs")
        _shot(page, "saved-lists")

        page.goto(live_server.url("acme.localhost", f"/saved/{ideas}"))
        assert page.get_by_test_id(f"unavailable-{s.gigs[2]}").is_visible()
        page.get_by_test_id("rename-toggle").click()
        _shot(page, "saved-list")
        page.locator("#name").fill("Spring logos")
        page.get_by_test_id("rename-save").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("list-name").text_content() == "Spring logos"
        page.get_by_test_id(f"move-{s.gigs[1]}").click()
        page.wait_for_load_state()
        assert page.get_by_test_id(f"saved-item-{s.gigs[1]}").count() == 0
    finally:
        context.close()
