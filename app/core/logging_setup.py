"""Logging: a request ID and the tenant on every line; JSON in production."""

from __future__ import annotations

import logging
import sys
import uuid

from flask import g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from tenants.db import current_tenant_or_none

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s %(tenant)s] %(name)s: %(message)s"


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(g, "request_id", "-") if has_request_context() else "-"
        tenant = current_tenant_or_none()
        record.tenant = tenant.slug if tenant else "-"
        return True


def configure_logging(app) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if app.config["LOG_JSON"]:
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(tenant)s")
        )
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

    @app.before_request
    def _assign_request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-ID"] = getattr(g, "request_id", "")
        return response
