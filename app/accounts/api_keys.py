"""Partner API keys: made by an operator admin, acting as one member within scopes.

A key is ``gfk_`` + 43 random characters, sent like a token (``Authorization: Bearer gfk_...``).
The database keeps its SHA-256 (``key_hash``, unique) and ``prefix`` (the first 12 characters,
to recognise it in lists); the secret exists only in ``create_key``'s return value. A key lives
in its tenant's schema, so on another marketplace its hash is simply not there.

Scopes (``SCOPES``) are ``<area>:read`` / ``<area>:write``; ``write`` implies ``read``. The
scope a route needs comes from its blueprint, method and URL rule (``scope_for``): ``GET``,
``HEAD`` and ``OPTIONS`` need ``<area>:read``, the others ``<area>:write``. ``None`` means keys
may not call the route at all: the token, sign-up and key endpoints (keys can't make keys or
tokens) and any blueprint not in ``AREAS`` (fail closed: a new blueprint is refused to keys
until it is given an area here).

``init_app`` adds the request hooks (app/__init__.py): before a tenant's API route runs, a key
in the ``Authorization`` header is checked (401 unknown, revoked or expired; 403
``insufficient_scope``), so public routes, routes with an optional user and the token endpoints
are covered as well as ``token_auth_required`` ones; after the response, every call made with a
key (refused ones too) is written to ``api_key_calls`` on a short connection of its own, so
neither a read-only request (never committed) nor a rolled-back refusal loses it. The calls are
purged after ``CALLS_KEPT`` by the worker's sweep (``app.accounts.tasks``).

Functions here flush; the request that calls them commits.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, g, request
from sqlalchemy import orm

from app.accounts.models import API_KEY_NAME_MAX, API_KEYS_PER_TENANT, ApiKey, ApiKeyCall, User
from app.core import pagination
from app.core.domain_errors import CodedError, Forbidden, NotFound
from app.core.unit_of_work import request_unit_open, skip_locked_update, write_bookkeeping
from tenants.db import db

log = logging.getLogger(__name__)

KEY_PREFIX = "gfk_"
PREFIX_LENGTH = 12
_MAX_KEY_LENGTH = 128
LAST_USED_RESOLUTION = timedelta(minutes=1)
CALLS_KEPT = timedelta(days=30)
MAX_LIFETIME = timedelta(days=3653)
INSUFFICIENT_SCOPE = "insufficient_scope"

SCOPES: dict[str, str] = {
    "catalog:read": "Read gigs, categories, search, places, reviews and public profiles",
    "catalog:write": "Create, edit, publish, pause and archive the member's gigs",
    "orders:read": "Read the member's orders, offers, deliveries and order reviews",
    "orders:write": "Place and work on orders and offers; write reviews",
    "payments:read": "Read balances, transactions, payments, payouts and the billing method",
    "payments:write": "Pay (payment sessions), request payouts, set the billing method",
    "messaging:read": "Read conversations, messages and notifications",
    "messaging:write": "Start conversations, send messages and attachments, mark as read",
    "jobs:read": "Read jobs, proposals, invites, contracts, milestones, hours and workrooms",
    "jobs:write": "Post jobs, send proposals and invites, run contracts and workrooms",
    "disputes:read": "Read the member's disputes",
    "disputes:write": "Open disputes, add evidence, propose and answer",
    "account:read": "Read the member's account, profile, saved lists and recently viewed",
    "account:write": "Edit the member's account, profile and saved lists",
    "console:read": "Read the operator console's API (the member must be an admin or moderator)",
    "console:write": "Change things through the console's API (within the member's role)",
    "webhooks:read": "Read the webhook endpoints and their deliveries",
    "webhooks:write": "Register, change, replay and delete webhook endpoints",
}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Every API blueprint -> its scope area (app/__init__.py registers them; each api.py names its
# Blueprint). A blueprint missing here is refused to keys.
AREAS: dict[str, str] = {
    "categories_api": "catalog",
    "gigs_api": "catalog",
    "search_api": "catalog",
    "reviews_api": "catalog",  # reads; writes are orders (see scope_for)
    "orders_api": "orders",
    "payments_api": "payments",
    "messaging_api": "messaging",
    "notifications_api": "messaging",
    "jobs_api": "jobs",
    "contracts_api": "jobs",
    "hourly_api": "jobs",
    "workroom_api": "jobs",
    "code_api": "jobs",
    "disputes_api": "disputes",
    "accounts_api": "account",
    "saved_lists_api": "account",
    "recently_viewed_api": "account",
    "console_api": "console",
    "webhooks_api": "webhooks",
}
API = "/api/v1"
CONSOLE = f"{API}/console"
# URL rules keys never call: tokens, sign-up, and the keys themselves.
NO_KEY_RULES = (f"{API}/auth/", f"{CONSOLE}/api-keys")
NO_KEY_EXACT = {(f"{API}/users", "POST")}
# The public API docs: the header is ignored there (any host, nothing of the tenant's).
DOCS_BLUEPRINTS = frozenset({"api-docs", "api-docs-assets"})


class ApiKeyError(CodedError):
    """A key that can't be made as asked (422 with field errors; nothing stored)."""

    status = 422
    code = "invalid_api_key"


