"""Who may use the console, for the web views and the API alike.

- ``admin``: everything (the payouts area, its KYC decisions, holds and retries included).
- ``moderator``: reads the console (dashboard, users, gigs, orders, audit log) and moderates
  users and gigs; never settings, branding, domains, payments, money or roles.
- anyone else (buyers, sellers, anonymous): 403 on the web once signed in (the login page
  first when anonymous), 401/403 on the API.

While the operator requires two-factor sign-in of staff (``MarketplaceSettings.require_2fa_staff``),
an admin or moderator without it is sent to their Security page to enrol (web) or refused with
403 ``errors.code`` ``two_factor_required`` (API).

The checks run against the tenant bound to the request: a user row exists only in its
own tenant's schema, so an operator of one marketplace is nobody on another.
"""

from __future__ import annotations

import functools

from flask import abort, flash, g, redirect, request, url_for
from flask_login import current_user
from flask_smorest import abort as api_abort

from app.accounts import tokens, two_factor
from app.accounts.models import User
from app.console.blueprints import blp
from app.extensions import login_manager

ADMIN = "admin"
MODERATOR = "moderator"
_RANK = {"member": 0, MODERATOR: 1, ADMIN: 2}


TWO_FACTOR_REQUIRED = (
    "This marketplace requires two-factor sign-in for admins and moderators: "
    "set it up on your Security page to open the console."
)


def has_console_role(user: User | None, role: str = MODERATOR) -> bool:
    """True when ``user`` is an active user whose role is at least ``role``."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return _RANK.get(user.role, 0) >= _RANK[role]


def console_user() -> User:
    """The operator behind this console request (web session or API token)."""
    api_user = g.get("api_user")
    if api_user is not None:
        return api_user
    return current_user._get_current_object()


def console_required(role: str = MODERATOR):
    """Web views: the login page for anonymous visitors, 403 for anyone below ``role``."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not has_console_role(current_user, role):
                abort(403)
            if two_factor.staff_must_enrol(current_user):
                flash(TWO_FACTOR_REQUIRED, "info")
                return redirect(url_for("accounts.security"))
            return view(*args, **kwargs)

        wrapper.console_role = role
        return wrapper

    return decorator


def api_console_required(role: str = MODERATOR):
    """API resources: 401 without a valid bearer token, 403 below ``role``; documented in the spec."""

    def decorator(view):
        @functools.wraps(view)
        def check(*args, **kwargs):
            if not has_console_role(g.api_user, role):
                api_abort(403, message=f"This needs the marketplace's {role} role.")
            if two_factor.staff_must_enrol(g.api_user):
                api_abort(403, message=TWO_FACTOR_REQUIRED, errors={"code": "two_factor_required"})
            return view(*args, **kwargs)

        wrapped = tokens.token_auth_required(check)
        wrapped = blp.alt_response(401, response="UNAUTHORIZED")(wrapped)
        wrapped = blp.alt_response(403, response="FORBIDDEN")(wrapped)
        wrapped = blp.doc(security=[{"bearerAuth": []}])(wrapped)
        wrapped.console_role = role
        return wrapped

    return decorator


def request_via() -> str:
    """``api`` for the REST API, ``web`` for the console pages."""
    return "api" if request.path.startswith("/api/") else "web"
