"""Saved gigs and a buyer's named lists ("Saved" is the default list, made on first use).

The rules:
- a list belongs to one user; another user's list id is "not found" (404), never "forbidden",
  so an id tells nothing about other people's lists;
- a list's name is trimmed, 1 to ``LIST_NAME_MAX`` characters, unique per user whatever its
  case; at most ``LISTS_PER_USER`` lists per user and ``GIGS_PER_LIST`` gigs per list;
- only an active gig of an active seller can be saved (the tenant's own: every query runs in
  the bound tenant's schema, so a gig id can only ever name this marketplace's gig). A seller
  may save their own gig, as on Fiverr; "saved by N buyers" does not count the seller;
- saving is idempotent, also when two saves of one gig race (``INSERT .. ON CONFLICT DO
  NOTHING``); a gig paused after it was saved stays in its lists, shown as unavailable.

Services flush, never commit (the request's unit of work does), and raise ``DiscoveryError``
(422, field errors) or ``DiscoveryNotFound`` (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased, joinedload

from app.accounts.models import User
from app.core.ids import INT32_MAX, parse_id
from app.core.text import strip_controls
from app.discovery.errors import DiscoveryError, DiscoveryNotFound
from app.discovery.models import GIGS_PER_LIST, LIST_NAME_MAX, LISTS_PER_USER, SavedGig, SavedList
from app.gigs.models import Gig, GigImage
from tenants.db import db

DEFAULT_LIST_NAME = "Saved"
PER_PAGE = 24
PER_PAGE_MAX = 100
MAX_PAGE = 10_000
# Statuses only the owner ever sees: to anyone else such a gig "does not exist".
_PRIVATE_STATUSES = ("draft", "pending_approval", "rejected")


@dataclass(frozen=True)
class ListSummary:
    """A list with how many gigs it holds and the cover (a thumbnail key) of its first gig."""

    list: SavedList
    count: int
    cover_key: str | None

    @property
    def id(self) -> int:
        return self.list.id

    @property
    def name(self) -> str:
        return self.list.name

    @property
    def is_default(self) -> bool:
        return self.list.is_default


@dataclass(frozen=True)
class SavedItem:
    """One gig of a list as the list's page shows it."""

    gig: Gig
    list_id: int
    saved_at: datetime

    @property
    def available(self) -> bool:
        """False once the gig is paused, archived or its seller suspended: shown, not orderable."""
        return is_available(self.gig)


@dataclass(frozen=True)
class SavedPage:
    list: SavedList
    items: list[SavedItem]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def is_available(gig: Gig) -> bool:
    return gig.status == "active" and gig.seller.status == "active"


# --------------------------------------------------------------------------- lists


def default_list(user: User) -> SavedList:
    """The user's default list, "Saved", made on first use (two first saves at once make one)."""
    found = _default_of(user)
    if found is not None:
        return found
    db.session.execute(
        pg_insert(SavedList)
        .values(user_id=user.id, name=DEFAULT_LIST_NAME, is_default=True)
        .on_conflict_do_nothing()
    )
    found = _default_of(user)
    if found is None:  # a list named "Saved" already (only a race with create_list gets here)
        raise DiscoveryError("Your saved gigs could not be set up just now; try again.")
    return found


def _default_of(user: User) -> SavedList | None:
    return db.session.scalar(
        sa.select(SavedList).where(SavedList.user_id == user.id, SavedList.is_default.is_(True))
    )


def get_list(user: User, list_id: Any, *, field: str | None = None, lock: bool = False) -> SavedList:
    """``user``'s list ``list_id``. Raises DiscoveryNotFound (unknown, or someone else's), or,
    with ``field`` (the id came in a body field), DiscoveryError on that field."""
    number = parse_id(list_id, maximum=INT32_MAX)
    found = None
    if number is not None and user is not None:
        query = sa.select(SavedList).where(SavedList.id == number, SavedList.user_id == user.id)
        found = db.session.scalar(query.with_for_update() if lock else query)
    if found is None:
        if field:
            raise DiscoveryError({field: "You have no list with this id."}, code="list_not_found")
        raise DiscoveryNotFound("This list does not exist.")
    return found


# The user's lists as they are shown: the default one first, then oldest first.
_LIST_ORDER = (SavedList.is_default.desc(), SavedList.created_at, SavedList.id)


def lists_of(user: User, *, make_default: bool = True) -> list[ListSummary]:
    """The user's lists, the default one first then oldest first, with their counts and covers
    (three queries whatever the number of lists). Makes the default list if there is none,
    unless ``make_default`` is False (a page that only offers to save writes nothing)."""
    if make_default:
        default_list(user)
    lists = list(
        db.session.scalars(sa.select(SavedList).where(SavedList.user_id == user.id).order_by(*_LIST_ORDER))
    )
    return _summaries(user, lists)


