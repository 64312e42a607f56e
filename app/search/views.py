"""Search pages: ``/search`` (results, filters, facets, "did you mean") and ``/search/suggest``.

Thin: parse the query string (``services.query_from_args``), call one service,
render. Parameters that make no sense are reported on the page and left out;
nothing a buyer can type produces a 500.

Discovery (#18): near a place (a city, or the buyer's position: the browser is asked only when
they press "Use my location"), within a distance, sorted by distance, delivery mode, the
seller's languages and country, "online now" and delivery presets, each with its count
(``SearchResult.facet_counts``); the location controls only where the marketplace has location
on. A search without results offers to drop one filter at a time (``services.relaxations``).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from app.core import geo
from app.core.reference import LANGUAGES
from app.gigs.services import visible_category_nodes
from app.search import services
from app.settings.services import get_branding, location_settings

bp = Blueprint("search", __name__, template_folder="templates")

DELIVERY_CHOICES = (1, 3, 7)  # the presets with counts (facet_counts["delivery"])
RATING_CHOICES = (3, 4, 4.5)
SORT_LABELS = {
    "relevance": "Best match",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "rating": "Top rated",
    "newest": "Newest",
}
DISTANCE_SORT = ("distance", "Distance")  # offered only with a place
WITHIN_CHOICES = (5, 10, 25, 50, 100)
LOCATION_KEYS = ("near", "lat", "lng", "within", "mode")
FILTER_KEYS = (
    "q",
    "category",
    "min_price",
    "max_price",
    "delivery",
    "rating",
    "seller_level",
    "sort",
    *LOCATION_KEYS,
    "language",
    "country",
    "online",
)
SELLER_LEVEL_CHOICES = {"level_1": "Level 1", "level_2": "Level 2", "top_rated": "Top Rated"}
MODE_LABELS = {"online": "Online", "on_site": "On site"}
FACET_VALUES_SHOWN = 8  # languages / countries listed (the chosen ones always are)


def language_name(code: str) -> str:
    return LANGUAGES.get(code, code)


def _search_url(**changes) -> str:
    """This search with some parameters changed (None removes one); back to page 1 unless given.
    A repeated parameter (``seller_level``, ``language``...) keeps every value."""
    args: dict = {}
    for key, values in request.args.lists():
        values = [v for v in values if v]
        if key in FILTER_KEYS and values:
            args[key] = values if len(values) > 1 else values[0]
    args.update(changes)
    args = {k: v for k, v in args.items() if v not in (None, "", [])}
    if args.get("page") == 1:
        args.pop("page")
    return url_for("search.search_page", **args)


def _facet_values(counts: dict, chosen, name) -> list[tuple[str, str, int]]:
    """(code, name, hits) of a facet: the chosen values, then the most frequent others."""
    chosen = list(chosen or ())
    others = sorted((c for c in counts if c not in chosen), key=lambda c: (-counts[c], name(c)))
    return [(code, name(code), counts.get(code, 0)) for code in chosen + others[:FACET_VALUES_SHOWN]]


def _active_filters(args) -> int:
    """How many filters the search uses (a place is one, however given; the keywords and the
    sort are not filters): the phone's "Filters (n)" button."""
    keys = {key for key, value in args.items(multi=True) if value and key in FILTER_KEYS}
    if keys & {"lat", "lng", "near"}:
        keys = (keys - {"lat", "lng", "near"}) | {"place"}
    return len(keys - {"q", "sort"})


def _relaxations(query, result, location_enabled: bool) -> list[tuple[str, str, int]]:
    """(url, label, hits) for each filter whose removal finds something (no results only)."""
    if result.total:
        return []
    params = services.RELAXATION_PARAMS
    found = []
    for name, label, hits in services.relaxations(query):
        if hits and (location_enabled or name not in ("near", "mode")):
            drop = dict.fromkeys(params.get(name, (name,)))
            if name == "near" and request.args.get("sort") == "distance":
                drop["sort"] = None
            found.append((_search_url(**drop), label, hits))
    return found


@bp.get("/search")
def search_page():
    location = location_settings()
    args = request.args
    if not location.enabled:  # a marketplace without location search: its parameters mean nothing
        args = MultiDict([(k, v) for k, v in args.items(multi=True) if k not in LOCATION_KEYS])
        if args.get("sort") == DISTANCE_SORT[0]:
            args.pop("sort")
    query, errors = services.query_from_args(args, get_branding().currency)
    result = services.search_gigs(query, cards=True)
    pages = max(1, -(-result.total // query.per_page))
    near = query.near
    sort_labels = dict(SORT_LABELS)
    if near is not None:
        sort_labels[DISTANCE_SORT[0]] = DISTANCE_SORT[1]
    counts = result.facet_counts
    return render_template(
        "search/search.html",
        query=query,
        result=result,
        errors=errors,
        pages=pages,
        args=args,
        categories=visible_category_nodes(),  # the tenant's cached tree: no query per search
        delivery_choices=DELIVERY_CHOICES,
        rating_choices=RATING_CHOICES,
        seller_level_choices=SELLER_LEVEL_CHOICES,
        sort_labels=sort_labels,
        search_url=_search_url,
        location_enabled=location.enabled,
        within_choices=WITHIN_CHOICES,
        mode_labels=MODE_LABELS,
        near=near,
        place_label=query.place_label,
        located=near is not None and bool(args.get("lat")) and bool(args.get("lng")),
        counts=counts,
        languages=_facet_values(counts.get("language", {}), query.languages, language_name),
        countries=_facet_values(counts.get("country", {}), query.countries, geo.country_name),
        distances=result.distances,
        relaxations=_relaxations(query, result, location.enabled),
        active_filters=_active_filters(args),
    )


@bp.get("/search/suggest")
def suggest():
    prefix = request.args.get("q", "")
    return jsonify(query=prefix[:100], suggestions=services.suggest(prefix))
