"""The page chrome (issue 13): a favicon on every tenant host, a neutral unknown-host 404 that
passes its own CSP, and icons that are SVG with accessible names rather than emoji."""

from __future__ import annotations

import re

import pytest

from app.accounts.models import User
from app.messaging import services as messaging
from tenants.db import db
from tests.gigs.conftest import login, make_gig  # noqa: F401  (fixtures)

EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


@pytest.mark.parametrize("slug", ["acme", "globex"])
def test_favicon_ico_is_the_default_icon_on_a_tenant_without_one(tenant_client, slug):
    response = tenant_client(slug).get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/png" and response.data.startswith(b"\x89PNG")
    # Pages name the default icon too, so browsers need not ask for /favicon.ico at all.
    page = tenant_client(slug).get("/").get_data(as_text=True)
    assert '<link rel="icon" type="image/png" sizes="64x64" href="/static/favicon.png">' in page


def test_platform_pages_name_the_default_icon(platform_client):
    assert 'href="/static/favicon.png"' in platform_client.get("/").get_data(as_text=True)
    assert platform_client.get("/static/favicon.png").status_code == 200


def test_unknown_host_404_names_nobody_and_carries_a_real_nonce(tenant_client):
    response = tenant_client("nobody.localhost").get("/")
    assert response.status_code == 404
    csp = response.headers["Content-Security-Policy"]
    nonce = re.search(r"style-src 'self' 'nonce-([^']+)'", csp).group(1)
    assert nonce and f"script-src 'self' 'nonce-{nonce}'" in csp
    body = response.get_data(as_text=True)
    assert f'<style nonce="{nonce}">' in body
    assert "style=" not in body and "<script" not in body and '<link rel="stylesheet"' not in body
    assert '<link rel="icon" href="data:,">' in body  # no request for a /favicon.ico that would 404
    for name in ("Gigforge", "gigforge", "Acme", "Globex", "localhost"):
        assert name not in body
    # Each response its own nonce.
    again = tenant_client("nobody.localhost").get("/favicon.ico")
    assert again.status_code == 404 and f"nonce-{nonce}" not in again.headers["Content-Security-Policy"]


def test_header_icons_are_svg_with_accessible_names(acme, tenant_client, make_seller, make_gig):  # noqa: F811
    seller_id = make_seller(acme, email="seller@acme.test")
    client = tenant_client("acme")
    login(client, "seller@acme.test")
    page = client.get("/").get_data(as_text=True)
    assert not EMOJI.search(page)
    assert re.search(r'<svg class="icon icon-bell"[^>]*role="img" aria-label="Notifications"', page)
    assert re.search(r'<button type="button" class="menu-button"[^>]*>\s*<svg[^>]*aria-label="Menu"', page)
    assert seller_id


def test_chat_icons_are_svg_with_accessible_names(acme, tenant_client, make_seller, make_user, in_tenant):  # noqa: F811
    seller_id = make_seller(acme, email="seller@acme.test")
    buyer_id = make_user(acme, email="buyer@acme.test")
    with in_tenant(acme):
        buyer = db.session.get(User, buyer_id)
        conversation = messaging.start_direct_conversation(buyer, seller_id)
        db.session.commit()
        conversation_id = conversation.id
    client = tenant_client("acme")
    login(client, "buyer@acme.test")
    for path in ("/inbox", f"/inbox/{conversation_id}"):
        assert not EMOJI.search(client.get(path).get_data(as_text=True)), path
    chat = client.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert re.search(r'<svg class="icon icon-paperclip"[^>]*role="img" aria-label="Attach a file"', chat)
    assert re.search(r'<svg class="icon icon-arrow-left"[^>]*role="img" aria-label="Back to inbox"', chat)