def chooser_lists(user: User) -> list[ListSummary]:
    """The user's lists with their counts, without covers, in ``lists_of``'s order, in one
    query: the gig page's "Save to list" chooser (names and counts only). Makes nothing."""
    counts = (
        sa.select(SavedGig.list_id, sa.func.count().label("saved"))
        .where(SavedGig.user_id == user.id)
        .group_by(SavedGig.list_id)
        .subquery("counts")
    )
    rows = db.session.execute(
        sa.select(SavedList, sa.func.coalesce(counts.c.saved, 0))
        .outerjoin(counts, counts.c.list_id == SavedList.id)
        .where(SavedList.user_id == user.id)
        .order_by(*_LIST_ORDER)
    ).all()
    return [ListSummary(saved_list, count, None) for saved_list, count in rows]


def list_summary(user: User, list_id: Any) -> ListSummary:
    """One of the user's lists with its count and cover. Raises DiscoveryNotFound."""
    return _summaries(user, [get_list(user, list_id)])[0]


def _summaries(user: User, lists: list[SavedList]) -> list[ListSummary]:
    ids = [saved_list.id for saved_list in lists]
    counts = dict(
        db.session.execute(
            sa.select(SavedGig.list_id, sa.func.count())
            .where(SavedGig.user_id == user.id, SavedGig.list_id.in_(ids))
            .group_by(SavedGig.list_id)
        ).all()
    )
    # The cover of each list: the first image of its most recently saved gig still offered.
    covers = dict(
        db.session.execute(
            sa.select(SavedGig.list_id, GigImage.thumb_key)
            .ext(distinct_on(SavedGig.list_id))
            .join(Gig, Gig.id == SavedGig.gig_id)
            .join(User, User.id == Gig.seller_id)
            .join(GigImage, GigImage.gig_id == Gig.id)
            .where(
                SavedGig.user_id == user.id,
                SavedGig.list_id.in_(ids),
                Gig.status == "active",
                User.status == "active",
            )
            .order_by(SavedGig.list_id, SavedGig.created_at.desc(), SavedGig.id.desc(), GigImage.position)
        ).all()
    )
    return [
        ListSummary(saved_list, counts.get(saved_list.id, 0), covers.get(saved_list.id))
        for saved_list in lists
    ]


def _clean_name(name: Any) -> str:
    if not isinstance(name, str):
        raise DiscoveryError({"name": "Give the list a name."})
    cleaned = " ".join(strip_controls(name).split())
    if not cleaned:
        raise DiscoveryError({"name": "Give the list a name."}, code="name_missing")
    if len(cleaned) > LIST_NAME_MAX:
        raise DiscoveryError(
            {"name": f"Keep the name to {LIST_NAME_MAX} characters (it has {len(cleaned)})."},
            code="name_too_long",
        )
    return cleaned


def _duplicate(user: User, name: str) -> DiscoveryError:
    return DiscoveryError({"name": f"You already have a list named “{name}”."}, code="name_taken")


def _refuse_duplicate(user: User, name: str, *, except_id: int | None = None) -> None:
    query = sa.select(SavedList.id).where(
        SavedList.user_id == user.id, sa.func.lower(SavedList.name) == sa.func.lower(name)
    )
    if except_id is not None:
        query = query.where(SavedList.id != except_id)
    if db.session.scalar(query.limit(1)) is not None:
        raise _duplicate(user, name)


def _flush_named(user: User, saved_list: SavedList, name: str) -> None:
    """Flush a new or renamed list; a twin made by a concurrent request is a duplicate name."""
    try:
        with db.session.begin_nested():
            db.session.add(saved_list)
            db.session.flush()
    except sa.exc.IntegrityError:
        raise _duplicate(user, name) from None


def create_list(user: User, name: Any) -> SavedList:
    """A new list named ``name`` (trimmed). Raises DiscoveryError on ``name``: empty, too long,
    taken (whatever the case), or the user has ``LISTS_PER_USER`` lists already."""
    cleaned = _clean_name(name)
    # The default list's row is the user's lock: two creations at once count one after the other.
    default = default_list(user)
    db.session.execute(sa.select(SavedList.id).where(SavedList.id == default.id).with_for_update())
    count = db.session.scalar(sa.select(sa.func.count()).where(SavedList.user_id == user.id))
    if count >= LISTS_PER_USER:
        raise DiscoveryError(
            {"name": f"You have {LISTS_PER_USER} lists, the most there can be: delete one first."},
            code="too_many_lists",
        )
    _refuse_duplicate(user, cleaned)
    saved_list = SavedList(user_id=user.id, name=cleaned, is_default=False)
    _flush_named(user, saved_list, cleaned)
    return saved_list


