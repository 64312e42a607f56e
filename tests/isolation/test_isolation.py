"""Tenant isolation: every way in (HTTP, jobs, the relay, threads, pooled
connections, caches) meets only its own tenant's rows.

The two base tenants hold equal IDs (identities restart between tests), so a
lookup by id that ignored the tenant would return the other tenant's row.
"""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa
from flask import session

from app.accounts.auth import SESSION_TENANT_KEY, load_user
from app.accounts.models import User, UserSession
from app.accounts.sessions import hash_secret, open_web_session
from app.core import tenant_cache
from app.core.tenant_cache import stamp_key
from app.events import handles, publish
from app.events import services as event_services
from app.events.tasks import relay_outbox
from app.extensions import redis_store
from app.gigs.categories import update_category
from app.gigs.models import Category
from app.settings.models import MarketplaceSettings
from app.settings.services import get_branding, update_branding
from tenants.db import TenantNotBound, current_tenant, db

NAMES = {"acme": "Acme Test Market", "globex": "Globex Test Market"}
OTHER = {"acme": "globex", "globex": "acme"}
# Category names that appear in a tenant's pages only if that tenant's own row was read.
MARKERS = {"acme": "Acme Exclusive Widgets", "globex": "Globex Exclusive Gadgets"}


@pytest.fixture
def same_id_categories(acme, globex, in_tenant) -> int:
    """Rename the category with the same id in both tenants to ``MARKERS``; returns the id."""
    category_id = 1
    for tenant in (acme, globex):
        with in_tenant(tenant):
            db.session.get(Category, category_id).name = MARKERS[tenant.slug]
            db.session.commit()
    return category_id


@handles("test.isolation.snapshot")
def snapshot_tenant_data(event):
    """Record which tenant's rows the job sees, and write one row into that tenant."""
    tenant = current_tenant()
    user = db.session.get(User, event.payload["user_id"])
    entry = {
        "bound": tenant.slug,
        "event_id": event.id,
        "marker": event.payload["marker"],
        "marketplace": db.session.get(MarketplaceSettings, 1).name,
        "user": user.display_name if user else None,
    }
    redis_store.client.rpush(f"t:{tenant.id}:test:snapshot", json.dumps(entry))
    db.session.add(Category(name=f"Made by {event.payload['marker']}", slug=f"evt-{event.payload['marker']}"))


def _category_slugs(in_tenant, tenant) -> set[str]:
    with in_tenant(tenant):
        return set(db.session.scalars(sa.select(Category.slug).where(Category.slug.like("evt-%"))))


# --- HTTP -----------------------------------------------------------------------


def test_each_host_reads_its_own_row_for_a_shared_id_through_the_api(tenant_client, same_id_categories):
    for slug in ("acme", "globex"):
        response = tenant_client(slug).get("/api/v1/categories")
        assert response.status_code == 200
        by_id = {c["id"]: c["name"] for c in response.json}
        assert by_id[same_id_categories] == MARKERS[slug]
        assert MARKERS[OTHER[slug]] not in response.get_data(as_text=True)


def test_each_host_reads_its_own_row_for_a_shared_id_in_html(tenant_client, same_id_categories):
    for slug in ("acme", "globex"):
        page = tenant_client(slug).get("/").get_data(as_text=True)
        assert MARKERS[slug] in page and NAMES[slug] in page
        assert MARKERS[OTHER[slug]] not in page and NAMES[OTHER[slug]] not in page


def test_acme_login_replayed_on_globex_does_not_load_globex_user_with_the_same_id(
    app, acme, globex, in_tenant, make_user
):
    acme_user = make_user(acme, email="same@acme.test", display_name="Acme Person")
    globex_user = make_user(globex, email="same@globex.test", display_name="Globex Person")
    assert acme_user == globex_user  # the same id in both schemas
    login_ids = {}
    for tenant, user_id in ((acme, acme_user), (globex, globex_user)):
        with app.test_request_context("/", base_url=f"http://{tenant.slug}.localhost/"):
            app.preprocess_request()
            user = db.session.get(User, user_id)
            if tenant is acme:
                open_web_session(user, "password")
                secret = session["sid"]
            else:  # the same session id on both marketplaces (a row each)
                db.session.add(UserSession(user_id=user_id, kind="web", secret_hash=hash_secret(secret)))
                session["sid"] = secret
            login_ids[tenant.slug] = user.get_id()  # what Flask-Login stores
            db.session.commit()
    acme_login_id, globex_login_id = login_ids["acme"], login_ids["globex"]

    # acme's session (or remember cookie) replayed against globex's host.
    with app.test_request_context("/", base_url="http://globex.localhost/"):
        app.preprocess_request()  # resolves and binds globex like a real request
        session[SESSION_TENANT_KEY] = acme.id
        assert load_user(acme_login_id) is None
        assert load_user(globex_login_id) is None  # a session bound to acme never serves globex
        session.clear()
        assert load_user(acme_login_id) is None
        session[SESSION_TENANT_KEY] = globex.id
        assert load_user(globex_login_id).email == "same@globex.test"


