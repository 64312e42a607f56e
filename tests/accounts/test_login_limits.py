"""Login limits: one budget per IP and per account (per tenant) behind the web form and the API,
and refusals that do not tell a stranger which emails have an account (issue 12, finding 11)."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts import services
from app.accounts.models import User
from app.mail.models import EmailMessage
from tenants.db import db

PASSWORD = "correct-horse-battery"
WRONG = "wrong-password-7"
LOCK_MESSAGE = b"Too many failed attempts"


def api_login(client, email, password):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def lock(app, client, email):
    """Spend the lockout threshold of wrong guesses on ``email`` through the API; their statuses."""
    return [api_login(client, email, WRONG).status_code for _ in range(app.config["LOGIN_LOCKOUT_THRESHOLD"])]


def lockout_mails(in_tenant, tenant) -> list[EmailMessage]:
    with in_tenant(tenant):
        rows = db.session.scalars(
            sa.select(EmailMessage).where(EmailMessage.template == "account_locked").order_by(EmailMessage.id)
        ).all()
        db.session.expunge_all()
        return rows


# --- one budget behind both doors ---------------------------------------------------


def test_the_web_form_and_the_api_share_the_per_account_budget(
    web, app, tenant_client, acme, make_user, monkeypatch
):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT", "3 per minute")
    make_user(acme, email="ada@example.com", password=PASSWORD)
    make_user(acme, email="bob@example.com", password=PASSWORD)

    # Web first, then the API is refused (each from a new client: the same account from "anywhere").
    for _ in range(3):
        assert web.login(tenant_client("acme"), "ada@example.com", WRONG).status_code == 422
    assert api_login(tenant_client("acme"), "ada@example.com", PASSWORD).status_code == 429
    assert web.login(tenant_client("acme"), "ada@example.com", PASSWORD).status_code == 429

    # API first, then the web form is refused.
    for _ in range(3):
        assert api_login(tenant_client("acme"), "bob@example.com", WRONG).status_code == 401
    blocked = web.login(tenant_client("acme"), "BOB@example.com", PASSWORD)
    assert blocked.status_code == 429 and b"Too many requests" in blocked.data


def test_the_web_form_and_the_api_share_the_per_ip_budget(web, app, tenant_client, acme, globex, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_IP", "3 per minute")
    client = tenant_client("acme")
    assert web.login(client, "a@example.com", WRONG).status_code == 422
    assert api_login(client, "b@example.com", WRONG).status_code == 401
    assert web.login(client, "c@example.com", WRONG).status_code == 422
    # The budget is spent, whichever door comes next.
    assert api_login(client, "d@example.com", WRONG).status_code == 429
    assert web.login(client, "e@example.com", WRONG).status_code == 429
    # Another tenant's budget for the same IP is its own.
    assert api_login(tenant_client("globex"), "d@example.com", WRONG).status_code == 401


def test_spending_acme_budget_and_lock_for_an_email_leaves_globex_same_email_alone(
    web, app, tenant_client, acme, globex, make_user, monkeypatch, user_row
):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT", "6 per minute")
    make_user(acme, email="twin@example.com", password=PASSWORD)
    make_user(globex, email="twin@example.com", password=PASSWORD)
    threshold = app.config["LOGIN_LOCKOUT_THRESHOLD"]
    assert threshold < 6
    # Acme's account gets locked and its budget spent through both doors.
    for attempt in range(6):
        if attempt % 2:
            assert web.login(tenant_client("acme"), "twin@example.com", WRONG).status_code == 422
        else:
            assert api_login(tenant_client("acme"), "twin@example.com", WRONG).status_code == 401
    assert api_login(tenant_client("acme"), "twin@example.com", PASSWORD).status_code == 429
    assert user_row(acme, email="twin@example.com").locked_until is not None

    # Globex's account with the same address is neither limited nor locked.
    assert api_login(tenant_client("globex"), "twin@example.com", PASSWORD).status_code == 200
    assert web.login(tenant_client("globex"), "twin@example.com", PASSWORD).status_code == 302
    assert user_row(globex, email="twin@example.com").locked_until is None


# --- one answer for every wrong guess ------------------------------------------------


def test_unknown_email_wrong_password_and_locked_account_get_byte_identical_api_answers(
    app, tenant_client, acme, make_user
):
    make_user(acme, email="ada@example.com", password=PASSWORD)
    answers = set()
    for _ in range(app.config["LOGIN_LOCKOUT_THRESHOLD"] + 2):  # before, at and after the lock
        for email in ("ada@example.com", "nobody@example.com"):
            response = api_login(tenant_client("acme"), email, WRONG)
            answers.add((response.status_code, response.content_type, response.get_data()))
    assert len(answers) == 1, answers
    ((status, _, body),) = answers
    assert status == 401 and b"The email or password is incorrect." in body


def test_on_the_web_a_locked_account_with_a_wrong_password_looks_like_a_wrong_password(
    web, app, tenant_client, acme, make_user
):
    make_user(acme, email="ada@example.com", password=PASSWORD)
    for _ in range(app.config["LOGIN_LOCKOUT_THRESHOLD"] + 1):  # the last ones are while locked
        response = web.login(tenant_client("acme"), "ada@example.com", WRONG)
        assert response.status_code == 422
        assert b"The email or password is incorrect." in response.data
        assert LOCK_MESSAGE not in response.data and b"locked" not in response.data
    unknown = web.login(tenant_client("acme"), "nobody@example.com", WRONG)
    assert unknown.status_code == 422 and b"The email or password is incorrect." in unknown.data


def test_a_locked_account_with_the_right_password_is_told_it_is_locked(
    web, app, tenant_client, acme, make_user, in_tenant
):
    user_id = make_user(acme, email="ada@example.com", password=PASSWORD)
    assert (
        lock(app, tenant_client("acme"), "ada@example.com") == [401] * app.config["LOGIN_LOCKOUT_THRESHOLD"]
    )

    response = api_login(tenant_client("acme"), "ada@example.com", PASSWORD)
    assert response.status_code == 423 and "locked" in response.json["message"]
    page = web.login(tenant_client("acme"), "ada@example.com", PASSWORD)
    assert page.status_code == 422 and LOCK_MESSAGE in page.data
    with in_tenant(acme):
        assert db.session.get(User, user_id).last_login_at is None


def test_the_owner_gets_one_lockout_email_per_lockout_with_a_reset_link(
    web, app, tenant_client, acme, make_user, in_tenant, user_row, mailbox, mail_settled
):
    user_id = make_user(acme, email="ada@example.com", password=PASSWORD)
    threshold = app.config["LOGIN_LOCKOUT_THRESHOLD"]
    for _ in range(threshold - 1):
        api_login(tenant_client("acme"), "ada@example.com", WRONG)
    assert lockout_mails(in_tenant, acme) == []
    web.login(tenant_client("acme"), "ada@example.com", WRONG)  # the failure that locks
    # More wrong guesses and the right password while locked send nothing more.
    api_login(tenant_client("acme"), "ada@example.com", WRONG)
    web.login(tenant_client("acme"), "ada@example.com", WRONG)
    api_login(tenant_client("acme"), "ada@example.com", PASSWORD)

    (row,) = lockout_mails(in_tenant, acme)
    assert row.to == "ada@example.com" and row.user_id == user_id
    (message,) = mail_settled(acme)  # it really goes out, rendered and branded, and alone
    assert message["To"] == "ada@example.com" and "locked" in message["Subject"]
    assert "Acme" in message["From"] and "locked it for" in mailbox.text(message)
    (link,) = [url for url in mailbox.links(message) if "/password/reset/" in url]

    # The reset link unlocks the account.
    new_password = "new-lantern-harbor-7"
    response = web.post_form(
        tenant_client("acme"), web.link_path(link), {"password": new_password, "confirm": new_password}
    )
    assert response.status_code == 302
    assert user_row(acme, user_id=user_id).locked_until is None
    assert api_login(tenant_client("acme"), "ada@example.com", new_password).status_code == 200


def test_every_refusal_spends_one_argon2_verification(
    app, tenant_client, acme, make_user, in_tenant, monkeypatch
):
    """Equal work, so the answer's timing does not tell known addresses from unknown ones."""
    make_user(acme, email="ada@example.com", password=PASSWORD)
    invited_id = make_user(acme, email="invited@example.com", password=PASSWORD)
    with in_tenant(acme):
        db.session.get(User, invited_id).password_hash = None  # an account without a password yet
        db.session.commit()
    with app.app_context():
        hasher = services.password_hasher()  # made once per app, with the dummy hash
    verifications = []
    real_verify = type(hasher).verify
    monkeypatch.setattr(
        type(hasher),
        "verify",
        lambda self, hash, password: verifications.append(1) or real_verify(self, hash, password),
    )

    def cost(email):
        verifications.clear()
        assert api_login(tenant_client("acme"), email, WRONG).status_code == 401
        return len(verifications)

    assert cost("nobody@example.com") == 1
    assert cost("invited@example.com") == 1
    assert cost("ada@example.com") == 1
    lock(app, tenant_client("acme"), "ada@example.com")
    assert cost("ada@example.com") == 1  # locked
