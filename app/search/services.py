"""Search rules: turning buyer input into a query, running it, keeping the index in step.

The index is a cache of the database, never the truth. ``search_gigs`` asks the
backend for ids, then loads the gigs in that order and keeps only those that are
still active with an active seller: a gig paused a moment ago never shows up even
if its ``gig.paused`` event has not been handled yet (its stale entry is queued
for repair). Writers load the gig fresh inside the tenant's writer lock, so the
last writer always writes the newest state, whatever order events arrive in.

One writer per tenant index: every write holds the Redis lock
``t:<tenant_id>:search:writer`` (across threads and processes), and writes every
gig of the tenant waiting to be written (``PendingWrites``), so concurrent edits
coalesce into one writer session. When the index cannot answer (missing, or of
an older format) searches are answered by the PostgreSQL backend and a rebuild
is queued.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import nh3
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload, raiseload

from app.accounts.models import SellerProfile, User
from app.core import geo, metrics, money
from app.core.domain_errors import DomainError
from app.extensions import get_queue, redis_store
from app.gigs.models import MAX_PRICE_MINOR, Category, Gig
from app.search.backend import (
    DELIVERY_MODES,
    SELLER_LEVEL_FILTERS,
    SORTS,
    GigDocument,
    IndexUnavailable,
    SearchQuery,
    SearchResult,
    get_backend,
)
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

TEXT_MAX = 200
PER_PAGE_DEFAULT, PER_PAGE_MAX = 24, 100
DELIVERY_MAX = 90
RATING_MAX = 5
SUGGEST_LIMIT = 8
FILTER_VALUES_MAX = 10  # languages or countries a search may name
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}\Z")
SEARCH_QUEUE = "default"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SearchError(DomainError):
    """Search parameters that make no sense; ``errors`` maps a parameter to a message."""

    location = "query"

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.summary = self.message  # the API's message names every bad parameter


class SearchBusy(RuntimeError):
    """The tenant's index writer lock could not be taken in time, or a rebuild holds it (the job
    is retried)."""


# --------------------------------------------------------------------------- the query


def build_query(
    *,
    text: Any = "",
    category: Any = None,
    min_price: Any = None,
    max_price: Any = None,
    max_delivery_days: Any = None,
    min_rating: Any = None,
    seller_level: Any = None,
    sort: Any = None,
    page: Any = 1,
    per_page: Any = PER_PAGE_DEFAULT,
    near: Any = None,
    lat: Any = None,
    lng: Any = None,
    within_km: Any = None,
    delivery: Any = None,
    language: Any = None,
    country: Any = None,
    online: Any = False,
) -> SearchQuery:
    """A validated ``SearchQuery`` from typed values (prices in minor units, ``category`` a slug,
    ``seller_level`` one level or a list of them: ``level_1``, ``level_2``, ``top_rated``).

    Location (docs/design/discovery.md): ``near`` a city ("Berlin", "Berlin, DE" or a GeoNames
    id; same-named cities resolve to the marketplace's default country first) or ``lat`` and
    ``lng`` (both; they win over ``near``), ``within_km`` (> 0, above ``geo.MAX_RADIUS_KM``
    clamped; ignored without a place). ``delivery``: ``online`` / ``on_site`` (one or both),
    ``language``: language codes (``en``), ``country``: ISO country codes of the seller,
    ``online``: only sellers online now (``search_gigs`` fills the set). Errors are keyed by the
    API's parameter names (``near``, ``lat``, ``lng``, ``within_km``, ``mode``, ``language``,
    ``country``).

    Raises SearchError naming every bad parameter. Clamps rather than refuses
    where a clamp is what the buyer meant: a price ceiling above any possible
    price or a delivery limit above 90 days filter nothing, a page past the end
    is simply empty.
    """
    errors: dict[str, str] = {}
    text = " ".join(_CONTROL.sub(" ", text or "").split()) if isinstance(text, str) else ""
    if len(text) > TEXT_MAX:
        errors["q"] = f"Search for at most {TEXT_MAX} characters."
    category_ids: tuple[int, ...] = ()
    if category not in (None, ""):
        found = _visible_category(category)
        if found is None:
            errors["category"] = "There is no such category."
        else:
            category_ids = (found.id,)
    for name, value in (("min_price", min_price), ("max_price", max_price)):
        if value is not None and value < 0:
            errors[name] = "A price cannot be negative."
    if min_price is not None and max_price is not None and min_price > max_price and not errors:
        errors["max_price"] = "The highest price must not be below the lowest."
    if max_price is not None and max_price >= MAX_PRICE_MINOR:
        max_price = None  # no gig costs more: the ceiling filters nothing
    if min_price == 0:
        min_price = None
    if max_delivery_days is not None:
        if max_delivery_days < 1:
            errors["delivery"] = "Delivery time must be at least one day."
        elif max_delivery_days >= DELIVERY_MAX:
            max_delivery_days = None
    if min_rating is not None:
        if not (isinstance(min_rating, int | float) and math.isfinite(min_rating)) or not (
            0 <= min_rating <= RATING_MAX
        ):
            errors["rating"] = f"The rating goes from 0 to {RATING_MAX}."
        elif min_rating == 0:
            min_rating = None
    seller_levels: tuple[str, ...] = ()
    if seller_level not in (None, "", [], ()):
        wanted = [seller_level] if isinstance(seller_level, str) else seller_level
        if not isinstance(wanted, list | tuple) or not all(v in SELLER_LEVEL_FILTERS for v in wanted):
            errors["seller_level"] = f"Seller level: any of {', '.join(SELLER_LEVEL_FILTERS)}."
        else:
            seller_levels = tuple(level for level in SELLER_LEVEL_FILTERS if level in wanted)
    point, place_label, within = _place(near, lat, lng, within_km, errors)
    delivery_modes = _listed_values(delivery)
    if any(mode not in DELIVERY_MODES for mode in delivery_modes):
        errors["mode"] = f"Delivery: any of {', '.join(DELIVERY_MODES)}."
        delivery_modes = ()
    delivery_modes = tuple(mode for mode in DELIVERY_MODES if mode in delivery_modes)
    if len(delivery_modes) == len(DELIVERY_MODES):
        delivery_modes = ()  # both: no filter
    languages = tuple(dict.fromkeys(code.lower() for code in _listed_values(language)))
    if len(languages) > FILTER_VALUES_MAX or not all(_LANGUAGE_CODE.match(code) for code in languages):
        errors["language"] = f"Give up to {FILTER_VALUES_MAX} language codes, like en or fr."
    countries = tuple(dict.fromkeys(code.upper() for code in _listed_values(country)))
    if len(countries) > FILTER_VALUES_MAX or not all(geo.is_country(code) for code in countries):
        errors["country"] = f"Give up to {FILTER_VALUES_MAX} country codes, like DE or FR."
    if not isinstance(online, bool):
        errors["online"] = "Online now: true or false."
    sort = sort or "relevance"
    if sort not in SORTS:
        errors["sort"] = f"Sort by one of: {', '.join(SORTS)}."
    elif sort == "distance" and point is None and not errors.get("near") and "lat" not in errors:
        errors["sort"] = "Choose a place to sort by distance."
    if not isinstance(page, int) or page < 1:
        errors["page"] = "Pages start at 1."
    if not isinstance(per_page, int) or not 1 <= per_page <= PER_PAGE_MAX:
        errors["per_page"] = f"Ask for 1 to {PER_PAGE_MAX} gigs per page."
    if errors:
        raise SearchError(errors)
    return SearchQuery(
        text=text,
        category_ids=category_ids,
        min_price=min_price,
        max_price=max_price,
        max_delivery_days=max_delivery_days,
        min_rating=float(min_rating) if min_rating is not None else None,
        seller_levels=seller_levels,
        sort=sort,
        page=page,
        per_page=per_page,
        near=point,
        within_km=within,
        place_label=place_label,
        delivery_modes=delivery_modes,
        languages=languages,
        countries=countries,
        online=online,
    )


def _listed_values(value: Any) -> tuple[str, ...]:
    """A string or a list of strings as a tuple of stripped, non-empty strings (``a,b`` splits);
    anything else as one value that no check accepts."""
    if value in (None, "", (), []):
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set | frozenset) or not all(isinstance(v, str) for v in items):
        return ("?",)
    return tuple(part.strip() for v in items for part in v[:200].split(",") if part.strip())


def default_country() -> str | None:
    """The marketplace's default country (preferred among same-named cities), or None (from the
    cached branding: no query)."""
    from app.settings.services import get_branding

    return get_branding().default_country


def _place(near, lat, lng, within_km, errors: dict) -> tuple[tuple | None, str | None, float | None]:
    """(point, label, within) of a search's location input; problems go to ``errors``."""
    point = label = None
    if lat not in (None, "") or lng not in (None, ""):
        if lat in (None, ""):
            errors["lat"] = "Give both lat and lng."
        elif lng in (None, ""):
            errors["lng"] = "Give both lat and lng."
        else:
            try:
                point = geo.check_point(lat, lng)
                label = "your location"
            except geo.GeoError as exc:
                errors[exc.field] = str(exc)
    elif near not in (None, ""):
        city = None
        if isinstance(near, str | int) and not isinstance(near, bool):
            city = geo.find_city(str(near), prefer_country=default_country())
        if city is None:
            errors["near"] = "We don't know that place. Pick a city from the list."
        else:
            point, label = (city.lat, city.lng), city.label
    within = None
    if within_km is not None:
        if not isinstance(within_km, int | float) or isinstance(within_km, bool) or math.isnan(within_km):
            errors["within_km"] = "Give a distance in km."
        elif within_km <= 0:
            errors["within_km"] = "The distance must be more than 0 km."
        elif point is not None:
            within = float(min(within_km, geo.MAX_RADIUS_KM))
    return point, label, within


