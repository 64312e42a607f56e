"""Platform console test kit: platform admins, logging in on the bare platform host, CSRF tokens."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.platform import services
from app.platform.models import PlatformAdmin
from tenants.db import db
from tests.helpers import csrf_token, post_form
from tests.orders.conftest import drive, make_gig, market  # noqa: F401  (fixtures, helper)

ADMIN_EMAIL = "ops@gigforge.test"
ADMIN_PASSWORD = "platform-lantern-harbor-9"


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
