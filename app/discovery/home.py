"""The marketplace home page's sections: ``home_sections(user)``.

Two parts:

- **per tenant, cached**: the featured gigs (else the best rated), the popular categories with a
  picture each, the top sellers, the newest gigs and the newest open jobs. Computed by
  ``compute_home`` and kept in Redis as JSON of ids and plain values (never ORM objects, never
  signed URLs, which expire) under ``t:<tenant_id>:home:<generation>`` for ``HOME_TTL`` seconds.
  The generation is the tenant cache's ``home`` stamp (``app.core.tenant_cache``: a random token
  read in the request's one MGET), renewed whenever something shown could change (gigs, reviews,
  jobs, sellers, featured, categories, branding): at the commit that published the event, in
  the committing process, and again when discovery's handler delivers it
  (``app/discovery/events.py``). The next request misses and computes afresh; a stale entry
  under an old generation is never read again and expires.
- **per user, uncached**: recently viewed and "because you viewed" (signed-in users only).

Rendering loads the cached gig ids of every gig row in one query (cards: seller and level,
category, images) and drops what is no longer active, so a gig paused a moment ago never shows
even before its event is handled; sellers and jobs likewise, one query each.

Queries behind the cached part (50,000 gigs: docs/benchmarks.md "Home page"): category counts
read ``ix_gigs_status_category``; the top-rated and newest rows sort the active gigs (there is no
index on ``rating_*`` or ``published_at``: a top-N heap sort of one pass, paid once per
generation); jobs walk ``ix_jobs_public_open_published_at``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.accounts.models import SellerProfile, User
from app.core import tenant_cache
from app.discovery.featured import featured_ids
from app.discovery.viewed import because_you_viewed, load_cards, recent_view_ids
from app.extensions import redis_store
from app.gigs.models import Gig, GigImage
from app.gigs.services import visible_category_nodes
from app.jobs.models import Job
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

HOME_TTL = 600  # seconds
FORMAT = 1  # bump when the cached JSON's shape changes
FALLBACK_SIZE = 8  # best rated gigs when none are featured
CATEGORY_TILES = 8
TOP_SELLERS = 8
NEWEST_SIZE = 8
JOBS_SIZE = 4
RECENT_SIZE = 8
BECAUSE_SIZE = 8
LEVEL_RANK = {"top_rated": 3, "level_2": 2, "level_1": 1, "new": 0}


# The home generation is a stamp of the tenant cache (``app.core.tenant_cache``): read in the
# request's one MGET with the branding's and the categories', a random token, renewed by every
# change the page shows.
HOME_CACHE = tenant_cache.register("home")


def home_key(tenant_id: int, generation: str) -> str:
    return f"t:{tenant_id}:home:{generation}"


def because_key(tenant_id: int, user_id: int, views: str) -> str:
    """Where a user's "because you viewed" ids are kept (``views``: a digest of the ids of their
    recent views, which the suggestions follow)."""
    return f"t:{int(tenant_id)}:home:because:{int(user_id)}:{views}"


def current_generation() -> str | None:
    """The bound tenant's home generation (its tenant-cache stamp, from the request's one MGET);
    None when Redis does not answer (nothing may be cached then)."""
    return tenant_cache.stamp(HOME_CACHE)


def bump_generation() -> None:
    """Make the bound tenant's cached home stale: every process computes it afresh (and renders
    its kept anonymous page again) on its next request."""
    try:
        tenant_cache.renew(HOME_CACHE)
    except redis.RedisError:  # the entries expire on their own (HOME_TTL, ANONYMOUS_PAGE_TTL)
        log.warning("could not bump the home generation of tenant %s", current_tenant().id)


# --------------------------------------------------------------------------- the cached part


def _active_gigs():
    return (
        sa.select(Gig.id)
        .join(User, User.id == Gig.seller_id)
        .where(Gig.status == "active", User.status == "active")
    )


def _best_rated_ids(limit: int) -> list[int]:
    """The best rated active gigs (most reviews, then average; reviews stand for orders here),
    newest first among equals: unreviewed newcomers fill a young marketplace's row."""
    query = _active_gigs().order_by(
        Gig.rating_count.desc(), Gig.rating_avg.desc(), Gig.published_at.desc().nulls_last(), Gig.id.desc()
    )
    return list(db.session.scalars(query.limit(limit)))


def _newest_ids(limit: int) -> list[int]:
    query = _active_gigs().order_by(Gig.published_at.desc().nulls_last(), Gig.id.desc())
    return list(db.session.scalars(query.limit(limit)))


PICTURE_SCAN = 500  # best rated gigs with a cover looked at for the category tiles


