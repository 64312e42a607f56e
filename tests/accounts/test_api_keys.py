"""Partner API keys (app/accounts/api_keys.py): scopes on every route, refusals (revoked,
expired, another tenant, the token endpoints), the hashed secret, and the call log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts import api_keys, tasks
from app.accounts.models import ApiKey, ApiKeyCall, User
from app.core.domain_errors import Forbidden
from tenants.db import db


def _admin(tenant) -> User:
    return db.session.scalars(sa.select(User).where(User.email == f"admin@{tenant.slug}.test")).one()


@pytest.fixture
def make_key(in_tenant):
    """``make_key(tenant, scopes, user_id=None, **kw)`` -> (key id, secret), made by the admin."""

    def make(tenant, scopes, user_id=None, **kwargs):
        with in_tenant(tenant):
            user = db.session.get(User, user_id) if user_id else None
            key, secret = api_keys.create_key(
                _admin(tenant), name=kwargs.pop("name", "Partner bot"), scopes=scopes, user=user, **kwargs
            )
            db.session.commit()
            return key.id, secret

    return make


def _bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def _calls(in_tenant, tenant):
    with in_tenant(tenant):
        rows = db.session.scalars(sa.select(ApiKeyCall).order_by(ApiKeyCall.id)).all()
        return [(r.key_id, r.method, r.route, r.status) for r in rows]


# --- scopes -------------------------------------------------------------------------------


def test_scope_for_maps_methods_to_read_and_write():
    assert api_keys.scope_for("orders_api", "GET", "/api/v1/orders") == "orders:read"
    assert api_keys.scope_for("orders_api", "HEAD", "/api/v1/orders") == "orders:read"
    assert api_keys.scope_for("orders_api", "POST", "/api/v1/orders") == "orders:write"
    assert api_keys.scope_for("messaging_api", "GET", "/api/v1/conversations") == "messaging:read"
    assert api_keys.scope_for("reviews_api", "GET", "/api/v1/gigs/<int:gig_id>/reviews") == "catalog:read"
    assert (
        api_keys.scope_for("reviews_api", "POST", "/api/v1/reviews/<int:review_id>/reply") == "orders:write"
    )
    assert api_keys.scope_for("reviews_api", "GET", "/api/v1/orders/<int:order_id>/reviews") == "orders:read"
    assert api_keys.scope_for("accounts_api", "GET", "/api/v1/profiles/<string:handle>") == "catalog:read"
    assert api_keys.scope_for("accounts_api", "PATCH", "/api/v1/me") == "account:write"
    assert api_keys.scope_for("console_api", "GET", "/api/v1/console/users") == "console:read"
    assert api_keys.scope_for("anything", "POST", "/api/v1/console/webhook-endpoints") == "webhooks:write"
    assert api_keys.scope_for("orders_api", "POST", "/api/v1/orders/<id>/payment-session") == "payments:write"


def test_keys_can_not_call_token_signup_or_key_routes_nor_unknown_blueprints():
    for blueprint, method, rule in (
        ("accounts_api", "POST", "/api/v1/auth/token"),
        ("accounts_api", "POST", "/api/v1/auth/refresh"),
        ("accounts_api", "POST", "/api/v1/auth/revoke"),
        ("accounts_api", "POST", "/api/v1/users"),
        ("console_api", "GET", "/api/v1/console/api-keys"),
        ("console_api", "POST", "/api/v1/console/api-keys"),
        ("brand_new_api", "GET", "/api/v1/brand-new"),
    ):
        assert api_keys.scope_for(blueprint, method, rule) is None, rule


def test_every_registered_api_route_has_a_decision(app):
    """Every API blueprint is in the map: a route keys can't use is a deliberate choice."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs"):
            continue
        blueprint = rule.endpoint.rpartition(".")[0]
        for method in rule.methods - {"OPTIONS", "HEAD"}:
            scope = api_keys.scope_for(blueprint, method, rule.rule)
            if scope is None:
                assert (
                    rule.rule.startswith(api_keys.NO_KEY_RULES)
                    or (rule.rule, method) in api_keys.NO_KEY_EXACT
                )
            else:
                assert scope in api_keys.SCOPES


