"""The resolution centre in headless Chromium, at phone and desktop widths: the buyer opens a
dispute from the order page with a file, the seller proposes a split from the dispute page, the
buyer accepts it through the confirmation dialog; My disputes and the dispute page never scroll
sideways on a phone."""

from __future__ import annotations

import os

import pytest

from app.disputes.models import Dispute
from tenants.db import db
from tests.gigs.conftest import PASSWORD, make_gig  # noqa: F401  (fixtures)
from tests.orders.conftest import drive, market  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _shot(page, name: str) -> None:
    """Full-page screenshots at both widths when GIGFORGE_SCREENSHOTS names a folder."""
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=os.path.join(folder, f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})


def _login(context, live_server, email):
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(live_server.url("acme.localhost", "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    return page


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_open_a_dispute_propose_and_accept_in_the_browser(
    browser,
    live_server,
    acme,
    market,  # noqa: F811  (the imported fixture)
    in_tenant,
    tmp_path,
):
    m = market(acme)
    with in_tenant(acme):
        order_id = drive(m, "delivered")
    proof = tmp_path / "proof.png"
    proof.write_bytes(PNG)

    buyer_context = browser.new_context(viewport={"width": 390, "height": 844})
    seller_context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        buyer = _login(buyer_context, live_server, m.buyer_email)
        buyer.goto(live_server.url("acme.localhost", f"/orders/{order_id}"))
        buyer.get_by_text("A problem with this order?").click()
        buyer.get_by_test_id("open-dispute-link").click()
        buyer.wait_for_load_state()
        _fits(buyer)
        _shot(buyer, "dispute-new")
        buyer.get_by_label("Reason").select_option("not_as_described")
        buyer.get_by_label("Your statement").fill("Two colours instead of one, as agreed in the brief.")
        buyer.get_by_label("Files (optional, up to 5)").set_input_files(str(proof))
        buyer.get_by_test_id("open-dispute-submit").click()
        buyer.wait_for_load_state()
        assert buyer.get_by_test_id("dispute-page").get_attribute("data-stage") == "self_resolution"
        assert buyer.get_by_test_id("evidence-file").count() == 1
        buyer.get_by_text("Add a link").click()
        buyer.get_by_label("Address (https://…)").fill("https://preview.example.com/logo-v2")
        buyer.get_by_role("button", name="Add the link").click()
        buyer.wait_for_load_state()
        _fits(buyer)
        dispute_url = buyer.url
        buyer.goto(live_server.url("acme.localhost", f"/orders/{order_id}"))
        assert buyer.get_by_test_id("dispute-banner").count() == 1
        _fits(buyer)
        _shot(buyer, "order-under-dispute")
        with in_tenant(acme):
            did = db.session.query(Dispute).one().id

        seller = _login(seller_context, live_server, m.seller_email)
        seller.goto(live_server.url("acme.localhost", "/disputes"))
        _fits(seller)
        _shot(seller, "disputes-list")
        seller.get_by_role("link", name=f"D-{did:06d}").click()
        seller.wait_for_load_state()
        seller.get_by_test_id("dispute-message-form").get_by_label("Message").fill(
            "The second colour was your request in the chat. Happy to meet halfway."
        )
        seller.get_by_test_id("dispute-message-form").get_by_role("button", name="Send").click()
        seller.wait_for_load_state()
        seller.get_by_text("Make a proposal").click()
        seller.get_by_label("Back to the buyer").fill("20")
        seller.get_by_role("button", name="Send the proposal").click()
        seller.wait_for_load_state()
        _fits(seller)
        _shot(seller, "dispute-open")

        buyer.goto(dispute_url.split("#")[0])
        buyer.get_by_test_id("accept-proposal").click()
        buyer.get_by_role("button", name="Accept the proposal").click()
        buyer.wait_for_load_state()
        assert buyer.get_by_test_id("dispute-page").get_attribute("data-status") == "resolved"
        _fits(buyer)
        _shot(buyer, "dispute-resolved")
        buyer.goto(live_server.url("acme.localhost", f"/orders/{order_id}"))
        assert buyer.get_by_test_id("past-disputes").count() == 1
        with in_tenant(acme):
            d = db.session.get(Dispute, did)
            assert d.outcome == "resolved_split" and d.refund_minor == 2000
            assert d.release_minor == d.amount_minor - 2000
    finally:
        buyer_context.close()
        seller_context.close()
