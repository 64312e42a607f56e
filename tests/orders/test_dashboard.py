"""The member's dashboard: orders needing their action first, unread messages, a seller's
earnings; the landing page after login."""

from __future__ import annotations

from app.accounts.models import User
from app.messaging.services import post_message, start_direct_conversation
from tenants.db import db

from .conftest import drive

PASSWORD = "correct-horse-battery"


def test_buyer_and_seller_see_what_needs_their_action(
    acme,
    market,
    tenant_client,
    web,
    in_tenant,  # noqa: F811
):
    m = market(acme)
    with in_tenant(acme):
        to_review = drive(m, "delivered")
        to_deliver = drive(m, "in_progress")
        conversation = start_direct_conversation(db.session.get(User, m.buyer_id), m.seller_id)
        post_message(db.session.get(User, m.buyer_id), conversation.id, "Hi, a question")
        db.session.commit()
    buyer, seller = tenant_client("acme"), tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    web.login(seller, m.seller_email, PASSWORD)

    mine = buyer.get("/dashboard").get_data(as_text=True)
    todo = mine.split('data-testid="dashboard-todo"', 1)[1].split("Waiting for the other side", 1)
    assert f"/orders/{to_review}" in todo[0] and "Review the delivery" in todo[0]
    assert f"/orders/{to_deliver}" in todo[1]  # the seller's turn
    assert 'data-testid="dashboard-earnings"' not in mine

    theirs = seller.get("/dashboard").get_data(as_text=True)
    todo = theirs.split('data-testid="dashboard-todo"', 1)[1].split("Waiting for the other side", 1)
    assert f"/orders/{to_deliver}" in todo[0] and "Deliver the work" in todo[0]
    assert 'data-testid="dashboard-unread">1<' in theirs
    assert 'data-testid="dashboard-earnings"' in theirs


def test_the_dashboard_needs_a_login(tenant_client, acme):
    response = tenant_client("acme").get("/dashboard")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
