"""Flask-Login wiring. A session is only valid on the tenant that issued it."""

from __future__ import annotations

from flask import session

from app.accounts.models import User
from app.extensions import login_manager
from tenants.db import current_tenant_or_none, db

SESSION_TENANT_KEY = "tenant_id"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    tenant = current_tenant_or_none()
    if tenant is None or session.get(SESSION_TENANT_KEY) != tenant.id:
        return None
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    return user if user is not None and user.is_active else None
