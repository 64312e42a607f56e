"""One unit of work per request: views never commit; the request commits once, after the view,
when the answer is a success, and a refusal leaves nothing stored even when the service had
already flushed its change.

The refusing services here are stand-ins that flush a change and then refuse, the worst case
for a view: the real services mostly check before they write.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.accounts import services as account_services
from app.accounts.models import User
from app.core.domain_errors import DomainError
from app.notifications import services as notification_services
from tenants.db import TenantSession, db

PASSWORD = "correct-horse-battery"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(client, path: str = "/account") -> str:
    match = CSRF_RE.search(client.get(path).get_data(as_text=True))
    assert match, f"no csrf_token on {path}"
    return match.group(1) or match.group(2)


def login(client, email: str, password: str):
    return client.post(
        "/login", data={"csrf_token": csrf_token(client, "/login"), "email": email, "password": password}
    )


def _flush_then(error: DomainError):
    """A service that renames the user, flushes, then refuses with ``error``."""

    def service(user, *_args, **_kwargs):
        user.display_name = "Flushed But Refused"
        db.session.flush()
        raise error

    return service


def display_name(in_tenant, tenant, user_id: int) -> str:
    with in_tenant(tenant):
        return db.session.get(User, user_id).display_name


@pytest.fixture
def timeline(app, monkeypatch):
    """``timeline(endpoint)`` -> a list that gets "view returned" (or "view raised") when that
    view ends and "commit" at each real (not savepoint) commit, in order."""
    events: list[str] = []

    def on_commit(session):
        if not session.in_nested_transaction():
            events.append("commit")

    event.listen(TenantSession, "after_commit", on_commit)

    def watch(endpoint: str) -> list[str]:
        view = app.view_functions[endpoint]

        def watched(*args, **kwargs):
            try:
                response = view(*args, **kwargs)
            except Exception:
                events.append("view raised")
                raise
            events.append("view returned")
            return response

        monkeypatch.setitem(app.view_functions, endpoint, watched)
        events.clear()  # from now on
        return events

    yield watch
    event.remove(TenantSession, "after_commit", on_commit)


@pytest.fixture
def web_user(tenant_client, make_user, acme):
    user_id = make_user(acme, email="ada@example.com", password=PASSWORD, display_name="Ada")
    client = tenant_client("acme")
    assert login(client, "ada@example.com", PASSWORD).status_code == 302
    return client, user_id


@pytest.fixture
def api_user(tenant_client, make_user, acme):
    user_id = make_user(acme, email="bea@example.com", password=PASSWORD, display_name="Bea")
    client = tenant_client("acme")
    token = client.post("/api/v1/auth/token", json={"email": "bea@example.com", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json['access_token']}"}
    etag = client.get("/api/v1/me", headers=headers).headers["ETag"]
    return client, {**headers, "If-Match": etag}, user_id


def _profile_form(client, display_name: str) -> dict:
    return {
        "csrf_token": csrf_token(client),
        "display_name": display_name,
        "handle": "ada",
        "timezone": "UTC",
    }


def test_a_web_form_refused_after_the_service_flushed_stores_nothing(
    web_user, acme, in_tenant, monkeypatch, timeline
):
    client, user_id = web_user
    form = _profile_form(client, "Ada Renamed")
    events = timeline("accounts.profile")
    monkeypatch.setattr(
        account_services, "update_profile", _flush_then(account_services.AccountError({"handle": "Taken."}))
    )

    response = client.post("/account", data=form)

    assert response.status_code == 422 and "Taken." in response.get_data(as_text=True)
    assert events == ["view returned"]  # no commit, not even after the view
    assert display_name(in_tenant, acme, user_id) == "Ada"


def test_an_api_call_refused_after_the_service_flushed_stores_nothing(
    api_user, acme, in_tenant, monkeypatch, timeline
):
    client, headers, user_id = api_user
    events = timeline("accounts_api.Me")
    monkeypatch.setattr(
        account_services,
        "update_profile",
        _flush_then(account_services.AccountError({"display_name": "Not this one."})),
    )

    response = client.patch("/api/v1/me", json={"display_name": "Bea Renamed"}, headers=headers)

    assert response.status_code == 422
    assert response.json["errors"]["json"] == {"display_name": ["Not this one."]}
    assert events == ["view raised"]  # the central handler answered; nothing was committed
    assert display_name(in_tenant, acme, user_id) == "Bea"


def test_a_refusal_answered_with_a_redirect_stores_nothing(web_user, acme, in_tenant, monkeypatch):
    """A redirect is a success status: the view must abandon the unit itself."""
    client, user_id = web_user
    token = csrf_token(client)
    monkeypatch.setattr(
        notification_services,
        "mark_read",
        _flush_then(notification_services.NotificationError("Unknown notification.", status=404)),
    )

    response = client.post("/notifications/read", data={"csrf_token": token, "id": "1"})

    assert response.status_code == 302
    assert display_name(in_tenant, acme, user_id) == "Ada"


def test_a_successful_web_post_is_committed_once_after_the_view_returns(web_user, acme, in_tenant, timeline):
    client, user_id = web_user
    form = _profile_form(client, "Ada Renamed")
    events = timeline("accounts.profile")

    response = client.post("/account", data=form)

    assert response.status_code == 302, response.get_data(as_text=True)
    assert events == ["view returned", "commit"]
    assert display_name(in_tenant, acme, user_id) == "Ada Renamed"


def test_a_successful_api_call_is_committed_once_after_the_view_returns(api_user, acme, in_tenant, timeline):
    client, headers, user_id = api_user
    events = timeline("accounts_api.Me")

    response = client.patch("/api/v1/me", json={"display_name": "Bea Renamed"}, headers=headers)

    assert response.status_code == 200 and response.json["display_name"] == "Bea Renamed"
    assert events == ["view returned", "commit"]
    assert display_name(in_tenant, acme, user_id) == "Bea Renamed"


def test_a_failed_login_still_counts_toward_the_lockout(tenant_client, make_user, acme, in_tenant):
    """``keep()``: the refused sign-in's failure counter is committed with the 422 page."""
    user_id = make_user(acme, email="cy@example.com", password=PASSWORD)
    client = tenant_client("acme")

    assert login(client, "cy@example.com", "wrong password").status_code == 422
    response = client.post("/api/v1/auth/token", json={"email": "cy@example.com", "password": "wrong"})

    assert response.status_code == 401
    with in_tenant(acme):
        failures = db.session.scalar(sa.select(User.failed_login_count).where(User.id == user_id))
    assert failures == 2


