"""API token auth: issuing, expiring, rotating and revoking bearer tokens, per tenant."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts import tokens
from app.accounts.models import ApiToken, User
from tenants.db import db

PASSWORD = "correct-horse-battery"


def get_tokens(client, email, password=PASSWORD):
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.json
    return response.json


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def token_rows(in_tenant, tenant) -> list[ApiToken]:
    with in_tenant(tenant):
        rows = db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id)).all()
        db.session.expunge_all()
        return rows


def set_clock(monkeypatch, moment: datetime) -> None:
    """From now on the token module's clock reads ``moment``."""
    monkeypatch.setattr(tokens, "_now", lambda: moment)


def set_status(in_tenant, tenant, user_id, status):
    with in_tenant(tenant):
        db.session.get(User, user_id).status = status
        db.session.commit()


# --- POST /auth/token --------------------------------------------------------


def test_valid_credentials_get_an_access_and_a_refresh_token(tenant_client, acme, make_user, in_tenant):
    make_user(acme, email="ada@example.com")
    body = get_tokens(tenant_client("acme"), "ada@example.com")

    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert body["refresh_expires_in"] == 30 * 24 * 3600
    assert body["access_token"].startswith("gfa_") and body["refresh_token"].startswith("gfr_")
    me = tenant_client("acme").get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json["email"] == "ada@example.com"


def test_only_hashes_of_tokens_are_stored(tenant_client, acme, make_user, in_tenant):
    make_user(acme, email="ada@example.com")
    body = get_tokens(tenant_client("acme"), "ada@example.com")

    rows = token_rows(in_tenant, acme)
    assert sorted(r.kind for r in rows) == ["access", "refresh"]
    assert len({r.family_id for r in rows}) == 1
    for row in rows:
        assert len(row.token_hash) == 64
        stored = " ".join(str(v) for v in row.__dict__.values())
        assert body["access_token"] not in stored and body["refresh_token"] not in stored
        assert body["access_token"][4:] not in stored and body["refresh_token"][4:] not in stored


