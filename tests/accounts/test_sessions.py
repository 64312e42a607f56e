"""Active sessions and devices (app/accounts/sessions.py): web logins and API token families,
listed on /account/sessions and GET /api/v1/me/sessions, ended one by one or all but this one,
and by logout, password change, reset and suspension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import session

from app.accounts import moderation, services
from app.accounts.auth import load_user
from app.accounts.models import ApiToken, User, UserSession
from app.accounts.sessions import TOUCH_RESOLUTION, device_name, hash_secret, touch
from tenants.db import db

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "violet-harbor-lantern-42"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)


@pytest.fixture
def browser_client(tenant_client, web):
    """``browser_client("acme", email, agent)`` -> a test client logged in with that user agent."""

    def make(slug: str, email: str, agent: str = FIREFOX_WINDOWS, remember: bool = False):
        client = tenant_client(slug)
        client.environ_base["HTTP_USER_AGENT"] = agent
        assert web.login(client, email, PASSWORD, remember=remember).status_code == 302
        return client

    return make


@pytest.fixture
def rows(in_tenant):
    """``rows(tenant, user_id)`` -> that user's session rows, oldest first, as dicts."""

    def fetch(tenant, user_id: int) -> list[dict]:
        with in_tenant(tenant):
            found = db.session.scalars(
                sa.select(UserSession).where(UserSession.user_id == user_id).order_by(UserSession.id)
            )
            return [{c.name: getattr(row, c.name) for c in UserSession.__table__.columns} for row in found]

    return fetch


def live(found: list[dict]) -> list[dict]:
    return [row for row in found if row["revoked_at"] is None]


def api_list(client, headers=None) -> list[dict]:
    response = client.get("/api/v1/me/sessions", headers=headers or {})
    assert response.status_code == 200, response.json
    return response.json


def bearer(client, email: str) -> dict:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return response.json


def test_device_names_come_from_the_user_agent():
    assert device_name(FIREFOX_WINDOWS) == "Firefox on Windows"
    assert device_name(CHROME_ANDROID) == "Chrome on Android"
    assert device_name(None) == "Unknown device"
    assert device_name("Werkzeug/3.0") == "Unknown device"


def test_login_records_a_session_with_the_device_from_the_user_agent(acme, make_user, browser_client, rows):
    user_id = make_user(acme, email="ada@example.com")
    client = browser_client("acme", "ada@example.com", CHROME_ANDROID)
    [row] = rows(acme, user_id)
    assert row["kind"] == "web" and row["method"] == "password" and row["revoked_at"] is None
    assert row["device"] == "Chrome on Android" and row["user_agent"] == CHROME_ANDROID
    assert row["ip"] == "127.0.0.1"
    with client.session_transaction(base_url="http://acme.localhost/") as flask_session:
        sid = flask_session["sid"]
        assert flask_session["_user_id"].endswith(f":{sid}")
    assert row["secret_hash"] == hash_secret(sid) and sid not in str(row)