def major_to_minor(raw: str, currency: str) -> int:
    """``"45.50"`` -> 4550 in ``currency`` (``app.core.money.parse`` in the marketplace's
    locale); raises MoneyError (a ValueError) with a message for the buyer. A negative price
    is left to ``build_query`` to explain; a huge one filters nothing, like the dearest gig."""
    try:
        return money.parse(raw, currency, allow_negative=True)
    except money.MoneyError as exc:
        if exc.code == "too_large" and not raw.strip().startswith("-"):
            return MAX_PRICE_MINOR
        raise


def query_from_args(args: Mapping[str, str], currency: str) -> tuple[SearchQuery, dict[str, str]]:
    """The search page's query string (prices in major units) -> (query, errors shown to the buyer).

    Lenient: a parameter that cannot be understood is reported and left out, so the
    page still shows results; a garbled or huge ``page`` becomes page 1.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"text": args.get("q", "")[: TEXT_MAX * 4], "category": args.get("category")}
    for field in ("min_price", "max_price"):
        raw = (args.get(field) or "").strip()
        if raw:
            try:
                values[field] = major_to_minor(raw[:40], currency)
            except ValueError as exc:
                errors[field] = str(exc)
    for field, key, cast in (("delivery", "max_delivery_days", int), ("rating", "min_rating", float)):
        raw = (args.get(field) or "").strip()
        if raw:
            try:
                values[key] = cast(raw[:20])
            except ValueError:
                errors[field] = "Choose a value from the list."
    levels = _listed(args, "seller_level")
    if any(level not in SELLER_LEVEL_FILTERS for level in levels):
        errors["seller_level"] = "Choose seller levels from the list."
    values["seller_level"] = [level for level in levels if level in SELLER_LEVEL_FILTERS]
    for field in ("near", "lat", "lng"):
        raw = (args.get(field) or "").strip()
        if raw:
            values[field] = raw[:120]
    raw = (args.get("within") or "").strip()
    if raw:
        try:
            values["within_km"] = float(raw[:20])
        except ValueError:
            errors["within"] = "Choose a distance from the list."
    values["delivery"] = [mode for mode in _listed(args, "mode") if mode in DELIVERY_MODES]
    if len(values["delivery"]) != len(_listed(args, "mode")):
        errors["mode"] = "Choose online or on site."
    values["language"] = [code.lower() for code in _listed(args, "language")]
    values["country"] = [code.upper() for code in _listed(args, "country")]
    values["online"] = args.get("online") in ("1", "true", "on")
    values["sort"] = args.get("sort") or None
    raw_page = args.get("page", "1")
    values["page"] = int(raw_page) if raw_page.isdigit() and len(raw_page) < 7 and int(raw_page) > 0 else 1
    while True:
        try:
            return build_query(**values), errors
        except SearchError as exc:
            # Report each bad parameter once, drop it and try again without it.
            errors.update({_WEB_FIELD.get(field, field): message for field, message in exc.errors.items()})
            for field in exc.errors:
                for key in _VALUE_KEYS.get(field, (field,)):
                    values[key] = _RESET.get(key)


_RESET = {"text": "", "page": 1, "per_page": PER_PAGE_DEFAULT, "online": False}
# build_query's error keys -> the search page's parameters, and the values dropped with each.
_WEB_FIELD = {"within_km": "within"}
_VALUE_KEYS = {
    "q": ("text",),
    "delivery": ("max_delivery_days",),
    "rating": ("min_rating",),
    "lat": ("lat", "lng"),
    "lng": ("lat", "lng"),
    "mode": ("delivery",),
    "online": ("online",),
}


def _listed(args: Mapping[str, str], name: str) -> list[str]:
    """Every value of a repeatable parameter (``?seller_level=a&seller_level=b`` or ``a,b``)."""
    raw = args.getlist(name) if hasattr(args, "getlist") else [args.get(name) or ""]
    return [part.strip() for value in raw[:10] for part in value[:100].split(",") if part.strip()]


def _visible_category(slug: Any) -> Category | None:
    if not isinstance(slug, str) or len(slug) > 80:
        return None
    category = db.session.scalar(sa.select(Category).where(Category.slug == slug))
    return category if category is not None and category.is_visible else None


# --------------------------------------------------------------------------- searching


def search_gigs(query: SearchQuery, *, cards: bool = False) -> SearchResult:
    """Run ``query`` on the bound tenant's index and load the gigs, in result order.

    Gigs that are no longer active (or whose seller is not) are dropped from the
    page and queued for removal from the index. When the tenant's index cannot
    answer (missing, or of an older format after an upgrade) the database answers
    instead and a rebuild is queued. ``cards=True`` loads only what a gig card
    shows (seller, category, images); the packages, extras and FAQs then raise
    if touched, rather than being loaded one query each.
    """
    tenant = current_tenant()
    result = _run(tenant.id, with_online_sellers(query, tenant.id), observe=True)
    if result.ids:
        statement = (
            sa.select(Gig)
            .join(Gig.seller)
            .where(Gig.id.in_(result.ids), Gig.status == "active", User.status == "active")
            # Cards show the seller's level badge: loaded with the page, not one query per seller.
            .options(joinedload(Gig.seller).joinedload(User.seller_profile))
        )
        if cards:
            statement = statement.options(raiseload(Gig.packages), raiseload(Gig.extras), raiseload(Gig.faqs))
        rows = db.session.scalars(statement).unique()
        by_id = {gig.id: gig for gig in rows}
        result.gigs = [by_id[i] for i in result.ids if i in by_id]
        stale = [i for i in result.ids if i not in by_id]
        if stale:
            result.total = max(0, result.total - len(stale))
            result.ids = [gig.id for gig in result.gigs]
            _enqueue_repair(tenant.id, stale)
    return result


def with_online_sellers(query: SearchQuery, tenant_id: int) -> SearchQuery:
    """``query`` with the sellers online now (``app.realtime.online_user_ids``): the "online"
    facet's set, and the filter's when the buyer asked for sellers online now (Redis down:
    nobody is online)."""
    from app.realtime import online_user_ids

    try:
        online = frozenset(online_user_ids(tenant_id))
    except Exception:  # presence is a nicety: a Redis hiccup must not fail the search
        log.warning("could not read who is online in tenant %s", tenant_id, exc_info=True)
        online = frozenset()
    return dataclasses.replace(
        query, online_sellers=online, seller_ids=online if query.online else query.seller_ids
    )


def _run(tenant_id: int, query: SearchQuery, *, observe: bool = False) -> SearchResult:
    """The backend's answer, or the database's while the index cannot answer (rebuild queued).

    ``observe``: a buyer's search (not the count-only ones of ``relaxations``), counted in
    ``search_queries{backend}`` and timed in ``search_duration{backend}``, the backend being the
    one that answered (``postgres`` when it stood in for a missing index)."""
    backend = get_backend()
    started = time.perf_counter()
    try:
        result = backend.search(tenant_id, query)
    except IndexUnavailable:
        schedule_rebuild(tenant_id)
        backend = _database_backend()
        started = time.perf_counter()
        result = backend.search(tenant_id, query)
    if observe:
        metrics.search_queries.labels(backend.name).inc()
        metrics.search_duration.labels(backend.name).observe(time.perf_counter() - started)
    return result


# What each relaxation drops: the search page's parameters (``relaxations``).
RELAXATION_PARAMS = {
    "category": ("category",),
    "price": ("min_price", "max_price"),
    "delivery": ("delivery",),
    "rating": ("rating",),
    "seller_level": ("seller_level",),
    "near": ("near", "lat", "lng", "within"),
    "mode": ("mode",),
    "language": ("language",),
    "country": ("country",),
    "online": ("online",),
}


def relaxations(query: SearchQuery) -> list[tuple[str, str, int]]:
    """For a search without results: ``(param_name, label, hits)`` for each active filter (the
    keywords excepted), the hits being what the search gives without that one filter.
    ``param_name`` is a key of ``RELAXATION_PARAMS`` (the page's parameters to drop). One
    count-only search per filter (a one-gig page), in the order of the filters above."""
    from app.core.reference import LANGUAGES

    tenant_id = current_tenant().id
    base = with_online_sellers(dataclasses.replace(query, page=1, per_page=1), tenant_id)
    candidates: list[tuple[str, str, dict]] = []
    if base.category_ids:
        found = db.session.scalars(sa.select(Category).where(Category.id.in_(base.category_ids)))
        names = [category.name for category in found]
        candidates.append(("category", f"Category: {', '.join(names)}", {"category_ids": ()}))
    if base.min_price is not None or base.max_price is not None:
        candidates.append(("price", "Price", {"min_price": None, "max_price": None}))
    if base.max_delivery_days is not None:
        candidates.append(
            ("delivery", f"Delivery within {base.max_delivery_days} days", {"max_delivery_days": None})
        )
    if base.min_rating is not None:
        candidates.append(("rating", f"Rating {base.min_rating:g}+", {"min_rating": None}))
    if base.seller_levels:
        candidates.append(("seller_level", "Seller level", {"seller_levels": ()}))
    if base.near is not None:
        within = f" within {base.within_km:g} km" if base.within_km is not None else ""
        changes = {"near": None, "within_km": None, "place_label": None}
        if base.sort == "distance":
            changes["sort"] = "relevance"
        candidates.append(("near", f"Near {base.place_label or 'your location'}{within}", changes))
    if base.delivery_modes:
        label = "On site" if base.delivery_modes == ("on_site",) else "Online"
        candidates.append(("mode", label, {"delivery_modes": ()}))
    if base.languages:
        names = ", ".join(LANGUAGES.get(code, code) for code in base.languages)
        candidates.append(("language", f"Speaks {names}", {"languages": ()}))
    if base.countries:
        names = ", ".join(geo.country_name(code) for code in base.countries)
        candidates.append(("country", f"Based in {names}", {"countries": ()}))
    if base.online:
        candidates.append(("online", "Online now", {"online": False, "seller_ids": None}))
    return [
        (name, label, _run(tenant_id, dataclasses.replace(base, **changes)).total)
        for name, label, changes in candidates
    ]


def suggest(prefix: Any, limit: int = SUGGEST_LIMIT) -> list[str]:
    """Completions (tags, then gig titles) for what the buyer has typed so far."""
    if not isinstance(prefix, str):
        return []
    prefix = " ".join(_CONTROL.sub(" ", prefix).split())[:100]
    if len(prefix) < 2:
        return []
    tenant_id, limit = current_tenant().id, max(1, min(limit, 20))
    try:
        return get_backend().suggest(tenant_id, prefix, limit)
    except IndexUnavailable:
        schedule_rebuild(tenant_id)
        return _database_backend().suggest(tenant_id, prefix, limit)


def category_labels() -> dict[int, Category]:
    """Visible categories by id, for the facet list."""
    return {
        c.id: c
        for c in db.session.scalars(sa.select(Category).order_by(Category.position, Category.id))
        if c.is_visible
    }


def _database_backend():
    from app.search.pg_backend import PostgresBackend

    backend = current_app.extensions.get("search_database_backend")
    if backend is None:
        backend = current_app.extensions["search_database_backend"] = PostgresBackend()
    return backend


# --------------------------------------------------------------------------- writing
#
# Every index write goes through the tenant's pending set (Redis, ``PendingWrites``):
# a caller records the gig ids it wants written, then takes the writer lock; whoever
# holds the lock writes *every* pending gig, read fresh from the database, in one
# writer session and one commit. So a burst of edits of one tenant costs one Whoosh
# session per lock hand-over instead of one per event, and a caller whose gigs were
# written by the holder before it while it waited returns at once.
#
# Correctness rests on one rule: a gig's id is recorded *after* its change committed,
# and a writer reads the gigs *after* taking the snapshot of the pending set. Each
# record carries a sequence number; a writer that wrote a snapshot taken when the
# sequence stood at S moves the tenant's watermark to S, and removes a record only if
# it still carries the number it read (a newer record for the same gig stays). A
# caller whose number is <= the watermark knows its gigs were written from rows read
# after its change. If Redis loses the keys, the watermark is gone too and every
# caller writes its own gigs itself.

_MARK = """
local seq = 0
for i = 1, #ARGV do
  seq = redis.call('INCR', KEYS[1])
  redis.call('HSET', KEYS[2], ARGV[i], seq)
end
return seq
"""
_SNAPSHOT = """
return {redis.call('GET', KEYS[1]) or '0', redis.call('HGETALL', KEYS[2])}
"""
_DONE = """
for i = 2, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
if tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], ARGV[1])
end
return 1
"""


class PendingWrites:
    """The gigs of one tenant waiting to be written to its index (see the comment above)."""

    def __init__(self, tenant_id: int):
        prefix = f"t:{tenant_id}:search"
        self.seq_key, self.pending_key, self.flushed_key = (
            f"{prefix}:seq",
            f"{prefix}:pending",
            f"{prefix}:flushed",
        )
        self.client = redis_store.client

    def mark(self, gig_ids: list[int]) -> int:
        """Record these gigs (call after their change committed); returns the sequence number."""
        return int(self.client.eval(_MARK, 2, self.seq_key, self.pending_key, *gig_ids))

    def flushed(self) -> int:
        return int(self.client.get(self.flushed_key) or 0)

    def snapshot(self) -> tuple[int, dict[int, bytes]]:
        seq, flat = self.client.eval(_SNAPSHOT, 2, self.seq_key, self.pending_key)
        return int(seq), {int(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}

    def done(self, seq: int, entries: dict[int, bytes]) -> None:
        args = [seq]
        for gig_id, number in entries.items():
            args += [gig_id, number]
        self.client.eval(_DONE, 2, self.pending_key, self.flushed_key, *args)

    def keys(self) -> tuple[str, ...]:
        return self.seq_key, self.pending_key, self.flushed_key


REBUILD_TOKEN = "rebuild:"  # noqa: S105  (a lock token prefix, not a secret)


@contextlib.contextmanager
def writer_lock(tenant_id: int, *, rebuild: bool = False) -> Iterator[Any]:
    """Hold the tenant index's single-writer lock (Redis), or raise SearchBusy.

    Waits up to ``SEARCH_LOCK_WAIT`` seconds, polling every few milliseconds (a
    write holds the lock for tens of milliseconds). While a rebuild holds it
    (its token starts with ``rebuild:``) a writer gives up at once: the rebuild
    writes every pending gig before it lets go, and RQ retries the event later.
    ``thread_local=False``: the token lives on the lock object, so a
    ``LockKeeper`` thread may extend it while this thread writes.
    """
    config = current_app.config
    client = redis_store.client
    key = f"t:{tenant_id}:search:writer"
    lock = client.lock(key, timeout=config.get("SEARCH_LOCK_TIMEOUT", 60), thread_local=False)
    token = f"{REBUILD_TOKEN}{uuid.uuid4().hex}" if rebuild else uuid.uuid4().hex
    deadline = time.monotonic() + config.get("SEARCH_LOCK_WAIT", 30)
    pause = 0.002
    while not lock.acquire(blocking=False, token=token):
        holder = client.get(key)
        if holder is not None and holder.startswith(REBUILD_TOKEN.encode()) and not rebuild:
            raise SearchBusy(f"search index of tenant {tenant_id} is being rebuilt")
        if time.monotonic() >= deadline:
            raise SearchBusy(f"search index of tenant {tenant_id} is busy")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    try:
        yield lock
    finally:
        # Imported here: a tenant command imports this module for its drop receiver, and
        # imports redis-py only once it talks to Redis.
        from redis.exceptions import LockError

        with contextlib.suppress(LockError):  # expired meanwhile: nothing left to release
            lock.release()


class LockKeeper:
    """Renews a Redis lock on elapsed time (a daemon thread) during a long write.

    Every ``every`` seconds (default: a sixth of the TTL, at most 10 s) the lock's
    TTL is reset to ``ttl``, whatever the writer is doing (loading rows, a Whoosh
    pool flush, the final merge). ``check()`` raises once the lock was lost, so
    the writer can give up before swapping in an index it no longer owns.
    """

    def __init__(self, lock: Any, ttl: float, every: float | None = None):
        self.lock, self.ttl = lock, ttl
        self.every = every if every is not None else max(0.5, min(10.0, ttl / 6))
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="search-lock-keeper", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.lock.extend(self.ttl, replace_ttl=True)
            except BaseException as exc:  # LockNotOwnedError, or Redis unreachable
                self.error = exc
                log.error("search writer lock lost: %s", exc)
                return

    def check(self) -> None:
        if self.error is not None:
            raise SearchBusy(f"search writer lock lost during a long write: {self.error}")

    def __enter__(self) -> LockKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def _writing(tenant_id: int, *, rebuild: bool = False) -> Iterator[LockKeeper]:
    ttl = current_app.config.get("SEARCH_LOCK_TIMEOUT", 60)
    with writer_lock(tenant_id, rebuild=rebuild) as lock, LockKeeper(lock, ttl) as keeper:
        yield keeper


def plain_text(description_html: str) -> str:
    return " ".join(html.unescape(nh3.clean(description_html or "", tags=set())).split())


def gig_document(gig: Gig) -> GigDocument | None:
    """What the index should hold for ``gig``; None when it must not be found at all."""
    if gig.status != "active" or gig.seller.status != "active" or gig.min_price_minor is None:
        return None
    category = gig.category
    return _document(
        gig_id=gig.id,
        title=gig.title,
        description_html=gig.description_html,
        tags=gig.tags,
        display_name=gig.seller.display_name,
        handle=getattr(gig.seller, "handle", None),
        category_id=category.id if category else None,
        parent_id=category.parent_id if category else None,
        min_price_minor=gig.min_price_minor,
        min_delivery_days=gig.min_delivery_days,
        rating_avg=gig.rating_avg,
        rating_count=gig.rating_count,
        published_at=gig.published_at or gig.created_at,
        seller_level=gig.seller.seller_profile.level if gig.seller.seller_profile else None,
        seller_id=gig.seller_id,
        delivery_mode=gig.delivery_mode,
        latitude=gig.latitude,
        longitude=gig.longitude,
        radius_km=gig.service_radius_km,
        languages=gig.seller.languages,
        country=gig.seller.country,
    )


def _document(
    *,
    gig_id,
    title,
    description_html,
    tags,
    display_name,
    handle,
    category_id,
    parent_id,
    min_price_minor,
    min_delivery_days,
    rating_avg,
    rating_count,
    published_at,
    seller_level,
    seller_id,
    delivery_mode,
    latitude,
    longitude,
    radius_km,
    languages,
    country,
) -> GigDocument:
    on_site = delivery_mode == "on_site" and None not in (latitude, longitude, radius_km)
    return GigDocument(
        id=gig_id,
        title=title,
        description=plain_text(description_html),
        tags=tuple(tags or ()),
        seller=" ".join(filter(None, (display_name, handle))),
        category_id=category_id,
        top_category_id=(parent_id or category_id) if category_id else None,
        min_price_minor=min_price_minor,
        min_delivery_days=min_delivery_days or 1,
        rating=float(rating_avg or 0),
        rating_count=rating_count or 0,
        published_at=published_at,
        seller_level=seller_level or "new",
        seller_id=seller_id or 0,
        delivery_mode="on_site" if on_site else "online",
        latitude=float(latitude) if on_site else None,
        longitude=float(longitude) if on_site else None,
        radius_km=int(radius_km) if on_site else None,
        languages=tuple(dict.fromkeys(str(code).lower() for code in languages or ())),
        country=(country or "").upper() or None,
    )


REINDEX_PAGE = 1000


def _indexable():
    """Indexable gigs of the bound tenant as plain columns (no ORM entities, so no
    selectin loads of packages, images, extras and FAQs)."""
    columns = (
        Gig.id,
        Gig.title,
        Gig.description_html,
        Gig.tags,
        User.display_name,
        User.handle,
        Gig.category_id,
        Category.parent_id,
        Gig.min_price_minor,
        Gig.min_delivery_days,
        Gig.rating_avg,
        Gig.rating_count,
        sa.func.coalesce(Gig.published_at, Gig.created_at),
        SellerProfile.level,
        Gig.seller_id,
        Gig.delivery_mode,
        Gig.latitude,
        Gig.longitude,
        Gig.service_radius_km,
        User.languages,
        User.country,
    )
    return (
        sa.select(*columns)
        .join(User, User.id == Gig.seller_id)
        .outerjoin(SellerProfile, SellerProfile.user_id == Gig.seller_id)
        .outerjoin(Category, Category.id == Gig.category_id)
        .where(Gig.status == "active", User.status == "active", Gig.min_price_minor.is_not(None))
    )


def _row_document(row) -> GigDocument:
    return _document(
        gig_id=row[0],
        title=row[1],
        description_html=row[2],
        tags=row[3],
        display_name=row[4],
        handle=row[5],
        category_id=row[6],
        parent_id=row[7],
        min_price_minor=row[8],
        min_delivery_days=row[9],
        rating_avg=row[10],
        rating_count=row[11],
        published_at=row[12],
        seller_level=row[13],
        seller_id=row[14],
        delivery_mode=row[15],
        latitude=row[16],
        longitude=row[17],
        radius_km=row[18],
        languages=row[19],
        country=row[20],
    )


def _active_documents(page_size: int = REINDEX_PAGE) -> Iterator[GigDocument]:
    """Every indexable gig of the bound tenant, in id order, read in keyset pages.

    Each page is its own short query, so no cursor stays open while Whoosh works.
    """
    base = _indexable().order_by(Gig.id).limit(page_size)
    last = 0
    while True:
        rows = db.session.execute(base.where(Gig.id > last)).all()
        yield from map(_row_document, rows)
        if len(rows) < page_size:
            return
        last = rows[-1][0]


def _documents_of(gig_ids: list[int]) -> list[GigDocument]:
    """The documents of those of these gigs that are indexable, read fresh."""
    docs = []
    for start in range(0, len(gig_ids), REINDEX_PAGE):
        chunk = gig_ids[start : start + REINDEX_PAGE]
        docs += map(_row_document, db.session.execute(_indexable().where(Gig.id.in_(chunk))).all())
    return docs


def _flush(tenant_id: int, keeper: LockKeeper, extra_ids: list[int] = ()) -> None:
    """Write every pending gig of the tenant (plus ``extra_ids``); the caller holds the writer lock."""
    backend = get_backend()
    state = backend.index_state(tenant_id)
    if state != "ok":
        if state == "missing" and _indexable_count() <= current_app.config.get(
            "SEARCH_REBUILD_INLINE_MAX", 2000
        ):
            _rebuild_locked(tenant_id, keeper)  # a new tenant's first gig, or a small lost index
        else:
            schedule_rebuild(tenant_id)  # the rebuild writes the pending gigs when it ends
        return
    pending = PendingWrites(tenant_id)
    seq, entries = pending.snapshot()
    ids = sorted(set(entries) | set(extra_ids))
    if ids:
        # Plain column rows (no identity map), read now: after the snapshot of the pending set
        # (READ COMMITTED: each statement sees what has committed when it starts).
        docs = _documents_of(ids)
        keep = {doc.id for doc in docs}
        keeper.check()
        segments = backend.write(tenant_id, docs, [i for i in ids if i not in keep])
        if segments > current_app.config.get("SEARCH_MERGE_SEGMENTS", 10):
            schedule_merge(tenant_id)
    pending.done(seq, entries)


def _indexable_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(_indexable().subquery()))


def index_gigs(gig_ids: list[int]) -> None:
    """Bring these gigs' index entries in line with the database (upsert or delete).

    Idempotent, and coalescing: see ``PendingWrites``. Call it after the change
    committed. Raises SearchBusy (RQ retries the event) when the writer lock
    stays taken, at once while a rebuild holds it.
    """
    tenant = current_tenant()
    gig_ids = sorted({int(i) for i in gig_ids})
    if not gig_ids:
        return
    pending = PendingWrites(tenant.id)
    seq = pending.mark(gig_ids)
    with _writing(tenant.id) as keeper:
        if pending.flushed() >= seq:
            return  # the writer before us wrote these gigs from rows read after our change
        _flush(tenant.id, keeper, gig_ids)


def index_gig(gig_id: int) -> None:
    """``index_gigs`` for one gig."""
    index_gigs([gig_id])


def index_seller_gigs(user_id: int) -> None:
    """Re-index every gig of a seller (name, handle or status changed)."""
    ids = list(db.session.scalars(sa.select(Gig.id).where(Gig.seller_id == user_id, Gig.status == "active")))
    # Gigs of a suspended seller are active but must leave: index_gigs deletes them.
    if ids:
        index_gigs(ids)


def _rebuild_locked(tenant_id: int, keeper: LockKeeper) -> int:
    pending = PendingWrites(tenant_id)
    # Gigs recorded before the rows are read changed before: the rebuild covers them.
    seq, entries = pending.snapshot()
    count = get_backend().rebuild(tenant_id, _active_documents(), heartbeat=keeper.check)
    pending.done(seq, entries)
    # Gigs that changed while the rows were being read: written on top of the new index.
    _flush(tenant_id, keeper)
    return count


def reindex_tenant() -> int:
    """Rebuild the bound tenant's index from the database into a fresh one and swap it in.

    Holds the writer lock throughout (events meanwhile give up at once and are
    retried; the gigs they name are written on top of the new index before the
    lock is released), renewed every few seconds by a ``LockKeeper`` thread
    however long a stretch of the build takes; returns how many gigs were indexed.
    """
    tenant = current_tenant()
    with _writing(tenant.id, rebuild=True) as keeper:
        return _rebuild_locked(tenant.id, keeper)


# A rebuild is queued once replaced or removed gigs take this share of the index.
COMPACT_DELETED_SHARE = 0.25


def merge_index(tenant_id: int) -> int:
    """Merge the small segments of the tenant's index (background housekeeping); returns how many
    segments are left. Queues a rebuild when replaced gigs weigh on the big segment (see
    COMPACT_DELETED_SHARE). Raises SearchBusy when the writer lock stays taken."""
    backend = get_backend()
    with _writing(tenant_id):
        segments = backend.merge(tenant_id)
        if backend.deleted_share(tenant_id) >= COMPACT_DELETED_SHARE:
            schedule_rebuild(tenant_id)
        return segments


def index_state(tenant_id: int) -> str:
    return get_backend().index_state(tenant_id)


def _schedule_once(flag: str, ttl: int, job, tenant_id: int, **options) -> bool:
    """Enqueue ``job(tenant_id)`` unless the flag says one is already queued (the job clears it)."""
    try:
        if not redis_store.client.set(flag, 1, nx=True, ex=ttl):
            return False
        get_queue(SEARCH_QUEUE).enqueue(job, tenant_id, **options)
        return True
    except Exception:  # searching must not fail because Redis hiccuped
        log.warning("could not enqueue %s for tenant %s", job.__name__, tenant_id, exc_info=True)
        return False


def schedule_rebuild(tenant_id: int) -> bool:
    """Queue one rebuild of the tenant's index (``tasks.rebuild_index``) unless one is queued."""
    from rq import Retry

    from app.search.tasks import rebuild_index

    return _schedule_once(
        rebuild_flag(tenant_id),
        3600,
        rebuild_index,
        tenant_id,
        job_timeout=3600,
        retry=Retry(max=3, interval=[30, 120, 600]),
        description=f"search rebuild of tenant {tenant_id}",
    )


