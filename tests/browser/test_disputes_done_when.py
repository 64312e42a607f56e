"""Issue #16's browser test, end to end in headless Chromium: a buyer pays a gig order at the
sandbox, opens a dispute with a file; the seller answers and asks the marketplace to mediate; an
operator admin decides a 60/40 split in the console; the buyer's order shows the refund, the
seller's earnings the released part less the commission on it; the ledger verifies."""

from __future__ import annotations

import pytest

from app.disputes.models import Dispute
from app.ledger import services as ledger
from app.payments.models import Refund
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.browser.test_disputes_page import _login, _shot
from tests.conftest import ADMIN_PASSWORD
from tests.gigs.conftest import api_token, make_gig  # noqa: F401  (fixtures)
from tests.orders.conftest import market  # noqa: F401  (fixture)
from tests.payments.conftest import form_tokens, login

pytestmark = pytest.mark.browser
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PRICE = 5000
CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/40", "cvc": "123"}


def test_a_disputed_order_goes_up_the_ladder_to_a_60_40_split(
    browser,
    live_server,
    acme,
    market,  # noqa: F811
    api_token,  # noqa: F811
    tenant_client,
    in_tenant,
    run_jobs,
    tmp_path,
):
    m = market(acme)
    with in_tenant(acme):
        row = db.session.get(MarketplaceSettings, 1)
        row.commission_bps, row.commission_min_fee_minor = 1250, 0  # 12.5 %: 2.50 on the 20.00 released
        db.session.commit()
    buyer_api, bh = api_token(acme, m.buyer_email)
    seller_api, sh = api_token(acme, m.seller_email)
    body = {"gig_id": m.gig_id, "tier": "basic", "total_minor": PRICE, "currency": "USD"}
    placed = buyer_api.post("/api/v1/orders", json=body, headers={**bh, "Idempotency-Key": "dw-16"})
    assert placed.status_code == 201, placed.json
    order_id = placed.json["id"]
    buyer_web = login(tenant_client("acme"), m.buyer_email)
    checkout = placed.json["checkout_url"]
    paid = buyer_web.post(checkout, data={**form_tokens(buyer_web, checkout), **CARD})
    assert paid.status_code == 302
    reqs = buyer_api.post(
        f"/api/v1/orders/{order_id}/requirements", json={"requirements": "A fox"}, headers=bh
    )
    assert reqs.status_code == 200
    delivered = seller_api.post(f"/api/v1/orders/{order_id}/deliveries", json={"message": "Done"}, headers=sh)
    assert delivered.status_code == 201
    proof = tmp_path / "proof.png"
    proof.write_bytes(PNG)

    contexts = [browser.new_context(viewport={"width": 1366, "height": 900}) for _ in range(3)]
    try:
        buyer, seller, admin = contexts
        # The buyer opens the dispute from the order page, with a file.
        page = _login(buyer, live_server, m.buyer_email)
        page.goto(live_server.url("acme.localhost", f"/orders/{order_id}"))
        page.get_by_text("A problem with this order?").click()
        page.get_by_test_id("open-dispute-link").click()
        page.wait_for_load_state()
        page.get_by_label("Reason").select_option("quality")
        page.get_by_label("Your statement").fill("Half of the work is missing.")
        page.get_by_label("Files (optional, up to 5)").set_input_files(str(proof))
        page.get_by_test_id("open-dispute-submit").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("evidence-file").count() == 1
        with in_tenant(acme):
            dispute_id = db.session.query(Dispute).one().id
        # Locked: the buyer's order page no longer offers to accept the delivery.
        refused = buyer_api.post(f"/api/v1/orders/{order_id}/complete", json={}, headers=bh)
        assert refused.status_code == 409 and refused.json["errors"]["code"] == "disputed"

        # The seller answers and asks the marketplace to mediate.
        page = _login(seller, live_server, m.seller_email)
        page.goto(live_server.url("acme.localhost", f"/disputes/{dispute_id}"))
        form = page.get_by_test_id("dispute-message-form")
        form.get_by_label("Message").fill("Everything in the brief was delivered.")
        form.get_by_role("button", name="Send").click()
        page.wait_for_load_state()
        page.locator("summary", has_text="Ask the marketplace to mediate").click()
        page.get_by_test_id("escalate").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("dispute-page").get_attribute("data-stage") == "mediation"

        # The operator decides a 60/40 split in the console.
        page = admin.new_page()
        page.set_default_timeout(15_000)
        page.goto(live_server.url("acme.localhost", "/login"))
        page.get_by_label("Email").fill("admin@acme.test")
        page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        page.goto(live_server.url("acme.localhost", f"/console/disputes/{dispute_id}"))
        decide = page.get_by_test_id("decide-form")
        decide.get_by_label("Back to the buyer").fill("30")
        assert decide.get_by_label("To the seller").input_value() == "20.00"
        decide.get_by_label("Reason").fill("Part of the work was delivered.")
        decide.get_by_test_id("decide-button").click()
        page.get_by_test_id("confirm-dialog-yes").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("dispute-state").inner_text() == "Split"
        run_jobs()  # order.refunded: the sandbox gives the buyer's part back

        # Both sides see it: the buyer's refund on the order, the seller's net in earnings.
        page = buyer.pages[0]
        page.goto(live_server.url("acme.localhost", f"/orders/{order_id}"))
        assert page.get_by_test_id("money-refunded").inner_text() == "$30.00"
        assert page.get_by_test_id("money-escrow").inner_text() == "$0.00"
        _fits_wide(page)
        page = seller.pages[0]
        page.goto(live_server.url("acme.localhost", "/account/earnings"))
        assert page.get_by_test_id("balance-pending").inner_text().strip() == "$17.50"
        _shot(page, "done-when-seller-earnings")
    finally:
        for context in contexts:
            context.close()
    with in_tenant(acme):
        d = db.session.get(Dispute, dispute_id)
        assert (d.outcome, d.refund_minor, d.release_minor) == ("resolved_split", 3000, 2000)
        assert [r.amount_minor for r in db.session.query(Refund).filter_by(order_id=order_id)] == [3000]
        assert ledger.escrow_balance(order_id, "USD") == 0 and ledger.verify().ok


def _fits_wide(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
