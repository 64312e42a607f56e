"""Traces: ids on every log line, one trace across a request and the RQ jobs it caused, nothing
when tracing is off, and spans really exported over OTLP/HTTP when a collector is configured."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flask import Flask
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from rq import Queue

from app.accounts.models import User
from app.core import tracing
from app.core.logging_setup import TEXT_FORMAT, ContextFilter
from app.extensions import TRACE_META_KEY, TracedJob, get_queue
from app.gigs import services as gig_services
from tenants.db import db
from tests.gigs.conftest import first_subcategory_id, gig_data
from tests.helpers import bearer_headers, wait_until
from tests.observability.receiver import Receiver

TRACE_ID = re.compile(r"[0-9a-f]{32}")
SPAN_ID = re.compile(r"[0-9a-f]{16}")
REPO = Path(__file__).resolve().parents[2]

log = logging.getLogger(__name__)


class Lines(logging.Handler):
    """The records the app's handler would write, with its filter (request, tenant, trace)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.addFilter(ContextFilter())
        self.setFormatter(logging.Formatter(TEXT_FORMAT))
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def matching(self, text: str) -> list[logging.LogRecord]:
        return [r for r in self.records if text in r.getMessage()]


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="app.extensions")  # "enqueued job ..."
    handler = Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


# --- jobs of the chain test (RQ imports them by name) -------------------------------------------


def enqueue_child(marker: str) -> None:
    log.info("parent job %s", marker)
    get_queue("default").enqueue(log_child, marker)


def log_child(marker: str) -> None:
    log.info("child job %s", marker)


def _failed_login(client):
    response = client.post("/api/v1/auth/token", json={"email": "nobody@example.com", "password": "x" * 12})
    assert response.status_code == 401, response.json
    return response


# --- (a) a request's log lines ------------------------------------------------------------------


def test_request_log_lines_carry_its_trace_and_span_ids(acme, tenant_client, lines):
    client = tenant_client("acme")
    first = _failed_login(client)
    second = _failed_login(client)

    def refused(response):
        [record] = [
            r for r in lines.matching("login failed") if r.request_id == response.headers["X-Request-ID"]
        ]
        return record

    record = refused(first)
    assert record.tenant == "acme"
    assert TRACE_ID.fullmatch(record.trace_id) and SPAN_ID.fullmatch(record.span_id)
    assert f"[{record.request_id} acme trace={record.trace_id} span={record.span_id}]" in lines.format(record)
    assert refused(second).trace_id != record.trace_id  # one trace per request

    log.info("outside any request")
    [outside] = lines.matching("outside any request")
    assert (outside.trace_id, outside.span_id) == ("-", "-")


# --- (b) the request and its jobs share one trace ----------------------------------------------


def test_a_request_and_the_event_jobs_it_caused_share_one_trace_id(
    app, acme, make_seller, tenant_client, in_tenant, run_jobs, lines
):
    seller_id = make_seller(acme, email="seller@example.com")
    with in_tenant(acme):
        seller = db.session.get(User, seller_id)
        gig = gig_services.create_gig(seller, gig_data(category_id=first_subcategory_id()))
        db.session.commit()
        gig_id = gig.id
    client = tenant_client("acme")
    headers = bearer_headers(client, "seller@example.com")

    response = client.post(f"/api/v1/gigs/{gig_id}/publish", headers=headers)
    assert response.status_code == 200, response.json
    request_lines = [r for r in lines.records if r.request_id == response.headers["X-Request-ID"]]
    assert [r for r in request_lines if r.getMessage().startswith("enqueued job")]  # gig.published's delivery
    [trace_id] = {r.trace_id for r in request_lines}
    assert TRACE_ID.fullmatch(trace_id)
    queued = Queue(app.config["EVENT_QUEUE"], connection=app.extensions["redis"]).get_jobs()
    # The seller's own events were enqueued by the test, outside any request: no trace to carry.
    [job] = [job for job in queued if TRACE_META_KEY in job.meta]
    assert job.meta[TRACE_META_KEY]["traceparent"].split("-")[1] == trace_id

    run_jobs()
    [started] = lines.matching(f"job {job.id} app.events.tasks.deliver_event started")
    assert started.trace_id == trace_id
    assert started.span_id not in {r.span_id for r in request_lines}  # a span of its own
    others = [r for r in lines.matching("app.events.tasks.deliver_event started") if r is not started]
    assert others and all(TRACE_ID.fullmatch(r.trace_id) and r.trace_id != trace_id for r in others)


def test_a_job_enqueued_by_a_job_continues_the_trace(app, run_jobs, lines):
    with app.app_context(), trace.get_tracer("test").start_as_current_span("caller") as span:
        get_queue("default").enqueue(enqueue_child, "m-1")
    trace_id = format(span.get_span_context().trace_id, "032x")

    run_jobs()
    [parent] = lines.matching("parent job m-1")
    [child] = lines.matching("child job m-1")
    assert parent.trace_id == child.trace_id == trace_id
    assert parent.span_id != child.span_id
    assert {r.trace_id for r in lines.matching(f"{__name__}.log_child started")} == {trace_id}


def test_a_job_enqueued_outside_any_span_starts_a_trace_of_its_own(app, run_jobs, lines):
    with app.app_context():
        job = get_queue("default").enqueue(log_child, "m-2")  # a periodic tick does this
    assert TRACE_META_KEY not in job.meta

    run_jobs()
    [child] = lines.matching("child job m-2")
    assert TRACE_ID.fullmatch(child.trace_id)


