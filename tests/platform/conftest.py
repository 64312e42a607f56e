"""Platform console test kit: platform admins, logging in on the bare platform host, CSRF tokens."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.platform import services
from app.platform.models import PlatformAdmin
from tenants.db import db
from tests.orders.conftest import drive, make_gig, make_seller, market  # noqa: F401  (fixtures, helper)

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
ADMIN_EMAIL = "ops@gigforge.test"
ADMIN_PASSWORD = "platform-lantern-harbor-9"


def csrf_token(client, path: str) -> str:
    """GET ``path`` and return the CSRF token of its (first) form."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no csrf_token on {path}"
    return match.group(1) or match.group(2)


def post_form(client, page: str, data: dict, action: str | None = None, **kwargs):
    """Submit a form of ``page`` (to ``action`` or the page itself) with a fresh CSRF token."""
    token = csrf_token(client, page)
    return client.post(action or page, data={"csrf_token": token, **data}, **kwargs)


def platform_login(client, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, next: str | None = None):
    data = {"email": email, "password": password}
    if next is not None:
        data["next"] = next
    return post_form(client, "/platform/login", data)


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
        text=text,
        tenant_count=tenant_count,
        tenant_schemas=tenant_schemas,
        ADMIN_EMAIL=ADMIN_EMAIL,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
