"""The whole fixed-price contract in headless Chromium, with two browsers on acme.localhost and
the sandbox provider: the client opens the proposals of their job and hires Ann through the
hire form (terms edited before sending), Ann accepts the offer and signs the Statement of Work,
the client signs and funds milestone 1 on the TEST MODE card page, Ann submits it with its
Definition of Done ticked, the client requests changes, Ann submits again and the client
accepts it: both pages show each state and the money (escrow, then paid). The hire form and the
contract page fit a 390 px phone. Set GIGFORGE_SCREENSHOTS=<folder> to keep screenshots of them
at 390 and 1366 px."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

import pytest

from app.accounts.models import User
from app.contracts.models import Contract
from app.jobs import proposals
from app.jobs import services as jobs
from app.ledger import services as ledger
from app.ledger.verify import verify
from app.orders.models import Order
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.gigs.conftest import PASSWORD
from tests.jobs.conftest import JOB, PROPOSAL, people  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
SUCCEEDS = "4242 4242 4242 4242"
FRAMES = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
# The proposal's milestones: Design $1,000.00 and Build $2,000.00; 10 % commission.
DESIGN, BUILD = 100000, 200000


def _log_in(page, live_server, email):
    page.goto(live_server.url("acme.localhost", "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:2000]


def _shot(page, name: str) -> None:
    """Full-page screenshots at phone and desktop widths when GIGFORGE_SCREENSHOTS names a folder;
    the page must fit the phone either way."""
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    size = page.viewport_size
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        if viewport is PHONE:
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= PHONE["width"], f"{name} is {wide} px wide at 390 px"
        if folder:
            page.evaluate(FRAMES)  # the new width laid out and painted before the picture
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, f"{name}-{viewport['width']}.png")
            page.screenshot(path=path, full_page=True)
    page.set_viewport_size(size)


def _click(page, locator) -> None:
    locator.click()
    page.wait_for_load_state()


def _milestone(page, seq: int):
    return page.get_by_test_id("milestone").nth(seq - 1)


def _state(page, seq: int) -> str:
    return _milestone(page, seq).get_attribute("data-status")


def _money(page) -> tuple[str, str]:
    return page.get_by_test_id("money-escrow").inner_text(), page.get_by_test_id(
        "money-released"
    ).inner_text()


@pytest.fixture
def hiring(acme, people, in_tenant):  # noqa: F811  (the imported fixture)
    """Cleo's open job with the proposals of Ann and Bob; the sandbox provider, 10 % commission."""
    p = people(acme)
    now = datetime.now(UTC)
    with in_tenant(acme):
        settings = db.session.get(MarketplaceSettings, 1)
        settings.payment_provider = "sandbox"
        settings.commission_bps, settings.commission_min_fee_minor = 1000, 100
        client = db.session.get(User, p.client)
        job = jobs.post_job(client, dict(JOB), publish_now=True, now=now)
        ann = proposals.submit_proposal(db.session.get(User, p.ann), job.id, dict(PROPOSAL), now=now)
        proposals.submit_proposal(db.session.get(User, p.bob), job.id, dict(PROPOSAL), now=now)
        db.session.commit()
        return p, job.id, ann.id


