"""The order page of a custom offer with milestones, in headless Chromium at phone and desktop
widths: each milestone with its state, amount and the buyer's buttons; the buyer accepts a
submitted milestone through the confirmation and its state becomes paid."""

from __future__ import annotations

import os

import pytest

from app.accounts.models import User
from app.messaging.services import start_direct_conversation
from app.orders import milestones, services
from tenants.db import db
from tests.gigs.conftest import PASSWORD, make_gig  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def _shot(page, name: str) -> None:
    """A full-page screenshot when GIGFORGE_SCREENSHOTS names a folder."""
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        page.screenshot(
            path=os.path.join(folder, f"{name}-{page.viewport_size['width']}.png"), full_page=True
        )


def test_milestones_on_the_order_page(browser, live_server, acme, make_seller, make_user, in_tenant):
    seller_id = make_seller(acme, email="maker@acme.test", display_name="Mia Maker")
    buyer_id = make_user(acme, email="client@acme.test", display_name="Carl Client")
    with in_tenant(acme):
        seller, buyer = db.session.get(User, seller_id), db.session.get(User, buyer_id)
        conversation = start_direct_conversation(buyer, seller_id)
        offer = services.send_offer(
            seller,
            conversation.id,
            {
                "title": "Brand kit",
                "total_minor": 45000,
                "delivery_days": 10,
                "milestones": [
                    {"title": "Logo", "amount_minor": 10000},
                    {"title": "Business cards", "amount_minor": 15000},
                    {"title": "Brand guide", "amount_minor": 20000},
                ],
            },
        )
        order = services.accept_offer(buyer, offer.id)
        ids = [m.id for m in order.milestones]
        milestones.mark_milestone_funded(order.id, ids[0], "pay_browser_1")
        services.submit_requirements(buyer, order.id, "Navy and gold")
        milestones.submit_milestone(
            seller, order.id, ids[0], "Three logo variants", ["https://example.com/logo"]
        )
        order_id = order.id
        db.session.commit()

    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(live_server.url("acme.localhost", "/login"))
        page.get_by_label("Email").fill("client@acme.test")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        page.goto(live_server.url("acme.localhost", f"/orders/{order_id}"))
        rows = page.get_by_test_id("milestone")
        assert rows.count() == 3
        assert [rows.nth(i).get_attribute("data-status") for i in range(3)] == [
            "submitted",
            "planned",
            "planned",
        ]
        assert page.get_by_test_id("milestone-accept").count() == 1
        assert page.get_by_test_id("milestone-fund").count() == 2
        # Nothing wider than the phone's screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        _shot(page, "milestones")
        page.set_viewport_size({"width": 1366, "height": 900})
        _shot(page, "milestones")

        page.get_by_test_id("milestone-accept").get_by_role("button").click()
        page.wait_for_load_state()
        if page.get_by_role("button", name="Accept and release the payment").count():
            page.get_by_role("button", name="Accept and release the payment").click()
            page.wait_for_load_state()
        assert page.get_by_test_id("milestone").first.get_attribute("data-status") == "paid"
        _shot(page, "milestones-accepted")
    finally:
        context.close()
