"""Console and two-factor sign-in (issue #22): the Security settings, the console refusing staff
without two-factor while the operator requires it (web and API), and an admin's reset of a
member's two-factor (audited, emailed, per tenant)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa

from app.accounts import two_factor
from app.accounts.models import TwoFactor, User
from app.console.models import AuditEntry
from app.core import otp
from app.mail.models import EmailMessage
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.console.conftest import ADMIN_PASSWORD, PASSWORD, admin_web, form_data, login
from tests.helpers import post_form


def turn_on_2fa(in_tenant, tenant, email) -> str:
    """Enrol ``email`` of ``tenant`` through the services; the secret."""
    now = datetime.now(UTC)
    with in_tenant(tenant):
        user = db.session.scalars(sa.select(User).where(User.email == email)).one()
        secret = two_factor.start_enrolment(user).secret
        two_factor.confirm_enrolment(user, otp.current_code(secret, now), now=now)
        db.session.commit()
    return secret


def enrol_here(client) -> list[str]:
    """Turn two-factor on through ``client``'s own pages (its session goes on; the others end);
    the recovery codes."""
    post_form(client, "/account/security", {}, action="/account/security/2fa")
    html = client.get("/account/security/2fa").get_data(as_text=True)
    secret = re.search(r'data-testid="otp-secret"[^>]*>([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    confirmed = post_form(
        client,
        "/account/security/2fa",
        {"code": otp.current_code(secret)},
        action="/account/security/2fa/confirm",
    )
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)[:300]
    return re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", confirmed.get_data(as_text=True))


def require(in_tenant, tenant, on=True):
    with in_tenant(tenant):
        db.session.get(MarketplaceSettings, 1).require_2fa_staff = on
        db.session.commit()


def stored_settings(in_tenant, tenant):
    with in_tenant(tenant):
        row = db.session.get(MarketplaceSettings, 1)
        return row.require_2fa_staff, row.bot_protection


def audits(in_tenant, tenant, action):
    with in_tenant(tenant):
        rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)).all()
        return [(r.target_id, r.changes, r.summary) for r in rows]


# --------------------------------------------------------------------------- settings


def test_security_settings_are_saved_and_audited_once_the_admin_has_2fa(tenant_client, acme, in_tenant):
    client = admin_web(tenant_client, acme)
    page = client.get("/console/settings").get_data(as_text=True)
    assert 'name="require_2fa_staff"' in page and 'data-testid="bot-protection"' in page
    refused = client.post(
        "/console/settings", data=form_data(client, require_2fa_staff="y", bot_protection="always")
    )
    assert refused.status_code == 422 and "your own account first" in refused.get_data(as_text=True)
    assert stored_settings(in_tenant, acme) == (False, "auto")

    bad = client.post("/console/settings", data=form_data(client, bot_protection="sometimes"))
    assert bad.status_code == 422 and stored_settings(in_tenant, acme) == (False, "auto")

    enrol_here(client)
    saved = client.post(
        "/console/settings", data=form_data(client, require_2fa_staff="y", bot_protection="always")
    )
    assert saved.status_code == 302
    assert stored_settings(in_tenant, acme) == (True, "always")
    (entry,) = audits(in_tenant, acme, "settings.update")
    assert entry[1]["require_2fa_staff"] == [False, True] and entry[1]["bot_protection"] == ["auto", "always"]


def test_the_settings_api_reads_and_writes_the_security_fields(tenant_client, acme, in_tenant):
    client = tenant_client("acme")
    token = client.post(
        "/api/v1/auth/token", json={"email": "admin@acme.test", "password": ADMIN_PASSWORD}
    ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/console/settings", headers=headers).json
    assert body["require_2fa_staff"] is False and body["bot_protection"] == "auto"
    patched = client.patch("/api/v1/console/settings", json={"bot_protection": "off"}, headers=headers)
    assert patched.status_code == 200 and patched.json["bot_protection"] == "off"
    bad = client.patch("/api/v1/console/settings", json={"bot_protection": "never"}, headers=headers)
    assert bad.status_code == 422


# --------------------------------------------------------------------------- staff must enrol


def test_the_console_sends_staff_without_2fa_to_enrol_while_required(
    tenant_client, acme, globex, make_user, in_tenant
):
    make_user(acme, email="mod@example.com", password=PASSWORD, role="moderator")
    make_user(acme, email="member@example.com", password=PASSWORD)
    require(in_tenant, acme)
    client = login(tenant_client("acme"), "mod@example.com", PASSWORD)
    refused = client.get("/console/users")
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/account/security")
    assert "requires two-factor sign-in" in client.get("/account/security").get_data(as_text=True)

    # API: 403 with the code.
    api = tenant_client("acme")
    token = api.post("/api/v1/auth/token", json={"email": "mod@example.com", "password": PASSWORD}).json
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    answer = api.get("/api/v1/console/users", headers=headers)
    assert answer.status_code == 403 and answer.json["errors"]["code"] == "two_factor_required"

    # Globex does not require it: its admin opens the console.
    assert admin_web(tenant_client, globex).get("/console/users").status_code == 200

    # Once enrolled on the web, the moderator is let in there (the same session goes on); enrolling
    # ended the other sessions, the API token's family among them: a new token takes a code.
    recovery_codes = enrol_here(client)
    assert client.get("/console/users").status_code == 200
    assert api.get("/api/v1/console/users", headers=headers).status_code == 401
    token = api.post(
        "/api/v1/auth/token",
        json={"email": "mod@example.com", "password": PASSWORD, "otp": recovery_codes[0]},
    ).json
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert api.get("/api/v1/console/users", headers=headers).status_code == 200

    # Members are not staff: nothing changes for them (403, as before).
    member = login(tenant_client("acme"), "member@example.com", PASSWORD)
    assert member.get("/console/users").status_code == 403


# --------------------------------------------------------------------------- reset


def test_an_admin_resets_a_members_2fa_audited_and_emailed(tenant_client, acme, globex, make_user, in_tenant):
    member = make_user(acme, email="ada@example.com", password=PASSWORD)
    twin = make_user(globex, email="ada@example.com", password=PASSWORD)
    assert twin == member
    turn_on_2fa(in_tenant, acme, "ada@example.com")
    turn_on_2fa(in_tenant, globex, "ada@example.com")

    client = admin_web(tenant_client, acme)
    page = client.get(f"/console/users/{member}").get_data(as_text=True)
    assert 'data-testid="reset-two-factor-form"' in page
    done = post_form(
        client, f"/console/users/{member}", {}, action=f"/console/users/{member}/two-factor/reset"
    )
    assert done.status_code == 303
    with in_tenant(acme):
        assert db.session.get(TwoFactor, member) is None
        mail = db.session.scalars(
            sa.select(EmailMessage).where(EmailMessage.template == "two_factor_off")
        ).one()
        assert mail.to == "ada@example.com" and mail.context["by_operator"] is True
    ((target, changes, summary),) = audits(in_tenant, acme, "user.two_factor_reset")
    assert target == str(member) and changes == {"two_factor": [True, False]} and "ada@example.com" in summary
    # Globex's user of the same id keeps hers.
    with in_tenant(globex):
        assert db.session.get(TwoFactor, twin).confirmed_at is not None

    # Nothing left to reset: a 409, nothing audited again.
    again = post_form(
        client, f"/console/users/{member}", {}, action=f"/console/users/{member}/two-factor/reset"
    )
    assert again.status_code == 409
    assert len(audits(in_tenant, acme, "user.two_factor_reset")) == 1


def test_a_moderator_cannot_reset_2fa(tenant_client, acme, make_user, in_tenant):
    member = make_user(acme, email="ada@example.com", password=PASSWORD)
    make_user(acme, email="mod@example.com", password=PASSWORD, role="moderator")
    turn_on_2fa(in_tenant, acme, "ada@example.com")
    client = login(tenant_client("acme"), "mod@example.com", PASSWORD)
    page = client.get(f"/console/users/{member}").get_data(as_text=True)
    assert 'data-testid="reset-two-factor-form"' not in page
    refused = post_form(
        client, f"/console/users/{member}", {}, action=f"/console/users/{member}/two-factor/reset"
    )
    assert refused.status_code == 403
    with in_tenant(acme):
        assert db.session.get(TwoFactor, member) is not None
