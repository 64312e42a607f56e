"""Liveness and readiness, answered on any host (load balancers call by IP).

``/healthz``: the process answers (liveness; touches nothing). ``/readyz``: every registered
check (readiness), as ``{"status": "ok"|"degraded"|"unavailable", "checks": {name: {...}}}``;
503 when a critical check fails, 200 otherwise (a failing non-critical check makes the status
``degraded``). ``flask doctor`` (``app/core/doctor.py``) prints the same checks.

Checks are registered with ``register_check(name, fn, critical=...)``: core registers the
database and Redis (critical), ``app.events.health`` the worker heartbeat and the outbox backlog
(not critical: a web node taken out of rotation because the worker is down makes the outage
worse; alerts page someone instead). ``fn()`` returns ``{"status": "ok"|"fail", ...details}``;
details are figures and exception class names, never a URL or a secret. Each check runs
guarded (an exception becomes ``{"status": "fail", "error": "<ExceptionClass>"}``) and with
short timeouts, so a hung dependency answers ``fail`` instead of hanging the probe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import Blueprint, current_app, jsonify
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.core import logging_setup
from app.extensions import redis_store
from tenants.db import db

# Seconds a probe waits for PostgreSQL's answer or Redis's (connecting, then each reply).
PROBE_TIMEOUT_SECONDS = 2.0

OK = "ok"
FAIL = "fail"

bp = Blueprint("health", __name__)


@dataclass(frozen=True)
class Check:
    name: str
    fn: Callable[[], dict]
    critical: bool


_checks: dict[str, Check] = {}


def register_check(name: str, fn: Callable[[], dict], *, critical: bool) -> None:
    """Have ``/readyz`` and ``flask doctor`` run ``fn()`` (in an app context) as check ``name``.

    ``critical``: its failure makes ``/readyz`` answer 503 (the node leaves the load balancer)
    and ``flask doctor`` exit 1. Registering a name again replaces it; checks run in the order
    they were first registered."""
    _checks[name] = Check(name, fn, critical)


def registered_checks() -> list[Check]:
    return list(_checks.values())


def run_check(check: Check) -> dict:
    """One check's result: its ``fn()`` guarded, with ``latency_ms`` (the check's own, if it
    measured one, else the whole call)."""
    started = time.perf_counter()
    try:
        result = dict(check.fn())
        if result.get("status") not in (OK, FAIL):
            result = {"status": FAIL, "error": "InvalidCheckResult"}
    except Exception as exc:  # report, don't crash: this is the health check
        result = {"status": FAIL, "error": type(exc).__name__}
    result.setdefault("latency_ms", _ms_since(started))
    return result


def run_checks() -> tuple[str, dict[str, dict]]:
    """Every registered check: the overall status (``ok``, ``degraded``: a non-critical check
    failed, ``unavailable``: a critical one did) and each check's result by name."""
    results: dict[str, dict] = {}
    failed = critical_failed = False
    for check in registered_checks():
        results[check.name] = result = run_check(check)
        if result["status"] == FAIL:
            failed = True
            critical_failed = critical_failed or check.critical
    return ("unavailable" if critical_failed else "degraded" if failed else OK), results


@bp.get("/healthz")
def healthz():
    """Flask's own answer; ``LivenessProbe`` answers GET and HEAD before Flask is reached."""
    return jsonify(status="ok")


class LivenessProbe:
    """The outermost WSGI layer: ``GET``/``HEAD /healthz`` (the liveness probe, asked every few
    seconds by every load balancer) answered with the route's own body and headers (the
    security headers, ``X-Request-ID``) and counted in the HTTP metrics under ``/healthz``,
    without Socket.IO's, tracing's or Flask's per-request work (docs/design/performance.md, "The
    request path"). Any other path or method goes on to the application."""

    BODY = b'{"status":"ok"}\n'
    ROUTE = "/healthz"

    def __init__(self, wsgi_app, config, headers: list[tuple[str, str]]):
        from app.core import metrics

        self.wsgi_app = wsgi_app
        self.headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(self.BODY))),
            *headers,
        ]
        self.observe = metrics.observe_request if config["METRICS_ENABLED"] else None

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") != self.ROUTE or method not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        request_id = logging_setup.request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        start_response("200 OK", [*self.headers, ("X-Request-ID", request_id)])
        if self.observe is not None:
            self.observe(self.ROUTE, method, 200, time.perf_counter() - started)
        return [b""] if method == "HEAD" else [self.BODY]


@bp.get("/readyz")
def readyz():
    status, checks = run_checks()
    response = jsonify(status=status, checks=checks)
    response.status_code = 503 if status == "unavailable" else 200
    response.headers["Cache-Control"] = "no-store"
    return response


# -- Core's checks --------------------------------------------------------------------------------
def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def check_database() -> dict:
    """``SELECT 1`` in a transaction whose statements may last ``PROBE_TIMEOUT_SECONDS``."""
    started = time.perf_counter()
    with db.engine.connect() as conn, conn.begin():
        # SET LOCAL: the pooled connection gets its usual timeout back at the end of the transaction.
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(PROBE_TIMEOUT_SECONDS * 1000)}")
        conn.exec_driver_sql("SELECT 1").scalar_one()
    return {"status": OK, "latency_ms": _ms_since(started)}


def probe_redis() -> redis.Redis:
    """A client of the app's Redis for the probes: same server, short timeouts, no retries (the
    app's client may wait on a reply for ever). One per app client and timeout, kept in
    ``app.extensions``."""
    client = redis_store.client
    cached = current_app.extensions.get("health_redis")
    if cached is None or cached[0] is not client or cached[1] != PROBE_TIMEOUT_SECONDS:
        pool = client.connection_pool
        kwargs = {
            **pool.connection_kwargs,
            "socket_timeout": PROBE_TIMEOUT_SECONDS,
            "socket_connect_timeout": PROBE_TIMEOUT_SECONDS,
            "retry": Retry(NoBackoff(), 0),
        }
        probe = redis.Redis(
            connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
        )
        cached = (client, PROBE_TIMEOUT_SECONDS, probe)
        current_app.extensions["health_redis"] = cached
    return cached[2]


def check_redis() -> dict:
    started = time.perf_counter()
    probe_redis().ping()
    return {"status": OK, "latency_ms": _ms_since(started)}


register_check("database", check_database, critical=True)
register_check("redis", check_redis, critical=True)
