"""Search rules: turning buyer input into a query, running it, keeping the index in step.

The index is a cache of the database, never the truth. ``search_gigs`` asks the
backend for ids, then loads the gigs in that order and keeps only those that are
still active with an active seller: a gig paused a moment ago never shows up even
if its ``gig.paused`` event has not been handled yet (its stale entry is queued
for repair). Writers load the gig fresh inside the tenant's writer lock, so the
last writer always writes the newest state, whatever order events arrive in.

One writer per tenant index: every write holds the Redis lock
``t:<tenant_id>:search:writer`` (across threads and processes).
"""

from __future__ import annotations

import contextlib
import html
import logging
import math
import re
import threading
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import nh3
import sqlalchemy as sa
from flask import current_app
from redis.exceptions import LockError

from app.accounts.forms import ZERO_DECIMAL_CURRENCIES
from app.accounts.models import User
from app.extensions import get_queue, redis_store
from app.gigs.models import MAX_PRICE_MINOR, Category, Gig
from app.search.backend import SORTS, GigDocument, SearchQuery, SearchResult, get_backend
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

TEXT_MAX = 200
PER_PAGE_DEFAULT, PER_PAGE_MAX = 24, 100
DELIVERY_MAX = 90
RATING_MAX = 5
SUGGEST_LIMIT = 8
SEARCH_QUEUE = "default"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SearchError(ValueError):
    """Search parameters that make no sense; ``errors`` maps a parameter to a message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


class SearchBusy(RuntimeError):
    """The tenant's index writer lock could not be taken in time (the job is retried)."""


# --------------------------------------------------------------------------- the query


