"""The lean request path: what health probes, static files and cookie-less requests skip.

- ``LEAN_ENDPOINTS`` (``/healthz``, ``/readyz``, static files) are answered on any host without
  tenant resolution, a database session or a unit of work (``tenants.init_app`` returns before
  it marks the request as tenancy's), and Flask-Limiter's per-request lookup of decorated limits
  is skipped for them (none has one). Metrics, the request id and the security headers still
  apply to them.
- Flask-Limiter's ``before_request`` check evaluates only application, default and blueprint
  limits (a decorated view or callable checks its own limit when it runs); while none is
  configured (ours are all decorated, and the API's are ``app.core.rate_limits``'), every
  request skips it instead of resolving the endpoint's limits to find nothing.
- ``SessionInterface``: Flask's signed-cookie sessions, except that a request without a session
  cookie (probes, static files, API clients, first visits) gets its empty session without
  building the signing serializer; a cookie is read and saved exactly as Flask does.

See docs/design/performance.md, "The request path".
"""

from __future__ import annotations

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

LEAN_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "static"})


def is_lean_request() -> bool:
    return request.endpoint in LEAN_ENDPOINTS


class SessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def middleware_has_limits(limiter) -> bool:
    """Whether Flask-Limiter's before_request check has anything to evaluate: application,
    default or blueprint limits (decorated limits are checked by their decorators)."""
    manager = limiter.limit_manager
    return bool(manager._application_limits or manager._default_limits or manager._blueprint_limits)


def _lean_limiter_check(limiter):
    check = limiter._check_request_limit

    def check_request_limit():
        if middleware_has_limits(limiter):
            return check()
        return None

    return check, check_request_limit


def init_app(app: Flask, limiter) -> None:
    app.session_interface = SessionInterface()
    limiter.request_filter(is_lean_request)
    original, lean = _lean_limiter_check(limiter)
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks[:] = [lean if hook == original else hook for hook in hooks]
