"""Keywords, filters, sorting, facets, suggestions and "did you mean" (acme; Whoosh and PostgreSQL)."""

from __future__ import annotations

import pytest

from app.gigs.models import Gig
from app.search import services
from app.search.backend import IndexUnavailable, SearchQuery, get_backend
from tenants.db import db


@pytest.fixture
def catalog(acme, make_seller, make_gig, run_jobs, in_tenant):
    """Five active gigs over two top-level categories, one paused."""
    dana = make_seller(acme, display_name="Dana Designer")
    walt = make_seller(acme, display_name="Walt Wordsmith")
    ids = {
        "logo": make_gig(
            acme,
            dana,
            title="I will design a modern minimalist logo",
            price=5000,
            days=3,
            tags=("logo", "branding"),
            category="logo-design",
        ),
        "cards": make_gig(
            acme,
            dana,
            title="I will design elegant business cards",
            price=2000,
            days=2,
            tags=("print", "branding"),
            category="logo-design",
            description="Matching your logo perfectly.",
        ),
        "flyer": make_gig(
            acme,
            dana,
            title="I will create a bold event flyer design",
            price=9000,
            days=7,
            tags=("flyer", "print"),
            category="packaging-design",
        ),
        "blog": make_gig(
            acme,
            walt,
            title="I will write engaging blog posts for you",
            price=4000,
            days=5,
            tags=("blog", "seo"),
            category="articles-blog-posts",
            description="Researched articles about anything.",
        ),
        "copy": make_gig(
            acme,
            walt,
            title="I will write website copy that converts",
            price=15000,
            days=10,
            tags=("copywriting",),
            category="copywriting",
        ),
        "paused": make_gig(
            acme,
            walt,
            title="I will write a paused logo slogan",
            price=100,
            days=1,
            status="paused",
            category="copywriting",
        ),
    }
    run_jobs()
    return ids


def test_keywords_are_stemmed_and_cover_title_tags_description_and_seller(catalog, acme, search):
    assert (
        search(acme, q="logos")[0][0] == "I will design a modern minimalist logo"
    )  # title beats description
    assert set(search(acme, q="logo")[0]) == {
        "I will design a modern minimalist logo",
        "I will design elegant business cards",
    }
    assert set(search(acme, q="writing")[0]) == {  # stemmed: "writing" finds "write"
        "I will write engaging blog posts for you",
        "I will write website copy that converts",
    }
    assert search(acme, q="seo")[0] == ["I will write engaging blog posts for you"]  # a tag
    assert set(search(acme, q="wordsmith")[0]) == {  # the seller's name
        "I will write engaging blog posts for you",
        "I will write website copy that converts",
    }
    assert search(acme, q="researched articles")[0] == ["I will write engaging blog posts for you"]
    assert search(acme, q="logo slogan")[0] == []  # every word must match; the paused gig never does


def test_filters_price_delivery_and_category(catalog, acme, search):
    assert set(search(acme, min_price=3000, max_price=9000)[0]) == {
        "I will design a modern minimalist logo",
        "I will create a bold event flyer design",
        "I will write engaging blog posts for you",
    }
    assert set(search(acme, max_delivery_days=3)[0]) == {
        "I will design a modern minimalist logo",
        "I will design elegant business cards",
    }
    assert set(search(acme, category="logo-design")[0]) == {
        "I will design a modern minimalist logo",
        "I will design elegant business cards",
    }
    # A top-level category includes its subcategories.
    assert set(search(acme, category="graphics-design")[0]) == {
        "I will design a modern minimalist logo",
        "I will design elegant business cards",
        "I will create a bold event flyer design",
    }
    assert search(acme, q="design", category="writing-translation")[0] == []


def test_min_rating_filter_and_rating_sort(catalog, acme, search, in_tenant):
    with in_tenant(acme):
        gig = db.session.get(Gig, catalog["blog"])
        gig.rating_avg, gig.rating_count, gig.version = 4.8, 12, gig.version + 1
        db.session.commit()
        services.index_gig(gig.id)
    assert search(acme, min_rating=4.5)[0] == ["I will write engaging blog posts for you"]
    assert search(acme, sort="rating")[0][0] == "I will write engaging blog posts for you"


def test_sorting(catalog, acme, search):
    by_price = search(acme, sort="price_asc")[0]
    assert (
        by_price[0] == "I will design elegant business cards"
        and by_price[-1] == "I will write website copy that converts"
    )
    assert search(acme, sort="price_desc")[0] == list(reversed(by_price))
    newest = search(acme, sort="newest")[0]
    assert newest[0] == "I will write website copy that converts" and len(newest) == 5
    assert search(acme)[0] == newest  # no keywords: relevance means newest