def test_hire_sign_fund_submit_change_accept_in_two_browsers(browser, live_server, hiring, acme, in_tenant):
    p, job_id, proposal_id = hiring
    url = lambda path: live_server.url("acme.localhost", path)  # noqa: E731
    client_context, ann_context = browser.new_context(viewport=DESKTOP), browser.new_context(viewport=PHONE)
    try:
        client, ann = client_context.new_page(), ann_context.new_page()
        for page in (client, ann):
            page.set_default_timeout(15_000)
        _log_in(client, live_server, p.emails["client"])
        _log_in(ann, live_server, p.emails["ann"])

        # --- the client opens the proposals and hires Ann through the hire form --------------
        client.goto(url(f"/jobs/{job_id}/proposals"))
        assert client.get_by_test_id(f"proposal-{proposal_id}").is_visible()
        _click(client, client.get_by_test_id(f"hire-{proposal_id}"))
        assert client.url.endswith(f"/proposals/{proposal_id}/hire")
        form = client.get_by_test_id("hire-form")
        assert form.locator('input[name="m0_title"]').input_value() == "Design"
        assert form.locator('input[name="m1_amount"]').input_value() == "2000.00"
        due = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
        form.locator('input[name="m0_due"]').fill(due)
        form.locator('textarea[name="m0_dod"]').fill("Wireframes approved\nData model reviewed")
        form.locator('textarea[name="message"]').fill("Looking forward to working with you, Ann.")
        _shot(client, "contract-hire-form")
        _click(client, client.get_by_test_id("send-offer"))
        assert re.search(r"/contracts/\d+$", client.url), client.url
        contract_path = client.url.removeprefix(url(""))
        assert client.get_by_test_id("contract-status").inner_text() == "Offer sent"
        assert client.get_by_test_id("withdraw-offer").is_visible()
        _shot(client, "contract-offer-client")

        # --- Ann accepts the offer from her contracts and signs ------------------------------
        ann.goto(url("/contracts?tab=offers"))
        _click(ann, ann.locator(f'a[href="{contract_path}"]').first)
        assert "Looking forward to working with you" in ann.get_by_test_id("offer").inner_text()
        _shot(ann, "contract-offer-freelancer")
        _click(ann, ann.get_by_test_id("accept-offer"))
        assert ann.get_by_test_id("contract-status").inner_text() == "Awaiting signatures"
        sow = ann.get_by_test_id("sow-body").inner_text()
        assert "Milestone 1: Design — $1,000.00, due " + due in sow and "Data model reviewed" in sow
        _shot(ann, "contract-sign-freelancer")
        ann.get_by_label(re.compile("Type your full name to sign")).fill("Ann Dev")
        _click(ann, ann.get_by_test_id("sign-sow"))
        assert "Freelancer: Ann Dev" in ann.get_by_test_id("signatures").inner_text()
        assert ann.get_by_test_id("sign-sow").count() == 0

        # --- the client signs: the contract is active; they fund milestone 1 -----------------
        client.reload()
        client.get_by_label(re.compile("Type your full name to sign")).fill("Cleo Client")
        _click(client, client.get_by_test_id("sign-sow"))
        assert client.get_by_test_id("contract-status").inner_text() == "Active"
        assert (_state(client, 1), _state(client, 2)) == ("funding_required", "planned")
        _shot(client, "contract-active-client")
        _click(client, _milestone(client, 1).get_by_test_id("milestone-fund").get_by_role("button"))
        assert re.search(r"/checkout/sandbox/\d+$", client.url), client.url
        assert client.get_by_test_id("checkout-amount").inner_text() == "$1,000.00"
        client.get_by_label("Card number").fill(SUCCEEDS)
        client.get_by_label("Expiry (MM/YY)").fill("12/40")
        client.get_by_label("CVC").fill("123")
        _click(client, client.get_by_test_id("pay"))
        assert client.url.endswith(contract_path), client.url  # the order page sends it here
        assert _state(client, 1) == "funded"
        assert _money(client) == ("$1,000.00", "$0.00")

        # --- Ann submits milestone 1, the Definition of Done ticked --------------------------
        ann.reload()
        assert _state(ann, 1) == "funded" and _money(ann) == ("$1,000.00", "$0.00")
        submit = _milestone(ann, 1).get_by_test_id("milestone-submit")
        submit.get_by_label("What you deliver").fill("Wireframes and the data model, as agreed.")
        submit.get_by_label("Links (one a line, optional)").fill("https://example.com/figma/booking")
        for item in ("Wireframes approved", "Data model reviewed"):
            submit.get_by_label(item).check()
        _shot(ann, "contract-submit-freelancer")
        _click(ann, submit.get_by_role("button", name="Submit milestone 1"))
        assert _state(ann, 1) == "submitted"

        # --- the client requests changes; Ann submits again ----------------------------------
        client.reload()
        assert _state(client, 1) == "submitted"
        assert "Wireframes and the data model" in _milestone(client, 1).inner_text()
        _shot(client, "contract-review-client")
        changes = _milestone(client, 1).get_by_test_id("milestone-changes")
        changes.get_by_label("What should change?").fill("Please add the recurring bookings screen.")
        _click(client, changes.get_by_role("button", name="Request changes"))
        assert _state(client, 1) == "changes_requested"

        ann.reload()
        assert _state(ann, 1) == "changes_requested"
        assert "recurring bookings" in _milestone(ann, 1).get_by_test_id("milestone-feedback").inner_text()
        submit = _milestone(ann, 1).get_by_test_id("milestone-submit")
        submit.get_by_label("What you deliver").fill("Added the recurring bookings screen.")
        for item in ("Wireframes approved", "Data model reviewed"):
            submit.get_by_label(item).check()
        _click(ann, submit.get_by_role("button", name="Submit milestone 1"))
        assert _state(ann, 1) == "submitted"

        # --- the client accepts: milestone 1 is paid, less the commission --------------------
        client.reload()
        _click(client, _milestone(client, 1).get_by_test_id("milestone-accept").get_by_role("button"))
        confirm = client.get_by_role("button", name="Accept and release the payment")
        if confirm.count():
            _click(client, confirm)
        assert (_state(client, 1), _state(client, 2)) == ("paid", "planned")
        assert _money(client) == ("$0.00", "$1,000.00")
        assert client.get_by_test_id("contract-status").inner_text() == "Active"
        _shot(client, "contract-paid-client")

        ann.reload()
        assert _state(ann, 1) == "paid" and _money(ann) == ("$0.00", "$1,000.00")
        _shot(ann, "contract-paid-freelancer")
    finally:
        client_context.close()
        ann_context.close()

    with in_tenant(acme):
        contract = db.session.query(Contract).one()
        order = db.session.get(Order, contract.order_id)
        assert [m.status for m in order.milestones] == ["paid", "planned"]
        balances = ledger.seller_balances(p.ann, "USD")
        assert balances["pending"] == DESIGN - DESIGN // 10
        assert ledger.escrow_balance(order.id, "USD") == 0
        assert verify().ok
