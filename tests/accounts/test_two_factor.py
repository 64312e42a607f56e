"""Two-factor sign-in (issue #22): enrolment on the Security page, the code step of the login,
recovery codes, remembered devices, lockout, the API token, and tenant isolation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts import two_factor
from app.accounts.models import RecoveryCode, TwoFactor, User
from app.core import otp
from app.mail.models import EmailMessage
from tenants.db import db
from tests.helpers import csrf_token, post_form

PASSWORD = "correct-horse-battery"
SECRET_RE = re.compile(r'data-testid="otp-secret">([A-Z2-7 ]+)<')
CODE_RE = re.compile(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>")


class Clock:
    def __init__(self):
        self.now = datetime.now(UTC).replace(microsecond=0)

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)

    def next_step(self) -> None:
        """Move to the next 30-second step, so a fresh code exists."""
        self.advance(seconds=otp.INTERVAL)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(two_factor, "clock", lambda: c.now)
    return c


def signed_in(client, email, password=PASSWORD):
    response = post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response


def enrol(client, clock) -> tuple[str, list[str]]:
    """Turn two-factor on through the real pages; the secret and the recovery codes."""
    started = post_form(client, "/account/security", {}, action="/account/security/2fa")
    assert started.status_code == 303 and started.headers["Location"].endswith("/account/security/2fa")
    page = client.get("/account/security/2fa")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "<svg" in html and 'data-testid="qr-code"' in html
    secret = SECRET_RE.search(html).group(1).replace(" ", "")
    assert otp.valid_secret(secret)
    confirmed = post_form(
        client,
        "/account/security/2fa",
        {"code": otp.current_code(secret, clock.now)},
        action="/account/security/2fa/confirm",
    )
    html = confirmed.get_data(as_text=True)
    assert confirmed.status_code == 200, html[:500]
    codes = CODE_RE.findall(html)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert 'data-testid="download-codes"' in html and confirmed.headers["Cache-Control"] == "no-store"
    clock.next_step()
    return secret, codes


def row(in_tenant, tenant, user_id):
    with in_tenant(tenant):
        found = db.session.get(TwoFactor, user_id)
        if found is not None:
            db.session.expunge(found)
        return found


def user_of(in_tenant, tenant, user_id) -> User:
    with in_tenant(tenant):
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def code_step(client, code, remember_device=False):
    data = {"code": code}
    if remember_device:
        data["remember_device"] = "y"
    return post_form(client, "/login/2fa", data)


@pytest.fixture
def enrolled(tenant_client, acme, make_user, clock):
    """An acme member with two-factor on: (user id, client still signed in, secret, codes)."""
    user_id = make_user(acme, email="ada@example.com", password=PASSWORD)
    client = tenant_client("acme")
    signed_in(client, "ada@example.com")
    secret, codes = enrol(client, clock)
    return user_id, client, secret, codes


def fresh_login(tenant_client, slug="acme", email="ada@example.com", password=PASSWORD):
    client = tenant_client(slug)
    response = signed_in(client, email, password)
    return client, response


# --------------------------------------------------------------------------- enrolment


def test_enrolment_shows_the_qr_and_turns_on_with_a_right_code(enrolled, in_tenant, acme):
    user_id, client, _secret, _codes = enrolled
    stored = row(in_tenant, acme, user_id)
    assert stored.confirmed_at is not None and stored.last_step is not None
    assert "secret" not in stored.secret_encrypted.lower()  # encrypted, not the base32 secret
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 10
    page = client.get("/account/security").get_data(as_text=True)
    assert "10 of 10 recovery codes left" in page and 'href="/account/security"' in page


def test_a_wrong_code_does_not_turn_it_on_and_restarting_replaces_the_secret(
    tenant_client, acme, make_user, in_tenant, clock
):
    user_id = make_user(acme, email="bob@example.com", password=PASSWORD)
    client = tenant_client("acme")
    signed_in(client, "bob@example.com")
    post_form(client, "/account/security", {}, action="/account/security/2fa")
    first = SECRET_RE.search(client.get("/account/security/2fa").get_data(as_text=True)).group(1)
    for bad, message in (("000000", "not right or has expired"), ("12ab", "6-digit code")):
        refused = post_form(
            client, "/account/security/2fa", {"code": bad}, action="/account/security/2fa/confirm"
        )
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    assert row(in_tenant, acme, user_id).confirmed_at is None
    post_form(client, "/account/security", {}, action="/account/security/2fa")
    second = SECRET_RE.search(client.get("/account/security/2fa").get_data(as_text=True)).group(1)
    assert first != second
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TwoFactor)) == 1
    # The first secret's code no longer confirms.
    stale = otp.current_code(first.replace(" ", ""), clock.now)
    refused = post_form(
        client, "/account/security/2fa", {"code": stale}, action="/account/security/2fa/confirm"
    )
    assert refused.status_code == 422


# --------------------------------------------------------------------------- login


def test_login_asks_for_the_code_then_opens_the_session(enrolled, tenant_client, clock):
    _user_id, _client, secret, _codes = enrolled
    client = tenant_client("acme")
    response = post_form(
        client, "/login", {"email": "ada@example.com", "password": PASSWORD, "next": "/account"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/2fa")
    assert client.get("/account").status_code == 302  # not signed in yet
    page = client.get("/login/2fa")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in page.get_data(as_text=True)
    done = code_step(client, otp.current_code(secret, clock.now))
    assert done.status_code == 302 and done.headers["Location"].endswith("/account")
    assert client.get("/account").status_code == 200
    assert client.get("/login/2fa").status_code == 302  # the pending login is gone


def test_wrong_reused_expired_and_malformed_codes_are_refused(enrolled, tenant_client, clock):
    _user_id, _client, secret, _codes = enrolled
    client, _ = fresh_login(tenant_client)
    cases = [
        ("123", "6-digit code"),
        ("000000" if otp.current_code(secret, clock.now) != "000000" else "111111", "not right"),
        (otp.current_code(secret, clock.now - timedelta(minutes=5)), "not right or has expired"),
    ]
    for code, message in cases:
        refused = code_step(client, code)
        assert refused.status_code == 422 and message in refused.get_data(as_text=True), code
    good = otp.current_code(secret, clock.now)
    assert code_step(client, good).status_code == 302
    # The same code again, on a new login within its window: refused as used.
    client, _ = fresh_login(tenant_client)
    reused = code_step(client, good)
    assert reused.status_code == 422 and "already used" in reused.get_data(as_text=True)


def test_a_recovery_code_works_once(enrolled, tenant_client, in_tenant, acme):
    user_id, _client, _secret, codes = enrolled
    client, _ = fresh_login(tenant_client)
    assert code_step(client, codes[0].upper().replace("-", " ")).status_code == 302
    client, _ = fresh_login(tenant_client)
    again = code_step(client, codes[0])
    assert again.status_code == 422 and "already used" in again.get_data(as_text=True)
    with in_tenant(acme):
        assert two_factor.status(db.session.get(User, user_id)).recovery_codes_left == 9


def test_the_pending_login_lasts_ten_minutes(enrolled, tenant_client, clock):
    _user_id, _client, secret, _codes = enrolled
    client, _ = fresh_login(tenant_client)
    token = csrf_token(client, "/login/2fa")
    clock.advance(minutes=11)
    late = client.post("/login/2fa", data={"csrf_token": token, "code": otp.current_code(secret, clock.now)})
    assert late.status_code == 302 and late.headers["Location"].endswith("/login")
    assert client.get("/account").status_code == 302
    assert client.get("/login/2fa").status_code == 302


def test_wrong_codes_lock_the_account_like_wrong_passwords(
    enrolled, tenant_client, app, in_tenant, acme, clock
):
    user_id, _client, secret, _codes = enrolled
    threshold = app.config["LOGIN_LOCKOUT_THRESHOLD"]
    client, _ = fresh_login(tenant_client)
    for _ in range(threshold - 1):
        assert (
            code_step(
                client, "999999" if otp.current_code(secret, clock.now) != "999999" else "888888"
            ).status_code
            == 422
        )
    # The right password again does not clear the count of wrong codes.
    client, _ = fresh_login(tenant_client)
    assert user_of(in_tenant, acme, user_id).failed_login_count == threshold - 1
    locked = code_step(client, "aaaaa-bbbbb")
    assert locked.status_code == 422
    user = user_of(in_tenant, acme, user_id)
    assert user.locked_until is not None
    with in_tenant(acme):
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(EmailMessage)
                .where(EmailMessage.template == "account_locked")
            )
            == 1
        )
    # While locked, even the right code after the right password is not reached.
    client = tenant_client("acme")
    refused = post_form(client, "/login", {"email": "ada@example.com", "password": PASSWORD})
    assert refused.status_code == 422 and "locked" in refused.get_data(as_text=True)


def test_the_code_step_spends_the_login_budget(enrolled, tenant_client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT", "3 per minute")
    client, _ = fresh_login(tenant_client)  # 1
    assert code_step(client, "12345").status_code == 422  # 2
    assert code_step(client, "12345").status_code == 422  # 3
    assert code_step(client, "12345").status_code == 429


# --------------------------------------------------------------------------- remembered devices


def test_a_remembered_device_skips_the_code_for_30_days(enrolled, tenant_client, clock):
    _user_id, _client, secret, _codes = enrolled
    client, _ = fresh_login(tenant_client)
    done = code_step(client, otp.current_code(secret, clock.now), remember_device=True)
    cookie_header = next(h for h in done.headers.getlist("Set-Cookie") if h.startswith("gf_2fa_"))
    assert "HttpOnly" in cookie_header and "SameSite=Lax" in cookie_header
    post_form(client, "/account", {}, action="/logout")
    straight = signed_in(client, "ada@example.com")
    assert not straight.headers["Location"].endswith("/login/2fa")
    post_form(client, "/account", {}, action="/logout")
    clock.advance(days=31)
    asked = signed_in(client, "ada@example.com")
    assert asked.headers["Location"].endswith("/login/2fa")


def test_a_remembered_device_stops_counting_after_a_reset(enrolled, tenant_client, in_tenant, acme, clock):
    user_id, _client, secret, _codes = enrolled
    client, _ = fresh_login(tenant_client)
    code_step(client, otp.current_code(secret, clock.now), remember_device=True)
    post_form(client, "/account", {}, action="/logout")
    with in_tenant(acme):
        assert two_factor.reset_two_factor(db.session.get(User, user_id))
        db.session.commit()
    signed_in(client, "ada@example.com")  # no 2FA now: straight in
    enrol(client, clock)  # a new enrolment
    post_form(client, "/account", {}, action="/logout")
    asked = signed_in(client, "ada@example.com")
    assert asked.headers["Location"].endswith("/login/2fa")


# --------------------------------------------------------------------------- managing it


def test_new_recovery_codes_need_a_fresh_code_and_replace_the_old(enrolled, clock):
    _user_id, client, secret, codes = enrolled
    refused = post_form(
        client, "/account/security", {"regen-code": "000000"}, action="/account/security/2fa/recovery-codes"
    )
    assert refused.status_code == 422
    made = post_form(
        client,
        "/account/security",
        {"regen-code": otp.current_code(secret, clock.now)},
        action="/account/security/2fa/recovery-codes",
    )
    new_codes = CODE_RE.findall(made.get_data(as_text=True))
    assert made.status_code == 200 and len(new_codes) == 10 and not set(new_codes) & set(codes)


def test_turning_off_needs_the_password_and_a_code(enrolled, in_tenant, acme, clock):
    user_id, client, secret, _codes = enrolled
    wrong_password = post_form(
        client,
        "/account/security",
        {"off-password": "nope-nope-nope", "off-code": otp.current_code(secret, clock.now)},
        action="/account/security/2fa/disable",
    )
    assert wrong_password.status_code == 422 and "password is incorrect" in wrong_password.get_data(
        as_text=True
    )
    assert row(in_tenant, acme, user_id) is not None
    off = post_form(
        client,
        "/account/security",
        {"off-password": PASSWORD, "off-code": otp.current_code(secret, clock.now)},
        action="/account/security/2fa/disable",
    )
    assert off.status_code == 303 and row(in_tenant, acme, user_id) is None
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
        mail = db.session.scalars(
            sa.select(EmailMessage).where(EmailMessage.template == "two_factor_off")
        ).one()
        assert mail.to == "ada@example.com" and mail.context["by_operator"] is False


# --------------------------------------------------------------------------- API


def test_the_api_token_needs_the_otp(enrolled, tenant_client, app, in_tenant, acme, clock):
    user_id, _client, secret, codes = enrolled
    client = tenant_client("acme")
    body = {"email": "ada@example.com", "password": PASSWORD}
    missing = client.post("/api/v1/auth/token", json=body)
    assert missing.status_code == 401 and missing.json["errors"]["code"] == "two_factor_required"
    wrong = client.post(
        "/api/v1/auth/token",
        json={**body, "otp": "000000" if otp.current_code(secret, clock.now) != "000000" else "111111"},
    )
    assert wrong.status_code == 401 and wrong.json["errors"]["code"] == "two_factor_invalid"
    assert user_of(in_tenant, acme, user_id).failed_login_count == 1
    issued = client.post("/api/v1/auth/token", json={**body, "otp": otp.current_code(secret, clock.now)})
    assert issued.status_code == 200 and issued.json["access_token"]
    assert user_of(in_tenant, acme, user_id).failed_login_count == 0
    by_recovery = client.post("/api/v1/auth/token", json={**body, "otp": codes[1]})
    assert by_recovery.status_code == 200
    me = client.get(
        "/api/v1/me/two-factor", headers={"Authorization": f"Bearer {issued.json['access_token']}"}
    )
    assert me.status_code == 200 and me.json["enabled"] is True and me.json["recovery_codes_left"] == 9


def test_an_account_without_two_factor_needs_no_otp(tenant_client, acme, make_user):
    make_user(acme, email="plain@example.com", password=PASSWORD)
    client = tenant_client("acme")
    issued = client.post("/api/v1/auth/token", json={"email": "plain@example.com", "password": PASSWORD})
    assert issued.status_code == 200
    me = client.get(
        "/api/v1/me/two-factor", headers={"Authorization": f"Bearer {issued.json['access_token']}"}
    )
    assert me.json == {"enabled": False, "confirmed_at": None, "recovery_codes_left": 0}


# --------------------------------------------------------------------------- tenants


def test_acme_two_factor_never_touches_globex_user_of_the_same_id(
    enrolled, tenant_client, globex, make_user, in_tenant, acme, clock
):
    user_id, _client, secret, _codes = enrolled
    twin = make_user(globex, email="ada@example.com", password=PASSWORD)
    assert twin == user_id
    assert row(in_tenant, globex, twin) is None
    # Globex's Ada signs in with her password alone, and the API needs no otp there.
    globex_client, response = fresh_login(tenant_client, "globex")
    assert not response.headers["Location"].endswith("/login/2fa")
    assert globex_client.get("/account").status_code == 200
    token = tenant_client("globex").post(
        "/api/v1/auth/token", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert token.status_code == 200


def test_acme_pending_login_and_remember_cookie_are_worthless_on_globex(
    enrolled, tenant_client, acme, globex, make_user, in_tenant, clock
):
    user_id, _client, secret, _codes = enrolled
    make_user(globex, email="ada@example.com", password=PASSWORD)
    # Acme: a remembered device, then a pending login (a new client).
    acme_client, _ = fresh_login(tenant_client)
    code_step(acme_client, otp.current_code(secret, clock.now), remember_device=True)
    clock.next_step()
    acme_host = acme_client.host
    remember = acme_client.get_cookie(f"gf_2fa_{acme.id}", domain=acme_client.host)
    assert remember is not None
    pending_client, _ = fresh_login(tenant_client)
    pending_session = pending_client.get_cookie("session", domain=pending_client.host).value

    # Globex's Ada also turns two-factor on.
    globex_client, _ = fresh_login(tenant_client, "globex")
    globex_secret, _ = enrol(globex_client, clock)

    thief = tenant_client("globex")
    thief.set_cookie("session", pending_session, domain=thief.host)
    stolen = thief.get("/login/2fa")
    assert stolen.status_code == 302 and stolen.headers["Location"].endswith("/login")
    # The code is refused there too (no pending login of globex); globex is not signed in.
    assert thief.get("/account").status_code == 302

    # Acme's remember cookie, under globex's cookie name: still asked for the code.
    visitor = tenant_client("globex")
    with in_tenant(globex):
        name = two_factor.device_cookie_name()
    visitor.set_cookie(name, remember.value, domain=visitor.host)
    visitor.set_cookie(remember.key, remember.value, domain=visitor.host)
    asked = signed_in(visitor, "ada@example.com")
    assert asked.headers["Location"].endswith("/login/2fa")
    assert acme_host != visitor.host and globex_secret != secret


def test_deleting_the_account_forgets_the_authenticator(enrolled, in_tenant, acme):
    user_id, _client, _secret, _codes = enrolled
    with in_tenant(acme):
        from app.accounts import services

        services.delete_account(db.session.get(User, user_id), PASSWORD)
        db.session.commit()
        assert db.session.get(TwoFactor, user_id) is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