def _popular_categories(limit: int) -> list[dict]:
    """Visible top-level categories ranked by their active gigs (their subcategories' included),
    each with the thumbnail of its best rated gig that has one."""
    nodes = visible_category_nodes()
    top_of: dict[int, int] = {}
    for node in nodes:
        top_of[node.id] = node.id
        for child in node.children:
            top_of[child.id] = node.id
    counts = db.session.execute(
        sa.select(Gig.category_id, sa.func.count())
        .where(Gig.status == "active", Gig.category_id.in_(list(top_of)))
        .group_by(Gig.category_id)
    ).all()
    per_top: dict[int, int] = {}
    for category_id, count in counts:
        per_top[top_of[category_id]] = per_top.get(top_of[category_id], 0) + count
    by_id = {node.id: node for node in nodes}
    chosen = sorted(
        (top_id for top_id, count in per_top.items() if count),
        key=lambda top_id: (-per_top[top_id], by_id[top_id].name.lower()),
    )[:limit]
    if not chosen:
        return []
    members = {cid: top for cid, top in top_of.items() if top in chosen}
    # Each tile's picture: the cover (the image at position 0; positions are renumbered when one
    # is removed) of the category's best rated gig that has one. The best rated gigs are read in
    # the order of ``ix_gigs_active_best`` and the first cover of each category wins: no sort over
    # every gig of the categories; a category none of the first PICTURE_SCAN gigs covers gets none.
    best = (
        sa.select(Gig.category_id, Gig.id, GigImage.thumb_key)
        .join(User, User.id == Gig.seller_id)
        .join(GigImage, sa.and_(GigImage.gig_id == Gig.id, GigImage.position == 0))
        .where(Gig.status == "active", User.status == "active", Gig.category_id.in_(list(members)))
        .order_by(
            Gig.rating_count.desc(),
            Gig.rating_avg.desc(),
            Gig.published_at.desc().nulls_last(),
            Gig.id.desc(),
        )
        .limit(PICTURE_SCAN)
    )
    pictures: dict[int, tuple[int, str]] = {}
    for row in db.session.execute(best):
        pictures.setdefault(members[row.category_id], (row.id, row.thumb_key))
        if len(pictures) == len(chosen):
            break
    return [
        {
            "id": top_id,
            "name": by_id[top_id].name,
            "slug": by_id[top_id].slug,
            "gigs": per_top[top_id],
            "gig_id": pictures.get(top_id, (None, None))[0],
            "thumb_key": pictures.get(top_id, (None, None))[1],
        }
        for top_id in chosen
    ]


def _top_seller_ids(limit: int) -> list[int]:
    """Active sellers with a live gig, by level (top rated first), rating average, then count."""
    rank = sa.case(*((SellerProfile.level == level, value) for level, value in LEVEL_RANK.items()), else_=0)
    has_gig = sa.exists().where(Gig.seller_id == SellerProfile.user_id, Gig.status == "active")
    query = (
        sa.select(SellerProfile.user_id)
        .join(User, User.id == SellerProfile.user_id)
        .where(User.status == "active", has_gig)
        .order_by(
            rank.desc(),
            SellerProfile.rating_avg.desc(),
            SellerProfile.rating_count.desc(),
            SellerProfile.user_id,
        )
        .limit(limit)
    )
    return list(db.session.scalars(query))


