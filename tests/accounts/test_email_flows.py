"""Verification, password reset and email change, end to end through HTTP and real SMTP."""

from __future__ import annotations

import time

from itsdangerous import TimestampSigner

from app.accounts.models import User
from tenants.db import db

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "amber-orchard-compass-9"


def test_verification_email_arrives_branded_and_its_link_verifies(
    web, tenant_client, acme, mailbox, run_jobs, user_row
):
    client = tenant_client("acme")
    web.signup(client, "new@example.com", display_name="Nia Newcomer")
    run_jobs()
    (message,) = mailbox.wait_for(1)
    assert message["To"] == "new@example.com"
    assert message["Subject"] == "Confirm your email address"
    assert "Acme Test Market" in message["From"]
    text, html = mailbox.text(message), mailbox.html(message)
    assert "Welcome to Acme Test Market, Nia Newcomer!" in text
    assert "#0f766e" in html and "Globex" not in html  # acme's colour, nobody else's
    (link,) = [url for url in mailbox.links(message) if "/verify/" in url]
    assert link.startswith("http://acme.localhost/verify/")

    response = client.get(web.link_path(link))
    assert response.status_code == 302
    assert user_row(acme, email="new@example.com").email_verified_at is not None
    assert b"Please confirm your email address" not in client.get("/account").data
    assert client.get(web.link_path(link)).status_code == 302  # following it twice is harmless


def test_a_verification_link_from_acme_is_worthless_on_globex(
    web, tenant_client, acme, globex, mailbox, run_jobs, make_user, user_row
):
    web.signup(tenant_client("acme"), "twin@example.com")
    web.signup(tenant_client("globex"), "twin@example.com")  # same id, same email on globex
    run_jobs()
    messages = mailbox.wait_for(2)
    acme_mail = next(m for m in messages if "Acme" in m["From"])
    path = web.link_path(next(u for u in mailbox.links(acme_mail) if "/verify/" in u))
    response = tenant_client("globex").get(path)
    assert response.status_code == 400 and b"This link is invalid" in response.data
    assert user_row(globex, email="twin@example.com").email_verified_at is None


def test_a_forged_verification_link_is_refused(tenant_client, acme):
    response = tenant_client("acme").get("/verify/eyJ1IjoxfQ.forged.signature")
    assert response.status_code == 400 and b"This link is invalid" in response.data


def test_resending_the_verification_link(web, tenant_client, acme, mailbox, run_jobs, make_user):
    make_user(acme, email="late@example.com", password=PASSWORD, verified=False)
    client = tenant_client("acme")
    web.login(client, "late@example.com", PASSWORD)
    assert web.post_form(client, "/account", {}, action="/account/verify/resend").status_code == 303
    run_jobs()
    (message,) = mailbox.wait_for(1)
    assert message["Subject"] == "Confirm your email address"


def _request_reset(web, client, mailbox, run_jobs, email="reset@example.com") -> str:
    response = web.post_form(client, "/password/forgot", {"email": email})
    assert response.status_code == 200
    run_jobs()
    (message,) = mailbox.wait_for(1)
    assert message["Subject"] == "Reset your password"
    (link,) = [url for url in mailbox.links(message) if "/password/reset/" in url]
    return web.link_path(link)


def test_password_reset_by_email_end_to_end(web, tenant_client, acme, make_user, mailbox, run_jobs):
    make_user(acme, email="reset@example.com", password=PASSWORD)
    client = tenant_client("acme")
    path = _request_reset(web, client, mailbox, run_jobs)
    assert client.get(path).status_code == 200
    response = web.post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/login"

    assert web.login(tenant_client("acme"), "reset@example.com", PASSWORD).status_code == 422
    assert web.login(tenant_client("acme"), "reset@example.com", NEW_PASSWORD).status_code == 302
    run_jobs()
    assert mailbox.wait_for(2)[1]["Subject"] == "Your password was changed"


def test_a_reset_link_works_only_once(web, tenant_client, acme, make_user, mailbox, run_jobs):
    make_user(acme, email="reset@example.com", password=PASSWORD)
    client = tenant_client("acme")
    path = _request_reset(web, client, mailbox, run_jobs)
    web.post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    again = client.get(path)
    assert again.status_code == 400 and b"already been used" in again.data
    token = web.csrf_token(client, "/login")
    reuse = client.post(
        path, data={"csrf_token": token, "password": "x" * 12 + "yz!", "confirm": "x" * 12 + "yz!"}
    )
    assert reuse.status_code == 400
    assert web.login(tenant_client("acme"), "reset@example.com", NEW_PASSWORD).status_code == 302


def test_an_expired_reset_link_is_refused(
    web, tenant_client, acme, make_user, mailbox, run_jobs, monkeypatch
):
    make_user(acme, email="reset@example.com", password=PASSWORD)
    client = tenant_client("acme")
    real = TimestampSigner.get_timestamp
    # The link is signed two hours ago (the limit is one hour).
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 7200)
    path = _request_reset(web, client, mailbox, run_jobs)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", real)
    response = client.get(path)
    assert response.status_code == 400 and b"This link has expired" in response.data


