"""End to end in headless Chromium: the console's reviews area at 390 and 1366 px (no sideways
scrolling, nothing cut off), and a moderator hiding a reported review through the confirmation
dialog; the gig's average changes and the dashboard shows the rating.

Set GIGFORGE_SCREENSHOTS=<folder> to keep a full-page screenshot of each page at both widths.
"""

from __future__ import annotations

import os

import pytest

from app.reviews import services
from tenants.db import db
from tests.browser.test_phone_layout import DESKTOP, MEASURE, PHONE
from tests.conftest import ADMIN_PASSWORD
from tests.console.review_kit import (  # noqa: F401  (fixtures)
    GOOD,
    completed,
    market,
    review_state,
    reviewed,
    user,
)
from tests.gigs.conftest import make_gig  # noqa: F401  (fixture)
from tests.helpers import PASSWORD, watched_page

pytestmark = pytest.mark.browser

LONG_DETAILS = (
    "This review links to a competitor's site and repeats the same sentence several times; "
    "https://cheaplogos.example/a-very-long-path-that-does-not-break-easily-on-small-screens"
)


@pytest.fixture
def queue(acme, reviewed, make_user, in_tenant):  # noqa: F811
    """The reviewed market, a second report (long details) and a held review."""
    r = reviewed(acme, held=True)
    other = make_user(acme, email="olga@acme.test", display_name="Olga Observer")
    with in_tenant(acme):
        services.report_review(user(other), r.one_id, "off_topic", LONG_DETAILS)
        db.session.commit()
    return r


def _log_in(page, live_server, email, password=PASSWORD):
    page.goto(live_server.url("acme.localhost", "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url


def _shot(page, name: str) -> None:
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        width = page.viewport_size["width"]
        page.screenshot(path=os.path.join(folder, f"{name}-{width}.png"), full_page=True)


def _fits(page, name: str, problems: list) -> None:
    m = page.evaluate(MEASURE)
    if m["scrollWidth"] > m["innerWidth"]:
        problems.append(f"{name} at {m['innerWidth']}: {m['scrollWidth']} px wide ({'; '.join(m['wide'])})")
    elif m["wide"]:
        problems.append(f"{name} at {m['innerWidth']}: cut off ({'; '.join(m['wide'])})")


def test_the_reviews_pages_fit_a_phone_and_a_laptop(browser, live_server, queue, in_tenant, acme):
    problems: list[str] = []
    errors: list[str] = []
    pages = [
        ("console-reviews", "/console/reviews"),
        ("console-review", f"/console/reviews/{queue.one_id}"),
        ("console-review-held", f"/console/reviews/{queue.held_id}"),
        ("console-reputation", "/console/reputation"),
        ("console-dashboard-reviews", "/console/?period=7d"),
    ]
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
            # The settings refused: every bad field shows its message, still within the width.
            page.goto(live_server.url("acme.localhost", "/console/reputation"))
            page.get_by_test_id("window-days").fill("91")
            page.get_by_test_id("level_2-orders").fill("3")
            page.get_by_test_id("level_1-earnings").fill("a lot")
            page.get_by_test_id("save-reputation").click()
            page.wait_for_load_state()
            assert page.locator(".field-error").count() == 3
            _fits(page, "console-reputation-refused", problems)
            _shot(page, "console-reputation-refused")
        finally:
            context.close()
    assert [e for e in errors if "422" not in e] == []  # the refused form answers 422, on purpose
    assert not problems, "\n".join(problems)
    with in_tenant(acme):
        assert review_state(queue.one_id)["status"] == "published"


def test_a_moderator_hides_a_reported_review_through_the_confirmation_dialog(
    browser, live_server, queue, in_tenant, acme
):
    context = browser.new_context(viewport=PHONE)
    errors: list[str] = []
    try:
        page = watched_page(context, errors)
        _log_in(page, live_server, queue.moderator_email)
        page.goto(live_server.url("acme.localhost", "/console/reviews"))
        assert page.get_by_test_id("queue-total").inner_text() == "2"
        page.get_by_test_id(f"decide-{queue.one_id}").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("review-status").inner_text() == "Published"
        page.get_by_label("Why it is hidden").fill("Advertises another website.")
        page.get_by_test_id("hide-button").click()
        dialog = page.get_by_test_id("confirm-dialog")
        dialog.wait_for(state="visible")
        assert "leaves the averages" in dialog.inner_text()
        _shot(page, "console-review-confirm")
        page.get_by_test_id("confirm-dialog-cancel").click()
        with in_tenant(acme):  # going back did nothing
            assert review_state(queue.one_id)["status"] == "published"
        page.get_by_test_id("hide-button").click()
        page.get_by_test_id("confirm-dialog-yes").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("review-status").inner_text() == "Hidden"
        assert "5.00 from 1 review" in page.get_by_test_id("gig-rating").inner_text()
        with in_tenant(acme):
            state = review_state(queue.one_id)
            assert state["status"] == "hidden" and state["gig_rating"] == (5.0, 1)
        page.goto(live_server.url("acme.localhost", "/console/reviews"))
        assert page.get_by_test_id("queue-total").inner_text() == "1"  # the held one is left
        assert errors == []
    finally:
        context.close()
