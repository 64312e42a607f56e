"""A custom offer shows in the chat as a card: scope, price, delivery, milestones and, for the
buyer, Accept and Decline."""

from __future__ import annotations

from app.accounts.models import User
from app.messaging.services import post_message, start_direct_conversation
from app.orders import services
from tenants.db import db

from .conftest import PASSWORD


def test_an_offer_is_a_card_in_the_conversation(acme, market, tenant_client, web, in_tenant):
    m = market(acme)
    with in_tenant(acme):
        buyer = db.session.get(User, m.buyer_id)
        cid = start_direct_conversation(buyer, m.seller_id).id
        post_message(buyer, cid, "Could you do a brand kit?")
        db.session.commit()
        services.send_offer(
            db.session.get(User, m.seller_id),
            cid,
            {
                "title": "Brand kit",
                "description": "Logo, cards and a style guide",
                "total_minor": 20000,
                "delivery_days": 7,
                "milestones": [
                    {"title": "Logo", "amount_minor": 5000},
                    {"title": "Rest", "amount_minor": 15000},
                ],
            },
        )
        db.session.commit()
    client = tenant_client("acme")
    web.login(client, m.buyer_email, PASSWORD)
    html = client.get(f"/inbox/{cid}").get_data(as_text=True)
    card = html.split('data-testid="offer-card"', 1)[1].split("</article>", 1)[0]
    assert html.index("Could you do a brand kit?") < html.index('data-testid="offer-card"')
    assert "Logo, cards and a style guide" in card and "$200.00" in card and "7 days" in card
    assert "Logo: $50.00" in card and "Rest: $150.00" in card
    assert 'data-testid="offer-card-accept"' in card and 'data-testid="offer-card-decline"' in card

    seller = tenant_client("acme")
    web.login(seller, m.seller_email, PASSWORD)
    card = seller.get(f"/inbox/{cid}").get_data(as_text=True).split('data-testid="offer-card"', 1)[1]
    assert 'data-testid="offer-card-accept"' not in card.split("</article>", 1)[0]