@pytest.mark.parametrize(
    "email,password",
    [("ada@example.com", "wrong-password-here"), ("nobody@example.com", PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
def test_bad_credentials_are_401_with_one_generic_message(
    tenant_client, acme, make_user, in_tenant, email, password
):
    make_user(acme, email="ada@example.com")
    response = tenant_client("acme").post("/api/v1/auth/token", json={"email": email, "password": password})

    assert response.status_code == 401
    assert response.json["message"] == "The email or password is incorrect."
    assert token_rows(in_tenant, acme) == []


@pytest.mark.parametrize(
    "body,fields",
    [
        ({}, {"email", "password"}),
        ({"email": "ada@example.com"}, {"password"}),
        ({"email": "ada@example.com", "password": PASSWORD, "admin": True}, {"admin"}),
        ({"email": 12, "password": ["x"]}, {"email", "password"}),
    ],
)
def test_malformed_token_requests_are_422_field_errors(
    tenant_client, acme, make_user, in_tenant, body, fields
):
    make_user(acme, email="ada@example.com")
    response = tenant_client("acme").post("/api/v1/auth/token", json=body)

    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == fields
    assert token_rows(in_tenant, acme) == []


def test_a_body_that_is_not_json_is_a_400_json_error(tenant_client, acme):
    client = tenant_client("acme")
    for data in ("{not json", "[1, 2]", "null"):
        response = client.post("/api/v1/auth/token", data=data, content_type="application/json")
        assert response.status_code in (400, 422), data
        assert response.is_json and response.json["code"] == response.status_code


def test_repeated_failures_lock_the_account_and_only_the_right_password_learns_it(
    app, tenant_client, acme, make_user, in_tenant
):
    make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    statuses = []
    for _ in range(app.config["LOGIN_LOCKOUT_THRESHOLD"] + 1):
        response = client.post(
            "/api/v1/auth/token", json={"email": "ada@example.com", "password": "wrong-password-x"}
        )
        statuses.append(response.status_code)
    assert statuses == [401] * len(statuses)  # locked or not, a wrong guess is a wrong guess

    # The right password does not get through while locked, and is told why.
    response = client.post("/api/v1/auth/token", json={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 423
    assert "locked" in response.json["message"].lower() and "too many" in response.json["message"].lower()
    assert token_rows(in_tenant, acme) == []


def test_a_suspended_user_cannot_get_a_token(tenant_client, acme, make_user, in_tenant):
    user_id = make_user(acme, email="ada@example.com")
    set_status(in_tenant, acme, user_id, "suspended")

    response = tenant_client("acme").post(
        "/api/v1/auth/token", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code in (401, 403, 423)
    assert token_rows(in_tenant, acme) == []


# --- bearer authentication ----------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer ",
        "Bearer gfa_not-a-real-token",
        "Basic YWRhOnNlY3JldA==",
        "Bearer " + "x" * 5000,
        "Bearer gfa_\u00e9\u00e8",
    ],
)
def test_requests_without_a_valid_token_are_401_with_a_bearer_challenge(tenant_client, acme, header):
    headers = {"Authorization": header} if header is not None else {}
    response = tenant_client("acme").get("/api/v1/me", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.is_json and response.json["code"] == 401


def test_a_refresh_token_is_not_an_access_token(tenant_client, acme, make_user):
    make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    body = get_tokens(client, "ada@example.com")

    assert client.get("/api/v1/me", headers=bearer(body["refresh_token"])).status_code == 401
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": body["access_token"]})
    assert response.status_code == 401


def test_an_access_token_expires(app, tenant_client, acme, make_user, monkeypatch):
    make_user(acme, email="ada@example.com")
    monkeypatch.setitem(app.config, "API_ACCESS_TOKEN_LIFETIME", 60)
    client = tenant_client("acme")
    before = datetime.now(UTC)
    body = get_tokens(client, "ada@example.com")
    after = datetime.now(UTC)
    assert body["expires_in"] == 60
    set_clock(monkeypatch, before + timedelta(seconds=59))
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 200

    set_clock(monkeypatch, after + timedelta(seconds=60))
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 401
    # The refresh token still works and issues a fresh access token.
    pair = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}).json
    assert client.get("/api/v1/me", headers=bearer(pair["access_token"])).status_code == 200


def test_an_expired_refresh_token_is_refused(app, tenant_client, acme, make_user, monkeypatch):
    make_user(acme, email="ada@example.com")
    monkeypatch.setitem(app.config, "API_REFRESH_TOKEN_LIFETIME", 60)
    client = tenant_client("acme")
    body = get_tokens(client, "ada@example.com")

    set_clock(monkeypatch, datetime.now(UTC) + timedelta(seconds=60))
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 401 and "expired" in response.json["message"]


@pytest.mark.parametrize("status", ["suspended", "deleted"])
def test_a_suspended_or_deleted_users_tokens_stop_working(tenant_client, acme, make_user, in_tenant, status):
    user_id = make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    body = get_tokens(client, "ada@example.com")

    set_status(in_tenant, acme, user_id, status)
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 401
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 401


def test_token_use_is_recorded(tenant_client, acme, make_user, in_tenant):
    make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    body = get_tokens(client, "ada@example.com")
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 200

    access = next(r for r in token_rows(in_tenant, acme) if r.kind == "access")
    assert access.last_used_at is not None


def _last_used(app, token_id) -> datetime | None:
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT last_used_at FROM tenant_acme.api_tokens WHERE id = :id"), {"id": token_id}
        ).scalar_one()


def test_token_use_is_written_with_the_requests_commit_or_apart_when_it_is_refused(
    app, tenant_client, acme, make_user, in_tenant, monkeypatch
):
    """A used token's "last used" is written by the token's own read and rides on the request's
    commit (no statement or connection of its own: a due write costs the request nothing); a
    refused request, which rolls back, still records it (apart); neither waits for a lock
    another transaction holds on the token's row."""
    from tests.helpers import counting_statements

    make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    body = get_tokens(client, "ada@example.com")
    access = next(r for r in token_rows(in_tenant, acme) if r.kind == "access")
    moment = datetime.now(UTC) + timedelta(minutes=2)
    set_clock(monkeypatch, moment)
    with counting_statements(app) as statements:  # the first use: due
        assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 200
    assert not any(s.startswith("UPDATE") and "api_tokens" in s for s in statements), statements
    assert any(s.startswith("WITH touched AS") and "api_tokens" in s for s in statements), statements
    assert _last_used(app, access.id) == moment
    set_clock(monkeypatch, moment + timedelta(seconds=30))
    with counting_statements(app) as not_due:  # within the minute: nothing written
        assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 200
    assert _last_used(app, access.id) == moment
    assert len(statements) == len(not_due), statements

    later = moment + timedelta(minutes=2)
    set_clock(monkeypatch, later)
    with counting_statements(app) as statements:
        refused = client.get("/api/v1/orders/987654321", headers=bearer(body["access_token"]))
    assert refused.status_code == 404
    assert not any(s.startswith("UPDATE") and "api_tokens" in s for s in statements)  # apart
    assert _last_used(app, access.id) == later

    # Another transaction holds the row: the request neither waits nor fails; the write skips.
    set_clock(monkeypatch, later + timedelta(minutes=2))
    answers = []
    with app.app_context(), db.engine.connect() as holder:
        holder.execute(
            sa.text("SELECT id FROM tenant_acme.api_tokens WHERE id = :id FOR UPDATE"), {"id": access.id}
        )
        request = threading.Thread(
            target=lambda: answers.append(client.get("/api/v1/me", headers=bearer(body["access_token"])))
        )
        request.start()
        request.join(timeout=10)  # a request that waited for the lock would still be running
        waited = request.is_alive()
        holder.rollback()  # lets a waiting request finish either way
    request.join()
    assert not waited and answers[0].status_code == 200
    assert _last_used(app, access.id) == later


# --- refresh rotation ---------------------------------------------------------


def test_refresh_rotates_the_refresh_token(tenant_client, acme, make_user, in_tenant):
    make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    first = get_tokens(client, "ada@example.com")

    response = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    second = response.json
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 200

    third = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200
    assert len({r.family_id for r in token_rows(in_tenant, acme)}) == 1


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(tenant_client, acme, make_user, in_tenant):
    make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    first = get_tokens(client, "ada@example.com")
    other_session = get_tokens(client, "ada@example.com")
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json

    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert "already used" in replay.json["message"]

    # Every token descended from the stolen one is dead...
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(first["access_token"])).status_code == 401
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert refresh.status_code == 401
    # ...while an unrelated sign-in of the same user keeps working.
    assert client.get("/api/v1/me", headers=bearer(other_session["access_token"])).status_code == 200


@pytest.mark.parametrize(
    "body", [{}, {"refresh_token": ""}, {"refresh_token": 5}, {"refresh_token": "x", "extra": 1}]
)
def test_malformed_refresh_requests_are_422(tenant_client, acme, body):
    response = tenant_client("acme").post("/api/v1/auth/refresh", json=body)
    assert response.status_code == 422
    assert "json" in response.json["errors"]


def test_an_unknown_refresh_token_is_401(tenant_client, acme):
    response = tenant_client("acme").post("/api/v1/auth/refresh", json={"refresh_token": "gfr_forged"})
    assert response.status_code == 401


# --- revoke -------------------------------------------------------------------


def test_a_revoked_access_token_is_401(tenant_client, acme, make_user):
    make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    body = get_tokens(client, "ada@example.com")

    response = client.post("/api/v1/auth/revoke", json={"token": body["access_token"]})
    assert response.status_code == 204 and response.data == b""
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 401
    # The refresh token was not revoked: the client can get a new access token.
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200


def test_revoking_a_refresh_token_signs_the_client_out(tenant_client, acme, make_user):
    make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    body = get_tokens(client, "ada@example.com")

    assert client.post("/api/v1/auth/revoke", json={"token": body["refresh_token"]}).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 401
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 401


def test_revoking_an_unknown_token_answers_the_same(tenant_client, acme):
    client = tenant_client("acme")
    for token in ("gfa_unknown", "gfr_unknown", "garbage"):
        assert client.post("/api/v1/auth/revoke", json={"token": token}).status_code == 204


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": None}, {"token": ["a"]}])
def test_malformed_revoke_requests_are_422(tenant_client, acme, body):
    response = tenant_client("acme").post("/api/v1/auth/revoke", json=body)
    assert response.status_code == 422
    assert "json" in response.json["errors"]


# --- tenants ------------------------------------------------------------------


def test_a_token_from_one_tenant_is_worthless_on_another(tenant_client, acme, globex, make_user, in_tenant):
    # Same email, same user id and same token ids on both tenants.
    acme_user = make_user(acme, email="ada@example.com")
    globex_user = make_user(globex, email="ada@example.com")
    assert acme_user == globex_user
    globex_tokens = get_tokens(tenant_client("globex"), "ada@example.com")
    acme_tokens = get_tokens(tenant_client("acme"), "ada@example.com")
    assert [r.id for r in token_rows(in_tenant, acme)] == [r.id for r in token_rows(in_tenant, globex)]

    globex_tenant, globex = globex, tenant_client("globex")
    assert globex.get("/api/v1/me", headers=bearer(acme_tokens["access_token"])).status_code == 401
    # Its read, which writes a good token's first use, wrote nothing on globex's row of that id.
    assert all(r.last_used_at is None for r in token_rows(in_tenant, globex_tenant))
    response = globex.post("/api/v1/auth/refresh", json={"refresh_token": acme_tokens["refresh_token"]})
    assert response.status_code == 401
    # Revoking acme's token on globex does nothing to either.
    assert globex.post("/api/v1/auth/revoke", json={"token": acme_tokens["access_token"]}).status_code == 204
    acme_me = tenant_client("acme").get("/api/v1/me", headers=bearer(acme_tokens["access_token"]))
    assert acme_me.status_code == 200
    assert globex.get("/api/v1/me", headers=bearer(globex_tokens["access_token"])).status_code == 200


# --- OpenAPI ------------------------------------------------------------------


def test_the_openapi_spec_documents_the_accounts_api_and_bearer_auth(tenant_client, acme):
    spec = tenant_client("acme").get("/api/v1/openapi.json").json

    for path in (
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/auth/revoke",
        "/api/v1/users",
        "/api/v1/me",
        "/api/v1/me/export",
        "/api/v1/me/seller-profile",
        "/api/v1/profiles/{handle}",
    ):
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    me = spec["paths"]["/api/v1/me"]
    assert me["get"]["security"] == [{"bearerAuth": []}]
    assert "401" in me["get"]["responses"] and "412" in me["patch"]["responses"]
    assert "security" not in spec["paths"]["/api/v1/auth/token"]["post"]
    token_request = spec["components"]["schemas"]["TokenRequest"]["properties"]
    assert token_request["email"]["example"] == "ada@example.com"


def test_the_token_endpoint_is_rate_limited_per_account(app, tenant_client, acme, make_user, monkeypatch):
    make_user(acme, email="ada@example.com")
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT", "3 per minute")
    client = tenant_client("acme")
    for _ in range(3):
        assert (
            client.post("/api/v1/auth/token", json={"email": "ada@example.com", "password": "x"}).status_code
            == 401
        )

    response = client.post("/api/v1/auth/token", json={"email": "ADA@example.com", "password": PASSWORD})
    assert response.status_code == 429 and response.is_json
    # Another tenant's budget is its own.
    other = tenant_client("globex").post(
        "/api/v1/auth/token", json={"email": "ada@example.com", "password": "x"}
    )
    assert other.status_code == 401


def test_revoke_all_for_user_ends_every_session(tenant_client, acme, make_user, in_tenant):
    from app.accounts import tokens

    user_id = make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    first, second = get_tokens(client, "ada@example.com"), get_tokens(client, "ada@example.com")
    with in_tenant(acme):
        assert tokens.revoke_all_for_user(db.session.get(User, user_id)) == 4
        db.session.commit()

    for pair in (first, second):
        assert client.get("/api/v1/me", headers=bearer(pair["access_token"])).status_code == 401
        refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert refresh.status_code == 401