def test_tenant_query_with_no_tenant_bound_raises(app):
    with app.app_context(), pytest.raises(TenantNotBound):
        db.session.get(Category, 1)


# --- background jobs and the relay ------------------------------------------------


def test_jobs_with_equal_event_ids_see_only_their_own_tenant(
    acme, globex, in_tenant, make_user, run_jobs, seen
):
    user_ids, event_ids = {}, {}
    for tenant in (acme, globex):
        user_ids[tenant.slug] = make_user(tenant, display_name=f"{tenant.slug} person")
        with in_tenant(tenant):
            payload = {"user_id": user_ids[tenant.slug], "marker": tenant.slug}
            event_ids[tenant.slug] = publish("test.isolation.snapshot", payload).id
            db.session.commit()
    assert event_ids["acme"] == event_ids["globex"] and user_ids["acme"] == user_ids["globex"]

    run_jobs()

    for tenant in (acme, globex):
        assert seen(tenant, "snapshot") == [
            {
                "bound": tenant.slug,
                "event_id": event_ids[tenant.slug],
                "marker": tenant.slug,
                "marketplace": NAMES[tenant.slug],
                "user": f"{tenant.slug} person",
            }
        ]
        assert _category_slugs(in_tenant, tenant) == {f"evt-{tenant.slug}"}


def test_relay_redelivers_each_lost_event_to_its_own_tenant(
    app, acme, globex, in_tenant, make_user, run_jobs, seen, monkeypatch
):
    def redis_down(*_args):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(event_services, "enqueue_delivery", redis_down)
    for tenant in (acme, globex):
        user_id = make_user(tenant, display_name=f"{tenant.slug} person")
        with in_tenant(tenant):
            publish("test.isolation.snapshot", {"user_id": user_id, "marker": tenant.slug})
            db.session.commit()
    monkeypatch.undo()

    with app.app_context():
        queue = event_services.get_queue()
        assert queue.count == 0  # every enqueue was lost
        assert relay_outbox() == 2
        assert sorted(tuple(j.args) for j in queue.get_jobs()) == sorted([(acme.id, 1), (globex.id, 1)])
    run_jobs()

    for tenant in (acme, globex):
        [entry] = seen(tenant, "snapshot")
        expected = (tenant.slug, tenant.slug, f"{tenant.slug} person")
        assert (entry["bound"], entry["marker"], entry["user"]) == expected
        assert _category_slugs(in_tenant, tenant) == {f"evt-{tenant.slug}"}


# --- concurrency and pooled connections ------------------------------------------


def test_concurrent_requests_for_different_tenants_never_cross(live_server, same_id_categories):
    threads, per_thread = 8, 25
    base = f"http://127.0.0.1:{live_server.port}"
    start = threading.Barrier(threads, timeout=10)

    def hammer(worker: int) -> list[tuple[str, str, int, str]]:
        http = requests.Session()
        http.trust_env = False  # no proxy between us and the live server
        start.wait()
        results = []
        for i in range(per_thread):
            slug = ("acme", "globex")[(worker + i) % 2]
            path = "/api/v1/categories" if i % 3 == 0 else "/"
            response = http.get(base + path, headers={"Host": f"{slug}.localhost"}, timeout=15)
            results.append((slug, path, response.status_code, response.text))
        return results

    with ThreadPoolExecutor(threads) as pool:
        results = [r for batch in pool.map(hammer, range(threads)) for r in batch]

    assert len(results) == threads * per_thread
    crossed = []
    for slug, path, status, body in results:
        own = [MARKERS[slug]] + ([NAMES[slug]] if path == "/" else [])
        other = [MARKERS[OTHER[slug]], NAMES[OTHER[slug]]]
        if status != 200 or not all(m in body for m in own) or any(m in body for m in other):
            crossed.append((slug, path, status))
    assert crossed == []


