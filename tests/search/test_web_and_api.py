"""The /search page, /search/suggest and GET /api/v1/gigs: results, errors, never a 500."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa


@pytest.fixture
def two_gigs(acme, make_seller, make_gig, run_jobs):
    seller = make_seller(acme, display_name="Dana Designer")
    make_gig(
        acme,
        seller,
        title="I will design a modern minimalist logo",
        price=5000,
        days=3,
        category="logo-design",
    )
    make_gig(
        acme, seller, title="I will design a vintage badge logo", price=20000, days=10, category="logo-design"
    )
    run_jobs()


def test_search_page_filters_in_major_units(two_gigs, tenant_client):
    client = tenant_client("acme")
    page = client.get("/search?q=logo").get_data(as_text=True)
    assert "modern minimalist logo" in page and "vintage badge logo" in page
    page = client.get("/search?q=logo&max_price=60.50&delivery=7").get_data(as_text=True)
    assert "modern minimalist logo" in page and "vintage badge logo" not in page
    page = client.get("/search?q=logo&min_price=100").get_data(as_text=True)
    assert "modern minimalist logo" not in page and "vintage badge logo" in page
    assert 'data-testid="facet-logo-design">2<' in client.get("/search?q=logo").get_data(as_text=True)


def test_did_you_mean_link(two_gigs, tenant_client):
    page = tenant_client("acme").get("/search?q=vintge").get_data(as_text=True)
    assert 'data-testid="did-you-mean"' in page and "q=vintage" in page


def test_suggest_json(two_gigs, tenant_client):
    response = tenant_client("acme").get("/search/suggest?q=vint")
    assert response.status_code == 200
    assert response.json["suggestions"] == ["I will design a vintage badge logo"]


BAD_QUERIES = [
    '"unclosed',
    "((((",
    "AND OR NOT",
    "title:logo",
    "*",
    "logo^99",
    "[a TO z]",
    "\x00\x1f",
    "<script>alert(1)</script>",
    "a" * 5000,
    "ñandú 😀",
    "NOT logo",
    "'",
    "\\",
]


@pytest.mark.parametrize("q", BAD_QUERIES)
def test_any_query_text_is_answered_without_a_500(two_gigs, tenant_client, q):
    client = tenant_client("acme")
    assert client.get("/search", query_string={"q": q}).status_code == 200
    assert client.get("/search/suggest", query_string={"q": q}).status_code == 200
    assert client.get("/api/v1/gigs", query_string={"q": q}).status_code in (200, 422)


@pytest.mark.parametrize(
    "params",
    [
        {"page": "999999999999999999999"},
        {"page": "-3"},
        {"page": "abc"},
        {"min_price": "-5"},
        {"max_price": "1e999999"},
        {"min_price": "NaN"},
        {"delivery": "0"},
        {"delivery": "9999"},
        {"rating": "7"},
        {"rating": "inf"},
        {"sort": "random"},
        {"category": "no-such-thing"},
        {"min_price": "50", "max_price": "10"},
    ],
)
def test_bad_parameters_on_the_page_are_explained_or_clamped(two_gigs, tenant_client, params):
    response = tenant_client("acme").get("/search", query_string={"q": "logo", **params})
    assert response.status_code == 200


def test_page_errors_are_shown(two_gigs, tenant_client):
    page = tenant_client("acme").get("/search?min_price=-5&sort=random").get_data(as_text=True)
    assert "A price cannot be negative." in page and "Sort by one of" in page
    assert "modern minimalist logo" in page  # the rest of the search still runs


def test_api_lists_and_paginates(two_gigs, tenant_client):
    client = tenant_client("acme")
    response = client.get("/api/v1/gigs?q=logo&sort=price_desc&page_size=1")
    assert response.status_code == 200
    assert [g["title"] for g in response.json] == ["I will design a vintage badge logo"]
    assert '"total": 2' in response.headers["X-Pagination"]
    response = client.get("/api/v1/gigs?max_price=6000&delivery=5&category=logo-design")
    assert [g["title"] for g in response.json] == ["I will design a modern minimalist logo"]
    assert client.get("/api/v1/gigs?page=10000").json == []  # the last page a client may ask for
    assert client.get("/api/v1/gigs?page=100000000").status_code == 422  # beyond it: names `page`
    response = client.get("/api/v1/gigs?q=vintge")
    assert response.json == [] and response.headers["X-Search-Did-You-Mean"] == "vintage"
    facets = client.get("/api/v1/search/facets?q=logo").json
    assert facets["total"] == 2 and any(
        f["slug"] == "logo-design" and f["count"] == 2 for f in facets["categories"]
    )


@pytest.mark.parametrize(
    "params, field",
    [
        ({"min_price": "-1"}, "min_price"),
        ({"sort": "random"}, "sort"),
        ({"page": "0"}, "page"),
        ({"category": "nope"}, "category"),
        ({"delivery": "0"}, "delivery"),
        ({"rating": "9"}, "rating"),
        ({"q": "x" * 201}, "q"),
        ({"min_price": "abc"}, "min_price"),
        ({"min_price": "500", "max_price": "100"}, "max_price"),
    ],
)
def test_api_rejects_bad_parameters_with_422(two_gigs, tenant_client, params, field):
    response = tenant_client("acme").get("/api/v1/gigs", query_string=params)
    assert response.status_code == 422, response.json
    assert field in str(response.json)


def test_openapi_documents_both_methods_of_gigs(tenant_client):
    spec = tenant_client("acme").get("/api/v1/openapi.json").json
    assert {"get", "post"} <= set(spec["paths"]["/api/v1/gigs"])
    assert any(p["name"] == "max_price" for p in spec["paths"]["/api/v1/gigs"]["get"]["parameters"])


def test_the_search_page_lists_the_cached_category_tree_without_a_query(
    two_gigs, acme, tenant_client, in_tenant, app
):
    from app.gigs import categories
    from app.gigs.models import Category
    from tenants.db import db
    from tests.helpers import statements_of

    client = tenant_client("acme")
    client.get("/search")  # fills the tenant's caches (branding, categories)
    sent = statements_of(app, lambda: client.get("/search?q=logo"))
    tree_reads = [s for s in sent if re.search(r"FROM tenant_acme\.categories\b", s)]
    assert sent and not tree_reads  # the page's other queries still run (the gigs, their cards)
    with in_tenant(acme):
        logo = db.session.scalar(sa.select(Category).where(Category.slug == "logo-design"))
        hidden = categories.create_category("Retro Marks", parent_id=logo.parent_id)
        categories.create_category("Mascot Logos", parent_id=logo.parent_id)
        categories.update_category(hidden.id, is_hidden=True)
        db.session.commit()
    page = client.get("/search").get_data(as_text=True)  # the change renewed the tree's stamp
    assert ">&nbsp;&nbsp;Mascot Logos</option>" in page and "Retro Marks" not in page
    facets = client.get("/search?q=logo").get_data(as_text=True)
    assert 'data-testid="facet-logo-design">2<' in facets and "facet-mascot-logos" not in facets
