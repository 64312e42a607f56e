"""Prometheus metrics: every metric of Gigforge is defined here, recorded where it happens and
served at ``/metrics`` on the platform host only (``app/core/metrics_views.py``).

Multiprocess mode. Gunicorn's workers, the RQ worker and the dev server are separate processes;
each writes its values to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics``
adds them up (``prometheus_client.multiprocess``). The directory must be set before
``prometheus_client`` is imported anywhere, so ``app/__init__.py`` calls ``prepare_environment``
first of all; it is one directory per deployment on a host, emptied when the deployment starts
(``clean_directory``: the gunicorn master's ``on_starting``, ``make run``, the test session) and
never while processes write to it. A dead process's live gauges are dropped
(``mark_process_dead``, gunicorn's ``child_exit``); its counters and histograms stay, so totals
never go backwards.

Cardinality. No label ever holds a raw path, an id, a user, a host or a tenant, except
``tenant`` on the two ``gigforge_tenant_*`` metrics, whose values are the slugs listed in
``METRICS_TENANT_LABELS`` (an operator's opt-in, a handful) and ``other``: 10,000 tenants make
no more series than 2. Routes are Flask's route templates (``/gigs/<int:gig_id>``), a fixed
set; unmatched paths are ``unmatched``. Methods outside the usual seven are ``other``. Event
names come from the code's catalogue, queues from config, currencies from Babel's list.

Values computed at scrape time (outbox backlog, queue depths, worker heartbeats) are not stored
in files: the serving process asks PostgreSQL and Redis through the collectors registered with
``register_scrape_collector`` (app/events/metrics.py), cached for a few seconds.
"""

from __future__ import annotations

import contextvars
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger(__name__)

ENV_DIR = "PROMETHEUS_MULTIPROC_DIR"


def prepare_environment() -> str:
    """Name the multiprocess directory before ``prometheus_client`` is imported (idempotent).

    ``PROMETHEUS_MULTIPROC_DIR`` when set (gunicorn's config, ``make run``, the tests set it);
    otherwise ``METRICS_DIR``; otherwise ``<INSTANCE_DIR>/metrics``. Returns the directory."""
    path = os.environ.get(ENV_DIR) or os.environ.get("METRICS_DIR")
    if not path:
        from config import config_from_env

        path = str(Path(config_from_env().INSTANCE_DIR) / "metrics")
    os.environ[ENV_DIR] = path
    Path(path).mkdir(parents=True, exist_ok=True)
    return path


def clean_directory(path: str | None = None, *, keep_pid: int | None = None) -> str:
    """Empty the multiprocess directory: only when the deployment starts, before the other
    processes of it write there (values of an earlier start would be added to this one's).

    ``keep_pid``: the calling process's own files stay (it has them open already: a process
    that imported the app before cleaning, like ``make run``'s server)."""
    path = path or os.environ.get(ENV_DIR) or prepare_environment()
    if keep_pid is None:
        shutil.rmtree(path, ignore_errors=True)
    else:
        for file in Path(path).glob("*.db"):
            if not file.name.endswith(f"_{keep_pid}.db"):
                file.unlink(missing_ok=True)
    Path(path).mkdir(parents=True, exist_ok=True)
    return path


prepare_environment()

