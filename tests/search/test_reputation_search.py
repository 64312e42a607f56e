"""Ratings and seller levels in search, on both backends: the seller-level filter, "Top rated" by
a Bayesian average, a published review reaching the index and the rating filter, cards and pages."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.accounts.services import set_seller_reputation
from app.gigs.models import Gig
from app.gigs.services import set_gig_rating
from app.search import services
from app.search.backend import RATING_PRIOR_WEIGHT, bayesian_rating
from tenants.db import db
from tests.helpers import statements_of
from tests.orders.conftest import drive, market, user  # noqa: F401  (fixture and helpers)

GOOD = {"rating": 5, "communication": 5, "as_described": 5, "would_recommend": 5, "text": "Superb work."}
MEH = {"rating": 3, "communication": 3, "as_described": 3, "would_recommend": 3, "text": "It was fine."}
BACK = {"rating": 5, "text": "Clear brief, paid on time."}


@pytest.fixture(params=["whoosh", "postgres"])
def backend(request, app, monkeypatch):
    """Run the test on the Whoosh index and on PostgreSQL full-text search."""
    if request.param == "postgres":
        from app.search.pg_backend import PostgresBackend

        monkeypatch.setitem(app.extensions, "search_backend", PostgresBackend())
    return request.param


@pytest.fixture
def leveled(acme, make_seller, make_gig, run_jobs, in_tenant):
    """One gig per seller level (the level stored through accounts, indexed through events)."""
    ids = {}
    for level in ("new", "level_1", "level_2", "top_rated"):
        seller = make_seller(acme, display_name=f"Seller {level}")
        ids[level] = make_gig(acme, seller, title=f"I will design a logo as a {level} seller")
        with in_tenant(acme):
            if level != "new":
                set_seller_reputation(seller, level=level)
            db.session.commit()
    run_jobs()
    return ids


def _ids(acme, in_tenant, **params) -> list[int]:
    with in_tenant(acme):
        return services.search_gigs(services.build_query(**params)).ids


def test_seller_level_filter(backend, leveled, acme, in_tenant):
    assert _ids(acme, in_tenant, seller_level="top_rated") == [leveled["top_rated"]]
    assert set(_ids(acme, in_tenant, seller_level=["level_2", "top_rated"])) == {
        leveled["level_2"],
        leveled["top_rated"],
    }
    assert set(_ids(acme, in_tenant, text="logo", seller_level=["level_1"])) == {leveled["level_1"]}
    assert len(_ids(acme, in_tenant)) == 4  # no filter: every level, "new" included


def test_a_level_change_reaches_the_index(backend, leveled, acme, in_tenant, run_jobs):
    with in_tenant(acme):
        seller_id = db.session.get(Gig, leveled["level_1"]).seller_id
        set_seller_reputation(seller_id, level="top_rated")  # publishes seller.updated
        db.session.commit()
    run_jobs()
    assert set(_ids(acme, in_tenant, seller_level="top_rated")) == {leveled["level_1"], leveled["top_rated"]}


def test_bad_seller_levels_are_refused(acme, in_tenant):
    with in_tenant(acme):
        for bad in ("new", "gold", ["level_1", "nope"], 3):
            with pytest.raises(services.SearchError) as exc:
                services.build_query(seller_level=bad)
            assert "seller_level" in exc.value.errors


@pytest.fixture
def rated(acme, make_seller, make_gig, run_jobs, in_tenant):
    """Gigs rated through gigs.set_gig_rating (what reviews call), indexed through gig.rating_changed."""
    seller = make_seller(acme, display_name="Rita Rated")
    spec = {
        "one_five": (Decimal("5.00"), 1),
        "many_high": (Decimal("4.90"), 200),
        "some_good": (Decimal("4.50"), 20),
        "few_bad": (Decimal("2.00"), 3),
        "unrated": (Decimal("0"), 0),
    }
    ids = {}
    for name, (average, count) in spec.items():
        ids[name] = make_gig(acme, seller, title=f"I will paint a portrait {name.replace('_', ' ')}")
        with in_tenant(acme):
            set_gig_rating(ids[name], average, count)
            db.session.commit()
    run_jobs()
    return ids


def test_top_rated_weighs_the_count_with_a_bayesian_average(backend, rated, acme, in_tenant):
    order = _ids(acme, in_tenant, sort="rating")
    names = {v: k for k, v in rated.items()}
    # m = (500·1 + 490·200 + 450·20 + 200·3) / (100 · 224) ≈ 4.83: one 5 scores ≈ 4.84, 200 at 4.9 ≈ 4.90.
    assert [names[i] for i in order] == ["many_high", "one_five", "some_good", "few_bad", "unrated"]
    mean = 108_100 / 22_400
    assert bayesian_rating(4.9, 200, mean) > bayesian_rating(5.0, 1, mean) > mean
    assert RATING_PRIOR_WEIGHT == 10


def test_the_rating_filter_keeps_gigs_at_or_above_it(backend, rated, acme, in_tenant):
    names = {v: k for k, v in rated.items()}
    assert {names[i] for i in _ids(acme, in_tenant, min_rating=4.5)} == {"one_five", "many_high", "some_good"}
    assert {names[i] for i in _ids(acme, in_tenant, min_rating=4.9)} == {"one_five", "many_high"}
    assert {names[i] for i in _ids(acme, in_tenant, min_rating=4.91)} == {"one_five"}


def test_both_backends_give_the_same_top_rated_order(
    acme, make_seller, make_gig, run_jobs, in_tenant, app, monkeypatch
):
    rng = random.Random(14)
    sellers = [make_seller(acme, display_name=f"Seller {n}") for n in range(3)]
    for n in range(36):
        gig_id = make_gig(acme, sellers[n % 3], title=f"I will write a poem number {n} for you")
        count = rng.choice([0, 0, 1, 1, 2, 5, 10, 40, 200])
        average = Decimal(rng.choice([500, 490, 480, 450, 420, 400, 300, 100])) / 100 if count else Decimal(0)
        with in_tenant(acme):
            set_gig_rating(gig_id, average, count)
            db.session.commit()
    run_jobs()
    pages = {}
    for name in ("whoosh", "postgres"):
        if name == "postgres":
            from app.search.pg_backend import PostgresBackend

            monkeypatch.setitem(app.extensions, "search_backend", PostgresBackend())
        pages[name] = [
            _ids(acme, in_tenant, sort="rating", per_page=10, page=page, **filters)
            for page in (1, 2, 3, 4)
            for filters in ({}, {"text": "poem"}, {"min_rating": 4})
        ]
    assert pages["whoosh"] == pages["postgres"]
    assert sum(len(p) for p in pages["whoosh"][:12:3]) == 36


def test_a_published_review_reaches_the_index_and_the_rating_filter(
    backend,
    acme,
    market,  # noqa: F811
    in_tenant,
    run_jobs,
    tenant_client,  # noqa: F811
):
    from app.reviews import services as reviews

    m = market(acme, title="I will design a stunning website landing page")
    run_jobs()
    assert _ids(acme, in_tenant, min_rating=4) == []  # no rating yet: the filter finds nothing
    with in_tenant(acme):
        order_id = drive(m, "completed")
        reviews.submit_review(user(m.buyer_id), order_id, GOOD)
        reviews.submit_review(user(m.seller_id), order_id, BACK)  # both written: both publish
        db.session.commit()
    run_jobs()
    assert _ids(acme, in_tenant, min_rating=4) == [m.gig_id]
    assert _ids(acme, in_tenant, text="website", min_rating=4.5, sort="rating") == [m.gig_id]
    page = tenant_client("acme").get("/search?q=website&rating=4").get_data(as_text=True)
    assert 'data-testid="gig-card-rating"' in page and "(1)" in page and "stunning website" in page
    with in_tenant(acme):  # a moderator hides it: it leaves the average, the index and the filter
        review_id = reviews.gig_reviews(m.gig_id).items[0].id
        reviews.hide_review(user(m.admin_id), review_id, "Off-topic")
        db.session.commit()
    run_jobs()
    assert _ids(acme, in_tenant, min_rating=4) == []


def test_search_page_and_api_filter_by_seller_level(leveled, acme, tenant_client):
    client = tenant_client("acme")
    page = client.get("/search?seller_level=top_rated&seller_level=level_2").get_data(as_text=True)
    assert "as a top_rated seller" in page and "as a level_2 seller" in page
    assert "as a level_1 seller" not in page and "as a new seller" not in page
    assert 'value="top_rated" checked' in page and 'value="level_1" >' in page
    assert 'data-testid="gig-card-level">Top Rated<' in page  # the badge on the card
    facets = page.split('data-testid="facets"', 1)[1]  # links to other categories keep both levels
    assert "seller_level=top_rated&amp;seller_level=level_2&amp;category=" in facets
    page = client.get("/search?seller_level=top_rated,level_1").get_data(as_text=True)
    assert "as a level_1 seller" in page and "as a level_2 seller" not in page
    page = client.get("/search?seller_level=gold&seller_level=level_2").get_data(as_text=True)
    assert 'data-testid="search-errors"' in page and "as a level_2 seller" in page
    assert "as a top_rated seller" not in page

    response = client.get("/api/v1/gigs?seller_level=level_1&seller_level=top_rated")
    assert response.status_code == 200
    assert sorted(g["title"] for g in response.json) == [
        "I will design a logo as a level_1 seller",
        "I will design a logo as a top_rated seller",
    ]
    assert {g["seller"]["level"] for g in response.json} == {"level_1", "top_rated"}
    bad = client.get("/api/v1/gigs?seller_level=gold")
    assert bad.status_code == 422 and "seller_level" in bad.json["errors"]["query"]
    spec = client.get("/api/v1/openapi.json").json
    names = {p["name"] for p in spec["paths"]["/api/v1/gigs"]["get"]["parameters"]}
    assert "seller_level" in names


def _count_queries(app, call) -> list[str]:
    return statements_of(app, call)


def test_cards_carry_rating_and_level_without_a_query_per_card(
    leveled, acme, make_seller, make_gig, run_jobs, in_tenant, tenant_client, app
):
    client = tenant_client("acme")
    client.get("/search")  # warm caches (branding, categories)
    few = _count_queries(app, lambda: client.get("/search"))
    category = client.get("/search").get_data(as_text=True)
    for n in range(4):
        seller = make_seller(acme, display_name=f"More {n}")
        make_gig(acme, seller, title=f"I will design one more logo {n}")
        with in_tenant(acme):
            set_seller_reputation(seller, level="level_1", rating=(Decimal("4.80"), 9))
            db.session.commit()
    run_jobs()
    many = _count_queries(app, lambda: client.get("/search"))
    assert len(many) == len(few), [s for s in many if "seller_profiles" in s]
    assert category.count('data-testid="gig-card"') == 4
    with in_tenant(acme):
        slug = db.session.scalar(sa.select(Gig).where(Gig.id == leveled["top_rated"])).category.slug
    page_few = _count_queries(app, lambda: client.get(f"/c/{slug}"))
    text = client.get(f"/c/{slug}").get_data(as_text=True)
    assert text.count('data-testid="gig-card"') == 8 and text.count('data-testid="gig-card-level"') == 7
    assert not [
        s
        for s in page_few
        if s.lstrip().upper().startswith("SELECT")
        and "FROM" in s
        and s.split("FROM", 1)[1].strip().startswith(f"{acme.schema}.seller_profiles")
    ]


def test_gig_page_seller_box_and_profile_show_level_and_rating(acme, market, in_tenant, tenant_client):  # noqa: F811
    m = market(acme)
    with in_tenant(acme):
        set_seller_reputation(m.seller_id, level="level_2", rating=(Decimal("4.75"), 12))
        gig = db.session.get(Gig, m.gig_id)
        slug, handle = gig.slug, gig.seller.handle
        db.session.commit()
    client = tenant_client("acme")
    page = client.get(f"/gigs/{slug}").get_data(as_text=True)
    box = page.split('data-testid="seller-card"', 1)[1]
    assert 'data-testid="seller-level">Level 2<' in box and "4.8" in box and "(12)" in box
    profile = client.get(f"/u/{handle}").get_data(as_text=True)
    stats = profile.split('data-testid="seller-stats"', 1)[1]
    assert 'data-testid="stats-level-badge">Level 2<' in stats
    assert "No deliveries yet" in stats and 'data-testid="stats-orders">0<' in stats
    buyer = client.get(f"/u/{user_handle(acme, in_tenant, m.buyer_id)}").get_data(as_text=True)
    assert 'data-testid="seller-stats"' not in buyer  # not a seller: no section


def user_handle(tenant, in_tenant, user_id) -> str:
    with in_tenant(tenant):
        return user(user_id).handle


def test_an_index_of_the_previous_format_is_outdated(leveled, acme, search_index_dir, index_state, app):
    """Format 3 added the level column (format 4 the location columns): an index of the previous
    format is rebuilt, never read without them."""
    from app.search.whoosh_schema import FORMAT_VERSION

    link = search_index_dir / f"t{acme.id}"
    current = link.resolve()
    old = current.with_name(current.name.replace(f"-v{FORMAT_VERSION}-", f"-v{FORMAT_VERSION - 1}-"))
    current.rename(old)
    link.unlink()
    link.symlink_to(old.name)
    assert index_state(acme.id) == "outdated"
