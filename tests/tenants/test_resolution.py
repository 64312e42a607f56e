"""Host header -> tenant: subdomains, custom domains, the platform host, and
every way a host can be wrong. Resolution never falls back to a default tenant."""

from __future__ import annotations

import pytest

from tenants import provisioning
from tenants.resolver import PLATFORM, TENANT, UNKNOWN, TenantResolver, normalize_domain, normalize_host

TENANT_NAMES = (b"Acme", b"acme", b"Globex", b"globex", b"Gigforge")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.localhost", "acme.localhost"),
        ("ACME.LocalHost", "acme.localhost"),
        ("acme.localhost:5000", "acme.localhost"),
        ("acme.localhost.", "acme.localhost"),
        ("acme.localhost.:8080", "acme.localhost"),
        ("  acme.localhost  ", "acme.localhost"),
        ("shop.example.com", "shop.example.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("localhost", "localhost"),
        ("127.0.0.1:5000", "127.0.0.1"),
        ("[::1]", "[::1]"),
        ("[::1]:5000", "[::1]"),
        ("[2001:DB8::1]:443", "[2001:db8::1]"),
    ],
)
def test_normalize_host_lowercases_and_strips_port_and_trailing_dot(raw, expected):
    assert normalize_host(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "bad_host!",
        "a..b",
        "acme.localhost..",
        "-x.localhost",
        "x-.localhost",
        "x" * 64 + ".localhost",  # a label longer than 63
        ".".join(["abcdefghi"] * 30),  # longer than 253
        "acme.localhost:port",
        "acme.localhost:",
        "acme.localhost:80:80",
        "acme.localhost\n:80",
        "user@acme.localhost",
        "acme.localhost/path",
        "ácme.localhost",
        "[::1",
        "[::1]:abc",
        "[::1]junk",
        "[not-an-ip]",
        "[]",
    ],
)
def test_normalize_host_rejects_malformed_hosts(raw):
    assert normalize_host(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Shop.Example.COM.", "shop.example.com"),
        ("shop.example.com:8080", None),  # a stored domain has no port
        ("1.2.3.4", None),  # nor is it an IP
        ("localhost", None),  # nor a single label
        ("http://shop.example.com", None),
        ("", None),
    ],
)
def test_normalize_domain_accepts_only_plain_multi_label_hostnames(raw, expected):
    assert normalize_domain(raw) == expected


def test_subdomain_of_base_domain_resolves_to_its_tenant(app, acme, globex):
    resolver = TenantResolver("localhost", ["127.0.0.1"], ttl=0)
    with app.app_context():
        assert resolver.resolve("acme.localhost").tenant == acme
        assert resolver.resolve("GLOBEX.localhost:5000").tenant == globex
        for host in ("localhost", "localhost.", "127.0.0.1:5000"):
            assert resolver.resolve(host).kind == PLATFORM
        # Only a single label in front of the base domain names a tenant.
        for host in ("x.acme.localhost", "nobody.localhost", "acme.example.com", "acme", "bad_host!"):
            resolution = resolver.resolve(host)
            assert resolution.kind == UNKNOWN and resolution.tenant is None, host


def test_tenant_pages_are_served_on_its_subdomain(tenant_client):
    response = tenant_client("acme").get("/")
    assert response.status_code == 200
    assert b"Acme Test Market" in response.data and b"Globex" not in response.data


def test_custom_domain_resolves_to_its_tenant_case_and_port_insensitively(app, tenant_client):
    with app.app_context():
        provisioning.add_domain("globex", "shop.example.com", base_domain="localhost")

    for host in ("shop.example.com", "SHOP.Example.com:8443", "shop.example.com."):
        response = tenant_client(host).get("/")
        assert response.status_code == 200, host
        assert b"Globex Test Market" in response.data and b"Acme" not in response.data
    assert tenant_client("shop.example.com").get("/api/v1/categories").status_code == 200
    # A domain attaches exactly that host, not its subdomains or its parent.
    assert tenant_client("www.shop.example.com").get("/").status_code == 404
    assert tenant_client("example.com").get("/").status_code == 404


