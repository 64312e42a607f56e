"""Recently viewed gigs and "because you viewed": what a signed-in user opened last, and more
like it.

``record_view`` runs on every gig page a signed-in user opens (a page section registered with
``app.gigs.services.register_gig_section``, see ``gig_page_section``), so it is one statement:
an upsert of the (user, gig) row that, when the row is new, also deletes the user's views
beyond the ``RECENTLY_VIEWED_KEPT`` most recent (a data-modifying CTE; the delete walks
``ix_gig_views_recent``). It flushes nothing and commits nothing: the request's unit of work
commits it with the page (a page that fails keeps no view).

Readers show active gigs of active sellers only; a gig paused or archived after the view keeps
its row (it comes back if the gig does) but is never listed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import joinedload, raiseload

from app.accounts.models import User
from app.discovery.models import RECENTLY_VIEWED_KEPT, GigView
from app.gigs.models import Gig
from tenants.db import db

# "Because you viewed" looks at this many of the latest views: their categories and tags; and
# ranks at most this many candidates (the best rated of those categories sharing a tag).
BECAUSE_BASIS = 3
BECAUSE_CANDIDATES = 300


def _signed_in(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and getattr(user, "id", None)


def record_view(user: User | None, gig: Gig, *, now: datetime | None = None) -> bool:
    """Note that ``user`` opened ``gig``'s page (at ``now``, default the transaction's time).

    Nothing for anonymous visitors, for the gig's own seller, or for a gig that is not active.
    One statement: upsert the (user, gig) row and, when it is new, drop the user's views beyond
    the ``RECENTLY_VIEWED_KEPT`` most recent. Not flushed to the ORM, not committed: the
    request's unit of work commits it. Returns whether a view was recorded.
    """
    if not _signed_in(user) or gig.seller_id == user.id or gig.status != "active":
        return False
    table = GigView.__table__
    when = now if now is not None else sa.func.now()
    upsert = (
        pg_insert(table)
        .values(user_id=user.id, gig_id=gig.id, viewed_at=when)
        .on_conflict_do_update(index_elements=[table.c.user_id, table.c.gig_id], set_={"viewed_at": when})
        # xmax is 0 on a freshly inserted row version (PostgreSQL): "was this view new?"
        .returning(sa.literal_column("xmax = 0").label("inserted"))
        .cte("upsert")
    )
    # The delete sees the table as it was before this statement (the new row is not there yet):
    # keep the KEPT - 1 most recent older views, plus the new one.
    keep = (
        sa.select(table.c.gig_id)
        .where(table.c.user_id == user.id)
        .order_by(table.c.viewed_at.desc(), table.c.gig_id.desc())
        .limit(RECENTLY_VIEWED_KEPT - 1)
    )
    prune = (
        sa.delete(table)
        .where(
            table.c.user_id == user.id,
            table.c.gig_id != gig.id,
            table.c.gig_id.not_in(keep.scalar_subquery()),
            sa.select(upsert.c.inserted).scalar_subquery(),
        )
        .add_cte(upsert)
    )
    db.session.execute(prune)
    return True


def _card_query(ids=None):
    """Active gigs of active sellers, with what a card shows (seller and level, category, images)
    in the same query; packages, extras and FAQs raise if touched."""
    query = (
        sa.select(Gig)
        .join(Gig.seller)
        .where(Gig.status == "active", User.status == "active")
        .options(
            joinedload(Gig.seller).joinedload(User.seller_profile),
            joinedload(Gig.images),
            raiseload(Gig.packages),
            raiseload(Gig.extras),
            raiseload(Gig.faqs),
        )
    )
    if ids is not None:
        query = query.where(Gig.id.in_(ids))
    return query


def load_cards(ids: list[int]) -> list[Gig]:
    """The active gigs (of active sellers) among ``ids``, in the order of ``ids``, loaded for cards
    in one query; the others are left out."""
    if not ids:
        return []
    by_id = {gig.id: gig for gig in db.session.scalars(_card_query(ids)).unique()}
    return [by_id[i] for i in ids if i in by_id]


def recent_view_ids(user: User | None, limit: int = RECENTLY_VIEWED_KEPT) -> list[tuple[int, datetime]]:
    """``(gig_id, viewed_at)`` of the user's latest views, most recent first (any gig status)."""
    if not _signed_in(user):
        return []
    limit = max(1, min(int(limit), RECENTLY_VIEWED_KEPT))
    rows = db.session.execute(
        sa.select(GigView.gig_id, GigView.viewed_at)
        .where(GigView.user_id == user.id)
        .order_by(GigView.viewed_at.desc(), GigView.gig_id.desc())
        .limit(limit)
    ).all()
    return [(row.gig_id, row.viewed_at) for row in rows]


