"""End to end in headless Chromium: the console's payouts area at 390 and 1366 px (no sideways
scrolling, nothing cut off): payouts (a failed one with Retry), payout accounts (a pending
seller, a held one), a seller's account page, the holds; and the seller's earnings page with a
hold. An operator verifies a pending seller and retries a failed payout through the dialog.
Set GIGFORGE_SCREENSHOTS=<folder> to keep a full-page screenshot of each page at both widths.
"""

from __future__ import annotations

import pytest

from app.accounts.models import User
from app.payments import backoffice
from tenants.db import db
from tests.browser.test_console_reviews import _fits, _log_in, _shot
from tests.browser.test_phone_layout import DESKTOP, PHONE
from tests.conftest import ADMIN_PASSWORD
from tests.console.conftest import shop  # noqa: F401  (fixture)
from tests.console.test_payouts_area import _earning_seller, _failed_payout
from tests.gigs.conftest import make_gig  # noqa: F401  (fixture)
from tests.helpers import PASSWORD, watched_page

pytestmark = pytest.mark.browser


@pytest.fixture
def payouts_market(shop, make_seller, in_tenant):  # noqa: F811
    def build(tenant):
        s = shop(tenant)
        _earning_seller(s, in_tenant, tenant)
        s.failed = _failed_payout(in_tenant, tenant, s.seller_id)
        s.pending_id = make_seller(tenant, email="pending@acme.test", display_name="Penny Pending")
        s.held_id = make_seller(tenant, email="held@acme.test", display_name="Hal Held")
        with in_tenant(tenant):
            admin = db.session.get(User, s.admin_id)
            for seller_id in (s.pending_id, s.held_id):
                backoffice.start_sandbox_verification(db.session.get(User, seller_id))
            backoffice.decide_sandbox_kyc(admin, s.held_id, "verified")
            backoffice.place_hold(admin, s.held_id, "A buyer reported the portfolio as copied.")
            backoffice.place_hold(admin, s.seller_id, "Checking three chargebacks with the bank.")
            db.session.commit()
        return s

    return build


def test_the_payouts_pages_fit_a_phone_and_a_laptop(browser, live_server, payouts_market, acme):
    s = payouts_market(acme)
    pages = [
        ("console-payouts", "/console/payouts"),
        ("console-payout-accounts", "/console/payout-accounts"),
        ("console-payout-account-held", f"/console/payout-accounts/{s.seller_id}"),
        ("console-payout-account-pending", f"/console/payout-accounts/{s.pending_id}"),
        ("console-payout-holds", "/console/payout-holds"),
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
        context = browser.new_context(viewport=viewport)
        try:
            page = watched_page(context, errors)
            _log_in(page, live_server, s.seller_email, PASSWORD)
            page.goto(live_server.url("acme.localhost", "/account/earnings"))
            assert "Payouts are on hold" in page.get_by_test_id("payouts-held").inner_text()
            _fits(page, "earnings-held", problems)
            _shot(page, "earnings-held")
        finally:
            context.close()
    assert not problems, problems
    assert not errors, errors


def test_an_operator_verifies_a_seller_and_retries_a_failed_payout(
    browser, live_server, payouts_market, acme, in_tenant
):
    s = payouts_market(acme)
    context = browser.new_context(viewport=PHONE)
    errors: list[str] = []
    try:
        page = watched_page(context, errors)
        _log_in(page, live_server, "admin@acme.test", ADMIN_PASSWORD)
        page.goto(live_server.url("acme.localhost", "/console/payout-accounts?kyc=pending"))
        page.get_by_test_id(f"manage-{s.pending_id}").click()
        page.wait_for_load_state()
        page.get_by_test_id("kyc-verify").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("kyc-status").inner_text() == "Verified"
        # Release the shop seller's hold, then retry the failed payout through the dialog.
        page.goto(live_server.url("acme.localhost", f"/console/payout-accounts/{s.seller_id}"))
        page.get_by_test_id("release-button").click()
        page.wait_for_load_state()
        page.goto(live_server.url("acme.localhost", "/console/payouts?status=failed"))
        page.get_by_test_id(f"retry-{s.failed}").click()
        page.get_by_role("dialog").get_by_role("button", name="Retry the payout").click()
        page.wait_for_load_state()
        assert f"Payout #{s.failed} retried" in page.locator(".flashes").inner_text()
    finally:
        context.close()
    assert not errors, errors
