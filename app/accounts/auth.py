"""Flask-Login wiring. A session is only valid on the tenant that issued it.

The id Flask-Login stores (in the session and in the remember cookie) is
``<tenant id>:<user id>:<stamp>`` (see ``User.get_id``). A session also carries
``session["tenant_id"]``, set at login; a session restored from a remember
cookie gets it here once the cookie's tenant matched.
"""

from __future__ import annotations

import hashlib

from flask import session

from app.accounts.models import User
from app.extensions import login_manager
from tenants.db import current_tenant_or_none, db

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
    tenant_part, _, rest = (user_id or "").partition(":")
    local_id, _, stamp = rest.partition(":")
    if tenant_part != str(tenant.id):
        return None
    bound = session.get(SESSION_TENANT_KEY)
    if bound is not None and bound != tenant.id:
        return None
    try:
        user = db.session.get(User, int(local_id))
    except (TypeError, ValueError):
        return None
    if user is None or not user.is_active or stamp != session_stamp(user):
        return None
    if bound is None:  # restored from a remember cookie: bind the new session too
        session[SESSION_TENANT_KEY] = tenant.id
    return user
