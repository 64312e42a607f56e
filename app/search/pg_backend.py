"""PostgreSQL full-text backend: searches the tenant's ``gigs`` table directly.

No separate index to keep in step: a GIN expression index over
``SEARCH_DOCUMENT`` (``app/search/models.py``, partial: active gigs only), so the
write methods are no-ops. Used by the benchmark for the comparison with Whoosh
and as the path to multi-node deployments (every node sees the same rows).
Differences from Whoosh: no "did you mean" (that would need pg_trgm), and
suggestions are title prefix matches.

``WhooshFallbackBackend`` is this backend standing in for Whoosh when the
installed Whoosh is not the release the Whoosh backend was written against.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION

from app.accounts.models import SellerProfile, User
from app.core import geo
from app.gigs.models import Category, Gig
from app.search.backend import (
    DELIVERY_MODES,
    DELIVERY_PRESETS,
    RATING_PRIOR_WEIGHT,
    SELLER_LEVEL_FILTERS,
    GigDocument,
    SearchBackend,
    SearchQuery,
    SearchResult,
    effective_within,
    rating_mean,
    remove_whoosh_index,
)
from app.search.models import SEARCH_DOCUMENT
from tenants.db import current_tenant, db


def _level() -> sa.ColumnElement:
    """The seller's level (``new`` without a profile row), as the index stores it."""
    return sa.func.coalesce(
        sa.select(SellerProfile.level).where(SellerProfile.user_id == Gig.seller_id).scalar_subquery(),
        "new",
    )


def _const(text: str) -> sa.ColumnElement:
    """A constant text column (the facet statement's labels: fixed words, never user input)."""
    return sa.literal_column(f"'{text}'::text")


def _point(query: SearchQuery) -> tuple:
    lat, lng = query.near
    return sa.literal(float(lat), sa.Double), sa.literal(float(lng), sa.Double)


def _reach(query: SearchQuery) -> sa.ColumnElement:
    """An on-site gig within reach of ``query.near`` (docs/design/discovery.md, "Membership
    rule"): the bounding box on ``ix_gigs_service_area``'s columns, then the exact distance
    (``geo.haversine_sql``: the same doubles as ``geo.haversine_km``)."""
    within = effective_within(query)
    box = geo.bounding_box(*query.near, within)
    lngs = [Gig.longitude.between(lo, hi) for lo, hi in box.lng_ranges]
    distance = geo.haversine_sql(*_point(query), Gig.latitude, Gig.longitude)
    return sa.and_(
        Gig.delivery_mode == "on_site",
        Gig.latitude.between(box.lat_min, box.lat_max),
        sa.or_(*lngs) if len(lngs) > 1 else lngs[0],
        distance <= sa.cast(Gig.service_radius_km, DOUBLE_PRECISION),
        distance <= sa.literal(within, sa.Double),
    )


