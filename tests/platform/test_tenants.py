"""The platform console's tenant pages: list with size and activity, create, suspend, resume, health."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.platform import services
from tenants.db import db
from tenants.resolver import get_tenant_by_slug
from tests.conftest import ADMIN_PASSWORD as TENANT_ADMIN_PASSWORD
from tests.helpers import backends_waiting_for_a_lock, wait_until

from .conftest import csrf_token, drive, post_form, tenant_count, tenant_schemas, text


def _rows(page_html: str) -> list[str]:
    import re

    return re.findall(r'data-testid="tenant-row" data-slug="([^"]+)"', page_html)


def _cell(page_html: str, slug: str, testid: str) -> str:
    import re

    row = page_html.split(f'data-slug="{slug}"', 1)[1].split("</tr>", 1)[0]
    match = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', row)
    return match.group(1).strip()


# --------------------------------------------------------------------------- list


def test_list_shows_every_tenant_with_size_and_activity(admin_client, app, market, in_tenant, acme, globex):
    m = market(acme)  # a seller with an active gig, a buyer, a stranger: 3 users besides the admin
    with in_tenant(acme):
        drive(m, "in_progress")
        drive(m, "awaiting_payment")
    acme_client = admin_client  # the platform client; log in on acme separately for "last login"
    page = acme_client.get("/platform/")
    assert page.status_code == 200
    html = text(page)
    assert _rows(html) == ["acme", "globex"]  # by name: "Acme Test Market", "Globex Test Market"
    assert _cell(html, "acme", "tenant-users") == "4"
    assert _cell(html, "acme", "tenant-gigs") == "1"
    assert _cell(html, "acme", "tenant-orders") == "2"
    assert _cell(html, "globex", "tenant-users") == "1"
    assert _cell(html, "globex", "tenant-orders") == "0"
    assert "acme.localhost" in html and "globex.localhost" in html
    assert 'data-testid="kpi-all">2<' in html

    with app.app_context():
        overview = services.tenant_overview()
        sizes = dict(
            db.session.execute(
                sa.text(
                    "SELECT n.nspname, sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind = 'r' AND n.nspname IN ('tenant_acme', 'tenant_globex') GROUP BY 1"
                )
            ).all()
        )
    by_slug = {row.slug: row for row in overview.rows}
    assert by_slug["acme"].stats.size_bytes == sizes["tenant_acme"] > 0
    assert by_slug["globex"].stats.size_bytes == sizes["tenant_globex"] > 0
    assert f'data-bytes="{sizes["tenant_acme"]}"' in html
    assert by_slug["acme"].stats.last_order_at is not None and by_slug["globex"].stats.last_order_at is None
    assert overview.total_size_bytes >= sizes["tenant_acme"] + sizes["tenant_globex"]


def test_last_login_is_the_tenants_latest_user_login(admin_client, app, tenant_client, acme):
    with app.app_context():
        before = {row.slug: row.stats.last_login_at for row in services.tenant_overview().rows}
    assert before == {"acme": None, "globex": None}
    acme_client = tenant_client("acme")
    token = csrf_token(acme_client, "/login")
    acme_client.post(
        "/login", data={"csrf_token": token, "email": "admin@acme.test", "password": TENANT_ADMIN_PASSWORD}
    )
    with app.app_context():
        after = {row.slug: row.stats.last_login_at for row in services.tenant_overview().rows}
    assert after["acme"] is not None and after["globex"] is None


def test_list_searches_filters_and_pages(admin_client, app, monkeypatch):
    html = text(admin_client.get("/platform/?q=glob"))
    assert _rows(html) == ["globex"]
    assert _rows(text(admin_client.get("/platform/?q=acme.localhost"))) == ["acme"]  # by hostname
    assert _rows(text(admin_client.get("/platform/?q=%25"))) == []  # "%" is literal, not a wildcard
    assert _rows(text(admin_client.get("/platform/?status=suspended"))) == []
    assert _rows(text(admin_client.get("/platform/?status=active&sort=newest"))) == ["globex", "acme"]
    monkeypatch.setattr(services, "PER_PAGE", 1)
    first = text(admin_client.get("/platform/"))
    assert _rows(first) == ["acme"] and "page 1 of 2" in first and 'rel="next"' in first
    second = text(admin_client.get("/platform/?page=2"))
    assert _rows(second) == ["globex"] and 'rel="prev"' in second
    assert "No tenants on this page." in text(admin_client.get("/platform/?page=9"))


@pytest.mark.parametrize(
    "query, message",
    [
        ("status=bogus", "Status must be all, active or suspended."),
        ("sort=size", "Sort by name or newest."),
        ("page=abc", "Page must be a whole number from 1."),
        ("page=0", "Page must be a whole number from 1."),
        ("q=" + "x" * 101, "Search for at most 100 characters."),
    ],
)
def test_bad_list_filters_are_named_and_ignored(admin_client, query, message):
    response = admin_client.get(f"/platform/?{query}")
    assert response.status_code == 422
    html = text(response)
    assert message in html
    assert _rows(html) == ["acme", "globex"]  # the unfiltered first page


# --------------------------------------------------------------------------- create


def test_create_tenant_through_the_console(admin_client, app, tenant_client, mailbox, run_jobs, caplog):
    caplog.set_level(logging.INFO, logger="app.platform.audit")
    response = post_form(
        admin_client,
        "/platform/tenants/new",
        {"name": "  Initech   Gigs ", "slug": "initech", "admin_email": "boss@initech.test"},
    )
    assert response.status_code == 302, text(response)
    assert response.headers["Location"] == "/platform/tenants/initech"
    detail = admin_client.get(response.headers["Location"])
    assert detail.status_code == 200
    assert "gets an email" in text(detail) and "Initech Gigs" in text(detail)
    # Served at once on its host, with its own first admin (no password yet).
    site = tenant_client("initech").get("/")
    assert site.status_code == 200 and "Initech Gigs" in text(site)
    with app.app_context():
        ref = get_tenant_by_slug("initech")
        assert ref.name == "Initech Gigs" and ref.status == "active"
    from tenants.db import tenant_context

    with app.app_context(), tenant_context(ref):
        admin = db.session.scalars(sa.select(User).where(User.role == "admin")).one()
        assert admin.email == "boss@initech.test" and admin.password_hash is None
    run_jobs()
    message = mailbox.wait_for(1)[0]
    assert message["To"] == "boss@initech.test" and "Initech Gigs" in message["Subject"]
    assert any("initech.localhost" in link and "/password/reset/" in link for link in mailbox.links(message))
    entries = [json.loads(r.getMessage()) for r in caplog.records if r.name == "app.platform.audit"]
    created = [e for e in entries if e["action"] == "tenant.created"]
    assert created and created[0]["slug"] == "initech" and created[0]["actor_email"] == "ops@gigforge.test"
    assert created[0]["admin_email"] == "boss@initech.test"
    # The list shows it.
    assert "initech" in _rows(text(admin_client.get("/platform/")))


GOOD = {"name": "Initech Gigs", "slug": "initech", "admin_email": "boss@initech.test"}


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"slug": "Initech"}, "slug", "Slug must be 2-31 characters"),
        ({"slug": "init_tech"}, "slug", "Slug must be 2-31 characters"),
        ({"slug": "i"}, "slug", "Slug must be 2-31 characters"),
        ({"slug": "9lives"}, "slug", "Slug must be 2-31 characters"),
        ({"slug": "initech-"}, "slug", "Slug must not end with a hyphen"),
        ({"slug": "x" * 40}, "slug", "Slug must be 2-31 characters"),
        ({"slug": "www"}, "slug", "Slug &#39;www&#39; is reserved"),
        ({"slug": "platform"}, "slug", "Slug &#39;platform&#39; is reserved"),
        ({"slug": "acme"}, "slug", "A tenant with the slug &#39;acme&#39; already exists."),
        ({"slug": ""}, "slug", "Choose a slug."),
        ({"name": ""}, "name", "Enter the marketplace&#39;s name."),
        ({"name": "   "}, "name", "Enter the marketplace&#39;s name."),
        ({"name": "n" * 121}, "name", "Use at most 120 characters."),
        ({"admin_email": "not-an-email"}, "admin_email", "Enter a valid email address"),
        ({"admin_email": "boss@initech"}, "admin_email", "Enter a valid email address"),
        ({"admin_email": ""}, "admin_email", "Enter the email of the marketplace&#39;s first admin."),
    ],
)
def test_bad_new_tenant_input_is_shown_on_the_form_and_changes_nothing(
    admin_client, app, overrides, field, message
):
    with app.app_context():
        before_count, before_schemas = tenant_count(), tenant_schemas()
    response = post_form(admin_client, "/platform/tenants/new", {**GOOD, **overrides})
    assert response.status_code == 422
    html = text(response)
    assert message in html, html
    assert f'id="{field}-error"' in html
    with app.app_context():
        assert tenant_count() == before_count and tenant_schemas() == before_schemas


def test_every_bad_field_is_named_at_once(admin_client):
    response = post_form(
        admin_client, "/platform/tenants/new", {"name": " ", "slug": "www", "admin_email": "nope"}
    )
    html = text(response)
    assert response.status_code == 422
    assert all(f'id="{f}-error"' in html for f in ("name", "slug", "admin_email"))


def test_create_service_refuses_a_slug_taken_meanwhile(app, monkeypatch):
    """The console's own check passed, then the engine found the slug taken (a concurrent creation)."""
    monkeypatch.setattr(services, "check_new_tenant", lambda slug, name, email: (slug, name, email))
    with app.app_context(), pytest.raises(services.PlatformError) as caught:
        services.create_tenant_from_console("acme", "Acme Again", "x@acme.test", actor=None)
    assert caught.value.errors == {"slug": "A tenant with slug 'acme' already exists."}


