"""Errors: JSON in one shape under /api/, HTML pages elsewhere.

A database or Redis that cannot be reached answers 503 (with ``Retry-After``), in the API's
JSON shape under /api/ and as a template-free page elsewhere; never a 500.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from urllib.parse import urlsplit

import redis
import sqlalchemy as sa
from flask import flash, g, make_response, redirect, render_template, request
from markupsafe import escape
from werkzeug.exceptions import (
    Conflict,
    HTTPException,
    InternalServerError,
    ServiceUnavailable,
    UnprocessableEntity,
    default_exceptions,
)

from app.core.csp import csp_nonce
from app.core.domain_errors import DomainError, api_payload
from app.extensions import api
from tenants.db import db
from tenants.resolver import UNKNOWN

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have access to this page.",
    404: "The page you are looking for does not exist.",
    405: "This method is not allowed here.",
    413: "The request is too large.",
    429: "Too many requests. Please wait a moment and try again.",
    500: "Something went wrong on our side. We have been notified.",
    503: "This marketplace is temporarily unavailable.",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


# An unknown host's 404 names nobody (no tenant, no platform) and loads nothing from the server:
# its style is inline under this request's CSP nonce, its icon an empty data: URL (so the
# browser does not ask for /favicon.ico, which would be another 404 in the console).
_BARE_404 = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Page not found</title><link rel="icon" href="data:,">
<style nonce="{nonce}">
body {{ margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #222325; background: #f7f7f8; }}
main {{ text-align: center; padding: 2rem 1.5rem; max-width: 30rem; }}
h1 {{ font-size: 4rem; margin: 0; color: #404145; }}
p {{ font-size: 1.1rem; color: #62646a; margin: .5rem 0 0; }}
</style></head>
<body><main><h1>404</h1><p>There is nothing at this address.</p></main></body></html>
"""


def _html(exc: HTTPException):
    code = exc.code or 500
    if g.get("host_kind") == UNKNOWN:
        # An unknown host learns nothing, not even whose server this is.
        return _BARE_404.format(nonce=csp_nonce()), 404, {"Content-Type": "text/html; charset=utf-8"}
    message = MESSAGES.get(code, exc.description)
    if code not in MESSAGES and exc.description:
        message = exc.description
    return (
        render_template(
            "errors/error.html",
            code=code,
            title=exc.name,
            message=message,
            suspended=getattr(g, "suspended_tenant", None),
        ),
        code,
    )


def handle_http_exception(exc: HTTPException):
    if wants_json():
        if exc.code == 413 and not getattr(exc, "data", None):
            # Werkzeug's own limit (a chunked body read past it) says nothing; say what happened.
            exc.data = {"message": MESSAGES[413]}
        # flask-smorest's handler produces {code, status, message?, errors?}.
        response = api.handle_http_exception(exc)
        return response
    return _html(exc)


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle_http_exception(InternalServerError())


def _same_site_referrer() -> str | None:
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != request.host or parts.path == request.path and request.method == "GET":
        return None
    return referrer


def handle_domain_error(exc: DomainError):
    """A service refused: JSON under /api/; on the web, the message flashed on the page the
    browser came from (a form view that redisplays itself catches the error before this).

    The request's work is rolled back first: the page shown must not see it, and the web's
    answer may be a redirect, which the unit of work would otherwise commit."""
    from app.core import unit_of_work

    if request.environ.get("gigforge.tenancy") and not unit_of_work.kept():
        unit_of_work.abandon()
    http_class = default_exceptions.get(exc.status, InternalServerError)
    if wants_json():
        http_exc = http_class()
        http_exc.data = api_payload(exc)
        return api.handle_http_exception(http_exc)
    back = _same_site_referrer() if request.method != "GET" else None
    if back and exc.status < 500:
        flash(exc.message, "error")
        return redirect(back, 303)
    return _html(http_class(description=exc.message))


def handle_data_error(exc: sa.exc.DataError):
    """The database refused a value (out of range, NUL in text...): bad input that slipped past
    the edge guards (``app.core.schema``, ``app.core.forms``), so a 422, and logged to be fixed
    at the edge. The unit of work rolls the request back."""
    log.warning("database refused a value on %s %s: %s", request.method, request.path, exc.orig)
    http_exc = UnprocessableEntity()
    http_exc.data = {"message": "A value in the request is out of the range this field accepts."}
    if wants_json():
        return api.handle_http_exception(http_exc)
    return _html(UnprocessableEntity(description=http_exc.data["message"]))


_UNAVAILABLE_PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8>"
    '<meta name=viewport content="width=device-width, initial-scale=1">'
    "<title>503 Service Unavailable</title></head>"
    '<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem">'
    "<h1>503</h1><p>{name}is temporarily unavailable. Please try again in a moment.</p></body></html>"
)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "The service is temporarily unavailable. Try again in a moment."


def _unavailable(kind: str, exc: Exception):
    """A backing service (the database, Redis) is out of reach: a clear 503, never a 500.

    The HTML page is built without templates: the usual page needs the very services that are
    gone (branding, the signed-in user, the bell). The pool recovers on its own
    (a connection idle for ``DB_PING_AFTER_IDLE`` is pinged on checkout, and one that fails
    replaces the pool's older connections), so the next request after the outage works.
    """
    log.warning("%s unavailable on %s %s: %s", kind, request.method, request.path, exc)
    with suppress(Exception):
        db.session.rollback()  # a dead connection goes back invalidated, not half-used
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if wants_json():
        response = make_response(
            api.handle_http_exception(
                ServiceUnavailable(
                    description="The service is temporarily unavailable. Try again in a moment."
                )
            )
        )
        response.headers.update(headers)
        return response
    if g.get("host_kind") == UNKNOWN:
        return _BARE_404, 404, {"Content-Type": "text/html; charset=utf-8"}
    tenant = g.get("tenant")
    name = f"{escape(tenant.name)} " if tenant is not None else "This site "
    return _UNAVAILABLE_PAGE.format(name=name), 503, {"Content-Type": "text/html; charset=utf-8", **headers}


def handle_database_error(exc: sa.exc.DBAPIError):
    """OperationalError / InterfaceError: the database is down, restarting, or the pool is
    exhausted -> 503. A serialization failure or deadlock (also an OperationalError) is a
    conflict worth retrying -> 409, as when the unit of work's commit meets one."""
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    if sqlstate in ("40001", "40P01"):
        with suppress(Exception):
            db.session.rollback()
        return handle_http_exception(
            Conflict(description="This changed at the same time elsewhere. Reload and try again.")
        )
    return _unavailable("database", exc)


def handle_pool_timeout(exc: sa.exc.TimeoutError):
    return _unavailable("database pool", exc)


def handle_redis_error(exc: redis.RedisError):
    return _unavailable("Redis", exc)


def register_error_handlers(app) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(sa.exc.DataError, handle_data_error)
    app.register_error_handler(sa.exc.OperationalError, handle_database_error)
    app.register_error_handler(sa.exc.InterfaceError, handle_database_error)
    app.register_error_handler(sa.exc.TimeoutError, handle_pool_timeout)
    app.register_error_handler(redis.ConnectionError, handle_redis_error)
    app.register_error_handler(redis.TimeoutError, handle_redis_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
