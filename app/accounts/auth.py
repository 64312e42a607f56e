"""Flask-Login wiring. A session is only valid on the tenant that issued it.

The id Flask-Login stores (in the session and in the remember cookie) is
``<tenant id>:<user id>:<stamp>:<session id>`` (see ``User.get_id``). A session also carries
``session["tenant_id"]``, set at login, and ``session["sid"]``, the session id of its
``user_sessions`` row (app/accounts/sessions.py); a session restored from a remember cookie
gets both here once the cookie's tenant matched. The loader refuses a session whose row was
ended (signed out from another device, password changed, suspension): one query finds the user
and the live row together. Ids of the older three-part form are refused (log in again).
"""

from __future__ import annotations

import hashlib

from flask import g, session

from app.accounts import sessions
from app.accounts.models import User
from app.extensions import login_manager
from tenants.db import current_tenant_or_none

SESSION_TENANT_KEY = "tenant_id"

login_manager.login_view = "accounts.login"
login_manager.login_message = "Please log in to see this page."
login_manager.login_message_category = "info"
login_manager.needs_refresh_message_category = "info"


def session_stamp(user: User) -> str:
    """A short value that changes when the password changes (ends other sessions)."""
    return hashlib.sha256((user.password_hash or "-").encode()).hexdigest()[:12]


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    tenant = current_tenant_or_none()
    if tenant is None:
        return None
    parts = (user_id or "").split(":")
    if len(parts) != 4:
        return None
    tenant_part, local_id, stamp, secret = parts
    if tenant_part != str(tenant.id) or not secret:
        return None
    bound = session.get(SESSION_TENANT_KEY)
    if bound is not None and bound != tenant.id:
        return None
    kept = session.get(sessions.SESSION_ID_KEY)
    if kept is not None and kept != secret:
        return None
    if not local_id.isdigit() or not 0 < int(local_id) < 2**31:
        return None
    found = sessions.load_web_user(int(local_id), secret)
    if found is None:
        return None
    user, row = found
    if not user.is_active or stamp != session_stamp(user):
        return None
    if bound is None:  # restored from a remember cookie: bind the new session too
        session[SESSION_TENANT_KEY] = tenant.id
    if kept is None:
        session[sessions.SESSION_ID_KEY] = secret
    g.user_session = row
    sessions.touch(row)
    return user
