"""The whole purchase in headless Chromium, on acme.localhost with the sandbox provider:
from the public gig page through the TEST MODE checkout (a declined card, a card whose
authentication fails, then the card that succeeds), the brief, the seller's delivery in a
second browser, the buyer's acceptance, to the seller's cleared earnings and a payout."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.events.models import OutboxEvent
from app.gigs.models import Gig
from app.ledger import services as ledger
from app.ledger.verify import verify
from app.orders.models import Order
from app.payments import services as payments
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.gigs.conftest import PASSWORD, make_gig  # noqa: F401  (fixtures)
from tests.payments.conftest import verify_identity

pytestmark = pytest.mark.browser

DECLINED = "4000 0000 0000 0002"
AUTHENTICATE = "4000 0025 0000 3155"
SUCCEEDS = "4242 4242 4242 4242"
# The basic package is $50.00; 10 % commission (minimum 1.00): the seller gets 45.00.
PRICE, FEE, NET = 5000, 500, 4500


def log_in(page, live_server, email):
    page.goto(live_server.url("acme.localhost", "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:2000]


def pay_with(page, number):
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry (MM/YY)").fill("12/40")
    page.get_by_label("CVC").fill("123")
    page.get_by_test_id("pay").click()
    page.wait_for_load_state()


def status_of(page) -> str:
    return page.get_by_test_id("order-status").inner_text()


@pytest.fixture
def shop(acme, make_seller, make_gig, make_user, in_tenant):  # noqa: F811  (the imported fixtures)
    """A seller with an active gig and a buyer, made through the services."""
    seller_id = make_seller(acme, email="maker@acme.test", display_name="Mia Maker")
    buyer_id = make_user(acme, email="client@acme.test", display_name="Carl Client")
    gig_id = make_gig(acme, seller_id)
    with in_tenant(acme):
        settings = db.session.get(MarketplaceSettings, 1)
        settings.payment_provider = "sandbox"
        settings.commission_bps, settings.commission_min_fee_minor = 1000, 100
        db.session.commit()
        slug = db.session.get(Gig, gig_id).slug
    return {"seller_id": seller_id, "buyer_id": buyer_id, "gig_id": gig_id, "slug": slug}


def test_purchase_from_gig_page_to_the_sellers_payout(browser, live_server, shop, acme, in_tenant, run_jobs):
    buyer_context, seller_context = browser.new_context(), browser.new_context()
    try:
        buyer, seller = buyer_context.new_page(), seller_context.new_page()
        for page in (buyer, seller):
            page.set_default_timeout(15_000)
        log_in(buyer, live_server, "client@acme.test")
        log_in(seller, live_server, "maker@acme.test")

        # --- the buyer orders the basic package from the public gig page -----------------
        buyer.goto(live_server.url("acme.localhost", f"/gigs/{shop['slug']}"))
        assert buyer.get_by_test_id("price-basic").inner_text() == "$50.00"
        buyer.get_by_test_id("order-basic").click()
        buyer.wait_for_load_state()
        assert re.search(r"/checkout/sandbox/\d+$", buyer.url), buyer.url
        checkout_url = buyer.url
        assert "TEST MODE" in buyer.get_by_test_id("sandbox-checkout").inner_text()
        assert buyer.get_by_test_id("checkout-amount").inner_text() == "$50.00"
        with in_tenant(acme):
            order = db.session.scalars(sa.select(Order)).one()
            order_id = order.id
            assert (order.status, order.total_minor, order.buyer_id) == (
                "awaiting_payment",
                PRICE,
                shop["buyer_id"],
            )

        # A declined card: a clear message, nothing paid.
        pay_with(buyer, DECLINED)
        assert "Your card was declined" in buyer.get_by_test_id("checkout-error").inner_text()
        # The card that needs a second step; the buyer fails it: back to the card form.
        pay_with(buyer, AUTHENTICATE)
        assert buyer.url.endswith("/authenticate")
        assert "TEST MODE" in buyer.get_by_test_id("sandbox-authenticate").inner_text()
        buyer.get_by_test_id("fail").click()
        buyer.wait_for_load_state()
        assert buyer.url == checkout_url
        assert "authentication failed" in buyer.get_by_test_id("checkout-error").inner_text()
        with in_tenant(acme):
            assert db.session.get(Order, order_id).status == "awaiting_payment"
            assert ledger.escrow_balance(order_id, "USD") == 0
        # The card that succeeds.
        pay_with(buyer, SUCCEEDS)
        assert buyer.url.endswith(f"/orders/{order_id}")
        assert "Payment received (test mode)" in buyer.locator(".flashes").inner_text()
        assert status_of(buyer) == "Awaiting requirements"
        assert buyer.get_by_test_id("money-escrow").inner_text() == "$50.00"

        # --- the buyer's brief starts the work ---------------------------------------------
        buyer.get_by_label("Requirements").fill("A fox in orange, for a coffee shop.")
        buyer.get_by_role("button", name="Start the order").click()
        buyer.wait_for_load_state()
        assert status_of(buyer) == "In progress"
        assert buyer.get_by_test_id("requirements").inner_text() == "A fox in orange, for a coffee shop."

        # --- the seller delivers, in their own browser ---------------------------------------
        seller.goto(live_server.url("acme.localhost", "/orders?role=seller"))
        seller.locator(f'a[href="/orders/{order_id}"]').first.click()
        seller.wait_for_load_state()
        assert status_of(seller) == "In progress"
        assert seller.get_by_test_id("money-net").inner_text() == "$45.00"
        form = seller.get_by_test_id("deliver-form")
        form.get_by_label("Message").fill("Here is your fox.")
        form.locator('input[name="files"]').set_input_files(
            files=[{"name": "fox.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 a fox"}]
        )
        form.get_by_role("button", name="Deliver").click()
        seller.wait_for_load_state()
        assert status_of(seller) == "Delivered"

        # --- the buyer sees the delivery and accepts it --------------------------------------
        buyer.reload()
        assert status_of(buyer) == "Delivered"
        assert "Here is your fox." in buyer.get_by_test_id("delivery").inner_text()
        file_link = buyer.get_by_test_id("delivery-file")
        assert file_link.inner_text() == "fox.pdf"
        # The file is served to the buyer (fetched by the page: the browser resolves *.localhost).
        served = buyer.evaluate(
            "async (href) => { const r = await fetch(href); return [r.status, await r.text()]; }",
            file_link.get_attribute("href"),
        )
        assert served == [200, "%PDF-1.4 a fox"]
        # Releasing the money asks first, in a dialog: going back does nothing.
        buyer.get_by_test_id("complete-form").get_by_role("button", name="Accept and complete").click()
        dialog = buyer.get_by_role("dialog")
        assert "released to the seller" in dialog.inner_text()
        dialog.get_by_role("button", name="Go back").click()
        assert not dialog.is_visible() and status_of(buyer) == "Delivered"
        buyer.get_by_test_id("complete-form").get_by_role("button", name="Accept and complete").click()
        buyer.get_by_role("dialog").get_by_role("button", name="Complete and release the payment").click()
        buyer.wait_for_load_state()
        assert status_of(buyer) == "Completed"
        assert buyer.get_by_test_id("money-escrow").inner_text() == "$0.00"

        # --- the earnings clear (as if the clearance delay had passed) -----------------------
        seller.goto(live_server.url("acme.localhost", "/account/earnings"))
        assert seller.get_by_test_id("balance-pending").inner_text() == "$45.00"
        assert seller.get_by_test_id("balance-available").inner_text() == "$0.00"
        with in_tenant(acme):
            delay = db.session.get(MarketplaceSettings, 1).clearance_days
            assert payments.clear_due_earnings(datetime.now(UTC) + timedelta(days=delay, minutes=1)) == 1
            db.session.commit()
        seller.reload()
        assert seller.get_by_test_id("balance-pending").inner_text() == "$0.00"
        assert seller.get_by_test_id("balance-available").inner_text() == "$45.00"
        history = seller.get_by_test_id("transactions").inner_text()
        assert "Release (fee $5.00)" in history and "Clearance" in history

        # --- identity first (the sandbox's simulated check): the seller starts it, the operator
        # verifies it in the console ------------------------------------------------------------
        assert seller.get_by_test_id("request-payout").is_disabled()
        seller.get_by_test_id("verify-identity").click()
        seller.wait_for_load_state()
        assert "In progress" in seller.get_by_test_id("kyc-status").inner_text()
        verify_identity(in_tenant, acme, shop["seller_id"], start=False)
        seller.reload()
        assert "Verified" in seller.get_by_test_id("kyc-status").inner_text()

        # --- more than the balance is refused; the whole balance is paid out -----------------
        seller.get_by_label("Amount").fill("45.01")
        seller.get_by_test_id("request-payout").click()
        seller.get_by_role("dialog").get_by_role("button", name="Send the payout").click()
        seller.wait_for_load_state()
        assert "available balance" in seller.locator(".field-error").inner_text()
        assert seller.get_by_test_id("balance-available").inner_text() == "$45.00"
        seller.get_by_label("Amount").fill("45.00")
        seller.get_by_test_id("request-payout").click()
        seller.get_by_role("dialog").get_by_role("button", name="Send the payout").click()
        seller.wait_for_load_state()
        assert "Payout sent." in seller.locator(".flashes").inner_text()
        assert seller.get_by_test_id("balance-available").inner_text() == "$0.00"
        payout_row = seller.get_by_test_id("payouts").locator("tbody tr")
        assert payout_row.count() == 1
        assert "$45.00" in payout_row.inner_text() and "sent" in payout_row.inner_text()
    finally:
        buyer_context.close()
        seller_context.close()

    # The money behind the pages: paid once, released once, cleared, paid out; the platform
    # keeps its commission; every step went out through the outbox and was delivered.
    run_jobs()
    with in_tenant(acme):
        assert ledger.seller_balances(shop["seller_id"], "USD") == {"pending": 0, "available": 0}
        assert ledger.account_balance(ledger.COMMISSION, "USD") == FEE
        assert ledger.account_balance(ledger.CLEARING, "USD") == FEE
        history = ledger.transactions_for_user(shop["seller_id"]).items
        assert sorted(i.kind for i in history) == ["clearance", "payout", "release"]
        buyer_history = ledger.transactions_for_user(shop["buyer_id"]).items
        assert [(i.kind, i.amount_minor) for i in buyer_history] == [("payment", -PRICE)]
        seller_user = db.session.get(User, shop["seller_id"])
        assert [(p.status, p.amount_minor) for p in payments.list_payouts(seller_user)[0]] == [("sent", NET)]
        events = db.session.execute(sa.select(OutboxEvent.name, OutboxEvent.status).order_by(OutboxEvent.id))
        order_events = [(name, status) for name, status in events if name.startswith(("order.", "payout."))]
        assert order_events == [
            (name, "dispatched")
            for name in (
                "order.placed",
                "order.paid",
                "order.requirements_submitted",
                "order.delivered",
                "order.completed",
                "payout.sent",
            )
        ]
        assert verify().ok
