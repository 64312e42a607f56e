"""Bot protection of sign-up, login, password reset and checkout (app/accounts/bot.py): a honeypot,
a minimum fill time, and, when the challenge is on ("always", or "auto" after one IP's volume),
a proof of work solved by the page's script; each challenge works once; counters per tenant."""

from __future__ import annotations

import hashlib
import re
import time

import pytest
import sqlalchemy as sa

from app.accounts import bot
from app.accounts.models import User
from app.settings.services import settings_row
from tenants.db import db
from tests.helpers import PASSWORD, csrf_token, login

SIGNUP = {"display_name": "Rob Otto", "email": "rob@example.com", "password": "violet-harbor-lantern-42"}
_HIDDEN = re.compile(r'<input[^>]*name="(csrf_token|bot_ts|bot_challenge)"[^>]*value="([^"]*)"')


def set_mode(in_tenant, tenant, value: str) -> None:
    with in_tenant(tenant):
        settings_row(lock=True).bot_protection = value
        db.session.commit()


def page_fields(client, path: str, **kwargs) -> dict:
    response = client.get(path, **kwargs)
    assert response.status_code == 200
    return dict(_HIDDEN.findall(response.get_data(as_text=True)))


def solve(challenge: str) -> str:
    """What static/js/bot_check.js does, in Python (the tests use few bits)."""
    nonce = 0
    while True:
        digest = hashlib.sha256((challenge + str(nonce)).encode()).digest()  # one hash, as the server
        if bot.leading_zero_bits(digest) >= BITS:
            return str(nonce)
        nonce += 1


BITS = 6


@pytest.fixture(autouse=True)
def _low_difficulty(app, monkeypatch):
    monkeypatch.setitem(app.config, "BOT_POW_BITS", BITS)


def users(in_tenant, tenant, email: str) -> int:
    with in_tenant(tenant):
        return db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email == email))


def text(response) -> str:
    return response.get_data(as_text=True)


def test_forms_carry_the_honeypot_and_the_signed_time(tenant_client):
    acme = tenant_client("acme")
    for path in ("/signup", "/login", "/password/forgot"):
        html = text(acme.get(path))
        assert 'name="homepage"' in html and 'tabindex="-1"' in html and 'autocomplete="off"' in html
        assert 'class="bot-trap" aria-hidden="true"' in html
        assert 'name="bot_ts"' in html
        assert 'name="bot_challenge"' not in html  # "auto" below the threshold: no challenge


def test_a_filled_honeypot_is_refused_and_nothing_changes(tenant_client, acme, in_tenant):
    client = tenant_client("acme")
    fields = page_fields(client, "/signup")
    response = client.post("/signup", data={**fields, **SIGNUP, "homepage": "http://spam.example"})
    assert response.status_code == 422 and bot.HONEYPOT in text(response)
    assert users(in_tenant, acme, SIGNUP["email"]) == 0
    ok = client.post("/signup", data={**page_fields(client, "/signup"), **SIGNUP})
    assert ok.status_code == 302 and users(in_tenant, acme, SIGNUP["email"]) == 1


def test_a_form_sent_too_fast_or_too_late_is_refused(tenant_client, acme, in_tenant, app, monkeypatch):
    monkeypatch.setitem(app.config, "BOT_MIN_FILL_SECONDS", 2)
    client = tenant_client("acme")
    fields = page_fields(client, "/signup")
    fast = client.post("/signup", data={**fields, **SIGNUP})
    assert fast.status_code == 422 and bot.TOO_FAST in text(fast)
    missing = client.post("/signup", data={"csrf_token": fields["csrf_token"], **SIGNUP})
    assert missing.status_code == 422 and bot.EXPIRED in text(missing)
    assert users(in_tenant, acme, SIGNUP["email"]) == 0

    def rendered(seconds_ago: float, tenant_id: int = acme.id, form: str = "signup") -> str:
        with app.app_context():
            return bot._serializer().dumps({"t": tenant_id, "f": form, "at": time.time() - seconds_ago})

    for stamp in (rendered(3 * 3600), rendered(5, form="login"), rendered(5, tenant_id=acme.id + 999)):
        late = client.post("/signup", data={**fields, **SIGNUP, "bot_ts": stamp})
        assert late.status_code == 422 and bot.EXPIRED in text(late)
    assert users(in_tenant, acme, SIGNUP["email"]) == 0
    ok = client.post("/signup", data={**fields, **SIGNUP, "bot_ts": rendered(5)})
    assert ok.status_code == 302 and users(in_tenant, acme, SIGNUP["email"]) == 1


