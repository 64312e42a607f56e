"""Sign-up, login and logout through HTTP (acme unless a test says otherwise)."""

from __future__ import annotations

from app.accounts.models import User
from app.mail.models import EmailMessage
from tenants.db import db


def _count_users(in_tenant, tenant) -> int:
    with in_tenant(tenant):
        return db.session.scalar(db.select(db.func.count()).select_from(User))


def test_signup_creates_a_logged_in_member_and_queues_a_verification_email(
    web, tenant_client, acme, in_tenant, user_row
):
    client = tenant_client("acme")
    response = web.signup(client, "Ada@Example.com", display_name="Ada Lovelace")
    assert response.status_code == 302 and response.headers["Location"] == "/account"

    user = user_row(acme, email="ada@example.com")
    assert user.email == "Ada@Example.com" and user.role == "member" and user.status == "active"
    assert user.email_verified_at is None
    assert user.password_hash.startswith("$argon2id$")
    assert user.handle == "ada-lovelace"
    with in_tenant(acme):
        (mail,) = db.session.scalars(db.select(EmailMessage)).all()
        assert (mail.to, mail.template, mail.user_id) == ("Ada@Example.com", "verify_email", user.id)

    page = client.get("/account")
    assert page.status_code == 200
    assert b"Please confirm your email address" in page.data


def test_signup_with_an_email_already_used_in_any_case_is_refused(
    web, tenant_client, acme, make_user, in_tenant
):
    make_user(acme, email="taken@example.com")
    before = _count_users(in_tenant, acme)
    response = web.signup(tenant_client("acme"), "TAKEN@example.COM")
    assert response.status_code == 422
    assert b"An account with this email already exists" in response.data
    assert _count_users(in_tenant, acme) == before


def test_signup_rejects_bad_input_with_messages_on_the_form(web, tenant_client, acme, in_tenant):
    client = tenant_client("acme")
    before = _count_users(in_tenant, acme)
    cases = [
        ({"email": "not-an-email"}, b"Enter a valid email address"),
        ({"email": "a@b"}, b"Enter a valid email address"),
        ({"password": "short1!"}, b"Use at least 10 characters"),
        ({"password": "password1234"}, b"too common"),
        ({"password": "qwertyuiop"}, b"too common"),
        ({"email": "grace.hopper@example.com", "password": "grace.hopper-1906"}, b"Do not use your email"),
        ({"handle": "no spaces!"}, b"Use 3 to 30 lowercase letters"),
        ({"handle": "admin"}, b"reserved"),
        ({"display_name": ""}, b"Enter your name"),
    ]
    for n, (override, message) in enumerate(cases):
        data = {"email": f"new{n}@example.com", "password": web.STRONG_PASSWORD, "display_name": "New Person"}
        data.update(override)
        response = web.post_form(client, "/signup", data)
        assert response.status_code == 422, override
        assert message in response.data, (override, response.get_data(as_text=True)[-1500:])
        assert b'aria-invalid="true"' in response.data
    assert _count_users(in_tenant, acme) == before


def test_signup_with_a_handle_taken_in_another_case_is_refused(web, tenant_client, acme, user_row):
    client = tenant_client("acme")
    assert web.signup(client, "first@example.com", handle="pixel-smith").status_code == 302
    second = web.signup(tenant_client("acme"), "second@example.com", handle="Pixel-Smith")
    assert second.status_code == 422 and b"This handle is already taken" in second.data
    assert user_row(acme, email="second@example.com") is None


def test_same_email_on_acme_and_globex_is_two_accounts(web, tenant_client, acme, globex, user_row):
    assert web.signup(tenant_client("acme"), "both@example.com", display_name="Acme Self").status_code == 302
    assert (
        web.signup(tenant_client("globex"), "both@example.com", display_name="Globex Self").status_code == 302
    )
    on_acme, on_globex = user_row(acme, email="both@example.com"), user_row(globex, email="both@example.com")
    assert on_acme.display_name == "Acme Self" and on_globex.display_name == "Globex Self"
    assert on_acme.password_hash != on_globex.password_hash


def test_login_with_the_right_password_lands_on_the_dashboard(web, tenant_client, acme, make_user, user_row):
    user_id = make_user(acme, email="seller@example.com", password="correct-horse-battery")
    client = tenant_client("acme")
    response = web.login(client, "SELLER@example.com", "correct-horse-battery")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Welcome, User" in page and "Welcome back" not in page  # the first login
    assert user_row(acme, user_id=user_id).last_login_at is not None
    again = tenant_client("acme")
    web.login(again, "seller@example.com", "correct-horse-battery")
    assert "Welcome back, User" in again.get("/dashboard").get_data(as_text=True)