def _now() -> datetime:
    return datetime.now(UTC)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# --- scopes -----------------------------------------------------------------------------


def _area(blueprint: str | None, rule: str) -> str | None:
    if rule.startswith(f"{CONSOLE}/webhook"):
        return "webhooks"
    if rule.startswith(f"{CONSOLE}/") or rule == CONSOLE:
        return "console"
    if "/payment-session" in rule:
        return "payments"
    if blueprint == "reviews_api" and rule.startswith(f"{API}/orders/"):
        return "orders"
    if blueprint == "accounts_api" and rule.startswith(f"{API}/profiles/"):
        return "catalog"
    return AREAS.get(blueprint or "")


def scope_for(blueprint: str | None, method: str, rule: str) -> str | None:
    """The scope a key needs to call ``method`` on the route ``rule`` of ``blueprint``, or None
    when keys may not call it (tokens, sign-up, keys; unknown blueprints)."""
    method = (method or "").upper()
    if rule.startswith(NO_KEY_RULES) or (rule, method) in NO_KEY_EXACT:
        return None
    area = _area(blueprint, rule)
    if area is None:
        return None
    if method in READ_METHODS:
        return f"{area}:read"
    if blueprint == "reviews_api" and area == "catalog":
        return "orders:write"  # writing, helpful votes, replies and reports belong to an order's parties
    return f"{area}:write"


def grants(scopes: list[str] | tuple[str, ...], needed: str) -> bool:
    """True when ``scopes`` include ``needed`` (``<area>:write`` includes ``<area>:read``)."""
    if needed in scopes:
        return True
    area, _, action = needed.partition(":")
    return action == "read" and f"{area}:write" in scopes


# --- keys -------------------------------------------------------------------------------


def key_status(key: ApiKey, now: datetime | None = None) -> str:
    """``active``, ``revoked`` or ``expired``."""
    now = now or _now()
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def _require_admin(actor: User | None) -> None:
    if actor is None or not actor.is_active or actor.role != "admin":
        raise Forbidden("Only the marketplace's admins manage API keys.")


def _acting_user(actor: User, user: User | None, user_handle: Any) -> tuple[User | None, str | None]:
    if user is not None:
        return (user, None) if user.is_active else (None, "This member's account is not active.")
    if user_handle is None or (isinstance(user_handle, str) and not user_handle.strip()):
        return actor, None
    if not isinstance(user_handle, str):
        return None, "Give a member's handle."
    handle = user_handle.strip().lstrip("@").lower()
    found = db.session.scalars(sa.select(User).where(sa.func.lower(User.handle) == handle)).first()
    if found is None or not found.is_active:
        return None, "No active member has this handle."
    return found, None


def _clean_scopes(scopes: Any) -> tuple[list[str], str | None]:
    if not isinstance(scopes, list | tuple) or not scopes:
        return [], "Choose at least one scope."
    unknown = [s for s in scopes if not isinstance(s, str) or s not in SCOPES]
    if unknown:
        shown = ", ".join(str(s)[:40] for s in unknown[:5])
        return [], f"Unknown scope{'s' if len(unknown) > 1 else ''}: {shown}."
    return sorted(set(scopes), key=list(SCOPES).index), None


def _clean_expiry(expires_at: Any, now: datetime) -> tuple[datetime | None, str | None]:
    if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
        return None, "Give a date and time with a timezone."
    try:
        expires_at = expires_at.astimezone(UTC)
    except (OverflowError, ValueError):
        return None, "This date is out of range."
    if expires_at <= now:
        return None, "The expiry must be in the future."
    if expires_at > now + MAX_LIFETIME:
        return None, "At most 10 years ahead (leave it empty for a key that does not expire)."
    return expires_at, None


