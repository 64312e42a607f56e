"""A tenant's price plan (its API rate limits): set by a platform admin on the tenant's page or
with ``flask tenants set-plan``, audited, effective at once; bad plans change nothing."""

from __future__ import annotations

import json
import logging

import pytest

from tenants.resolver import get_tenant_by_slug

from .conftest import browser_platform_login, post_form, text

PAGE = "/platform/tenants/acme"
ACTION = "/platform/tenants/acme/plan"


def _audit(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "app.platform.audit"]


def _plan(app, slug: str = "acme") -> str:
    with app.app_context():
        return get_tenant_by_slug(slug).plan


def test_the_tenant_page_shows_the_plan_and_each_plans_limits(admin_client, app, monkeypatch):
    from config import Config

    monkeypatch.setitem(app.config, "RATELIMIT_API_PLANS", Config.RATELIMIT_API_PLANS)
    page = text(admin_client.get(PAGE))
    assert 'data-testid="plan" data-plan="standard"' in page
    assert 'data-testid="plan-form"' in page
    for plan in ("standard", "growth", "scale"):
        assert f'<option {"selected " if plan == "standard" else ""}value="{plan}"' in page
    assert "600/minute" in page and "6000/minute" in page  # the configured limits of the plans


def test_changing_the_plan_applies_at_once_and_is_audited(
    admin_client, app, tenant_client, access_token, make_user, acme, caplog
):
    caplog.set_level(logging.INFO, logger="app.platform.audit")
    resolver = app.extensions["tenants"]
    resolver.ttl = 60  # production-like caching: the change must still apply at once
    try:
        site = tenant_client("acme")
        auth = {"Authorization": f"Bearer {access_token(acme, make_user(acme))}"}
        before = site.get("/api/v1/me", headers=auth)  # acme's resolution is now cached
        standard = int(before.headers["RateLimit-Limit"])
        response = post_form(admin_client, PAGE, {"plan": "scale"}, action=ACTION)
        assert response.status_code == 302 and response.headers["Location"] == PAGE
        assert "is on the scale plan" in text(admin_client.get(PAGE))
        assert _plan(app) == "scale" and _plan(app, "globex") == "standard"
        after = site.get("/api/v1/me", headers=auth)
        scale = int(after.headers["RateLimit-Limit"])
        limits = app.config["RATELIMIT_API_PLANS"]
        assert (standard, scale) == (
            int(limits["standard"]["credential_read"].split("/")[0]),
            int(limits["scale"]["credential_read"].split("/")[0]),
        )
    finally:
        resolver.ttl = 0.0
        resolver.invalidate()
    [entry] = [e for e in _audit(caplog) if e["action"] == "tenant.plan_changed"]
    assert entry["slug"] == "acme" and entry["plan"] == "scale" and entry["previous_plan"] == "standard"
    assert entry["actor_email"] == "ops@gigforge.test" and entry["via"] == "web"


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ("platinum", "Choose one of the plans"),
        ("", "Choose one of the plans"),
        ("standard", "already on the standard plan"),
    ],
)
def test_a_bad_plan_is_refused_on_the_form_and_changes_nothing(admin_client, app, plan, message):
    response = post_form(admin_client, PAGE, {"plan": plan}, action=ACTION)
    assert response.status_code == 422
    assert message in text(response)
    assert _plan(app) == "standard"


def test_unknown_tenant_is_404(admin_client):
    assert (
        post_form(admin_client, PAGE, {"plan": "scale"}, action="/platform/tenants/nope/plan").status_code
        == 404
    )


def test_only_platform_admins_change_plans(platform_client, app):
    response = platform_client.post(ACTION, data={"plan": "scale"})
    assert response.status_code in (302, 400, 403)
    assert _plan(app) == "standard"


def test_cli_sets_the_plan_audited(app, caplog):
    caplog.set_level(logging.INFO, logger="app.platform.audit")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tenants", "set-plan", "acme", "growth"])
    assert result.exit_code == 0, result.output
    assert "acme is on the growth plan" in result.output
    assert _plan(app) == "growth"
    [entry] = [e for e in _audit(caplog) if e["action"] == "tenant.plan_changed"]
    assert entry["via"] == "cli" and entry["actor_id"] is None and entry["plan"] == "growth"

    again = runner.invoke(args=["tenants", "set-plan", "acme", "growth"])
    assert again.exit_code == 1 and "already on the growth plan" in again.output
    bad = runner.invoke(args=["tenants", "set-plan", "acme", "platinum"])
    assert bad.exit_code == 2 and "platinum" in bad.output
    missing = runner.invoke(args=["tenants", "set-plan", "nope", "scale"])
    assert missing.exit_code == 1 and "no tenant" in missing.output
    assert _plan(app) == "growth"


@pytest.mark.browser
@pytest.mark.parametrize("width", [1366, 390])
def test_changing_the_plan_in_the_browser(browser, live_server, make_platform_admin, app, width):
    import os

    make_platform_admin()
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        browser_platform_login(page, live_server.url("localhost", "/platform/login"))
        page.wait_for_url("**/platform/")
        page.goto(live_server.url("localhost", "/platform/tenants/acme"))
        page.select_option("#plan", "growth")
        page.get_by_role("button", name="Change the plan").click()
        page.locator('[data-testid=plan][data-plan="growth"]').wait_for()
        assert "is on the growth plan" in page.content()
        folder = os.environ.get("GIGFORGE_SCREENSHOTS")
        if folder:
            page.get_by_test_id("plan").scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(folder, f"platform-plan-{width}.png"), full_page=True)
    finally:
        context.close()
    assert _plan(app) == "growth"
