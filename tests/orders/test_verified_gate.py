"""The verified-email gate: ordering, accepting an offer, publishing a gig, sending an offer and
messaging need a confirmed address, on the web and through the API; the operator's switch
(``require_verified_email``) turns the gate off for a marketplace."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.gigs.models import Gig
from app.messaging.models import Conversation, Message
from app.orders.models import CustomOffer, Order
from app.settings.models import MarketplaceSettings
from tenants.db import db

from .conftest import PASSWORD

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
KEY = re.compile(r'name="idempotency_key" value="([0-9a-f]+)"')


def _unverify(in_tenant, tenant, *user_ids):
    with in_tenant(tenant):
        db.session.execute(sa.update(User).where(User.id.in_(user_ids)).values(email_verified_at=None))
        db.session.commit()


def _gate(in_tenant, tenant, on: bool):
    with in_tenant(tenant):
        db.session.execute(sa.update(MarketplaceSettings).values(require_verified_email=on))
        db.session.commit()


def _count(in_tenant, tenant, model) -> int:
    with in_tenant(tenant):
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _conversation(in_tenant, tenant, buyer_id, seller_id) -> int:
    from app.messaging.services import start_direct_conversation

    with in_tenant(tenant):
        cid = start_direct_conversation(db.session.get(User, buyer_id), seller_id).id
        db.session.commit()
        return cid


def _offer(in_tenant, tenant, seller_id, cid) -> int:
    from app.orders.services import send_offer

    with in_tenant(tenant):
        offer = send_offer(
            db.session.get(User, seller_id),
            cid,
            {"title": "Brand kit", "total_minor": 20000, "delivery_days": 7},
        )
        db.session.commit()
        return offer.id


def _draft(make_gig, tenant, seller_id) -> int:
    return make_gig(tenant, seller_id, status="draft")


def _refused(response):
    assert response.status_code == 403, response.get_json()
    assert response.json["errors"]["code"] == "email_unverified"


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize("gate_on", [True, False])
def test_api_gated_actions_need_a_verified_email_unless_the_gate_is_off(
    acme, market, make_gig, api_token, in_tenant, gate_on
):
    m = market(acme)
    draft_id = _draft(make_gig, acme, m.seller_id)
    cid = _conversation(in_tenant, acme, m.buyer_id, m.seller_id)
    offer_id = _offer(in_tenant, acme, m.seller_id, cid)
    _unverify(in_tenant, acme, m.buyer_id, m.seller_id)
    _gate(in_tenant, acme, gate_on)
    buyer, bh = api_token(acme, m.buyer_email)  # tokens are still issued: reading is allowed
    seller, sh = api_token(acme, m.seller_email)

    calls = [
        (buyer, "/api/v1/orders", {"gig_id": m.gig_id, "tier": "basic"}, bh, 201),
        (buyer, f"/api/v1/offers/{offer_id}/accept", None, bh, 201),
        (seller, f"/api/v1/gigs/{draft_id}/publish", None, sh, 200),
        (
            seller,
            "/api/v1/offers",
            {"conversation_id": cid, "title": "Another", "total_minor": 9000, "delivery_days": 3},
            sh,
            201,
        ),
        (buyer, f"/api/v1/conversations/{cid}/messages", {"body": "Hello"}, bh, 201),
        (buyer, "/api/v1/conversations", {"user_id": m.stranger_id}, bh, 201),
    ]
    for client, path, body, headers, ok in calls:
        response = client.post(path, json=body, headers=headers)
        if gate_on:
            _refused(response)
        else:
            assert response.status_code in (ok, 200), (path, response.get_json())
    assert buyer.get("/api/v1/orders", headers=bh).status_code == 200
    with in_tenant(acme):
        orders = db.session.scalar(sa.select(sa.func.count()).select_from(Order))
        offers = db.session.scalar(sa.select(sa.func.count()).select_from(CustomOffer))
        messages = db.session.scalar(
            sa.select(sa.func.count()).select_from(Message).where(Message.kind == "user")
        )
        conversations = db.session.scalar(sa.select(sa.func.count()).select_from(Conversation))
        draft_status = db.session.get(Gig, draft_id).status
    if gate_on:
        assert (orders, offers, messages, conversations, draft_status) == (0, 1, 0, 1, "draft")
    else:
        assert orders == 2 and offers == 2 and messages == 1 and conversations == 2
        assert draft_status == "active"


def test_a_verified_member_is_not_gated(acme, market, api_token):
    m = market(acme)
    buyer, bh = api_token(acme, m.buyer_email)
    assert (
        buyer.post("/api/v1/orders", json={"gig_id": m.gig_id, "tier": "basic"}, headers=bh).status_code
        == 201
    )


# --------------------------------------------------------------------------- web


def _tokens(client, page):
    html = client.get(page).get_data(as_text=True)
    key = KEY.search(html)
    return CSRF.search(html).group(1), key.group(1) if key else None


def _post(client, page, action, data=None):
    csrf, key = _tokens(client, page)
    form = {"csrf_token": csrf, **(data or {})}
    if key:
        form["idempotency_key"] = key
    return client.post(action, data=form, headers={"Referer": f"http://{client.host}{page}"})


@pytest.mark.parametrize("gate_on", [True, False])
def test_web_gated_actions_need_a_verified_email_unless_the_gate_is_off(
    acme, market, make_gig, tenant_client, web, in_tenant, gate_on
):
    m = market(acme)
    draft_id = _draft(make_gig, acme, m.seller_id)
    cid = _conversation(in_tenant, acme, m.buyer_id, m.seller_id)
    offer_id = _offer(in_tenant, acme, m.seller_id, cid)
    _unverify(in_tenant, acme, m.buyer_id, m.seller_id)
    _gate(in_tenant, acme, gate_on)
    with in_tenant(acme):
        slug = db.session.get(Gig, m.gig_id).slug
    buyer, seller = tenant_client("acme"), tenant_client("acme")
    web.login(buyer, m.buyer_email, PASSWORD)
    web.login(seller, m.seller_email, PASSWORD)

    banner = buyer.get("/orders").get_data(as_text=True)
    assert ('data-testid="verify-banner"' in banner) is gate_on

    steps = [
        (buyer, f"/gigs/{slug}", f"/gigs/{m.gig_id}/order", {"tier": "basic", "quantity": "1"}),
        (buyer, f"/offers/{offer_id}", f"/offers/{offer_id}/accept", {"confirm": "yes"}),
        (seller, f"/seller/gigs/{draft_id}/edit", f"/seller/gigs/{draft_id}/publish", {}),
        (
            seller,
            f"/inbox/{cid}/offers",
            f"/inbox/{cid}/offers",
            {"title": "Another", "price": "90", "delivery_days": "3"},
        ),
        (buyer, f"/inbox/{cid}", f"/inbox/{cid}/messages", {"body": "Hello"}),
        (buyer, f"/gigs/{slug}", f"/contact/{m.stranger_id}", {}),
    ]
    for client, page, action, data in steps:
        response = _post(client, page, action, data)
        assert response.status_code in (302, 303), (action, response.status_code)
        if gate_on:
            shown = client.get(response.headers["Location"]).get_data(as_text=True)
            assert "confirm your email address" in shown, action
    with in_tenant(acme):
        orders = db.session.scalar(sa.select(sa.func.count()).select_from(Order))
        offers = db.session.scalar(sa.select(sa.func.count()).select_from(CustomOffer))
        messages = db.session.scalar(
            sa.select(sa.func.count()).select_from(Message).where(Message.kind == "user")
        )
        conversations = db.session.scalar(sa.select(sa.func.count()).select_from(Conversation))
        draft_status = db.session.get(Gig, draft_id).status
    if gate_on:
        assert (orders, offers, messages, conversations, draft_status) == (0, 1, 0, 1, "draft")
    else:
        assert orders == 2 and offers == 2 and messages == 1 and conversations == 2
        assert draft_status == "active"


def test_resend_link_is_rate_limited(acme, make_user, tenant_client, web):
    make_user(acme, email="new@acme.test", verified=False)
    client = tenant_client("acme")
    web.login(client, "new@acme.test", PASSWORD)
    page = client.get("/orders").get_data(as_text=True)
    assert 'data-testid="verify-banner"' in page and 'action="/account/verify/resend"' in page
    statuses = [_post(client, "/orders", "/account/verify/resend").status_code for _ in range(5)]
    assert statuses[:3] == [303, 303, 303] and 429 in statuses[3:]


def test_operator_turns_the_gate_off_in_the_console_api(acme, api_token, in_tenant):
    with in_tenant(acme):
        admin_email = db.session.scalar(sa.select(User.email).where(User.role == "admin"))
    assert admin_email
    client, headers = _admin_token(acme, in_tenant, api_token, admin_email)
    assert client.get("/api/v1/console/settings", headers=headers).json["require_verified_email"] is True
    r = client.patch("/api/v1/console/settings", json={"require_verified_email": False}, headers=headers)
    assert r.status_code == 200 and r.json["require_verified_email"] is False
    with in_tenant(acme):
        assert db.session.get(MarketplaceSettings, 1).require_verified_email is False


def _admin_token(tenant, in_tenant, api_token, email):
    from app.accounts.services import hash_password

    with in_tenant(tenant):
        admin = db.session.scalar(sa.select(User).where(User.email == email))
        admin.password_hash = hash_password(PASSWORD)
        db.session.commit()
    return api_token(tenant, email)
