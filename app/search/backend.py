"""The search-backend interface: what the search services need from an index.

Two implementations: ``WhooshBackend`` (one on-disk index per tenant; the
default) and ``PostgresBackend`` (full-text search straight over the tenant's
``gigs`` table, for multi-node deployments and the benchmark comparison).
``get_backend()`` returns the one named by ``SEARCH_BACKEND``; when that is
Whoosh but the installed Whoosh is not the release ``whoosh_internals`` was
written against, it logs a warning and returns ``WhooshFallbackBackend`` (the
PostgreSQL backend, which also retires the stale Whoosh indexes it finds).

Every method takes the tenant's id explicitly: an index never serves two
tenants, and a caller cannot forget which tenant it means.
"""

from __future__ import annotations

import logging
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import current_app

log = logging.getLogger(__name__)

SORTS = ("relevance", "price_asc", "price_desc", "rating", "newest", "distance")
# Where a gig is delivered (``gigs.delivery_mode``), and its rank as the Whoosh index stores it.
DELIVERY_MODES = ("online", "on_site")
MODE_RANK = {"online": 0, "on_site": 1}
# The delivery-time facet's presets: gigs delivered within N days.
DELIVERY_PRESETS = (1, 3, 7)
# The facet dimensions of ``SearchResult.facet_counts`` (categories are ``SearchResult.facets``).
FACET_DIMENSIONS = ("level", "language", "country", "mode", "delivery", "online")
# The seller levels a search can filter on (``SearchQuery.seller_levels``), and every level's rank
# as the Whoosh index stores it (accounts.models.SELLER_LEVELS names them).
SELLER_LEVEL_FILTERS = ("level_1", "level_2", "top_rated")
LEVEL_RANK = {"new": 0, "level_1": 1, "level_2": 2, "top_rated": 3}

# "Top rated" (sort=rating) orders rated gigs by a Bayesian average, so a single 5-star review
# does not beat two hundred reviews at 4.9:
#
#     score = (C * m + average * count) / (C + count)
#
# with the prior weight C = RATING_PRIOR_WEIGHT and m the marketplace's mean rating: the mean of
# every review counted on an active gig, Σ(average · count) / Σ count over the indexed gigs
# (``rating_mean``). Gigs without reviews come after every rated one, newest first. Ties: more
# reviews first, then newest, then the higher id. Both backends compute m from the same integers
# (averages in hundredths) and the score in IEEE doubles with the same operations, so they
# return the same order.
RATING_PRIOR_WEIGHT = 10


def rating_mean(hundredths_times_count: int, count: int) -> float | None:
    """m from Σ(round(average · 100) · count) and Σ count (None when nothing is rated)."""
    return hundredths_times_count / (100 * count) if count else None


def bayesian_rating(average: float, count: int, mean: float) -> float:
    """The "Top rated" score of a gig (see above): exactly what the PostgreSQL backend computes."""
    return (RATING_PRIOR_WEIGHT * mean + average * count) / (RATING_PRIOR_WEIGHT + count)


def effective_within(query: SearchQuery) -> float:
    """The "within" distance of a near search: the buyer's, else ``geo.MAX_RADIUS_KM``, at most that."""
    from app.core.geo import MAX_RADIUS_KM

    within = query.within_km
    return float(MAX_RADIUS_KM) if within is None else float(min(within, MAX_RADIUS_KM))


@dataclass(frozen=True)
class GigDocument:
    """What the index knows of one active gig (built from the database row)."""

    id: int
    title: str
    description: str  # plain text (tags stripped from the sanitised HTML)
    tags: tuple[str, ...]
    seller: str  # display name and handle
    category_id: int | None
    top_category_id: int | None  # the parent category, or the category itself when top-level
    min_price_minor: int
    min_delivery_days: int
    rating: float
    rating_count: int
    published_at: datetime
    seller_level: str = "new"  # one of accounts.models.SELLER_LEVELS
    seller_id: int = 0
    delivery_mode: str = "online"  # DELIVERY_MODES
    latitude: float | None = None  # the on-site gig's base (degrees); None when online
    longitude: float | None = None
    radius_km: int | None = None  # the on-site gig's service radius
    languages: tuple[str, ...] = ()  # the seller's (ISO 639-1 codes, lower case)
    country: str | None = None  # the seller's (ISO 3166-1 alpha-2)


