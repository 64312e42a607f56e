"""The order pages through HTTP: from the gig page through the sandbox checkout to completion,
lists by tab, refusals shown on the form with nothing changed, idempotent forms."""

from __future__ import annotations

import io
import re

from app.orders.models import Order
from tenants.db import db
from tests.helpers import CSRF_RE

from .conftest import BASIC, EXTRA, PASSWORD, STANDARD, money_snapshot

KEY_RE = re.compile(r'name="idempotency_key" value="([0-9a-f]+)"')


def form_tokens(client, path):
    html = client.get(path).get_data(as_text=True)
    csrf = CSRF_RE.search(html)
    return csrf.group(1) or csrf.group(2), KEY_RE.search(html).group(1), html


def post_on(client, page, action, data, **kwargs):
    csrf, key, _ = form_tokens(client, page)
    return client.post(action, data={"csrf_token": csrf, "idempotency_key": key, **data}, **kwargs)


def order_row(in_tenant, tenant, order_id):
    with in_tenant(tenant):
        order = db.session.get(Order, order_id)
        db.session.expunge(order)
        return order


def test_purchase_from_gig_page_through_sandbox_checkout_to_completion(
    acme, market, tenant_client, web, in_tenant
):
    m = market(acme)
    buyer = tenant_client("acme")
    seller = tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    web.login(seller, m.seller_email, PASSWORD)
    with in_tenant(acme):
        from app.gigs.models import Gig

        slug = db.session.get(Gig, m.gig_id).slug
    page = buyer.get(f"/gigs/{slug}").get_data(as_text=True)
    assert 'data-testid="order-form-standard"' in page
    placed = post_on(
        buyer,
        f"/gigs/{slug}",
        f"/gigs/{m.gig_id}/order",
        {"tier": "standard", "extras": str(m.extra_ids[0]), "quantity": "1"},
    )
    assert placed.status_code == 303
    with in_tenant(acme):
        order = db.session.scalars(db.select(Order)).one()
        oid, total = order.id, order.total_minor
    assert total == STANDARD + EXTRA
    checkout = placed.headers["Location"]
    assert "/checkout/sandbox/" in checkout
    csrf, key, html = form_tokens(buyer, checkout)
    assert "TEST MODE" in html.upper()
    paid = buyer.post(
        checkout,
        data={
            "csrf_token": csrf,
            "idempotency_key": key,
            "card_number": "4242 4242 4242 4242",
            "expiry": "12/40",
            "cvc": "123",
        },
    )
    assert paid.status_code in (302, 303), paid.get_data(as_text=True)[:1000]
    assert order_row(in_tenant, acme, oid).status == "awaiting_requirements"

    order_page = f"/orders/{oid}"
    assert (
        post_on(buyer, order_page, f"/orders/{oid}/requirements", {"requirements": "Navy"}).status_code == 303
    )
    delivered = post_on(
        seller,
        order_page,
        f"/orders/{oid}/deliver",
        {"message": "Here you go", "files": (io.BytesIO(b"%PDF-1.4"), "final.pdf")},
        content_type="multipart/form-data",
    )
    assert delivered.status_code == 303
    html = buyer.get(order_page).get_data(as_text=True)
    assert "final.pdf" in html and 'data-testid="complete-form"' in html
    assert post_on(buyer, order_page, f"/orders/{oid}/revision", {"reason": "Bigger"}).status_code == 303
    assert (
        post_on(
            seller,
            order_page,
            f"/orders/{oid}/deliver",
            {"message": "Bigger"},
            content_type="multipart/form-data",
        ).status_code
        == 303
    )
    # a double click on "complete": the same form (same key) runs once
    csrf, key, _ = form_tokens(buyer, order_page)
    first = buyer.post(
        f"/orders/{oid}/complete", data={"csrf_token": csrf, "idempotency_key": key, "confirm": "yes"}
    )
    second = buyer.post(
        f"/orders/{oid}/complete", data={"csrf_token": csrf, "idempotency_key": key, "confirm": "yes"}
    )
    assert first.status_code == second.status_code == 303
    assert order_row(in_tenant, acme, oid).status == "completed"
    with in_tenant(acme):
        assert money_snapshot(oid)["transactions"] == {"payment": 1, "release": 1}
    html = seller.get(order_page).get_data(as_text=True)
    assert 'data-testid="money-net"' in html
    lists = seller.get("/orders?role=seller&tab=completed").get_data(as_text=True)
    assert f"/orders/{oid}" in lists
    assert f"/orders/{oid}" not in buyer.get("/orders?tab=active").get_data(as_text=True)
    assert f"/orders/{oid}" in buyer.get("/orders?tab=completed").get_data(as_text=True)


