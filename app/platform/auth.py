"""Platform admin sessions, separate from the tenant users' Flask-Login sessions.

The session key ``platform_admin`` holds ``<admin id>:<stamp>``; the stamp comes from
the password hash, so a password change ends every other session, and a disabled
admin's sessions end at once. ``platform_admin_at`` holds the login time: a session
lives at most ``PLATFORM_SESSION_MAX_AGE`` seconds (default 12 hours).

A session is honoured only on the platform host (no tenant bound), and only through
this key: a tenant user's session (``_user_id``, ``tenant_id``) is worth nothing here,
and a platform session is worth nothing on a tenant host (cookies are host-only, and
platform routes do not exist there anyway).
"""

from __future__ import annotations

import functools
import time

from flask import current_app, flash, g, redirect, request, session, url_for

from app.platform.models import PlatformAdmin
from app.platform.services import session_stamp
from tenants.db import current_tenant_or_none, db

SESSION_KEY = "platform_admin"
SESSION_STARTED_KEY = "platform_admin_at"
DEFAULT_MAX_AGE = 12 * 3600


def start_session(admin: PlatformAdmin) -> None:
    """Log ``admin`` in on a brand-new session (whatever the cookie held before is dropped)."""
    session.clear()
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