@dataclass(frozen=True)
class SearchQuery:
    """A validated search: amounts are minor units, ``page`` starts at 1.

    ``category_ids`` match a gig's category or its top-level category, so a
    top-level category finds the gigs of all its subcategories.
    """

    text: str = ""
    category_ids: tuple[int, ...] = ()
    min_price: int | None = None
    max_price: int | None = None
    max_delivery_days: int | None = None
    min_rating: float | None = None
    seller_levels: tuple[str, ...] = ()  # any of SELLER_LEVEL_FILTERS; empty: every seller
    sort: str = "relevance"
    page: int = 1
    per_page: int = 24
    # Location (docs/design/discovery.md, "Membership rule"): an on-site gig matches a search
    # near P within D km iff d(P, gig) <= its service radius and <= D; online gigs always do.
    near: tuple[float, float] | None = None  # (lat, lng)
    within_km: float | None = None  # None: geo.MAX_RADIUS_KM
    place_label: str | None = None  # "Berlin, Germany" or "your location": for the page
    delivery_modes: tuple[str, ...] = ()  # subset of DELIVERY_MODES; empty: both
    languages: tuple[str, ...] = ()  # the seller speaks any of these
    countries: tuple[str, ...] = ()  # the seller lives in any of these
    online: bool = False  # "online now": the services fill ``seller_ids``
    seller_ids: frozenset[int] | None = None  # only these sellers' gigs; None: no filter
    # Sellers online now, for the "online" facet count (set by the services; None: not counted).
    online_sellers: frozenset[int] | None = None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass
class SearchResult:
    """One page of gig ids in result order, the total number of hits, category
    facet counts (category id -> hits, for top-level and subcategories alike,
    computed without the category filter so a buyer can switch) and a
    corrected query ("did you mean") when the text had unknown words."""

    ids: list[int] = field(default_factory=list)
    total: int = 0
    facets: dict[int, int] = field(default_factory=dict)
    corrected: str | None = None
    # With ``near``: the distance (km) of each on-site gig of the page.
    distances: dict[int, float] = field(default_factory=dict)
    # Per dimension (FACET_DIMENSIONS), value -> hits, each counted over the documents passing
    # every *other* filter (disjunctive faceting): "level" (level_1, level_2, top_rated),
    # "language" (codes), "country" (codes), "mode" (online, on_site), "delivery" ("1", "3",
    # "7": delivered within N days) and "online" ("online": sellers online now).
    facet_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # Filled in by ``app.search.services.search_gigs``: the live Gig rows, in order.
    gigs: list = field(default_factory=list)


class IndexUnavailable(RuntimeError):
    """The tenant's index cannot answer: there is none (``state == "missing"``) or it has a format
    this code does not read (``"outdated"``). The index is a cache: the services answer from the
    database meanwhile and queue a rebuild."""

    def __init__(self, tenant_id: int, state: str):
        self.tenant_id, self.state = tenant_id, state
        super().__init__(f"search index of tenant {tenant_id} is {state}")


class UnsupportedWhoosh(RuntimeError):
    """The installed Whoosh is not the release ``app/search/whoosh_internals.py`` was written against
    (or none is installed): the Whoosh backend must not run. Raised by ``whoosh_internals`` when it
    is imported and by its ``check_version()``."""

    def __init__(self, found: str | None, expected: str):
        self.found, self.expected = found, expected
        installed = f"Whoosh {found} is installed" if found else "Whoosh is not installed"
        super().__init__(
            f"{installed}, but app/search/whoosh_internals.py uses internals of Whoosh {expected} "
            f"exactly, so the Whoosh search backend is off. Install Whoosh=={expected}, or check "
            "every internal listed in that module against the new release before changing its version."
        )


