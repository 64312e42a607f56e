"""Rate limits of the account endpoints (Flask-Limiter on the app's Redis).

Every key names the tenant, so one marketplace's traffic never uses up
another's budget, and the per-account key hashes the (lower-cased) email so
no address is written to Redis in clear.

Logging in has two doors, the web form (``accounts.login``) and the API
(``POST /api/v1/auth/token``), and one budget per IP and one per account
behind both: ``login_limits`` puts the same shared limits (same scopes, same
keys) on each, so an attacker cannot double their guesses by alternating.
"""

from __future__ import annotations

import hashlib

from flask import current_app, request, session
from flask_limiter.util import get_remote_address

from app.extensions import limiter
from tenants.db import current_tenant_or_none


def _tenant_part() -> str:
    tenant = current_tenant_or_none()
    return f"t:{tenant.id}" if tenant is not None else "platform"


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


def account_digest(email: str | None) -> str:
    """The hashed (lower-cased) email naming an account in the per-account keys."""
    return hashlib.sha256(str(email or "").strip().lower().encode()).hexdigest()[:32]


# The session key of a sign-in waiting for its second factor (app/accounts/two_factor_views.py);
# its ``k`` is the account's digest, so the code step spends the account's login budget.
PENDING_LOGIN_KEY = "pending_2fa"


def _pending_account_digest() -> str | None:
    pending = session.get(PENDING_LOGIN_KEY)
    digest = pending.get("k") if isinstance(pending, dict) else None
    return digest if isinstance(digest, str) else None


def account_key(scope: str):
    """Key function: the tenant, the scope and the submitted email (hashed); without an email
    (the two-factor code step), the account of the pending sign-in."""

    def key() -> str:
        email = _submitted_email()
        digest = (not email and _pending_account_digest()) or account_digest(email)
        return f"{_tenant_part()}:{scope}:account:{digest}"

    return key


def configured(setting: str):
    """A limit value read from the config at request time (tests can change it)."""
    return lambda: current_app.config[setting]


def login_limits(view):
    """The login budgets (per IP, per account; each per tenant) shared by the web form and the API.

    ``shared_limit`` keys the counters by scope instead of by endpoint, so a
    guess through either door spends the one budget. Only POSTs count.
    """
    per_account = limiter.shared_limit(
        configured("RATELIMIT_LOGIN_PER_ACCOUNT"),
        scope="login-account",
        key_func=account_key("login"),
        methods=["POST"],
    )
    per_ip = limiter.shared_limit(
        configured("RATELIMIT_LOGIN_PER_IP"), scope="login-ip", key_func=ip_key("login"), methods=["POST"]
    )
    return per_ip(per_account(view))
