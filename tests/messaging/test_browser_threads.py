"""Headless Chromium at a phone's and a laptop's width: Ana replies to Bob's message (the quote
bar, the quote in the thread, a click on it scrolls to the parent), picks @bob from the
autocomplete; Bob sees the reply live with its quote and his mention highlighted.
Set GIGFORGE_SCREENSHOTS=<folder> to keep screenshots of both sides at both widths."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.accounts.models import User
from tenants.db import db
from tests.browser.test_console_reviews import _fits, _shot

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [390, 1366])
def test_reply_and_mention_live(
    browser, socket_server, acme, make_user, start_conversation, session_cookie, in_tenant, width
):
    ana = make_user(acme, email="ana@example.com", display_name="Ana Client")
    bob = make_user(acme, email="bob@example.com", display_name="Bob Builder")
    with in_tenant(acme):
        db.session.get(User, ana).handle = "ana"
        db.session.get(User, bob).handle = "bob-builder"
        db.session.commit()
    cid = start_conversation(acme, ana, bob)
    pages, contexts, errors, problems = {}, [], [], []
    for name, email in (("ana", "ana@example.com"), ("bob", "bob@example.com")):
        context = browser.new_context(viewport={"width": width, "height": 800})
        context.add_cookies(
            [{"name": "session", "value": session_cookie(acme, email), "url": socket_server.url("acme")}]
        )
        contexts.append(context)
        page = pages[name] = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                errors.append(msg.text)
                if msg.type == "error" and "Failed to load resource" not in msg.text
                else None
            ),
        )
    try:
        for page in pages.values():
            page.goto(socket_server.url("acme", f"/inbox/{cid}"))
            page.wait_for_selector("[data-testid=chat][data-joined='1']", timeout=10_000)
        bob_page, ana_page = pages["bob"], pages["ana"]
        bob_page.get_by_test_id("chat-input").fill(
            "Here is the first draft of the kitchen plan, what do you think?"
        )
        bob_page.get_by_test_id("chat-send").click()
        parent = ana_page.get_by_test_id("message").first
        parent.wait_for(timeout=5_000)
        for n in range(6):  # enough to scroll the parent away
            ana_page.get_by_test_id("chat-input").fill(f"note {n}")
            ana_page.get_by_test_id("chat-send").click()
            expect(ana_page.get_by_test_id("message")).to_have_count(n + 2, timeout=5_000)

        parent.get_by_test_id("reply").click()
        bar = ana_page.get_by_test_id("replying")
        assert bar.is_visible() and "Bob Builder" in bar.inner_text() and "first draft" in bar.inner_text()
        box = ana_page.get_by_test_id("chat-input")
        box.type("Looks good @bo")
        options = ana_page.get_by_test_id("mention-option")
        options.first.wait_for(timeout=3_000)
        assert options.count() == 1 and "@bob-builder" in options.first.inner_text()
        _shot(ana_page, "chat-mention-autocomplete")
        _fits(ana_page, "chat with autocomplete", problems)
        box.press("Enter")  # picks the handle, does not send
        assert box.input_value() == "Looks good @bob-builder "
        box.type("please check the sink")
        box.press("Enter")

        reply = bob_page.locator("[data-testid=message]").last
        reply.get_by_test_id("message-quote").wait_for(timeout=5_000)
        assert "first draft" in reply.get_by_test_id("message-quote").inner_text()
        assert reply.locator(".mention").inner_text() == "@bob-builder"
        assert not bar.is_visible()
        _shot(bob_page, "chat-reply-received")
        _fits(bob_page, "chat with a reply", problems)

        # A click on the quote brings the parent into view.
        bob_page.locator(".chat-log").evaluate("el => el.scrollTop = el.scrollHeight")
        reply.get_by_test_id("message-quote").click()
        first = bob_page.get_by_test_id("message").first
        expect(first).to_have_class(re.compile("chat-flash"), timeout=3_000)
        # After a reload the thread is rendered by the server the same way.
        ana_page.reload()
        ana_page.wait_for_selector("[data-testid=chat][data-joined='1']", timeout=10_000)
        assert "first draft" in ana_page.get_by_test_id("message-quote").last.inner_text()
        _shot(ana_page, "chat-thread")
        assert errors == [] and problems == []
    finally:
        for context in contexts:
            context.close()
