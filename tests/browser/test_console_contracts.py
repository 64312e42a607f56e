"""End to end in headless Chromium: the console's contracts area at 390 and 1366 px (no
sideways scrolling, nothing cut off): the contracts list, a contract's page (active, completed,
an offer), the milestones queue (and its refused filter), the dashboard with the
jobs-and-contracts tiles; an admin ending a contract through the confirmation dialog.

Set GIGFORGE_SCREENSHOTS=<folder> to keep a full-page screenshot of each page at both widths.
"""

from __future__ import annotations

import pytest

from app.contracts.models import Contract
from app.orders.models import Order
from tenants.db import db
from tests.browser.test_console_reviews import _fits, _log_in, _shot
from tests.browser.test_phone_layout import DESKTOP, PHONE
from tests.conftest import ADMIN_PASSWORD
from tests.console.contracts_kit import contract_in, contracts_market, hiring  # noqa: F401  (fixtures)
from tests.console.jobs_kit import people  # noqa: F401  (fixture)
from tests.helpers import watched_page

pytestmark = pytest.mark.browser


def test_the_contracts_pages_fit_a_phone_and_a_laptop(browser, live_server, contracts_market, acme):  # noqa: F811
    m = contracts_market(acme)
    pages = [
        ("console-contracts", "/console/contracts"),
        ("console-contract", f"/console/contracts/{m.active}"),
        ("console-contract-done", f"/console/contracts/{m.done}"),
        ("console-contract-offer", f"/console/contracts/{m.offered}"),
        ("console-milestones", "/console/milestones"),
        ("console-milestones-due", "/console/milestones?due_within=14"),
        ("console-dashboard-contracts", "/console/?period=30d"),
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
                if name == "console-contract":
                    page.get_by_text("The text both parties sign").click()  # open the SoW
                _fits(page, name, problems)
                _shot(page, name)
            # A refused filter: the message on the field, no rows.
            page.goto(live_server.url("acme.localhost", "/console/milestones?due_within=999"))
            assert page.locator(".field-error").count() == 1
            _fits(page, "console-milestones-refused", problems)
            _shot(page, "console-milestones-refused")
        finally:
            context.close()
    assert [e for e in errors if "422" not in e] == []  # the refused filter answers 422, on purpose
    assert not problems, "\n".join(problems)


def test_an_admin_ends_a_contract_through_the_confirmation_dialog(
    browser,
    live_server,
    contracts_market,  # noqa: F811
    acme,
    in_tenant,
):
    m = contracts_market(acme)
    context = browser.new_context(viewport=PHONE)
    errors: list[str] = []
    try:
        page = watched_page(context, errors)
        _log_in(page, live_server, "admin@acme.test", ADMIN_PASSWORD)
        page.goto(live_server.url("acme.localhost", "/console/milestones?state=submitted"))
        page.get_by_role("link", name=f"C-{m.active}", exact=True).click()
        page.wait_for_load_state()
        assert page.get_by_test_id("contract-status").inner_text() == "Active"
        page.get_by_label("Why the marketplace ends this contract").fill(
            "The freelancer's account was taken over."
        )
        page.get_by_test_id("end-button").click()
        dialog = page.get_by_test_id("confirm-dialog")
        dialog.wait_for(state="visible")
        assert "$1,000.00 in escrow goes back to the client" in dialog.inner_text()
        _shot(page, "console-contract-end-confirm")
        page.get_by_test_id("confirm-dialog-cancel").click()
        with in_tenant(acme):
            assert db.session.get(Contract, m.active).status == "active"
        page.get_by_test_id("end-button").click()
        page.get_by_test_id("confirm-dialog-yes").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("contract-status").inner_text() == "Cancelled"
        assert "taken over" in page.get_by_test_id("end-reason").inner_text()
        assert "$1,000.00 goes back to the client" in page.locator(".flash").first.inner_text()
        _shot(page, "console-contract-ended-by-operator")
    finally:
        context.close()
    assert errors == []
    with in_tenant(acme):
        db.session.expire_all()
        contract = db.session.get(Contract, m.active)
        order = db.session.get(Order, m.order_id)
        assert contract.status == "cancelled" and [x.status for x in order.milestones] == [
            "refunded",
            "cancelled",
        ]