def test_write_implies_read():
    assert api_keys.grants(["orders:write"], "orders:read")
    assert not api_keys.grants(["orders:read"], "orders:write")
    assert not api_keys.grants(["orders:write"], "payments:read")


# --- the API with a key --------------------------------------------------------------------


def test_an_orders_read_key_lists_orders_but_can_not_place_one_or_read_messages(
    app, acme, make_user, make_key, tenant_client, in_tenant
):
    buyer = make_user(acme, email="bot@example.com")
    key_id, secret = make_key(acme, ["orders:read"], user_id=buyer)
    client = tenant_client("acme")

    listed = client.get("/api/v1/orders", headers=_bearer(secret))
    assert listed.status_code == 200, listed.json
    assert listed.json == []

    placed = client.post("/api/v1/orders", json={"gig_id": 1, "package": "basic"}, headers=_bearer(secret))
    assert placed.status_code == 403
    assert placed.json["errors"] == {"code": "insufficient_scope", "scope": "orders:write"}
    assert "orders:write" in placed.json["message"]
    assert placed.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="orders:write"'

    chats = client.get("/api/v1/conversations", headers=_bearer(secret))
    assert chats.status_code == 403
    assert chats.json["errors"]["scope"] == "messaging:read"

    # A public route is held to the scopes too.
    assert client.get("/api/v1/categories", headers=_bearer(secret)).status_code == 403

    # Every call, refused ones included, is one row naming the URL rule (not the raw path).
    assert _calls(in_tenant, acme) == [
        (key_id, "GET", "/api/v1/orders", 200),
        (key_id, "POST", "/api/v1/orders", 403),
        (key_id, "GET", "/api/v1/conversations", 403),
        (key_id, "GET", "/api/v1/categories", 403),
    ]
    with in_tenant(acme):
        key = db.session.get(ApiKey, key_id)
        assert key.last_used_at is not None
        assert key.last_used_ip == "127.0.0.1"


def test_the_call_log_names_the_url_rule_and_the_request_id(
    acme, make_key, make_user, tenant_client, in_tenant
):
    user = make_user(acme)
    key_id, secret = make_key(acme, ["orders:read"], user_id=user)
    client = tenant_client("acme")
    response = client.get("/api/v1/orders/12345", headers={**_bearer(secret), "X-Request-ID": "req-abc-1"})
    assert response.status_code == 404
    with in_tenant(acme):
        call = db.session.scalars(sa.select(ApiKeyCall)).one()
        assert call.route == "/api/v1/orders/<int(max=9223372036854775807):order_id>"
        assert (call.method, call.status, call.request_id, call.ip) == ("GET", 404, "req-abc-1", "127.0.0.1")


def test_a_call_reads_its_key_once_and_is_logged_with_the_requests_commit_a_refused_one_apart(
    app, acme, make_key, make_user, tenant_client, in_tenant
):
    """The call row rides on the request's own transaction (no connection, BEGIN or COMMIT of its
    own); a refusal rolls the request back, and its row is written apart with the refusal's
    status. The key is read with its member in one statement."""
    from tests.helpers import counting_statements, statement_listing

    user = make_user(acme)
    key_id, secret = make_key(acme, ["orders:read", "account:read"], user_id=user)
    client = tenant_client("acme")
    with counting_statements(app) as statements:
        assert client.get("/api/v1/orders", headers=_bearer(secret)).status_code == 200
    inserts = [s for s in statements if s.startswith("INSERT INTO") and "api_key_calls" in s]
    assert len(inserts) == 1, statement_listing(statements)
    # The key, its member and their seller profile come in one statement (as a token's do).
    with counting_statements(app) as statements:
        assert client.get("/api/v1/me", headers=_bearer(secret)).status_code == 200
    tenant_statements = [s for s in statements if "tenant_acme." in s]
    assert len(tenant_statements) == 2, statement_listing(statements)
    first = tenant_statements[0]
    assert all(f"tenant_acme.{t}" in first for t in ("api_keys", "users", "seller_profiles")), first
    with counting_statements(app) as statements:
        assert client.post("/api/v1/orders", json={}, headers=_bearer(secret)).status_code == 403
    assert not [s for s in statements if "api_key_calls" in s], statement_listing(statements)  # apart
    assert _calls(in_tenant, acme) == [
        (key_id, "GET", "/api/v1/orders", 200),
        (key_id, "GET", "/api/v1/me", 200),
        (key_id, "POST", "/api/v1/orders", 403),
    ]


