"""The operator's featured gigs: an ordered list (at most ``FEATURED_MAX``) of active gigs the
home page shows first.

Every change checks the whole new list before it touches a row (a refusal changes nothing),
rewrites the positions 0..n-1, flushes and publishes ``home.changed`` ``{}`` (discovery's
handler bumps the tenant's home generation). Auditing is the console's: its actions
(``app/console/featured``) call these and write the audit entry in the same transaction.

A featured gig that is later paused or archived keeps its row (it is back when the gig is
active again) but is never shown; the console lists it with its status so it can be removed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.core.text import escape_like
from app.discovery.errors import DiscoveryError, DiscoveryNotFound
from app.discovery.models import FEATURED_MAX, FeaturedGig
from app.discovery.viewed import load_cards
from app.events import publish
from app.gigs.models import Gig
from tenants.db import db

FIELD = "gig_ids"
STATUS_WORDS = {
    "draft": "a draft",
    "pending_approval": "waiting for approval",
    "rejected": "rejected",
    "paused": "paused",
    "archived": "archived",
}


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def featured_ids() -> list[int]:
    """Every featured gig id in position order (any status)."""
    return list(db.session.scalars(sa.select(FeaturedGig.gig_id).order_by(FeaturedGig.position)))


def featured_gigs() -> list[Gig]:
    """The featured gigs buyers see: the active ones (of active sellers) in position order,
    loaded for cards."""
    return load_cards(featured_ids())


def featured_entries() -> list[Gig]:
    """Every featured gig in position order, whatever its status (the console's list)."""
    rows = db.session.execute(
        sa.select(Gig).join(FeaturedGig, FeaturedGig.gig_id == Gig.id).order_by(FeaturedGig.position)
    )
    return list(rows.unique().scalars())


def check_featured(gig_ids: Any) -> list[int]:
    """The list ``gig_ids`` as it may be stored, or DiscoveryError with field errors:
    ``gig_ids`` for the list as a whole (not a list, too many, repeated ids) and
    ``gig_ids.<index>`` for each id that is not an active gig of this marketplace."""
    if not isinstance(gig_ids, list | tuple):
        raise DiscoveryError({FIELD: "Send a list of gig ids."})
    errors: dict[str, str] = {}
    if len(gig_ids) > FEATURED_MAX:
        errors[FIELD] = f"Feature at most {FEATURED_MAX} gigs (this list has {len(gig_ids)})."
    seen: dict[int, int] = {}
    repeated = []
    for index, value in enumerate(gig_ids):
        if not _is_id(value):
            errors[f"{FIELD}.{index}"] = "Not a gig id."
        elif value in seen:
            repeated.append(value)
            errors[f"{FIELD}.{index}"] = f"Gig #{value} is already in the list."
        else:
            seen[value] = index
    if repeated and FIELD not in errors:
        twice = ", ".join(f"#{i}" for i in sorted(set(repeated)))
        errors[FIELD] = f"Each gig can be featured once: {twice} is repeated."
    if seen:
        found = {
            row.id: (row.status, row.seller_status)
            for row in db.session.execute(
                sa.select(Gig.id, Gig.status, User.status.label("seller_status"))
                .join(User, User.id == Gig.seller_id)
                .where(Gig.id.in_(list(seen)))
            )
        }
        for gig_id, index in seen.items():
            status, seller_status = found.get(gig_id, (None, None))
            if status is None:
                errors[f"{FIELD}.{index}"] = f"There is no gig #{gig_id}."
            elif status != "active":
                errors[f"{FIELD}.{index}"] = (
                    f"Gig #{gig_id} is {STATUS_WORDS.get(status, status)}: only live gigs can be featured."
                )
            elif seller_status != "active":
                errors[f"{FIELD}.{index}"] = f"The seller of gig #{gig_id} is suspended."
    if errors:
        raise DiscoveryError(errors)
    return list(seen)


def _store(actor: User | None, gig_ids: list[int]) -> list[int]:
    """Replace the featured rows by ``gig_ids`` (checked), keeping who added each one."""
    db.session.execute(sa.select(FeaturedGig.gig_id).with_for_update())  # one editor at a time
    current = {row.gig_id: row for row in db.session.scalars(sa.select(FeaturedGig))}
    for gig_id, row in current.items():
        if gig_id not in gig_ids:
            db.session.delete(row)
    db.session.flush()
    for position, gig_id in enumerate(gig_ids):
        row = current.get(gig_id)
        if row is None:
            db.session.add(
                FeaturedGig(gig_id=gig_id, position=position, added_by_id=actor.id if actor else None)
            )
        elif row.position != position:
            row.position = position
    db.session.flush()
    publish("home.changed", {})
    return gig_ids


def set_featured(actor: User | None, gig_ids: Any) -> list[int]:
    """Feature exactly ``gig_ids`` in that order (position 0 first); an empty list features
    none (the home page falls back to the best rated gigs). Refuses (nothing stored) more than
    ``FEATURED_MAX`` ids, a repeated id, an unknown gig and a gig that is not active, with
    field errors (``gig_ids`` / ``gig_ids.<index>``). Publishes ``home.changed``. Returns the ids.
    """
    return _store(actor, check_featured(gig_ids))


def add_featured(actor: User | None, gig_id: Any) -> list[int]:
    """Feature one more gig, last. Refuses a gig already featured, an unknown or inactive gig
    and a full list (field ``gig_id``). Returns the new list."""
    if not _is_id(gig_id):
        raise DiscoveryError({"gig_id": "Enter a gig id (a number)."})
    current = featured_ids()
    if gig_id in current:
        raise DiscoveryError({"gig_id": f"Gig #{gig_id} is already featured."})
    if len(current) >= FEATURED_MAX:
        raise DiscoveryError({"gig_id": f"At most {FEATURED_MAX} gigs can be featured: remove one first."})
    try:
        check_featured([gig_id])  # the featured ones that went inactive since do not block it
    except DiscoveryError as exc:
        raise DiscoveryError({"gig_id": exc.errors.get(f"{FIELD}.0", str(exc))}) from None
    return _store(actor, [*current, gig_id])


def remove_featured(actor: User | None, gig_id: Any) -> list[int]:
    """Stop featuring a gig (whatever its status). DiscoveryNotFound when it is not featured."""
    current = featured_ids()
    if not _is_id(gig_id) or gig_id not in current:
        raise DiscoveryNotFound({"gig_id": "This gig is not featured."})
    return _store(actor, [i for i in current if i != gig_id])


def move_featured(actor: User | None, gig_id: Any, position: Any) -> list[int]:
    """Put a featured gig at ``position`` (0 first; past the end: last). DiscoveryNotFound
    when it is not featured, DiscoveryError for a position that is not a whole number from 0."""
    current = featured_ids()
    if not _is_id(gig_id) or gig_id not in current:
        raise DiscoveryNotFound({"gig_id": "This gig is not featured."})
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise DiscoveryError({"position": "Use a whole number from 0."})
    rest = [i for i in current if i != gig_id]
    rest.insert(min(position, len(rest)), gig_id)
    return _store(actor, rest)


def find_gigs(text: Any, limit: int = 10) -> list[Gig]:
    """Active gigs to feature: by id (``#42`` or ``42``) or whose title contains ``text``
    (newest first). The console's "add by searching titles"."""
    if not isinstance(text, str) or not text.strip():
        return []
    text = text.strip()[:100]
    query = sa.select(Gig).join(Gig.seller).where(Gig.status == "active", User.status == "active")
    digits = text.lstrip("#")
    if digits.isdigit() and len(digits) < 10:
        query = query.where(Gig.id == int(digits))
    else:
        query = query.where(Gig.title.ilike("%" + escape_like(text) + "%", escape="\\"))
    query = query.order_by(Gig.published_at.desc().nulls_last(), Gig.id.desc()).limit(max(1, min(limit, 50)))
    return list(db.session.scalars(query).unique())