def test_always_requires_a_solved_challenge_once(tenant_client, acme, in_tenant, make_user):
    make_user(acme, email="lena@example.com")
    set_mode(in_tenant, acme, "always")
    client = tenant_client("acme")
    creds = {"email": "lena@example.com", "password": PASSWORD}
    fields = page_fields(client, "/login")
    assert fields.get("bot_challenge")
    html = text(client.get("/login"))
    assert "js/bot_check.js" in html and f'data-bot-bits="{BITS}"' in html

    unsolved = client.post("/login", data={**fields, **creds})
    assert unsolved.status_code == 422 and bot.WAIT_FOR_CHECK in text(unsolved)
    bad = next(
        str(n)
        for n in range(1000)
        if bot.leading_zero_bits(bot.pow_digest(fields["bot_challenge"], str(n))) < BITS
    )
    wrong = client.post("/login", data={**fields, **creds, "bot_nonce": bad})
    assert wrong.status_code == 422 and bot.WAIT_FOR_CHECK in text(wrong)
    assert client.get("/account").status_code == 302  # not signed in

    nonce = solve(fields["bot_challenge"])
    signed_in = client.post("/login", data={**fields, **creds, "bot_nonce": nonce})
    assert signed_in.status_code == 302 and client.get("/account").status_code == 200

    other = tenant_client("acme")
    reused = {"bot_challenge": fields["bot_challenge"], "bot_nonce": nonce}
    replay = other.post("/login", data={**page_fields(other, "/login"), **creds, **reused})
    assert replay.status_code == 422 and bot.REUSED in text(replay)
    assert other.get("/account").status_code == 302


def test_a_challenge_of_another_tenant_or_form_is_refused(tenant_client, acme, globex, in_tenant, make_user):
    make_user(globex, email="gus@example.com")
    set_mode(in_tenant, acme, "always")
    set_mode(in_tenant, globex, "always")
    acme_client, globex_client = tenant_client("acme"), tenant_client("globex")
    acme_challenge = page_fields(acme_client, "/login")["bot_challenge"]
    signup_challenge = page_fields(globex_client, "/signup")["bot_challenge"]
    fields = page_fields(globex_client, "/login")
    creds = {"email": "gus@example.com", "password": PASSWORD}
    for challenge in (acme_challenge, signup_challenge):
        response = globex_client.post(
            "/login", data={**fields, **creds, "bot_challenge": challenge, "bot_nonce": solve(challenge)}
        )
        assert response.status_code == 422 and bot.WAIT_FOR_CHECK in text(response)
    assert globex_client.get("/account").status_code == 302


