"""Console actions on the featured gigs: each calls discovery's rule and writes the audit entry
in the same transaction (the request's unit of work commits both, or rolls both back on a
refusal). The rules and every refusal live in ``app/discovery/featured.py``; the web views and
the API call only these, so both are audited alike.

Audit actions (target ``featured_gigs``, changes ``{"gig_ids": [old, new]}``):
``featured.add`` and ``featured.remove`` (target id: the gig), ``featured.move`` (the gig),
``featured.update`` (a whole new list from the API; no entry when nothing changed).
"""

from __future__ import annotations

from typing import Any

from app.accounts.models import User
from app.console.audit import record_audit
from app.discovery import featured
from app.gigs.models import Gig
from tenants.db import db

TARGET = "featured_gigs"


def _title(gig_id: int) -> str:
    gig = db.session.get(Gig, gig_id)
    return f"#{gig_id} “{gig.title}”" if gig is not None else f"#{gig_id}"


def _ids(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids) or "none"


def set_featured(actor: User, gig_ids: Any) -> list[int]:
    """Replace the whole list (``featured.set_featured``), audited as ``featured.update``."""
    before = featured.featured_ids()
    after = featured.set_featured(actor, gig_ids)
    if after != before:
        record_audit(
            actor,
            "featured.update",
            TARGET,
            None,
            f"Featured gigs set to {_ids(after)} (were {_ids(before)})",
            {"gig_ids": [before, after]},
        )
    return after


def add_featured(actor: User, gig_id: Any) -> list[int]:
    """Feature one more gig, last; audited as ``featured.add``."""
    before = featured.featured_ids()
    after = featured.add_featured(actor, gig_id)
    record_audit(
        actor,
        "featured.add",
        TARGET,
        gig_id,
        f"Featured gig {_title(gig_id)} (number {len(after)})",
        {"gig_ids": [before, after]},
    )
    return after


def remove_featured(actor: User, gig_id: Any) -> list[int]:
    """Stop featuring a gig; audited as ``featured.remove``."""
    before = featured.featured_ids()
    after = featured.remove_featured(actor, gig_id)
    record_audit(
        actor,
        "featured.remove",
        TARGET,
        gig_id,
        f"Stopped featuring gig {_title(gig_id)}",
        {"gig_ids": [before, after]},
    )
    return after


def move_featured(actor: User, gig_id: Any, position: Any) -> list[int]:
    """Move a featured gig to ``position`` (0 first); audited as ``featured.move`` when it moved."""
    before = featured.featured_ids()
    after = featured.move_featured(actor, gig_id, position)
    if after != before:
        record_audit(
            actor,
            "featured.move",
            TARGET,
            gig_id,
            f"Moved featured gig {_title(gig_id)} to number {after.index(gig_id) + 1}",
            {"gig_ids": [before, after]},
        )
    return after
