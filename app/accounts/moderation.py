"""Operator rules on people: search users, suspend and reactivate them, change roles.

Who may do what (checked here, not only in the console, so no caller can skip it):

- operator **admins** do everything;
- **moderators** view users and suspend / reactivate *members*, never an admin or
  another moderator;
- only admins change roles;
- nobody suspends themself, and the marketplace always keeps one active admin
  (no suspension or demotion of the last one).

Suspension (``status='suspended'``, ``suspended_at``, ``suspended_reason``) ends
every session (the Flask-Login loader and the API token check refuse users that
are not active) and revokes the user's API tokens; the login form tells them the
account is suspended. A seller's gigs leave search (``seller.updated``: the search
domain re-indexes and drops gigs of sellers that are not active). The user is
emailed the reason, since they can no longer log in to read it. Reactivation
reverses all of it (gigs come back through the same event).

Concurrency: every change first locks, in one statement ordered by id, the actor,
the target and every active admin (``FOR UPDATE``), then re-reads them. Two admins
suspending (or demoting) each other at the same moment are therefore serialised,
and the second finds either that they lost their rights or that the other is the
last admin: the marketplace can never end with no active admin.

Functions flush and never commit; a refusal raises before anything changed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from app.accounts.models import ROLES, USER_STATUSES, User
from app.accounts.services import AccountError, _external_url, _send, revoke_api_tokens
from app.accounts.sessions import end_all_sessions
from app.core.domain_errors import Conflict, Forbidden, NotFound
from app.core.text import escape_like, strip_controls
from app.events import publish
from tenants.db import current_tenant, db

REASON_MIN, REASON_MAX = 5, 500  # users.suspended_reason is varchar(500)
OPERATOR_ROLES = ("moderator", "admin")
ROLE_LABELS = {"member": "Member", "moderator": "Moderator", "admin": "Admin"}
STATUS_LABELS = {"active": "Active", "suspended": "Suspended", "deleted": "Deleted"}
QUERY_MAX = 100
PER_PAGE_MAX = 100
MAX_PAGE = 10_000


class ModerationError(AccountError):
    """A refused operator action on a user. ``status`` is the HTTP status the API answers with
    (422 here; the subclasses take theirs from the core classes they also are)."""


class UserNotFound(ModerationError, NotFound):
    """No user with this id in the bound tenant."""


class ModerationForbidden(ModerationError, Forbidden):
    """The actor's role does not allow this action (on this user)."""


