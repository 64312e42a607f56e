"""In a real browser: turn two-factor sign-in on from the Security page (QR code, key, recovery
codes), then log in with a code. With ``GIGFORGE_SHOTS_DIR`` set, the pages are photographed at
1366 and 390 px wide."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.core import otp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct-horse-battery"
WIDTHS = (1366, 390)


def shoot(page, name: str) -> None:
    target = os.environ.get("GIGFORGE_SHOTS_DIR")
    if not target:
        return
    Path(target).mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{target}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})


def test_enrol_then_log_in_with_a_code(live_server, browser, acme, make_user):
    make_user(acme, email="ada@example.com", password=PASSWORD, display_name="Ada Lovelace")
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        page.goto(live_server.url("acme.localhost", "/login"))
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/dashboard")
        page.goto(live_server.url("acme.localhost", "/account/security"))
        shoot(page, "security-off")
        page.get_by_test_id("start-two-factor").click()
        page.wait_for_url("**/account/security/2fa")
        assert page.get_by_test_id("qr-code").locator("svg").is_visible()
        secret = page.get_by_test_id("otp-secret").inner_text().replace(" ", "")
        shoot(page, "enrol")
        page.get_by_test_id("confirm-code").fill(otp.current_code(secret, datetime.now(UTC)))
        page.get_by_role("button", name="Turn on two-factor sign-in").click()
        codes = page.get_by_test_id("recovery-codes")
        codes.wait_for()
        assert codes.locator("li").count() == 10
        recovery = codes.locator("li").first.inner_text().strip()
        assert page.get_by_test_id("download-codes").get_attribute("download").endswith("recovery-codes.txt")
        shoot(page, "recovery-codes")
        page.get_by_role("link", name="I saved them").click()
        shoot(page, "security-on")

        page.get_by_test_id("logout").click()
        page.goto(live_server.url("acme.localhost", "/login"))
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/login/2fa")
        shoot(page, "login-2fa")
        page.get_by_test_id("two-factor-code").fill("000000")
        page.get_by_role("button", name="Verify and log in").click()
        page.locator(".field-error").wait_for()
        shoot(page, "login-2fa-error")
        # A recovery code (this step's TOTP code already confirmed the enrolment: it works once).
        page.get_by_test_id("two-factor-code").fill(recovery)
        page.get_by_role("button", name="Verify and log in").click()
        page.wait_for_url("**/dashboard")
        assert page.get_by_test_id("account-link").inner_text() == "Ada Lovelace"
    finally:
        context.close()