def create_key(
    actor: User,
    *,
    name: Any,
    scopes: Any,
    user_handle: Any = None,
    user: User | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Make a key acting as ``user`` (or the member with ``user_handle``; by default ``actor``)
    within ``scopes``, expiring at ``expires_at`` (never when None). Returns ``(key, secret)``;
    the secret is not stored anywhere (flushes).

    Raises Forbidden unless ``actor`` is an active admin; ApiKeyError (422) naming the fields
    (``name``, ``scopes``, ``user_handle``, ``expires_at``) or the form (the tenant's
    ``API_KEYS_PER_TENANT`` live keys), and nothing is stored then.
    """
    _require_admin(actor)
    now = now or _now()
    errors: dict[str, str] = {}
    clean_name = name.strip() if isinstance(name, str) else ""
    if not clean_name:
        errors["name"] = "Give the key a name (what uses it)."
    elif len(clean_name) > API_KEY_NAME_MAX:
        errors["name"] = f"At most {API_KEY_NAME_MAX} characters."
    clean_scopes, scope_error = _clean_scopes(scopes)
    if scope_error:
        errors["scopes"] = scope_error
    acting, user_error = _acting_user(actor, user, user_handle)
    if user_error:
        errors["user_handle"] = user_error
    if expires_at is not None:
        expires_at, expiry_error = _clean_expiry(expires_at, now)
        if expiry_error:
            errors["expires_at"] = expiry_error
    if errors:
        raise ApiKeyError(errors)
    live = db.session.scalar(
        sa.select(sa.func.count(ApiKey.id)).where(
            ApiKey.revoked_at.is_(None), sa.or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)
        )
    )
    if live >= API_KEYS_PER_TENANT:
        raise ApiKeyError(
            f"This marketplace already has {API_KEYS_PER_TENANT} live API keys; revoke one first."
        )
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=clean_name,
        prefix=secret[:PREFIX_LENGTH],
        key_hash=hash_key(secret),
        scopes=clean_scopes,
        user_id=acting.id,
        created_by_id=actor.id,
        created_at=now,
        expires_at=expires_at,
    )
    db.session.add(key)
    db.session.flush()
    return key, secret


def get_key(key_id: Any) -> ApiKey:
    """The key ``key_id`` of this marketplace; NotFound otherwise."""
    key = db.session.get(ApiKey, key_id) if isinstance(key_id, int) else None
    if key is None:
        raise NotFound("No API key has this id.")
    return key


def list_keys() -> list[ApiKey]:
    """Every key of this marketplace, newest first (revoked and expired ones too)."""
    return list(db.session.scalars(sa.select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())))


def revoke_key(actor: User, key_id: Any, now: datetime | None = None) -> tuple[ApiKey, bool]:
    """Revoke the key ``key_id`` at once (flushes). Returns ``(key, changed)``: revoking a revoked
    key changes nothing. Raises Forbidden unless ``actor`` is an admin, NotFound."""
    _require_admin(actor)
    key = get_key(key_id)
    if key.revoked_at is not None:
        return key, False
    key.revoked_at = now or _now()
    db.session.flush()
    return key, True


def recent_calls(key_id: Any, limit: int = 50) -> list[ApiKeyCall]:
    """The key's latest calls, newest first (NotFound for an unknown key)."""
    key = get_key(key_id)
    return list(
        db.session.scalars(
            sa.select(ApiKeyCall)
            .where(ApiKeyCall.key_id == key.id)
            .order_by(ApiKeyCall.id.desc())
            .limit(max(1, min(int(limit), 500)))
        )
    )


def page_calls(key_id: Any, window: pagination.Window) -> tuple[list[ApiKeyCall], int]:
    """One page of the key's calls for the API, newest first (keyset on the id, inside the
    created range), and how many are left from the cursor's position."""
    key = get_key(key_id)
    condition = sa.and_(
        ApiKeyCall.key_id == key.id, *pagination.where(window, ApiKeyCall.id, created=ApiKeyCall.at)
    )
    total = db.session.scalar(sa.select(sa.func.count(ApiKeyCall.id)).where(condition))
    rows = db.session.scalars(
        sa.select(ApiKeyCall)
        .where(condition)
        .order_by(ApiKeyCall.id.desc())
        .limit(window.page_size)
        .offset(window.first_item)
    )
    return list(rows), total


def users_by_id(ids) -> dict[int, User]:
    """The acting members (and creators) of a list of keys, for display."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}


# --- authentication ---------------------------------------------------------------------


@functools.cache
def _find_statement() -> sa.Select:
    """The key and its acting member with their seller profile (views and schemas ask
    ``is_seller``): one statement, as a token's, built once with the hash as a parameter."""
    return (
        sa.select(ApiKey, User)
        .outerjoin(User, User.id == ApiKey.user_id)
        .options(orm.joinedload(User.seller_profile))
        .where(ApiKey.key_hash == sa.bindparam("key_hash"))
    )


def _find(secret: str) -> tuple[ApiKey, User | None] | None:
    """``(key, acting member)`` of the secret, whatever their state, or None."""
    if not isinstance(secret, str) or not secret.startswith(KEY_PREFIX) or len(secret) > _MAX_KEY_LENGTH:
        return None
    return db.session.execute(_find_statement(), {"key_hash": hash_key(secret)}).first()


def _client_ip() -> str | None:
    try:
        return (request.remote_addr or "")[:45] or None
    except RuntimeError:  # no request
        return None


def _touch(key: ApiKey, now: datetime) -> None:
    """Record last use (once a minute at most) as ``tokens._touch`` does: with the request's
    commit, or apart when it rolls back."""
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    write_bookkeeping(
        skip_locked_update(ApiKey.__table__, key.id, last_used_at=now, last_used_ip=_client_ip())
    )


def authenticate_key(secret: str, now: datetime | None = None) -> tuple[ApiKey, User] | None:
    """``(key, acting user)`` for a live key of the bound tenant, or None (unknown, revoked,
    expired, or the member is no longer active). Inside a request, a key that exists at all is
    remembered for the call log (``g.api_key_call_id``), so refused calls are audited too."""
    found = _find(secret)
    if found is None:
        return None
    key, user = found
    if request_unit_open() and g.get("api_key_call_id") is None:
        g.api_key_call_id = key.id
        write_bookkeeping(_call_row)  # with the request's commit, its final status known
    now = now or _now()
    if key_status(key, now) != "active":
        return None
    if user is None or not user.is_active:
        return None
    _touch(key, now)
    return key, user


def insufficient_scope(needed: str | None):
    """Abort with 403 ``insufficient_scope`` (RFC 6750): ``needed`` is the scope the route wants,
    None when no key may call it."""
    # Imported here: Flask-Smorest belongs to the web; a process that only reads keys need not load it.
    from flask_smorest import abort

    if needed is None:
        message = "API keys can't call this operation; it needs a member's own sign-in."
        header = f'Bearer error="{INSUFFICIENT_SCOPE}"'
    else:
        message = f"This API key lacks the scope {needed}."
        header = f'Bearer error="{INSUFFICIENT_SCOPE}", scope="{needed}"'
    abort(
        403,
        message=message,
        errors={"code": INSUFFICIENT_SCOPE, "scope": needed},
        headers={"WWW-Authenticate": header},
    )


def require_route_scope(key: ApiKey) -> None:
    """403 unless ``key`` holds the scope of the current request's route."""
    rule = request.url_rule
    needed = scope_for(request.blueprint, request.method, rule.rule) if rule is not None else None
    if needed is None or not grants(key.scopes, needed):
        insufficient_scope(needed)


# --- request hooks ----------------------------------------------------------------------


def _bearer_key() -> str | None:
    header = request.headers.get("Authorization") or ""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token.startswith(KEY_PREFIX):
        return header
    return None


def _check_key_before_request():
    """A key on a tenant's API route: 401 unless live, 403 unless its scopes cover the route.
    Sets ``g.api_key`` and ``g.api_user`` (the acting member) for the view."""
    if g.get("tenant") is None or not request.path.startswith(f"{API}/") or request.url_rule is None:
        return None
    if request.blueprint in DOCS_BLUEPRINTS:
        return None
    header = _bearer_key()
    if header is None:
        return None
    from app.accounts import tokens

    if tokens.authenticate_bearer(header) is None:
        tokens.unauthorized("The API key is invalid, revoked or expired.")
    return None


def _call_row(response) -> sa.Insert:
    """The ``api_key_calls`` row of this request (``g.api_key_call_id``'s call): written with the
    request's commit, or apart when it rolls back (a refusal is audited too), once its answer
    is final (``write_bookkeeping``)."""
    rule = request.url_rule
    return sa.insert(ApiKeyCall.__table__).values(
        key_id=g.api_key_call_id,
        at=_now(),
        method=request.method[:8],
        route=(rule.rule if rule is not None else "(no route)")[:200],
        status=response.status_code,
        ip=_client_ip(),
        request_id=(g.get("request_id") or None),
    )


def init_app(app: Flask) -> None:
    """The key check before a tenant's API routes (register after the tenant binding, before
    the rate limiter, so limits can key on ``g.api_key``). Its call log rides on the request's
    unit of work (``_call_row``)."""
    app.before_request(_check_key_before_request)


# --- the call log's purge ---------------------------------------------------------------


def purge_calls(now: datetime | None = None) -> int:
    """Delete the bound tenant's key calls older than ``CALLS_KEPT``; returns how many."""
    cutoff = (now or _now()) - CALLS_KEPT
    result = db.session.execute(sa.delete(ApiKeyCall).where(ApiKeyCall.at < cutoff))
    return result.rowcount or 0
