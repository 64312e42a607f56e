"""Deleting one's account through the API (GDPR; issue #19, API coverage): the web's deletion,
confirmed by the password; the export before it."""

from __future__ import annotations

from app.accounts.models import User
from app.accounts.services import add_portfolio_item, update_profile
from tenants.db import db

PASSWORD = "correct-horse-battery"


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def row(in_tenant, tenant, user_id) -> dict:
    with in_tenant(tenant):
        user = db.session.get(User, user_id)
        return {
            "email": user.email,
            "display_name": user.display_name,
            "handle": user.handle,
            "bio": user.bio,
            "status": user.status,
            "password_hash": bool(user.password_hash),
            "seller_profile": user.seller_profile is not None,
            "portfolio": len(user.portfolio_items),
        }


def a_seller_with_data(make_seller, in_tenant, tenant) -> int:
    seller_id = make_seller(tenant, email="ada@acme.test", display_name="Ada Lovelace")
    with in_tenant(tenant):
        user = db.session.get(User, seller_id)
        update_profile(user, handle="ada", bio="Engines and notes.")
        add_portfolio_item(user, "Notes", "On the engine", link="https://example.com/notes")
        db.session.commit()
    return seller_id


def test_a_wrong_password_changes_nothing(acme, make_seller, tenant_client, access_token, in_tenant):
    user_id = a_seller_with_data(make_seller, in_tenant, acme)
    token = access_token(acme, user_id)
    client = tenant_client("acme")
    before = row(in_tenant, acme, user_id)
    refused = client.delete("/api/v1/me", json={"password": "not-my-password"}, headers=auth(token))
    assert refused.status_code == 422 and "password" in refused.json["errors"]["json"]
    missing = client.delete("/api/v1/me", json={}, headers=auth(token))
    assert missing.status_code == 422 and "password" in missing.json["errors"]["json"]
    assert client.delete("/api/v1/me", json={"password": PASSWORD}).status_code == 401
    assert row(in_tenant, acme, user_id) == before
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200


def test_deletion_erases_the_personal_data_and_kills_the_tokens(
    acme, make_seller, tenant_client, access_token, in_tenant
):
    user_id = a_seller_with_data(make_seller, in_tenant, acme)
    client = tenant_client("acme")
    pair = client.post("/api/v1/auth/token", json={"email": "ada@acme.test", "password": PASSWORD}).json
    token = pair["access_token"]
    other_token = access_token(acme, user_id)

    export = client.get("/api/v1/me/export", headers=auth(token))
    assert export.status_code == 200 and export.json["account"]["email"] == "ada@acme.test"
    assert export.json["profile"]["handle"] == "ada" and len(export.json["portfolio"]) == 1
    assert client.get("/api/v1/profiles/ada").status_code == 200

    deleted = client.delete("/api/v1/me", json={"password": PASSWORD}, headers=auth(token))
    assert deleted.status_code == 204, deleted.json
    assert row(in_tenant, acme, user_id) == {
        "email": f"deleted-{user_id}@invalid",
        "display_name": "Deleted user",
        "handle": None,
        "bio": "",
        "status": "deleted",
        "password_hash": False,
        "seller_profile": False,
        "portfolio": 0,
    }
    # Every token is dead, the refresh token too; the password no longer signs in.
    for t in (token, other_token):
        assert client.get("/api/v1/me", headers=auth(t)).status_code == 401
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
    )
    signin = client.post("/api/v1/auth/token", json={"email": "ada@acme.test", "password": PASSWORD})
    assert signin.status_code == 401
    assert client.get("/api/v1/profiles/ada").status_code == 404


def test_an_operator_admin_cannot_delete_themself(acme, make_user, tenant_client, access_token, in_tenant):
    admin_id = make_user(acme, email="boss@acme.test", role="admin")
    client = tenant_client("acme")
    refused = client.delete(
        "/api/v1/me", json={"password": PASSWORD}, headers=auth(access_token(acme, admin_id))
    )
    assert refused.status_code == 422
    assert row(in_tenant, acme, admin_id)["status"] == "active"


def test_another_marketplace_s_account_is_untouched(
    acme, globex, make_seller, tenant_client, access_token, in_tenant
):
    acme_id = a_seller_with_data(make_seller, in_tenant, acme)
    globex_id = a_seller_with_data(make_seller, in_tenant, globex)
    client = tenant_client("acme")
    assert (
        client.delete(
            "/api/v1/me", json={"password": PASSWORD}, headers=auth(access_token(acme, acme_id))
        ).status_code
        == 204
    )
    assert row(in_tenant, globex, globex_id)["status"] == "active"
    # A globex token is worthless on acme.
    globex_token = access_token(globex, globex_id)
    assert (
        client.delete("/api/v1/me", json={"password": PASSWORD}, headers=auth(globex_token)).status_code
        == 401
    )
    assert tenant_client("globex").get("/api/v1/me", headers=auth(globex_token)).status_code == 200
