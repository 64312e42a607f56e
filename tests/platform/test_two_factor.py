"""Platform admins always sign in with two factors: forced enrolment on the first sign-in, then a
TOTP code (each works once) or a single-use recovery code; wrong codes are rate-limited like
wrong passwords; ``flask platform reset-2fa`` starts over (audited)."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from app.core import otp
from app.core.crypto import decrypt_secret
from app.platform import services
from app.platform.auth import PENDING_KEY, SESSION_KEY
from tenants.db import db

from .conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CODE_PATH,
    ENROL_PATH,
    next_totp_code,
    platform_enrol,
    platform_login,
    post_form,
    session_of,
    text,
)


def password_step(client, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, next=None):
    data = {"email": email, "password": password}
    if next:
        data["next"] = next
    return post_form(client, "/platform/login", data)


def stored(app, email=ADMIN_EMAIL):
    with app.app_context():
        admin = services.get_admin_by_email(email)
        db.session.expunge(admin)
        return admin


def secret_of(app, email=ADMIN_EMAIL) -> str:
    with app.app_context():
        return decrypt_secret(services.get_admin_by_email(email).totp_secret_encrypted)


@pytest.fixture
def enrolled(platform_client, make_platform_admin, app):
    """An admin who enrolled (then signed out): -> (secret, recovery codes)."""
    make_platform_admin()
    response = password_step(platform_client)
    assert response.headers["Location"] == ENROL_PATH
    _, secret, codes = platform_enrol(platform_client)
    post_form(platform_client, "/platform/", {}, action="/platform/logout")
    return secret, codes


def test_first_sign_in_forces_enrolment_before_any_page(platform_client, make_platform_admin, app):
    make_platform_admin()
    response = password_step(platform_client, next="/platform/tenants/acme")
    assert response.status_code == 302 and response.headers["Location"] == ENROL_PATH
    # The password alone opens nothing: every console page sends back to the login.
    for path in ("/platform/", "/platform/tenants/new", "/platform/tenants/acme"):
        assert platform_client.get(path).status_code == 302, path
    assert platform_client.get(CODE_PATH).headers["Location"] == ENROL_PATH  # not enrolled yet
    page = platform_client.get(ENROL_PATH)
    html = text(page)
    assert page.status_code == 200 and "<svg" in html and 'data-testid="totp-qr"' in html
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', html).group(1)
    assert secret == secret_of(app)  # kept encrypted, the same one on a reload
    assert secret not in (stored(app).totp_secret_encrypted or "")
    assert (
        re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', text(platform_client.get(ENROL_PATH))).group(1)
        == secret
    )
    assert stored(app).totp_confirmed_at is None

    wrong = post_form(
        platform_client, ENROL_PATH, {"code": "000000" if otp.current_code(secret) != "000000" else "111111"}
    )
    assert wrong.status_code == 422 and "That code is not right" in text(wrong)
    assert stored(app).totp_confirmed_at is None
    assert platform_client.get("/platform/").status_code == 302

    shown = post_form(platform_client, ENROL_PATH, {"code": otp.current_code(secret)})
    assert shown.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", text(shown))
    assert len(codes) == 10 and len(set(codes)) == 10
    admin = stored(app)
    assert admin.totp_confirmed_at is not None and admin.totp_last_step is not None
    assert sorted(admin.recovery_code_hashes) == sorted(otp.hash_recovery_code(c) for c in codes)
    assert platform_client.get("/platform/").status_code == 200  # signed in now
    with session_of(platform_client) as session:
        assert PENDING_KEY not in session and SESSION_KEY in session
        csrf = session["csrf_token"]
    assert csrf  # the recovery page's form works in the new session:
    token = re.search(r'name="csrf_token"[^>]*value="([^"]*)"', text(shown)).group(1)
    go = platform_client.post(
        "/platform/login/continue", data={"csrf_token": token, "next": "/platform/tenants/acme"}
    )
    assert go.status_code == 302 and go.headers["Location"] == "/platform/tenants/acme"
    # The codes are never shown again.
    assert platform_client.get(ENROL_PATH).status_code == 302


def test_enrolled_admin_signs_in_with_a_code(platform_client, enrolled, app):
    response = password_step(platform_client, next="/platform/tenants/acme")
    assert response.headers["Location"] == CODE_PATH
    assert platform_client.get("/platform/").status_code == 302
    assert platform_client.get(ENROL_PATH).headers["Location"] == CODE_PATH
    page = platform_client.get(CODE_PATH)
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in text(page)
    done = post_form(platform_client, CODE_PATH, {"code": next_totp_code(app)})
    assert done.status_code == 302 and done.headers["Location"] == "/platform/tenants/acme"
    assert platform_client.get("/platform/").status_code == 200


def test_a_code_works_once(platform_client, enrolled, app):
    secret, _ = enrolled
    now = datetime.now(UTC)
    with app.app_context():  # the last code used was an older step
        services.get_admin_by_email(ADMIN_EMAIL).totp_last_step = None
        db.session.commit()
    code = otp.current_code(secret, now)
    password_step(platform_client)
    assert post_form(platform_client, CODE_PATH, {"code": code}).status_code == 302
    post_form(platform_client, "/platform/", {}, action="/platform/logout")
    password_step(platform_client)
    replay = post_form(platform_client, CODE_PATH, {"code": code})
    assert replay.status_code == 422 and "That code is not right" in text(replay)
    # An earlier step's code (still inside the ±1 window) is refused too.
    earlier = pyotp.TOTP(secret).generate_otp(int(now.timestamp()) // 30 - 1)
    assert post_form(platform_client, CODE_PATH, {"code": earlier}).status_code == 422
    assert platform_client.get("/platform/").status_code == 302


def test_wrong_codes_are_refused_and_count_toward_the_login_limit(
    platform_client, enrolled, app, monkeypatch
):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT", "3 per minute")
    password_step(platform_client)  # one of the budget
    statuses = []
    for bad in ("123456x", "000000", "abcde-fghjk"):
        statuses.append(post_form(platform_client, CODE_PATH, {"code": bad}).status_code)
    assert statuses == [422, 422, 429]  # 1 password + 2 wrong codes spent the 3
    right = post_form(platform_client, CODE_PATH, {"code": next_totp_code(app)})
    assert right.status_code == 429
    assert platform_client.get("/platform/").status_code == 302
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT", "100 per minute")
    empty = post_form(platform_client, CODE_PATH, {"code": ""})
    assert empty.status_code == 422 and "Enter the code." in text(empty)


def test_a_recovery_code_signs_in_once(platform_client, enrolled, app, caplog):
    caplog.set_level(logging.INFO, logger="app.platform.audit")
    _, codes = enrolled
    password_step(platform_client)
    response = post_form(platform_client, CODE_PATH, {"code": codes[3].upper().replace("-", " ")})
    assert response.status_code == 302 and response.headers["Location"] == "/platform/"
    assert "9 left" in text(platform_client.get("/platform/"))
    assert len(stored(app).recovery_code_hashes) == 9
    assert otp.hash_recovery_code(codes[3]) not in stored(app).recovery_code_hashes
    actions = [json.loads(r.getMessage())["action"] for r in caplog.records if r.name == "app.platform.audit"]
    assert "admin.recovery_code_used" in actions
    post_form(platform_client, "/platform/", {}, action="/platform/logout")
    password_step(platform_client)
    again = post_form(platform_client, CODE_PATH, {"code": codes[3]})
    assert again.status_code == 422 and len(stored(app).recovery_code_hashes) == 9
    assert post_form(platform_client, CODE_PATH, {"code": codes[4]}).status_code == 302


def test_the_pending_sign_in_expires_after_ten_minutes(platform_client, enrolled, app):
    password_step(platform_client)
    with session_of(platform_client) as session:
        session[PENDING_KEY] = {**session[PENDING_KEY], "at": int(time.time()) - 601}
    response = post_form(platform_client, "/platform/login", {}, action=CODE_PATH)
    assert response.status_code == 302 and response.headers["Location"] == "/platform/login"
    assert "Your sign-in expired" in text(platform_client.get("/platform/login"))


def test_no_pending_sign_in_no_code_page(platform_client, make_platform_admin):
    make_platform_admin()
    for path in (CODE_PATH, ENROL_PATH):
        assert platform_client.get(path).headers["Location"] == "/platform/login"


def test_a_code_page_is_worth_nothing_on_a_tenant_host(tenant_client):
    assert tenant_client("acme").get(CODE_PATH).status_code == 404


def test_reset_2fa_cli_starts_over_and_is_audited(platform_client, enrolled, app, caplog):
    caplog.set_level(logging.INFO, logger="app.platform.audit")
    assert platform_login(platform_client).status_code == 302
    assert platform_client.get("/platform/").status_code == 200
    runner = app.test_cli_runner()
    result = runner.invoke(args=["platform", "reset-2fa", ADMIN_EMAIL.upper()])
    assert result.exit_code == 0, result.output
    assert "they enrol again at their next sign-in" in result.output
    admin = stored(app)
    assert admin.totp_secret_encrypted is None and admin.totp_confirmed_at is None
    assert admin.recovery_code_hashes == []
    entries = [json.loads(r.getMessage()) for r in caplog.records if r.name == "app.platform.audit"]
    reset = [e for e in entries if e["action"] == "admin.2fa_reset"]
    assert reset and reset[0]["admin_email"] == ADMIN_EMAIL and reset[0]["via"] == "cli"
    # Their open session ends; the next sign-in enrols again.
    assert platform_client.get("/platform/").status_code == 302
    assert password_step(platform_client).headers["Location"] == ENROL_PATH

    missing = runner.invoke(args=["platform", "reset-2fa", "nobody@gigforge.test"])
    assert missing.exit_code == 1 and "No platform admin" in missing.output


def test_enrolment_secret_is_not_reused_after_a_reset(platform_client, enrolled, app):
    before, _ = enrolled
    with app.app_context():
        services.reset_two_factor(ADMIN_EMAIL)
        db.session.commit()
    platform_login(platform_client)
    assert secret_of(app) != before
    assert stored(app).totp_confirmed_at > datetime.now(UTC) - timedelta(minutes=1)


@pytest.mark.browser
@pytest.mark.parametrize("width", [1366, 390])
def test_enrolment_and_code_pages_in_the_browser(browser, live_server, make_platform_admin, app, width):
    import os

    make_platform_admin()
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(live_server.url("localhost", "/platform/login"))
        page.fill("#email", ADMIN_EMAIL)
        page.fill("#password", ADMIN_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/platform/login/enrol")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if folder:
            page.screenshot(path=os.path.join(folder, f"platform-2fa-enrol-{width}.png"), full_page=True)
        page.fill("#code", otp.current_code(page.get_by_test_id("totp-secret").inner_text().strip()))
        page.get_by_role("button", name="Confirm and sign in").click()
        page.get_by_test_id("recovery-codes").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if folder:
            page.screenshot(path=os.path.join(folder, f"platform-2fa-recovery-{width}.png"), full_page=True)
        page.get_by_test_id("recovery-codes-saved").click()
        page.wait_for_url("**/platform/")
        context.clear_cookies()  # a new sign-in, as on another day
        page.goto(live_server.url("localhost", "/platform/login"))
        page.fill("#email", ADMIN_EMAIL)
        page.fill("#password", ADMIN_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/platform/login/code")
        page.fill("#code", "000000" if next_totp_code(app) != "000000" else "111111")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("That code is not right").first.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if folder:
            page.screenshot(path=os.path.join(folder, f"platform-2fa-code-{width}.png"), full_page=True)
        page.fill("#code", next_totp_code(app))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/platform/")
    finally:
        context.close()