def test_a_call_never_waits_behind_another_calls_last_use_write(
    app, acme, make_key, make_user, tenant_client, in_tenant
):
    """Another call of the key holds its row for its last-use write until it commits: this call's
    log row (whose foreign key shares the row) and its own last-use write (which skips) wait for
    nothing. With the write's lock taken FOR UPDATE, the call row's check waited for it."""
    import threading

    from app.core.unit_of_work import skip_locked_update

    user = make_user(acme)
    key_id, secret = make_key(acme, ["account:read"], user_id=user)
    client = tenant_client("acme")
    answers = []
    with in_tenant(acme):
        db.session.execute(skip_locked_update(ApiKey.__table__, key_id, last_used_ip="10.0.0.9"))
        call = threading.Thread(
            target=lambda: answers.append(client.get("/api/v1/me", headers=_bearer(secret)))
        )
        call.start()
        call.join(timeout=10)  # a call that waited for the row would still be running
        waited = call.is_alive()
        db.session.rollback()  # lets a waiting call finish either way
    call.join()
    assert not waited
    assert answers[0].status_code == 200
    assert _calls(in_tenant, acme) == [(key_id, "GET", "/api/v1/me", 200)]


def test_the_key_acts_as_its_member(acme, make_user, make_key, tenant_client):
    member = make_user(acme, email="partner-bot@example.com", display_name="Partner Bot")
    _key_id, secret = make_key(acme, ["account:read"], user_id=member)
    me = tenant_client("acme").get("/api/v1/me", headers=_bearer(secret))
    assert me.status_code == 200
    assert me.json["display_name"] == "Partner Bot"


def test_a_revoked_key_is_refused(acme, make_user, make_key, tenant_client, in_tenant):
    _key_id, secret = make_key(acme, ["orders:read"])
    client = tenant_client("acme")
    assert client.get("/api/v1/orders", headers=_bearer(secret)).status_code == 200
    with in_tenant(acme):
        api_keys.revoke_key(_admin(acme), _key_id)
        db.session.commit()
    refused = client.get("/api/v1/orders", headers=_bearer(secret))
    assert refused.status_code == 401
    assert "invalid_token" in refused.headers["WWW-Authenticate"]
    # Public routes too: a dead key is never silently ignored.
    assert client.get("/api/v1/categories", headers=_bearer(secret)).status_code == 401
    assert [c[3] for c in _calls(in_tenant, acme)] == [200, 401, 401]


def test_an_expired_key_is_refused(acme, make_key, tenant_client, monkeypatch):
    now = datetime.now(UTC)
    _key_id, secret = make_key(acme, ["orders:read"], expires_at=now + timedelta(hours=1))
    client = tenant_client("acme")
    assert client.get("/api/v1/orders", headers=_bearer(secret)).status_code == 200
    monkeypatch.setattr(api_keys, "_now", lambda: now + timedelta(hours=1, seconds=1))
    assert client.get("/api/v1/orders", headers=_bearer(secret)).status_code == 401


def test_a_key_of_a_suspended_member_is_refused(acme, make_user, make_key, tenant_client, in_tenant):
    member = make_user(acme)
    _key_id, secret = make_key(acme, ["orders:read"], user_id=member)
    with in_tenant(acme):
        db.session.get(User, member).status = "suspended"
        db.session.commit()
    assert tenant_client("acme").get("/api/v1/orders", headers=_bearer(secret)).status_code == 401


def test_a_key_is_worthless_on_another_tenant_even_with_the_same_id(
    acme, globex, make_key, tenant_client, in_tenant
):
    acme_id, acme_secret = make_key(acme, ["orders:read"])
    globex_id, _globex_secret = make_key(globex, ["orders:read"])
    assert acme_id == globex_id  # identities restart per tenant: same id, different keys
    response = tenant_client("globex").get("/api/v1/orders", headers=_bearer(acme_secret))
    assert response.status_code == 401
    assert _calls(in_tenant, globex) == []  # nothing of acme's is known there
    assert _calls(in_tenant, acme) == []