def test_auto_turns_on_after_the_threshold_for_that_ip_and_tenant_only(
    tenant_client, acme, globex, app, monkeypatch
):
    monkeypatch.setitem(app.config, "BOT_AUTO_THRESHOLD", 3)
    noisy = {"environ_base": {"REMOTE_ADDR": "203.0.113.7"}}
    quiet = {"environ_base": {"REMOTE_ADDR": "198.51.100.4"}}
    acme_client = tenant_client("acme")
    for n in range(3):
        fields = page_fields(acme_client, "/password/forgot", **noisy)
        assert "bot_challenge" not in fields, n
        sent = acme_client.post("/password/forgot", data={**fields, "email": f"p{n}@example.com"}, **noisy)
        assert sent.status_code == 200 and "bot-refusal" not in text(sent)
    # The 4th submission from that IP needs the proof of work.
    fields = page_fields(acme_client, "/password/forgot", **noisy)
    assert fields.get("bot_challenge")
    refused = acme_client.post(
        "/password/forgot", data={"csrf_token": fields["csrf_token"], "email": "p4@example.com"}, **noisy
    )
    assert refused.status_code == 422 and bot.WAIT_FOR_CHECK in text(refused)
    fields = page_fields(acme_client, "/password/forgot", **noisy)
    solved = acme_client.post(
        "/password/forgot",
        data={**fields, "email": "p5@example.com", "bot_nonce": solve(fields["bot_challenge"])},
        **noisy,
    )
    assert solved.status_code == 200 and "bot-refusal" not in text(solved)

    # Another IP on acme, and the same IP on globex, are not challenged.
    assert "bot_challenge" not in page_fields(acme_client, "/password/forgot", **quiet)
    globex_client = tenant_client("globex")
    fields = page_fields(globex_client, "/password/forgot", **noisy)
    assert "bot_challenge" not in fields
    ok = globex_client.post("/password/forgot", data={**fields, "email": "g@example.com"}, **noisy)
    assert ok.status_code == 200 and "bot-refusal" not in text(ok)

    with app.test_request_context():
        from tenants.db import tenant_context

        with tenant_context(acme):
            counts = bot.refusal_counts()
    assert counts == {"forgot_password:pow_missing": 1}


def test_off_checks_nothing(tenant_client, acme, in_tenant, app, monkeypatch):
    monkeypatch.setitem(app.config, "BOT_MIN_FILL_SECONDS", 2)
    set_mode(in_tenant, acme, "off")
    client = tenant_client("acme")
    html = text(client.get("/signup"))
    assert 'name="homepage"' not in html and 'name="bot_ts"' not in html
    token = csrf_token(client, "/signup")
    response = client.post("/signup", data={"csrf_token": token, **SIGNUP, "homepage": "filled"})
    assert response.status_code == 302 and users(in_tenant, acme, SIGNUP["email"]) == 1


def test_existing_login_helper_still_works_with_defaults(tenant_client, acme, make_user):
    make_user(acme, email="dora@example.com")
    login(tenant_client("acme"), "dora@example.com")


@pytest.mark.browser
def test_the_page_script_solves_the_challenge_and_signs_up(
    live_server, browser, acme, in_tenant, app, monkeypatch, tmp_path
):
    import os

    monkeypatch.setitem(app.config, "BOT_POW_BITS", 12)
    monkeypatch.setitem(app.config, "BOT_MIN_FILL_SECONDS", 1)
    set_mode(in_tenant, acme, "always")
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    try:
        page.goto(live_server.url("acme.localhost", "/signup"))
        assert page.locator("input[name=bot_challenge]").count() == 1
        assert (
            not page.locator("input[name=homepage]").is_visible()
            or page.locator("input[name=homepage]").bounding_box()["x"] < 0
        )
        page.get_by_label("Your name").fill("Bea Browser")
        page.get_by_label("Email").fill("bea@example.com")
        page.get_by_label("Password").fill("violet-harbor-lantern-42")
        page.wait_for_timeout(1100)  # a person takes longer than the minimum fill time
        page.get_by_role("button", name="Create my account").click()
        page.wait_for_url("**/account")
        assert users(in_tenant, acme, "bea@example.com") == 1
        folder = os.environ.get("GIGFORGE_SCREENSHOTS")
        if folder:
            page.goto(live_server.url("acme.localhost", "/login"))
            page.screenshot(path=os.path.join(folder, "bot-login-390.png"), full_page=True)
    finally:
        context.close()
