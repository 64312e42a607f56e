"""Signed-in devices: web logins and API token families (``user_sessions`` rows).

A web login keeps a random session id in the signed session cookie (``session["sid"]``) and in
the Flask-Login id (``User.get_id``), so the remember cookie carries it too; the row holds only
its SHA-256. The user loader (app/accounts/auth.py) finds the user and the live row in one query
and refuses the request when the row is revoked or missing, so ending a row signs that device
out at its next request (page, API call with the cookie, or Socket.IO connect).

An API token family (app/accounts/tokens.py) is a row of kind ``api`` whose ``secret_hash`` is
the SHA-256 of the family id: ending it revokes the family's tokens, and revoking a family
(reuse detection, ``/auth/revoke`` of a refresh token) marks the row ended.

``last_seen_at`` is bookkeeping: written at most once a minute, by the user loader's own query
when it is due (committed with the request, written apart when the request rolls back:
``load_web_user``), on a short connection of its own outside a request. Functions here flush;
the request that calls them commits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import sqlalchemy as sa
from babel.dates import format_timedelta
from flask import current_app, g, has_request_context, request, session
from sqlalchemy import orm
from sqlalchemy.orm.attributes import set_committed_value

from app.accounts.models import ApiToken, User, UserSession
from app.core.domain_errors import NotFound
from app.core.unit_of_work import (
    bookkeeping_can_ride,
    bookkeeping_written,
    skip_locked_update,
    touched_column,
    write_bookkeeping,
)
from tenants.db import db

SESSION_ID_KEY = "sid"  # the session id in the signed session cookie
TOUCH_RESOLUTION = timedelta(minutes=1)  # last_seen_at is written at most this often
ENDED_SHOWN = timedelta(days=7)  # ended sessions stay in the list this long
RENEWED = "renewed"  # a session replaced by a fresh id on the same device (not listed)

REASON_LABELS = {
    "logout": "Logged out",
    "ended": "Signed out from another device",
    "password_changed": "Password changed",
    "password_reset": "Password reset",
    "two_factor_enabled": "Two-factor sign-in turned on",
    "suspended": "Account suspended",
    "account_deleted": "Account deleted",
    "token_reuse": "Refresh token reused",
    "revoked": "Tokens revoked",
    "expired": "Expired",
}
METHOD_LABELS = {
    "password": "Password",
    "github": "GitHub",
    "google": "Google",
    "signup": "Sign-up",
    "token": "API token",
}


class SessionNotFound(NotFound):
    """No session of yours has this id (unknown, or another member's)."""


def _now() -> datetime:
    return datetime.now(UTC)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def device_name(user_agent: str | None) -> str:
    """ "Firefox on Windows", "Chrome on Android", "Safari on iOS"; "Unknown device" when the
    user agent names no browser."""
    if not user_agent:
        return "Unknown device"
    from ua_parser import parse as parse_user_agent  # on first use: its rules load YAML

    result = parse_user_agent(user_agent[:1000])
    browser = result.user_agent.family if result.user_agent else None
    system = result.os.family if result.os else None
    if browser in (None, "Other"):
        return "Unknown device"
    for noise in (" Mobile iOS", " Mobile WebView", " Mobile"):
        browser = browser.removesuffix(noise)
    browser = browser.removeprefix("Mobile ")
    system = {"Mac OS X": "macOS"}.get(system or "", system)
    if system in (None, "Other"):
        return browser[:120]
    return f"{browser} on {system}"[:120]


def _client() -> dict:
    if not has_request_context():
        return {"user_agent": None, "device": "Unknown device", "ip": None}
    agent = (request.user_agent.string or "")[:255] or None
    return {"user_agent": agent, "device": device_name(agent), "ip": (request.remote_addr or None)}


# --- web sessions -------------------------------------------------------------------------


def open_web_session(user: User, method: str = "password", *, now: datetime | None = None) -> UserSession:
    """Record a new web login of ``user`` on this device (flushes): a random session id goes into
    the signed session cookie, its hash into the row. Called by ``signin.start_session``."""
    now = now or _now()
    secret = secrets.token_urlsafe(32)
    row = UserSession(
        user_id=user.id,
        kind="web",
        secret_hash=hash_secret(secret),
        method=method,
        created_at=now,
        last_seen_at=now,
        **_client(),
    )
    db.session.add(row)
    db.session.flush()
    session[SESSION_ID_KEY] = secret
    g.user_session = row
    return row


def renew_web_session(previous_secret: str | None, row: UserSession) -> None:
    """A fresh session id replaced ``previous_secret`` on the same device (password change,
    signing in again): the old row ends (not listed) and, for the same user, the new one keeps
    its sign-in time and method."""
    if not previous_secret:
        return
    old = db.session.scalars(
        sa.select(UserSession).where(
            UserSession.secret_hash == hash_secret(previous_secret), UserSession.revoked_at.is_(None)
        )
    ).first()
    if old is None:
        return
    if old.user_id == row.user_id:
        row.created_at, row.method = old.created_at, old.method
    old.revoked_at, old.revoked_reason = row.last_seen_at, RENEWED
    db.session.flush()


def current_secret_hash() -> str | None:
    """The hash that identifies the caller's own session: its API token family (bearer
    requests) or its web session id."""
    if not has_request_context():
        return None
    token = g.get("api_token")
    if token is not None:
        return hash_secret(token.family_id)
    secret = session.get(SESSION_ID_KEY)
    return hash_secret(secret) if isinstance(secret, str) and secret else None


def current_session_row() -> UserSession | None:
    """The web session row of this request (found by the user loader), or None."""
    return g.get("user_session") if has_request_context() else None


def load_web_user(user_id: int, secret: str) -> tuple[User, UserSession] | None:
    """The user and their live web session row for ``secret``, in one query (the user loader).

    Inside a request's unit of work the same statement writes the row's ``last_seen_at`` when
    it is due and the user active (``_web_user_touching_statement``), so ``touch`` then finds it
    written and sends no UPDATE of its own: a signed-in request's first use each minute costs
    no statement more than the others (``unit_of_work.bookkeeping_written``)."""
    params = {"session_user": user_id, "presented_hash": hash_secret(secret)}
    if not bookkeeping_can_ride():
        found = db.session.execute(_web_user_statement(), params).first()
        return (found[0], found[1]) if found else None
    now = _now()
    found = db.session.execute(
        _web_user_touching_statement(), {**params, "now": now, "due": now - TOUCH_RESOLUTION}
    ).first()
    if found is None:
        return None
    user, row, touched = found
    if touched is not None:
        set_committed_value(row, "last_seen_at", now)
        bookkeeping_written(_touch_statement(row.id, now))
    return user, row


def active_user(user_id: sa.ColumnElement) -> sa.Exists:
    """``EXISTS`` (the user ``user_id`` is active: ``User.is_active`` in SQL), for a
    ``touched_column``'s condition."""
    return sa.exists().where(User.id == user_id, User.status == "active")


@cache
def _web_user_touching_statement() -> sa.Select:
    """``_web_user_statement()`` with a ``touched`` column (``touched_column``): the session's
    ``last_seen_at`` written when the row is live, the user active, and a write is due."""
    table = UserSession.__table__
    touched = touched_column(
        table,
        table.c.secret_hash == sa.bindparam("presented_hash"),
        table.c.user_id == sa.bindparam("session_user"),
        table.c.kind == "web",
        table.c.revoked_at.is_(None),
        table.c.last_seen_at <= sa.bindparam("due"),
        active_user(table.c.user_id),
        last_seen_at=sa.bindparam("now"),
    )
    return _web_user_statement().add_columns(touched)


@cache
def _web_user_statement() -> sa.Select:
    """``load_web_user``'s query, built once (every signed-in request sends it)."""
    return (
        sa.select(User, UserSession)
        .join(UserSession, UserSession.user_id == User.id)
        # Every signed-in page asks ``is_seller`` (the header): the profile comes with the user.
        .options(orm.joinedload(User.seller_profile))
        .where(
            # Named apart from every column: a ``touched_column``'s UPDATE would SET a column
            # that an execution parameter names (``_web_user_touching_statement``).
            User.id == sa.bindparam("session_user"),
            UserSession.secret_hash == sa.bindparam("presented_hash"),
            UserSession.kind == "web",
            UserSession.revoked_at.is_(None),
        )
    )


def touch(row: UserSession, now: datetime | None = None) -> None:
    """Record that ``row`` was seen now, at most once a minute: with the request's commit, or
    apart when it rolls back (``write_bookkeeping``: a refused request is seen too, and the
    write never waits for a lock)."""
    now = now or _now()
    if row.last_seen_at is not None and now - row.last_seen_at < TOUCH_RESOLUTION:
        return
    write_bookkeeping(_touch_statement(row.id, now))
    set_committed_value(row, "last_seen_at", now)


def _touch_statement(row_id: int, now: datetime) -> sa.Update:
    table = UserSession.__table__
    return skip_locked_update(table, row_id, last_seen_at=now).where(table.c.revoked_at.is_(None))


def end_current_session(reason: str = "logout") -> None:
    """End this request's web session row (logout; flushes)."""
    secret = session.get(SESSION_ID_KEY) if has_request_context() else None
    if not isinstance(secret, str) or not secret:
        return
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.secret_hash == hash_secret(secret), UserSession.revoked_at.is_(None))
        .values(revoked_at=_now(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )


# --- API token families -------------------------------------------------------------------


def open_api_session(user: User, family_id: str, *, now: datetime | None = None) -> UserSession:
    """Record a new API token family of ``user`` (``tokens.issue_token_pair``; flushes)."""
    now = now or _now()
    row = UserSession(
        user_id=user.id,
        kind="api",
        secret_hash=hash_secret(family_id),
        method="token",
        created_at=now,
        last_seen_at=now,
        **_client(),
    )
    db.session.add(row)
    db.session.flush()
    return row


def api_session_refreshed(family_id: str, now: datetime) -> None:
    """The family's refresh token was used: it was seen now (flushes)."""
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.secret_hash == hash_secret(family_id), UserSession.kind == "api")
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def api_families_revoked(reason: str, now: datetime, *, family_id: str | None = None, user_id=None) -> None:
    """The tokens of one family (or of every family of ``user_id``) were revoked: end their rows."""
    query = sa.update(UserSession).where(UserSession.kind == "api", UserSession.revoked_at.is_(None))
    if family_id is not None:
        query = query.where(UserSession.secret_hash == hash_secret(family_id))
    else:
        query = query.where(UserSession.user_id == user_id)
    db.session.execute(
        query.values(revoked_at=now, revoked_reason=reason).execution_options(synchronize_session=False)
    )