@pytest.mark.parametrize(
    "host", ["nobody.localhost", "x.acme.localhost", "unknown.example.com", "a..b", "[::1]junk", "x" * 300]
)
def test_unknown_or_malformed_host_gets_a_404_that_reveals_nothing(app, host):
    client = app.test_client()
    for path in ("/", "/platform/about", "/login", "/no/such/page"):
        response = client.get(path, environ_overrides={"HTTP_HOST": host})
        assert response.status_code == 404, path
        assert not any(word in response.data for word in TENANT_NAMES), response.data
        # Not even the platform's stylesheet: nothing loaded from the server (the icon is an empty data: URL).
        assert b'rel="stylesheet"' not in response.data and b'href="/' not in response.data
        assert b"<script" not in response.data


def test_unknown_host_api_404_is_json_and_reveals_nothing(tenant_client):
    response = tenant_client("nobody.localhost").get("/api/v1/categories")
    assert response.status_code == 404
    assert response.json["code"] == 404
    assert not any(word in response.data for word in TENANT_NAMES)


def test_suspended_tenant_gets_a_503_page_and_json_503_under_api(app, tenant_client):
    with app.app_context():
        provisioning.set_status("acme", "suspended", reason="unpaid invoice")
    try:
        page = tenant_client("acme").get("/")
        assert page.status_code == 503
        assert page.mimetype == "text/html"
        assert b"temporarily unavailable" in page.data
        assert b"unpaid invoice" not in page.data  # the operator's reason is not for visitors

        api = tenant_client("acme").get("/api/v1/categories")
        assert api.status_code == 503
        assert api.mimetype == "application/json"
        assert api.json["code"] == 503 and api.json["status"] == "Service Unavailable"

        # Another tenant is unaffected.
        assert tenant_client("globex").get("/").status_code == 200
    finally:
        with app.app_context():
            provisioning.set_status("acme", "active")
    assert tenant_client("acme").get("/").status_code == 200


def test_platform_host_cannot_reach_the_tenant_api(app):
    client = app.test_client()
    for host in ("localhost", "localhost.", "LOCALHOST:5000", "127.0.0.1:5000"):
        response = client.get("/api/v1/categories", environ_overrides={"HTTP_HOST": host})
        assert response.status_code == 404
        assert response.mimetype == "application/json"
        assert response.json["code"] == 404
        assert b"Graphics" not in response.data


def test_tenant_host_cannot_reach_platform_only_pages(platform_client, tenant_client):
    assert platform_client.get("/platform/about").status_code == 200
    response = tenant_client("acme").get("/platform/about")
    assert response.status_code == 404


def test_resolver_cache_serves_stale_entries_until_invalidated(app, acme):
    resolver = TenantResolver("localhost", [], ttl=300)
    with app.app_context():
        assert resolver.resolve("acme.localhost").tenant.status == "active"
        assert resolver.resolve("newco.localhost").kind == UNKNOWN

        provisioning.set_status("acme", "suspended")
        provisioning.create_tenant("newco", "NewCo", base_domain="localhost")
        try:
            # Within the TTL the cached answers stand...
            assert resolver.resolve("acme.localhost").tenant.status == "active"
            assert resolver.resolve("newco.localhost").kind == UNKNOWN
            resolver.invalidate()
            # ...and after invalidation both changes are seen.
            assert resolver.resolve("acme.localhost").tenant.status == "suspended"
            assert resolver.resolve("newco.localhost").kind == TENANT
        finally:
            provisioning.set_status("acme", "active")


