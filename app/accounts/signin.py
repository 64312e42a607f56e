"""The one way into a web session, whatever proved who the person is (password, GitHub, Google).

``finish_login`` is called once the first factor succeeded: it asks for the second factor when
the account has one (app/accounts/two_factor.py), then ``start_session`` opens a brand-new
session (no fixation) bound to this tenant and records it as a device
(app/accounts/sessions.py). Sign-up calls ``start_session`` directly.
"""

from __future__ import annotations

from flask import flash, redirect, session, url_for
from flask_login import login_user

from app.accounts.auth import SESSION_TENANT_KEY
from tenants.db import current_tenant

LANDING = "dashboard.dashboard"  # where a member lands after login without a ``next``


def landing_url() -> str:
    return url_for(LANDING)


def start_session(user, *, remember: bool = False, method: str = "password") -> None:
    """Log ``user`` in on a brand-new session (no fixation), bound to this tenant, recorded as a
    device (``user_sessions``). The session id is made before ``login_user`` because the id
    Flask-Login stores (``User.get_id``, the remember cookie too) carries it."""
    from app.accounts import sessions  # local: keeps this edit to start_session

    previous = session.get(sessions.SESSION_ID_KEY)
    session.clear()
    session[SESSION_TENANT_KEY] = current_tenant().id
    row = sessions.open_web_session(user, method)
    login_user(user, remember=remember)
    sessions.renew_web_session(previous, row)


def finish_login(user, *, remember: bool = False, method: str = "password", next_url: str | None = None):
    """The response that completes a sign-in whose first factor succeeded."""
    start_session(user, remember=remember, method=method)
    greeting = "Welcome" if getattr(user, "first_login", False) else "Welcome back"
    flash(f"{greeting}, {user.display_name}.", "success")
    return redirect(next_url or landing_url())