def rename_list(user: User, list_id: Any, name: Any) -> SavedList:
    """Rename one of the user's lists (the default one too). Raises DiscoveryNotFound, or
    DiscoveryError on ``name`` (empty, too long, taken)."""
    saved_list = get_list(user, list_id)
    cleaned = _clean_name(name)
    if cleaned == saved_list.name:
        return saved_list
    _refuse_duplicate(user, cleaned, except_id=saved_list.id)
    saved_list.name = cleaned
    saved_list.updated_at = sa.func.now()
    _flush_named(user, saved_list, cleaned)
    db.session.refresh(saved_list, ["updated_at"])
    return saved_list


def delete_list(user: User, list_id: Any) -> None:
    """Delete one of the user's lists and the gigs saved in it (they stay saved in the user's
    other lists). Raises DiscoveryNotFound, or DiscoveryError (409) for the default list."""
    saved_list = get_list(user, list_id)
    if saved_list.is_default:
        raise DiscoveryError(
            f"“{saved_list.name}” is your default list: it cannot be deleted.",
            status=409,
            code="default_list",
        )
    db.session.execute(sa.delete(SavedGig).where(SavedGig.list_id == saved_list.id))
    db.session.delete(saved_list)
    db.session.flush()


# --------------------------------------------------------------------------- saving


def saveable_gig(user: User, gig_id: Any, *, field: str = "gig_id") -> Gig:
    """The gig ``gig_id`` if ``user`` may save it. Raises DiscoveryError on ``field``: no such
    gig in this marketplace, or not offered now (paused, archived, its seller suspended)."""
    number = parse_id(gig_id, maximum=INT32_MAX)
    gig = db.session.get(Gig, number) if number is not None else None
    if gig is None or (gig.status in _PRIVATE_STATUSES and gig.seller_id != user.id):
        raise DiscoveryError({field: "This gig does not exist."}, code="gig_not_found")
    if not is_available(gig):
        raise DiscoveryError(
            {field: "This gig is not available now (paused or no longer offered): it cannot be saved."},
            code="gig_unavailable",
        )
    return gig


def _lock_list(saved_list: SavedList) -> None:
    db.session.execute(sa.select(SavedList.id).where(SavedList.id == saved_list.id).with_for_update())


def _count_in(saved_list: SavedList) -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(SavedGig.list_id == saved_list.id))


def _row(list_id: int, gig_id: int) -> SavedGig | None:
    return db.session.scalar(
        sa.select(SavedGig).where(SavedGig.list_id == list_id, SavedGig.gig_id == gig_id)
    )


def _item(row: SavedGig) -> SavedItem:
    return SavedItem(db.session.get(Gig, row.gig_id), row.list_id, row.created_at)


def save_gig(user: User, gig_id: Any, list_id: Any = None) -> SavedItem:
    """Save the gig in one of the user's lists (None: the default list). Idempotent: a gig
    already in the list stays as it is. Raises DiscoveryNotFound (the list), DiscoveryError on
    ``gig_id`` (unknown, not available, the list is full)."""
    saved_list = default_list(user) if list_id is None else get_list(user, list_id)
    gig = saveable_gig(user, gig_id)
    # One save into a list at a time: the count below stays true until this one commits.
    _lock_list(saved_list)
    existing = _row(saved_list.id, gig.id)
    if existing is not None:
        return _item(existing)
    if _count_in(saved_list) >= GIGS_PER_LIST:
        raise DiscoveryError(
            {
                "gig_id": f"“{saved_list.name}” holds {GIGS_PER_LIST} gigs, the most a list can: "
                "remove some or use another list."
            },
            code="list_full",
        )
    # Another request saving the same gig in the same list now: theirs wins, ours is a no-op.
    db.session.execute(
        pg_insert(SavedGig)
        .values(list_id=saved_list.id, user_id=user.id, gig_id=gig.id)
        .on_conflict_do_nothing(index_elements=["list_id", "gig_id"])
    )
    return _item(_row(saved_list.id, gig.id))


def save_gig_to_new_list(user: User, gig_id: Any, name: Any) -> SavedItem:
    """Make a list named ``name`` and save the gig in it (the gig page's "new list" field).
    Raises what ``create_list`` and ``save_gig`` raise (the gig is checked first)."""
    saveable_gig(user, gig_id)
    return save_gig(user, gig_id, create_list(user, name).id)


def unsave_gig(user: User, gig_id: Any, list_id: Any = None) -> int:
    """Take the gig out of one of the user's lists, or out of every list (``list_id`` None,
    idempotent). Returns how many rows went. Raises DiscoveryNotFound: the list, or the gig is
    not in that list."""
    number = parse_id(gig_id, maximum=INT32_MAX)
    query = sa.delete(SavedGig).where(SavedGig.user_id == user.id, SavedGig.gig_id == (number or 0))
    if list_id is not None:
        saved_list = get_list(user, list_id)
        query = query.where(SavedGig.list_id == saved_list.id)
    removed = len(db.session.execute(query.returning(SavedGig.id)).all()) if number else 0
    if list_id is not None and not removed:
        raise DiscoveryNotFound("This gig is not in this list.")
    return removed


