"""Checkout shows what the buyer pays for; the order page links to the gig, the other party's
profile and the order's conversation."""

from __future__ import annotations

from app.gigs.models import Gig
from tenants.db import db

from .conftest import BASIC, EXTRA, PASSWORD
from .test_web import post_on


def test_checkout_lists_package_extras_quantity_totals_and_delivery(
    acme, market, tenant_client, web, in_tenant
):
    m = market(acme)
    buyer = tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    with in_tenant(acme):
        slug = db.session.get(Gig, m.gig_id).slug
    placed = post_on(
        buyer,
        f"/gigs/{slug}",
        f"/gigs/{m.gig_id}/order",
        {"tier": "basic", "extras": str(m.extra_ids[0]), "quantity": "2"},
    )
    assert placed.status_code == 303
    html = buyer.get(placed.headers["Location"]).get_data(as_text=True)
    summary = html.split('data-testid="order-summary"', 1)[1].split("</table>", 1)[0]
    assert "Basic package × 2" in summary and "$100.00" in summary  # 2 x 50.00
    assert "Extra: Fast delivery × 2" in summary and "$60.00" in summary
    assert f"${(BASIC + EXTRA) * 2 // 100}.00" in summary.split('data-testid="summary-total"', 1)[1]
    assert "Service fee" not in summary  # the buyer pays no fee on this marketplace
    assert "day" in summary.split('data-testid="summary-delivery"', 1)[1]
    assert f'href="/gigs/{slug}"' in html


def test_order_page_links_to_the_gig_the_other_party_and_the_conversation(
    acme, order_in, tenant_client, web, in_tenant
):
    m, oid = order_in(acme, "in_progress")
    buyer = tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    html = buyer.get(f"/orders/{oid}").get_data(as_text=True)
    links = html.split('data-testid="order-links"', 1)[1].split("</p>", 1)[0]
    with in_tenant(acme):
        slug = db.session.get(Gig, m.gig_id).slug
    assert f'href="/gigs/{slug}"' in links and "/u/" in links and "seller's profile" in links
    chat = buyer.get(f"/orders/{oid}/conversation")
    assert chat.status_code == 302 and "/inbox/" in chat.headers["Location"]
    stranger = tenant_client("acme")
    web.login(stranger, m.stranger_email, PASSWORD)
    assert stranger.get(f"/orders/{oid}/conversation").status_code == 404