def _family_hash():
    return sa.func.encode(sa.func.sha256(sa.func.convert_to(ApiToken.family_id, "UTF8")), "hex")


def _end(user: User, rows: list[UserSession], reason: str, now: datetime) -> int:
    """End ``rows`` of ``user``; the tokens of API families among them are revoked."""
    live = [row for row in rows if row.revoked_at is None]
    for row in live:
        row.revoked_at, row.revoked_reason = now, reason
    families = [row.secret_hash for row in live if row.kind == "api"]
    if families:
        db.session.execute(
            sa.update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), _family_hash().in_(families))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
    db.session.flush()
    return len(live)


def _live_rows(user: User) -> list[UserSession]:
    return list(
        db.session.scalars(
            sa.select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .with_for_update()
        )
    )


def end_session(user: User, session_id, reason: str = "ended", *, now: datetime | None = None) -> UserSession:
    """End one of ``user``'s sessions by its row id (flushes); ending an ended one changes
    nothing. Raises SessionNotFound for an unknown id or another member's session."""
    try:
        ident = int(session_id)
    except (TypeError, ValueError):
        raise SessionNotFound("No such session.") from None
    if not 0 < ident < 2**63:
        raise SessionNotFound("No such session.")
    query = sa.select(UserSession).where(UserSession.id == ident, UserSession.user_id == user.id)
    row = db.session.scalars(query.with_for_update()).first()
    if row is None:
        raise SessionNotFound("No such session.")
    _end(user, [row], reason, now or _now())
    return row


