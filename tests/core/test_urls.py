"""app.core.urls: every absolute URL from the configuration and the tenant's primary host."""

from __future__ import annotations

import pytest

from app.core.urls import platform_url, public_origin, tenant_url
from tenants.db import db
from tenants.models import TenantDomain


@pytest.fixture
def public(app):
    saved = app.config["PUBLIC_URL_SCHEME"], app.config["PUBLIC_PORT"]

    def set_(scheme: str, port: str):
        app.config["PUBLIC_URL_SCHEME"], app.config["PUBLIC_PORT"] = scheme, port

    yield set_
    app.config["PUBLIC_URL_SCHEME"], app.config["PUBLIC_PORT"] = saved


@pytest.mark.parametrize(
    "scheme, port, origin",
    [
        ("http", "", "http://acme.localhost"),
        ("http", "5000", "http://acme.localhost:5000"),
        ("http", "80", "http://acme.localhost"),
        ("https", "443", "https://acme.localhost"),
        ("https", "8443", "https://acme.localhost:8443"),
    ],
)
def test_the_origin_names_the_port_only_when_it_is_not_the_schemes_default(app, public, scheme, port, origin):
    public(scheme, port)
    with app.app_context():
        assert public_origin("acme.localhost") == origin


def test_the_same_url_inside_a_request_of_another_host_and_in_a_job(app, acme, public, in_tenant):
    public("http", "5000")
    with in_tenant(acme):
        in_job = tenant_url(acme, "accounts.reset_password", token="abc")
    with app.test_request_context("/", base_url="http://localhost:8080"):
        in_request = tenant_url(acme, "accounts.reset_password", token="abc")
    assert in_job == in_request == "http://acme.localhost:5000/password/reset/abc"


def test_paths_endpoints_and_the_platform(app, acme, public, in_tenant):
    public("https", "")
    with in_tenant(acme):
        assert tenant_url(acme, "/orders/7") == "https://acme.localhost/orders/7"
        assert tenant_url(acme, "/search", q="logo design") == "https://acme.localhost/search?q=logo+design"
        assert tenant_url(acme, "gigs.gig_page", slug="fox") == "https://acme.localhost/gigs/fox"
        assert platform_url("/platform/") == "https://localhost/platform/"
        with pytest.raises(ValueError):
            tenant_url(acme, "//evil.example/x")


def test_links_follow_the_tenants_primary_domain(app, acme, public, in_tenant):
    public("https", "")

    def set_primary(custom: bool):
        with app.app_context():
            default = db.session.scalars(
                db.select(TenantDomain).where(
                    TenantDomain.tenant_id == acme.id, TenantDomain.hostname == "acme.localhost"
                )
            ).one()
            db.session.execute(db.delete(TenantDomain).where(TenantDomain.hostname == "market.acme.example"))
            default.is_primary = not custom
            db.session.flush()
            if custom:
                db.session.add(
                    TenantDomain(tenant_id=acme.id, hostname="market.acme.example", is_primary=True)
                )
            db.session.commit()

    set_primary(True)
    try:
        with in_tenant(acme):
            assert tenant_url(acme, "/") == "https://market.acme.example/"
    finally:
        set_primary(False)  # the base tenant is shared by the session's tests
    with in_tenant(acme):
        assert tenant_url(acme, "/") == "https://acme.localhost/"
