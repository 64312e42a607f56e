"""Search API: ``GET /api/v1/gigs`` lists the marketplace's active gigs, searched and filtered.

Same parameters and rules as the ``/search`` page, except that prices are integer
minor units (like everywhere in the API). Paginated with ``page`` / ``page_size``
(``X-Pagination`` header); a corrected query ("did you mean") comes back in the
``X-Search-Did-You-Mean`` header (percent-encoded UTF-8), category facet counts from
``GET /api/v1/search/facets``.
Bad parameters are a 422 in smorest's ``{"errors": {"query": {...}}}`` shape (``SearchError``
is a ``DomainError`` located in the query; the central handler answers it).
"""

from __future__ import annotations

from urllib.parse import quote

from flask.views import MethodView
from marshmallow import fields, validate

from app.core.api import Blueprint
from app.core.schema import Schema
from app.gigs.models import MAX_PRICE_MINOR
from app.gigs.schemas import GigSchema
from app.search import services
from app.search.backend import RATING_PRIOR_WEIGHT, SELLER_LEVEL_FILTERS, SORTS

blp = Blueprint(
    "search_api",
    __name__,
    url_prefix="/api/v1",
    description="Search the marketplace's active gigs: keywords, filters, sorting, facets.",
)

DID_YOU_MEAN = "X-Search-Did-You-Mean"
# Printable ASCII stays as it is (an ordinary correction reads as before); "%", controls and
# everything beyond ASCII are percent-encoded, so no query can break the header (gunicorn
# refuses a response whose header holds a control or non-Latin-1 character).
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def header_text(text: str) -> str:
    """User text made fit for a header value: percent-encoded UTF-8 (``urllib.parse.unquote``)."""
    return quote(text, safe=_HEADER_SAFE)


class GigSearchArgsSchema(Schema):
    q = fields.Str(
        load_default="",
        validate=validate.Length(max=services.TEXT_MAX),
        metadata={
            "description": 'Keywords over title, description, tags and seller (stemmed; "quotes" for a '
            "phrase, AND / OR / NOT). Any text is accepted; unknown syntax is read as words.",
            "example": "minimalist logo",
        },
    )
    category = fields.Str(
        load_default=None,
        metadata={
            "description": "Category slug (a top-level one includes its subcategories)",
            "example": "logo-design",
        },
    )
    min_price = fields.Int(
        load_default=None,
        validate=validate.Range(min=0),
        metadata={"description": "Lowest package price at least this (minor units)", "example": 2000},
    )
    max_price = fields.Int(
        load_default=None,
        validate=validate.Range(min=0),
        metadata={
            "description": f"Lowest package price at most this (minor units); "
            f"{MAX_PRICE_MINOR} or more filters nothing",
            "example": 10000,
        },
    )
    delivery = fields.Int(
        load_default=None,
        validate=validate.Range(min=1),
        metadata={
            "description": "Delivered in at most this many days (90 or more filters nothing)",
            "example": 7,
        },
    )
    rating = fields.Float(
        load_default=None,
        allow_nan=False,
        validate=validate.Range(min=0, max=services.RATING_MAX),
        metadata={"description": "Minimum average rating (0-5)", "example": 4.5},
    )
    seller_level = fields.List(
        fields.Str(validate=validate.OneOf(SELLER_LEVEL_FILTERS)),
        load_default=None,
        validate=validate.Length(max=len(SELLER_LEVEL_FILTERS)),
        metadata={
            "description": "Only gigs of sellers at one of these levels: "
            f"{', '.join(SELLER_LEVEL_FILTERS)} (repeat the parameter for several: "
            "`seller_level=level_2&seller_level=top_rated`). Levels are assigned daily from the "
            "marketplace's thresholds (orders, earnings, rating, on-time rate, days active).",
            "example": ["top_rated"],
        },
    )
    sort = fields.Str(
        load_default="relevance",
        validate=validate.OneOf(SORTS),
        metadata={
            "description": "relevance (newest without keywords), price_asc, price_desc, rating, newest. "
            "`rating` (top rated) orders rated gigs by a Bayesian average "
            f"`({RATING_PRIOR_WEIGHT}·m + average·count) / ({RATING_PRIOR_WEIGHT} + count)`, m being the "
            "marketplace's mean rating, so one 5-star review does not beat many at 4.9; gigs "
            "without reviews come last, newest first.",
            "example": "price_asc",
        },
    )