# --------------------------------------------------------------------------- suspend and resume


def test_suspend_takes_effect_at_once_and_resume_restores(admin_client, app, tenant_client, caplog):
    caplog.set_level(logging.INFO, logger="app.platform.audit")
    resolver = app.extensions["tenants"]
    resolver.ttl = 60  # a production-like cache: the console must still act at once
    try:
        site = tenant_client("acme")
        assert site.get("/").status_code == 200  # now cached as active
        response = post_form(
            admin_client,
            "/platform/tenants/acme",
            {"reason": "Unpaid invoices since March"},
            action="/platform/tenants/acme/suspend",
        )
        assert response.status_code == 302 and response.headers["Location"] == "/platform/tenants/acme"
        assert site.get("/").status_code == 503
        assert site.get("/login").status_code == 503
        detail = text(admin_client.get("/platform/tenants/acme"))
        assert "Unpaid invoices since March" in detail and 'data-testid="resume-form"' in detail
        assert tenant_client("globex").get("/").status_code == 200  # the other tenant is untouched
        assert _rows(text(admin_client.get("/platform/?status=suspended"))) == ["acme"]

        response = post_form(
            admin_client, "/platform/tenants/acme", {}, action="/platform/tenants/acme/resume"
        )
        assert response.status_code == 302
        assert site.get("/").status_code == 200
        with app.app_context():
            ref = get_tenant_by_slug("acme")
            assert ref.status == "active"
            reason = db.session.scalar(
                sa.text("SELECT suspended_reason FROM public.tenants WHERE slug='acme'")
            )
            assert reason is None
    finally:
        resolver.ttl = 0.0
        resolver.invalidate()
    actions = [json.loads(r.getMessage())["action"] for r in caplog.records if r.name == "app.platform.audit"]
    assert "tenant.suspended" in actions and "tenant.resumed" in actions


