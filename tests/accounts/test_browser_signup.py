"""In a real browser: sign up, follow the emailed verification link, log in, become a seller."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "violet-harbor-lantern-42"


def test_sign_up_verify_log_in_and_become_a_seller(live_server, browser, acme, mailbox, run_jobs, user_row):
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(live_server.url("acme.localhost", "/"))
        page.get_by_test_id("signup-link").click()
        page.get_by_label("Your name").fill("Bea Browser")
        page.get_by_label("Email").fill("bea@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create my account").click()
        page.wait_for_url("**/account")
        assert page.get_by_test_id("verify-notice").is_visible()

        run_jobs()
        (message,) = mailbox.wait_for(1)
        assert "Acme Test Market" in message["From"]
        (link,) = [url for url in mailbox.links(message) if "/verify/" in url]
        assert link.startswith(live_server.url("acme.localhost", "/verify/"))

        page.get_by_test_id("logout").click()
        page.wait_for_url(live_server.url("acme.localhost", "/"))
        page.goto(link)
        page.wait_for_url("**/login")
        assert "Your email address is confirmed" in page.content()
        assert user_row(acme, email="bea@example.com").email_verified_at is not None

        page.get_by_label("Email").fill("bea@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/dashboard")  # the landing page after login
        assert page.get_by_test_id("account-link").inner_text() == "Bea Browser"

        page.get_by_role("link", name="Become a seller").first.click()
        page.wait_for_url("**/account/seller")
        page.get_by_label("Headline").fill("Illustrations for children's books")
        page.get_by_label("About your services").fill("Watercolour and ink, delivered as print-ready files.")
        page.get_by_label("Skills").fill("illustration, watercolour")
        page.get_by_label("Hourly rate").fill("38")
        page.get_by_label("Availability").select_option("occasional")
        page.get_by_role("button", name="Become a seller").click()
        page.wait_for_url("**/account/seller")
        assert "You are now a seller" in page.content()

        handle = user_row(acme, email="bea@example.com").handle
        page.goto(live_server.url("acme.localhost", f"/u/{handle}"))
        assert page.get_by_test_id("seller-headline").inner_text() == "Illustrations for children's books"
        assert page.get_by_test_id("hourly-rate").inner_text() == "$38.00"
    finally:
        context.close()
