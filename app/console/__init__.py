"""The operator console: ``/console`` (web) and ``/api/v1/console`` (REST) on a tenant's host.

Who may enter: the tenant's users with ``role`` ``admin`` (everything) or
``moderator`` (read the console, moderate users and gigs; never settings,
money or roles). Everyone else gets 403 on every route (app/console/access.py).

Layout of the package (one module per area, each with its web views and API):
- ``access.py``     the role checks for web and API;
- ``audit.py``      ``record_audit`` (called in the same transaction as every change), search, CSV;
- ``blueprints.py`` the web blueprint ``console`` and the API blueprint ``console_api``;
- ``branding.py`` / ``domains.py`` / ``marketplace.py``  console actions for branding, domains,
  settings, categories and payments (the rules live in app/settings, tenants/domains.py, app/gigs);
- ``people.py``     users and gig moderation (rules in app/accounts/moderation.py, app/gigs/moderation.py);
- ``operations.py`` orders and refunds, the audit log pages, CSV exports;
- ``kpis.py``       the dashboard's figures;
- ``views_*.py`` / ``api_*.py`` the thin web views and API resources of each area.
"""

from __future__ import annotations

from importlib import import_module

from flask import Flask

# Every module that adds routes to the two blueprints; imported before registration.
ROUTE_MODULES = (
    "nav",
    "dashboard.views",
    "settings.views",
    "people.views",
    "operations.views",
    "settings.api",
    "people.api",
    "operations.api",
)


def _import_routes() -> None:
    for name in ROUTE_MODULES:
        import_module(f"app.console.{name}")


def register(app: Flask) -> None:
    """Register the console's web blueprint (the API one goes through ``api_blueprint``)."""
    from app.console.blueprints import bp

    _import_routes()
    app.register_blueprint(bp)


def api_blueprint():
    """The console's flask-smorest blueprint, with every area's resources attached."""
    from app.console.blueprints import blp

    _import_routes()
    return blp
