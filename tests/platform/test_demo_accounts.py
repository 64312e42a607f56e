"""The demo's staff: a platform admin for /platform and a moderator in each demo tenant."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.demo.seed import DEMO_PASSWORD, DEMO_PLATFORM_ADMIN, DEMO_TENANTS, moderator_email, seed_demo
from app.platform.models import PlatformAdmin
from tenants.db import db

from .conftest import csrf_token, platform_login


def _seed(app) -> list[str]:
    with app.app_context():
        # The suite's tenants (acme, globex); the local demo (homehero) has its own test.
        return seed_demo(sellers_per_tenant=1, gigs_per_tenant=1, tenants=DEMO_TENANTS[:2])


def test_demo_seeds_a_platform_admin_and_moderators_once(
    app, in_tenant, acme, globex, platform_client, tenant_client
):
    lines = _seed(app)
    assert f"platform: admin {DEMO_PLATFORM_ADMIN} created" in lines
    assert any(
        f"acme: log in as admin@acme.test (operator), {moderator_email('acme')} (moderator)" in line
        for line in lines
    )
    for tenant in (acme, globex):
        with in_tenant(tenant):
            moderators = db.session.scalars(sa.select(User).where(User.role == "moderator")).all()
            assert [m.email for m in moderators] == [moderator_email(tenant.slug)]
            assert moderators[0].email_verified_at is not None and moderators[0].status == "active"

    assert platform_login(platform_client, DEMO_PLATFORM_ADMIN, DEMO_PASSWORD).status_code == 302
    assert platform_client.get("/platform/").status_code == 200
    acme_client = tenant_client("acme")
    token = csrf_token(acme_client, "/login")
    response = acme_client.post(
        "/login", data={"csrf_token": token, "email": moderator_email("acme"), "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302

    again = _seed(app)  # idempotent: nobody is added twice
    assert not any("platform: admin" in line or "moderator moderator@" in line for line in again)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PlatformAdmin)) == 1
    with in_tenant(acme):
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.role == "moderator"))
            == 1
        )
