"""The operator console: ``/console`` (web) and ``/api/v1/console`` (REST) on a tenant's host.

Who may enter: the tenant's users with ``role`` ``admin`` (everything) or
``moderator`` (read the console, moderate users and gigs; never settings,
money or roles). Everyone else gets 403 on every route (app/console/access.py).

One subpackage per area of the console; a page's code is in its area's ``views.py``,
the same resource of the API in its ``api.py``:

- ``dashboard/``   the KPI tiles and charts (``kpis.py`` computes every figure);
- ``people/``      users (search, suspend, reactivate, roles) and gig moderation (queue,
  approve, reject, pause); ``actions.py`` calls app/accounts/moderation.py and
  app/gigs/moderation.py and writes the audit entry;
- ``operations/``  orders (``orders.py``: search, detail, cancel and refund), the audit log
  pages (``audit_log.py``: their filters) and CSV exports (``exports.py``);
- ``reviews/``     review moderation (the queue of reported and held reviews, every review,
  hide, restore, approve, dismiss a report) and the reputation settings (review window,
  banned words, seller level thresholds); ``actions.py`` calls app/reviews and audits;
- ``jobs/``        every job (filters, a job's proposals and invites, close an abusive one),
  the job templates (add, edit, hide, reorder) and the matching weights; ``actions.py`` calls
  app/jobs/services.py and app/jobs/settings.py and audits;
- ``contracts/``   every contract (filters, money, a contract's SoW, milestones, changes,
  timeline and ledger; the operator's end) and the milestones of every contract's
  engagement (by state, auto-release due); ``actions.py`` calls app/contracts/services.py
  and audits;
- ``payouts/``     payouts (filters, retry a failed one), sellers' payout accounts (KYC status and
  requirements; the sandbox's simulated verification) and holds on a seller's payouts;
  ``actions.py`` calls app/payments/backoffice.py and audits. Admins only;
- ``disputes/``    the disputes queue (stage, status, mediator, age; by age or deadline), a
  dispute's case view (the order, its timeline and conversation, evidence, proposals, the
  dispute's timeline) and the operator's steps (assign, write, propose, ask an expert, hand
  over; admins decide and dismiss), the ladder's settings and the experts; ``actions.py``
  calls app/disputes/services.py and app/disputes/admin.py and audits;
- ``featured/``    the featured gigs of the home page (list, add by id or title search, reorder,
  remove); ``actions.py`` calls app/discovery/featured.py and audits;
- ``api_keys/``    partner API keys (list, create with the secret shown once, revoke, a key's
  recent calls); ``actions.py`` calls app/accounts/api_keys.py and audits. Admins only;
- ``files/``       the Quarantine page: files the antivirus blocked (moderators see them, admins
  delete them for good); ``actions.py`` calls app/storage/files.py and audits;
- ``settings/``    branding, domains, marketplace settings, categories and the payment
  provider (``branding.py``, ``domains.py``, ``marketplace.py`` call app/settings,
  tenants/domains.py, app/gigs/categories.py and app/payments, and audit).

Each area has ``views.py`` (web), ``api.py`` (REST), ``schemas.py`` (the API's
marshmallow schemas) and ``forms.py`` (web forms) as it needs. Shared by every area:

- ``blueprints.py`` the web blueprint ``console`` and the API blueprint ``console_api``;
- ``access.py``     the role checks for web and API;
- ``audit.py`` / ``models.py``  ``record_audit`` (called in the same transaction as every
  change), the ``audit_log`` table, its search and CSV;
- ``errors.py``     the console's refusals (``DomainError`` subclasses);
- ``filters.py``    checks of list filters (days, ranges, text) the areas share;
- ``nav.py``        the side navigation.

Views and API methods never commit: the request's unit of work (app/core/unit_of_work.py)
commits the change and its audit entry together, or rolls both back on a refusal.
"""

from __future__ import annotations

from importlib import import_module

from flask import Flask

# Every module that adds routes to the two blueprints; imported before registration.
ROUTE_MODULES = (
    "nav",
    "dashboard.views",
    "dashboard.api",
    "settings.views",
    "settings.api",
    "people.views",
    "people.api",
    "operations.views",
    "operations.api",
    "reviews.views",
    "reviews.api",
    "jobs.views",
    "jobs.api",
    "contracts.views",
    "contracts.api",
    "payouts.views",
    "payouts.api",
    "disputes.views",
    "disputes.api",
    "featured.views",
    "featured.api",
    "api_keys.views",
    "api_keys.api",
    "webhooks.views",
    "webhooks.api",
    "files.views",
    "identity.views",
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
