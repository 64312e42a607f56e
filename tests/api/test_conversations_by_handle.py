"""Starting a conversation through the API by a member's public handle or from a gig
(issue #19, API coverage), with the refusals of bad input."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.messaging.models import Conversation
from tenants.db import db


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def give_handle(in_tenant, tenant, user_id: int, handle: str) -> None:
    with in_tenant(tenant):
        db.session.get(User, user_id).handle = handle
        db.session.commit()


def conversations(in_tenant, tenant) -> int:
    with in_tenant(tenant):
        return db.session.scalar(sa.select(sa.func.count()).select_from(Conversation))


def test_by_handle_as_the_profile_shows_it(acme, market, tenant_client, access_token, in_tenant):
    m = market(acme)
    give_handle(in_tenant, acme, m.seller_id, "sally")
    client = tenant_client("acme")
    buyer = auth(access_token(acme, m.buyer_id))
    profile = client.get("/api/v1/profiles/sally").json
    opened = client.post("/api/v1/conversations", json={"handle": profile["handle"]}, headers=buyer)
    assert opened.status_code == 201, opened.json
    assert [p["id"] for p in opened.json["participants"]] == [m.seller_id]
    assert opened.headers["Location"].endswith(f"/api/v1/conversations/{opened.json['id']}")
    assert client.get(opened.headers["Location"], headers=buyer).json["id"] == opened.json["id"]
    # "@sally" and "SALLY" name the same member; by id too: the same conversation.
    for body in ({"handle": "@sally"}, {"handle": "SALLY"}, {"user_id": m.seller_id}):
        again = client.post("/api/v1/conversations", json=body, headers=buyer)
        assert again.status_code == 201 and again.json["id"] == opened.json["id"]
    assert conversations(in_tenant, acme) == 1


def test_from_a_gig_talks_to_its_seller_and_records_the_gig(
    acme, market, tenant_client, access_token, in_tenant
):
    m = market(acme)
    client = tenant_client("acme")
    buyer = auth(access_token(acme, m.buyer_id))
    opened = client.post("/api/v1/conversations", json={"gig_id": m.gig_id}, headers=buyer)
    assert opened.status_code == 201, opened.json
    assert opened.json["gig_id"] == m.gig_id
    assert [p["id"] for p in opened.json["participants"]] == [m.seller_id]
    # With the seller named too, the gig must be theirs.
    same = client.post(
        "/api/v1/conversations", json={"user_id": m.seller_id, "gig_id": m.gig_id}, headers=buyer
    )
    assert same.status_code == 201 and same.json["id"] == opened.json["id"]


def test_bad_inputs_are_refused_and_nothing_is_stored(acme, market, tenant_client, access_token, in_tenant):
    m = market(acme)
    give_handle(in_tenant, acme, m.seller_id, "sally")
    give_handle(in_tenant, acme, m.buyer_id, "bob")
    client = tenant_client("acme")
    buyer = auth(access_token(acme, m.buyer_id))
    seller = auth(access_token(acme, m.seller_id))
    cases = [
        (buyer, {}, 422, "one_recipient"),
        (buyer, {"user_id": m.seller_id, "handle": "sally"}, 422, "one_recipient"),
        (buyer, {"handle": "nobody-here"}, 404, "unknown_user"),
        (buyer, {"handle": "not a handle!"}, 404, "unknown_user"),
        (buyer, {"user_id": 999999}, 404, "unknown_user"),
        (buyer, {"gig_id": 999999}, 404, "unknown_gig"),
        (buyer, {"handle": "bob"}, 422, "self"),
        (buyer, {"user_id": m.buyer_id}, 422, "self"),
        (seller, {"gig_id": m.gig_id}, 422, "self"),
        (buyer, {"user_id": m.stranger_id, "gig_id": m.gig_id}, 422, "invalid_gig"),
    ]
    for headers, body, status, code in cases:
        response = client.post("/api/v1/conversations", json=body, headers=headers)
        assert response.status_code == status, (body, response.json)
        assert response.json["errors"]["code"] == code, (body, response.json)
    wrong_type = client.post("/api/v1/conversations", json={"handle": 42}, headers=buyer)
    assert wrong_type.status_code == 422 and "handle" in wrong_type.json["errors"]["json"]
    assert client.post("/api/v1/conversations", json={"handle": "sally"}).status_code == 401
    assert conversations(in_tenant, acme) == 0


def test_a_paused_gig_and_another_marketplace_s_handle_are_unknown(
    acme, globex, market, tenant_client, access_token, in_tenant, make_gig, make_seller
):
    m = market(acme)
    other = make_seller(globex, email="gina@globex.test")
    give_handle(in_tenant, globex, other, "gina")
    paused = make_gig(acme, m.seller_id, status="paused", title="I will paint your portrait in oil")
    client = tenant_client("acme")
    buyer = auth(access_token(acme, m.buyer_id))
    assert client.post("/api/v1/conversations", json={"handle": "gina"}, headers=buyer).status_code == 404
    assert client.post("/api/v1/conversations", json={"gig_id": paused}, headers=buyer).status_code == 404
    assert conversations(in_tenant, acme) == 0 and conversations(in_tenant, globex) == 0
