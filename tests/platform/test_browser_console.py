"""End to end in headless Chromium: a platform admin creates and suspends a tenant from the console."""

from __future__ import annotations

import os

import pytest

from app.core import otp

pytestmark = pytest.mark.browser


def _shot(page, name: str) -> None:
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"platform-{name}.png"), full_page=True)


def test_platform_admin_creates_and_suspends_a_tenant(browser, live_server, make_platform_admin):
    make_platform_admin()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(live_server.url("localhost", "/"))
        page.get_by_test_id("platform-console-link").click()
        assert "/platform/login" in page.url
        page.fill("#email", "ops@gigforge.test")
        page.fill("#password", "platform-lantern-harbor-9")
        _shot(page, "login")
        page.get_by_role("button", name="Log in").click()
        # The first sign-in sets up two-factor: the key off the page, a code, the recovery codes.
        page.wait_for_url("**/platform/login/enrol")
        _shot(page, "enrol")
        page.fill("#code", otp.current_code(page.get_by_test_id("totp-secret").inner_text().strip()))
        page.get_by_role("button", name="Confirm and sign in").click()
        page.get_by_test_id("recovery-codes").wait_for()
        assert page.locator("[data-testid=recovery-codes] li").count() == 10
        _shot(page, "recovery-codes")
        page.get_by_test_id("recovery-codes-saved").click()
        page.wait_for_url("**/platform/")  # the redirect after login, before counting its rows
        page.get_by_test_id("tenant-row").first.wait_for()
        assert page.get_by_test_id("tenant-row").count() == 2
        _shot(page, "tenants")

        page.get_by_test_id("new-tenant-button").click()
        page.fill("#name", "Initech Gigs")
        page.fill("#slug", "www")
        page.fill("#admin_email", "boss@initech.test")
        page.get_by_role("button", name="Create tenant").click()
        assert "is reserved" in page.locator("#slug-error").inner_text()
        _shot(page, "new-tenant-error")
        page.fill("#slug", "initech")
        page.get_by_role("button", name="Create tenant").click()
        assert page.url.endswith("/platform/tenants/initech")
        assert page.locator("[data-testid=health]").get_attribute("data-state") == "ok"
        _shot(page, "tenant")

        site = context.new_page()
        assert site.goto(live_server.url("initech.localhost", "/")).status == 200

        page.fill("#reason", "Trial ended")
        page.get_by_role("button", name="Suspend Initech Gigs").click()
        # The click submits a form: wait for the page it lands on, not for the click.
        page.get_by_test_id("suspended-notice").wait_for(state="visible")
        _shot(page, "suspended")
        assert site.goto(live_server.url("initech.localhost", "/")).status == 503

        page.get_by_role("button", name="Resume Initech Gigs").click()
        page.get_by_test_id("suspended-notice").wait_for(state="detached")
        assert site.goto(live_server.url("initech.localhost", "/")).status == 200

        page.get_by_test_id("platform-logout").click()
        page.wait_for_url("**/platform/login**")
    finally:
        context.close()
