"""End to end in headless Chromium: an operator creates an API key on the console's page at 390 and
1366 px (nothing wider than the screen), sees the secret once, copies it, and revokes the key
through the confirmation dialog. GIGFORGE_SCREENSHOTS=<folder> keeps a full-page screenshot of
the list, the created key's page and the key's page at both widths.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_console_reviews import _fits, _log_in, _shot
from tests.browser.test_phone_layout import DESKTOP, PHONE
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import watched_page

pytestmark = pytest.mark.browser


def test_an_operator_creates_copies_and_revokes_a_key(browser, live_server, acme, make_user):
    make_user(acme, email="old-bot@acme.test")
    problems: list[str] = []
    errors: list[str] = []
    for viewport in (PHONE, DESKTOP):
        context = browser.new_context(viewport=viewport)
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        try:
            page = watched_page(context, errors)
            _log_in(page, live_server, "admin@acme.test", ADMIN_PASSWORD)
            page.goto(live_server.url("acme.localhost", "/console/api-keys"))
            name = f"Order sync {viewport['width']}"
            page.get_by_label("Name").fill(name)
            page.get_by_test_id("scope-orders:read").check()
            page.get_by_test_id("scope-orders:write").check()
            page.get_by_test_id("scope-catalog:read").check()
            page.get_by_label("Valid until (optional)").fill("2030-06-30")
            page.get_by_test_id("create-api-key").click()
            page.wait_for_load_state()
            secret = page.get_by_test_id("api-key-secret").input_value()
            assert secret.startswith("gfk_") and len(secret) == 47
            _fits(page, "console-api-key-created", problems)
            _shot(page, "console-api-key-created")
            page.get_by_test_id("copy-api-key").click()
            expect(page.get_by_test_id("copy-api-key")).to_have_text("Copied")  # the clipboard answers later
            assert page.evaluate("navigator.clipboard.readText()") == secret

            page.goto(live_server.url("acme.localhost", "/console/api-keys"))
            assert secret not in page.content()
            assert name in page.get_by_test_id("api-keys-table").inner_text()
            _fits(page, "console-api-keys", problems)
            _shot(page, "console-api-keys")

            page.get_by_role("link", name=name).click()
            page.wait_for_load_state()
            _fits(page, "console-api-key", problems)
            _shot(page, "console-api-key")
            page.get_by_test_id("revoke-api-key").click()
            page.get_by_role("dialog").get_by_role("button", name="Revoke the key").click()
            page.wait_for_load_state()
            assert page.get_by_test_id("key-status").inner_text() == "Revoked"
        finally:
            context.close()
    assert not problems, problems
    assert not errors, errors
