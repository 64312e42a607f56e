"""Bearer tokens for API clients.

Tokens are opaque random strings (``gfa_`` access, ``gfr_`` refresh, then
``secrets.token_urlsafe(32)``); the database keeps only their SHA-256, looked up
through a unique index. They live in the tenant's schema, so a token is
meaningful only on the tenant that issued it: on any other host its hash simply
is not there.

An access token is short-lived (``API_ACCESS_TOKEN_LIFETIME`` seconds); a
refresh token is long-lived (``API_REFRESH_TOKEN_LIFETIME``) and single-use:
``refresh`` revokes it and issues a new pair in the same family. Presenting a
refresh token that was already rotated means it leaked (or a client raced
itself): the whole family, access tokens included, is revoked.

Functions here flush; the request that calls them commits.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request
from flask_smorest import abort
from sqlalchemy import orm
from sqlalchemy.orm.attributes import set_committed_value

from app.accounts import api_keys, sessions
from app.accounts.models import ApiToken, User
from app.core.domain_errors import DomainError
from app.core.unit_of_work import (
    bookkeeping_can_ride,
    bookkeeping_written,
    skip_locked_update,
    touched_column,
    write_bookkeeping,
)
from tenants.db import db

ACCESS_PREFIX = "gfa_"
REFRESH_PREFIX = "gfr_"
TOKEN_TYPE = "Bearer"  # noqa: S105  (the scheme name, not a secret)
# last_used_at is bookkeeping: write it at most this often per token.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Longest token we bother hashing: prefix + 43 characters of base64url.
_MAX_TOKEN_LENGTH = 128


class TokenError(DomainError):
    """A token was unknown, expired, revoked or reused. The message is safe to show."""

    status = 401
    code = "unauthorized"


def _now() -> datetime:
    return datetime.now(UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _lifetimes() -> tuple[int, int]:
    cfg = current_app.config
    return int(cfg["API_ACCESS_TOKEN_LIFETIME"]), int(cfg["API_REFRESH_TOKEN_LIFETIME"])


_ACCESS_MEMO = "_access_token_lookup"  # g: (token hash, (row, user) or None) of this request


def _lookup_params(token: str, kind: str) -> dict | None:
    """The look-up's parameters for ``token`` of ``kind``, or None when it cannot be one."""
    prefix = ACCESS_PREFIX if kind == "access" else REFRESH_PREFIX
    if not isinstance(token, str) or not token.startswith(prefix) or len(token) > _MAX_TOKEN_LENGTH:
        return None
    return {"presented_hash": hash_token(token), "token_kind": kind}


def _find(token: str, kind: str, *, for_update: bool = False, with_user: bool = False):
    """The token row (``with_user``: ``(row, user)``, read in the same query), or None."""
    params = _lookup_params(token, kind)
    if params is None:
        return None
    if with_user:
        return db.session.execute(_find_statement(True, False), params).first()
    return db.session.scalars(_find_statement(False, for_update), params).first()


@functools.cache
def _find_statement(with_user: bool, for_update: bool) -> sa.Select:
    """``_find``'s query, built once (every API request sends it) with its values as parameters."""
    # Parameters named apart from every column: a ``touched_column``'s UPDATE would SET a column
    # that an execution parameter names (``_find_touching_statement`` builds on this one).
    where = (
        ApiToken.token_hash == sa.bindparam("presented_hash"),
        ApiToken.kind == sa.bindparam("token_kind"),
    )
    if with_user:
        # As the web's user loader: views and schemas ask ``is_seller``, so the profile comes along.
        return (
            sa.select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .options(orm.joinedload(User.seller_profile))
            .where(*where)
        )
    query = sa.select(ApiToken).where(*where)
    return query.with_for_update() if for_update else query


def _client_details() -> dict:
    if not request:
        return {}
    agent = request.user_agent.string or None
    return {"user_agent": agent[:255] if agent else None, "ip": (request.remote_addr or None)}


