"""Gig moderation by the marketplace's operators: the review queue, approve, reject, pause.

Who: operator admins and moderators (the console checks the role before calling;
these functions check it again, so a script or a future caller cannot skip it).
A moderator never decides on a gig of their own; an admin may (they run the
marketplace and can switch approval off anyway).

Every decision is recorded on the gig (``moderated_at``, ``moderated_by_id`` and,
for a refusal, ``moderation_reason``, which the seller sees on their gig pages)
and published in the same transaction:

- approve (``pending_approval`` -> ``active``): ``gig.published`` (search indexes it)
  and ``gig.approved`` ``{"gig_id"}`` (the seller is notified);
- reject (``pending_approval`` -> ``rejected``): ``gig.rejected`` ``{"gig_id", "reason"}``;
  the seller edits the gig and publishes it again, which sends it back to the queue;
- pause (``active`` -> ``paused``): ``gig.paused`` ``{"gig_id", "by_operator": true,
  "reason"}`` (search drops it, the seller is notified); publishing it again goes
  through review (``services.needs_review``).

The gig row is locked (``FOR UPDATE``) before its status is checked, so two
operators deciding at once are serialised: the second one gets a clear
``GigStateError`` (409) instead of overwriting the first decision. Like the other
services, these functions flush and never commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.core.text import escape_like, strip_controls
from app.events import publish
from app.gigs import services
from app.gigs.models import GIG_STATUSES, Gig
from app.gigs.services import GigError, GigForbidden, GigNotFound, GigStateError, GigVersionConflict
from tenants.db import db

REASON_MIN, REASON_MAX = 5, 1000  # gigs.moderation_reason is varchar(1000)
OPERATOR_ROLES = ("moderator", "admin")
QUEUE_STATUS = "pending_approval"
PER_PAGE_MAX = 100


def _now() -> datetime:
    return datetime.now(UTC)


def _require_operator(actor: User | None) -> None:
    if actor is None or not actor.is_active or actor.role not in OPERATOR_ROLES:
        raise GigForbidden("Only the marketplace's admins and moderators moderate gigs.")


def clean_reason(value: Any) -> str:
    """The reason the seller will read: trimmed, control characters removed, 5-1000 characters.

    Raises GigError({"reason": ...}).
    """
    text = strip_controls(value.replace("\r\n", "\n")).strip() if isinstance(value, str) else ""
    if not text:
        raise GigError({"reason": "Give a reason: the seller is told it."})
    if len(text) < REASON_MIN:
        raise GigError({"reason": f"Give a reason of at least {REASON_MIN} characters: the seller reads it."})
    if len(text) > REASON_MAX:
        raise GigError({"reason": f"Keep the reason under {REASON_MAX} characters."})
    return text


def get_gig_for_review(gig_id: Any) -> Gig:
    """Any gig of the bound tenant, whatever its status (operators review every gig).

    Raises GigNotFound (unknown id, or an id that cannot exist).
    """
    gig = services.get_gig(gig_id)
    if gig is None:
        raise GigNotFound("This gig does not exist.")
    return gig


def _lock(gig_id: Any) -> Gig:
    """The gig, locked for this transaction and re-read (another decision may just have committed)."""
    if not services._is_int(gig_id) or not 0 < gig_id < 2**31:
        raise GigNotFound("This gig does not exist.")
    gig = db.session.scalar(
        sa.select(Gig)
        .where(Gig.id == gig_id)
        .with_for_update(of=Gig)
        .execution_options(populate_existing=True)
    )
    if gig is None:
        raise GigNotFound("This gig does not exist.")
    return gig


def _decide(actor: User, gig_id: Any, expected_version: Any) -> Gig:
    _require_operator(actor)
    gig = _lock(gig_id)
    if actor.role != "admin" and gig.seller_id == actor.id:
        raise GigForbidden("You cannot moderate your own gig. Ask another moderator or an admin.")
    if expected_version is not None and expected_version != gig.version:
        raise GigVersionConflict(
            "The seller changed this gig since you opened it. Review the new version and decide again."
        )
    return gig


def _record(gig: Gig, actor: User, status: str, reason: str | None) -> None:
    gig.status = status
    gig.moderation_reason = reason
    gig.moderated_at = _now()
    gig.moderated_by_id = actor.id
    services._bump(gig)
    services._flush_versioned()


def approve_gig(actor: User, gig_id: Any, *, expected_version: Any = None) -> Gig:
    """Approve a pending gig: it becomes active and public.

    ``expected_version`` (optional) is the version the operator reviewed: when the
    seller edited the gig since, the approval is refused rather than approving
    content nobody saw. Publishes ``gig.published`` and ``gig.approved``.
    Raises GigForbidden (not an operator, or a moderator's own gig), GigNotFound,
    GigStateError (not pending), GigVersionConflict, GigError (the gig became
    incomplete while pending).
    """
    gig = _decide(actor, gig_id, expected_version)
    if gig.status != QUEUE_STATUS:
        raise GigStateError(
            f"Only a gig pending approval can be approved; this one is {status_label(gig.status)}."
        )
    if gig.seller.status != "active":
        raise GigStateError("The seller's account is not active: this gig cannot go live.")
    missing = services.completeness_errors(gig)
    if missing:
        raise GigStateError(
            "This gig is incomplete and cannot go live: " + " ".join(missing.values()),
        )
    gig.published_at = gig.published_at or _now()
    _record(gig, actor, "active", None)
    publish("gig.published", {"gig_id": gig.id})
    publish("gig.approved", {"gig_id": gig.id})
    return gig


def reject_gig(actor: User, gig_id: Any, reason: Any, *, expected_version: Any = None) -> Gig:
    """Refuse a pending gig with a reason the seller reads; they can edit it and resubmit.

    Publishes ``gig.rejected``. Raises GigError({"reason": ...}), GigForbidden,
    GigNotFound, GigStateError (not pending), GigVersionConflict.
    """
    text = clean_reason(reason)
    gig = _decide(actor, gig_id, expected_version)
    if gig.status != QUEUE_STATUS:
        raise GigStateError(
            f"Only a gig pending approval can be rejected; this one is {status_label(gig.status)}."
        )
    _record(gig, actor, "rejected", text)
    publish("gig.rejected", {"gig_id": gig.id, "reason": text})
    return gig


def operator_pause_gig(actor: User, gig_id: Any, reason: Any) -> Gig:
    """Take a live gig out of the catalog with a reason the seller reads.

    When the seller publishes it again it goes through review (``services.needs_review``).
    Publishes ``gig.paused`` with ``by_operator``. Raises GigError({"reason": ...}),
    GigForbidden, GigNotFound, GigStateError (not active).
    """
    text = clean_reason(reason)
    gig = _decide(actor, gig_id, None)
    if gig.status != "active":
        raise GigStateError(f"Only a live gig can be paused; this one is {status_label(gig.status)}.")
    _record(gig, actor, "paused", text)
    publish("gig.paused", {"gig_id": gig.id, "by_operator": True, "reason": text})
    return gig


# --------------------------------------------------------------------------- reading

STATUS_LABELS = {
    "draft": "a draft",
    "pending_approval": "pending approval",
    "rejected": "rejected",
    "active": "live",
    "paused": "paused",
    "archived": "archived",
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def list_gigs_for_operators(
    *, status: Any = None, q: Any = None, page: Any = 1, per_page: int = 25
) -> tuple[list[Gig], int]:
    """``(gigs, total)`` of every seller, for the console.

    ``status`` filters one status (``pending_approval`` is the moderation queue, oldest
    first, so the longest-waiting seller is served first; other lists are newest first).
    ``q`` matches the title, the slug (unless it is a number), or the seller's name,
    email or handle; a number also matches the gig id. Raises GigError({"status": ...}) for an unknown status
    and GigError({"q": ...}) for an overlong query.
    """
    query = sa.select(Gig).join(Gig.seller)
    if status not in (None, ""):
        if status not in GIG_STATUSES:
            raise GigError({"status": f"Unknown status; use one of {', '.join(GIG_STATUSES)}."})
        query = query.where(Gig.status == status)
    if q not in (None, ""):
        if not isinstance(q, str) or len(q) > 100:
            raise GigError({"q": "Search with at most 100 characters."})
        text = q.strip()
        like = "%" + escape_like(text) + "%"
        conditions = [
            Gig.title.ilike(like),
            User.display_name.ilike(like),
            User.email.ilike(like),
            User.handle.ilike(like),
        ]
        if text.isdigit() and len(text) < 10:
            conditions.append(Gig.id == int(text))
        else:  # slugs end in random hex: a number would match them by chance
            conditions.append(Gig.slug.ilike(like))
        query = query.where(sa.or_(*conditions))
    if status == QUEUE_STATUS:
        query = query.order_by(Gig.updated_at.asc(), Gig.id.asc())
    else:
        query = query.order_by(Gig.id.desc())
    per_page = max(1, min(int(per_page), PER_PAGE_MAX))
    return services._paginate(query, page if services._is_int(page) else 1, per_page)


def moderation_queue(page: Any = 1, per_page: int = 25) -> tuple[list[Gig], int]:
    """``(gigs, total)`` waiting for review, the longest-waiting first."""
    return list_gigs_for_operators(status=QUEUE_STATUS, page=page, per_page=per_page)


def queue_size() -> int:
    """How many gigs wait for review (the console's badge and dashboard)."""
    return int(db.session.scalar(sa.select(sa.func.count(Gig.id)).where(Gig.status == QUEUE_STATUS)) or 0)


def status_counts() -> dict[str, int]:
    """``{status: number of gigs}`` for every status (zeros included)."""
    rows = dict(db.session.execute(sa.select(Gig.status, sa.func.count(Gig.id)).group_by(Gig.status)).all())
    return {status: int(rows.get(status, 0)) for status in GIG_STATUSES}
