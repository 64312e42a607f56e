"""Inbox pages and "Contact seller" with a web session."""

from __future__ import annotations

import re

import pytest

from app.accounts.models import User
from app.messaging import services
from tenants.db import db


@pytest.fixture
def seller_with_gig(acme, make_seller, in_tenant):
    """A seller with one active gig in acme -> (seller_id, gig_id, gig_slug)."""
    from app.gigs import services as gigs
    from app.gigs.models import Category

    seller = make_seller(acme, email="seller@example.com", display_name="Sam Seller")
    with in_tenant(acme):
        category = db.session.scalar(
            db.select(Category.id).where(Category.parent_id.is_not(None)).order_by(Category.id).limit(1)
        )
        data = {
            "title": "I will design a modern minimalist logo",
            "description": "A clean logo for your brand, with three concepts and vector files.",
            "category_id": category,
            "tags": ["logo"],
            "packages": [
                {"tier": "basic", "title": "Starter", "price_minor": 5000, "delivery_days": 5, "revisions": 2}
            ],
        }
        user = db.session.get(User, seller)
        gig = gigs.create_gig(user, data)
        gigs.publish_gig(user, gig)
        db.session.commit()
        return seller, gig.id, gig.slug


def test_contact_seller_from_a_gig_page_opens_the_conversation(
    web, acme, make_user, seller_with_gig, tenant_client
):
    seller, gig_id, slug = seller_with_gig
    make_user(acme, email="buyer@example.com")
    client = tenant_client("acme")
    web.login(client, "buyer@example.com")
    page = client.get(f"/gigs/{slug}").get_data(as_text=True)
    assert 'data-testid="contact-seller"' in page
    token = web.csrf_token(client, f"/gigs/{slug}")
    response = client.post(f"/contact/{seller}", data={"csrf_token": token, "gig_id": gig_id})
    assert response.status_code == 302
    assert re.fullmatch(r"/inbox/\d+", response.headers["Location"])
    conversation = client.get(response.headers["Location"])
    assert conversation.status_code == 200 and "Sam Seller" in conversation.get_data(as_text=True)
    again = client.post(f"/contact/{seller}", data={"csrf_token": token, "gig_id": gig_id})
    assert again.headers["Location"] == response.headers["Location"]


def test_contact_requires_csrf_and_login(web, acme, seller_with_gig, tenant_client):
    seller, _, slug = seller_with_gig
    client = tenant_client("acme")
    assert "contact-seller-login" in client.get(f"/gigs/{slug}").get_data(as_text=True)
    assert client.post(f"/contact/{seller}").status_code in (302, 400)
    assert client.get("/inbox").status_code == 302


def test_inbox_shows_unread_badges_and_hides_others_conversations(
    web, acme, make_user, start_conversation, tenant_client, user_of
):
    a = make_user(acme, email="a@example.com")
    b = make_user(acme, email="b@example.com", display_name="Bob Writer")
    make_user(acme, email="eve@example.com")
    cid = start_conversation(acme, a, b)
    with user_of(acme, b) as sender:
        services.post_message(sender, cid, "first <b>bold</b> https://example.com")
        services.post_message(sender, cid, "second")
        db.session.commit()
    client = tenant_client("acme")
    web.login(client, "a@example.com")
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "Bob Writer" in inbox and 'data-unread="2"' in inbox
    assert 'data-testid="inbox-badge">2<' in inbox
    page = client.get(f"/inbox/{cid}").get_data(as_text=True)
    assert "first &lt;b&gt;bold&lt;/b&gt;" in page and 'href="https://example.com"' in page
    assert "socket.io.min.js" in page

    eve = tenant_client("acme")
    web.login(eve, "eve@example.com")
    assert eve.get(f"/inbox/{cid}").status_code == 404
    assert "Bob Writer" not in eve.get("/inbox").get_data(as_text=True)


def test_form_fallback_posts_and_rejects_empty(
    web, acme, make_user, start_conversation, tenant_client, message_count
):
    a = make_user(acme, email="a@example.com")
    b = make_user(acme)
    cid = start_conversation(acme, a, b)
    client = tenant_client("acme")
    web.login(client, "a@example.com")
    token = web.csrf_token(client, f"/inbox/{cid}")
    assert client.post(f"/inbox/{cid}/messages", data={"csrf_token": token, "body": "   "}).status_code == 302
    assert message_count(acme) == 0
    client.post(f"/inbox/{cid}/messages", data={"csrf_token": token, "body": "no js here"})
    assert message_count(acme) == 1
