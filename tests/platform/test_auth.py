"""Platform admins sign in on the bare platform host with their own session; nobody else gets in."""

from __future__ import annotations

import time

import sqlalchemy as sa

from app.platform import services
from app.platform.auth import SESSION_KEY, SESSION_STARTED_KEY
from app.platform.models import PlatformAdmin
from tenants.db import db
from tests.conftest import ADMIN_PASSWORD as TENANT_ADMIN_PASSWORD

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token, platform_login, post_form, session_of, text

CONSOLE_PAGES = ("/platform/", "/platform/tenants/new", "/platform/tenants/acme")


def _admin(app, email=ADMIN_EMAIL) -> PlatformAdmin:
    with app.app_context():
        admin = db.session.scalars(sa.select(PlatformAdmin).where(PlatformAdmin.email == email)).one()
        db.session.expunge(admin)
        return admin


def test_anonymous_visitors_are_sent_to_the_platform_login(platform_client, app):
    for path in CONSOLE_PAGES:
        response = platform_client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/platform/login?next=")
    # A POST with a valid CSRF token but no platform session changes nothing.
    token = csrf_token(platform_client, "/platform/login")
    response = platform_client.post(
        "/platform/tenants/acme/suspend", data={"csrf_token": token, "reason": "Unpaid invoices"}
    )
    assert response.status_code == 302 and response.headers["Location"].startswith("/platform/login")
    assert platform_client.get("/platform/login").status_code == 200


