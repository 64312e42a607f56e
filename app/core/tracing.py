"""Traces (OpenTelemetry): a span per request, per job, per SQL statement and Redis command, and
the trace id on every log line (app.core.logging_setup), so a request and the jobs it caused can
be found together.

``TRACING_ENABLED`` (default on) gives every request a span (Flask instrumentation) and every RQ
job a CONSUMER span continuing the trace of whoever enqueued it (``app.extensions.TracedJob``).
What is recorded depends on ``OTEL_EXPORTER_OTLP_ENDPOINT``:

- unset: the sampler records nothing. Spans are non-recording but still get real trace and span
  ids, which the logs and the jobs' ``traceparent`` carry; SQL and Redis are not instrumented
  (their spans could only be thrown away). Near-zero cost.
- set (the collector's base URL, ``/v1/traces`` is added): spans go out in batches over
  OTLP/HTTP; SQL statements (text with placeholders, never the parameters) and Redis commands
  become child spans. A trace starts at a request or a job only (the worker's queue polling and
  the periodic loops' housekeeping start none), sampled at ``OTEL_TRACES_SAMPLE_RATIO``; a
  request carrying a W3C ``traceparent`` (a gateway's) continues that trace and its decision.

One TracerProvider per configuration and process (resource ``service.name`` =
``OTEL_SERVICE_NAME``); the first one made is also the global provider, which the jobs' spans
use. ``create_app`` may run many times in one process (tests): each app and each engine is
instrumented once, and an exporting configuration gets one exporter however many apps share it.
"""

from __future__ import annotations

import threading

from flask import Flask
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import __version__ as _sqlalchemy_instrumentation_version
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tenants.db import db

# Probes and scrapes: frequent, uninteresting, and they would crowd out the sampled traces.
EXCLUDED_URLS = r"/(healthz|readyz|metrics)(\?|$)"
TRACES_PATH = "/v1/traces"

_lock = threading.Lock()
_id_generator = RandomIdGenerator()
_propagator = TraceContextTextMapPropagator()
_providers: dict[tuple, TracerProvider] = {}
_global_set = False


class RootsAtRequestsAndJobs(Sampler):
    """Sample a new trace only at a request (SERVER span) or a job (CONSUMER span), with
    ``ratio``; a SQL statement or Redis command outside both (the worker polling its queues, a
    periodic loop) starts no trace of its own."""

    def __init__(self, ratio: float):
        self._ratio = TraceIdRatioBased(ratio)

    def should_sample(
        self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None
    ) -> SamplingResult:
        if kind in (trace.SpanKind.SERVER, trace.SpanKind.CONSUMER):
            return self._ratio.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return f"RootsAtRequestsAndJobs{{{self._ratio.get_description()}}}"


def otlp_traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base ``endpoint`` (as the standard variable)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def provider_for(config) -> TracerProvider:
    """The process's TracerProvider for this configuration (made once; the first is global)."""
    global _global_set
    endpoint = config["OTEL_EXPORTER_OTLP_ENDPOINT"].strip()
    ratio = float(config["OTEL_TRACES_SAMPLE_RATIO"])
    key = (config["OTEL_SERVICE_NAME"], endpoint, ratio if endpoint else None)
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            resource = Resource.create({SERVICE_NAME: config["OTEL_SERVICE_NAME"]})
            if endpoint:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                provider = TracerProvider(
                    resource=resource, sampler=ParentBased(RootsAtRequestsAndJobs(ratio))
                )
                provider.add_span_processor(
                    BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_traces_url(endpoint)))
                )
            else:
                # Not ParentBased: an incoming sampled traceparent must not make us record
                # spans nobody exports. Ids are still generated (and a parent's trace id kept).
                provider = TracerProvider(resource=resource, sampler=ALWAYS_OFF)
            _providers[key] = provider
            if not _global_set:
                trace.set_tracer_provider(provider)
                _global_set = True
        return provider


def exporting(app: Flask) -> bool:
    return bool(app.config["TRACING_ENABLED"] and app.config["OTEL_EXPORTER_OTLP_ENDPOINT"].strip())


def init_app(app: Flask) -> None:
    """Trace the app's requests (and, when exporting, its SQL and Redis); a no-op when
    ``TRACING_ENABLED`` is off. Call after ``db.init_app`` (the app's engines exist)."""
    if not app.config["TRACING_ENABLED"]:
        return
    provider = provider_for(app.config)
    app.extensions["tracing"] = provider
    if not exporting(app):
        # Ids only: a span nobody records needs none of the Flask instrumentation's attributes,
        # semantic conventions and timing (measured: most of tracing's cost per request).
        if not app.extensions.get("tracing_ids"):  # once: later layers (Socket.IO) wrap it
            app.wsgi_app = TraceIdsMiddleware(app.wsgi_app)
            app.extensions["tracing_ids"] = True
        return
    if not getattr(app, "_is_instrumented_by_opentelemetry", False):
        FlaskInstrumentor.instrument_app(
            app,
            tracer_provider=provider,
            excluded_urls=EXCLUDED_URLS,
            enable_commenter=False,  # it attaches a context it never detaches; SQL stays as written
        )
    with app.app_context():
        engines = list(db.engines.values())
    for engine in engines:
        trace_engine(engine, provider)
    instrumentor = RedisInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)  # the redis client classes: once per process


class TraceIdsMiddleware:
    """Without an exporter: each request runs in a non-recording span with fresh ids (the trace
    id of an incoming W3C ``traceparent`` kept), so its log lines and the jobs it enqueues carry
    them; nothing else is done. ``/socket.io`` connections get none (they outlive requests)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/socket.io"):
            return self.wsgi_app(environ, start_response)
        trace_id = 0
        incoming = environ.get("HTTP_TRACEPARENT")
        if incoming:
            parent = trace.get_current_span(_propagator.extract({"traceparent": incoming})).get_span_context()
            trace_id = parent.trace_id if parent.is_valid else 0
        span = trace.NonRecordingSpan(
            trace.SpanContext(
                trace_id=trace_id or _id_generator.generate_trace_id(),
                span_id=_id_generator.generate_span_id(),
                is_remote=False,
                trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT),
            )
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            otel_context.detach(token)


def trace_engine(engine, provider: TracerProvider) -> None:
    """A CLIENT span per statement of ``engine`` (once per engine).

    ``SQLAlchemyInstrumentor().instrument(engine=...)`` instruments one engine per process (a
    second call is refused as "already instrumented"), hence its EngineTracer directly."""
    if getattr(engine, "_gigforge_traced", False):
        return
    tracer = trace.get_tracer(
        "opentelemetry.instrumentation.sqlalchemy",
        _sqlalchemy_instrumentation_version,
        tracer_provider=provider,
    )
    connections = NoOpMeter("gigforge").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine, connections, enable_commenter=False)
    engine._gigforge_traced = True


def current_ids() -> tuple[str, str]:
    """(trace id, span id) of the current span as hex, ``("-", "-")`` outside a valid one."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return "-", "-"
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")
