"""Console actions on people and gigs: each calls the domain rule and writes the audit
entry in the same transaction (the request's unit of work commits both, or rolls both back
on a refusal).

The rules, and every refusal, live in ``app/accounts/moderation.py`` (users) and
``app/gigs/moderation.py`` (gigs); the web views (``views.py``) and the API (``api.py``)
call only these actions, so both are audited alike.

Audit actions: ``user.suspend``, ``user.reactivate``, ``user.role``, ``user.two_factor_reset``,
``gig.approve``, ``gig.reject``, ``gig.pause``; target types ``user`` and ``gig``; ``changes`` holds
``{"field": [old, new]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.accounts import moderation as user_rules
from app.accounts import two_factor
from app.accounts.models import User
from app.console.audit import diff, record_audit, search_audit
from app.console.errors import ConsoleError
from app.console.models import AuditEntry
from app.gigs import moderation as gig_rules
from app.gigs.models import Gig


def _label(user: User) -> str:
    return f"{user.display_name} <{user.email}>"


def _gig_label(gig: Gig) -> str:
    return f"gig #{gig.id} “{gig.title}”"


def _user_state(user: User) -> dict:
    return {
        "status": user.status,
        "role": user.role,
        "suspended_reason": user.suspended_reason,
        "suspended_at": user.suspended_at,
    }


def _gig_state(gig: Gig) -> dict:
    return {"status": gig.status, "moderation_reason": gig.moderation_reason, "version": gig.version}


# --------------------------------------------------------------------------- users


def suspend_user(actor: User, user_id: Any, reason: Any) -> User:
    """Suspend a user (see ``accounts.moderation.suspend_user``) and audit it."""
    before = _user_state(user_rules.get_user(user_id))
    user = user_rules.suspend_user(actor, user_id, reason)
    record_audit(
        actor,
        "user.suspend",
        "user",
        user.id,
        f"Suspended {_label(user)}: {user.suspended_reason}",
        diff(before, _user_state(user)),
    )
    return user


def reactivate_user(actor: User, user_id: Any) -> User:
    """Lift a user's suspension (see ``accounts.moderation.reactivate_user``) and audit it."""
    before = _user_state(user_rules.get_user(user_id))
    user = user_rules.reactivate_user(actor, user_id)
    record_audit(
        actor,
        "user.reactivate",
        "user",
        user.id,
        f"Reactivated {_label(user)} (suspended for: {before['suspended_reason'] or 'no reason recorded'})",
        diff(before, _user_state(user)),
    )
    return user


def set_user_role(actor: User, user_id: Any, role: Any) -> User:
    """Change a user's role (admins only) and audit it; the same role again records nothing."""
    user, previous = user_rules.set_role(actor, user_id, role)
    if previous != user.role:
        record_audit(
            actor,
            "user.role",
            "user",
            user.id,
            f"Changed the role of {_label(user)} from {previous} to {user.role}",
            {"role": [previous, user.role]},
        )
    return user


def reset_two_factor(actor: User, user_id: Any) -> User:
    """An admin resets a member's two-factor sign-in (they lost their phone and their recovery
    codes): the authenticator and recovery codes are deleted, remembered devices stop counting,
    the member is emailed; audited as ``user.two_factor_reset``. Raises UserNotFound (404),
    ConsoleError 409 when the member has no two-factor sign-in."""
    user = user_rules.get_user(user_id)
    if not two_factor.reset_two_factor(user):
        raise ConsoleError(f"{user.display_name} has no two-factor sign-in to reset.", status=409)
    record_audit(
        actor,
        "user.two_factor_reset",
        "user",
        user.id,
        f"Reset the two-factor sign-in of {_label(user)}",
        {"two_factor": [True, False]},
    )
    return user


@dataclass(frozen=True)
class UserOverview:
    """What the console shows about one user."""

    user: User
    gigs: list[Gig]
    gig_count: int
    orders_as_buyer: int
    orders_as_seller: int
    active_orders: int
    audit: list[AuditEntry]

    @property
    def orders(self) -> UserOverview:
        return self  # the order counts, as one nested object of the API

    def __getattr__(self, name: str):
        # The user's own fields (email, role, status...) read straight through.
        if name.startswith("__") or name == "user":
            raise AttributeError(name)
        return getattr(self.user, name)


def user_overview(user_id: Any, *, gig_limit: int = 50, audit_limit: int = 20) -> UserOverview:
    """The user with their gigs, order counts and the audit entries about them.

    Raises ``accounts.moderation.UserNotFound``.
    """
    from app.gigs.services import list_seller_gigs
    from app.orders.services import list_orders

    user = user_rules.get_user(user_id)
    gigs, gig_count = list_seller_gigs(user, include_drafts=True, per_page=gig_limit)
    _rows, as_buyer = list_orders(user, role="buyer", per_page=1)
    _rows, as_seller = list_orders(user, role="seller", per_page=1)
    _rows, active_buyer = list_orders(user, role="buyer", tab="active", per_page=1)
    _rows, active_seller = list_orders(user, role="seller", tab="active", per_page=1)
    audit, _total = search_audit(per_page=audit_limit, target_type="user", target_id=str(user.id))
    return UserOverview(
        user=user,
        gigs=gigs,
        gig_count=gig_count,
        orders_as_buyer=as_buyer,
        orders_as_seller=as_seller,
        active_orders=active_buyer + active_seller,
        audit=audit,
    )


# --------------------------------------------------------------------------- gigs


def approve_gig(actor: User, gig_id: Any, *, expected_version: Any = None) -> Gig:
    """Approve a pending gig (see ``gigs.moderation.approve_gig``) and audit it."""
    before = _gig_state(gig_rules.get_gig_for_review(gig_id))
    gig = gig_rules.approve_gig(actor, gig_id, expected_version=expected_version)
    record_audit(
        actor,
        "gig.approve",
        "gig",
        gig.id,
        f"Approved {_gig_label(gig)} of {_label(gig.seller)}",
        diff(before, _gig_state(gig)),
    )
    return gig


def reject_gig(actor: User, gig_id: Any, reason: Any, *, expected_version: Any = None) -> Gig:
    """Reject a pending gig with a reason (see ``gigs.moderation.reject_gig``) and audit it."""
    before = _gig_state(gig_rules.get_gig_for_review(gig_id))
    gig = gig_rules.reject_gig(actor, gig_id, reason, expected_version=expected_version)
    record_audit(
        actor,
        "gig.reject",
        "gig",
        gig.id,
        f"Rejected {_gig_label(gig)} of {_label(gig.seller)}: {gig.moderation_reason}",
        diff(before, _gig_state(gig)),
    )
    return gig


def pause_gig(actor: User, gig_id: Any, reason: Any) -> Gig:
    """Pause a live gig with a reason (see ``gigs.moderation.operator_pause_gig``) and audit it."""
    before = _gig_state(gig_rules.get_gig_for_review(gig_id))
    gig = gig_rules.operator_pause_gig(actor, gig_id, reason)
    record_audit(
        actor,
        "gig.pause",
        "gig",
        gig.id,
        f"Paused {_gig_label(gig)} of {_label(gig.seller)}: {gig.moderation_reason}",
        diff(before, _gig_state(gig)),
    )
    return gig


def gig_audit(gig_id: int, limit: int = 20) -> list[AuditEntry]:
    """The audit entries about one gig, newest first."""
    entries, _total = search_audit(per_page=limit, target_type="gig", target_id=str(gig_id))
    return entries
