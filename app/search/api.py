"""Search API: ``GET /api/v1/gigs`` lists the marketplace's active gigs, searched and filtered.

Same parameters and rules as the ``/search`` page, except that prices are integer
minor units (like everywhere in the API). Location search (``near`` a city, or ``lat`` /
``lng``; ``within_km``; ``sort=distance``) follows docs/design/discovery.md: each gig carries
``distance_km`` (on-site gigs near the place; null otherwise). ``GET /api/v1/search/suggest``
completes a query, ``GET /api/v1/places`` a city for ``near``. Paginated with ``page`` / ``page_size``
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

from app.core import geo
from app.core.api import Blueprint
from app.core.schema import Schema
from app.gigs.models import MAX_PRICE_MINOR
from app.gigs.schemas import GigSchema
from app.search import services
from app.search.backend import (
    DELIVERY_MODES,
    DELIVERY_PRESETS,
    RATING_PRIOR_WEIGHT,
    SELLER_LEVEL_FILTERS,
    SORTS,
)

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
            "description": "relevance (newest without keywords), price_asc, price_desc, rating, newest, "
            "distance. "
            "`rating` (top rated) orders rated gigs by a Bayesian average "
            f"`({RATING_PRIOR_WEIGHT}·m + average·count) / ({RATING_PRIOR_WEIGHT} + count)`, m being the "
            "marketplace's mean rating, so one 5-star review does not beat many at 4.9; gigs "
            "without reviews come last, newest first. `distance` needs a place (`near`, or `lat` and "
            "`lng`): on-site gigs nearest first, then online gigs newest first.",
            "example": "price_asc",
        },
    )
    near = fields.Str(
        load_default=None,
        validate=validate.Length(max=120),
        metadata={
            "description": "Search near this city: a name (`Berlin`), with its country (`Berlin, DE`, "
            "`Berlin, Germany`) or a GeoNames id from `GET /api/v1/places`. Same-named cities resolve "
            "to the marketplace's default country first. On-site gigs match when the place is inside "
            "their service area and their base within `within_km`; online gigs always match.",
            "example": "Berlin, DE",
        },
    )
    lat = fields.Float(
        load_default=None,
        allow_nan=False,
        validate=validate.Range(min=-90, max=90),
        metadata={
            "description": "Search near this point (degrees; with `lng`; wins over `near`)",
            "example": 52.52,
        },
    )
    lng = fields.Float(
        load_default=None,
        allow_nan=False,
        validate=validate.Range(min=-180, max=180),
        metadata={"description": "Longitude of the point (degrees; with `lat`)", "example": 13.405},
    )
    within_km = fields.Float(
        load_default=None,
        allow_nan=False,
        validate=validate.Range(min=0, min_inclusive=False),
        metadata={
            "description": "Only on-site gigs whose base is at most this far from the place (km; "
            f"default and maximum {geo.MAX_RADIUS_KM}: more is read as {geo.MAX_RADIUS_KM})",
            "example": 25,
        },
    )
    mode = fields.List(
        fields.Str(validate=validate.Length(max=40)),
        load_default=None,
        validate=validate.Length(max=len(DELIVERY_MODES)),
        metadata={
            "description": "Where the work happens: `online` or `on_site` (repeat the parameter or "
            "separate with commas; both, or none, mean every gig)",
            "example": ["on_site"],
        },
    )
    language = fields.List(
        fields.Str(validate=validate.Length(max=40)),
        load_default=None,
        validate=validate.Length(max=services.FILTER_VALUES_MAX),
        metadata={
            "description": "Only sellers speaking any of these languages (ISO 639-1 codes; repeat the "
            "parameter or separate with commas)",
            "example": ["en", "de"],
        },
    )
    country = fields.List(
        fields.Str(validate=validate.Length(max=40)),
        load_default=None,
        validate=validate.Length(max=services.FILTER_VALUES_MAX),
        metadata={
            "description": "Only sellers based in any of these countries (ISO 3166-1 alpha-2 codes; "
            "repeat the parameter or separate with commas)",
            "example": ["DE"],
        },
    )
    online = fields.Bool(
        load_default=False,
        metadata={"description": "Only sellers online right now", "example": False},
    )


class SearchGigSchema(GigSchema):
    distance_km = fields.Float(
        attribute="search_distance_km",
        allow_none=True,
        dump_default=None,
        metadata={
            "description": "Great-circle distance from the searched place to an on-site gig's base "
            "(km, one decimal); null without a place or for an online gig",
            "example": 4.2,
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
    facet_counts = fields.Dict(
        keys=fields.Str(),
        values=fields.Dict(keys=fields.Str(), values=fields.Int()),
        metadata={
            "description": "Hits per value of each filter, every count taken with all the *other* "
            "filters applied (what choosing the value would give): `level` (level_1, level_2, "
            "top_rated), `language` (codes), `country` (codes), `mode` (online, on_site), "
            f"`delivery` ({', '.join(map(str, DELIVERY_PRESETS))}: delivered within N days), "
            "`online` (sellers online now)",
            "example": {
                "level": {"top_rated": 2},
                "language": {"en": 3, "de": 1},
                "country": {"DE": 2},
                "mode": {"online": 2, "on_site": 1},
                "delivery": {"1": 0, "3": 1, "7": 3},
                "online": {"online": 1},
            },
        },
    )


class SuggestArgsSchema(Schema):
    q = fields.Str(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "What the buyer has typed so far (2 characters or more)", "example": "logo"},
    )


class SuggestSchema(Schema):
    query = fields.Str(metadata={"example": "logo"})
    suggestions = fields.List(
        fields.Str(), metadata={"example": ["logo design", "I will design a modern minimalist logo"]}
    )


class PlaceArgsSchema(Schema):
    q = fields.Str(
        load_default="",
        validate=validate.Length(max=120),
        metadata={"description": "The start of a city's name (2 characters or more)", "example": "Ber"},
    )
    limit = fields.Int(
        load_default=8,
        validate=validate.Range(min=1, max=20),
        metadata={"description": "How many cities at most (1-20)", "example": 8},
    )


class PlaceSchema(Schema):
    id = fields.Int(metadata={"description": "GeoNames id: a value for `near`", "example": 2950159})
    name = fields.Str(metadata={"example": "Berlin"})
    country = fields.Str(metadata={"description": "ISO 3166-1 alpha-2", "example": "DE"})
    label = fields.Str(metadata={"example": "Berlin, Germany"})
    latitude = fields.Float(metadata={"example": 52.52437})
    longitude = fields.Float(metadata={"example": 13.41053})
    population = fields.Int(metadata={"example": 3426354})


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
        near=args["near"],
        lat=args["lat"],
        lng=args["lng"],
        within_km=args["within_km"],
        delivery=args["mode"],
        language=args["language"],
        country=args["country"],
        online=args["online"],
    )


@blp.route("/gigs")
class GigSearch(MethodView):
    @blp.arguments(GigSearchArgsSchema, location="query", as_kwargs=False)
    @blp.response(
        200,
        SearchGigSchema(many=True),
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
        `GET /api/v1/gigs?rating=4&seller_level=level_2&seller_level=top_rated&sort=rating`,
        `GET /api/v1/gigs?q=plumber&near=Berlin,DE&within_km=25&mode=on_site&sort=distance`,
        `GET /api/v1/gigs?lat=52.52&lng=13.405&language=de&country=DE&online=true`
        """
        query = _query(args, pagination_parameters.page, pagination_parameters.page_size)
        result = services.search_gigs(query)
        for gig in result.gigs:
            km = result.distances.get(gig.id)
            gig.search_distance_km = round(km, 1) if km is not None else None
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
        """Category counts, filter counts and "did you mean" for the same parameters as `GET /api/v1/gigs`.

        The category counts leave the category filter out, so they show where else matches are;
        each of `facet_counts` leaves its own filter out the same way.
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
            "facet_counts": result.facet_counts,
        }


@blp.route("/search/suggest")
class GigSearchSuggest(MethodView):
    @blp.arguments(SuggestArgsSchema, location="query", as_kwargs=False)
    @blp.response(
        200, SuggestSchema, example={"query": "bran", "suggestions": ["branding", "I will design your brand"]}
    )
    def get(self, args):
        """Completions of a partly typed search: matching tags first, then gig titles (at most 8).

        Fewer than 2 characters give no suggestions.
        """
        return {"query": args["q"][:100], "suggestions": services.suggest(args["q"])}


@blp.route("/places")
class Places(MethodView):
    @blp.arguments(PlaceArgsSchema, location="query", as_kwargs=False)
    @blp.response(
        200,
        PlaceSchema(many=True),
        example=[
            {
                "id": 2950159,
                "name": "Berlin",
                "country": "DE",
                "label": "Berlin, Germany",
                "latitude": 52.52437,
                "longitude": 13.41053,
                "population": 3426354,
            }
        ],
    )
    def get(self, args):
        """Cities whose name starts so, for a `near` field: the marketplace's default country first,
        then the most populous (GeoNames cities of 15,000 people or more).

        Fewer than 2 characters give an empty list. Pass a city's `id` (or its `label`) as `near`.
        """
        cities = geo.suggest_cities(args["q"], prefer_country=services.default_country(), limit=args["limit"])
        return [
            {
                "id": city.id,
                "name": city.name,
                "country": city.country,
                "label": city.label,
                "latitude": city.lat,
                "longitude": city.lng,
                "population": city.population,
            }
            for city in cities
        ]
