"""Platform console test kit: platform admins, logging in on the bare platform host (password,
then the two-factor enrolment or a code, as a person would), CSRF tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pyotp
import pytest
import sqlalchemy as sa

from app.core import otp
from app.core.crypto import decrypt_secret
from app.platform import services
from app.platform.models import PlatformAdmin
from tenants.db import db
from tests.helpers import csrf_token, post_form
from tests.orders.conftest import drive, make_gig, market  # noqa: F401  (fixtures, helper)

ADMIN_EMAIL = "ops@gigforge.test"
ADMIN_PASSWORD = "platform-lantern-harbor-9"


ENROL_PATH = "/platform/login/enrol"
CODE_PATH = "/platform/login/code"
_SECRET_RE = re.compile(r'data-testid="totp-secret">([A-Z2-7]+)<')
_INPUT_RE = r'name="{name}"[^>]*value="([^"]*)"'


def platform_login(client, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, next: str | None = None):
    """Sign in on the platform host as a person would: the password, then the second factor
    (enrolling on the first sign-in). Returns the password form's answer when it refused, else
    the last step's (a 302 to the console page)."""
    data = {"email": email, "password": password}
    if next is not None:
        data["next"] = next
    response = post_form(client, "/platform/login", data)
    if response.status_code != 302:
        return response
    location = response.headers["Location"]
    if location == ENROL_PATH:
        return platform_enrol(client)[0]
    if location == CODE_PATH:
        return post_form(client, CODE_PATH, {"code": next_totp_code(client.application, email)})
    return response


def platform_enrol(client):
    """Enrol the pending sign-in's admin: read the key off the page, confirm with a code, leave
    the recovery codes page. Returns (the last answer, the secret, the recovery codes)."""
    page = client.get(ENROL_PATH)
    assert page.status_code == 200, text(page)[:300]
    secret = _SECRET_RE.search(text(page)).group(1)
    shown = post_form(client, ENROL_PATH, {"code": otp.current_code(secret)})
    assert shown.status_code == 200 and 'data-testid="recovery-codes"' in text(shown), text(shown)[:500]
    html = text(shown)
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", html)
    form = {name: re.search(_INPUT_RE.format(name=name), html).group(1) for name in ("csrf_token", "next")}
    return client.post("/platform/login/continue", data=form), secret, codes


def next_totp_code(app, email: str = ADMIN_EMAIL) -> str:
    """The code the admin's app shows next: a code works once (``totp_last_step``), and tests sign
    in several times within one 30-s step, so take the first step after the last one used (within
    the server's ±1 step), or forget the last step when it is already ahead (as 30 s would)."""
    with app.app_context():
        admin = services.get_admin_by_email(email)
        secret = decrypt_secret(admin.totp_secret_encrypted)
        current = int(datetime.now(UTC).timestamp()) // otp.INTERVAL
        step = max(current - 1, (admin.totp_last_step if admin.totp_last_step is not None else -1) + 1)
        if step > current + 1:
            admin.totp_last_step = None
            db.session.commit()
            step = current - 1
        return pyotp.TOTP(secret).generate_otp(step)


def browser_platform_login(
    page, url: str, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, app=None
):
    """The same in a Playwright page at the platform login ``url``: the password, then the
    enrolment (key read off the page, recovery codes acknowledged) or a code (needs ``app``)."""
    page.goto(url)
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/platform/login/(enrol|code)"))
    if "/login/enrol" in page.url:
        secret = page.get_by_test_id("totp-secret").inner_text().strip()
        page.fill("#code", otp.current_code(secret))
        page.get_by_role("button", name="Confirm and sign in").click()
        page.get_by_test_id("recovery-codes").wait_for()
        page.get_by_test_id("recovery-codes-saved").click()
    else:
        page.fill("#code", next_totp_code(app, email))
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/platform/(?!login)"))


def session_of(client):
    """``with session_of(client) as session:`` reads or edits the session of the client's host."""
    return client.session_transaction(base_url=f"http://{client.host}/")


def text(response) -> str:
    return response.get_data(as_text=True)


def tenant_count() -> int:
    return db.session.scalar(sa.text("SELECT count(*) FROM public.tenants"))


def tenant_schemas() -> set[str]:
    return set(
        db.session.scalars(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'"))
    )


@pytest.fixture(autouse=True)
def _no_platform_admins(app):
    """Platform admins live in public, which the suite's reset does not truncate: start and end empty."""

    def clear():
        with app.app_context():
            db.session.execute(sa.delete(PlatformAdmin))
            db.session.commit()

    clear()
    yield
    clear()


@pytest.fixture
def make_platform_admin(app):
    """``make_platform_admin(email=..., password=...)`` -> the new admin's id."""

    def factory(email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, name: str = "Olga Ops") -> int:
        with app.app_context():
            admin = services.create_platform_admin(email, name, password)
            db.session.commit()
            return admin.id

    return factory


@pytest.fixture
def admin_client(platform_client, make_platform_admin):
    """A platform-host client signed in as a platform admin."""
    make_platform_admin()
    response = platform_login(platform_client)
    assert response.status_code == 302, text(response)
    return platform_client


@pytest.fixture
def kit():
    return SimpleNamespace(
        csrf_token=csrf_token,
        post_form=post_form,
        login=platform_login,
        next_totp_code=next_totp_code,
        text=text,
        tenant_count=tenant_count,
        tenant_schemas=tenant_schemas,
        ADMIN_EMAIL=ADMIN_EMAIL,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
