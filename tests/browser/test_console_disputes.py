"""End to end in headless Chromium: the console's disputes area at 390 and 1366 px (no
sideways scrolling, nothing cut off): the queue, a case in mediation (as the admin and as a
moderator, whose Decide is disabled), a decided case, the settings with the experts, the
dashboard's dispute figures; an admin deciding a 60/40 split with the live preview and the
confirmation dialog.

Set GIGFORGE_SCREENSHOTS=<folder> to keep a full-page screenshot of each page at both widths.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.disputes import services
from app.disputes.models import Dispute, DisputeExpert
from app.ledger import services as ledger
from app.storage.uploads import Upload
from tenants.db import db
from tests.browser.test_console_reviews import _fits, _log_in, _shot
from tests.browser.test_phone_layout import DESKTOP, PHONE
from tests.conftest import ADMIN_PASSWORD
from tests.disputes.conftest import make_gig, market, moderator_of, user  # noqa: F401  (fixtures)
from tests.helpers import watched_page
from tests.orders.conftest import drive

pytestmark = pytest.mark.browser
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def cases(market, moderator_of, make_user, in_tenant, acme):  # noqa: F811
    m = market(acme)
    m.moderator_id = moderator_of(acme)
    expert_id = make_user(acme, email="eve@acme.test", display_name="Eve Expert")
    now = datetime.now(UTC)
    with in_tenant(acme):
        db.session.add(DisputeExpert(user_id=expert_id, field="Brand design", appointed_at=now))
        ids = []
        for _ in range(3):
            order_id = drive(m, "delivered")
            d = services.open_dispute(
                user(m.buyer_id),
                order_id,
                "not_as_described",
                "The logo is not what we agreed: the brief asked for a round mark in blue, "
                "the delivery is a square wordmark in red.",
                now=now,
            )
            ids.append(d.id)
        buyer = user(m.buyer_id)
        services.add_evidence(buyer, ids[0], "file", files=[Upload("brief.png", "image/png", PNG)], now=now)
        services.add_evidence(
            buyer, ids[0], "link", url="https://example.com/brief/v2", text="The brief", now=now
        )
        services.propose(user(m.seller_id), ids[0], 1000, 4000, "A small refund for the colour?", now=now)
        services.escalate(buyer, ids[0], now=now)
        services.assign(user(m.moderator_id), ids[0], now=now)
        services.post_message(
            user(m.moderator_id), ids[0], "Please both add the files you exchanged.", now=now
        )
        services.escalate(buyer, ids[1], now=now)
        services.decide(user(m.admin_id), ids[1], 2500, 2500, "Half the work matches the brief.", now=now)
        db.session.commit()
    m.ids = ids
    return m


def test_the_dispute_pages_fit_a_phone_and_a_laptop(browser, live_server, cases, acme):
    pages = [
        ("console-disputes", "/console/disputes"),
        ("console-disputes-all", "/console/disputes?status=&sort=deadline"),
        ("console-dispute", f"/console/disputes/{cases.ids[0]}"),
        ("console-dispute-decided", f"/console/disputes/{cases.ids[1]}"),
        ("console-dispute-new", f"/console/disputes/{cases.ids[2]}"),
        ("console-dispute-settings", "/console/disputes/settings"),
        ("console-dashboard-disputes", "/console/?period=30d"),
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
            context.clear_cookies()
            _log_in(page, live_server, "mod@acme.test")
            page.goto(live_server.url("acme.localhost", f"/console/disputes/{cases.ids[0]}"))
            assert page.get_by_test_id("decide-button").is_disabled()
            _fits(page, "console-dispute-moderator", problems)
            _shot(page, "console-dispute-moderator")
        finally:
            context.close()
    assert errors == []
    assert not problems, "\n".join(problems)


def test_an_admin_decides_a_split_with_the_preview_and_the_dialog(
    browser, live_server, cases, acme, in_tenant
):
    context = browser.new_context(viewport=PHONE)
    errors: list[str] = []
    try:
        page = watched_page(context, errors)
        _log_in(page, live_server, "admin@acme.test", ADMIN_PASSWORD)
        page.goto(live_server.url("acme.localhost", f"/console/disputes/{cases.ids[0]}"))
        form = page.get_by_test_id("decide-form")
        form.get_by_label("Back to the buyer").fill("30")
        assert form.get_by_label("To the seller").input_value() == "20.00"  # the rest of what is held
        preview = form.locator("[data-split-preview]").inner_text()
        assert "The buyer gets $30.00 back; the seller gets $20.00" in preview
        form.get_by_label("Reason").fill("Part of the work matches the brief.")
        form.get_by_test_id("decide-button").click()
        page.get_by_test_id("confirm-dialog-yes").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("dispute-state").inner_text() == "Split"
        _shot(page, "console-dispute-after-decision")
    finally:
        context.close()
    assert errors == []
    with in_tenant(acme):
        d = db.session.get(Dispute, cases.ids[0])
        assert (d.refund_minor, d.release_minor) == (3000, 2000)
        assert ledger.verify().ok
