"""End to end in headless Chromium: two tenants, two brandings, resolved by hostname."""

import pytest

pytestmark = pytest.mark.browser


def test_each_tenant_home_shows_its_own_branding(browser, live_server):
    context = browser.new_context()
    try:
        page = context.new_page()
        seen = {}
        for slug in ("acme", "globex"):
            page.goto(live_server.url(f"{slug}.localhost", "/"))
            seen[slug] = {
                "title": page.title(),
                "name": page.get_by_test_id("marketplace-name").inner_text(),
                "header": page.eval_on_selector(".site-header", "el => getComputedStyle(el).backgroundColor"),
            }
        assert seen["acme"]["name"] == "Acme Test Market"
        assert seen["globex"]["name"] == "Globex Test Market"
        assert seen["acme"]["title"] == "Acme Test Market"
        # #0f766e and #6d28d9: the CSS variables from each tenant's settings.
        assert seen["acme"]["header"] == "rgb(15, 118, 110)"
        assert seen["globex"]["header"] == "rgb(109, 40, 217)"
    finally:
        context.close()


def test_unknown_subdomain_shows_a_bare_404(browser, live_server):
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(live_server.url("nobody.localhost", "/"))
        assert response.status == 404
        assert "Gigforge" not in page.content()
    finally:
        context.close()