def schedule_merge(tenant_id: int) -> bool:
    """Queue one merge of the tenant's small segments (``tasks.merge_index``) unless one is queued."""
    from app.search.tasks import merge_index as merge_job

    return _schedule_once(
        merge_flag(tenant_id), 600, merge_job, tenant_id, description=f"search merge of tenant {tenant_id}"
    )


def rebuild_flag(tenant_id: int) -> str:
    return f"t:{tenant_id}:search:rebuild-queued"


def merge_flag(tenant_id: int) -> str:
    return f"t:{tenant_id}:search:merge-queued"


def remove_tenant_index(_sender=None, *, tenant, **_kwargs) -> None:
    """tenant_dropped receiver: delete the dropped tenant's index and its writing state."""
    get_backend().clear(tenant.id)
    with contextlib.suppress(Exception):
        redis_store.client.delete(
            *PendingWrites(tenant.id).keys(), rebuild_flag(tenant.id), merge_flag(tenant.id)
        )


def _enqueue_repair(tenant_id: int, gig_ids: list[int]) -> None:
    from app.search.tasks import reindex_gigs

    try:
        get_queue(SEARCH_QUEUE).enqueue(
            reindex_gigs, tenant_id, gig_ids, description=f"search repair of tenant {tenant_id}"
        )
    except Exception:  # a search page must not fail because Redis hiccuped; events will catch up
        log.warning("could not enqueue search repair for tenant %s", tenant_id, exc_info=True)
