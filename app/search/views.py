"""Search pages: ``/search`` (results, filters, facets, "did you mean") and ``/search/suggest``.

Thin: parse the query string (``services.query_from_args``), call one service,
render. Parameters that make no sense are reported on the page and left out;
nothing a buyer can type produces a 500.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request, url_for

from app.gigs.services import category_tree
from app.search import services
from app.settings.services import get_branding

bp = Blueprint("search", __name__, template_folder="templates")

DELIVERY_CHOICES = (1, 3, 7, 14, 30)
RATING_CHOICES = (3, 4, 4.5)
SORT_LABELS = {
    "relevance": "Best match",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "rating": "Top rated",
    "newest": "Newest",
}
FILTER_KEYS = ("q", "category", "min_price", "max_price", "delivery", "rating", "seller_level", "sort")
SELLER_LEVEL_CHOICES = {"level_1": "Level 1", "level_2": "Level 2", "top_rated": "Top Rated"}


def _search_url(**changes) -> str:
    """This search with some parameters changed (None removes one); back to page 1 unless given.
    A repeated parameter (``seller_level``) keeps every value."""
    args: dict = {}
    for key, values in request.args.lists():
        values = [v for v in values if v]
        if key in FILTER_KEYS and values:
            args[key] = values if len(values) > 1 else values[0]
    args.update(changes)
    args = {k: v for k, v in args.items() if v not in (None, "")}
    if args.get("page") == 1:
        args.pop("page")
    return url_for("search.search_page", **args)


@bp.get("/search")
def search_page():
    query, errors = services.query_from_args(request.args, get_branding().currency)
    result = services.search_gigs(query, cards=True)
    pages = max(1, -(-result.total // query.per_page))
    return render_template(
        "search/search.html",
        query=query,
        result=result,
        errors=errors,
        pages=pages,
        args=request.args,
        categories=category_tree(),
        delivery_choices=DELIVERY_CHOICES,
        rating_choices=RATING_CHOICES,
        seller_level_choices=SELLER_LEVEL_CHOICES,
        sort_labels=SORT_LABELS,
        search_url=_search_url,
    )


@bp.get("/search/suggest")
def suggest():
    prefix = request.args.get("q", "")
    return jsonify(query=prefix[:100], suggestions=services.suggest(prefix))
