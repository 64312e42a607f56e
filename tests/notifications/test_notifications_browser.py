"""The bell in headless Chromium: a live push raises the badge; mark all read clears it."""

from __future__ import annotations

import pytest

from app.notifications import services
from app.realtime import is_online
from tenants.db import db
from tests.helpers import wait_until

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"


def test_the_bell_updates_live_and_mark_all_read_clears_it(
    app, browser, live_server, acme, make_user, in_tenant
):
    ada = make_user(acme, email="ada@example.com", display_name="Ada")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(live_server.url("acme.localhost", "/login"))
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/dashboard")
        page.goto(live_server.url("acme.localhost", "/"))
        badge = page.get_by_test_id("notification-badge")
        assert badge.is_hidden()
        page.wait_for_function("() => typeof io !== 'undefined'")

        def connected() -> bool:  # the page's socket joined Ada's room (presence is marked after)
            with app.app_context():
                return is_online(acme.id, ada)

        wait_until(connected, timeout=10, message="the page's socket never connected")

        with in_tenant(acme):
            services.notify(ada, "order_delivered", {"order_id": 5, "actor_name": "Sam"}, url="/orders/5")
            db.session.commit()

        page.wait_for_function(
            "() => document.querySelector('[data-testid=notification-badge]').textContent.trim() === '1'"
        )
        page.get_by_test_id("notification-bell-button").click()
        dropdown = page.get_by_test_id("notification-dropdown")
        assert dropdown.is_visible()
        assert dropdown.get_by_test_id("notification-item").first.inner_text() == "Sam delivered order #5."
        page.get_by_test_id("notification-mark-all").click()
        page.wait_for_function("() => document.querySelector('[data-testid=notification-badge]').hidden")
        with in_tenant(acme):
            assert services.unread_count(db.session.get(services.User, ada)) == 0
    finally:
        context.close()
