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
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION

from app.accounts.models import SellerProfile, User
from app.gigs.models import Category, Gig
from app.search.backend import (
    RATING_PRIOR_WEIGHT,
    GigDocument,
    SearchBackend,
    SearchQuery,
    SearchResult,
    rating_mean,
    remove_whoosh_index,
)
from app.search.models import SEARCH_DOCUMENT
from tenants.db import current_tenant, db


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

    def search(self, tenant_id: int, query: SearchQuery) -> SearchResult:
        self._check(tenant_id)
        document = sa.literal_column(f"({SEARCH_DOCUMENT})").label(None)
        base = self._searchable()
        tsquery = None
        if query.text:
            tsquery = sa.func.websearch_to_tsquery(sa.literal_column("'english'::regconfig"), query.text)
            base = base.where(sa.literal_column(f"({SEARCH_DOCUMENT})").op("@@")(tsquery))
        if query.min_price is not None:
            base = base.where(Gig.min_price_minor >= query.min_price)
        if query.max_price is not None:
            base = base.where(Gig.min_price_minor <= query.max_price)
        if query.max_delivery_days is not None:
            base = base.where(Gig.min_delivery_days <= query.max_delivery_days)
        if query.min_rating is not None:
            base = base.where(Gig.rating_avg >= query.min_rating)
        if query.seller_levels:
            base = base.where(
                Gig.seller_id.in_(
                    sa.select(SellerProfile.user_id).where(SellerProfile.level.in_(query.seller_levels))
                )
            )
        unfiltered = base
        if query.category_ids:
            parent = sa.select(Category.parent_id).where(Category.id == Gig.category_id).scalar_subquery()
            base = base.where(sa.or_(Gig.category_id.in_(query.category_ids), parent.in_(query.category_ids)))
        order = {
            "price_asc": [Gig.min_price_minor.asc(), Gig.published_at.desc()],
            "price_desc": [Gig.min_price_minor.desc(), Gig.published_at.desc()],
            "newest": [Gig.published_at.desc()],
        }.get(query.sort)
        if query.sort == "rating":
            order = self._top_rated_order()
        if order is None:
            order = (
                [sa.func.ts_rank_cd(document, tsquery).desc(), Gig.published_at.desc()]
                if tsquery is not None
                else [Gig.published_at.desc()]
            )
        total = db.session.scalar(sa.select(sa.func.count()).select_from(base.subquery()))
        window = current_app.config.get("SEARCH_MAX_RESULTS_WINDOW", 10_000)
        if query.offset >= window:
            return SearchResult(total=total)
        ids = list(
            db.session.scalars(
                base.order_by(*order, Gig.id.desc()).offset(query.offset).limit(query.per_page)
            )
        )
        matched = unfiltered.add_columns(Gig.category_id.label("category_id")).subquery()
        rows = db.session.execute(
            sa.select(Category.id, Category.parent_id, sa.func.count())
            .select_from(matched)
            .join(Category, Category.id == matched.c.category_id)
            .group_by(Category.id, Category.parent_id)
        ).all()
        facets: dict[int, int] = {}
        for category_id, parent_id, count in rows:
            facets[category_id] = facets.get(category_id, 0) + count
            if parent_id:
                facets[parent_id] = facets.get(parent_id, 0) + count
        return SearchResult(ids=ids, total=total, facets=facets)

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