def issue_token_pair(user: User, *, family_id: str | None = None) -> dict:
    """Issue an access token and a refresh token for ``user`` (flushes).

    Returns the response body of the token endpoint: ``access_token``,
    ``refresh_token``, ``token_type``, ``expires_in``, ``refresh_expires_in``.
    The secrets exist only in this return value.
    """
    access_lifetime, refresh_lifetime = _lifetimes()
    now = _now()
    if family_id is None:  # a new sign-in: a new device in the user's sessions
        family_id = secrets.token_hex(16)
        sessions.open_api_session(user, family_id, now=now)
    access = ACCESS_PREFIX + secrets.token_urlsafe(32)
    refresh_token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    details = _client_details()
    for kind, secret, lifetime in (
        ("access", access, access_lifetime),
        ("refresh", refresh_token, refresh_lifetime),
    ):
        db.session.add(
            ApiToken(
                user_id=user.id,
                kind=kind,
                token_hash=hash_token(secret),
                family_id=family_id,
                created_at=now,
                expires_at=now + timedelta(seconds=lifetime),
                **details,
            )
        )
    db.session.flush()
    return {
        "access_token": access,
        "refresh_token": refresh_token,
        "token_type": TOKEN_TYPE,
        "expires_in": access_lifetime,
        "refresh_expires_in": refresh_lifetime,
    }


def _revoke_family(family_id: str, now: datetime, reason: str) -> None:
    db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.family_id == family_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    sessions.api_families_revoked(reason, now, family_id=family_id)


def refresh(refresh_token: str) -> dict:
    """Rotate ``refresh_token``: revoke it and return a new pair in its family (flushes).

    Raises TokenError when the token is unknown, expired, revoked, or its user
    can no longer sign in. A refresh token presented after it was rotated
    revokes its whole family; the caller must still commit that.
    """
    now = _now()
    # FOR UPDATE: two concurrent refreshes with one token must not both succeed.
    row = _find(refresh_token, "refresh", for_update=True)
    if row is None:
        raise TokenError("The refresh token is invalid.")
    if row.revoked_at is not None:
        _revoke_family(row.family_id, now, "token_reuse")
        raise TokenError("The refresh token was already used; sign in again.")
    if row.expires_at <= now:
        raise TokenError("The refresh token has expired; sign in again.")
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        _revoke_family(row.family_id, now, "revoked")
        raise TokenError("The refresh token is invalid.")
    row.revoked_at = now
    row.last_used_at = now
    sessions.api_session_refreshed(row.family_id, now)
    return issue_token_pair(user, family_id=row.family_id)


def revoke(token: str) -> bool:
    """Revoke ``token`` (flushes). A refresh token takes its whole family with it.

    Returns False when the token is unknown or already revoked; never raises
    for a bad token, so callers can answer the same way either way (RFC 7009).
    """
    now = _now()
    kind = "refresh" if isinstance(token, str) and token.startswith(REFRESH_PREFIX) else "access"
    row = _find(token, kind)
    if row is None or row.revoked_at is not None:
        return False
    if kind == "refresh":
        _revoke_family(row.family_id, now, "logout")
    else:
        row.revoked_at = now
    db.session.flush()
    return True


def revoke_all_for_user(user: User) -> int:
    """Revoke every live token of ``user`` (flushes); returns how many.

    For the account services to call when the password changes or is reset,
    so a stolen token does not outlive the credentials it was issued for.
    """
    now = _now()
    result = db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    sessions.api_families_revoked("revoked", now, user_id=user.id)
    return result.rowcount


def _touch(row: ApiToken, now: datetime) -> None:
    """Record last use (at most once a minute): with the request's commit, or apart when it
    rolls back (``write_bookkeeping``: usage survives a refusal and never waits for a lock)."""
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_RESOLUTION:
        return
    write_bookkeeping(skip_locked_update(ApiToken.__table__, row.id, last_used_at=now))