class SearchBackend(ABC):
    name = "abstract"

    def index_state(self, tenant_id: int) -> str:
        """ "ok", "missing" (never built, or lost) or "outdated" (another format): see IndexUnavailable."""
        return "ok"

    def write(self, tenant_id: int, docs: Iterable[GigDocument], delete_ids: Iterable[int] = ()) -> int:
        """Add or replace ``docs`` and remove ``delete_ids`` together; returns the index's segment
        count (0 for backends without segments)."""
        docs = list(docs)
        upserted = {doc.id for doc in docs}
        self.delete_gigs(tenant_id, [i for i in delete_ids if i not in upserted])
        self.index_gigs(tenant_id, docs)
        return 0

    def merge(self, tenant_id: int) -> int:
        """Merge small segments (background housekeeping); returns the segment count."""
        return 0

    def deleted_share(self, tenant_id: int) -> float:
        """Share of the index taken by replaced or removed documents (a rebuild compacts it)."""
        return 0.0

    @abstractmethod
    def index_gigs(self, tenant_id: int, docs: Iterable[GigDocument]) -> int:
        """Add or replace these gigs; returns how many were written."""

    @abstractmethod
    def delete_gigs(self, tenant_id: int, ids: Iterable[int]) -> None:
        """Remove these gigs (absent ones are fine)."""

    @abstractmethod
    def search(self, tenant_id: int, query: SearchQuery) -> SearchResult:
        """Run a query; never raises for odd user text (it is parsed leniently).

        Raises IndexUnavailable when the tenant's index is missing or outdated."""

    @abstractmethod
    def suggest(self, tenant_id: int, prefix: str, limit: int = 8) -> list[str]:
        """Completions for a partly typed query (gig titles and tags)."""

    @abstractmethod
    def rebuild(self, tenant_id: int, docs: Iterable[GigDocument], heartbeat=None) -> int:
        """Replace the whole index with ``docs``; returns how many were indexed. ``heartbeat()``
        is called now and then and raises to abort (the writer lock was lost)."""

    @abstractmethod
    def clear(self, tenant_id: int) -> None:
        """Forget the tenant's index entirely (tenant dropped)."""


# --------------------------------------------------------------------------- Whoosh's files
#
# Where the Whoosh backend keeps its indexes, here rather than in ``whoosh_backend`` so that the
# fallback can retire them without importing Whoosh.


def whoosh_index_root() -> Path:
    """The folder of every tenant's Whoosh index: ``SEARCH_INDEX_DIR``, default ``INSTANCE_DIR/search``."""
    config = current_app.config
    return Path(config.get("SEARCH_INDEX_DIR") or Path(config["INSTANCE_DIR"]) / "search")


def whoosh_index_link(tenant_id: int) -> Path:
    """``<root>/t<tenant_id>``: the symlink to the tenant's current index generation."""
    if not isinstance(tenant_id, int) or isinstance(tenant_id, bool) or tenant_id <= 0:
        raise ValueError(f"invalid tenant id {tenant_id!r}")
    return whoosh_index_root() / f"t{tenant_id}"


def remove_whoosh_index(tenant_id: int) -> list[str]:
    """Delete the tenant's Whoosh index: its link and every generation; returns the generations removed."""
    link = whoosh_index_link(tenant_id)
    if os.path.islink(link):
        link.unlink()
    elif link.exists():
        shutil.rmtree(link, ignore_errors=True)  # a directory of a very old layout
    removed = []
    root = whoosh_index_root()
    if root.is_dir():
        for path in root.glob(f"t{tenant_id}-*"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed


# --------------------------------------------------------------------------- choosing


def _whoosh_or_fallback() -> SearchBackend:
    """The Whoosh backend, unless the installed Whoosh is not the release its internals were written
    against: then a warning, and PostgreSQL full-text search instead (``WhooshFallbackBackend``)."""
    try:
        # Importing it checks the version (and raises) once per process; the explicit check
        # repeats it for every app, e.g. after the installed package changed under a test.
        from app.search import whoosh_internals

        whoosh_internals.check_version()
    except UnsupportedWhoosh as exc:
        log.warning("%s Searching with the PostgreSQL backend instead.", exc)
        from app.search.pg_backend import WhooshFallbackBackend

        return WhooshFallbackBackend()
    from app.search.whoosh_backend import WhooshBackend

    return WhooshBackend()


def get_backend() -> SearchBackend:
    """The app's configured backend (one instance per app)."""
    backend = current_app.extensions.get("search_backend")
    if backend is None:
        name = current_app.config.get("SEARCH_BACKEND", "whoosh")
        if name == "whoosh":
            backend = _whoosh_or_fallback()
        elif name == "postgres":
            from app.search.pg_backend import PostgresBackend

            backend = PostgresBackend()
        else:
            raise RuntimeError(f"unknown SEARCH_BACKEND {name!r} (whoosh or postgres)")
        current_app.extensions["search_backend"] = backend
    return backend
