"""HTTP, tenancy and database metrics, ``/metrics`` protection and the bounded label set."""

from __future__ import annotations

import pytest

from app.core import metrics
from tenants import provisioning
from tenants.db import TenantRef
from tenants.resolver import TENANT, Resolution
from tests.observability.sampling import render as scrape


class TestHttpMetrics:
    def test_a_request_counts_under_its_route_template(self, tenant_client, acme):
        client = tenant_client("acme")
        before = scrape()
        assert client.get("/gigs/no-such-gig-999999").status_code == 404
        assert client.get("/gigs/no-such-gig-999998").status_code == 404
        after = scrape()
        labels = {"route": "/gigs/<slug>", "method": "GET", "status": "4xx"}
        assert after.value("gigforge_http_requests_total", **labels) - before.value(
            "gigforge_http_requests_total", **labels
        ) == pytest.approx(2)
        hist = {"route": "/gigs/<slug>", "method": "GET"}
        assert after.value("gigforge_http_request_duration_seconds_count", **hist) - before.value(
            "gigforge_http_request_duration_seconds_count", **hist
        ) == pytest.approx(2)
        # Never the raw path.
        assert not any("999999" in str(labels) for (_name, labels) in after.samples)

    def test_unmatched_paths_share_one_label_and_odd_methods_are_other(self, tenant_client, acme):
        client = tenant_client("acme")
        before = scrape()
        client.get("/no/such/page/1")
        client.get("/no/such/page/2")
        client.open("/", method="PROPFIND")
        after = scrape()
        labels = {"route": "unmatched", "method": "GET", "status": "4xx"}
        assert after.value("gigforge_http_requests_total", **labels) - before.value(
            "gigforge_http_requests_total", **labels
        ) == pytest.approx(2)
        assert after.total("gigforge_http_requests_total", method="other") > before.total(
            "gigforge_http_requests_total", method="other"
        )

    def test_statements_per_request_are_observed(self, tenant_client, acme):
        before = scrape()
        assert tenant_client("acme").get("/api/v1/categories").status_code == 200
        after = scrape()
        assert after.value("gigforge_db_queries_per_request_count") == pytest.approx(
            before.value("gigforge_db_queries_per_request_count") + 1
        )
        assert after.value("gigforge_db_queries_per_request_sum") > before.value(
            "gigforge_db_queries_per_request_sum"
        )
        assert after.value("gigforge_db_queries_total") > before.value("gigforge_db_queries_total")

    def test_slow_statements_are_counted_and_logged(self, app, tenant_client, acme, caplog):
        before = scrape()
        # The suite's threshold is DB_SLOW_QUERY_MS' default, 500 ms.
        import sqlalchemy as sa

        from tenants.db import db

        with app.app_context(), db.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_sleep(0.6)"))
        after = scrape()
        assert after.value("gigforge_db_slow_queries_total") == pytest.approx(
            before.value("gigforge_db_slow_queries_total") + 1
        )
        assert any(
            "slow query" in record.getMessage() and "pg_sleep" in record.getMessage()
            for record in caplog.records
        )

    def test_unknown_hosts_and_suspended_tenants_are_counted(self, app, tenant_client, acme):
        with app.app_context():
            provisioning.create_tenant("dormant", "Dormant", base_domain=app.config["BASE_DOMAIN"])
            provisioning.set_status("dormant", "suspended", reason="test")
        before = scrape()
        assert tenant_client("nobody-here").get("/").status_code == 404
        assert tenant_client("dormant").get("/").status_code == 503
        after = scrape()
        assert after.value("gigforge_unknown_host_requests_total") == pytest.approx(
            before.value("gigforge_unknown_host_requests_total") + 1
        )
        assert after.value("gigforge_suspended_tenant_requests_total") == pytest.approx(
            before.value("gigforge_suspended_tenant_requests_total") + 1
        )

    def test_the_resolver_cache_reports_hits_and_misses(self, app, tenant_client, acme, monkeypatch):
        resolver = app.extensions["tenants"]
        monkeypatch.setattr(resolver, "ttl", 60.0)
        resolver.invalidate()
        client = tenant_client("acme")
        before = scrape()
        client.get("/healthz-not-a-page")
        client.get("/healthz-not-a-page")
        after = scrape()
        resolver.invalidate()
        assert after.value("gigforge_tenant_resolutions_total", result="miss") - before.value(
            "gigforge_tenant_resolutions_total", result="miss"
        ) == pytest.approx(1)
        assert after.value("gigforge_tenant_resolutions_total", result="hit") - before.value(
            "gigforge_tenant_resolutions_total", result="hit"
        ) == pytest.approx(1)


