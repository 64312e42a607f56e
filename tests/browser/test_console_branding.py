"""End to end in headless Chromium: an operator rebrands in the console, watching the live
preview, and the public home page wears the new colours, logo and favicon."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.conftest import ADMIN_PASSWORD
from tests.helpers import watched_page

pytestmark = pytest.mark.browser


def logo_file(tmp_path) -> str:
    path = tmp_path / "logo.png"
    image = Image.new("RGBA", (480, 120), (255, 255, 255, 0))
    image.paste((250, 200, 20, 255), (0, 0, 120, 120))
    out = io.BytesIO()
    image.save(out, format="PNG")
    path.write_bytes(out.getvalue())
    return str(path)


def test_operator_changes_colours_and_logo_and_the_home_page_shows_them(browser, live_server, tmp_path):
    context = browser.new_context()
    errors = []
    try:
        page = watched_page(context, errors)
        page.goto(live_server.url("acme.localhost", "/login"))
        page.get_by_label("Email").fill("admin@acme.test")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()

        page.goto(live_server.url("acme.localhost", "/console/branding"))
        header = page.locator("#brand-preview .brand-preview-header")
        assert header.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(15, 118, 110)"

        # The live preview follows the colour field and the picker before anything is saved.
        page.get_by_test_id("primary_color").fill("#b91c1c")
        assert header.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(185, 28, 28)"
        assert page.get_by_test_id("primary_color-picker").input_value() == "#b91c1c"
        page.get_by_test_id("accent_color-picker").fill("#1e3a8a")
        assert page.get_by_test_id("accent_color").input_value() == "#1e3a8a"
        cta = page.locator("#brand-preview .brand-preview-cta")
        assert cta.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(30, 58, 138)"
        page.get_by_test_id("brand-name").fill("Acme Studio")
        assert page.locator("#brand-preview [data-preview-text=name]").inner_text() == "Acme Studio"
        # A light colour gets a readability hint.
        page.get_by_test_id("primary_color").fill("#fafafa")
        assert "hard to read" in page.locator("[data-preview-contrast]").inner_text()
        page.get_by_test_id("primary_color").fill("#b91c1c")
        assert page.locator("[data-preview-contrast]").inner_text() == ""
        page.get_by_test_id("save-branding").click()
        page.wait_for_load_state()
        assert "Branding saved" in page.content()

        # The logo: previewed as soon as it is chosen, then uploaded.
        page.get_by_test_id("logo-input").set_input_files(logo_file(tmp_path))
        preview_logo = page.locator("#brand-preview [data-preview-logo]")
        preview_logo.wait_for(state="visible")
        assert preview_logo.get_attribute("src").startswith("data:image/png")
        page.get_by_test_id("upload-logo").click()
        page.wait_for_load_state()
        assert "New logo saved" in page.content()
        page.get_by_test_id("favicon-input").set_input_files(logo_file(tmp_path))
        page.get_by_test_id("upload-favicon").click()
        page.wait_for_load_state()

        # A visitor (no session) sees the new branding on the public home page.
        visitor = browser.new_context()
        try:
            home = visitor.new_page()
            home.on("pageerror", lambda exc: errors.append(str(exc)))
            response = home.goto(live_server.url("acme.localhost", "/"))
            assert response.status == 200
            assert home.get_by_test_id("marketplace-name").inner_text() == "Acme Studio"
            assert home.title() == "Acme Studio"
            site_header = home.locator(".site-header")
            assert site_header.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(185, 28, 28)"
            heading = home.get_by_test_id("marketplace-name")
            assert heading.evaluate("el => getComputedStyle(el).color") == "rgb(30, 58, 138)"
            logo = home.get_by_test_id("brand-logo")
            logo.wait_for(state="visible")
            assert logo.evaluate("img => img.complete && img.naturalWidth") == 480
            favicon = home.locator("link[rel=icon]").get_attribute("href")
            icon = home.evaluate(
                "async url => { const r = await fetch(url); "
                "return [r.status, r.headers.get('content-type')]; }",
                favicon,
            )
            assert icon == [200, "image/png"]
            # Globex is untouched.
            home.goto(live_server.url("globex.localhost", "/"))
            assert home.locator(".site-header").evaluate("el => getComputedStyle(el).backgroundColor") == (
                "rgb(109, 40, 217)"
            )
            assert home.get_by_test_id("brand-logo").count() == 0
        finally:
            visitor.close()
        assert errors == []
    finally:
        context.close()