def authenticate_bearer(header: str | None) -> User | None:
    """The active user behind an ``Authorization: Bearer <access token>`` header, or None.

    A partner API key (``gfk_...``, ``app.accounts.api_keys``) is accepted too, inside a request
    to a route: the user is the member the key acts as, ``g.api_key`` the key, and a key whose
    scopes do not cover the route is refused here with 403 ``insufficient_scope`` (so every
    caller, optional-user routes included, is held to the scopes). Without a route (Socket.IO)
    keys are not accepted."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    if token.startswith(api_keys.KEY_PREFIX):
        return _key_user(token)
    found = find_access(token)
    row, user = found if found is not None else (None, None)
    now = _now()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if user is None or not user.is_active:
        return None
    _touch(row, now)
    g.api_token = row
    return user


def find_access(token: str):
    """``(row, user)`` of the access token ``token`` (in one query), or None; checks nothing else.
    Read once per request: the API's rate limit names the token's family before the view
    authenticates it (``app.accounts.credentials``), and both use this look-up."""
    key = hash_token(token) if isinstance(token, str) else None
    memo = g.get(_ACCESS_MEMO) if has_request_context() else None
    if memo is not None and memo[0] == key:
        return memo[1]
    found = _find_touching(token) if bookkeeping_can_ride() else _find(token, "access", with_user=True)
    if has_request_context():
        setattr(g, _ACCESS_MEMO, (key, found))
    return found


def _find_touching(token: str):
    """``_find(token, "access", with_user=True)``, writing the token's last use in the same
    statement when it is due and the token is good (live, unexpired, its user active): the
    answer's ``_touch`` then finds it written and sends no UPDATE of its own. The write rides on
    the request's transaction (``bookkeeping_written``: written again apart if that rolls back)
    and, like ``skip_locked_update``, never waits for a lock another transaction holds."""
    params = _lookup_params(token, "access")
    if params is None:
        return None
    now = _now()
    found = db.session.execute(
        _find_touching_statement(), {**params, "now": now, "due": now - LAST_USED_RESOLUTION}
    ).first()
    if found is None:
        return None
    row, user, touched = found
    if touched is not None:
        set_committed_value(row, "last_used_at", now)
        bookkeeping_written(skip_locked_update(ApiToken.__table__, row.id, last_used_at=now))
    return row, user


@functools.cache
def _find_touching_statement() -> sa.Select:
    """``_find_statement(True, False)`` with a ``touched`` column (``touched_column``): the
    token's ``last_used_at`` written when it is good (live, unexpired, its user active) and due."""
    table = ApiToken.__table__
    touched = touched_column(
        table,
        table.c.token_hash == sa.bindparam("presented_hash"),
        table.c.kind == sa.bindparam("token_kind"),
        table.c.revoked_at.is_(None),
        table.c.expires_at > sa.bindparam("now"),
        sa.or_(table.c.last_used_at.is_(None), table.c.last_used_at <= sa.bindparam("due")),
        sessions.active_user(table.c.user_id),
        last_used_at=sa.bindparam("now"),
    )
    return _find_statement(True, False).add_columns(touched)


def _key_user(secret: str) -> User | None:
    if not has_request_context() or request.url_rule is None:
        return None
    key = g.get("api_key")
    if key is not None and key.key_hash == api_keys.hash_key(secret):
        return g.api_user  # checked already for this request (the before-request hook)
    found = api_keys.authenticate_key(secret)
    if found is None:
        return None
    key, user = found
    g.api_key = key
    g.api_user = user
    api_keys.require_route_scope(key)
    return user


def unauthorized(message: str):
    abort(
        401,
        message=message,
        headers={"WWW-Authenticate": f'{TOKEN_TYPE} realm="api", error="invalid_token"'},
    )


def token_auth_required(view):
    """Reject the request with 401 unless it carries a valid access token or API key; sets
    ``g.api_user``. A key also needs the route's scope (403 ``insufficient_scope``)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization")
        if not header:
            abort(401, message="Authentication required.", headers={"WWW-Authenticate": TOKEN_TYPE})
        user = authenticate_bearer(header)
        if user is None:
            unauthorized("The access token is invalid or has expired.")
        if g.get("api_key") is not None:
            api_keys.require_route_scope(g.api_key)
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper


IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "required": False,
    "description": "Retry-safe key: the same key and body replay the first answer.",
}


def api_auth(blp, descriptions: dict[int, str]):
    """The ``auth_required(*codes, mutating=False, view_savepoint=True)`` decorator of the API
    blueprint ``blp``: a bearer token is required (401 documented), the refusals ``codes`` are
    documented with ``descriptions[code]``, and ``mutating`` views are idempotent by
    ``Idempotency-Key`` (``app.core.idempotency``), the header documented.
    ``view_savepoint=False``: the view raises every refusal, so it runs without the view
    savepoint and its steps without theirs (``idempotent(savepoint=False)``: the money views)."""
    from app.core.idempotency import idempotent

    def auth_required(*codes: int, mutating: bool = False, view_savepoint: bool = True):
        def decorate(view):
            if mutating:
                view = idempotent(view, savepoint=view_savepoint)
                view = blp.doc(parameters=[IDEMPOTENCY_PARAMETER])(view)
            for code in codes:
                view = blp.alt_response(code, response="DEFAULT_ERROR", description=descriptions[code])(view)
            view = blp.alt_response(401, response="UNAUTHORIZED")(view)
            view = blp.doc(security=[{"bearerAuth": []}])(view)
            return token_auth_required(view)

        return decorate

    return auth_required