from prometheus_client import (  # noqa: E402  (after the directory is named: see above)
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

NAMESPACE = "gigforge"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
COUNT_BUCKETS = (1, 2, 5, 10, 20, 30, 50, 100, 200, 500)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
OTHER = "other"

# -- HTTP ---------------------------------------------------------------------------------------
http_requests = Counter(
    "http_requests_total",
    "HTTP requests by route template, method and status class",
    ["route", "method", "status"],
    namespace=NAMESPACE,
)
http_duration = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template and method",
    ["route", "method"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
http_in_progress = Gauge(
    "http_requests_in_progress",
    "HTTP requests being served (Socket.IO connections excluded)",
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)
tenant_requests = Counter(
    "tenant_http_requests_total",
    "HTTP requests of the opted-in tenants (METRICS_TENANT_LABELS); every other tenant is 'other'",
    ["tenant", "status"],
    namespace=NAMESPACE,
)
tenant_duration = Histogram(
    "tenant_http_request_duration_seconds",
    "HTTP latency of the opted-in tenants (METRICS_TENANT_LABELS); every other tenant is 'other'",
    ["tenant"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)

# -- Tenancy ------------------------------------------------------------------------------------
tenant_resolutions = Counter(
    "tenant_resolutions_total",
    "Host -> tenant resolutions by cache result (hit, miss)",
    ["result"],
    namespace=NAMESPACE,
)
unknown_hosts = Counter(
    "unknown_host_requests_total", "Requests answered 404 for an unknown host", namespace=NAMESPACE
)
suspended_requests = Counter(
    "suspended_tenant_requests_total", "Requests answered 503 for a suspended tenant", namespace=NAMESPACE
)

# -- Database -----------------------------------------------------------------------------------
db_pool_checked_out = Gauge(
    "db_pool_checked_out",
    "Database connections checked out of the pools",
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)
db_pool_overflow = Gauge(
    "db_pool_overflow",
    "Connections open beyond the pools' size (negative: room left before overflow)",
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)
db_queries = Counter("db_queries_total", "SQL statements sent, by any process", namespace=NAMESPACE)
db_slow_queries = Counter(
    "db_slow_queries_total", "SQL statements slower than DB_SLOW_QUERY_MS", namespace=NAMESPACE
)
db_queries_per_request = Histogram(
    "db_queries_per_request",
    "SQL statements sent while serving one HTTP request",
    namespace=NAMESPACE,
    buckets=COUNT_BUCKETS,
)
db_seconds_per_request = Histogram(
    "db_query_seconds_per_request",
    "Time spent in SQL statements while serving one HTTP request",
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)

# -- Events and jobs ------------------------------------------------------------------------------
events_published = Counter(
    "events_published_total", "Outbox events committed, by name", ["event"], namespace=NAMESPACE
)
events_handled = Counter(
    "events_handled_total",
    "Outbox event deliveries by name and outcome (dispatched, failed)",
    ["event", "outcome"],
    namespace=NAMESPACE,
)
event_lag = Histogram(
    "event_lag_seconds",
    "From an outbox event's commit to its handlers starting",
    namespace=NAMESPACE,
    buckets=LAG_BUCKETS,
)
jobs = Counter(
    "jobs_total",
    "RQ jobs by queue and outcome (success, failure, retry)",
    ["queue", "outcome"],
    namespace=NAMESPACE,
)
job_duration = Histogram(
    "job_duration_seconds",
    "RQ job run time by queue",
    ["queue"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
relay_redeliveries = Counter(
    "outbox_relay_redeliveries_total",
    "Outbox events the relay enqueued again (their first delivery looked lost)",
    namespace=NAMESPACE,
)

# -- Real time ------------------------------------------------------------------------------------
socket_clients = Gauge(
    "socketio_connected_clients",
    "Socket.IO clients connected to this deployment's web processes",
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)
socket_messages = Counter(
    "socketio_messages_total",
    "Socket.IO events received from clients, by event name",
    ["event"],
    namespace=NAMESPACE,
)
socket_emit = Histogram(
    "socketio_emit_seconds",
    "Time to publish one emit (to the Redis message queue or the local sockets)",
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)

# -- Business -------------------------------------------------------------------------------------
orders = Counter(
    "orders_total",
    "Orders by transition committed (placed, paid, completed, cancelled, refunded)",
    ["state"],
    namespace=NAMESPACE,
)
gmv = Counter(
    "gmv_minor_units_total",
    "Gross merchandise value of paid orders, in minor units, by currency",
    ["currency"],
    namespace=NAMESPACE,
)
refunds = Counter(
    "refunds_minor_units_total",
    "Refunded amounts in minor units, by currency",
    ["currency"],
    namespace=NAMESPACE,
)
payouts = Counter("payouts_total", "Payouts by outcome (paid, failed)", ["outcome"], namespace=NAMESPACE)
payout_amounts = Counter(
    "payouts_minor_units_total",
    "Amounts paid out in minor units, by currency",
    ["currency"],
    namespace=NAMESPACE,
)
payments = Counter(
    "payments_total",
    "Payments with the provider by outcome (succeeded, failed)",
    ["outcome"],
    namespace=NAMESPACE,
)
webhook_deliveries = Counter(
    "webhook_deliveries_total",
    "Webhook delivery attempts to partners by outcome (delivered, failed)",
    ["outcome"],
    namespace=NAMESPACE,
)
search_queries = Counter(
    "search_queries_total", "Search queries by backend", ["backend"], namespace=NAMESPACE
)
search_duration = Histogram(
    "search_duration_seconds",
    "Search query latency by backend",
    ["backend"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
emails = Counter("emails_total", "Emails by outcome (sent, failed)", ["outcome"], namespace=NAMESPACE)


# -- Scrape-time collectors -----------------------------------------------------------------------
_scrape_collectors: list[Callable[[], Iterable]] = []


def register_scrape_collector(collect: Callable[[], Iterable]) -> None:
    """``collect()`` yields prometheus_client metric families, computed when ``/metrics`` is
    scraped, in the process that serves it (values that live in PostgreSQL or Redis)."""
    if collect not in _scrape_collectors:
        _scrape_collectors.append(collect)


class _FunctionCollector:
    def __init__(self, fn):
        self._fn = fn

    def collect(self):
        try:
            yield from self._fn()
        except Exception:  # a scrape must answer with what it has
            log.exception("metrics collector %s failed", getattr(self._fn, "__name__", self._fn))


def render() -> tuple[bytes, str]:
    """The exposition text of every process of this deployment, plus the scrape-time values."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for fn in _scrape_collectors:
        registry.register(_FunctionCollector(fn))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Drop a dead process's live gauges (gunicorn's ``child_exit``, the worker's exit)."""
    multiprocess.mark_process_dead(pid)


# -- Labels ---------------------------------------------------------------------------------------
def method_label(method: str) -> str:
    return method if method in METHODS else OTHER


def status_label(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else OTHER


# -- Per-request database statements ---------------------------------------------------------------
class _RequestDB:
    __slots__ = ("count", "seconds")

    def __init__(self):
        self.count = 0
        self.seconds = 0.0


_request_db: contextvars.ContextVar[_RequestDB | None] = contextvars.ContextVar(
    "gigforge_request_db", default=None
)
_statement_started: contextvars.ContextVar[float] = contextvars.ContextVar(
    "gigforge_statement_started", default=0.0
)


def _before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
    _statement_started.set(time.perf_counter())


def _make_after_cursor_execute(slow_seconds: float):
    def _after_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        elapsed = time.perf_counter() - _statement_started.get()
        stats = _request_db.get()
        if stats is not None:  # counted into db_queries once, at the request's end
            stats.count += 1
            stats.seconds += elapsed
        else:  # a job, a CLI command
            db_queries.inc()
        if elapsed >= slow_seconds:
            db_slow_queries.inc()
            log.warning("slow query (%.0f ms): %s", elapsed * 1000, " ".join(statement.split())[:300])

    return _after_cursor_execute


_engines: list = []  # the engines of this process (watch_engines); their pool is read each time


def sample_pools() -> None:
    """Set the pool gauges from this process's pools (at the end of each request: a sample, not
    an event per checkout, which would cost two file writes per connection used)."""
    checked_out = overflow = 0
    for engine in _engines:
        pool = engine.pool  # a dispose() replaces it
        checked_out += pool.checkedout() if hasattr(pool, "checkedout") else 0
        overflow += pool.overflow() if hasattr(pool, "overflow") else 0
    db_pool_checked_out.set(checked_out)
    db_pool_overflow.set(overflow)


class _Children(dict):
    """A metric's labelled children by label values (``labels()`` takes a lock each call)."""

    def __init__(self, metric):
        super().__init__()
        self.metric = metric

    def __missing__(self, key):
        child = self[key] = self.metric.labels(*key)
        return child


_http_requests = _Children(http_requests)
_http_duration = _Children(http_duration)


# -- HTTP -----------------------------------------------------------------------------------------
def observe_request(route: str, method: str, status: int, elapsed: float) -> None:
    """Count one answered request and its duration under its route template."""
    method = method_label(method)
    _http_requests[route, method, status_label(status)].inc()
    _http_duration[route, method].observe(elapsed)


class MetricsMiddleware:
    """The outermost WSGI layer: the request's start, the in-flight gauge and the per-request
    statement counter. The observation itself is made in ``after_request`` (the route template
    is known there), which every response passes, errors included."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/socket.io"):
            return self.wsgi_app(environ, start_response)  # long-lived: not a request to time
        environ["gigforge.started"] = time.perf_counter()
        token = _request_db.set(_RequestDB())
        http_in_progress.inc()
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            http_in_progress.dec()
            _request_db.reset(token)


def init_app(app) -> None:
    """Record HTTP, tenancy and database metrics for ``app`` (unless ``METRICS_ENABLED`` is off).

    Call early in ``create_app``: the ``after_request`` hook registered here then runs after
    every later one and sees the final status."""
    app.extensions["metrics_enabled"] = bool(app.config["METRICS_ENABLED"])
    if not app.config["METRICS_ENABLED"]:
        return
    import sqlalchemy as sa
    from flask import g, request

    slow = app.config["DB_SLOW_QUERY_MS"] / 1000.0
    if not getattr(sa.engine.Engine, "_gigforge_metrics", False):  # once per process
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", _before_cursor_execute)
        sa.event.listen(sa.engine.Engine, "after_cursor_execute", _make_after_cursor_execute(slow))
        sa.engine.Engine._gigforge_metrics = True

    @app.after_request
    def _observe_request(response):
        started = request.environ.get("gigforge.started")
        if started is None:  # a request made without the middleware (a nested test context)
            return response
        elapsed = time.perf_counter() - started
        rule = request.url_rule
        observe_request(
            rule.rule if rule is not None else "unmatched", request.method, response.status_code, elapsed
        )
        host_kind = g.get("host_kind")
        if host_kind == "unknown" and response.status_code == 404:
            unknown_hosts.inc()
        elif g.get("suspended_tenant") is not None and response.status_code == 503:
            suspended_requests.inc()
        tenant = g.get("tenant")
        # Read per request (a handful of slugs): an operator's opt-in is a config change. Nobody
        # opted in: nothing to record (the route metrics above already count everyone).
        opted_in = app.config["METRICS_TENANT_LABELS"]
        if tenant is not None and opted_in:
            label = tenant.slug if tenant.slug in opted_in else OTHER
            tenant_requests.labels(label, status_label(response.status_code)).inc()
            tenant_duration.labels(label).observe(elapsed)
        stats = _request_db.get()
        if stats is not None:
            if stats.count:
                db_queries.inc(stats.count)
            db_queries_per_request.observe(stats.count)
            db_seconds_per_request.observe(stats.seconds)
        sample_pools()
        return response

    app.wsgi_app = MetricsMiddleware(app.wsgi_app)


def watch_resolver(app) -> None:
    """Count the tenant resolver's cache hits and misses (after ``tenants.init_app``)."""
    resolver = app.extensions.get("tenants")
    if resolver is not None and app.config["METRICS_ENABLED"]:
        resolver.on_resolve = lambda result: tenant_resolutions.labels(result).inc()


def watch_engines(engines) -> None:
    """Pool gauges for each engine (after ``db.init_app``)."""
    for engine in engines:
        if engine not in _engines:
            _engines.append(engine)
