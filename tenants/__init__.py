"""The tenancy engine: tenants and domains in ``public``, one schema per tenant,
host resolution, per-request binding, provisioning, two-level migrations.

It knows nothing about the marketplace: the app plugs in through
``tenants.signals`` and by naming its platform-only blueprints.
"""

from __future__ import annotations

from flask import abort, g, request

from tenants.db import (
    TENANT_SCHEMA,
    TenantModel,
    TenantNotBound,
    TenantRef,
    TenantSwitchError,
    bind_tenant,
    current_tenant,
    current_tenant_or_none,
    db,
    tenant_context,
    unbind_tenant,
)
from tenants.resolver import PLATFORM, UNKNOWN, TenantResolver

__all__ = [
    "TENANT_SCHEMA",
    "TenantModel",
    "TenantNotBound",
    "TenantRef",
    "TenantSwitchError",
    "current_tenant",
    "current_tenant_or_none",
    "db",
    "init_app",
    "tenant_context",
]


def init_app(
    app, *, platform_blueprints: set[str], any_host_endpoints: set[str], any_host_blueprints: set[str]
):
    """Resolve the tenant of every request from its Host header and bind it.

    - unknown or malformed host: 404 (the error page names nobody);
    - platform host: only ``platform_blueprints`` (and any-host routes) exist;
    - tenant host: platform blueprints do not exist; a suspended tenant is 503.
    """
    resolver = TenantResolver(
        app.config["BASE_DOMAIN"],
        app.config["PLATFORM_HOSTS"],
        app.config["TENANT_CACHE_TTL"],
        app.config.get("TENANT_CACHE_MAX_AGE"),
    )
    app.extensions["tenants"] = resolver

    @app.before_request
    def _bind_request_tenant():
        g.tenant = None
        g.host_kind = None
        if request.endpoint in any_host_endpoints:
            # Health probes and static files: no tenant, no database session, so no unit of
            # work to finish and no session to remove (the lean path, docs/design/performance.md).
            return None
        request.environ["gigforge.tenancy"] = True  # this request, not a nested test_request_context
        resolution = resolver.resolve(request.host)
        g.host_kind = resolution.kind
        if resolution.kind == UNKNOWN:
            abort(404)
        blueprint = request.blueprint
        if resolution.kind == PLATFORM:
            if blueprint not in platform_blueprints and blueprint not in any_host_blueprints:
                abort(404)
            return None
        tenant = resolution.tenant
        if not tenant.is_active:
            g.suspended_tenant = tenant
            abort(503)
        g.tenant = tenant
        g._tenant_token = bind_tenant(tenant)
        if blueprint in platform_blueprints and blueprint not in any_host_blueprints:
            abort(404)  # after binding, so the 404 page wears the tenant's branding
        return None

    @app.teardown_request
    def _unbind_request_tenant(exc):
        if not request.environ.get("gigforge.tenancy"):
            # A request context pushed by code (e.g. to build a URL inside a job)
            # did not bind anything and must not end the job's session.
            return
        token = g.pop("_tenant_token", None)
        # Close the session before unbinding: its transaction belongs to this tenant.
        db.session.remove()
        if token is not None:
            unbind_tenant(token)

    from tenants.cli import tenants_cli

    app.cli.add_command(tenants_cli)