def test_suspending_needs_a_reason(admin_client, app, tenant_client):
    for reason in ("", "   "):
        response = post_form(
            admin_client,
            "/platform/tenants/acme",
            {"reason": reason},
            action="/platform/tenants/acme/suspend",
        )
        assert response.status_code == 422
        assert "Say why the tenant is suspended" in text(response)
    long = post_form(
        admin_client, "/platform/tenants/acme", {"reason": "r" * 501}, action="/platform/tenants/acme/suspend"
    )
    assert long.status_code == 422 and "Field cannot be longer than 500 characters." in text(long)
    assert tenant_client("acme").get("/").status_code == 200
    with app.app_context():
        assert get_tenant_by_slug("acme").status == "active"


def test_suspending_a_suspended_tenant_or_resuming_an_active_one_is_refused(admin_client, app):
    token = csrf_token(admin_client, "/platform/tenants/acme")
    resume = admin_client.post("/platform/tenants/acme/resume", data={"csrf_token": token})
    assert resume.status_code == 422 and "Acme Test Market is not suspended." in text(resume)
    first = admin_client.post(
        "/platform/tenants/acme/suspend", data={"csrf_token": token, "reason": "Abuse report #1"}
    )
    assert first.status_code == 302
    # A second console tab still showing the suspend form:
    again = admin_client.post(
        "/platform/tenants/acme/suspend", data={"csrf_token": token, "reason": "Abuse report #2"}
    )
    assert again.status_code == 422 and "Acme Test Market is already suspended." in text(again)
    with app.app_context():
        reason = db.session.scalar(sa.text("SELECT suspended_reason FROM public.tenants WHERE slug='acme'"))
    assert reason == "Abuse report #1"  # unchanged by the refused second suspension