def test_pooled_connection_serves_acme_then_globex_without_carrying_state(
    app, tenant_client, same_id_categories
):
    with app.app_context():
        engine = db.engine
    engine.dispose()  # start from an empty pool: single-threaded requests then share one connection
    backends, statements = [], []

    def on_checkout(dbapi_connection, _record, _proxy):
        backends.append(dbapi_connection.info.backend_pid)

    def on_execute(_conn, _cursor, statement, *_args):
        statements.append(statement)

    def search_path() -> str:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SHOW search_path").scalar()

    initial_path = search_path()
    sa.event.listen(engine, "checkout", on_checkout)
    sa.event.listen(engine, "before_cursor_execute", on_execute)
    try:
        acme_response = tenant_client("acme").get("/api/v1/categories")
        after_acme = search_path()
        globex_response = tenant_client("globex").get("/api/v1/categories")
        after_globex = search_path()
    finally:
        sa.event.remove(engine, "checkout", on_checkout)
        sa.event.remove(engine, "before_cursor_execute", on_execute)

    assert len(backends) >= 4 and len(set(backends)) == 1  # one DBAPI connection served everything
    assert {c["id"]: c["name"] for c in acme_response.json}[same_id_categories] == MARKERS["acme"]
    assert {c["id"]: c["name"] for c in globex_response.json}[same_id_categories] == MARKERS["globex"]
    assert initial_path == after_acme == after_globex
    assert not [s for s in statements if re.match(r"\s*(SET|RESET|DISCARD)\b", s, re.IGNORECASE)]
    assert any('"tenant_acme".categories' in s or "tenant_acme.categories" in s for s in statements)
    assert any('"tenant_globex".categories' in s or "tenant_globex.categories" in s for s in statements)


# --- caches -------------------------------------------------------------------------


def test_branding_cache_is_per_tenant_and_acme_rebrand_leaves_globex_alone(
    app, acme, globex, tenant_client, in_tenant
):
    redis = app.extensions["redis"]
    acme_client, globex_client = tenant_client("acme"), tenant_client("globex")
    acme_client.get("/")
    globex_client.get("/")

    # Besides the queues, the platform's one key: the host resolutions' generation (a random
    # token, no tenant's data: tenants/resolver.py). Every other key carries its tenant.
    keys = {k.decode() for k in redis.keys("*") if not k.startswith((b"rq:", b"platform:"))}
    assert set(redis.keys("platform:*")) <= {b"platform:resolution:generation"}
    acme_stamp = stamp_key(acme, "branding")
    globex_stamp = stamp_key(globex, "branding")
    assert acme_stamp == f"t:{acme.id}:{acme.schema}:stamp:branding"
    assert {acme_stamp, globex_stamp} <= keys
    assert all(re.match(r"^t:\d+:", k) for k in keys), keys
    globex_cached = redis.get(globex_stamp)

    with in_tenant(acme):
        update_branding(name="Acme Rebranded", primary_color="#123456")
        db.session.commit()

    acme_page = acme_client.get("/").get_data(as_text=True)
    globex_page = globex_client.get("/").get_data(as_text=True)
    assert "Acme Rebranded" in acme_page and "--brand-primary: #123456" in acme_page
    assert "Globex Test Market" in globex_page and "--brand-primary: #6d28d9" in globex_page
    assert "Acme Rebranded" not in globex_page and "#123456" not in globex_page
    assert redis.get(globex_stamp) == globex_cached


def test_process_cache_entries_carry_the_tenant_and_equal_ids_never_cross(
    acme, globex, tenant_client, same_id_categories
):
    """Both tenants have category 1 and settings row 1: each host's pages and API read only its
    own cached copies, stored under the tenant's id and schema."""
    tenant_cache.clear_local()
    for _ in range(2):  # the second round is served from the process's copies
        for slug in ("acme", "globex"):
            client = tenant_client(slug)
            page = client.get("/").get_data(as_text=True)
            api = client.get("/api/v1/categories")
            assert NAMES[slug] in page and NAMES[OTHER[slug]] not in page
            assert MARKERS[slug] in page and MARKERS[OTHER[slug]] not in page
            assert {c["id"]: c["name"] for c in api.json}[same_id_categories] == MARKERS[slug]
            assert MARKERS[OTHER[slug]] not in api.get_data(as_text=True)
    entries = tenant_cache._local
    for tenant in (acme, globex):
        for name, variant in (("branding", ""), ("categories", ""), ("categories", "api")):
            assert (tenant.id, tenant.schema, name, variant) in entries
    assert entries[(acme.id, acme.schema, "branding", "")][1].name == NAMES["acme"]
    assert entries[(globex.id, globex.schema, "branding", "")][1].name == NAMES["globex"]


