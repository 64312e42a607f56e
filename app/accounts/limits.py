"""Rate limits of the account endpoints (Flask-Limiter on the app's Redis).

Every key names the tenant, so one marketplace's traffic never uses up
another's budget, and the per-account key hashes the (lower-cased) email so
no address is written to Redis in clear. The API reuses these for its token
endpoint: ``@limiter.limit(per_ip("login"), key_func=ip_key("login"))``.
"""

from __future__ import annotations

import hashlib

from flask import current_app, request
from flask_limiter.util import get_remote_address

from tenants.db import current_tenant_or_none


def _tenant_part() -> str:
    tenant = current_tenant_or_none()
    return f"t{tenant.id}" if tenant is not None else "platform"


def _submitted_email() -> str:
    email = request.form.get("email")
    if email is None:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    return str(email or "").strip().lower()


def ip_key(scope: str):
    """Key function: the tenant, the scope and the client IP."""

    def key() -> str:
        return f"{_tenant_part()}:{scope}:ip:{get_remote_address()}"

    return key


def account_key(scope: str):
    """Key function: the tenant, the scope and the submitted email (hashed)."""

    def key() -> str:
        digest = hashlib.sha256(_submitted_email().encode()).hexdigest()[:32]
        return f"{_tenant_part()}:{scope}:account:{digest}"

    return key


def configured(setting: str):
    """A limit value read from the config at request time (tests can change it)."""
    return lambda: current_app.config[setting]