class PostgresBackend(SearchBackend):
    name = "postgres"

    def _check(self, tenant_id: int) -> None:
        if current_tenant().id != tenant_id:
            raise RuntimeError("the postgres search backend reads the bound tenant only")

    def index_gigs(self, tenant_id: int, docs: Iterable[GigDocument]) -> int:
        return 0  # the expression index follows the rows

    def delete_gigs(self, tenant_id: int, ids: Iterable[int]) -> None:
        return None

    def rebuild(self, tenant_id: int, docs: Iterable[GigDocument], heartbeat=None) -> int:
        self._check(tenant_id)
        return sum(1 for _ in docs)

    def clear(self, tenant_id: int) -> None:
        return None

    @staticmethod
    def _searchable():
        return (
            sa.select(Gig.id)
            .join(User, User.id == Gig.seller_id)
            .where(Gig.status == "active", User.status == "active", Gig.min_price_minor.is_not(None))
        )

    def rating_mean(self) -> float | None:
        """The marketplace's mean rating over the searchable gigs, from the same integers as the
        Whoosh backend (averages in hundredths): see ``backend.RATING_PRIOR_WEIGHT``."""
        rated = self._searchable().where(Gig.rating_count > 0).subquery()
        total, count = db.session.execute(
            sa.select(
                sa.func.sum(sa.cast(sa.func.round(Gig.rating_avg * 100), sa.BigInteger) * Gig.rating_count),
                sa.func.sum(Gig.rating_count),
            ).where(Gig.id.in_(sa.select(rated.c.id)))
        ).one()
        return rating_mean(int(total or 0), int(count or 0))

    def _top_rated_order(self) -> list:
        """ORDER BY of "Top rated": rated gigs first, by the Bayesian average computed in doubles
        with the operations of ``backend.bayesian_rating``, then more reviews, newest."""
        mean = self.rating_mean() or 0.0
        weight = sa.literal(RATING_PRIOR_WEIGHT, sa.Integer)
        numerator = weight * sa.cast(sa.literal(mean), DOUBLE_PRECISION) + sa.cast(
            Gig.rating_avg, DOUBLE_PRECISION
        ) * sa.cast(Gig.rating_count, DOUBLE_PRECISION)
        # A plain "/" between explicit groups: (C·m + avg·n) / (C + n), in doubles.
        score = numerator.self_group().op("/")(
            sa.cast(weight + Gig.rating_count, DOUBLE_PRECISION).self_group()
        )
        return [(Gig.rating_count == 0).asc(), score.desc(), Gig.rating_count.desc(), Gig.published_at.desc()]

    @staticmethod
    def _filters(query: SearchQuery) -> dict[str, sa.ColumnElement]:
        """Every active filter as a condition on a ``gigs`` row joined with its seller (``users``),
        by facet dimension name (``price``, ``rating`` and ``near`` have no facet)."""
        out: dict[str, sa.ColumnElement] = {}
        if query.min_price is not None or query.max_price is not None:
            conditions = []
            if query.min_price is not None:
                conditions.append(Gig.min_price_minor >= query.min_price)
            if query.max_price is not None:
                conditions.append(Gig.min_price_minor <= query.max_price)
            out["price"] = sa.and_(*conditions)
        if query.max_delivery_days is not None:
            out["delivery"] = Gig.min_delivery_days <= query.max_delivery_days
        if query.min_rating is not None:
            # Whoosh keeps the average in hundredths: compare the same integers.
            out["rating"] = sa.func.round(Gig.rating_avg * 100) >= round(query.min_rating * 100)
        if query.seller_levels:
            out["level"] = _level().in_(query.seller_levels)
        if query.category_ids:
            parent = sa.select(Category.parent_id).where(Category.id == Gig.category_id).scalar_subquery()
            out["category"] = sa.or_(Gig.category_id.in_(query.category_ids), parent.in_(query.category_ids))
        if query.near is not None:
            out["near"] = sa.or_(Gig.delivery_mode != "on_site", _reach(query))
        modes = set(query.delivery_modes)
        if modes and modes != set(DELIVERY_MODES):
            out["mode"] = Gig.delivery_mode == next(iter(modes))
        if query.languages:
            out["language"] = User.languages.overlap(
                sa.cast(sa.literal(list(query.languages), ARRAY(sa.String)), ARRAY(sa.String(8)))
            )
        if query.countries:
            out["country"] = User.country.in_([c.upper() for c in query.countries])
        if query.seller_ids is not None:
            out["online"] = Gig.seller_id.in_(sorted(query.seller_ids)) if query.seller_ids else sa.false()
        return out

    def search(self, tenant_id: int, query: SearchQuery) -> SearchResult:
        self._check(tenant_id)
        document = sa.literal_column(f"({SEARCH_DOCUMENT})").label(None)
        matched = self._searchable()
        tsquery = None
        if query.text:
            tsquery = sa.func.websearch_to_tsquery(sa.literal_column("'english'::regconfig"), query.text)
            matched = matched.where(sa.literal_column(f"({SEARCH_DOCUMENT})").op("@@")(tsquery))
        filters = self._filters(query)
        base = matched.where(*filters.values()) if filters else matched
        distance = None
        if query.near is not None:
            km = geo.haversine_sql(*_point(query), Gig.latitude, Gig.longitude)
            distance = sa.case((Gig.delivery_mode == "on_site", km), else_=None)
        sort = query.sort if not (query.sort == "distance" and query.near is None) else "newest"
        order = {
            "price_asc": [Gig.min_price_minor.asc(), Gig.published_at.desc()],
            "price_desc": [Gig.min_price_minor.desc(), Gig.published_at.desc()],
            "newest": [Gig.published_at.desc()],
        }.get(sort)
        if sort == "rating":
            order = self._top_rated_order()
        if sort == "distance":
            # On-site gigs by distance (ties: the higher id), then online gigs newest first.
            order = [
                (Gig.delivery_mode != "on_site").asc(),
                distance.asc(),
                sa.case((Gig.delivery_mode == "on_site", None), else_=Gig.published_at).desc().nulls_last(),
            ]
        if order is None:
            order = (
                [sa.func.ts_rank_cd(document, tsquery).desc(), Gig.published_at.desc()]
                if tsquery is not None
                else [Gig.published_at.desc()]
            )
        total = db.session.scalar(sa.select(sa.func.count()).select_from(base.subquery()))
        result = SearchResult(total=total)
        window = current_app.config.get("SEARCH_MAX_RESULTS_WINDOW", 10_000)
        if query.offset < window:
            limit = min(query.per_page, window - query.offset)
            page = base.order_by(*order, Gig.id.desc()).offset(query.offset).limit(limit)
            if distance is not None:
                rows = db.session.execute(page.add_columns(distance.label("distance"))).all()
                result.ids = [row[0] for row in rows]
                result.distances = {row[0]: row[1] for row in rows if row[1] is not None}
            else:
                result.ids = list(db.session.scalars(page))
        result.facets, result.facet_counts = self._facets(matched, filters, query)
        return result

    @staticmethod
    def _facets(matched, filters: dict, query: SearchQuery) -> tuple[dict[int, int], dict]:
        """Category facets (every filter but the category's) and ``facet_counts`` (each dimension
        over the gigs passing every other filter), in one statement over the matched gigs."""
        names = list(filters)
        flags = [filters[name].label(f"f_{name}") for name in names]
        online = sorted(query.online_sellers or ())
        rows = matched.add_columns(
            Gig.category_id.label("category_id"),
            _level().label("level"),
            User.country.label("country"),
            User.languages.label("languages"),
            Gig.delivery_mode.label("mode"),
            Gig.min_delivery_days.label("days"),
            (Gig.seller_id.in_(online) if online else sa.false()).label("online"),
            *flags,
        ).cte("matched")

        def passing(but: str) -> sa.ColumnElement:
            others = [rows.c[f"f_{name}"] for name in names if name != but]
            return sa.and_(sa.true(), *others)

        text = sa.Text()
        parts = [
            sa.select(_const("category"), sa.cast(Category.id, text), sa.func.count())
            .select_from(rows)
            .join(Category, Category.id == rows.c.category_id)
            .where(passing("category"))
            .group_by(Category.id),
            sa.select(_const("category"), sa.cast(Category.parent_id, text), sa.func.count())
            .select_from(rows)
            .join(Category, Category.id == rows.c.category_id)
            .where(passing("category"), Category.parent_id.is_not(None))
            .group_by(Category.parent_id),
            sa.select(_const("level"), sa.cast(rows.c.level, text), sa.func.count())
            .select_from(rows)
            .where(passing("level"), rows.c.level.in_(SELLER_LEVEL_FILTERS))
            .group_by(rows.c.level),
            sa.select(_const("country"), sa.cast(rows.c.country, text), sa.func.count())
            .select_from(rows)
            .where(passing("country"), rows.c.country.is_not(None))
            .group_by(rows.c.country),
            sa.select(_const("mode"), sa.cast(rows.c.mode, text), sa.func.count())
            .select_from(rows)
            .where(passing("mode"))
            .group_by(rows.c.mode),
            sa.select(_const("online"), _const("online"), sa.func.count())
            .select_from(rows)
            .where(passing("online"), rows.c.online),
        ]
        for days in DELIVERY_PRESETS:
            parts.append(
                sa.select(_const("delivery"), _const(str(days)), sa.func.count())
                .select_from(rows)
                .where(passing("delivery"), rows.c.days <= days)
            )
        language = sa.func.unnest(rows.c.languages).table_valued("code").render_derived()
        parts.append(
            sa.select(_const("language"), sa.cast(language.c.code, text), sa.func.count())
            .select_from(rows)
            .join(language, sa.true())
            .where(passing("language"))
            .group_by(language.c.code)
        )
        categories: dict[int, int] = {}
        facet_counts: dict[str, dict[str, int]] = {
            "level": {},
            "language": {},
            "country": {},
            "mode": dict.fromkeys(DELIVERY_MODES, 0),
            "delivery": {str(days): 0 for days in DELIVERY_PRESETS},
            "online": {"online": 0},
        }
        for dimension, value, count in db.session.execute(sa.union_all(*parts)).all():
            if dimension == "category":
                categories[int(value)] = categories.get(int(value), 0) + count
            elif count:
                facet_counts[dimension][value] = count
        for dimension in ("level", "language", "country"):
            facet_counts[dimension] = dict(sorted(facet_counts[dimension].items()))
        return categories, facet_counts

    def suggest(self, tenant_id: int, prefix: str, limit: int = 8) -> list[str]:
        self._check(tenant_id)
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        titles = db.session.scalars(
            sa.select(Gig.title)
            .join(User, User.id == Gig.seller_id)
            .where(Gig.status == "active", User.status == "active", Gig.title.ilike(pattern))
            .order_by(Gig.published_at.desc())
            .limit(limit)
        )
        return list(dict.fromkeys(titles))


