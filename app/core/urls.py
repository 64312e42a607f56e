"""Absolute URLs: the one place that knows where a tenant's site is reached from outside.

Emails, notifications, webhooks and feeds link to a tenant's site from outside any
request, so the host of "the current request" is no answer (a job has none; a platform
admin creating a tenant is on the platform host; a proxy may have rewritten it). Every
absolute URL is built here from configuration, the same inside and outside a request:

- ``PUBLIC_URL_SCHEME``: ``http`` in development and tests, ``https`` in production;
- ``PUBLIC_PORT``: empty for the scheme's default port (a real deployment behind a proxy),
  ``5000`` under ``make run`` (the dev server sets it to the port it listens on);
- the host: the tenant's primary hostname from the tenancy engine (its default
  ``<slug>.<BASE_DOMAIN>`` until an operator makes a custom domain primary), or
  ``BASE_DOMAIN`` for the platform.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, g, has_request_context

from tenants.db import TenantRef
from tenants.domains import primary_hostname

DEFAULT_PORTS = {"http": "80", "https": "443"}


def public_origin(hostname: str) -> str:
    """``scheme://hostname[:port]`` of a public hostname, from the configuration."""
    config = current_app.config
    scheme = (config.get("PUBLIC_URL_SCHEME") or "https").lower()
    port = str(config.get("PUBLIC_PORT") or "").strip()
    if port and port != DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{hostname}:{port}"
    return f"{scheme}://{hostname}"


def tenant_base_url(tenant: TenantRef) -> str:
    """``scheme://primary-host[:port]`` of a tenant's site (no trailing slash).

    Looked up once per request (an API list links every row); jobs look it up each time,
    so a worker sees a new primary domain at once.
    """
    if not has_request_context():
        return public_origin(primary_hostname(tenant.id, tenant.slug))
    cache = g.setdefault("_tenant_base_urls", {})
    if tenant.id not in cache:
        cache[tenant.id] = public_origin(primary_hostname(tenant.id, tenant.slug))
    return cache[tenant.id]


def platform_base_url() -> str:
    """``scheme://BASE_DOMAIN[:port]``: the platform's pages and console."""
    return public_origin(current_app.config["BASE_DOMAIN"])


def path_for(endpoint: str, **values) -> str:
    """The path of an endpoint (with a query string for extra values), also outside a request."""
    return current_app.url_map.bind("localhost").build(endpoint, values)


def _join(base: str, endpoint_or_path: str, values: dict) -> str:
    if endpoint_or_path.startswith("/"):
        if endpoint_or_path.startswith("//"):
            raise ValueError(f"not a path on this site: {endpoint_or_path!r}")
        query = f"?{urlencode(values)}" if values else ""
        return base + endpoint_or_path + query
    return base + path_for(endpoint_or_path, **values)


def tenant_url(tenant: TenantRef, endpoint_or_path: str, **values) -> str:
    """An absolute URL on a tenant's site: an endpoint (``"orders.order_page", order_id=7``)
    or a path (``"/orders/7"``), on the tenant's public scheme, primary host and port."""
    return _join(tenant_base_url(tenant), endpoint_or_path, values)


def platform_url(endpoint_or_path: str, **values) -> str:
    """An absolute URL on the platform host (its home page, the platform console)."""
    return _join(platform_base_url(), endpoint_or_path, values)