class ModerationConflict(ModerationError, Conflict):
    """The action does not fit the user's state (yourself, the last admin, already suspended...)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _user_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit() and len(value) < 11:
        value = int(value)
    return value if isinstance(value, int) and 0 < value < 2**31 else None


def _label(user: User) -> str:
    return f"{user.display_name} <{user.email}>"


# --------------------------------------------------------------------------- reading


def search_users(
    q: Any = None, role: Any = None, status: Any = None, page: Any = 1, per_page: int = 25
) -> tuple[list[User], int]:
    """``(users, total)`` of the bound tenant, newest first.

    ``q`` matches the email, name or handle (case-insensitive, anywhere in the text;
    a number also matches the user id). ``role`` is member / moderator / admin,
    ``status`` active / suspended / deleted. A page past the end is empty.
    Raises ModerationError with field errors for an unknown role or status or an
    overlong query.
    """
    errors: dict[str, str] = {}
    query = sa.select(User)
    if role not in (None, ""):
        if role not in ROLES:
            errors["role"] = f"Unknown role; use one of {', '.join(ROLES)}."
        else:
            query = query.where(User.role == role)
    if status not in (None, ""):
        if status not in USER_STATUSES:
            errors["status"] = f"Unknown status; use one of {', '.join(USER_STATUSES)}."
        else:
            query = query.where(User.status == status)
    if q not in (None, ""):
        if not isinstance(q, str) or len(q) > QUERY_MAX:
            errors["q"] = f"Search with at most {QUERY_MAX} characters."
        else:
            text = q.strip()
            like = "%" + escape_like(text) + "%"
            conditions = [User.email.ilike(like), User.display_name.ilike(like), User.handle.ilike(like)]
            if text.isdigit() and len(text) < 10:
                conditions.append(User.id == int(text))
            query = query.where(sa.or_(*conditions))
    if errors:
        raise ModerationError(errors)
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)
    page = page if isinstance(page, int) and not isinstance(page, bool) else 1
    per_page = max(1, min(int(per_page), PER_PAGE_MAX))
    if page < 1 or page > MAX_PAGE:
        return [], total
    rows = db.session.scalars(
        query.options(selectinload(User.seller_profile))
        .order_by(User.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), total


def get_user(user_id: Any) -> User:
    """The user with this id in the bound tenant. Raises UserNotFound."""
    uid = _user_id(user_id)
    user = db.session.get(User, uid) if uid else None
    if user is None:
        raise UserNotFound("This user does not exist.")
    return user


def active_admin_count() -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.count(User.id)).where(User.role == "admin", User.status == "active")
        )
        or 0
    )


def may_moderate(actor: User | None, target: User) -> bool:
    """Whether ``actor`` may suspend / reactivate ``target`` (for showing the buttons)."""
    if actor is None or not actor.is_active or actor.role not in OPERATOR_ROLES or actor.id == target.id:
        return False
    return actor.role == "admin" or target.role == "member"


# --------------------------------------------------------------------------- changing


def clean_reason(value: Any) -> str:
    """The reason the user will read: trimmed, control characters removed, 5-500 characters.

    Raises ModerationError({"reason": ...}).
    """
    text = strip_controls(value.replace("\r\n", "\n")).strip() if isinstance(value, str) else ""
    if not text:
        raise ModerationError({"reason": "Give a reason: the user is told it."})
    if len(text) < REASON_MIN:
        raise ModerationError(
            {"reason": f"Give a reason of at least {REASON_MIN} characters: the user reads it."}
        )
    if len(text) > REASON_MAX:
        raise ModerationError({"reason": f"Keep the reason under {REASON_MAX} characters."})
    return text


def _lock(actor: User, target_id: Any, *, required_role: str = "moderator") -> tuple[User, User, int]:
    """Lock and re-read the actor, the target and every active admin; returns
    ``(actor, target, active admins)``. Raises UserNotFound, ModerationForbidden
    (the actor is no longer an active operator of the needed role)."""
    uid = _user_id(target_id)
    if uid is None:
        raise UserNotFound("This user does not exist.")
    rows = db.session.scalars(
        sa.select(User)
        .where(sa.or_(User.id.in_({actor.id, uid}), sa.and_(User.role == "admin", User.status == "active")))
        .order_by(User.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    by_id = {user.id: user for user in rows}
    me = by_id.get(actor.id)
    allowed = ("admin",) if required_role == "admin" else OPERATOR_ROLES
    if me is None or not me.is_active or me.role not in allowed:
        if required_role == "admin":
            raise ModerationForbidden("Only the marketplace's admins can do this.")
        raise ModerationForbidden("Only the marketplace's admins and moderators can do this.")
    target = by_id.get(uid)
    if target is None:
        raise UserNotFound("This user does not exist.")
    admins = sum(1 for user in rows if user.role == "admin" and user.status == "active")
    return me, target, admins


def _require_rank(actor: User, target: User, doing: str) -> None:
    if actor.role != "admin" and target.role != "member":
        raise ModerationForbidden(
            f"Moderators can only {doing} members. Ask an admin to {doing} a {target.role}."
        )


def suspend_user(actor: User, user_id: Any, reason: Any) -> User:
    """Suspend an account with a reason the user is emailed.

    Their sessions end, their API tokens are revoked, their gigs leave search
    (``seller.updated``). Raises ModerationError({"reason": ...}), UserNotFound,
    ModerationForbidden (a moderator acting on an admin or moderator),
    ModerationConflict (yourself, a deleted or already suspended account, the last admin).
    """
    text = clean_reason(reason)
    actor, target, admins = _lock(actor, user_id)
    if target.id == actor.id:
        raise ModerationConflict("You cannot suspend your own account.")
    if target.status == "deleted":
        raise ModerationConflict("This account was deleted; there is nothing to suspend.")
    if target.status == "suspended":
        raise ModerationConflict("This account is already suspended.")
    _require_rank(actor, target, "suspend")
    if target.role == "admin" and admins <= 1:
        raise ModerationConflict("This is the marketplace's last active admin: it cannot be suspended.")
    target.status = "suspended"
    target.suspended_at = _now()
    target.suspended_reason = text
    db.session.flush()
    end_all_sessions(target, "suspended")  # every device, web and API, is signed out
    revoke_api_tokens(target)
    if target.seller_profile is not None:
        publish("seller.updated", {"user_id": target.id})
    _send(
        target,
        "account_suspended",
        f"Your {current_tenant().name} account is suspended",
        {"reason": text, "marketplace": current_tenant().name},
    )
    return target


def reactivate_user(actor: User, user_id: Any) -> User:
    """Lift a suspension: the user can log in again and their gigs return to search.

    The user is emailed. Raises UserNotFound, ModerationForbidden (a moderator
    acting on an admin or moderator), ModerationConflict (not suspended).
    """
    actor, target, _admins = _lock(actor, user_id)
    if target.status != "suspended":
        raise ModerationConflict(
            "This account was deleted and cannot be reactivated."
            if target.status == "deleted"
            else "This account is not suspended."
        )
    _require_rank(actor, target, "reactivate")
    target.status = "active"
    target.suspended_at = None
    target.suspended_reason = None
    target.failed_login_count = 0
    target.locked_until = None
    db.session.flush()
    if target.seller_profile is not None:
        publish("seller.updated", {"user_id": target.id})
    name = current_tenant().name
    _send(
        target,
        "notice",
        f"Your {name} account is active again",
        {
            "heading": "Your account is active again",
            "paragraphs": [
                f"Hello {target.display_name}, your {name} account is no longer suspended.",
                "You can log in again; if you sell, your active gigs are back in the catalog.",
            ],
            "action_url": _external_url("accounts.login"),
            "action_label": "Log in",
        },
    )
    return target


def set_role(actor: User, user_id: Any, role: Any) -> tuple[User, str]:
    """Make a user a member, moderator or admin (only an admin may); returns ``(user,
    previous role)``, read under the lock. Setting the role a user already has changes
    nothing. The user is emailed about a change.

    Raises ModerationError({"role": ...}) for an unknown role, UserNotFound,
    ModerationForbidden (not an admin), ModerationConflict (a deleted or suspended
    account, or demoting the last active admin).
    """
    if not isinstance(role, str) or role not in ROLES:
        raise ModerationError({"role": f"Choose one of: {', '.join(ROLES)}."})
    actor, target, admins = _lock(actor, user_id, required_role="admin")
    if target.role == role:
        return target, role
    if target.status == "deleted":
        raise ModerationConflict("This account was deleted; its role cannot change.")
    if target.status != "active":
        raise ModerationConflict("Reactivate this account before changing its role.")
    if target.role == "admin" and admins <= 1:
        raise ModerationConflict(
            "This is the marketplace's last active admin. Make someone else an admin first."
        )
    previous = target.role
    target.role = role
    db.session.flush()
    _tell_role(target, previous)
    return target, previous


def _tell_role(user: User, previous: str) -> None:
    name = current_tenant().name
    if user.role in OPERATOR_ROLES:
        endpoint = (
            "console.dashboard" if "console.dashboard" in current_app.view_functions else "console.users"
        )
        what = "an admin" if user.role == "admin" else "a moderator"
        paragraphs = [
            f"Hello {user.display_name}, you are now {what} of {name}.",
            "The operator console is open to you when you are logged in."
            if previous == "member"
            else f"Your operator role changed from {previous} to {user.role}.",
        ]
        extra = {"action_url": _external_url(endpoint), "action_label": "Open the console"}
    else:
        paragraphs = [
            f"Hello {user.display_name}, you are no longer {_role_phrase(previous)} of {name}.",
            "Your account stays open as a regular member.",
        ]
        extra = {}
    _send(
        user,
        "notice",
        f"Your role on {name} changed",
        {"heading": "Your role changed", "paragraphs": paragraphs, **extra},
    )


def _role_phrase(role: str) -> str:
    return "an admin" if role == "admin" else "a moderator" if role == "moderator" else "a member"