def test_pagination(catalog, acme, search):
    first, result = search(acme, sort="price_asc", per_page=2)
    second, _ = search(acme, sort="price_asc", per_page=2, page=2)
    third, _ = search(acme, sort="price_asc", per_page=2, page=3)
    assert result.total == 5 and len(first) == 2 and len(second) == 2 and len(third) == 1
    assert not set(first) & set(second)
    far, result = search(acme, page=10**9)
    assert far == [] and result.total == 5


def test_category_facets_ignore_the_category_filter(catalog, acme, search, category_ids):
    ids = category_ids(acme)
    _, result = search(acme, q="design", category="logo-design")
    assert result.total == 2  # the two logo-design gigs; the flyer is elsewhere
    assert result.facets[ids["logo-design"]] == 2
    assert result.facets[ids["packaging-design"]] == 1
    assert result.facets[ids["graphics-design"]] == 3  # top level: the sum of its subcategories
    assert ids["writing-translation"] not in result.facets


def test_suggestions_complete_titles_and_tags(catalog, acme, in_tenant):
    with in_tenant(acme):
        assert services.suggest("min") == ["I will design a modern minimalist logo"]
        assert "branding" in services.suggest("bran")
        assert services.suggest("design elega") == ["I will design elegant business cards"]
        assert services.suggest("paused") == []  # never a gig that is not active
        assert services.suggest("x") == [] and services.suggest("") == [] and services.suggest(None) == []
        assert services.suggest("zzzz-nothing") == []


def test_did_you_mean_corrects_misspelt_words_from_the_index(catalog, acme, search):
    titles, result = search(acme, q="minimalst logo")
    assert titles == [] and result.corrected == "minimalist logo"
    assert search(acme, q="the logo")[1].corrected is None  # stop words and known words stay
    assert search(acme, q="qqqqqqqq")[1].corrected is None  # nothing close: no suggestion


def test_postgres_backend_finds_the_same_gigs(catalog, acme, search, app, monkeypatch, in_tenant):
    from app.search.pg_backend import PostgresBackend

    whoosh = {q: set(search(acme, q=q)[0]) for q in ("logo", "write", "print branding")}
    monkeypatch.setitem(app.extensions, "search_backend", PostgresBackend())
    for q, expected in whoosh.items():
        assert set(search(acme, q=q)[0]) == expected, q
    assert search(acme, sort="price_asc", max_delivery_days=5)[0] == [
        "I will design elegant business cards",
        "I will write engaging blog posts for you",
        "I will design a modern minimalist logo",
    ]
    _, result = search(acme, category="graphics-design", q="design")
    assert result.total == 3
    assert search(acme, q='"unclosed ((( OR')[1].total >= 0  # websearch syntax never raises
    with in_tenant(acme):
        assert services.suggest("i will design e") == ["I will design elegant business cards"]


def test_postgres_search_uses_the_expression_index(catalog, acme, in_tenant):
    import sqlalchemy as sa

    from app.search.models import SEARCH_DOCUMENT

    with in_tenant(acme):
        # Inside a transaction that is rolled back: no seq scans and no other index to prefer.
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        for name in (
            "ix_gigs_status_category",
            "ix_gigs_seller_status",
            "ix_gigs_active_best",
            "ix_gigs_active_newest",
        ):
            db.session.execute(sa.text(f"DROP INDEX {acme.schema}.{name}"))
        plan = "\n".join(
            db.session.execute(
                sa.text(
                    f"EXPLAIN SELECT id FROM {acme.schema}.gigs WHERE status = 'active' AND "
                    f"({SEARCH_DOCUMENT}) @@ websearch_to_tsquery('english'::regconfig, 'logo')"
                )
            ).scalars()
        )
        assert "ix_gigs_search_document" in plan, plan
        db.session.rollback()


def test_the_backend_reads_only_the_given_tenant_index(
    catalog, acme, globex, in_tenant, make_seller, make_gig, run_jobs
):
    with in_tenant(acme), pytest.raises(IndexUnavailable):
        get_backend().search(globex.id, SearchQuery(text="logo"))  # globex has no index yet
    make_gig(globex, make_seller(globex), title="I will write globex world domination plans", tags=("plans",))
    run_jobs()
    with in_tenant(acme):
        assert get_backend().search(globex.id, SearchQuery(text="logo")).ids == []
        assert get_backend().search(acme.id, SearchQuery(text="domination")).ids == []
