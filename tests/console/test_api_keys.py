"""The console's API keys (app/console/api_keys/): the page (list, create with the secret shown
once, a key's calls, revoke with confirmation) and the console API, admins only, audited."""

from __future__ import annotations

import re

import sqlalchemy as sa
from markupsafe import escape

from app.accounts import api_keys
from app.accounts.models import ApiKey, ApiKeyCall
from tenants.db import db
from tests.console.conftest import admin_web, bearer, csrf_token

SECRET_RE = re.compile(r'value="(gfk_[A-Za-z0-9_-]{43})"')


def _keys(in_tenant, tenant):
    with in_tenant(tenant):
        return db.session.scalars(sa.select(ApiKey).order_by(ApiKey.id)).all()


def _create_on_the_web(client, **fields):
    data = {
        "csrf_token": csrf_token(client, "/console/api-keys"),
        "name": "",
        "user_handle": "",
        "expires_on": "",
    }
    data.update(fields)
    return client.post("/console/api-keys", data=data)


# --- the page ---------------------------------------------------------------------------------


def test_an_admin_creates_a_key_and_sees_the_secret_once(acme, tenant_client, in_tenant, audit_of):
    client = admin_web(tenant_client, acme)
    page = client.get("/console/api-keys")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "No API keys yet." in html
    for scope, description in api_keys.SCOPES.items():
        assert f'value="{scope}"' in html and str(escape(description)) in html

    created = _create_on_the_web(client, name="Order sync", scopes=["orders:read", "catalog:read"])
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    secret = SECRET_RE.search(created.get_data(as_text=True)).group(1)

    (key,) = _keys(in_tenant, acme)
    assert key.key_hash == api_keys.hash_key(secret) and key.prefix == secret[:12]
    assert key.scopes == ["catalog:read", "orders:read"]  # in the table's order
    listing = client.get("/console/api-keys").get_data(as_text=True)
    assert "Order sync" in listing and key.prefix in listing
    assert secret not in listing
    detail = client.get(f"/console/api-keys/{key.id}").get_data(as_text=True)
    assert secret not in detail and "No calls yet." in detail
    (entry,) = [a for a in audit_of(acme) if a[0] == "api_key.create"]
    assert entry[1:4] == ("api_key", str(key.id), "web")
    assert secret not in str(entry)

    # The key works, and its call shows on the key's page.
    assert (
        tenant_client("acme").get("/api/v1/orders", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 200
    )
    detail = client.get(f"/console/api-keys/{key.id}").get_data(as_text=True)
    assert "GET /api/v1/orders" in detail


def test_a_refused_form_keeps_the_input_and_stores_nothing(acme, tenant_client, in_tenant):
    client = admin_web(tenant_client, acme)
    response = _create_on_the_web(client, name="Bot", user_handle="nobody-here", scopes=["orders:read"])
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "No active member has this handle." in html
    assert 'value="orders:read" checked' in html
    no_scopes = _create_on_the_web(client, name="Bot")
    assert no_scopes.status_code == 422
    assert "Choose at least one scope." in no_scopes.get_data(as_text=True)
    forged = _create_on_the_web(client, name="Bot", scopes=["orders:read", "root:all"])
    assert forged.status_code == 422
    assert "Unknown scope: root:all." in forged.get_data(as_text=True)
    past = _create_on_the_web(client, name="Bot", scopes=["orders:read"], expires_on="2001-01-01")
    assert past.status_code == 422
    assert "The expiry must be in the future." in past.get_data(as_text=True)
    assert _keys(in_tenant, acme) == []


def test_revoking_asks_first_then_the_key_stops_working(acme, tenant_client, in_tenant, audit_of):
    client = admin_web(tenant_client, acme)
    secret = SECRET_RE.search(
        _create_on_the_web(client, name="Bot", scopes=["orders:read"]).get_data(as_text=True)
    ).group(1)
    (key,) = _keys(in_tenant, acme)
    token = csrf_token(client, f"/console/api-keys/{key.id}")
    asked = client.post(f"/console/api-keys/{key.id}/revoke", data={"csrf_token": token})
    assert asked.status_code == 200
    assert "Revoke this API key?" in asked.get_data(as_text=True)
    assert _keys(in_tenant, acme)[0].revoked_at is None
    done = client.post(f"/console/api-keys/{key.id}/revoke", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303
    assert _keys(in_tenant, acme)[0].revoked_at is not None
    assert "Revoked" in client.get("/console/api-keys").get_data(as_text=True)
    api = tenant_client("acme").get("/api/v1/orders", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401
    assert [a[0] for a in audit_of(acme)].count("api_key.revoke") == 1


def test_moderators_and_members_can_not_open_the_keys(acme, make_user, web_as, tenant_client):
    make_user(acme, email="mod@acme.test", role="moderator")
    client = web_as(acme, "mod@acme.test")
    assert client.get("/console/api-keys").status_code == 403
    assert "API keys" not in client.get("/console/users").get_data(as_text=True)
    assert "API keys" in admin_web(tenant_client, acme).get("/console/users").get_data(as_text=True)


# --- the API ----------------------------------------------------------------------------------


def test_the_console_api_creates_lists_reads_and_revokes_keys(
    acme, tenant_client, in_tenant, make_user, audit_of
):
    client, headers = bearer(tenant_client, acme)
    make_user(acme, email="bot@acme.test")
    with in_tenant(acme):
        bot = db.session.scalars(sa.select(api_keys.User).where(api_keys.User.email == "bot@acme.test")).one()
        bot.handle = "partner-bot"
        db.session.commit()
        bot_id = bot.id
    created = client.post(
        "/api/v1/console/api-keys",
        json={
            "name": "ERP",
            "scopes": ["orders:write", "payments:read"],
            "user_handle": "partner-bot",
            "expires_at": "2033-01-01T00:00:00Z",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.json
    body = created.json
    key_id = body["id"]
    assert created.headers["Location"].endswith(f"/api/v1/console/api-keys/{key_id}")
    assert body["secret"].startswith("gfk_") and body["prefix"] == body["secret"][:12]
    assert body["acts_as"]["id"] == bot_id and body["status"] == "active"
    assert body["expires_at"].startswith("2033-01-01")

    listed = client.get("/api/v1/console/api-keys", headers=headers).json
    assert [k["id"] for k in listed] == [key_id]
    assert "secret" not in listed[0]
    one = client.get(f"/api/v1/console/api-keys/{key_id}", headers=headers)
    assert one.status_code == 200 and "secret" not in one.json

    key_headers = {"Authorization": f"Bearer {body['secret']}"}
    assert tenant_client("acme").get("/api/v1/orders", headers=key_headers).status_code == 200
    calls = client.get(f"/api/v1/console/api-keys/{key_id}/calls", headers=headers).json
    assert [(c["method"], c["route"], c["status"]) for c in calls] == [("GET", "/api/v1/orders", 200)]

    revoked = client.post(f"/api/v1/console/api-keys/{key_id}/revoke", headers=headers)
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked"
    assert client.delete(f"/api/v1/console/api-keys/{key_id}", headers=headers).status_code == 204
    assert tenant_client("acme").get("/api/v1/orders", headers=key_headers).status_code == 401
    actions = [a for a in audit_of(acme) if a[0].startswith("api_key.")]
    assert [(a[0], a[3]) for a in actions] == [("api_key.create", "api"), ("api_key.revoke", "api")]


def test_delete_revokes_too_and_unknown_keys_are_404(acme, tenant_client, in_tenant):
    client, headers = bearer(tenant_client, acme)
    key_id = client.post(
        "/api/v1/console/api-keys", json={"name": "Bot", "scopes": ["catalog:read"]}, headers=headers
    ).json["id"]
    assert client.delete(f"/api/v1/console/api-keys/{key_id}", headers=headers).status_code == 204
    assert _keys(in_tenant, acme)[0].revoked_at is not None
    assert client.get("/api/v1/console/api-keys/999", headers=headers).status_code == 404
    assert client.delete("/api/v1/console/api-keys/999", headers=headers).status_code == 404
    assert client.get("/api/v1/console/api-keys/999/calls", headers=headers).status_code == 404


def test_unknown_scopes_are_a_422_and_nothing_is_stored(acme, tenant_client, in_tenant):
    client, headers = bearer(tenant_client, acme)
    response = client.post(
        "/api/v1/console/api-keys",
        json={"name": "Bot", "scopes": ["orders:read", "everything"]},
        headers=headers,
    )
    assert response.status_code == 422
    assert "everything" in response.json["errors"]["json"]["scopes"][0]
    past = client.post(
        "/api/v1/console/api-keys",
        json={"name": "Bot", "scopes": ["orders:read"], "expires_at": "2001-01-01T00:00:00+00:00"},
        headers=headers,
    )
    assert past.status_code == 422 and "expires_at" in past.json["errors"]["json"]
    far = client.post(
        "/api/v1/console/api-keys",
        json={"name": "Bot", "scopes": ["orders:read"], "expires_at": "9999-12-31T23:59:59-12:00"},
        headers=headers,
    )
    assert far.status_code == 422 and "expires_at" in far.json["errors"]["json"]
    assert _keys(in_tenant, acme) == []


def test_only_admins_use_the_keys_api_and_keys_can_not_make_keys(
    acme, make_user, api_as, tenant_client, in_tenant
):
    make_user(acme, email="mod@acme.test", role="moderator")
    client, mod_headers = api_as(acme, "mod@acme.test")
    assert client.get("/api/v1/console/api-keys", headers=mod_headers).status_code == 403
    client, headers = bearer(tenant_client, acme)
    secret = client.post(
        "/api/v1/console/api-keys", json={"name": "All", "scopes": list(api_keys.SCOPES)}, headers=headers
    ).json["secret"]
    key_headers = {"Authorization": f"Bearer {secret}"}
    made = client.post(
        "/api/v1/console/api-keys", json={"name": "Child", "scopes": ["orders:read"]}, headers=key_headers
    )
    assert made.status_code == 403
    assert made.json["errors"]["code"] == "insufficient_scope"
    assert client.get("/api/v1/console/api-keys", headers=key_headers).status_code == 403
    assert len(_keys(in_tenant, acme)) == 1
    # ... while the rest of the console answers the same key (its member is the admin).
    assert client.get("/api/v1/console/users", headers=key_headers).status_code == 200


def test_keys_and_their_calls_are_per_tenant(acme, globex, tenant_client, in_tenant):
    client, headers = bearer(tenant_client, acme)
    body = client.post(
        "/api/v1/console/api-keys", json={"name": "Acme bot", "scopes": ["orders:read"]}, headers=headers
    ).json
    tenant_client("acme").get("/api/v1/orders", headers={"Authorization": f"Bearer {body['secret']}"})
    g_client, g_headers = bearer(tenant_client, globex)
    assert g_client.get("/api/v1/console/api-keys", headers=g_headers).json == []
    assert g_client.get(f"/api/v1/console/api-keys/{body['id']}", headers=g_headers).status_code == 404
    assert g_client.get(f"/api/v1/console/api-keys/{body['id']}/calls", headers=g_headers).status_code == 404
    assert admin_web(tenant_client, globex).get(f"/console/api-keys/{body['id']}").status_code == 404
    with in_tenant(globex):
        assert db.session.scalar(sa.select(sa.func.count(ApiKeyCall.id))) == 0