def end_other_sessions(user: User, reason: str = "ended", *, now: datetime | None = None) -> int:
    """End every session of ``user`` but the caller's own (flushes); returns how many ended."""
    keep = current_secret_hash()
    rows = [row for row in _live_rows(user) if row.secret_hash != keep]
    return _end(user, rows, reason, now or _now())


def end_all_sessions(user: User, reason: str, *, now: datetime | None = None) -> int:
    """End every session of ``user``, the caller's included (flushes); returns how many ended."""
    return _end(user, _live_rows(user), reason, now or _now())


# --- the list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionEntry:
    """A session as the "Sessions" page and ``GET /me/sessions`` show it."""

    id: int
    kind: str
    device: str
    ip: str | None
    method: str
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None
    current: bool
    active: bool

    @property
    def method_label(self) -> str:
        return METHOD_LABELS.get(self.method, self.method)

    @property
    def ended_label(self) -> str:
        return REASON_LABELS.get(self.revoked_reason or "", "Ended")


def ago(when: datetime, now: datetime) -> str:
    """ "just now", "5 minutes ago", "3 days ago"."""
    if now - when < TOUCH_RESOLUTION:
        return "just now"
    return format_timedelta(when - now, add_direction=True, locale="en")


def _idle_limit(kind: str) -> timedelta:
    """How long a session lasts unseen: a remember cookie, or a refresh token."""
    cfg = current_app.config
    if kind == "api":
        return timedelta(seconds=int(cfg["API_REFRESH_TOKEN_LIFETIME"]))
    duration = cfg.get("REMEMBER_COOKIE_DURATION") or timedelta(days=365)
    return duration if isinstance(duration, timedelta) else timedelta(seconds=int(duration))