def test_keys_can_not_call_the_token_endpoints(acme, make_key, tenant_client, in_tenant):
    key_id, secret = make_key(acme, list(api_keys.SCOPES))
    client = tenant_client("acme")
    token = client.post(
        "/api/v1/auth/token",
        json={"email": "admin@acme.test", "password": "admin-password-123"},
        headers=_bearer(secret),
    )
    assert token.status_code == 403
    assert token.json["errors"] == {"code": "insufficient_scope", "scope": None}
    assert "access_token" not in token.json
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": "gfr_x"}, headers=_bearer(secret))
    assert refresh.status_code == 403
    signup = client.post(
        "/api/v1/users",
        json={"email": "new@example.com", "password": "correct-horse-battery", "display_name": "New"},
        headers=_bearer(secret),
    )
    assert signup.status_code == 403
    with in_tenant(acme):
        assert db.session.scalar(sa.select(User).where(User.email == "new@example.com")) is None
    assert [(c[2], c[3]) for c in _calls(in_tenant, acme)] == [
        ("/api/v1/auth/token", 403),
        ("/api/v1/auth/refresh", 403),
        ("/api/v1/users", 403),
    ]


def test_an_unknown_key_is_401_and_logs_nothing(acme, tenant_client, in_tenant):
    response = tenant_client("acme").get("/api/v1/orders", headers=_bearer("gfk_" + "x" * 43))
    assert response.status_code == 401
    assert _calls(in_tenant, acme) == []


def test_a_console_key_works_only_while_its_member_is_an_admin(
    acme, make_user, make_key, tenant_client, in_tenant
):
    operator = make_user(acme, role="admin")
    _key_id, secret = make_key(acme, ["console:read"], user_id=operator)
    client = tenant_client("acme")
    assert client.get("/api/v1/console/users", headers=_bearer(secret)).status_code == 200
    # console:read is not console:write
    denied = client.post("/api/v1/console/users/1/suspend", json={"reason": "x"}, headers=_bearer(secret))
    assert denied.status_code == 403
    assert denied.json["errors"]["scope"] == "console:write"
    with in_tenant(acme):
        db.session.get(User, operator).role = "member"
        db.session.commit()
    demoted = client.get("/api/v1/console/users", headers=_bearer(secret))
    assert demoted.status_code == 403
    assert "role" in demoted.json["message"]


def test_a_member_key_with_console_scopes_still_needs_the_role(acme, make_user, make_key, tenant_client):
    member = make_user(acme)
    _key_id, secret = make_key(acme, ["console:read", "console:write"], user_id=member)
    response = tenant_client("acme").get("/api/v1/console/users", headers=_bearer(secret))
    assert response.status_code == 403
    assert "errors" not in response.json or response.json["errors"].get("code") != "insufficient_scope"


def test_tokens_still_work_alongside_keys(acme, make_user, access_token, tenant_client, in_tenant):
    user = make_user(acme)
    token = access_token(acme, user)
    response = tenant_client("acme").post(
        "/api/v1/auth/token", json={"email": "x@example.com", "password": "y"}
    )
    assert response.status_code == 401
    assert tenant_client("acme").get("/api/v1/orders", headers=_bearer(token)).status_code == 200
    assert _calls(in_tenant, acme) == []


# --- making keys ----------------------------------------------------------------------------


def test_only_the_hash_is_stored(acme, make_key, in_tenant):
    key_id, secret = make_key(acme, ["catalog:read"])
    assert secret.startswith("gfk_") and len(secret) == 47
    with in_tenant(acme):
        key = db.session.get(ApiKey, key_id)
        assert key.key_hash == api_keys.hash_key(secret)
        assert key.prefix == secret[:12]
        row = db.session.execute(sa.select(ApiKey.__table__)).mappings().one()
        assert secret not in {str(value) for value in row.values()}