def test_the_list_shows_both_clients_and_marks_this_device(acme, make_user, browser_client, tenant_client):
    make_user(acme, email="ada@example.com")
    firefox = browser_client("acme", "ada@example.com", FIREFOX_WINDOWS)
    phone = browser_client("acme", "ada@example.com", CHROME_ANDROID)

    page = firefox.get("/account/sessions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Firefox on Windows" in html and "Chrome on Android" in html
    assert html.count('data-testid="this-device"') == 1 and "Sign out all other devices (1)" in html
    assert 'href="/account/sessions" aria-current="page"' in html  # the account tab

    # The API lists the same sessions, plus the token family making the call (marked current).
    headers = {"Authorization": f"Bearer {bearer(tenant_client('acme'), 'ada@example.com')['access_token']}"}
    entries = {e["device"]: e for e in api_list(phone, headers)}
    assert set(entries) == {"Firefox on Windows", "Chrome on Android", "Unknown device"}
    assert entries["Unknown device"]["current"] and entries["Unknown device"]["kind"] == "api"
    assert entries["Chrome on Android"]["active"] and not entries["Chrome on Android"]["current"]
    assert entries["Firefox on Windows"]["method"] == "password"
    assert phone.get("/api/v1/me/sessions").status_code == 401  # the cookie is no API credential


def test_signing_out_another_device_makes_its_next_request_anonymous(
    acme, make_user, browser_client, rows, web
):
    user_id = make_user(acme, email="ada@example.com")
    laptop = browser_client("acme", "ada@example.com", FIREFOX_WINDOWS)
    phone = browser_client("acme", "ada@example.com", CHROME_ANDROID)
    assert phone.get("/account").status_code == 200
    phone_row = next(r for r in rows(acme, user_id) if r["device"] == "Chrome on Android")

    response = web.post_form(
        laptop, "/account/sessions", {}, action=f"/account/sessions/{phone_row['id']}/end"
    )
    assert response.status_code == 303
    assert "Chrome on Android is signed out." in laptop.get("/account/sessions").get_data(as_text=True)

    assert phone.get("/account").status_code == 302  # anonymous: sent to the login page
    assert laptop.get("/account").status_code == 200
    ended = next(r for r in rows(acme, user_id) if r["id"] == phone_row["id"])
    assert ended["revoked_reason"] == "ended"
    # Without the CSRF token nothing ends.
    assert laptop.post(f"/account/sessions/{phone_row['id']}/end").status_code == 400


def test_sign_out_all_other_devices_keeps_this_one(acme, make_user, browser_client, rows, web):
    user_id = make_user(acme, email="ada@example.com")
    laptop = browser_client("acme", "ada@example.com", FIREFOX_WINDOWS)
    others = [browser_client("acme", "ada@example.com", CHROME_ANDROID) for _ in range(2)]
    tokens = bearer(laptop, "ada@example.com")
    assert len(live(rows(acme, user_id))) == 4

    response = web.post_form(laptop, "/account/sessions", {}, action="/account/sessions/end-others")
    assert response.status_code == 303
    assert "Signed out of 3 other devices." in laptop.get("/account/sessions").get_data(as_text=True)
    for other in others:
        assert other.get("/account").status_code == 302
    assert laptop.get("/account").status_code == 200
    [kept] = live(rows(acme, user_id))
    assert kept["device"] == "Firefox on Windows" and kept["kind"] == "web"
    me = laptop.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 401  # the API family was one of the others


def test_logout_ends_the_row(acme, make_user, browser_client, rows, web):
    user_id = make_user(acme, email="ada@example.com")
    client = browser_client("acme", "ada@example.com")
    web.logout(client)
    [row] = rows(acme, user_id)
    assert row["revoked_at"] is not None and row["revoked_reason"] == "logout"


def test_the_remember_cookie_of_an_ended_session_is_refused(
    acme, make_user, browser_client, tenant_client, rows, in_tenant
):
    user_id = make_user(acme, email="ada@example.com")
    client = browser_client("acme", "ada@example.com", remember=True)
    remember = client.get_cookie("remember_token", domain="acme.localhost").value

    restored = tenant_client("acme")
    restored.set_cookie("remember_token", remember, domain="acme.localhost")
    assert restored.get("/account").status_code == 200  # the cookie restores the same session
    with (
        restored.session_transaction(base_url="http://acme.localhost/") as flask_session,
        client.session_transaction(base_url="http://acme.localhost/") as original,
    ):
        assert flask_session["sid"] == original["sid"]
    assert len(rows(acme, user_id)) == 1  # no new row: the same device

    [row] = rows(acme, user_id)
    with in_tenant(acme):
        services_end(user_id, row["id"])
    fresh = tenant_client("acme")
    fresh.set_cookie("remember_token", remember, domain="acme.localhost")
    assert fresh.get("/account").status_code == 302
    assert client.get("/account").status_code == 302


def services_end(user_id: int, session_id: int) -> None:
    from app.accounts.sessions import end_session

    end_session(db.session.get(User, user_id), session_id, "ended")
    db.session.commit()


def test_a_login_id_of_the_old_three_part_form_is_refused(app, acme, make_user, in_tenant):
    user_id = make_user(acme, email="ada@example.com")
    with app.test_request_context("/", base_url="http://acme.localhost/"):
        app.preprocess_request()
        user = db.session.get(User, user_id)
        from app.accounts.auth import session_stamp

        assert load_user(f"{acme.id}:{user_id}:{session_stamp(user)}") is None
        assert load_user(f"{acme.id}:{user_id}:{session_stamp(user)}:") is None
        assert load_user(f"{acme.id}:{user_id}:{session_stamp(user)}:made-up") is None
        assert load_user(f"{acme.id}:99999999999999999999:x:y") is None
        session.clear()


def test_changing_the_password_ends_the_other_sessions_and_this_one_goes_on(
    acme, make_user, browser_client, rows, web
):
    user_id = make_user(acme, email="ada@example.com")
    laptop = browser_client("acme", "ada@example.com", FIREFOX_WINDOWS)
    phone = browser_client("acme", "ada@example.com", CHROME_ANDROID)
    signed_in = next(r for r in rows(acme, user_id) if r["device"] == "Firefox on Windows")["created_at"]
    response = web.post_form(
        laptop,
        "/account/password",
        {
            "current_password": PASSWORD,
            "password": "violet-harbor-lantern-42",
            "confirm": "violet-harbor-lantern-42",
        },
    )
    assert response.status_code == 302
    assert laptop.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302
    [kept] = live(rows(acme, user_id))
    assert kept["device"] == "Firefox on Windows" and kept["created_at"] == signed_in  # renewed id
    reasons = sorted(r["revoked_reason"] for r in rows(acme, user_id) if r["revoked_at"])
    assert reasons == ["password_changed", "renewed"]
    html = laptop.get("/account/sessions").get_data(as_text=True)
    assert html.count('data-testid="session"') == 2  # this one and the phone (renewed rows hidden)


def test_a_password_reset_ends_every_session(acme, make_user, browser_client, rows, in_tenant):
    user_id = make_user(acme, email="ada@example.com")
    phone = browser_client("acme", "ada@example.com", CHROME_ANDROID)
    with in_tenant(acme):
        user = db.session.get(User, user_id)
        token = services.make_token(
            "reset", {"u": user.id, "p": services._fingerprint(user.password_hash, "password")}
        )
        services.reset_password(token, NEW_PASSWORD)
        db.session.commit()
    assert phone.get("/account").status_code == 302
    assert [r["revoked_reason"] for r in rows(acme, user_id)] == ["password_reset"]


def test_suspension_ends_every_session(acme, make_user, browser_client, rows, in_tenant, tenant_client):
    admin_id = make_user(acme, email="boss@example.com", role="admin")
    user_id = make_user(acme, email="ada@example.com")
    phone = browser_client("acme", "ada@example.com", CHROME_ANDROID)
    tokens = bearer(tenant_client("acme"), "ada@example.com")
    with in_tenant(acme):
        moderation.suspend_user(db.session.get(User, admin_id), user_id, "Spam in messages.")
        db.session.commit()
    found = rows(acme, user_id)
    assert len(found) == 2 and {r["revoked_reason"] for r in found} == {"suspended"}
    assert phone.get("/account").status_code == 302
    refreshed = tenant_client("acme").post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401


def test_an_api_token_family_is_a_session_and_ending_it_revokes_its_tokens(
    acme, make_user, tenant_client, rows, in_tenant
):
    user_id = make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    client.environ_base["HTTP_USER_AGENT"] = "python-requests/2.31"
    first = bearer(client, "ada@example.com")
    [row] = rows(acme, user_id)
    assert row["kind"] == "api" and row["method"] == "token" and row["revoked_at"] is None
    with in_tenant(acme):
        family = db.session.scalars(sa.select(ApiToken.family_id).where(ApiToken.user_id == user_id)).first()
    assert row["secret_hash"] == hash_secret(family)

    # Refreshing stays in the family (no new row) and marks it seen.
    with in_tenant(acme):
        db.session.execute(sa.update(UserSession).values(last_seen_at=datetime.now(UTC) - timedelta(hours=1)))
        db.session.commit()
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json
    [row] = rows(acme, user_id)
    assert datetime.now(UTC) - row["last_seen_at"] < timedelta(minutes=1)

    headers = {"Authorization": f"Bearer {second['access_token']}"}
    [entry] = api_list(client, headers)
    assert entry["id"] == row["id"] and entry["current"] and entry["kind"] == "api"
    assert entry["device"] == "Python Requests" and "secret_hash" not in entry

    other = bearer(client, "ada@example.com")  # a second family: a second device
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    assert client.delete(f"/api/v1/me/sessions/{row['id']}", headers=other_headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401
    assert client.get("/api/v1/me", headers=other_headers).status_code == 200
    # Ending an ended session changes nothing and still answers 204.
    assert client.delete(f"/api/v1/me/sessions/{row['id']}", headers=other_headers).status_code == 204


def test_reusing_a_refresh_token_or_revoking_it_ends_the_family_row(acme, make_user, tenant_client, rows):
    user_id = make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    first = bearer(client, "ada@example.com")
    client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).status_code == 401
    )
    second = bearer(client, "ada@example.com")
    assert client.post("/api/v1/auth/revoke", json={"token": second["refresh_token"]}).status_code == 204
    assert [r["revoked_reason"] for r in rows(acme, user_id)] == ["token_reuse", "logout"]