def test_unknown_or_malformed_tenants_are_404(admin_client):
    token = csrf_token(admin_client, "/platform/tenants/acme")
    for slug in ("nope", "ACME", "a_b", "x" * 40):
        assert admin_client.get(f"/platform/tenants/{slug}").status_code == 404
        for action in ("suspend", "resume"):
            response = admin_client.post(
                f"/platform/tenants/{slug}/{action}", data={"csrf_token": token, "reason": "Because"}
            )
            assert response.status_code == 404, (slug, action)


def test_actions_need_the_csrf_token(admin_client, tenant_client, app):
    response = admin_client.post("/platform/tenants/acme/suspend", data={"reason": "No token"})
    assert response.status_code == 400
    response = admin_client.post("/platform/tenants/new", data=GOOD)
    assert response.status_code == 400
    assert tenant_client("acme").get("/").status_code == 200
    with app.app_context():
        assert get_tenant_by_slug("initech") is None


# --------------------------------------------------------------------------- health


def _checks(html: str) -> dict[str, str]:
    import re

    return dict(re.findall(r'data-testid="health-check" data-check="([^"]+)" data-state="([^"]+)"', html))


def test_health_of_a_healthy_tenant(admin_client):
    response = admin_client.get("/platform/tenants/acme")
    assert response.status_code == 200
    html = text(response)
    assert _checks(html) == {
        "Status": "ok",
        "Schema": "ok",
        "Migrations": "ok",
        "Settings": "ok",
        "Events": "ok",
        "Search": "ok",
        "Domains": "ok",
    }
    assert 'data-testid="health" data-state="ok"' in html
    assert "acme.localhost" in html and 'data-testid="suspend-form"' in html


def test_health_reports_what_is_wrong(admin_client, app, acme):
    with app.app_context():
        db.session.execute(sa.text("DELETE FROM tenant_acme.marketplace_settings"))
        db.session.execute(sa.text("UPDATE tenant_acme.alembic_version SET version_num = 't0001'"))
        db.session.execute(
            sa.text(
                "INSERT INTO tenant_acme.outbox_events (name, payload, status, attempts, last_error) "
                "VALUES ('gig.published', '{}', 'failed', 5, 'boom'), "
                "('gig.updated', '{}', 'pending', 0, NULL)"
            )
        )
        db.session.execute(
            sa.text(
                "INSERT INTO tenant_acme.outbox_events (name, payload, status, created_at) "
                "VALUES ('gig.updated', '{}', 'pending', now() - interval '1 hour')"
            )
        )
        db.session.commit()
    html = text(admin_client.get("/platform/tenants/acme"))
    checks = _checks(html)
    assert checks["Settings"] == "bad" and checks["Migrations"] == "warn" and checks["Events"] == "bad"
    assert 'data-testid="health" data-state="bad"' in html
    assert "1 failed event(s)" in html and "2 pending" in html
    assert "At t0001, this code expects" in html
    # The other tenant is healthy still.
    assert set(_checks(text(admin_client.get("/platform/tenants/globex"))).values()) == {"ok"}


