"""Every main page at 390 px in headless Chromium: no sideways scrolling and nothing cut off at the
right edge (a wide table may scroll inside its own box), a header that stays short (the menu folds
away), and on the gig page the order box comes before the long description.

The data is made through the services, like the demo's: a seller with a gig (with a wide image),
a buyer with an order, a conversation, a job with a proposal and a contract, the marketplace's
operator and a platform admin.
Set GIGFORGE_SCREENSHOTS=<folder> to keep a full-page screenshot of each page at 390 and 1366 px.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.contracts import services as contracts
from app.gigs import services as gig_services
from app.gigs.models import Gig
from app.jobs import proposals
from app.jobs import services as job_services
from app.messaging import services as messaging
from app.orders.models import Order
from app.storage.uploads import Upload
from tenants.db import db
from tests.gigs.conftest import PASSWORD, png
from tests.jobs.conftest import JOB, PROPOSAL
from tests.orders.conftest import drive, make_gig, market  # noqa: F401  (fixtures, helper)
from tests.platform.conftest import (  # noqa: F401
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    browser_platform_login,
    make_platform_admin,
)

pytestmark = pytest.mark.browser

CONTRACT = {
    "title": "Booking tool, phase one",
    "scope": "The booking tool's first phase: calendar and reminders, as discussed in the chat.",
    "milestones": [
        {"title": "Design", "amount_minor": 100000, "dod": ["Wireframes approved", "Data model reviewed"]},
        {"title": "Build and launch", "amount_minor": 200000},
    ],
}

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
HEADER_MAX_PX = 80

MEASURE = """() => {
  const header = document.querySelector('.site-header');
  const inScroller = (el) => {
    for (let a = el.parentElement; a; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll') return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (typeof el.className === 'string' && el.className.trim()
    ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= window.innerWidth + 1) continue;
    if (getComputedStyle(el).position === 'fixed' || inScroller(el)) continue;
    wide.push(name(el) + ' ' + Math.round(r.right));
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    header: header ? Math.round(header.getBoundingClientRect().height) : 0,
    wide: wide.slice(0, 8),
  };
}"""


@pytest.fixture
def demo(acme, market, make_user, in_tenant):  # noqa: F811  (the imported fixture)
    """A seller's gig with a wide image, the buyer's delivered order and a conversation, an operator."""
    m = market(acme)
    operator_id = make_user(acme, email="operator@acme.test", display_name="Olive Operator", role="admin")
    with in_tenant(acme):
        seller, buyer = db.session.get(User, m.seller_id), db.session.get(User, m.buyer_id)
        gig = db.session.get(Gig, m.gig_id)
        gig_services.add_gig_image(seller, gig, png(size=(1600, 900)))
        db.session.commit()
        order_id = drive(m, "delivered")
        conversation = messaging.start_direct_conversation(buyer, seller, m.gig_id)
        db.session.flush()
        messaging.post_message(buyer, conversation.id, "Hello! Could you do a fox in orange, " * 4)
        db.session.commit()
        # Other orders for the tables: one awaiting payment, one cancelled.
        drive(m, "awaiting_payment")
        drive(m, "cancelled")
        # A job the buyer posted, with the seller's proposal (the jobs pages); both with a file
        # whose long name must wrap.
        long_name = "Requirements-and-acceptance-criteria-for-the-booking-tool-version-2-final.pdf"
        spec = Upload(long_name, "application/pdf", b"%PDF-1.7\n")
        job = job_services.post_job(buyer, JOB, publish_now=True, now=datetime.now(UTC), files=[spec])
        db.session.flush()
        proposal = proposals.submit_proposal(seller, job.id, PROPOSAL, now=datetime.now(UTC), files=[spec])
        # A contract between them (a direct offer, accepted and signed by both): the contract
        # page with its Statement of Work and milestones; the proposal stays open to hire.
        contract = contracts.direct_offer(buyer, seller.id, dict(CONTRACT))
        contracts.accept_offer(seller, contract.id)
        contracts.sign(seller, contract.id, seller.display_name)
        contracts.sign(buyer, contract.id, buyer.display_name)
        db.session.commit()
        job_id = job.id
        gig = db.session.get(Gig, m.gig_id)
        data = {
            "job_id": job_id,
            "gig_slug": gig.slug,
            "gig_id": gig.id,
            "category_slug": gig.category.slug,
            "handle": seller.handle,
            "order_id": order_id,
            "conversation_id": conversation.id,
            "seller_id": seller.id,
            "proposal_id": proposal.id,
            "contract_id": contract.id,
            "orders": db.session.scalar(sa.select(sa.func.count()).select_from(Order)),
        }
    return {**data, "market": m, "operator_email": "operator@acme.test", "operator_id": operator_id}


def _log_in(page, live_server, email):
    page.goto(live_server.url("acme.localhost", "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:2000]


def _shot(page, name: str, width: int) -> None:
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=os.path.join(folder, f"{name}-{width}.png"), full_page=True)


def _visit(page, url: str, name: str, problems: list, errors: list) -> None:
    del errors[:]
    response = page.goto(url)
    page.wait_for_load_state("load")
    assert response is not None and response.status == 200, (name, url, response and response.status)
    m = page.evaluate(MEASURE)
    if m["scrollWidth"] > m["innerWidth"]:
        problems.append(f"{name}: {m['scrollWidth']} px wide > {m['innerWidth']} ({'; '.join(m['wide'])})")
    elif m["wide"]:  # past the edge without a scrollbar of its own: cut off
        problems.append(f"{name}: cut off at the right edge ({'; '.join(m['wide'])})")
    if m["header"] > HEADER_MAX_PX:
        problems.append(f"{name}: header {m['header']} px tall")
    if errors:
        problems.append(f"{name}: console errors {errors}")
    _shot(page, name, PHONE["width"])
    if os.environ.get("GIGFORGE_SCREENSHOTS"):
        page.set_viewport_size(DESKTOP)
        _shot(page, name, DESKTOP["width"])
        page.set_viewport_size(PHONE)


def _pages_of(context, console_errors):
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda msg: msg.type == "error" and console_errors.append(msg.text))
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    return page


def test_every_main_page_fits_a_390px_phone(browser, live_server, demo, make_platform_admin):  # noqa: F811
    make_platform_admin()
    problems: list[str] = []
    errors: list[str] = []
    acme = lambda path: live_server.url("acme.localhost", path)  # noqa: E731

    def sweep(email, pages):
        context = browser.new_context(viewport=PHONE)
        try:
            page = _pages_of(context, errors)
            if email:
                _log_in(page, live_server, email)
            for name, path in pages:
                _visit(page, acme(path), name, problems, errors)
        finally:
            context.close()

    sweep(
        None,
        [
            ("home", "/"),
            ("search", "/search?q=logo"),
            ("category", f"/c/{demo['category_slug']}"),
            ("gig", f"/gigs/{demo['gig_slug']}"),
            ("profile", f"/u/{demo['handle']}"),
            ("login", "/login"),
            ("signup", "/signup"),
        ],
    )
    sweep(
        demo["market"].buyer_email,
        [
            ("orders", "/orders"),
            ("order", f"/orders/{demo['order_id']}"),
            ("inbox", "/inbox"),
            ("conversation", f"/inbox/{demo['conversation_id']}"),
            ("notifications", "/notifications"),
            ("account", "/account"),
            ("gig-signed-in", f"/gigs/{demo['gig_slug']}"),
            ("jobs", "/jobs"),
            ("job-new", "/jobs/new"),
            ("my-jobs", "/jobs/mine"),
            ("job-proposals", f"/jobs/{demo['job_id']}/proposals"),
            ("hire", f"/proposals/{demo['proposal_id']}/hire"),
            ("contracts", "/contracts"),
            ("contract", f"/contracts/{demo['contract_id']}"),
        ],
    )
    sweep(
        demo["market"].seller_email,
        [
            ("seller-orders", "/orders?role=seller"),
            ("earnings", "/account/earnings"),
            ("seller-gigs", "/seller/gigs"),
            ("gig-edit", f"/seller/gigs/{demo['gig_id']}/edit"),
            ("seller-profile", "/account/seller"),
            ("job", f"/jobs/{demo['job_id']}"),
            ("my-proposals", "/proposals"),
            ("seller-contracts", "/contracts"),
            ("seller-contract", f"/contracts/{demo['contract_id']}"),
        ],
    )
    sweep(
        demo["operator_email"],
        [
            ("console-dashboard", "/console/"),
            ("console-users", "/console/users"),
            ("console-user", f"/console/users/{demo['seller_id']}"),
            ("console-gigs", "/console/gigs"),
            ("console-gig", f"/console/gigs/{demo['gig_id']}"),
            ("console-orders", "/console/orders"),
            ("console-order", f"/console/orders/{demo['order_id']}"),
            ("console-audit-log", "/console/audit-log"),
            ("console-branding", "/console/branding"),
            ("console-domains", "/console/domains"),
            ("console-settings", "/console/settings"),
            ("console-categories", "/console/categories"),
            ("console-payments", "/console/payments"),
        ],
    )

    # The platform's own pages, on the bare host.
    context = browser.new_context(viewport=PHONE)
    try:
        page = _pages_of(context, errors)
        platform = lambda path: live_server.url("localhost", path)  # noqa: E731
        _visit(page, platform("/"), "platform-home", problems, errors)
        _visit(page, platform("/platform/login"), "platform-login", problems, errors)
        browser_platform_login(page, platform("/platform/login"), ADMIN_EMAIL, ADMIN_PASSWORD)
        for name, path in (
            ("platform-tenants", "/platform/"),
            ("platform-tenant", "/platform/tenants/acme"),
            ("platform-new-tenant", "/platform/tenants/new"),
        ):
            _visit(page, platform(path), name, problems, errors)
    finally:
        context.close()

    assert not problems, "\n".join(problems)


def test_the_phone_menu_opens_and_the_order_box_comes_first(browser, live_server, demo):
    context = browser.new_context(viewport=PHONE)
    try:
        page = _pages_of(context, [])
        _log_in(page, live_server, demo["market"].buyer_email)
        page.goto(live_server.url("acme.localhost", f"/gigs/{demo['gig_slug']}"))
        # The folded menu: the links are hidden until the menu button opens it (no script needed).
        orders_link = page.get_by_test_id("orders-link")
        assert not orders_link.is_visible()
        page.get_by_test_id("menu-toggle").click()
        assert orders_link.is_visible()
        assert page.get_by_test_id("menu-toggle").get_attribute("aria-expanded") == "true"
        _shot(page, "menu-open", PHONE["width"])
        page.keyboard.press("Escape")
        assert not orders_link.is_visible()
        page.get_by_test_id("menu-toggle").click()
        # The order box sits above the description on a phone.
        box = page.get_by_test_id("order-basic").bounding_box()
        description = page.locator(".gig-description").bounding_box()
        assert box["y"] < description["y"], (box, description)
        assert re.search(r"\$50\.00", page.get_by_test_id("price-basic").inner_text())
        # On a desktop the menu is simply open and the order box sits beside the description.
        page.set_viewport_size(DESKTOP)
        assert orders_link.is_visible()
        assert not page.get_by_test_id("menu-toggle").is_visible()
        box = page.get_by_test_id("order-basic").bounding_box()
        assert box["x"] > page.locator(".gig-description").bounding_box()["x"] + 300
    finally:
        context.close()


def test_unknown_host_404_is_styled_and_passes_its_csp_in_chromium(browser, live_server):
    context = browser.new_context(viewport=PHONE)
    try:
        errors: list[str] = []
        page = _pages_of(context, errors)
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        response = page.goto(live_server.url("nobody.localhost", "/"))
        page.wait_for_load_state("load")
        assert response.status == 404
        # The 404 response itself is the only console message Chromium may print.
        # No CSP violation and nothing else: the one console line Chromium prints for any document
        # answered with a 4xx ("Failed to load resource: ... 404") is the 404 itself.
        assert [e for e in errors if "status of 404" not in e] == [], errors
        assert len(errors) <= 1
        assert requests == [live_server.url("nobody.localhost", "/")]  # no favicon.ico, nothing else
        # Its inline style applied (a CSP violation would have left the default black serif h1).
        assert page.eval_on_selector("h1", "el => getComputedStyle(el).color") == "rgb(64, 65, 69)"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        text = page.content()
        assert "Gigforge" not in text and "Acme" not in text
        _shot(page, "unknown-host-404", PHONE["width"])
    finally:
        context.close()


def test_icons_have_accessible_names_in_chromium(browser, live_server, demo):
    context = browser.new_context(viewport=DESKTOP)
    try:
        errors: list[str] = []
        page = _pages_of(context, errors)
        _log_in(page, live_server, demo["market"].buyer_email)
        assert page.get_by_role("img", name="Notifications").is_visible()
        page.goto(live_server.url("acme.localhost", f"/inbox/{demo['conversation_id']}"))
        assert page.get_by_role("link", name="Back to inbox").is_visible()
        assert page.get_by_role("img", name="Attach a file").is_visible()
        page.set_viewport_size(PHONE)
        assert page.get_by_role("button", name="Menu").is_visible()
        assert errors == []
    finally:
        context.close()