def test_unknown_scopes_are_refused_and_nothing_is_stored(acme, in_tenant):
    with in_tenant(acme):
        with pytest.raises(api_keys.ApiKeyError) as refused:
            api_keys.create_key(_admin(acme), name="Bot", scopes=["orders:read", "orders:delete"])
        assert refused.value.status == 422
        assert "orders:delete" in refused.value.errors["scopes"]
        with pytest.raises(api_keys.ApiKeyError) as empty:
            api_keys.create_key(
                _admin(acme), name=" ", scopes=[], expires_at=datetime(2000, 1, 1, tzinfo=UTC)
            )
        assert set(empty.value.errors) == {"name", "scopes", "expires_at"}
        with pytest.raises(api_keys.ApiKeyError) as nobody:
            api_keys.create_key(
                _admin(acme), name="Bot", scopes=["orders:read"], user_handle="no-such-member"
            )
        assert set(nobody.value.errors) == {"user_handle"}
        with pytest.raises(api_keys.ApiKeyError):
            api_keys.create_key(_admin(acme), name="x" * 81, scopes=["orders:read"])
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count(ApiKey.id))) == 0


def test_only_admins_make_or_revoke_keys(acme, make_user, make_key, in_tenant):
    moderator = make_user(acme, role="moderator")
    key_id, _secret = make_key(acme, ["orders:read"])
    with in_tenant(acme):
        with pytest.raises(Forbidden):
            api_keys.create_key(db.session.get(User, moderator), name="Bot", scopes=["orders:read"])
        with pytest.raises(Forbidden):
            api_keys.revoke_key(db.session.get(User, moderator), key_id)


def test_a_key_can_act_as_a_member_by_handle(acme, make_user, in_tenant):
    member = make_user(acme)
    with in_tenant(acme):
        db.session.get(User, member).handle = handle = "partner-bot"
        db.session.flush()
        key, _secret = api_keys.create_key(
            _admin(acme), name="Bot", scopes=["orders:read"], user_handle=f"@{handle}"
        )
        assert key.user_id == member
        default, _ = api_keys.create_key(_admin(acme), name="Mine", scopes=["orders:read"])
        assert default.user_id == _admin(acme).id


def test_the_tenant_has_a_limit_of_live_keys(acme, in_tenant, monkeypatch):
    monkeypatch.setattr(api_keys, "API_KEYS_PER_TENANT", 2)
    with in_tenant(acme):
        admin = _admin(acme)
        first, _ = api_keys.create_key(admin, name="One", scopes=["orders:read"])
        api_keys.create_key(admin, name="Two", scopes=["orders:read"])
        with pytest.raises(api_keys.ApiKeyError):
            api_keys.create_key(admin, name="Three", scopes=["orders:read"])
        api_keys.revoke_key(admin, first.id)
        api_keys.create_key(admin, name="Three", scopes=["orders:read"])


# --- the call log's purge and isolation ------------------------------------------------------


def test_calls_older_than_30_days_are_purged_per_tenant(app, acme, globex, make_key, in_tenant, run_jobs):
    now = datetime.now(UTC)
    for tenant in (acme, globex):
        key_id, _secret = make_key(tenant, ["orders:read"])
        with in_tenant(tenant):
            for age in (31, 29):
                db.session.add(
                    ApiKeyCall(
                        key_id=key_id, at=now - timedelta(days=age), method="GET", route="/r", status=200
                    )
                )
            db.session.commit()
    with app.app_context():
        assert tasks.sweep_api_key_calls(now) == 2
    run_jobs()
    for tenant in (acme, globex):
        with in_tenant(tenant):
            ages = [(now - at).days for at in db.session.scalars(sa.select(ApiKeyCall.at))]
            assert ages == [29]
    with app.app_context():
        assert tasks.sweep_api_key_calls(now + timedelta(hours=2)) == 0


def test_keys_and_calls_are_per_tenant(acme, globex, make_key, tenant_client, in_tenant):
    _id, secret = make_key(acme, ["orders:read"], name="Acme bot")
    tenant_client("acme").get("/api/v1/orders", headers=_bearer(secret))
    with in_tenant(globex):
        assert api_keys.list_keys() == []
        with pytest.raises(api_keys.NotFound):
            api_keys.recent_calls(_id)
    with in_tenant(acme):
        assert [k.name for k in api_keys.list_keys()] == ["Acme bot"]
        assert len(api_keys.recent_calls(_id)) == 1
