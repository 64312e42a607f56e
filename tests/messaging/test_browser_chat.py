"""End to end in headless Chromium: a buyer and a seller chat live in two browser contexts."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def _signed_in_page(browser, socket_server, cookie):
    context = browser.new_context(viewport={"width": 390, "height": 800})  # a phone
    context.add_cookies([{"name": "session", "value": cookie, "url": socket_server.url("acme")}])
    return context, context.new_page()


def test_buyer_and_seller_chat_live(
    browser, socket_server, acme, make_user, make_seller, start_conversation, session_cookie
):
    buyer = make_user(acme, email="buyer@example.com", display_name="Bea Buyer")
    seller = make_seller(acme, email="seller@example.com", display_name="Sam Seller")
    cid = start_conversation(acme, buyer, seller)
    bea_context, bea = _signed_in_page(browser, socket_server, session_cookie(acme, "buyer@example.com"))
    sam_context, sam = _signed_in_page(browser, socket_server, session_cookie(acme, "seller@example.com"))
    errors = []
    for page in (bea, sam):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # Console errors, except the missing favicon's 404.
        page.on(
            "console",
            lambda msg: (
                errors.append(msg.text)
                if msg.type == "error" and "Failed to load resource" not in msg.text
                else None
            ),
        )
    try:
        for page in (bea, sam):
            page.goto(socket_server.url("acme", f"/inbox/{cid}"))
            page.wait_for_selector("[data-testid=chat][data-joined='1']", timeout=10_000)

        bea.get_by_test_id("chat-input").fill("Hello Sam, see https://example.com/brief")
        # The seller sees the buyer typing before the message is sent.
        sam.wait_for_selector("[data-testid=typing]:not([hidden])", timeout=5_000)
        assert "Bea Buyer is typing" in sam.get_by_test_id("typing").inner_text()
        bea.get_by_test_id("chat-send").click()

        incoming = sam.locator("[data-testid=message]").last
        incoming.wait_for(timeout=5_000)
        assert "Hello Sam" in incoming.inner_text()
        assert incoming.locator(".chat-body a").get_attribute("href") == "https://example.com/brief"
        # The seller's page is visible, so it marks the message read: the buyer sees "Seen".
        bea.wait_for_selector("[data-testid=seen]:not([hidden])", timeout=5_000)

        sam.get_by_test_id("chat-input").fill("Hi Bea! On it.")
        sam.get_by_test_id("chat-input").press("Enter")
        reply = bea.locator("[data-testid=message]", has_text="On it.")
        reply.wait_for(timeout=5_000)
        assert bea.locator("[data-testid=message]").count() == 2
        assert errors == []
    finally:
        bea_context.close()
        sam_context.close()
