"""The one way into a web session, whatever proved who the person is (password, GitHub, Google).

``finish_login`` is called once the first factor succeeded: it asks for the second factor when
the account has one (app/accounts/two_factor.py), then ``start_session`` opens a brand-new
session (no fixation) bound to this tenant and records it as a device
(app/accounts/sessions.py). Sign-up calls ``start_session`` directly.

The second factor: unless a "remember this device" cookie of this tenant vouches for the account
(``two_factor.device_is_remembered``), the sign-in waits in the session as a *pending login*
(tenant, user, password stamp, remember, method, next, started at; valid
``two_factor.PENDING_LOGIN_MINUTES``) and the browser goes to ``/login/2fa``
(app/accounts/two_factor_views.py), whose right code calls ``complete_login``.
"""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, request, session, url_for
from flask_login import login_user

from app.accounts import sessions, two_factor
from app.accounts.auth import SESSION_TENANT_KEY, session_stamp
from app.accounts.limits import PENDING_LOGIN_KEY, account_digest
from app.accounts.models import User
from tenants.db import current_tenant, db

LANDING = "dashboard.dashboard"  # where a member lands after login without a ``next``


def landing_url() -> str:
    return url_for(LANDING)


def start_session(user, *, remember: bool = False, method: str = "password") -> None:
    """Log ``user`` in on a brand-new session (no fixation), bound to this tenant, recorded as a
    device (``user_sessions``). The session id is made before ``login_user`` because the id
    Flask-Login stores (``User.get_id``, the remember cookie too) carries it."""
    previous = session.get(sessions.SESSION_ID_KEY)
    session.clear()
    session[SESSION_TENANT_KEY] = current_tenant().id
    row = sessions.open_web_session(user, method)
    login_user(user, remember=remember)
    sessions.renew_web_session(previous, row)


def _welcome(user, first_login: bool) -> None:
    greeting = "Welcome" if first_login else "Welcome back"
    flash(f"{greeting}, {user.display_name}.", "success")


def finish_login(user, *, remember: bool = False, method: str = "password", next_url: str | None = None):
    """The response that completes a sign-in whose first factor succeeded."""
    first_login = bool(getattr(user, "first_login", False))
    if two_factor.has_two_factor(user) and not two_factor.device_is_remembered(
        user, request.cookies.get(two_factor.device_cookie_name())
    ):
        session.pop(PENDING_LOGIN_KEY, None)
        session[PENDING_LOGIN_KEY] = {
            "t": current_tenant().id,
            "u": user.id,
            "s": session_stamp(user),
            "r": bool(remember),
            "m": method,
            "n": next_url,
            "w": first_login,
            "at": int(two_factor.clock().timestamp()),
            "k": account_digest(user.email),
        }
        return redirect(url_for("accounts.login_two_factor"))
    start_session(user, remember=remember, method=method)
    _welcome(user, first_login)
    return redirect(next_url or landing_url())


def pending_login() -> tuple[User, dict] | None:
    """The user and the pending login waiting for a second factor in this session, or None when
    there is none, it is another tenant's, it is older than ``PENDING_LOGIN_MINUTES``, or the
    account changed since (password, suspension, two-factor turned off)."""
    pending = session.get(PENDING_LOGIN_KEY)
    if not isinstance(pending, dict) or pending.get("t") != current_tenant().id:
        return None
    started, user_id = pending.get("at"), pending.get("u")
    if not isinstance(started, int) or not isinstance(user_id, int):
        return None
    age = two_factor.clock().timestamp() - started
    if not 0 <= age <= timedelta(minutes=two_factor.PENDING_LOGIN_MINUTES).total_seconds():
        return None
    user = db.session.get(User, user_id)
    if (
        user is None
        or not user.is_active
        or pending.get("s") != session_stamp(user)
        or not two_factor.has_two_factor(user)
    ):
        return None
    return user, pending


def drop_pending_login() -> None:
    session.pop(PENDING_LOGIN_KEY, None)


def complete_login(user, pending: dict):
    """The response once the second factor of ``pending`` was given: the session starts."""
    start_session(user, remember=bool(pending.get("r")), method=str(pending.get("m") or "password"))
    _welcome(user, bool(pending.get("w")))
    return redirect(pending.get("n") or landing_url())
