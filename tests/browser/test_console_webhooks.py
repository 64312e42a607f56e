"""End to end in headless Chromium: the console's Webhooks pages at 390 and 1366 px (no sideways
scrolling, nothing cut off): the list (a healthy and a failing endpoint), an endpoint's page with
its chart and log, a delivery's page, the form; and an operator adds an endpoint in the browser
and sees its secret once. Set GIGFORGE_SCREENSHOTS=<folder> to keep full-page screenshots."""

from __future__ import annotations

import pytest

from app.events import publish
from app.webhooks import services
from tenants.db import db
from tests.browser.test_console_reviews import _fits, _log_in, _shot
from tests.browser.test_phone_layout import DESKTOP, PHONE
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import watched_page
from tests.webhooks.conftest import admin_of, dead_url, make_endpoint, receiver  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_the_webhooks_pages_fit_a_phone_and_a_laptop(
    browser, live_server, acme, in_tenant, run_jobs, request
):
    start_receiver = request.getfixturevalue("receiver")
    new_endpoint = request.getfixturevalue("make_endpoint")
    dead = request.getfixturevalue("dead_url")
    r = start_receiver()
    good_id, _ = new_endpoint(
        acme, r.url, ["user.registered", "order.paid"], description="Orders into the ERP"
    )
    new_endpoint(acme, dead, ["*"])
    with in_tenant(acme):
        for _ in range(3):
            publish("user.registered", {"user_id": admin_of(acme).id})
        services.send_test_ping(admin_of(acme), good_id)
        db.session.commit()
    run_jobs(("events", "webhooks", "default"))
    assert len(r.received) == 4
    pages = [
        ("console-webhooks", "/console/webhooks"),
        ("console-webhook-endpoint", f"/console/webhooks/{good_id}"),
        ("console-webhook-delivery", f"/console/webhooks/{good_id}/deliveries/1"),
        ("console-webhook-failing", "/console/webhooks/2"),
        ("console-webhook-new", "/console/webhooks/new"),
    ]
    problems: list[str] = []
    errors: list[str] = []
    for viewport in (PHONE, DESKTOP):
        context = browser.new_context(viewport=viewport)
        try:
            page = watched_page(context, errors)
            _log_in(page, live_server, "admin@acme.test", ADMIN_PASSWORD)
            for name, path in pages:
                response = page.goto(live_server.url("acme.localhost", path))
                assert response.status == 200, (name, response.status)
                _fits(page, name, problems)
                _shot(page, name)
        finally:
            context.close()
    assert not problems, problems
    assert not errors, errors


def test_an_operator_adds_an_endpoint_and_copies_its_secret(browser, live_server, acme, request):
    r = request.getfixturevalue("receiver")()
    context = browser.new_context(viewport=DESKTOP)
    errors: list[str] = []
    try:
        page = watched_page(context, errors)
        _log_in(page, live_server, "admin@acme.test", ADMIN_PASSWORD)
        page.goto(live_server.url("acme.localhost", "/console/webhooks"))
        page.get_by_test_id("new-webhook").click()
        page.get_by_label("URL").fill(r.url)
        page.get_by_label("order.paid").check()
        page.get_by_test_id("save-webhook").click()
        secret = page.get_by_test_id("secret-value").inner_text()
        assert secret.startswith("whsec_")
        _shot(page, "console-webhook-created")
        page.reload()
        assert page.get_by_test_id("secret-value").count() == 0
    finally:
        context.close()
    assert not errors, errors