def test_platform_admin_logs_in_and_out(platform_client, make_platform_admin, app):
    make_platform_admin()
    response = platform_login(platform_client)
    assert response.status_code == 302 and response.headers["Location"] == "/platform/"
    page = platform_client.get("/platform/")
    assert page.status_code == 200
    assert "Olga Ops" in text(page) and 'data-testid="tenant-table"' in text(page)
    assert _admin(app).last_login_at is not None
    with session_of(platform_client) as session:
        admin_id = session[SESSION_KEY].partition(":")[0]
        assert admin_id == str(_admin(app).id)
        assert "_user_id" not in session  # not a Flask-Login (tenant user) session
    response = post_form(platform_client, "/platform/", {}, action="/platform/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/platform/login"
    assert platform_client.get("/platform/").status_code == 302
    with session_of(platform_client) as session:
        assert SESSION_KEY not in session


def test_login_renews_the_session(platform_client, make_platform_admin):
    make_platform_admin()
    with session_of(platform_client) as session:
        session["planted"] = "by an attacker"
    platform_login(platform_client)
    with session_of(platform_client) as session:
        assert "planted" not in session and SESSION_KEY in session


def test_wrong_password_and_unknown_email_get_one_generic_message(platform_client, make_platform_admin):
    make_platform_admin()
    for email, password in ((ADMIN_EMAIL, "wrong-password-123"), ("nobody@gigforge.test", ADMIN_PASSWORD)):
        response = platform_login(platform_client, email, password)
        assert response.status_code == 422
        assert "The email or password is incorrect." in text(response)
    empty = platform_login(platform_client, "", "")
    assert empty.status_code == 422
    assert "Enter your email address." in text(empty) and "Enter your password." in text(empty)
    assert platform_client.get("/platform/").status_code == 302


def test_email_is_case_insensitive(platform_client, make_platform_admin):
    make_platform_admin()
    assert platform_login(platform_client, ADMIN_EMAIL.upper(), ADMIN_PASSWORD).status_code == 302


def test_login_is_rate_limited_per_account(
    platform_client, tenant_client, app, make_platform_admin, monkeypatch
):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT", "3 per minute")
    make_platform_admin()
    statuses = [
        platform_login(platform_client, ADMIN_EMAIL, "wrong-password-1").status_code for _ in range(4)
    ]
    assert statuses == [422, 422, 422, 429]
    blocked = platform_login(platform_client, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert blocked.status_code == 429
    assert platform_client.get("/platform/").status_code == 302
    # The key names the platform: a tenant's login of the same address is not affected.
    acme = tenant_client("acme")
    token = csrf_token(acme, "/login")
    response = acme.post("/login", data={"csrf_token": token, "email": ADMIN_EMAIL, "password": "x-wrong-1"})
    assert response.status_code == 422


def test_login_is_rate_limited_per_ip(platform_client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_IP", "2 per minute")
    assert platform_login(platform_client, "a@gigforge.test", "wrong-password").status_code == 422
    assert platform_login(platform_client, "b@gigforge.test", "wrong-password").status_code == 422
    assert platform_login(platform_client, "c@gigforge.test", "wrong-password").status_code == 429
    assert platform_client.get("/platform/login").status_code == 200  # only POSTs count


def test_tenant_admin_credentials_get_nothing(platform_client, make_platform_admin):
    make_platform_admin()
    response = platform_login(platform_client, "admin@acme.test", TENANT_ADMIN_PASSWORD)
    assert response.status_code == 422 and "The email or password is incorrect." in text(response)
    assert platform_client.get("/platform/").status_code == 302


def test_tenant_admin_session_cookie_is_worthless_on_the_platform_host(tenant_client, platform_client):
    acme = tenant_client("acme")
    token = csrf_token(acme, "/login")
    response = acme.post(
        "/login", data={"csrf_token": token, "email": "admin@acme.test", "password": TENANT_ADMIN_PASSWORD}
    )
    assert response.status_code == 302
    assert acme.get("/account").status_code == 200  # signed in on acme
    cookie = acme.get_cookie("session", domain=acme.host)
    assert cookie is not None
    # Replayed by hand on the platform host: the console still wants a platform login.
    platform_client.set_cookie("session", cookie.value, domain=platform_client.host)
    for path in CONSOLE_PAGES:
        response = platform_client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/platform/login")


def test_platform_session_is_worthless_on_a_tenant_host(admin_client, tenant_client):
    cookie = admin_client.get_cookie("session", domain=admin_client.host)
    acme = tenant_client("acme")
    acme.set_cookie("session", cookie.value, domain=acme.host)
    for path in ("/platform/", "/platform/login", "/platform/tenants/acme"):
        assert acme.get(path).status_code == 404
    account = acme.get("/account")  # nobody on acme either
    assert account.status_code == 302 and "/login" in account.headers["Location"]


def test_password_change_ends_other_sessions(admin_client, app):
    assert admin_client.get("/platform/").status_code == 200
    with app.app_context():
        services.set_platform_admin_password(ADMIN_EMAIL, "a-brand-new-lantern-7")
        db.session.commit()
    assert admin_client.get("/platform/").status_code == 302
    assert platform_login(admin_client, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 422
    assert platform_login(admin_client, ADMIN_EMAIL, "a-brand-new-lantern-7").status_code == 302


def test_disabled_admin_is_logged_out_and_cannot_log_in(admin_client, app):
    with app.app_context():
        services.set_platform_admin_status(ADMIN_EMAIL, "disabled")
        db.session.commit()
    assert admin_client.get("/platform/").status_code == 302
    response = platform_login(admin_client)
    assert response.status_code == 422 and "This platform account is disabled." in text(response)


def test_session_ends_after_its_maximum_age(admin_client, app):
    with session_of(admin_client) as session:
        session[SESSION_STARTED_KEY] = int(time.time()) - 13 * 3600
    response = admin_client.get("/platform/")
    assert response.status_code == 302
    page = admin_client.get(response.headers["Location"])
    assert "Your session expired" in text(page)


def test_forged_session_values_are_refused(platform_client, make_platform_admin, app):
    admin_id = make_platform_admin()
    for value in (f"{admin_id}:not-the-stamp", f"{admin_id}", "x:y", 42):
        with session_of(platform_client) as session:
            session[SESSION_KEY] = value
            session[SESSION_STARTED_KEY] = int(time.time())
        assert platform_client.get("/platform/").status_code == 302, value


def test_login_only_redirects_into_the_console(platform_client, make_platform_admin):
    make_platform_admin()
    for bad in ("//evil.example/", "https://evil.example/", "/account", "/\\evil.example"):
        response = platform_login(platform_client, next=bad)
        assert response.headers["Location"] == "/platform/", bad
        post_form(platform_client, "/platform/", {}, action="/platform/logout")
    response = platform_login(platform_client, next="/platform/tenants/acme")
    assert response.headers["Location"] == "/platform/tenants/acme"


def test_logout_needs_the_csrf_token(admin_client):
    response = admin_client.post("/platform/logout")
    assert response.status_code == 400
    assert admin_client.get("/platform/").status_code == 200


def test_platform_home_links_to_the_console(platform_client):
    page = platform_client.get("/")
    assert page.status_code == 200 and 'href="/platform/"' in text(page)
    assert platform_client.get("/platform/about").status_code == 200