def test_another_members_or_an_unknown_session_is_404_and_stays(
    acme, make_user, browser_client, tenant_client, rows, web
):
    ada = make_user(acme, email="ada@example.com")
    make_user(acme, email="bob@example.com")
    ada_client = browser_client("acme", "ada@example.com")
    [ada_row] = rows(acme, ada)
    bob_client = browser_client("acme", "bob@example.com")
    headers = {"Authorization": f"Bearer {bearer(tenant_client('acme'), 'bob@example.com')['access_token']}"}

    for path in (f"/api/v1/me/sessions/{ada_row['id']}", "/api/v1/me/sessions/999999"):
        response = bob_client.delete(path, headers=headers)
        assert response.status_code == 404 and response.json["message"] == "No such session."
    assert bob_client.delete("/api/v1/me/sessions/abc", headers=headers).status_code == 404
    assert bob_client.delete(f"/api/v1/me/sessions/{ada_row['id']}").status_code == 401  # no token
    web_refusal = web.post_form(
        bob_client, "/account/sessions", {}, action=f"/account/sessions/{ada_row['id']}/end"
    )
    assert web_refusal.status_code == 404
    assert [e["id"] for e in api_list(bob_client, headers)] != [] and ada_row["id"] not in [
        e["id"] for e in api_list(bob_client, headers)
    ]
    assert ada_client.get("/account").status_code == 200
    assert live(rows(acme, ada)) == [ada_row]


