"""End to end in headless Chromium, against the local provider the development server mounts on
the platform host (app/demo/oidc_provider.py) with the demo's client (app/demo/identity.py): a
visitor clicks "Continue with GitHub", picks a demo identity, lands signed in; the login page,
the account's Sign-in methods page and the console page fit 390 and 1366 px. Set
GIGFORGE_SCREENSHOTS=<folder> to keep full-page screenshots."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import User, UserIdentity
from app.demo.identity import seed_identity_providers
from config import DevelopmentConfig
from tenants.db import db
from tests.browser.test_console_reviews import _fits, _log_in, _shot
from tests.browser.test_phone_layout import DESKTOP, PHONE
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import watched_page

pytestmark = pytest.mark.browser


def test_continue_with_github_against_the_local_provider(
    browser, live_server, acme, in_tenant, app, monkeypatch
):
    monkeypatch.setitem(app.config, "OAUTH_PROVIDER_ENDPOINTS", DevelopmentConfig.OAUTH_PROVIDER_ENDPOINTS)
    with in_tenant(acme):
        assert seed_identity_providers("acme") == ["github", "google"]
        assert seed_identity_providers("acme") == []  # once
        db.session.commit()
    problems: list[str] = []
    errors: list[str] = []
    for viewport in (PHONE, DESKTOP):
        context = browser.new_context(viewport=viewport)
        try:
            page = watched_page(context, errors)
            page.goto(live_server.url("acme.localhost", "/login"))
            _fits(page, "login", problems)
            _shot(page, "login")
            if viewport is PHONE:
                page.get_by_role("link", name="Continue with GitHub").click()
                page.wait_for_load_state()
                assert "/dev/oauth-provider/github/authorize" in page.url
                page.get_by_test_id("identity-octo-ada").click()
                page.wait_for_load_state()
                assert "/dashboard" in page.url, page.url
            else:
                page.goto(live_server.url("acme.localhost", "/login/oauth/github"))
                page.get_by_test_id("identity-octo-ada").click()
                page.wait_for_load_state()
            page.goto(live_server.url("acme.localhost", "/account/sign-in"))
            assert "octo-ada" in page.content()
            _fits(page, "account-sign-in", problems)
            _shot(page, "account-sign-in")
        finally:
            context.close()
        context = browser.new_context(viewport=viewport)
        try:
            page = watched_page(context, errors)
            _log_in(page, live_server, "admin@acme.test", ADMIN_PASSWORD)
            page.goto(live_server.url("acme.localhost", "/console/sign-in-methods"))
            _fits(page, "console-sign-in-methods", problems)
            _shot(page, "console-sign-in-methods")
        finally:
            context.close()
    assert problems == [] and errors == []
    with in_tenant(acme):
        user = db.session.scalars(sa.select(User).where(User.email == "ada.octocat@github.demo")).one()
        identity = db.session.scalars(sa.select(UserIdentity)).one()
        assert identity.user_id == user.id and user.password_hash is None
