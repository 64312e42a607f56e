"""The marketplace's side of the disputes domain that is not about one dispute: the tenant's
ladder settings and the experts an operator appoints (operator admins only).

Every refusal is a ``DisputeError`` (422 with field errors; ``DisputeForbidden`` 403 below
an admin; ``DisputeNotFound`` 404 an unknown expert). The ranges are the ``dispute_settings``
table's CHECK constraints (``app.disputes.models.DisputeSettings``), checked here first so a
form shows them on its fields. Functions flush, never commit; the console action writes the
audit entry in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.core.ids import parse_id
from app.core.text import strip_controls
from app.disputes.models import DisputeExpert, DisputeSettings
from app.disputes.services import DisputeError, DisputeForbidden, DisputeNotFound, settings
from tenants.db import db

# field -> (label, lowest, highest): the CHECK constraints of dispute_settings.
DAY_RANGES: dict[str, tuple[str, int, int]] = {
    "self_resolution_days": ("Self-resolution", 1, 30),
    "answer_days": ("Time to answer", 1, 30),
    "mediation_days": ("Mediation", 1, 60),
    "expert_days": ("Expert review", 1, 60),
}
FEE_RULE_MAX = 2000
EXPERT_FIELD_MAX = 200
SETTING_FIELDS = (*DAY_RANGES, "expert_review_enabled", "expert_fee_rule")


def _require_admin(user: User) -> None:
    if not (user is not None and user.is_admin and user.is_active):
        raise DisputeForbidden("Only the marketplace's admins can change the dispute settings and experts.")


def settings_values(row: DisputeSettings | None = None) -> dict[str, Any]:
    """The settings as a plain dict (for forms, the API and audit diffs)."""
    row = row or settings()
    return {name: getattr(row, name) for name in SETTING_FIELDS}


def update_dispute_settings(admin: User, values: dict[str, Any]) -> tuple[DisputeSettings, dict]:
    """Change the ladder's settings (any of ``SETTING_FIELDS``; the others stay); flushes.

    Days are whole numbers within the table's ranges (self-resolution and the time to
    answer 1-30, mediation and expert review 1-60); ``expert_review_enabled`` a boolean;
    ``expert_fee_rule`` text of at most 2,000 characters. New deadlines apply to the stages
    that start from now on (a running stage keeps its deadline). Returns the row and
    ``{"field": [old, new]}`` of what changed. Raises DisputeForbidden (not an admin),
    DisputeError (every bad field at once)."""
    _require_admin(admin)
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name in DAY_RANGES:
            label, low, high = DAY_RANGES[name]
            if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 4:
                value = int(value.strip())
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                errors[name] = f"{label}: give a whole number of days from {low} to {high}."
            else:
                clean[name] = value
        elif name == "expert_review_enabled":
            if not isinstance(value, bool):
                errors[name] = "Expert review is on (true) or off (false)."
            else:
                clean[name] = value
        elif name == "expert_fee_rule":
            if value is None:
                value = ""
            if not isinstance(value, str):
                errors[name] = "The fee rule must be text."
            else:
                text = strip_controls(value).strip()
                if len(text) > FEE_RULE_MAX:
                    errors[name] = f"The fee rule is too long (at most {FEE_RULE_MAX:,} characters)."
                else:
                    clean[name] = text
        else:
            errors[name] = "Unknown setting."
    if errors:
        raise DisputeError(errors)
    row = settings()
    before = settings_values(row)
    for name, value in clean.items():
        setattr(row, name, value)
    db.session.flush()
    after = settings_values(row)
    return row, {k: [before[k], after[k]] for k in SETTING_FIELDS if before[k] != after[k]}


@dataclass(frozen=True)
class Expert:
    """An appointed expert with their account."""

    user: User
    field: str
    appointed_at: datetime
    appointed_by: int | None

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def display_name(self) -> str:
        return self.user.display_name


def list_experts(*, active_only: bool = False) -> list[Expert]:
    """The appointed experts, by name (``active_only``: those who can be asked now)."""
    query = sa.select(DisputeExpert, User).join(User, User.id == DisputeExpert.user_id)
    if active_only:
        query = query.where(User.status == "active")
    rows = db.session.execute(query.order_by(User.display_name, User.id)).all()
    return [Expert(u, e.field, e.appointed_at, e.appointed_by) for e, u in rows]


def appoint_expert(admin: User, email: Any, field: Any = "", *, now: datetime | None = None) -> Expert:
    """Appoint the member with this email as an expert reviewer (their ``field`` of expertise,
    shown to mediators); flushes. Raises DisputeForbidden (not an admin), DisputeError
    (``email``: nobody active with it, or an expert already; ``field``: too long)."""
    _require_admin(admin)
    errors: dict[str, str] = {}
    address = email.strip() if isinstance(email, str) else ""
    if not address or "@" not in address or len(address) > 320:
        errors["email"] = "Give the email address of one of the marketplace's members."
    area = strip_controls(field).strip() if isinstance(field, str) else ""
    if field is not None and not isinstance(field, str):
        errors["field"] = "The field must be text."
    elif len(area) > EXPERT_FIELD_MAX:
        errors["field"] = f"The field is too long (at most {EXPERT_FIELD_MAX} characters)."
    if errors:
        raise DisputeError(errors)
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == address.lower()))
    if user is None or not user.is_active:
        raise DisputeError({"email": f"No active member has the email {address}."}, code="no_such_member")
    if db.session.get(DisputeExpert, user.id) is not None:
        raise DisputeError({"email": f"{user.display_name} is an expert already."}, code="already_expert")
    row = DisputeExpert(
        user_id=user.id, field=area, appointed_by=admin.id, appointed_at=now or datetime.now(UTC)
    )
    db.session.add(row)
    db.session.flush()
    return Expert(user, row.field, row.appointed_at, row.appointed_by)


def remove_expert(admin: User, user_id: Any) -> Expert:
    """Remove an expert: mediators can no longer ask them (an assessment already asked for may
    still arrive); flushes. Raises DisputeForbidden, DisputeNotFound (not an expert)."""
    _require_admin(admin)
    uid = parse_id(user_id)
    row = db.session.get(DisputeExpert, uid) if uid else None
    if row is None:
        raise DisputeNotFound("This member is not an expert.")
    expert = Expert(db.session.get(User, row.user_id), row.field, row.appointed_at, row.appointed_by)
    db.session.delete(row)
    db.session.flush()
    return expert