def test_sessions_of_acme_are_invisible_and_unusable_on_globex_with_equal_ids(
    acme, globex, make_user, browser_client, tenant_client, rows, web
):
    acme_user = make_user(acme, email="ada@example.com")
    globex_user = make_user(globex, email="ada@example.com")
    assert acme_user == globex_user
    acme_client = browser_client("acme", "ada@example.com", FIREFOX_WINDOWS)
    globex_client = browser_client("globex", "ada@example.com", CHROME_ANDROID)
    [acme_row], [globex_row] = rows(acme, acme_user), rows(globex, globex_user)
    assert acme_row["id"] == globex_row["id"]  # equal row ids in the two schemas

    # acme's session cookie replayed on globex's host is anonymous there.
    replay = tenant_client("globex")
    replay.set_cookie("session", web.session_cookie(acme_client), domain="globex.localhost")
    assert replay.get("/account").status_code == 302

    # globex lists only its own row; ending "the same id" on globex leaves acme's alone.
    page = globex_client.get("/account/sessions").get_data(as_text=True)
    assert "Chrome on Android" in page and "Firefox on Windows" not in page
    headers = {
        "Authorization": f"Bearer {bearer(tenant_client('globex'), 'ada@example.com')['access_token']}"
    }
    assert {e["device"] for e in api_list(globex_client, headers)} == {"Chrome on Android", "Unknown device"}
    assert globex_client.delete(f"/api/v1/me/sessions/{globex_row['id']}", headers=headers).status_code == 204
    assert globex_client.get("/account").status_code == 302
    assert acme_client.get("/account").status_code == 200
    assert live(rows(acme, acme_user)) == [acme_row]


