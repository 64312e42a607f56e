"""Extensions, created unbound; ``create_app`` binds them.

The web's extensions (``migrate``, ``api``, ``csrf``, ``login_manager``, ``socketio``,
``limiter``) are made on first use, each once per process (``__getattr__`` below): a process
that never serves a request, like ``flask tenants create``, does not import Flask-Smorest,
Flask-SocketIO, Flask-Limiter, Flask-WTF or Flask-Migrate (Alembic) for them. Likewise the
app's Redis client (``redis_store.client``) and RQ (``get_queue``, ``TracedJob``): a process
that never talks to Redis imports neither redis-py nor RQ.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from flask import current_app
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tenants.db import db

if TYPE_CHECKING:
    import redis
    from flask_limiter import Limiter
    from flask_login import LoginManager
    from flask_migrate import Migrate
    from flask_smorest import Api
    from flask_socketio import SocketIO
    from flask_wtf import CSRFProtect
    from rq import Queue

__all__ = [
    "db",
    "migrate",
    "api",
    "csrf",
    "login_manager",
    "limiter",
    "redis_store",
    "get_queue",
    "socketio",
    "TracedJob",
]

log = logging.getLogger(__name__)

# Made on first use (``__getattr__``): declared here for readers and type checkers only.
TracedJob: type  # an rq.job.Job subclass (_make_traced_job)
migrate: Migrate
api: Api
csrf: CSRFProtect
login_manager: LoginManager
socketio: SocketIO
limiter: Limiter


def _make_migrate():
    from flask_migrate import Migrate

    return Migrate()


def _make_api():
    from flask_smorest import Api

    return Api()


def _make_csrf():
    from flask_wtf import CSRFProtect

    return CSRFProtect()


def _make_login_manager():
    from flask_login import LoginManager

    return LoginManager()


def _make_socketio():
    from flask_socketio import SocketIO

    # Bound by app.realtime.init_app (Redis message queue, threading async mode).
    return SocketIO()


def _make_limiter():
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    # No default limits: routes opt in with keys that carry the tenant (see app/accounts/views.py).
    # Storage is the app's Redis: create_app sets RATELIMIT_STORAGE_URI from REDIS_URL.
    return Limiter(key_func=get_remote_address)


_LAZY = {
    "TracedJob": lambda: _make_traced_job(),  # defined below, with RQ
    "migrate": _make_migrate,
    "api": _make_api,
    "csrf": _make_csrf,
    "login_manager": _make_login_manager,
    "socketio": _make_socketio,
    "limiter": _make_limiter,
}
_lazy_lock = threading.Lock()


def __getattr__(name: str):
    """``from app.extensions import api`` (and the others in ``_LAZY``): the one instance of the
    process, made on first use. Once made it is a module global, so this runs once per name."""
    make = _LAZY.get(name)
    if make is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _lazy_lock:
        if name not in globals():
            globals()[name] = make()
        return globals()[name]


def limiter_storage_uri(redis_url: str) -> str:
    """The `limits` URI of our Redis (the embedded one listens on a Unix socket)."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url


# Connections per Redis client pool in one process. redis-py 8 caps a pool at 100 and answers
# "Too many connections" past it; a process with more threads or greenlets talking to Redis at
# once (the web's 100 threads plus its sockets' events, the realtime process's hundreds of
# sockets) got errors and, in python-socketio's publisher, "Cannot publish to redis...
# retrying" with a reconnect each time. A pool only grows to the concurrency it sees.
REDIS_MAX_CONNECTIONS = 2000


def connect_redis(url: str) -> redis.Redis:
    """The app's Redis client for ``url``.

    redis-py's default retries a lost connection 10 times with backoff: about 3 s per command
    while Redis is down, so a page with a few cached reads hung ~10 s before answering. Two
    quick retries ride out a blip; a real outage fails fast and is handled (a cache read falls
    back to the database, the sweeps catch up on what was not enqueued, the rest answers 503).
    """
    import redis
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2),
        socket_connect_timeout=2,
        max_connections=REDIS_MAX_CONNECTIONS,
    )


class RedisStore:
    """One Redis client per app (bytes in, bytes out: RQ needs that), kept in
    ``app.extensions["redis"]``. The web's and the worker's app make it at start
    (``init_app``); a tenant command's app on first use (``client``), so a command that never
    talks to Redis (``flask tenants create``) does not import redis-py. The first use also
    starts the app's embedded Redis when it runs one (``app.extensions["embedded"]``); redis-py
    connects on the first command anyway."""

    _lock = threading.Lock()

    def init_app(self, app):
        app.extensions["redis"] = connect_redis(app.config["REDIS_URL"])

    @property
    def client(self) -> redis.Redis:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        client = app.extensions.get("redis")
        if client is None:
            with self._lock:
                client = app.extensions.get("redis")
                if client is None:
                    embedded = app.extensions.get("embedded")
                    if embedded is not None:
                        embedded.ensure(postgres=False)
                    client = app.extensions["redis"] = connect_redis(app.config["REDIS_URL"])
        return client


redis_store = RedisStore()


TRACE_META_KEY = "otel"  # job.meta[TRACE_META_KEY]: the W3C trace context of whoever enqueued the job
_propagator = TraceContextTextMapPropagator()
_job_tracer = trace.get_tracer("gigforge.rq")  # a proxy: follows the provider app.core.tracing sets


def _make_traced_job() -> type:
    """``TracedJob`` (``app.extensions.TracedJob``, made on first use with RQ's import)."""
    from rq.job import Job

    class TracedJob(Job):
        """An RQ job that carries the trace of whoever enqueued it (the request, or the job
        that enqueued this one) and runs inside a CONSUMER span continuing that trace, so the
        log lines of a request and of every job it caused share one trace id
        (app.core.tracing).

        Enqueueing stores the current span's W3C ``traceparent`` in ``job.meta["otel"]``
        (nothing when there is no span: tracing off, a periodic tick). It lives here, the lowest
        layer, because every queue is built here (``get_queue``); it needs only the
        OpenTelemetry API.
        """

        @classmethod
        def create(cls, *args, **kwargs) -> TracedJob:
            job = super().create(*args, **kwargs)
            carrier: dict[str, str] = {}
            _propagator.inject(carrier)
            if carrier:
                job.meta = {**job.meta, TRACE_META_KEY: carrier}
                log.debug("enqueued job %s %s", job.id, job.func_name)
            return job

        def perform(self):
            parent = _propagator.extract(self.meta.get(TRACE_META_KEY) or {}, context=otel_context.Context())
            with _job_tracer.start_as_current_span(
                f"rq {self.func_name}",
                context=parent,
                kind=trace.SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "rq",
                    "messaging.destination.name": self.origin,
                    "messaging.message.id": self.id,
                    "code.function.name": self.func_name or "",
                },
            ):
                log.info("job %s %s started", self.id, self.func_name)
                return super().perform()

    TracedJob.__module__ = __name__
    TracedJob.__qualname__ = "TracedJob"  # pickled by reference as app.extensions.TracedJob
    return TracedJob


def get_queue(name: str | None = None) -> Queue:
    from rq import Queue

    name = name or current_app.config["EVENT_QUEUE"]
    job_class = globals().get("TracedJob") or __getattr__("TracedJob")
    return Queue(
        name, connection=redis_store.client, is_async=current_app.config["RQ_ASYNC"], job_class=job_class
    )
