"""Error reports (sentry-sdk), when ``SENTRY_DSN`` is set.

Unhandled errors of requests and jobs (and ERROR log lines, sentry's logging integration) are
reported with the tags ``tenant`` (slug), ``tenant_id``, ``request_id`` and ``trace_id`` (the
OpenTelemetry trace of app.core.tracing: the same id as on the log lines).

Personal data stays out: the SDK's default collection (neither ``send_default_pii``, which
sentry-sdk 2.75 deprecates, nor its ``data_collection`` given: no user, cookies or personal
headers), no request bodies read, no local variables in stack frames, and ``scrub_event``
removes the user, cookies, credentials and client-address headers, request bodies and query
strings, and replaces email addresses anywhere in the event (messages, exception values,
breadcrumbs, extras) with ``[email]``.
"""

from __future__ import annotations

import re

from flask import Flask, g, has_request_context

from tenants.db import TenantRef, current_tenant_or_none

# sentry-sdk (and its RQ integration, and OpenTelemetry's SDK through app.core.tracing) is
# imported when reports are on or asked about, not by every process that imports this module.

EMAIL_RE = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
EMAIL_SUBSTITUTE = "[email]"
# Request headers never reported: credentials, cookies and the client's address (personal data).
DROPPED_HEADERS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-csrf-token",
    "x-csrftoken",
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
}
DROPPED_REQUEST_KEYS = ("cookies", "data", "query_string", "env")

_configured: tuple | None = None


def init_app(app: Flask) -> None:
    """Start sentry-sdk for this process when ``SENTRY_DSN`` is set (again only when the
    configuration changed: ``create_app`` may run many times)."""
    global _configured
    dsn = app.config["SENTRY_DSN"].strip()
    if not dsn:
        return
    key = (dsn, app.config["SENTRY_ENVIRONMENT"], float(app.config["SENTRY_TRACES_SAMPLE_RATE"]))
    if _configured == key:
        return
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=app.config["SENTRY_ENVIRONMENT"] or None,
        traces_sample_rate=float(app.config["SENTRY_TRACES_SAMPLE_RATE"]),
        integrations=[FlaskIntegration(), RqIntegration()],
        max_request_body_size="never",
        include_local_variables=False,
        before_send=scrub_event,
        before_send_transaction=scrub_event,
    )
    _configured = key


def tag_job(tenant: TenantRef) -> None:
    """Tag what a job reports with its tenant (app.core.jobs.tenant_job_context calls it): RQ's
    integration reports a failed job after the job left its tenant context."""
    if _configured is None:
        return  # never started in this process: nothing reports
    import sentry_sdk

    from app.core.tracing import current_ids

    if not sentry_sdk.get_client().is_active():
        return
    scope = sentry_sdk.get_current_scope()  # RqIntegration gives each job a scope of its own
    scope.set_tag("tenant", tenant.slug)
    scope.set_tag("tenant_id", str(tenant.id))
    trace_id, _ = current_ids()
    if trace_id != "-":
        scope.set_tag("trace_id", trace_id)


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """``before_send``: tag the event with what is bound now, then remove personal data."""
    from app.core.tracing import current_ids

    tags = event.setdefault("tags", {})
    if has_request_context():
        tags["request_id"] = getattr(g, "request_id", "-")
    tenant = current_tenant_or_none()
    if tenant is not None:
        tags["tenant"] = tenant.slug
        tags["tenant_id"] = str(tenant.id)
    trace_id, _ = current_ids()
    if trace_id != "-":
        tags["trace_id"] = trace_id

    event.pop("user", None)
    request_info = event.get("request")
    if isinstance(request_info, dict):
        for key in DROPPED_REQUEST_KEYS:
            request_info.pop(key, None)
        if isinstance(request_info.get("url"), str):
            request_info["url"] = request_info["url"].split("?", 1)[0]
        headers = request_info.get("headers")
        if isinstance(headers, dict):
            request_info["headers"] = {
                name: value for name, value in headers.items() if name.lower() not in DROPPED_HEADERS
            }
    return _without_emails(event)


def _without_emails(value):
    if isinstance(value, str):
        return EMAIL_RE.sub(EMAIL_SUBSTITUTE, value) if "@" in value else value
    if isinstance(value, dict):
        return {_without_emails(key): _without_emails(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without_emails(item) for item in value)
    return value