def build_query(
    *,
    text: Any = "",
    category: Any = None,
    min_price: Any = None,
    max_price: Any = None,
    max_delivery_days: Any = None,
    min_rating: Any = None,
    sort: Any = None,
    page: Any = 1,
    per_page: Any = PER_PAGE_DEFAULT,
) -> SearchQuery:
    """A validated ``SearchQuery`` from typed values (prices in minor units, ``category`` a slug).

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
    sort = sort or "relevance"
    if sort not in SORTS:
        errors["sort"] = f"Sort by one of: {', '.join(SORTS)}."
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
        sort=sort,
        page=page,
        per_page=per_page,
    )


def major_to_minor(raw: str, currency: str) -> int:
    """``"45.50"`` -> 4550 in ``currency``; raises ValueError with a message for the buyer."""
    try:
        amount = Decimal(raw.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError("Enter an amount like 45 or 45.50.") from None
    if not amount.is_finite():
        raise ValueError("Enter an amount like 45 or 45.50.")
    exponent = 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2
    if amount > MAX_PRICE_MINOR:  # clamp before scaling: "1e999999" stays cheap
        return MAX_PRICE_MINOR
    return int(amount.scaleb(exponent).to_integral_value())


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
    values["sort"] = args.get("sort") or None
    raw_page = args.get("page", "1")
    values["page"] = int(raw_page) if raw_page.isdigit() and len(raw_page) < 7 and int(raw_page) > 0 else 1
    while True:
        try:
            return build_query(**values), errors
        except SearchError as exc:
            # Report each bad parameter once, drop it and try again without it.
            errors.update(exc.errors)
            for field in exc.errors:
                key = {"q": "text", "delivery": "max_delivery_days", "rating": "min_rating"}.get(field, field)
                values[key] = {"text": "", "page": 1, "per_page": PER_PAGE_DEFAULT}.get(key)


def _visible_category(slug: Any) -> Category | None:
    if not isinstance(slug, str) or len(slug) > 80:
        return None
    category = db.session.scalar(sa.select(Category).where(Category.slug == slug))
    return category if category is not None and category.is_visible else None


# --------------------------------------------------------------------------- searching


def search_gigs(query: SearchQuery) -> SearchResult:
    """Run ``query`` on the bound tenant's index and load the gigs, in result order.

    Gigs that are no longer active (or whose seller is not) are dropped from the
    page and queued for removal from the index.
    """
    tenant = current_tenant()
    result = get_backend().search(tenant.id, query)
    if result.ids:
        rows = db.session.scalars(
            sa.select(Gig)
            .join(Gig.seller)
            .where(Gig.id.in_(result.ids), Gig.status == "active", User.status == "active")
        ).unique()
        by_id = {gig.id: gig for gig in rows}
        result.gigs = [by_id[i] for i in result.ids if i in by_id]
        stale = [i for i in result.ids if i not in by_id]
        if stale:
            result.total = max(0, result.total - len(stale))
            result.ids = [gig.id for gig in result.gigs]
            _enqueue_repair(tenant.id, stale)
    return result


def suggest(prefix: Any, limit: int = SUGGEST_LIMIT) -> list[str]:
    """Completions (tags, then gig titles) for what the buyer has typed so far."""
    if not isinstance(prefix, str):
        return []
    prefix = " ".join(_CONTROL.sub(" ", prefix).split())[:100]
    if len(prefix) < 2:
        return []
    return get_backend().suggest(current_tenant().id, prefix, max(1, min(limit, 20)))


def category_labels() -> dict[int, Category]:
    """Visible categories by id, for the facet list."""
    return {
        c.id: c
        for c in db.session.scalars(sa.select(Category).order_by(Category.position, Category.id))
        if c.is_visible
    }


# --------------------------------------------------------------------------- writing


@contextlib.contextmanager
def writer_lock(tenant_id: int) -> Iterator[Any]:
    """Hold the tenant index's single-writer lock (Redis), or raise SearchBusy.

    ``thread_local=False``: the token lives on the lock object, so a
    ``LockKeeper`` thread may extend it while this thread writes.
    """
    config = current_app.config
    lock = redis_store.client.lock(
        f"t:{tenant_id}:search:writer",
        timeout=config.get("SEARCH_LOCK_TIMEOUT", 60),
        blocking_timeout=config.get("SEARCH_LOCK_WAIT", 30),
        thread_local=False,
    )
    if not lock.acquire():
        raise SearchBusy(f"search index of tenant {tenant_id} is busy")
    try:
        yield lock
    finally:
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
) -> GigDocument:
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
    )


def index_gigs(gig_ids: list[int]) -> None:
    """Bring these gigs' index entries in line with the database (upsert or delete).

    Idempotent. Raises SearchBusy when the writer lock stays taken.
    """
    tenant = current_tenant()
    backend = get_backend()
    with writer_lock(tenant.id):
        # Read inside the lock and with a fresh snapshot: the last writer writes the newest state.
        db.session.expire_all()
        gigs = db.session.scalars(sa.select(Gig).where(Gig.id.in_(gig_ids))).unique().all()
        docs = [doc for doc in map(gig_document, gigs) if doc is not None]
        keep = {doc.id for doc in docs}
        backend.delete_gigs(tenant.id, [i for i in gig_ids if i not in keep])
        backend.index_gigs(tenant.id, docs)


def index_gig(gig_id: int) -> None:
    """``index_gigs`` for one gig."""
    index_gigs([gig_id])


def index_seller_gigs(user_id: int) -> None:
    """Re-index every gig of a seller (name, handle or status changed)."""
    ids = list(db.session.scalars(sa.select(Gig.id).where(Gig.seller_id == user_id, Gig.status == "active")))
    # Gigs of a suspended seller are active but must leave: index_gigs deletes them.
    if ids:
        index_gigs(ids)


REINDEX_PAGE = 1000


def _active_documents(page_size: int = REINDEX_PAGE) -> Iterator[GigDocument]:
    """Every indexable gig of the bound tenant, in id order, read in keyset pages.

    Plain columns (no ORM entities, so no selectin loads of packages, images,
    extras and FAQs per page); each page is its own short query, so no cursor
    stays open while Whoosh works.
    """
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
    )
    base = (
        sa.select(*columns)
        .join(User, User.id == Gig.seller_id)
        .outerjoin(Category, Category.id == Gig.category_id)
        .where(Gig.status == "active", User.status == "active", Gig.min_price_minor.is_not(None))
        .order_by(Gig.id)
        .limit(page_size)
    )
    last = 0
    while True:
        rows = db.session.execute(base.where(Gig.id > last)).all()
        for row in rows:
            yield _document(
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
            )
        if len(rows) < page_size:
            return
        last = rows[-1][0]


def reindex_tenant() -> int:
    """Rebuild the bound tenant's index from the database into a fresh one and swap it in.

    Holds the writer lock throughout (events wait, then apply on top of the new
    index), renewed every few seconds by a ``LockKeeper`` thread however long a
    stretch of the build takes; returns how many gigs were indexed.
    """
    tenant = current_tenant()
    ttl = current_app.config.get("SEARCH_LOCK_TIMEOUT", 60)
    with writer_lock(tenant.id) as lock, LockKeeper(lock, ttl) as keeper:
        return get_backend().rebuild(tenant.id, _active_documents(), heartbeat=keeper.check)


def remove_tenant_index(_sender=None, *, tenant, **_kwargs) -> None:
    """tenant_dropped receiver: delete the dropped tenant's index."""
    get_backend().clear(tenant.id)


def _enqueue_repair(tenant_id: int, gig_ids: list[int]) -> None:
    from app.search.tasks import reindex_gigs

    try:
        get_queue(SEARCH_QUEUE).enqueue(
            reindex_gigs, tenant_id, gig_ids, description=f"search repair of tenant {tenant_id}"
        )
    except Exception:  # a search page must not fail because Redis hiccuped; events will catch up
        log.warning("could not enqueue search repair for tenant %s", tenant_id, exc_info=True)