# --- (c) tracing off ----------------------------------------------------------------------------


def _bare_app(redis_connection, **config) -> Flask:
    """A bare Flask app (a second create_app would rebind the suite app's extensions)."""
    bare = Flask(f"bare-{len(config)}")
    defaults = {
        "TRACING_ENABLED": True,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "OTEL_SERVICE_NAME": "gigforge",
        "OTEL_TRACES_SAMPLE_RATIO": 1.0,
    }
    bare.config.update({**defaults, **config})

    @bare.get("/work")
    def work():
        log.info("working")
        job = TracedJob.create(log_child, args=("bare",), connection=redis_connection)
        return {"traced": TRACE_META_KEY in job.meta}

    return bare


def test_with_tracing_off_nothing_is_instrumented_and_ids_are_dashes(app, lines):
    bare = _bare_app(app.extensions["redis"], TRACING_ENABLED=False)
    tracing.init_app(bare)
    assert "tracing" not in bare.extensions and not getattr(bare, "_is_instrumented_by_opentelemetry", False)

    response = bare.test_client().get("/work")
    assert response.json == {"traced": False}  # no traceparent for the job either
    [record] = lines.matching("working")
    assert (record.trace_id, record.span_id) == ("-", "-")


def test_with_tracing_on_an_app_is_instrumented_once(app, lines):
    bare = _bare_app(app.extensions["redis"])
    tracing.init_app(bare)
    tracing.init_app(bare)  # create_app runs again, or a second call: nothing stacks
    # Without an exporter: the ids middleware, once (the Flask instrumentation only when exporting).
    assert isinstance(bare.wsgi_app, tracing.TraceIdsMiddleware)
    assert not isinstance(bare.wsgi_app.wsgi_app, tracing.TraceIdsMiddleware)

    response = bare.test_client().get("/work")
    assert response.json == {"traced": True}
    [record] = lines.matching("working")
    assert TRACE_ID.fullmatch(record.trace_id) and SPAN_ID.fullmatch(record.span_id)
    # The suite's app too: one middleware, however often init_app ran.
    tracing.init_app(app)
    layers, wsgi = 0, app.wsgi_app
    while wsgi is not None:
        layers += isinstance(wsgi, tracing.TraceIdsMiddleware)
        wsgi = getattr(wsgi, "wsgi_app", None)
    assert layers == 1


# --- (d) exported over OTLP/HTTP ----------------------------------------------------------------

_EXPORTING_APP = textwrap.dedent(
    """
    import os
    from config import TestingConfig
    from app import create_app

    class Exporting(TestingConfig):
        SQLALCHEMY_DATABASE_URI = os.environ["T_DATABASE_URL"]
        REDIS_URL = os.environ["T_REDIS_URL"]
        INSTANCE_DIR = os.environ["T_INSTANCE_DIR"]
        TRACING_ENABLED = True
        OTEL_EXPORTER_OTLP_ENDPOINT = os.environ["T_OTLP"]
        OTEL_SERVICE_NAME = "gigforge-trace-test"
        OTEL_TRACES_SAMPLE_RATIO = 1.0

    app = create_app(Exporting)
    response = app.test_client().post(
        "/api/v1/auth/token",
        json={"email": "nobody@example.com", "password": "not-the-password"},
        base_url="http://" + os.environ["T_HOST"] + "/",
    )
    assert response.status_code == 401, response.status_code
    app.extensions["tracing"].force_flush()
    print("trace", response.headers["X-Request-ID"])
    """
)


def _spans(export: bytes) -> tuple[dict, list]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(export)
    resources, spans = {}, []
    for resource_spans in request.resource_spans:
        for attribute in resource_spans.resource.attributes:
            resources[attribute.key] = attribute.value.string_value
        for scope_spans in resource_spans.scope_spans:
            spans.extend(scope_spans.spans)
    return resources, spans


def test_with_a_collector_configured_spans_are_exported_over_otlp_http(app, acme, tmp_path):
    """A separate process (the global TracerProvider and Redis instrumentation are per process):
    the real create_app with OTEL_EXPORTER_OTLP_ENDPOINT, one request, a flush."""
    with Receiver() as collector:
        env = {
            **os.environ,
            "T_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "T_REDIS_URL": app.config["REDIS_URL"],
            "T_INSTANCE_DIR": str(tmp_path),
            "T_OTLP": f"http://127.0.0.1:{collector.port}",
            "T_HOST": f"acme.{app.config['BASE_DOMAIN']}",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        }
        (tmp_path / "metrics").mkdir()
        result = subprocess.run(
            [sys.executable, "-c", _EXPORTING_APP],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        exports = wait_until(lambda: collector.received("/v1/traces"), message="no OTLP export arrived")

    assert {k.lower(): v for k, v in exports[0].headers.items()}["content-type"] == "application/x-protobuf"
    resources, spans = {}, []
    for export in exports:
        found_resources, found_spans = _spans(export.body)
        resources.update(found_resources)
        spans.extend(found_spans)
    assert resources["service.name"] == "gigforge-trace-test"
    [server] = [s for s in spans if s.kind == s.SPAN_KIND_SERVER]
    assert server.name == "POST /api/v1/auth/token"
    children = [s for s in spans if s.parent_span_id == server.span_id]
    assert any(s.name.startswith("SELECT") for s in children)  # SQLAlchemy
    assert {s.trace_id for s in spans} == {server.trace_id}  # nothing else started a trace
    # Statements are exported with placeholders, never their parameters.
    assert all(b"nobody@example.com" not in export.body for export in exports)