def test_login_with_a_wrong_password_or_unknown_email_gets_the_same_message(
    web, tenant_client, acme, make_user
):
    make_user(acme, email="real@example.com")
    client = tenant_client("acme")
    wrong = web.login(client, "real@example.com", "not-the-password")
    unknown = web.login(client, "nobody@example.com", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 422
        assert b"The email or password is incorrect." in response.data
    assert client.get("/account").status_code == 302


def test_a_suspended_account_cannot_log_in(web, tenant_client, acme, make_user, in_tenant):
    user_id = make_user(acme, email="bad@example.com", password="correct-horse-battery")
    with in_tenant(acme):
        db.session.get(User, user_id).status = "suspended"
        db.session.commit()
    client = tenant_client("acme")
    response = web.login(client, "bad@example.com", "correct-horse-battery")
    assert response.status_code == 422 and b"This account is suspended" in response.data
    assert client.get("/account").status_code == 302


def test_a_session_ends_when_the_account_is_suspended(web, tenant_client, acme, make_user, in_tenant):
    user_id = make_user(acme, email="later@example.com", password="correct-horse-battery")
    client = tenant_client("acme")
    web.login(client, "later@example.com", "correct-horse-battery")
    with in_tenant(acme):
        db.session.get(User, user_id).status = "suspended"
        db.session.commit()
    assert client.get("/account").status_code == 302


def test_login_follows_a_local_next_but_never_an_external_one(web, tenant_client, acme, make_user):
    make_user(acme, email="n@example.com", password="correct-horse-battery")
    local = web.login(tenant_client("acme"), "n@example.com", "correct-horse-battery", next="/account/seller")
    assert local.headers["Location"] == "/account/seller"
    client = tenant_client("acme")
    # Flask-Login's next is the full URL of the page asked for: this host's own is followed.
    full = web.login(
        client, "n@example.com", "correct-horse-battery", next=f"http://{client.host}/orders?tab=completed"
    )
    assert full.headers["Location"] == "/orders?tab=completed"
    evils = ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)")
    for evil in (*evils, f"http://user@{client.host}.evil.example/x"):
        response = web.login(tenant_client("acme"), "n@example.com", "correct-horse-battery", next=evil)
        assert response.headers["Location"] == "/dashboard", evil


def test_pages_that_need_a_login_redirect_to_it_with_next(web, tenant_client, acme):
    response = tenant_client("acme").get("/account/seller")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_remember_me_sets_a_host_only_http_only_cookie(web, tenant_client, acme, make_user):
    make_user(acme, email="r@example.com", password="correct-horse-battery")
    client = tenant_client("acme")
    response = web.login(client, "r@example.com", "correct-horse-battery", remember=True)
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token=")]
    assert cookies, response.headers.getlist("Set-Cookie")
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0] and "Domain=" not in cookies[0]
    # The remember cookie alone restores the login (a new browser session).
    remember = client.get_cookie("remember_token", domain="acme.localhost")
    fresh = tenant_client("acme")
    fresh.set_cookie("remember_token", remember.value, domain="acme.localhost")
    assert fresh.get("/account").status_code == 200


def test_logout_is_a_post_with_csrf_and_ends_the_session(web, tenant_client, acme, make_user):
    make_user(acme, email="out@example.com", password="correct-horse-battery")
    client = tenant_client("acme")
    web.login(client, "out@example.com", "correct-horse-battery")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/account").status_code == 200
    assert web.logout(client).status_code == 302
    assert client.get("/account").status_code == 302


def test_navigation_shows_login_links_or_the_user_menu(web, tenant_client, acme, make_user):
    make_user(acme, email="nav@example.com", password="correct-horse-battery", display_name="Navi Gator")
    client = tenant_client("acme")
    home = client.get("/").get_data(as_text=True)
    assert 'data-testid="login-link"' in home and 'data-testid="signup-link"' in home
    web.login(client, "nav@example.com", "correct-horse-battery")
    home = client.get("/").get_data(as_text=True)
    assert "Navi Gator" in home and 'data-testid="logout"' in home and "login-link" not in home