def recently_viewed(user: User | None, limit: int = 12) -> list[Gig]:
    """The active gigs ``user`` viewed last, most recent first (at most ``limit``; none for
    anonymous visitors). Each gig carries ``viewed_at``. Two queries: the views, the cards."""
    views = recent_view_ids(user)
    gigs = load_cards([gig_id for gig_id, _ in views])[: max(0, int(limit))]
    when = dict(views)
    for gig in gigs:
        gig.viewed_at = when[gig.id]
    return gigs


def clear_recently_viewed(user: User) -> int:
    """Forget every view of ``user``; returns how many. Flushes (a plain DELETE)."""
    return db.session.execute(sa.delete(GigView).where(GigView.user_id == user.id)).rowcount


def because_you_viewed(user: User | None, limit: int = 8, *, basis: list[Gig] | None = None) -> list[Gig]:
    """Active gigs like the ones ``user`` viewed last: in the categories of the latest
    ``BECAUSE_BASIS`` views and sharing a tag with them, ranked by how many tags they share,
    then by rating (average, then count) and newest; never a gig already viewed, never the
    user's own. Only the ``BECAUSE_CANDIDATES`` best rated matches are ranked (the bound that
    keeps it fast when the categories hold thousands of gigs).

    ``basis``: the viewed gigs when the caller already has them (``recently_viewed``), else
    they are loaded. Empty for anonymous visitors and users who viewed nothing active.
    The candidates are read through ``ix_gigs_status_category`` (the categories' active gigs).
    """
    if not _signed_in(user) or limit <= 0:
        return []
    viewed_ids = [gig_id for gig_id, _ in recent_view_ids(user)]
    if not viewed_ids:
        return []
    if basis is None:
        basis = load_cards(viewed_ids[:BECAUSE_BASIS])
    basis = basis[:BECAUSE_BASIS]
    categories = sorted({gig.category_id for gig in basis if gig.category_id is not None})
    if not categories:
        return []
    tags = sorted({tag for gig in basis for tag in gig.tags or ()})
    if not tags:
        return []
    # The best rated few hundred gigs of those categories that share a tag (a top-N sort on a
    # column, cheap), then those ranked by how many tags they share (the costly expression, on
    # a bounded set).
    candidates = (
        sa.select(Gig.id, Gig.tags, Gig.rating_avg, Gig.rating_count, Gig.published_at)
        .join(Gig.seller)
        .where(
            Gig.status == "active",
            User.status == "active",
            Gig.category_id.in_(categories),
            Gig.tags.overlap(sa.cast(tags, Gig.tags.type)),
            Gig.seller_id != user.id,
            Gig.id.not_in(viewed_ids),
        )
        .order_by(Gig.rating_avg.desc(), Gig.rating_count.desc(), Gig.id.desc())
        .limit(BECAUSE_CANDIDATES)
        .subquery()
    )
    # One point per tag of the viewed gigs this gig also has.
    shared = sum(
        (sa.case((sa.literal(tag) == sa.any_(candidates.c.tags), 1), else_=0) for tag in tags), sa.literal(0)
    )
    ranked = (
        sa.select(candidates.c.id)
        .order_by(
            shared.desc(),
            candidates.c.rating_avg.desc(),
            candidates.c.rating_count.desc(),
            candidates.c.published_at.desc().nulls_last(),
            candidates.c.id.desc(),
        )
        .limit(min(int(limit), 24))
    )
    return load_cards(list(db.session.scalars(ranked)))


def gig_page_section(gig: Gig, viewer: User | None) -> None:
    """Registered with ``app.gigs.services.register_gig_section``: records the view of a
    signed-in visitor (not the seller) and shows nothing."""
    record_view(viewer, gig)
    return None
