"""Logging: a request ID, the tenant and the trace on every line; JSON in production.

``trace_id`` / ``span_id`` (32 / 16 hex, ``-`` outside a span) come from the current
OpenTelemetry span (app.core.tracing): a request's lines and those of the jobs it caused
share the trace id."""

from __future__ import annotations

import logging
import sys
import uuid

from flask import g, has_request_context, request
from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from tenants.db import current_tenant_or_none

TEXT_FORMAT = (
    "%(asctime)s %(levelname)s [%(request_id)s %(tenant)s trace=%(trace_id)s span=%(span_id)s] "
    "%(name)s: %(message)s"
)
JSON_FIELDS = (
    "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(tenant)s %(trace_id)s %(span_id)s"
)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(g, "request_id", "-") if has_request_context() else "-"
        tenant = current_tenant_or_none()
        record.tenant = tenant.slug if tenant else "-"
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_id = format(span_context.trace_id, "032x")
            record.span_id = format(span_context.span_id, "016x")
        else:
            record.trace_id = record.span_id = "-"
        return True


def configure_logging(app) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if app.config["LOG_JSON"]:
        handler.setFormatter(JsonFormatter(JSON_FIELDS))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    # Replace only our own handler on repeated create_app calls (tests).
    root.handlers = [h for h in root.handlers if not getattr(h, "_gigforge", False)]
    handler._gigforge = True
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # Alembic 1.20 logs each of its built-in plugins at INFO when it is imported (seven lines at
    # every start of the whole app); its migrations' own lines stay.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    @app.before_request
    def _assign_request_id():
        g.request_id = request_id(request.headers.get("X-Request-ID", ""))

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-ID"] = getattr(g, "request_id", "")
        return response


def request_id(incoming: str) -> str:
    """The request's id: the caller's ``X-Request-ID`` when it is printable and at most 64
    characters, else a new one."""
    return incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