def test_health_flags_stuck_events_and_a_missing_search_index(admin_client, app, market, acme):
    market(acme)  # one active gig, never indexed in this test's empty index folder
    with app.app_context():
        db.session.execute(sa.text("DELETE FROM tenant_acme.outbox_events"))
        db.session.execute(
            sa.text(
                "INSERT INTO tenant_acme.outbox_events (name, payload, status, created_at) "
                "VALUES ('gig.updated', '{}', 'pending', now() - interval '1 hour')"
            )
        )
        db.session.commit()
    html = text(admin_client.get("/platform/tenants/acme"))
    checks = _checks(html)
    assert checks["Events"] == "warn" and "is the worker running?" in html
    assert checks["Search"] == "warn" and "flask search reindex --tenant acme" in html


def test_health_shows_a_suspended_tenant_and_a_dropped_schema(admin_client, app):
    with app.app_context():
        services.suspend_tenant("globex", "Chargebacks", actor=None)
        db.session.execute(sa.text('DROP SCHEMA "tenant_globex" CASCADE'))
        db.session.commit()
    response = admin_client.get("/platform/tenants/globex")
    assert response.status_code == 200
    checks = _checks(text(response))
    assert checks["Status"] == "warn" and checks["Schema"] == "bad"
    # The list still renders, with no numbers for the missing schema.
    page = admin_client.get("/platform/")
    assert page.status_code == 200 and _rows(text(page)) == ["acme", "globex"]


# --------------------------------------------------------------------------- hosts


def test_a_tenant_host_never_serves_platform_routes(tenant_client):
    acme = tenant_client("acme")
    for path in ("/platform/", "/platform/login", "/platform/tenants/new", "/platform/tenants/acme"):
        assert acme.get(path).status_code == 404, path
    assert acme.post("/platform/login", data={"email": "x", "password": "y"}).status_code in (400, 404)


def test_two_admins_suspending_at_once_cannot_both_succeed(app):
    """The row is locked while the status is checked and changed: the second one sees the first's result."""
    import threading

    outcome = {}
    with app.app_context(), db.engine.connect() as other:
        # Admin A's transaction holds the row, mid-suspension.
        other.execute(sa.text("SELECT id FROM public.tenants WHERE slug = 'acme' FOR UPDATE"))
        other.execute(
            sa.text(
                "UPDATE public.tenants SET status = 'suspended', suspended_reason = 'A' WHERE slug = 'acme'"
            )
        )

        def admin_b():
            with app.app_context():
                try:
                    services.suspend_tenant("acme", "B", actor=None)
                    outcome["b"] = "suspended"
                except services.PlatformError as exc:
                    outcome["b"] = exc.message

        thread = threading.Thread(target=admin_b)
        thread.start()
        wait_until(lambda: backends_waiting_for_a_lock(app) == 1, message="B waits for A's lock")
        assert thread.is_alive()
        other.commit()
        thread.join(10)
    assert outcome["b"] == "Acme Test Market is already suspended."
    with app.app_context():
        reason = db.session.scalar(sa.text("SELECT suspended_reason FROM public.tenants WHERE slug = 'acme'"))
    assert reason == "A"


def test_health_sees_the_search_index_once_built(admin_client, app, market, in_tenant, acme):
    market(acme)
    html = text(admin_client.get("/platform/tenants/acme"))
    assert _checks(html)["Search"] == "warn" and "none on this node" in html
    from app.search.services import reindex_tenant

    with in_tenant(acme):
        assert reindex_tenant() == 1
    html = text(admin_client.get("/platform/tenants/acme"))
    assert _checks(html)["Search"] == "ok" and "present on this node" in html