def _open_job_ids(limit: int) -> list[int]:
    query = (
        sa.select(Job.id)
        .where(Job.status == "open", Job.visibility == "public")
        .order_by(Job.published_at.desc(), Job.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def compute_home() -> dict:
    """The cached part of the bound tenant's home page, as plain values (see the module doc)."""
    featured = featured_ids()
    return {
        "format": FORMAT,
        "featured": featured,
        # Filled in at render time when the featured ones are all inactive by then.
        "best_rated": _best_rated_ids(FALLBACK_SIZE),
        "categories": _popular_categories(CATEGORY_TILES),
        "sellers": _top_seller_ids(TOP_SELLERS),
        "newest": _newest_ids(NEWEST_SIZE),
        "jobs": _open_job_ids(JOBS_SIZE),
    }


def cached_home() -> dict:
    """The cached part of the bound tenant's home page: from Redis under the current
    generation, or computed and stored there. Redis down: computed every time."""
    generation = current_generation()
    if generation is None:
        return compute_home()
    client = redis_store.client
    key = home_key(current_tenant().id, generation)
    try:
        raw = client.get(key)
    except redis.RedisError:
        return compute_home()
    if raw is not None:
        try:
            data = json.loads(raw)
            if data.get("format") == FORMAT:
                return data
        except ValueError:
            pass
    data = compute_home()
    with contextlib.suppress(redis.RedisError):
        client.set(key, json.dumps(data), ex=HOME_TTL)
    return data


# --------------------------------------------------------------------------- the page


@dataclass
class CategoryTile:
    id: int
    name: str
    slug: str
    gigs: int
    thumb_key: str | None


@dataclass
class HomeSections:
    featured: list[Gig] = field(default_factory=list)
    featured_is_fallback: bool = False  # no featured gig: the best rated ones instead
    categories: list[CategoryTile] = field(default_factory=list)
    top_sellers: list[User] = field(default_factory=list)
    newest: list[Gig] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    recently_viewed: list[Gig] = field(default_factory=list)
    because_you_viewed: list[Gig] = field(default_factory=list)
    because_of: Gig | None = None  # the gig "because you viewed" names

    @property
    def is_empty(self) -> bool:
        """No live gig at all: the page shows its welcome state."""
        return not (self.featured or self.newest)


def _load_sellers(ids: list[int]) -> list[User]:
    if not ids:
        return []
    rows = db.session.scalars(
        sa.select(User)
        .join(SellerProfile, SellerProfile.user_id == User.id)
        .where(User.id.in_(ids), User.status == "active")
        .options(joinedload(User.seller_profile))
    ).unique()
    by_id = {user.id: user for user in rows}
    return [by_id[i] for i in ids if i in by_id]


def _load_jobs(ids: list[int]) -> list[Job]:
    if not ids:
        return []
    rows = db.session.scalars(
        sa.select(Job).where(Job.id.in_(ids), Job.status == "open", Job.visibility == "public")
    )
    by_id = {job.id: job for job in rows}
    return [by_id[i] for i in ids if i in by_id]


def home_sections(user: Any = None) -> HomeSections:
    """Everything the home page shows to ``user`` (None or anonymous: no personal rows).

    The tenant's part comes from the cache (``cached_home``). Its gigs, a signed-in user's
    recently viewed ones and their kept "because you viewed" are loaded as cards in one query,
    and those no longer active left out. Featured gigs are shown when any is live, else the best
    rated ones (``featured_is_fallback``).
    """
    data = cached_home()
    featured_ids_, best, newest = data["featured"], data["best_rated"], data["newest"]
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    views = recent_view_ids(user) if signed_in else []
    view_ids = [gig_id for gig_id, _ in views]
    kept_key, because_ids = _kept_because(user, view_ids) if view_ids else (None, None)
    wanted = [*featured_ids_, *best, *newest, *view_ids, *(because_ids or ())]
    cards = {gig.id: gig for gig in load_cards(list(dict.fromkeys(wanted)))}
    sections = HomeSections(
        featured=[cards[i] for i in featured_ids_ if i in cards],
        newest=[cards[i] for i in newest if i in cards],
        categories=[
            CategoryTile(c["id"], c["name"], c["slug"], c["gigs"], c["thumb_key"]) for c in data["categories"]
        ],
        top_sellers=_load_sellers(data["sellers"]),
        jobs=_load_jobs(data["jobs"]),
    )
    if not sections.featured:
        sections.featured = [cards[i] for i in best if i in cards]
        sections.featured_is_fallback = True
    if signed_in:
        when = dict(views)
        recent = [cards[i] for i in view_ids if i in cards][:RECENT_SIZE]
        for gig in recent:
            gig.viewed_at = when[gig.id]
        sections.recently_viewed = recent
        if recent:
            sections.because_of = recent[0]
            if because_ids is not None:
                sections.because_you_viewed = [cards[i] for i in because_ids if i in cards]
            else:
                sections.because_you_viewed = _computed_because(user, recent, kept_key)
    return sections


def _kept_because(user: User, view_ids: list[int]) -> tuple[str | None, list[int] | None]:
    """``(key, ids)`` of the user's "because you viewed", kept in Redis for ``HOME_TTL`` under
    the tenant, the user and their recent views (a new view makes a new key: nothing to
    invalidate); ``ids`` None when nothing is kept, ``key`` None when Redis does not answer.
    Not under the home's generation: every gig change of the marketplace renews that, and each
    signed-in buyer's suggestions would be computed again on their next home page (~25 ms at
    50,000 gigs); a gig published since shows in them within ``HOME_TTL``. The ids are loaded
    as cards, so a gig paused since is left out at once."""
    views = hashlib.sha256(",".join(str(gig_id) for gig_id in view_ids).encode()).hexdigest()[:16]
    key = because_key(current_tenant().id, user.id, views)
    try:
        raw = redis_store.client.get(key)
    except redis.RedisError:
        return None, None
    if raw is None:
        return key, None
    try:
        return key, [int(i) for i in json.loads(raw)]
    except (ValueError, TypeError):
        return key, None


def _computed_because(user: User, basis: list[Gig], key: str | None) -> list[Gig]:
    """``because_you_viewed`` from the loaded recent views, kept under ``key`` (None: Redis does
    not answer; computed every time then)."""
    gigs = because_you_viewed(user, BECAUSE_SIZE, basis=basis)
    if key is not None:
        with contextlib.suppress(redis.RedisError):
            redis_store.client.set(key, json.dumps([gig.id for gig in gigs]), ex=HOME_TTL)
    return gigs