def test_bookkeeping_apart_never_waits_for_the_pool_its_caller_holds(app, acme, in_tenant, make_user):
    """``execute_apart`` takes its connection from a pool of its own: with every connection of
    the app's pool checked out (each caller holding one and wanting a second, the deadlock a
    burst of sockets with fresh tokens caused), the bookkeeping still commits at once."""
    from app.core.unit_of_work import execute_apart

    user_id = make_user(acme)
    with app.app_context():
        pool = db.engine.pool
        held = []
        try:
            for _ in range(pool.size() + pool._max_overflow):
                held.append(db.engine.connect())
            assert pool.checkedout() == len(held)
            rename = sa.update(User.__table__).where(User.id == user_id).values(display_name="Apart")
            with in_tenant(acme):
                execute_apart(rename)
        finally:
            for conn in held:
                conn.close()
    with in_tenant(acme):
        assert db.session.get(User, user_id).display_name == "Apart"


def test_bookkeeping_a_read_wrote_is_written_again_when_its_transaction_rolled_back(
    app, api_user, acme, in_tenant, monkeypatch
):
    """A token's last use written by its read (``bookkeeping_written``) commits with the
    request; should that transaction be rolled back on the way and the request then succeed,
    the write is made again before the commit, not lost."""
    from datetime import UTC, datetime, timedelta

    from app.accounts import tokens
    from app.accounts.models import ApiToken

    client, headers, user_id = api_user
    moment = datetime.now(UTC) + timedelta(minutes=5)
    monkeypatch.setattr(tokens, "_now", lambda: moment)
    touch = tokens._touch

    def rolled_back_on_the_way(row, now):
        touch(row, now)  # after the token's read, which wrote its last use
        db.session.rollback()

    monkeypatch.setattr(tokens, "_touch", rolled_back_on_the_way)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with in_tenant(acme):
        used = db.session.scalars(
            sa.select(ApiToken.last_used_at).where(ApiToken.user_id == user_id, ApiToken.kind == "access")
        ).all()
    assert moment in used


def test_socketio_async_mode_follows_the_process():
    """gevent only where gevent has patched the standard library (the realtime process);
    the configured mode wins; this test process is not patched."""
    from app.realtime import async_mode

    assert async_mode(None) == "threading"
    assert async_mode("gevent") == "gevent"