class FacetSchema(Schema):
    category_id = fields.Int(metadata={"example": 12})
    slug = fields.Str(metadata={"example": "logo-design"})
    name = fields.Str(metadata={"example": "Logo Design"})
    parent_id = fields.Int(allow_none=True, metadata={"example": 3})
    count = fields.Int(metadata={"example": 17})


class FacetsSchema(Schema):
    total = fields.Int(metadata={"example": 42})
    did_you_mean = fields.Str(allow_none=True, metadata={"example": "minimalist logo"})
    categories = fields.List(fields.Nested(FacetSchema))


def _query(args: dict, page: int = 1, per_page: int = services.PER_PAGE_DEFAULT):
    return services.build_query(
        text=args["q"],
        category=args["category"],
        min_price=args["min_price"],
        max_price=args["max_price"],
        max_delivery_days=args["delivery"],
        min_rating=args["rating"],
        seller_level=args["seller_level"],
        sort=args["sort"],
        page=page,
        per_page=per_page,
    )


@blp.route("/gigs")
class GigSearch(MethodView):
    @blp.arguments(GigSearchArgsSchema, location="query", as_kwargs=False)
    @blp.response(
        200,
        GigSchema(many=True),
        example=[
            {
                "id": 42,
                "slug": "i-will-design-a-minimalist-logo-3fa2c1",
                "title": "I will design a minimalist logo",
                "min_price_minor": 5000,
                "min_delivery_days": 3,
            }
        ],
        headers={
            DID_YOU_MEAN: {
                "description": "A corrected query when some keywords are unknown "
                "(percent-encoded UTF-8: decode it like a URL component)",
                "schema": {"type": "string"},
            }
        },
    )
    @blp.paginate(page_size=services.PER_PAGE_DEFAULT, max_page_size=services.PER_PAGE_MAX)
    def get(self, args, pagination_parameters):
        """Search active gigs (paginated: `page`, `page_size`).

        Example:
        `GET /api/v1/gigs?q=minimalist+logo&category=logo-design&max_price=10000&delivery=7&sort=price_asc`,
        `GET /api/v1/gigs?rating=4&seller_level=level_2&seller_level=top_rated&sort=rating`
        """
        query = _query(args, pagination_parameters.page, pagination_parameters.page_size)
        result = services.search_gigs(query)
        pagination_parameters.item_count = result.total
        headers = {DID_YOU_MEAN: header_text(result.corrected)} if result.corrected else {}
        return result.gigs, headers


@blp.route("/search/facets")
class GigSearchFacets(MethodView):
    @blp.arguments(GigSearchArgsSchema, location="query", as_kwargs=False)
    @blp.response(
        200,
        FacetsSchema,
        example={
            "total": 3,
            "did_you_mean": None,
            "categories": [
                {"category_id": 12, "slug": "logo-design", "name": "Logo Design", "parent_id": 3, "count": 3}
            ],
        },
    )
    def get(self, args):
        """Category counts and "did you mean" for the same parameters as `GET /api/v1/gigs`.

        The counts leave the category filter out, so they show where else matches are.
        """
        result = services.search_gigs(_query(args, per_page=1))
        labels = services.category_labels()
        return {
            "total": result.total,
            "did_you_mean": result.corrected,
            "categories": [
                {
                    "category_id": cid,
                    "slug": labels[cid].slug,
                    "name": labels[cid].name,
                    "parent_id": labels[cid].parent_id,
                    "count": count,
                }
                for cid, count in sorted(result.facets.items())
                if cid in labels
            ],
        }