class WhooshFallbackBackend(PostgresBackend):
    """PostgreSQL search standing in for Whoosh when the installed Whoosh is not the release
    ``whoosh_internals`` was written against (``get_backend`` logs why).

    Gig writes are not applied to the Whoosh indexes meanwhile. So that an index never answers
    with stale gigs once the right Whoosh is back, the first write, rebuild or clear of a tenant
    in this process removes the tenant's Whoosh index (plain file operations, no Whoosh): it is
    then "missing", and the Whoosh backend answers from PostgreSQL and rebuilds it.
    """

    def __init__(self):
        self._retired: set[int] = set()

    def _retire(self, tenant_id: int) -> None:
        if tenant_id not in self._retired:
            remove_whoosh_index(tenant_id)
            self._retired.add(tenant_id)

    def index_gigs(self, tenant_id: int, docs: Iterable[GigDocument]) -> int:
        self._retire(tenant_id)
        return super().index_gigs(tenant_id, docs)

    def delete_gigs(self, tenant_id: int, ids: Iterable[int]) -> None:
        self._retire(tenant_id)
        return super().delete_gigs(tenant_id, ids)

    def rebuild(self, tenant_id: int, docs: Iterable[GigDocument], heartbeat=None) -> int:
        self._retire(tenant_id)
        return super().rebuild(tenant_id, docs, heartbeat)

    def clear(self, tenant_id: int) -> None:
        remove_whoosh_index(tenant_id)
        self._retired.add(tenant_id)
