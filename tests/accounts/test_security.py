"""Security properties of the account pages: CSRF, sessions, tenants, rate limits, lockout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.accounts.models import User
from tenants.db import db

PASSWORD = "correct-horse-battery"


def test_a_post_without_csrf_token_is_rejected_and_changes_nothing(tenant_client, acme, user_row):
    client = tenant_client("acme")
    response = client.post(
        "/signup",
        data={"email": "csrf@example.com", "password": "violet-harbor-lantern-42", "display_name": "C"},
    )
    assert response.status_code == 400
    assert user_row(acme, email="csrf@example.com") is None


def test_a_post_with_a_forged_csrf_token_is_rejected(web, tenant_client, acme, make_user, user_row):
    user_id = make_user(acme, email="victim@example.com", password=PASSWORD)
    client = tenant_client("acme")
    web.login(client, "victim@example.com", PASSWORD)
    response = client.post(
        "/account", data={"csrf_token": "forged", "display_name": "Hacked", "handle": "hax"}
    )
    assert response.status_code == 400
    assert user_row(acme, user_id=user_id).display_name != "Hacked"


def test_a_csrf_token_from_acme_is_refused_on_globex(web, tenant_client, acme, globex, user_row):
    token = web.csrf_token(tenant_client("acme"), "/signup")
    response = tenant_client("globex").post(
        "/signup",
        data={
            "csrf_token": token,
            "email": "x@example.com",
            "password": "violet-harbor-lantern-42",
            "display_name": "X",
        },
    )
    assert response.status_code == 400
    assert user_row(globex, email="x@example.com") is None


def test_the_session_cookie_changes_at_login(web, tenant_client, acme, make_user):
    make_user(acme, email="fix@example.com", password=PASSWORD)
    client = tenant_client("acme")
    web.csrf_token(client, "/login")  # the anonymous session now holds a CSRF token
    before = web.session_cookie(client)
    assert before
    web.login(client, "fix@example.com", PASSWORD)
    after = web.session_cookie(client)
    assert after and after != before
    # The pre-login cookie an attacker could have planted is not logged in.
    planted = tenant_client("acme")
    planted.set_cookie("session", before, domain="acme.localhost")
    assert planted.get("/account").status_code == 302


def test_an_acme_session_cookie_is_not_logged_in_on_globex(web, tenant_client, acme, globex, make_user):
    make_user(acme, email="same@example.com", password=PASSWORD)
    make_user(globex, email="same@example.com", password=PASSWORD)  # same id, same email on globex
    acme_client = tenant_client("acme")
    web.login(acme_client, "same@example.com", PASSWORD)
    assert acme_client.get("/account").status_code == 200
    stolen = web.session_cookie(acme_client)

    globex_client = tenant_client("globex")
    globex_client.set_cookie("session", stolen, domain="globex.localhost")
    response = globex_client.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_an_acme_remember_cookie_is_worthless_on_globex(web, tenant_client, acme, globex, make_user):
    make_user(acme, email="rem@example.com", password=PASSWORD)
    make_user(globex, email="rem@example.com", password=PASSWORD)
    acme_client = tenant_client("acme")
    web.login(acme_client, "rem@example.com", PASSWORD, remember=True)
    remember = acme_client.get_cookie("remember_token", domain="acme.localhost").value
    globex_client = tenant_client("globex")
    globex_client.set_cookie("remember_token", remember, domain="globex.localhost")
    assert globex_client.get("/account").status_code == 302


def test_changing_the_password_logs_out_other_sessions(web, tenant_client, acme, make_user):
    make_user(acme, email="two@example.com", password=PASSWORD)
    laptop, phone = tenant_client("acme"), tenant_client("acme")
    web.login(laptop, "two@example.com", PASSWORD)
    web.login(phone, "two@example.com", PASSWORD, remember=True)
    response = web.post_form(
        laptop,
        "/account/password",
        {"current_password": PASSWORD, "password": "new-lantern-harbor-7", "confirm": "new-lantern-harbor-7"},
    )
    assert response.status_code == 302
    assert laptop.get("/account").status_code == 200  # this session goes on
    assert phone.get("/account").status_code == 302  # the other one (and its remember cookie) ended


def test_login_is_rate_limited_per_account(web, app, tenant_client, acme, globex, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT", "3 per minute")
    make_user(acme, email="rl@example.com", password=PASSWORD)
    make_user(globex, email="rl@example.com", password=PASSWORD)
    statuses = []
    for _ in range(4):
        # A new client each time: the same account from "different browsers".
        statuses.append(web.login(tenant_client("acme"), "rl@example.com", "wrong-password-1").status_code)
    assert statuses == [422, 422, 422, 429]
    blocked = web.login(tenant_client("acme"), "rl@example.com", PASSWORD)
    assert blocked.status_code == 429 and b"Too many requests" in blocked.data
    # Another account on acme and the same address on globex are not affected: keys carry the tenant.
    assert web.login(tenant_client("acme"), "other@example.com", "x-wrong-pass").status_code == 422
    assert web.login(tenant_client("globex"), "rl@example.com", PASSWORD).status_code == 302


def test_login_is_rate_limited_per_ip(web, app, tenant_client, acme, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_IP", "2 per minute")
    client = tenant_client("acme")
    assert web.login(client, "a@example.com", "wrong-password").status_code == 422
    assert web.login(client, "b@example.com", "wrong-password").status_code == 422
    assert web.login(client, "c@example.com", "wrong-password").status_code == 429
    assert client.get("/login").status_code == 200  # only POSTs count
    assert web.login(tenant_client("globex"), "c@example.com", "wrong-password").status_code == 422


def test_password_reset_requests_are_rate_limited(web, app, tenant_client, acme, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_RESET_PER_ACCOUNT", "2 per hour")
    client = tenant_client("acme")
    codes = [
        web.post_form(client, "/password/forgot", {"email": "x@example.com"}).status_code for _ in range(3)
    ]
    assert codes == [200, 200, 429]


def test_repeated_failures_lock_the_account_for_a_while(web, app, tenant_client, acme, make_user, in_tenant):
    user_id = make_user(acme, email="lock@example.com", password=PASSWORD)
    threshold = app.config["LOGIN_LOCKOUT_THRESHOLD"]
    for _ in range(threshold):
        response = web.login(tenant_client("acme"), "lock@example.com", "wrong-password-9")
        # Wrong guesses all get the one answer, the one that locks too (a stranger learns nothing).
        assert b"The email or password is incorrect." in response.data
    # Even the right password is refused while locked; only it is told why.
    response = web.login(tenant_client("acme"), "lock@example.com", PASSWORD)
    assert response.status_code == 422 and b"Too many failed attempts" in response.data
    with in_tenant(acme):
        user = db.session.get(User, user_id)
        assert user.locked_until > datetime.now(UTC) + timedelta(minutes=5)
        user.locked_until = datetime.now(UTC) - timedelta(seconds=1)  # the lock has run out
        db.session.commit()
    assert web.login(tenant_client("acme"), "lock@example.com", PASSWORD).status_code == 302
    with in_tenant(acme):
        user = db.session.get(User, user_id)
        assert user.failed_login_count == 0 and user.locked_until is None


def test_session_cookie_is_http_only_and_same_site(web, tenant_client, acme, make_user):
    make_user(acme, email="ck@example.com", password=PASSWORD)
    response = web.login(tenant_client("acme"), "ck@example.com", PASSWORD)
    (cookie,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Domain=" not in cookie