def list_sessions(user: User, *, now: datetime | None = None) -> list[SessionEntry]:
    """``user``'s sessions: live ones first (this device first among them, then the most
    recently active), then those ended in the last week. A session unseen for longer than
    it can last (remember cookie, refresh token) shows as expired."""
    now = now or _now()
    current = current_secret_hash()
    rows = db.session.scalars(
        sa.select(UserSession)
        .where(
            UserSession.user_id == user.id,
            sa.or_(
                UserSession.revoked_at.is_(None),
                sa.and_(UserSession.revoked_at > now - ENDED_SHOWN, UserSession.revoked_reason != RENEWED),
            ),
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        .limit(200)
    )
    entries = []
    for row in rows:
        expired = row.revoked_at is None and now - row.last_seen_at > _idle_limit(row.kind)
        if expired and now - row.last_seen_at > _idle_limit(row.kind) + ENDED_SHOWN:
            continue
        entries.append(
            SessionEntry(
                id=row.id,
                kind=row.kind,
                device=row.device or "Unknown device",
                ip=row.ip,
                method=row.method,
                created_at=row.created_at,
                last_seen_at=row.last_seen_at,
                revoked_at=row.revoked_at,
                revoked_reason="expired" if expired else row.revoked_reason,
                current=row.secret_hash == current and row.revoked_at is None,
                active=row.revoked_at is None and not expired,
            )
        )
    entries.sort(key=lambda e: (not e.active, not e.current))  # stable: recency within each group
    return entries