class TestMetricsEndpoint:
    def test_served_on_the_platform_host_from_an_allowed_address(self, platform_client):
        response = platform_client.get("/metrics")
        assert response.status_code == 200
        assert response.content_type.startswith("text/plain")
        assert b"gigforge_http_requests_total" in response.data

    def test_never_on_a_tenant_host(self, tenant_client, acme, globex):
        for slug in ("acme", "globex"):
            response = tenant_client(slug).get("/metrics")
            assert response.status_code == 404
            assert b"gigforge_" not in response.data

    def test_a_token_is_required_outside_the_allowed_networks(self, app, platform_client, monkeypatch):
        monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-token")
        monkeypatch.setitem(app.config, "METRICS_ALLOW_NETWORKS", ["10.9.9.0/24"])
        monkeypatch.delitem(app.extensions, "metrics_networks", raising=False)
        try:
            missing = platform_client.get("/metrics")
            assert missing.status_code == 401
            assert missing.headers["WWW-Authenticate"].startswith("Bearer")
            assert missing.get_json()["error"] == "token_required"
            wrong = platform_client.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            assert wrong.get_json()["error"] == "invalid_token"
            right = platform_client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
            assert right.status_code == 200
            assert b"gigforge_http_requests_total" in right.data
            # From an allowed network no token is needed; a wrong one is still refused.
            inside = platform_client.get("/metrics", environ_base={"REMOTE_ADDR": "10.9.9.7"})
            assert inside.status_code == 200
        finally:
            app.extensions.pop("metrics_networks", None)

    def test_an_address_outside_the_networks_without_a_token_configured_is_refused(
        self, app, platform_client, monkeypatch
    ):
        monkeypatch.setitem(app.config, "METRICS_ALLOW_NETWORKS", ["10.9.9.0/24"])
        monkeypatch.delitem(app.extensions, "metrics_networks", raising=False)
        try:
            assert platform_client.get("/metrics").status_code == 403
        finally:
            app.extensions.pop("metrics_networks", None)

    def test_neither_token_nor_networks_means_no_endpoint(self, app, platform_client, monkeypatch):
        monkeypatch.setitem(app.config, "METRICS_ALLOW_NETWORKS", [])
        monkeypatch.setitem(app.config, "METRICS_TOKEN", "")
        assert platform_client.get("/metrics").status_code == 404


class TestBoundedLabels:
    """1,000 tenants (distinct ids, slugs and hosts) must not add a single series."""

    def _fake_tenants(self, app, acme, monkeypatch, count: int):
        resolver = app.extensions["tenants"]
        real_lookup = resolver._lookup

        def lookup(host):
            slug = host.split(".", 1)[0]
            if slug.startswith("load"):
                n = int(slug.removeprefix("load"))
                # Distinct tenants as the request path sees them (id, slug, host), all served
                # by acme's schema so the test needs no 1,000 schemas.
                return Resolution(TENANT, TenantRef(10_000 + n, slug, acme.schema, f"Load {n}", "active"))
            return real_lookup(host)

        monkeypatch.setattr(resolver, "_lookup", lookup)
        return [f"load{n}" for n in range(count)]

    def test_series_count_is_flat_from_10_to_1000_tenants(self, app, tenant_client, acme, monkeypatch):
        slugs = self._fake_tenants(app, acme, monkeypatch, 1000)

        def visit(slug):
            client = tenant_client(f"{slug}.{app.config['BASE_DOMAIN']}")
            assert client.get("/api/v1/categories").status_code == 200
            assert client.get(f"/gigs/{slug.removeprefix('load')}").status_code == 404

        for slug in slugs[:10]:
            visit(slug)
        after_ten = scrape()
        for slug in slugs[10:]:
            visit(slug)
        after_thousand = scrape()
        assert after_thousand.series() == after_ten.series()
        tenants_seen = {
            dict(labels).get("tenant") for (name, labels) in after_thousand.samples if "tenant_http" in name
        }
        assert tenants_seen <= {"other", None}  # the suite's app opts no tenant in
        assert not any(
            value
            for (name, labels) in after_thousand.samples
            for key, value in labels
            if key in {"host", "path", "tenant_id"}
        )

    def test_opted_in_tenants_get_their_own_label_and_the_rest_share_other(
        self, app, tenant_client, acme, monkeypatch
    ):
        monkeypatch.setitem(app.config, "METRICS_TENANT_LABELS", ["load1"])
        self._fake_tenants(app, acme, monkeypatch, 3)
        before = scrape()
        for slug in ("load0", "load1", "load2"):
            client = tenant_client(f"{slug}.{app.config['BASE_DOMAIN']}")
            assert client.get("/api/v1/categories").status_code == 200
        after = scrape()
        assert after.value(
            "gigforge_tenant_http_requests_total", tenant="load1", status="2xx"
        ) - before.value(
            "gigforge_tenant_http_requests_total", tenant="load1", status="2xx"
        ) == pytest.approx(1)
        assert after.value(
            "gigforge_tenant_http_requests_total", tenant="other", status="2xx"
        ) - before.value(
            "gigforge_tenant_http_requests_total", tenant="other", status="2xx"
        ) == pytest.approx(2)
        labels = {
            dict(ls).get("tenant") for (name, ls) in after.samples if name.startswith("gigforge_tenant_http")
        }
        assert labels <= {"load1", "other"}


def test_label_helpers():
    assert metrics.method_label("GET") == "GET"
    assert metrics.method_label("PROPFIND") == "other"
    assert metrics.status_label(204) == "2xx"
    assert metrics.status_label(503) == "5xx"
    assert metrics.status_label(999) == "other"