def test_last_seen_is_written_at_most_once_a_minute(acme, make_user, browser_client, rows, in_tenant):
    user_id = make_user(acme, email="ada@example.com")
    client = browser_client("acme", "ada@example.com")
    [row] = rows(acme, user_id)
    client.get("/account")
    assert rows(acme, user_id)[0]["last_seen_at"] == row["last_seen_at"]  # within the minute: no write

    with in_tenant(acme):
        stored = db.session.get(UserSession, row["id"])
        now = stored.last_seen_at + TOUCH_RESOLUTION / 2
        touch(stored, now)
        assert rows(acme, user_id)[0]["last_seen_at"] == row["last_seen_at"]
        later = stored.last_seen_at + TOUCH_RESOLUTION * 2
        touch(stored, later)
        db.session.rollback()  # the write is on its own connection: a rollback keeps it
    assert rows(acme, user_id)[0]["last_seen_at"] == later
    html = client.get("/account/sessions").get_data(as_text=True)
    assert "This device" in html


def test_a_due_last_seen_is_written_by_the_sessions_own_read(
    app, acme, make_user, browser_client, rows, monkeypatch, in_tenant
):
    """A signed-in request's first use each minute writes ``last_seen_at`` in the statement that
    reads the user and the session (no UPDATE, no statement more than a request within the
    minute), committed with the request; a refused request, rolled back, still records it
    apart; a suspended user's row is not written."""
    from app.accounts import sessions
    from tests.helpers import counting_statements

    user_id = make_user(acme, email="ada@example.com")
    client = browser_client("acme", "ada@example.com")
    [row] = rows(acme, user_id)
    moment = row["last_seen_at"] + TOUCH_RESOLUTION * 2
    monkeypatch.setattr(sessions, "_now", lambda: moment)
    with counting_statements(app) as due:
        assert client.get("/account").status_code == 200
    assert rows(acme, user_id)[0]["last_seen_at"] == moment
    assert not any(s.startswith("UPDATE") and "user_sessions" in s for s in due), due
    assert any(s.startswith("WITH touched AS") and "user_sessions" in s for s in due), due
    monkeypatch.setattr(sessions, "_now", lambda: moment + TOUCH_RESOLUTION / 2)
    with counting_statements(app) as not_due:
        assert client.get("/account").status_code == 200
    assert rows(acme, user_id)[0]["last_seen_at"] == moment
    assert len(due) == len(not_due), due

    later = moment + TOUCH_RESOLUTION * 2
    monkeypatch.setattr(sessions, "_now", lambda: later)
    assert client.get("/orders/987654321").status_code == 404  # rolled back: written apart
    assert rows(acme, user_id)[0]["last_seen_at"] == later

    with in_tenant(acme):  # the status alone (a suspension would also end the session)
        db.session.get(User, user_id).status = "suspended"
        db.session.commit()
    monkeypatch.setattr(sessions, "_now", lambda: later + TOUCH_RESOLUTION * 2)
    assert client.get("/account").status_code == 302  # anonymous: to the login page
    assert rows(acme, user_id)[0]["last_seen_at"] == later


def test_a_socket_is_refused_once_its_web_session_is_ended(
    acme, make_user, tenant_client, socket_server, rows, in_tenant, web
):
    from tests.helpers import ChatClient

    user_id = make_user(acme, email="ada@example.com")
    client = tenant_client("acme")
    web.login(client, "ada@example.com", PASSWORD)
    cookie = web.session_cookie(client)
    first = ChatClient(socket_server, "acme", cookie=cookie).connect()
    try:
        first.wait_for("unread")
    finally:
        first.disconnect()

    [row] = rows(acme, user_id)
    with in_tenant(acme):
        services_end(user_id, row["id"])
    second = ChatClient(socket_server, "acme", cookie=cookie)
    with pytest.raises(Exception):  # noqa: B017  (python-socketio's ConnectionError)
        second.connect()
    assert second.refused is not None
    second.disconnect()