def test_cli_changes_invalidate_the_app_resolver_cache(app, tenant_client):
    resolver = app.extensions["tenants"]
    resolver.ttl = 300
    try:
        assert tenant_client("acme").get("/").status_code == 200  # now cached
        result = app.test_cli_runner().invoke(args=["tenants", "suspend", "acme"])
        assert result.exit_code == 0, result.output
        assert tenant_client("acme").get("/").status_code == 503
        result = app.test_cli_runner().invoke(args=["tenants", "resume", "acme"])
        assert result.exit_code == 0, result.output
        assert tenant_client("acme").get("/").status_code == 200
    finally:
        resolver.ttl = 0
        resolver.invalidate()


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _resolver_with_shared_generation(app, clock, client=None) -> TenantResolver:
    """A process's resolver (TTL 5 s, kept up to 60 s) on the app's Redis, time injected."""
    from tenants.resolver import SharedGeneration

    resolver = TenantResolver("localhost", [], ttl=5, max_age=60)
    resolver.shared = SharedGeneration(client or (lambda: app.extensions["redis"]))
    resolver.clock = clock
    return resolver


def _counting(resolver) -> list[str]:
    seen: list[str] = []
    resolver.on_resolve = seen.append
    return seen


def test_a_resolution_outlives_its_ttl_while_the_shared_generation_stands(app, acme):
    """Many marketplaces served in turn: a tenant is looked up once per ``max_age``, not once per
    ``ttl``; an unknown host still only ``ttl``."""
    clock = _Clock()
    resolver = _resolver_with_shared_generation(app, clock)
    seen = _counting(resolver)
    with app.app_context():
        assert resolver.resolve("acme.localhost").kind == TENANT
        assert resolver.resolve("nobody.localhost").kind == UNKNOWN
        clock.now += 30
        assert resolver.resolve("acme.localhost").kind == TENANT
        assert resolver.resolve("nobody.localhost").kind == UNKNOWN
        assert seen == ["miss", "miss", "hit", "miss"]
        clock.now += 31  # 61 s old: past max_age
        resolver.resolve("acme.localhost")
        assert seen[-1] == "miss"


def test_a_change_in_another_process_reaches_this_one_within_the_ttl(app, acme):
    clock = _Clock()
    here, there = (_resolver_with_shared_generation(app, clock) for _ in range(2))
    seen = _counting(here)
    with app.app_context():
        assert here.resolve("acme.localhost").tenant.status == "active"
        clock.now += 30  # kept: the generation read again, unchanged
        assert here.resolve("acme.localhost").tenant.status == "active"
        provisioning.set_status("acme", "suspended")
        try:
            there.invalidate()  # the process that suspended it renews the shared generation
            clock.now += 4  # within the TTL this process has not read the generation again
            assert here.resolve("acme.localhost").tenant.status == "active"
            clock.now += 1  # the TTL since its last read: the new generation drops the old answer
            assert here.resolve("acme.localhost").tenant.status == "suspended"
            assert seen == ["miss", "hit", "hit", "miss"]
        finally:
            provisioning.set_status("acme", "active")
            there.invalidate()


def test_a_resolution_looked_up_under_an_older_generation_lives_only_the_ttl(app, acme):
    """A look-up that started before a change's renewal may carry the old rows: it is tagged
    with the generation it started under, and not kept past the TTL once a newer one is read."""
    clock = _Clock()
    here, there = (_resolver_with_shared_generation(app, clock) for _ in range(2))
    seen = _counting(here)
    with app.app_context():
        here.resolve("globex.localhost")  # reads the generation
        there.invalidate()
        clock.now += 5  # the TTL: the next resolve reads the new generation and forgets everything
        here.resolve("acme.localhost")
        here._cache["acme.localhost"] = (clock.now, b"an older generation", here._cache["acme.localhost"][2])
        clock.now += 6
        here.resolve("acme.localhost")
        assert seen == ["miss", "miss", "miss"]


def test_without_redis_every_resolution_lives_the_ttl(app, acme):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    def unreachable():  # refused at once, no retries: the test waits for nothing
        return redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))

    clock = _Clock()
    resolver = _resolver_with_shared_generation(app, clock, client=unreachable)
    seen = _counting(resolver)
    with app.app_context():
        resolver.resolve("acme.localhost")
        clock.now += 4
        resolver.resolve("acme.localhost")
        clock.now += 2
        resolver.resolve("acme.localhost")
        resolver.invalidate()  # a lost renewal is logged, not raised
    assert seen == ["miss", "hit", "miss"]