def move_gig(user: User, gig_id: Any, from_list_id: Any, to_list_id: Any) -> SavedItem:
    """Move a saved gig from one of the user's lists to another (already there too: it just
    leaves the first). Raises DiscoveryNotFound (the first list, or the gig is not in it),
    DiscoveryError on ``to_list_id`` (unknown list, or full)."""
    source = get_list(user, from_list_id)
    target = get_list(user, to_list_id, field="to_list_id")
    number = parse_id(gig_id, maximum=INT32_MAX)
    row = _row(source.id, number) if number else None
    if row is None:
        raise DiscoveryNotFound("This gig is not in this list.")
    if source.id == target.id:
        return _item(row)
    _lock_list(target)
    there = _row(target.id, row.gig_id)
    if there is not None:
        db.session.delete(row)
        db.session.flush()
        return _item(there)
    if _count_in(target) >= GIGS_PER_LIST:
        raise DiscoveryError(
            {"to_list_id": f"“{target.name}” holds {GIGS_PER_LIST} gigs, the most a list can."},
            code="list_full",
        )
    row.list_id = target.id
    db.session.flush()
    return _item(row)


def list_gigs(user: User, list_id: Any, page: int = 1, per_page: int = PER_PAGE) -> SavedPage:
    """A page of the gigs in one of the user's lists: the ones on offer first, then those
    paused or gone (shown as unavailable), each group most recently saved first. Raises
    DiscoveryNotFound. A page beyond the last is empty."""
    saved_list = get_list(user, list_id)
    per_page = max(1, min(int(per_page), PER_PAGE_MAX))
    total = db.session.scalar(sa.select(sa.func.count()).where(SavedGig.list_id == saved_list.id))
    items: list[SavedItem] = []
    if isinstance(page, int) and 1 <= page <= MAX_PAGE:
        seller = aliased(User)
        on_offer = sa.and_(Gig.status == "active", seller.status == "active")
        rows = db.session.execute(
            sa.select(SavedGig, Gig)
            .join(Gig, Gig.id == SavedGig.gig_id)
            .join(seller, seller.id == Gig.seller_id)
            .where(SavedGig.list_id == saved_list.id)
            .order_by(on_offer.desc(), SavedGig.created_at.desc(), SavedGig.id.desc())
            .options(joinedload(Gig.seller).joinedload(User.seller_profile))
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).unique()
        items = [SavedItem(gig, row.list_id, row.created_at) for row, gig in rows]
    return SavedPage(saved_list, items, total, page, per_page)


# --------------------------------------------------------------------------- reading for pages


def saved_ids(user: User | None, gig_ids: Any = None) -> set[int]:
    """Which of ``gig_ids`` the user saved in any list (None: every gig they saved), in one
    query: the hearts of a page of cards."""
    if user is None or getattr(user, "id", None) is None:
        return set()
    query = sa.select(SavedGig.gig_id).distinct().where(SavedGig.user_id == user.id)
    if gig_ids is not None:
        ids = {n for n in (parse_id(v, maximum=INT32_MAX) for v in gig_ids) if n}
        if not ids:
            return set()
        query = query.where(SavedGig.gig_id.in_(ids))
    return set(db.session.scalars(query))


def is_saved(user: User | None, gig_id: Any) -> bool:
    number = parse_id(gig_id, maximum=INT32_MAX)
    return bool(number) and number in saved_ids(user, [number])


def lists_with(user: User, gig_id: int) -> set[int]:
    """The ids of the user's lists that hold the gig."""
    return set(
        db.session.scalars(
            sa.select(SavedGig.list_id).where(SavedGig.user_id == user.id, SavedGig.gig_id == gig_id)
        )
    )


def save_counts(gig_ids: Any) -> dict[int, int]:
    """``{gig_id: how many users saved it}`` (the seller saving their own gig is not counted),
    in one grouped query; gigs nobody saved are left out."""
    ids = {n for n in (parse_id(v, maximum=INT32_MAX) for v in gig_ids or ()) if n}
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(SavedGig.gig_id, sa.func.count(sa.distinct(SavedGig.user_id)))
        .join(Gig, Gig.id == SavedGig.gig_id)
        .where(SavedGig.gig_id.in_(ids), SavedGig.user_id != Gig.seller_id)
        .group_by(SavedGig.gig_id)
    ).all()
    return {gig_id: count for gig_id, count in rows}