def test_refusals_are_shown_on_the_form_and_change_nothing(acme, order_in, tenant_client, web, in_tenant):
    m, oid = order_in(acme, "in_progress")
    buyer = tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    page = f"/orders/{oid}"
    r = post_on(buyer, page, f"/orders/{oid}/cancellation", {"reason": "Stop", "refund": "50.01"})
    assert r.status_code == 422
    assert "larger than what is in escrow" in r.get_data(as_text=True)
    r = post_on(buyer, page, f"/orders/{oid}/cancellation", {"reason": "Stop", "refund": "abc"})
    assert r.status_code == 422
    r = post_on(buyer, page, f"/orders/{oid}/complete", {"confirm": "yes"})
    assert r.status_code == 409 and "in progress" in r.get_data(as_text=True)
    with in_tenant(acme):
        assert money_snapshot(oid)["transactions"] == {"payment": 1}
    assert order_row(in_tenant, acme, oid).status == "in_progress"
    stranger = tenant_client("acme")
    web.login(stranger, m.stranger_email, PASSWORD)
    assert stranger.get(page).status_code == 404
    # without a CSRF token nothing happens
    assert buyer.post(f"/orders/{oid}/cancellation", data={"reason": "x"}).status_code == 400


def test_own_gig_order_is_refused_with_a_message(acme, market, tenant_client, web, in_tenant):
    m = market(acme)
    seller = tenant_client("acme")
    web.login(seller, m.seller_email, PASSWORD)
    with in_tenant(acme):
        from app.gigs.models import Gig

        slug = db.session.get(Gig, m.gig_id).slug
    csrf = web.csrf_token(seller, f"/gigs/{slug}")
    r = seller.post(
        f"/gigs/{m.gig_id}/order", data={"csrf_token": csrf, "tier": "basic"}, follow_redirects=True
    )
    assert "You cannot order your own gig." in r.get_data(as_text=True)
    with in_tenant(acme):
        assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 0


def test_custom_offer_from_a_conversation(acme, market, tenant_client, web, in_tenant):
    from app.accounts.models import User
    from app.messaging.services import start_direct_conversation

    m = market(acme)
    with in_tenant(acme):
        cid = start_direct_conversation(db.session.get(User, m.buyer_id), m.seller_id).id
        db.session.commit()
    seller = tenant_client("acme")
    buyer = tenant_client("acme")
    web.login(seller, m.seller_email, PASSWORD)
    web.login(buyer, m.buyer_email, PASSWORD)
    page = f"/inbox/{cid}/offers"
    offer = {
        "title": "Kit",
        "price": "100",
        "delivery_days": "5",
        "milestone_0_title": "A",
        "milestone_0_amount": "30",
    }
    bad = post_on(seller, page, page, offer)
    assert bad.status_code == 422 and "add up to" in bad.get_data(as_text=True)
    sent = post_on(seller, page, page, {**offer, "milestone_1_title": "B", "milestone_1_amount": "70"})
    assert sent.status_code == 303
    offer_page = sent.headers["Location"]
    offer_id = int(offer_page.rstrip("/").rsplit("/", 1)[1])
    accepted = post_on(buyer, offer_page, f"/offers/{offer_id}/accept", {})
    assert accepted.status_code == 303
    with in_tenant(acme):
        order = db.session.scalars(db.select(Order)).one()
        assert order.kind == "offer" and [x.amount_minor for x in order.milestones] == [3000, 7000]
    assert BASIC  # the gig's prices play no part in an offer


def test_an_operator_is_sent_to_the_console_to_cancel_or_refund(acme, order_in, tenant_client, web):
    from tests.conftest import ADMIN_PASSWORD

    m, oid = order_in(acme, "in_progress")
    admin = tenant_client("acme")
    web.login(admin, "admin@acme.test", ADMIN_PASSWORD)
    page = admin.get(f"/orders/{oid}").get_data(as_text=True)
    assert f'href="/console/orders/{oid}"' in page and "operator-cancel" not in page
    buyer = tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    assert 'data-testid="console-order-link"' not in buyer.get(f"/orders/{oid}").get_data(as_text=True)
