"""Strict-Transport-Security (issue 12, finding 9)."""

from __future__ import annotations

import pytest

from config import Config, ProductionConfig, TestingConfig

HSTS = "Strict-Transport-Security"


def test_production_sends_hsts_by_default_development_and_tests_do_not():
    assert ProductionConfig.HSTS_SECONDS >= 180 * 24 * 3600
    assert Config.HSTS_SECONDS == 0 and TestingConfig.HSTS_SECONDS == 0


def test_no_hsts_when_the_config_leaves_it_off(tenant_client):
    assert HSTS not in tenant_client("acme").get("/").headers


@pytest.mark.parametrize(
    ("host", "path", "status"),
    [
        ("acme", "/", 200),  # a tenant page
        ("acme", "/api/v1/no-such-thing", 404),  # an API error
        ("localhost.", "/", 200),  # the platform
        ("nobody.localhost", "/", 404),  # an unknown host
        ("acme", "/static/css/app.css", 200),  # a static file
    ],
)
def test_hsts_on_every_response_when_configured(app, tenant_client, monkeypatch, host, path, status):
    monkeypatch.setitem(app.config, "HSTS_SECONDS", 31536000)
    response = tenant_client(host).get(path)
    assert response.status_code == status
    assert response.headers[HSTS] == "max-age=31536000"


def test_hsts_include_subdomains_is_opt_in(app, tenant_client, monkeypatch):
    monkeypatch.setitem(app.config, "HSTS_SECONDS", 600)
    monkeypatch.setitem(app.config, "HSTS_INCLUDE_SUBDOMAINS", True)
    assert tenant_client("acme").get("/").headers[HSTS] == "max-age=600; includeSubDomains"
