"""The Gigforge application factory.

``create_app`` builds the whole app: what gunicorn serves and every ``flask`` command but one
group runs. ``create_cli_app`` builds the app of ``flask tenants ...`` only: the database,
Redis and the receivers of the tenancy engine's signals, without the web (blueprints, the API
and its OpenAPI document, the console, Socket.IO, rate limits, request hooks), so that a
command like ``tenants create`` does not import what it does not use (``wsgi.py`` picks one;
docs/design/performance.md, "CLI startup").
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

# First of all: the metrics' multiprocess directory must be named before prometheus_client loads.
from app.core import metrics  # isort: skip

from flask import Flask, g

import tenants
from app.core import converters, lean, sentry_setup
from app.core.embedded import EmbeddedServices
from app.core.logging_setup import configure_logging
from app.extensions import REDIS_MAX_CONNECTIONS, db, limiter_storage_uri, redis_store
from config import BASE_DIR, Config, config_from_env
from tenants.db import (
    add_metadata_loader,
    cache_schema_translation,
    guard_one_schema,
    lean_cursor_descriptions,
    limit_connection_uses,
    ping_after_idle,
)
from tenants.resolver import SharedGeneration

# Blueprints that exist only on the bare platform host.
PLATFORM_BLUEPRINTS = {"platform", "metrics", "demo_inbox", "demo_oidc"}  # demo_*: development only
# Blueprints served on every host, before and without tenant resolution.
ANY_HOST_BLUEPRINTS = {"api-docs", "api-docs-assets", "home"}
ANY_HOST_ENDPOINTS = set(lean.LEAN_ENDPOINTS)

# Every module that declares tables (public and tenant): the metadata new tenant schemas and
# spares are built from must be whole in every app, the lean CLI's included (it declares them
# on demand; tests/core/test_cli_startup.py compares the two).
MODEL_MODULES = (
    "app.accounts.models",
    "app.code.models",
    "app.console.models",
    "app.contracts.models",
    "app.core.idempotency",
    "app.discovery.models",
    "app.disputes.models",
    "app.events.models",
    "app.gigs.models",
    "app.hourly.models",
    "app.jobs.models",
    "app.ledger.models",
    "app.mail.models",
    "app.messaging.models",
    "app.notifications.models",
    "app.orders.models",
    "app.payments.models",
    "app.platform.models",
    "app.reviews.models",
    "app.search.models",
    "app.settings.models",
    "app.storage.models",
    "app.webhooks.models",
    "app.workroom.models",
)


def create_app(config_class: type[Config] | None = None) -> Flask:
    app, embedded = _base_app(config_class)
    # Early: its after_request hook then runs last of all and sees the final status.
    metrics.init_app(app)
    _init_database(app, embedded, watch_metrics=app.config["METRICS_ENABLED"])
    from app.core import tracing
    from app.extensions import api, csrf, limiter, login_manager, migrate

    tracing.init_app(app)  # request spans (+ SQL, Redis when exporting); trace ids on log lines
    sentry_setup.init_app(app)  # error reports, when SENTRY_DSN is set
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations" / "public"))
    redis_store.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    api.init_app(app)

    _init_tenancy(app)
    metrics.watch_resolver(app)
    from app.accounts import api_keys

    # After the tenant binding, before the rate limiter: partner API keys (scopes, call log).
    api_keys.init_app(app)
    # After tenant resolution, so rate-limit keys can name the bound tenant.
    app.config.setdefault("RATELIMIT_STORAGE_URI", limiter_storage_uri(app.config["REDIS_URL"]))
    # The limits' own Redis pool: past redis-py's 100 connections a busy process's checks failed
    # (app.extensions.REDIS_MAX_CONNECTIONS).
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"max_connections": REDIS_MAX_CONNECTIONS})
    limiter.init_app(app)
    lean.init_app(app, limiter)  # probes and static files skip the limiter; cookie-less sessions
    from app.core import rate_limits

    rate_limits.init_app(app)  # the API's RateLimit-* headers (the limits: app.core.api.Blueprint)
    _register_realtime(app)
    _register_blueprints(app)
    _register_domain_hooks()
    _register_cli(app)
    _register_template_context(app)
    _register_security_headers(app)

    from app.core import request_limits, unit_of_work
    from app.core.errors import register_error_handlers

    register_error_handlers(app)
    request_limits.init_app(app)  # runs before every other before_request hook
    # Registered last, so it runs first of the after_request hooks: a failed commit's
    # error response still gets the security headers.
    unit_of_work.init_app(app)
    from app.core.health import LivenessProbe

    # Outermost: the liveness probe is answered before Socket.IO, tracing and Flask.
    app.wsgi_app = LivenessProbe(app.wsgi_app, app.config, security_headers(app.config))
    return app


def create_cli_app(config_class: type[Config] | None = None) -> Flask:
    """The app of ``flask tenants ...``: configuration, logging, the database (and the embedded
    servers), error reports, the tenancy engine with its commands and the marketplace's
    receivers of its signals (a new tenant's seeds, its admin invitation in its outbox among
    them; a dropped tenant's files, outbox and index), and ``tenants set-plan``. Every table
    too, the models the receivers do not use declared when first needed
    (``_register_tenant_hooks``). Redis (and RQ) on first use: a creation leaves the new
    tenant's outbox to the worker's relay, and a command that never talks to Redis does not
    import redis-py.

    Not here: blueprints, the API and its OpenAPI document, the console, Socket.IO, CSRF,
    logins, rate limits, metrics and tracing of requests, templates, request hooks: nothing of
    them runs in a tenant command. With ``RQ_ASYNC`` off (benchmarks) a queued job runs inline
    and may need any of them (the admin's invitation builds a page's URL): the whole app then.
    """
    config_class = config_class or config_from_env()
    if not config_class.RQ_ASYNC:
        return create_app(config_class)
    app, embedded = _base_app(config_class)
    _init_database(app, embedded, watch_metrics=False, lean=True)
    sentry_setup.init_app(app)  # error reports, when SENTRY_DSN is set
    _init_tenancy(app)  # also adds the `tenants` group
    _register_tenant_hooks(models_on_demand=True)
    from app.platform import cli as _platform_cli  # noqa: F401  (adds `tenants set-plan`)

    return app


def _base_app(config_class: type[Config] | None) -> tuple[Flask, EmbeddedServices]:
    """The Flask object with its configuration and logging (both factories start here)."""
    config_class = config_class or config_from_env()
    config_class.validate()
    app = Flask(__name__, instance_path=str(Path(config_class.INSTANCE_DIR).resolve()))
    app.config.from_object(config_class)
    app.config["CONFIG_CLASS"] = config_class.__name__  # flask doctor names it
    converters.init_app(app)  # before any route: <int:...> ids stay within PostgreSQL integer
    app.config.setdefault("MIGRATIONS_DIR", str(BASE_DIR / "migrations"))
    # Unset DATABASE_URL / REDIS_URL: embedded servers, started on first need (not here).
    embedded = EmbeddedServices(app.config)
    embedded.configure(app.config)

    configure_logging(app)
    for warning in config_class.startup_warnings():  # runs, but should not in production
        app.logger.warning(warning)
    return app, embedded


def _init_database(
    app: Flask, embedded: EmbeddedServices, *, watch_metrics: bool, lean: bool = False
) -> None:
    db.init_app(app)
    with app.app_context():
        # The tenant commands' app makes its Redis client on first use: the embedded Redis
        # starts then, not with the first database connection.
        embedded.init_app(app, db.engines.values(), redis_on_connect=not lean)
        # Pool bounds and checks, cached schema translation, cursors that make columns on use.
        for engine in db.engines.values():
            limit_connection_uses(engine, app.config["DB_POOL_MAX_USES"])
            ping_after_idle(engine, app.config["DB_PING_AFTER_IDLE"])
            cache_schema_translation(engine)
            lean_cursor_descriptions(engine)
        if watch_metrics:
            metrics.watch_engines(db.engines.values())
        if app.config["TENANT_SQL_GUARD"]:  # the test suite: one schema per tenant statement
            for engine in db.engines.values():
                guard_one_schema(engine)


def _init_tenancy(app: Flask) -> None:
    tenants.init_app(
        app,
        platform_blueprints=PLATFORM_BLUEPRINTS,
        any_host_blueprints=ANY_HOST_BLUEPRINTS,
        any_host_endpoints=ANY_HOST_ENDPOINTS,
    )
    # Every process checks its cached resolutions against one generation in Redis
    # (tenants.resolver): changes renew it, so resolutions may be kept TENANT_CACHE_MAX_AGE.
    app.extensions["tenants"].shared = SharedGeneration(lambda: redis_store.client)


def _register_blueprints(app: Flask) -> None:
    from app import console, platform
    from app.accounts import api as accounts_api
    from app.accounts import oauth_views
    from app.accounts import views as account_views
    from app.code import api as code_api
    from app.code import views as code_views
    from app.contracts import api as contracts_api
    from app.contracts import views as contract_views
    from app.core import api_docs, health, metrics_views
    from app.dashboard import views as dashboard_views
    from app.discovery import saved_api
    from app.discovery import saved_views as saved_gig_views
    from app.discovery import viewed_api as recently_viewed_api
    from app.discovery import viewed_views as recently_viewed_views
    from app.disputes import api as disputes_api
    from app.disputes import views as dispute_views
    from app.extensions import api, csrf
    from app.gigs import api as gigs_api
    from app.gigs import views as gig_views
    from app.home import views as home_views
    from app.hourly import api as hourly_api
    from app.hourly import views as hourly_views
    from app.jobs import api as jobs_api
    from app.jobs import views as job_views
    from app.messaging import api as messaging_api
    from app.messaging import views as messaging_views
    from app.notifications import api as notifications_api
    from app.notifications import views as notification_views
    from app.orders import api as orders_api
    from app.orders import views as order_views
    from app.payments import api as payments_api
    from app.payments import billing_views
    from app.payments import views as payment_views
    from app.reviews import api as reviews_api
    from app.reviews import views as review_views
    from app.search import api as search_api
    from app.search import views as search_views
    from app.settings import views as branding_files
    from app.storage import views as storage_views
    from app.webhooks import api as webhooks_api
    from app.workroom import api as workroom_api
    from app.workroom import views as workroom_views

    app.register_blueprint(health.bp)
    app.register_blueprint(metrics_views.bp)  # /metrics, on the platform host only
    app.register_blueprint(api_docs.bp)  # Swagger UI's files for /api/v1/docs
    app.register_blueprint(home_views.home_bp)
    platform.register(app)
    console.register(app)
    app.register_blueprint(storage_views.bp)
    app.register_blueprint(branding_files.bp)  # the uploaded logo and favicon
    app.register_blueprint(account_views.bp)
    app.register_blueprint(oauth_views.bp)  # sign in with GitHub / Google, the "Sign-in methods" page
    app.register_blueprint(gig_views.bp)
    app.register_blueprint(messaging_views.bp)
    app.register_blueprint(notification_views.bp)
    app.register_blueprint(search_views.bp)
    app.register_blueprint(order_views.bp)
    app.register_blueprint(dashboard_views.bp)
    app.register_blueprint(payment_views.bp)
    app.register_blueprint(billing_views.bp)  # /account/billing: the card for hourly weeks
    app.register_blueprint(job_views.bp)
    app.register_blueprint(contract_views.bp)
    app.register_blueprint(dispute_views.bp)
    app.register_blueprint(workroom_views.bp)
    app.register_blueprint(code_views.bp)  # a contract's repositories (and app/code/templates)
    app.register_blueprint(hourly_views.bp)  # time & timesheets of hourly contracts
    app.register_blueprint(review_views.bp)  # also serves app/reviews/templates to the page sections
    app.register_blueprint(recently_viewed_views.bp)  # /recently-viewed
    # Saved gigs: /saved pages, and the Jinja globals the gig card and gig page call (gig_heart...).
    app.register_blueprint(saved_gig_views.bp)
    if app.config["DEMO_WEBHOOK_INBOX"]:  # development and tests: the demo's webhook receiver
        from app.demo import inbox as demo_inbox

        csrf.exempt(demo_inbox.bp)  # signed by the sender; no session
        app.register_blueprint(demo_inbox.bp)
    if app.config["DEMO_OIDC_PROVIDER"]:  # development and tests: a local GitHub / Google
        from app.demo import oidc_provider

        csrf.exempt(oidc_provider.bp)  # a provider's endpoints: no session of ours
        app.register_blueprint(oidc_provider.bp)
    # Stripe signs its webhooks; there is no session or CSRF cookie to check.
    csrf.exempt(payment_views.webhooks_bp)
    app.register_blueprint(payment_views.webhooks_bp)
    # GitHub and GitLab sign their webhooks (a repository link's secret): no session, no CSRF.
    csrf.exempt(code_views.webhooks_bp)
    app.register_blueprint(code_views.webhooks_bp)

    # The API is JSON only and authenticates by token: no CSRF cookie involved.
    accounts_api.register_security_scheme(api)
    from app.core import rate_limits

    rate_limits.register_spec(api)  # the 429 every operation may answer
    for blp in (
        accounts_api.blp,
        gigs_api.blp,
        gigs_api.gigs_blp,
        search_api.blp,
        messaging_api.blp,
        notifications_api.blp,
        orders_api.blp,
        payments_api.blp,
        reviews_api.blp,
        jobs_api.blp,
        contracts_api.blp,
        code_api.blp,
        hourly_api.blp,
        disputes_api.blp,
        saved_api.blp,
        workroom_api.blp,
        recently_viewed_api.blp,
        console.api_blueprint(),
        webhooks_api.blp,  # GET /api/v1/webhook-event-types
    ):
        csrf.exempt(blp)
        api.register_blueprint(blp)
    # Any operation answers 403 to an API key outside its scopes (documented where not already).
    accounts_api.document_key_refusals(api)


def _register_realtime(app: Flask) -> None:
    """Socket.IO: handlers are imported before init_app so every app instance gets them."""
    from app import realtime
    from app.messaging import sockets  # noqa: F401  (registers the chat events)
    from app.workroom import sockets as _workroom_sockets  # noqa: F401  (join_workroom / leave_workroom)

    realtime.init_app(app)


# The marketplace's receivers of the tenancy engine's signals, in the order they run.
TENANT_RECEIVERS = {
    "tenant_seed": (
        "app.settings.seeds:seed_settings",
        "app.gigs.starter_categories:seed_categories",
        "app.jobs.starter_templates:seed_job_templates",
        "app.accounts.services:seed_admin",
    ),
    "tenant_dropped": (
        "app.storage:remove_tenant_files",
        "app.mail.backends:remove_tenant_outbox",
        "app.search.services:remove_tenant_index",
    ),
}


# Connected by the web's and the worker's app only: hand a new tenant's due outbox events (the
# admin's invitation) to the worker at once. A tenant command leaves them to the worker's relay
# (within OUTBOX_RELAY_INTERVAL_SECONDS) and so imports neither redis-py nor RQ.
QUEUEING_TENANT_RECEIVERS = {"tenant_created": ("app.accounts.services:invite_admin",)}


def _register_tenant_hooks(*, models_on_demand: bool = False) -> None:
    """Every table, and the marketplace's receivers of the tenancy engine's signals: what
    ``flask tenants ...`` needs (``create_cli_app``) and the first part of the domain hooks.

    ``models_on_demand`` (the tenant commands): declare the models when the engine first needs
    every table (``tenants.db.whole_metadata``: building a schema, a migration, the one-schema
    guard), and import the receivers' modules (their services, and the models those declare)
    when the first signal is sent (``_on_first_signal``): ``tenants --help`` and ``list`` send
    none and import neither; creating a tenant from a spare schema uses a few models. They
    leave out ``QUEUEING_TENANT_RECEIVERS``."""
    from app.core import after_commit  # noqa: F401  (session listeners)
    from tenants import signals

    receivers = dict(TENANT_RECEIVERS)
    if models_on_demand:
        add_metadata_loader(_import_models)
    else:
        _import_models()
        _import_receivers()
        receivers.update(QUEUEING_TENANT_RECEIVERS)
    for signal_name, paths in receivers.items():
        for path in paths:
            getattr(signals, signal_name).connect(_on_first_signal(path), weak=False)


@cache
def _import_receivers() -> None:
    """Every receiver's module, together: the models they declare are configured as one set,
    whichever signal comes first (a receiver's models may relate to another's). The collector
    is paused while they are declared (``app.core.startup``)."""
    from app.core.startup import collector_paused

    with collector_paused(freeze=False):
        for paths in TENANT_RECEIVERS.values():
            for path in paths:
                __import__(path.split(":")[0])


def _on_first_signal(path: str) -> Callable[..., Any]:
    """The receiver ``module:name``, its module imported (with every receiver's) when a signal
    first calls it; named as the receiver it stands for."""
    module_name, name = path.split(":")

    def receiver(sender: Any, **kwargs: Any) -> Any:
        _import_receivers()
        return getattr(sys.modules[module_name], name)(sender, **kwargs)

    receiver.__module__, receiver.__qualname__, receiver.__name__ = module_name, name, name
    return receiver


def _import_models() -> None:
    for module in MODEL_MODULES:
        __import__(module)  # not importlib.import_module: `python -X importtime` sees these


def _register_domain_hooks() -> None:
    """Connect tenant seeds, event handlers and the hooks a lower domain offers a higher one:
    one explicit list, in order (the domain graph is in docs/architecture.md)."""
    _register_tenant_hooks()  # every model, the seeds, the receivers of tenant creation and drops
    from app.accounts import auth  # noqa: F401  (Flask-Login user loader)
    from app.accounts import events as _account_events  # noqa: F401  (tenant.created -> the admin's invitation)
    from app.accounts.services import register_profile_section, register_seller_listing
    from app.contracts import events as _contract_events  # noqa: F401  (order.completed / cancelled -> contract ended)
    from app.discovery import events as _discovery_events  # noqa: F401  (gig.*, job.*, home.changed ... -> home cache)
    from app.disputes.tasks import run_sweep_loop as run_disputes_sweep_loop
    from app.events import health as _events_health  # noqa: F401  (/readyz, flask doctor: worker, outbox)
    from app.events import metrics as _event_metrics  # noqa: F401  (outbox, RQ queues, workers at scrape time)
    from app.events.cli import register_periodic_loop
    from app.gigs.services import currency_decimals_lock, seller_listing
    from app.hourly import events as _hourly_events  # noqa: F401  (a week funded later, a dispute settled)
    from app.hourly.tasks import run_sweep_loop as run_hourly_sweep_loop
    from app.jobs.matching import register_delivery_source
    from app.ledger.services import currency_lock as ledger_currency_lock
    from app.mail.tasks import run_mail_relay_loop
    from app.messaging import events as _messaging_events  # noqa: F401  (order.* / offer.* -> system messages)
    from app.messaging.services import offer_conversation
    from app.notifications import events as _notification_events  # noqa: F401  (messages, orders, gigs, accounts)
    from app.notifications.tasks import run_email_sweep_loop
    from app.orders.services import currency_lock as orders_currency_lock
    from app.orders.services import register_checkout, register_conversation_lookup
    from app.orders.tasks import run_tick_loop
    from app.payments import events as _payment_events  # noqa: F401  (order.refunded -> provider refund)
    from app.payments.services import start_checkout
    from app.payments.tasks import run_payments_tick_loop
    from app.reviews import events as _review_events  # noqa: F401  (order.completed -> review window)
    from app.reviews.delivery import latest_on_time_rates
    from app.reviews.sections import profile_stats_section
    from app.reviews.tasks import run_reputation_loop
    from app.reviews.tasks import run_sweep_loop as run_reviews_sweep_loop
    from app.search import events as _search_events  # noqa: F401  (gig.* / seller.updated handlers)
    from app.settings.services import register_currency_lock, register_decimals_lock
    from app.storage.tasks import run_sweep_loop as run_upload_scan_sweep_loop
    from app.webhooks import delivery as _webhook_delivery  # noqa: F401  (fan-out: every catalogue event)
    from app.webhooks.tasks import run_sweep_loop as run_webhooks_sweep_loop
    from app.workroom.tasks import run_sweep_loop as run_workroom_reminders_loop

    # Answers a lower domain needs from a higher one (see "Domain graph" in docs/architecture.md).
    register_currency_lock(orders_currency_lock)  # checked first: its reason says the most
    register_currency_lock(ledger_currency_lock)
    register_decimals_lock(currency_decimals_lock)
    register_seller_listing(seller_listing)
    register_profile_section(profile_stats_section)  # a seller's reputation figures
    register_checkout(start_checkout)
    register_delivery_source(latest_on_time_rates)  # job matching's delivery term
    register_conversation_lookup(offer_conversation)
    # Business metrics (orders, GMV, refunds, payouts) from the events each commit made.
    from app.events.business import count_committed
    from app.events.services import register_commit_listener

    register_commit_listener(count_committed)
    # The API's per-credential rate limit names the bearer's key or token family before the view.
    from app.accounts.credentials import bearer_credential
    from app.core.rate_limits import register_credential_resolver

    register_credential_resolver(bearer_credential)
    # The worker's periodic threads. Orders: auto-complete, auto-resolve cancellations, late flags
    # (the tick only enqueues per-tenant jobs under per-slot job ids, so many workers are fine).
    # Payments: hourly earnings clearance and scheduled payouts, enqueued once per period.
    register_periodic_loop("orders-tick", run_tick_loop)
    register_periodic_loop("payments-tick", run_payments_tick_loop)
    # Email owed but lost from Redis (PostgreSQL records it with its due time): notification
    # batches whose delayed job is overdue, and queued emails whose send job is.
    register_periodic_loop("notifications-email-sweep", run_email_sweep_loop)
    register_periodic_loop("mail-relay", run_mail_relay_loop)
    # Reviews: publish both reviews of an order when its window closes; the one reminder before.
    register_periodic_loop("reviews-sweep", run_reviews_sweep_loop)
    # Disputes: the ladder's deadlines (the silent side loses, mediation, the admin's decision).
    register_periodic_loop("disputes-sweep", run_disputes_sweep_loop)
    # Hourly contracts: close finished weeks into timesheets, approve (and bill) unanswered ones.
    register_periodic_loop("hourly-sweep", run_hourly_sweep_loop)
    # Antivirus: uploads left pending (scan job lost or clamd down) are queued for a scan again.
    register_periodic_loop("upload-scan-sweep", run_upload_scan_sweep_loop)
    # Workroom: calendar reminders, once per occurrence of an event.
    register_periodic_loop("workroom-reminders", run_workroom_reminders_loop)
    # Reputation: once per tenant and UTC day, snapshot every seller and assign levels.
    register_periodic_loop("reputation-daily", run_reputation_loop)
    # API keys: their call log is kept 30 days.
    from app.accounts.tasks import run_api_key_calls_loop

    register_periodic_loop("api-key-calls-purge", run_api_key_calls_loop)

    # Webhooks: drains of endpoints with due deliveries (retries, dead senders' leases), the purge.
    register_periodic_loop("webhooks-sweep", run_webhooks_sweep_loop)

    # Reviews on other domains' pages (reviews sits above orders, gigs and accounts): the order
    # page's review banner and forms, the gig page's reviews, and, on a public profile, the
    # reviews as a seller and from sellers (after the reputation stats section).
    from app.disputes import views as dispute_views
    from app.gigs.services import register_gig_section
    from app.orders.services import register_order_section
    from app.reviews import views as review_views

    # Disputes first: an open dispute's banner goes above everything else of the order.
    register_order_section(dispute_views.order_section)
    register_order_section(review_views.order_section)
    # A contract's engagement (an order of kind "contract") is worked on the contract's page.
    from app.contracts import views as contract_views
    from app.orders.services import register_engagement_page

    register_engagement_page("contract", contract_views.engagement_url)
    # Ending an hourly contract closes its running week first (app.hourly sits above contracts).
    from app.contracts.services import register_hourly_ender
    from app.hourly.services import end_hourly

    register_hourly_ender(end_hourly)
    # The workroom's link (and the board's counts) on the contract page.
    from app.contracts.services import register_contract_section
    from app.workroom import views as workroom_views

    register_contract_section(workroom_views.contract_section)
    # Code & CI (code sits above contracts and orders): the contract page's "Repository"
    # section, and the PRs, CI and previews under a contract milestone's submission.
    from app.code import views as code_views
    from app.orders.services import register_milestone_note

    register_contract_section(code_views.contract_section)
    register_milestone_note(code_views.milestone_note)
    # The contract page's hourly part: this week against the limit, timesheets to review.
    from app.hourly import views as hourly_views

    register_contract_section(hourly_views.contract_section)
    # Hourly's card in the workroom's side panel (this week's time vs the limit).
    from app.hourly.panels import workroom_panel as hourly_workroom_panel
    from app.workroom.services import register_side_panel

    register_side_panel(hourly_workroom_panel)
    register_gig_section(review_views.gig_section)
    # Discovery (above gigs): a signed-in visitor's gig page view, for "Recently viewed" (renders nothing).
    from app.discovery.viewed import gig_page_section as record_gig_view

    register_gig_section(record_gig_view)
    register_profile_section(review_views.profile_section)


def _register_cli(app: Flask) -> None:
    from app.core import idempotency
    from app.core.cli import embedded_cli
    from app.core.doctor import doctor_command
    from app.demo.cli import demo_cli
    from app.events.cli import events_cli, worker_command
    from app.hourly.cli import hourly_cli
    from app.ledger.cli import ledger_cli
    from app.mail.cli import mail_cli
    from app.payments.cli import payments_cli
    from app.platform.cli import platform_cli
    from app.reviews.cli import reviews_cli
    from app.search.cli import search_cli
    from app.storage.cli import storage_cli

    for command in (
        doctor_command,  # readiness checks and configuration findings
        worker_command,
        events_cli,
        embedded_cli,
        demo_cli,
        mail_cli,
        search_cli,
        ledger_cli,
        payments_cli,
        platform_cli,
        reviews_cli,
        hourly_cli,
        storage_cli,
    ):
        app.cli.add_command(command)
    # The idempotency_keys table, and idempotency_field() for the money forms' templates.
    idempotency.init_app(app)


def _register_template_context(app: Flask) -> None:
    from app.accounts.models import SELLER_LEVELS
    from app.core import money
    from app.orders.services import milestone_notes
    from app.settings.services import get_branding, money_defaults

    # The `money` filter; amounts default to the bound marketplace's currency and locale.
    money.init_app(app, money_defaults)
    # A global (imported macros such as _reputation.html's level_badge see no render context).
    app.jinja_env.globals["seller_level_labels"] = SELLER_LEVELS
    # Notes higher domains add under a milestone (orders/_milestones.html).
    app.jinja_env.globals["milestone_notes"] = milestone_notes

    @app.context_processor
    def _branding():
        tenant = getattr(g, "tenant", None)
        return {"branding": get_branding() if tenant else None, "current_tenant": tenant}


def security_headers(config) -> list[tuple[str, str]]:
    """The headers every response carries (HTML pages add framing and CSP rules): HSTS when
    configured, no MIME sniffing, the referrer policy. The liveness probe's answer
    (``app.core.health.LivenessProbe``) carries them too."""
    headers = []
    hsts_seconds = int(config.get("HSTS_SECONDS") or 0)
    if hsts_seconds > 0:
        subdomains = "; includeSubDomains" if config.get("HSTS_INCLUDE_SUBDOMAINS") else ""
        headers.append(("Strict-Transport-Security", f"max-age={hsts_seconds}{subdomains}"))
    headers.append(("X-Content-Type-Options", "nosniff"))
    headers.append(("Referrer-Policy", "strict-origin-when-cross-origin"))
    return headers


def _register_security_headers(app: Flask) -> None:
    from app.core.csp import csp_nonce

    # No before_request hook: csp_nonce() makes the nonce on first use (a template's or the
    # header's below), so JSON, static files and probes never pay for one.
    @app.context_processor
    def _nonce_ctx():
        return {"csp_nonce": csp_nonce()}

    @app.after_request
    def _headers(response):
        for name, value in security_headers(app.config):
            response.headers.setdefault(name, value)
        # Every HTML page, the API's docs page (/api/v1/docs) included.
        if response.mimetype == "text/html":
            response.headers.setdefault("X-Frame-Options", "DENY")
            nonce = csp_nonce()
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data: https:; "
                f"style-src 'self' 'nonce-{nonce}'; script-src 'self' 'nonce-{nonce}'; "
                "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
            )
        return response
