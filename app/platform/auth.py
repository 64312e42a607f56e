"""Platform admin sessions, separate from the tenant users' Flask-Login sessions.

The session key ``platform_admin`` holds ``<admin id>:<stamp>``; the stamp comes from
the password hash, so a password change ends every other session, and a disabled
admin's sessions end at once. ``platform_admin_at`` holds the login time: a session
lives at most ``PLATFORM_SESSION_MAX_AGE`` seconds (default 12 hours).

A session is honoured only on the platform host (no tenant bound), and only through
this key: a tenant user's session (``_user_id``, ``tenant_id``) is worth nothing here,
and a platform session is worth nothing on a tenant host (cookies are host-only, and
platform routes do not exist there anyway).

Two-factor sign-in is always required: the password alone only opens a *pending* sign-in
(``platform_pending``: admin id, password stamp, next page, start time; it lives
``PENDING_MAX_AGE`` seconds, 10 minutes) which the enrolment page or the code page turns
into a session. No platform page opens on a pending sign-in.
"""

from __future__ import annotations

import functools
import hashlib
import time

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_limiter.util import get_remote_address

from app.accounts.limits import configured
from app.extensions import limiter
from app.platform.models import PlatformAdmin
from app.platform.services import password_stamp, session_stamp
from tenants.db import current_tenant_or_none, db

SESSION_KEY = "platform_admin"
SESSION_STARTED_KEY = "platform_admin_at"
DEFAULT_MAX_AGE = 12 * 3600
PENDING_KEY = "platform_pending"
PENDING_MAX_AGE = 10 * 60


def start_session(admin: PlatformAdmin) -> None:
    """Log ``admin`` in on a brand-new session (whatever the cookie held before is dropped)."""
    session.clear()
    # A form rendered after this in the same request needs a CSRF token of the new session.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    session[SESSION_KEY] = f"{admin.id}:{session_stamp(admin)}"
    session[SESSION_STARTED_KEY] = int(time.time())
    g.platform_admin = admin


def end_session() -> None:
    session.clear()
    g.platform_admin = None


def _max_age() -> int:
    return int(current_app.config.get("PLATFORM_SESSION_MAX_AGE", DEFAULT_MAX_AGE))


def current_platform_admin() -> PlatformAdmin | None:
    """The signed-in platform admin of this request, or None (memoised on ``g``)."""
    if "platform_admin" in g:
        return g.platform_admin
    g.platform_admin = _load()
    return g.platform_admin


def _load() -> PlatformAdmin | None:
    if current_tenant_or_none() is not None or g.get("tenant") is not None:
        return None  # fail closed: never on a tenant host
    raw = session.get(SESSION_KEY)
    if not isinstance(raw, str):
        return None
    admin_id, _, stamp = raw.partition(":")
    started = session.get(SESSION_STARTED_KEY)
    if not isinstance(started, int) or not (0 <= time.time() - started <= _max_age()):
        g.platform_session_expired = True
        return None
    try:
        admin = db.session.get(PlatformAdmin, int(admin_id))
    except (TypeError, ValueError):
        return None
    if admin is None or admin.status != "active" or stamp != session_stamp(admin):
        return None
    return admin


def platform_admin_required(view):
    """The login page for anyone who is not a signed-in platform admin on this host."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_platform_admin() is None:
            if session.get(SESSION_KEY):
                session.pop(SESSION_KEY, None)
                session.pop(SESSION_STARTED_KEY, None)
                if g.get("platform_session_expired"):
                    flash("Your session expired. Please log in again.", "info")
            target = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("platform.login", next=target))
        return view(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- pending sign-in


def start_pending(admin: PlatformAdmin, next_page: str | None) -> None:
    """The password was right: remember who is signing in until the second factor is given
    (on a fresh session: whatever the cookie held before is dropped)."""
    session.clear()
    session[PENDING_KEY] = {
        "id": admin.id,
        "stamp": password_stamp(admin),
        "at": int(time.time()),
        "next": next_page or "",
    }


def pending_admin() -> PlatformAdmin | None:
    """The admin of this request's pending sign-in, or None (none, expired, on a tenant host,
    password changed or admin disabled since)."""
    if current_tenant_or_none() is not None or g.get("tenant") is not None:
        return None
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    started = pending.get("at")
    max_age = int(current_app.config.get("PLATFORM_PENDING_MAX_AGE", PENDING_MAX_AGE))
    if not isinstance(started, int) or not (0 <= time.time() - started <= max_age):
        return None
    try:
        admin = db.session.get(PlatformAdmin, int(pending.get("id")))
    except (TypeError, ValueError):
        return None
    if admin is None or admin.status != "active" or pending.get("stamp") != password_stamp(admin):
        return None
    return admin


def pending_next() -> str:
    pending = session.get(PENDING_KEY)
    return str(pending.get("next") or "") if isinstance(pending, dict) else ""


def clear_pending() -> None:
    session.pop(PENDING_KEY, None)


# --------------------------------------------------------------------------- rate limits
# One budget per IP and one per account behind the password form and the code forms alike
# (shared scopes), so a wrong code costs what a wrong password costs.


def _ip_key() -> str:
    return f"platform:platform-login:ip:{get_remote_address()}"


def _account_key() -> str:
    email = request.form.get("email")
    if email is None:
        admin = pending_admin()
        email = admin.email if admin is not None else ""
    digest = hashlib.sha256(str(email).strip().lower().encode()).hexdigest()[:32]
    return f"platform:platform-login:account:{digest}"


def _refused(response) -> bool:
    return response.status_code >= 400


def login_limits(view=None, *, only_refusals: bool = False):
    """The platform sign-in budgets (per IP, per account), shared by every step of the sign-in.

    The password form spends one per POST (as before); the code forms spend one per refused
    code (``only_refusals``), so a right code costs nothing and a wrong one counts like a
    wrong password."""
    deduct = _refused if only_refusals else None

    def decorate(view):
        per_account = limiter.shared_limit(
            configured("RATELIMIT_LOGIN_PER_ACCOUNT"),
            scope="platform-login-account",
            key_func=_account_key,
            methods=["POST"],
            deduct_when=deduct,
        )
        per_ip = limiter.shared_limit(
            configured("RATELIMIT_LOGIN_PER_IP"),
            scope="platform-login-ip",
            key_func=_ip_key,
            methods=["POST"],
            deduct_when=deduct,
        )
        return per_ip(per_account(view))

    return decorate(view) if view is not None else decorate