def test_settings_snapshots_carry_the_tenant_even_under_equal_stamps(app, acme, globex, in_tenant):
    """Both marketplaces have settings row 1, here with different commissions, and (forced) the
    very same ``settings`` stamp in Redis: each reads its own snapshot, kept under its own key,
    and a change of one never moves the other's copy."""
    from app.settings.services import current_settings, settings_row

    commissions = {"acme": 700, "globex": 2300}
    for tenant in (acme, globex):
        with in_tenant(tenant):
            settings_row(lock=True).commission_bps = commissions[tenant.slug]
            db.session.commit()
            redis_store.client.set(stamp_key(tenant, "settings"), "same-settings-stamp")
    tenant_cache.clear_local()
    for _ in range(2):  # the second round from the process's copies
        for tenant in (acme, globex):
            with in_tenant(tenant):
                assert current_settings().commission_bps == commissions[tenant.slug]
    for tenant in (acme, globex):
        entry = tenant_cache._local[(tenant.id, tenant.schema, "settings", "")]
        assert entry[1].commission_bps == commissions[tenant.slug]
    with in_tenant(acme):
        settings_row(lock=True).commission_bps = 900
        db.session.commit()
    with in_tenant(globex):
        assert redis_store.client.get(stamp_key(globex, "settings")) == b"same-settings-stamp"
        assert current_settings().commission_bps == 2300
    with in_tenant(acme):
        assert current_settings().commission_bps == 900


def test_operator_changes_reach_the_next_request_of_every_process(acme, globex, tenant_client, in_tenant):
    """A rename and a rebrand show on the next request, here and in a process that still holds
    the old copies (simulated by putting this process's old layer back after the change)."""
    acme_client, globex_client = tenant_client("acme"), tenant_client("globex")
    before = acme_client.get("/api/v1/categories").json
    acme_client.get("/")
    globex_client.get("/api/v1/categories")
    other_process = dict(tenant_cache._local)  # another process's layer: the old copies
    with in_tenant(acme):
        update_category(before[0]["id"], name="Renamed By The Operator")
        update_branding(name="Acme Rebranded")
        db.session.commit()

    assert acme_client.get("/api/v1/categories").json[0]["name"] == "Renamed By The Operator"
    tenant_cache._local.clear()
    tenant_cache._local.update(other_process)
    assert acme_client.get("/api/v1/categories").json[0]["name"] == "Renamed By The Operator"
    page = acme_client.get("/").get_data(as_text=True)
    assert "Renamed By The Operator" in page and "Acme Rebranded" in page
    # Globex's copies stayed valid: its stamp did not move, its data did not change.
    assert globex_client.get("/api/v1/categories").json[0]["name"] == before[0]["name"]
    assert "Renamed By The Operator" not in globex_client.get("/").get_data(as_text=True)


def test_a_redis_that_lost_its_stamps_never_revalidates_an_old_copy(app, acme, tenant_client, in_tenant):
    """Stamps are random: after Redis restarts empty, a copy cached before can never match."""
    client = tenant_client("acme")
    first = client.get("/api/v1/categories").json[0]
    with in_tenant(acme):  # a change that bypassed the services (a restore, a manual fix)
        db.session.get(Category, first["id"]).name = "Changed Behind The Cache"
        db.session.commit()
    assert client.get("/api/v1/categories").json[0]["name"] == first["name"]  # the stamp stands
    app.extensions["redis"].flushdb()
    assert client.get("/api/v1/categories").json[0]["name"] == "Changed Behind The Cache"


def test_a_change_rolled_back_never_reaches_the_process_copies(acme, tenant_client, in_tenant):
    client = tenant_client("acme")
    assert NAMES["acme"] in client.get("/").get_data(as_text=True)
    with in_tenant(acme):
        update_branding(name="Never Committed")
        assert get_branding().name == "Never Committed"  # its own transaction sees it
        db.session.rollback()
    page = client.get("/").get_data(as_text=True)
    assert NAMES["acme"] in page and "Never Committed" not in page


def test_kept_anonymous_home_pages_are_per_tenant(app, acme, globex, tenant_client):
    """Both marketplaces hold the very same stamps (branding, categories, home generation) with
    the same page cache in the process: each anonymous visitor gets its own marketplace's page,
    again and again, also from the pages shared through Redis (each under its own tenant)."""
    from app.core import tenant_cache
    from app.extensions import redis_store

    with app.app_context():
        for tenant in (acme, globex):
            for name in tenant_cache._names:
                redis_store.client.set(tenant_cache.stamp_key(tenant, name), f"same-{name}")
    from app.home.views import forget_anonymous_pages

    for round_ in range(3):
        if round_ == 2:
            forget_anonymous_pages()  # "another process": the pages shared through Redis
        for slug, own, other in (("acme", acme, globex), ("globex", globex, acme)):
            html = tenant_client(slug).get("/").get_data(as_text=True)
            assert own.name in html and other.name not in html
    with app.app_context():
        for tenant in (acme, globex):
            (shared,) = redis_store.client.keys(f"t:{tenant.id}:{tenant.schema}:home:page:*")
            assert tenant.name.encode() in redis_store.client.get(shared)