def test_reset_with_a_weak_password_shows_the_error_and_keeps_the_link(
    web, tenant_client, acme, make_user, mailbox, run_jobs
):
    make_user(acme, email="reset@example.com", password=PASSWORD)
    client = tenant_client("acme")
    path = _request_reset(web, client, mailbox, run_jobs)
    weak = web.post_form(client, path, {"password": "password123", "confirm": "password123"})
    assert weak.status_code == 422 and b"too common" in weak.data
    mismatch = web.post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 422 and b"do not match" in mismatch.data
    assert web.post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302


def test_reset_gives_the_same_answer_for_unknown_addresses(
    web, tenant_client, acme, make_user, mailbox, run_jobs
):
    make_user(acme, email="known@example.com", password=PASSWORD)
    client = tenant_client("acme")
    known = web.post_form(client, "/password/forgot", {"email": "known@example.com"})
    unknown = web.post_form(client, "/password/forgot", {"email": "unknown@example.com"})
    assert known.status_code == unknown.status_code == 200

    def main(response, email):
        page = response.get_data(as_text=True)
        return page[page.index("<main") : page.index("</main>")].replace(email, "EMAIL")

    assert main(known, "known@example.com") == main(unknown, "unknown@example.com")
    run_jobs()
    (message,) = mailbox.wait_for(1)
    assert message["To"] == "known@example.com"


def test_a_reset_link_from_acme_is_worthless_on_globex(
    web, tenant_client, acme, globex, make_user, mailbox, run_jobs
):
    make_user(acme, email="reset@example.com", password=PASSWORD)
    make_user(globex, email="reset@example.com", password=PASSWORD)
    path = _request_reset(web, tenant_client("acme"), mailbox, run_jobs)
    response = tenant_client("globex").get(path)
    assert response.status_code == 400


def test_changing_the_email_needs_the_new_address_confirmed(
    web, tenant_client, acme, make_user, mailbox, run_jobs, user_row
):
    user_id = make_user(acme, email="old@example.com", password=PASSWORD)
    client = tenant_client("acme")
    web.login(client, "old@example.com", PASSWORD)
    response = web.post_form(client, "/account/email", {"new_email": "new@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert user_row(acme, user_id=user_id).email == "old@example.com"  # not yet
    run_jobs()
    messages = mailbox.wait_for(2)
    confirm = next(m for m in messages if m["To"] == "new@example.com")
    notice = next(m for m in messages if m["To"] == "old@example.com")
    assert "new@example.com" in mailbox.text(notice)
    (link,) = [u for u in mailbox.links(confirm) if "/account/email/confirm/" in u]
    assert client.get(web.link_path(link)).status_code == 302
    user = user_row(acme, user_id=user_id)
    assert user.email == "new@example.com" and user.email_verified_at is not None
    assert client.get(web.link_path(link)).status_code == 400  # used
    assert web.login(tenant_client("acme"), "new@example.com", PASSWORD).status_code == 302


def test_changing_the_email_refuses_bad_input(web, tenant_client, acme, make_user, user_row):
    user_id = make_user(acme, email="me@example.com", password=PASSWORD)
    make_user(acme, email="taken@example.com")
    client = tenant_client("acme")
    web.login(client, "me@example.com", PASSWORD)
    cases = [
        ({"new_email": "other@example.com", "password": "wrong-password"}, b"Your password is incorrect"),
        ({"new_email": "nonsense", "password": PASSWORD}, b"Enter a valid email address"),
        ({"new_email": "TAKEN@example.com", "password": PASSWORD}, b"already exists"),
        ({"new_email": "ME@example.com", "password": PASSWORD}, b"already your email"),
    ]
    for data, message in cases:
        response = web.post_form(client, "/account/email", data)
        assert response.status_code == 422 and message in response.data, data
    assert user_row(acme, user_id=user_id).email == "me@example.com"


def test_changing_the_password_checks_the_current_one(web, tenant_client, acme, make_user, in_tenant):
    user_id = make_user(acme, email="pw@example.com", password=PASSWORD)
    client = tenant_client("acme")
    web.login(client, "pw@example.com", PASSWORD)
    with in_tenant(acme):
        old_hash = db.session.get(User, user_id).password_hash
    wrong = web.post_form(
        client,
        "/account/password",
        {"current_password": "nope-nope-nope", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status_code == 422 and b"Your current password is incorrect" in wrong.data
    weak = web.post_form(
        client, "/account/password", {"current_password": PASSWORD, "password": "short", "confirm": "short"}
    )
    assert weak.status_code == 422 and b"at least 10 characters" in weak.data
    with in_tenant(acme):
        assert db.session.get(User, user_id).password_hash == old_hash
