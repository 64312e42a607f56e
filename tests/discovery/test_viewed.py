"""Recently viewed gigs and "because you viewed": recorded when a signed-in buyer opens a gig
page (never for the seller, never for anonymous visitors), the 30 most recent kept, only live
gigs listed; the /recently-viewed page, its "clear history" button and the API; tenants never meet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.discovery import viewed
from app.discovery.models import RECENTLY_VIEWED_KEPT, GigView
from app.gigs import services as gig_services
from app.gigs.models import Gig
from tenants.db import db
from tests.discovery.home_kit import bearer_headers, login, post_form

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def slug_of(in_tenant, tenant, gig_id) -> str:
    with in_tenant(tenant):
        return db.session.get(Gig, gig_id).slug


def views_of(in_tenant, tenant, user_id) -> list[int]:
    with in_tenant(tenant):
        return list(
            db.session.scalars(
                sa.select(GigView.gig_id).where(GigView.user_id == user_id).order_by(GigView.viewed_at.desc())
            )
        )


def view(in_tenant, tenant, user_id, gig_id, when):
    with in_tenant(tenant):
        recorded = viewed.record_view(db.session.get(User, user_id), db.session.get(Gig, gig_id), now=when)
        db.session.commit()
        return recorded


def test_opening_a_gig_page_records_the_view_of_a_signed_in_buyer_only(acme, tenant_client, in_tenant, shop):
    s = shop(acme)
    anonymous = tenant_client("acme")
    assert anonymous.get(f"/gigs/{slug_of(in_tenant, acme, s.logo)}").status_code == 200
    buyer = login(tenant_client("acme"), "buyer@example.com")
    assert buyer.get(f"/gigs/{slug_of(in_tenant, acme, s.logo)}").status_code == 200
    assert buyer.get(f"/gigs/{slug_of(in_tenant, acme, s.site)}").status_code == 200
    seller = login(tenant_client("acme"), "ada@example.com")
    assert seller.get(f"/gigs/{slug_of(in_tenant, acme, s.logo)}").status_code == 200  # her own gig

    assert sorted(views_of(in_tenant, acme, s.buyer)) == sorted([s.logo, s.site])
    assert views_of(in_tenant, acme, s.ada) == []
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(GigView)) == 2


def test_a_second_view_moves_the_gig_to_the_front_without_a_second_row(acme, in_tenant, shop):
    s = shop(acme)
    for minutes, gig_id in enumerate((s.logo, s.site, s.icon, s.logo)):
        assert view(in_tenant, acme, s.buyer, gig_id, T0 + timedelta(minutes=minutes))
    assert views_of(in_tenant, acme, s.buyer) == [s.logo, s.icon, s.site]
    with in_tenant(acme):
        gigs = viewed.recently_viewed(db.session.get(User, s.buyer), 10)
        assert [g.id for g in gigs] == [s.logo, s.icon, s.site]
        assert gigs[0].viewed_at == T0 + timedelta(minutes=3)


def test_the_sellers_own_gig_and_inactive_gigs_are_not_recorded(acme, in_tenant, shop, add_gig):
    s = shop(acme)
    paused = add_gig(acme, s.bob, "I will write a paused product description", status="paused")
    assert not view(in_tenant, acme, s.ada, s.logo, T0)
    assert not view(in_tenant, acme, s.buyer, paused, T0)
    with in_tenant(acme):
        assert not viewed.record_view(None, db.session.get(Gig, s.logo))
    assert views_of(in_tenant, acme, s.ada) == views_of(in_tenant, acme, s.buyer) == []


def test_only_the_30_most_recent_views_are_kept(acme, in_tenant, make_seller, add_gig, make_user):
    seller = make_seller(acme, email="many@example.com")
    buyer = make_user(acme, email="viewer@example.com")
    gig_ids = [
        add_gig(acme, seller, f"I will do numbered task number {n:02d}")
        for n in range(RECENTLY_VIEWED_KEPT + 3)
    ]
    for minutes, gig_id in enumerate(gig_ids):
        view(in_tenant, acme, buyer, gig_id, T0 + timedelta(minutes=minutes))
    kept = views_of(in_tenant, acme, buyer)
    assert len(kept) == RECENTLY_VIEWED_KEPT
    assert kept == list(reversed(gig_ids))[:RECENTLY_VIEWED_KEPT]  # the oldest three went
    # Seeing an old one again is an update, not a new row: nothing more is dropped.
    view(in_tenant, acme, buyer, gig_ids[-RECENTLY_VIEWED_KEPT], T0 + timedelta(hours=2))
    assert len(views_of(in_tenant, acme, buyer)) == RECENTLY_VIEWED_KEPT


def test_recently_viewed_lists_live_gigs_only_and_a_paused_one_comes_back(acme, in_tenant, shop):
    s = shop(acme)
    view(in_tenant, acme, s.buyer, s.logo, T0)
    view(in_tenant, acme, s.buyer, s.site, T0 + timedelta(minutes=1))
    with in_tenant(acme):
        bob = db.session.get(User, s.bob)
        gig_services.pause_gig(bob, db.session.get(Gig, s.site))
        db.session.commit()
        assert [g.id for g in viewed.recently_viewed(db.session.get(User, s.buyer))] == [s.logo]
        gig_services.publish_gig(bob, db.session.get(Gig, s.site))
        db.session.commit()
        assert [g.id for g in viewed.recently_viewed(db.session.get(User, s.buyer))] == [s.site, s.logo]


def test_because_you_viewed_ranks_the_same_categories_by_shared_tags(acme, in_tenant, shop, add_gig):
    s = shop(acme)
    both_tags = add_gig(acme, s.bob, "I will design a logo and full branding kit", tags=["logo", "branding"])
    view(in_tenant, acme, s.buyer, s.logo, T0)
    with in_tenant(acme):
        buyer = db.session.get(User, s.buyer)
        ids = [g.id for g in viewed.because_you_viewed(buyer, 8)]
    assert ids[0] == both_tags  # two tags shared
    assert set(ids) == {both_tags, s.cards, s.icon}  # same category; not the site (another one)
    assert s.logo not in ids


def test_because_you_viewed_never_suggests_the_viewers_own_gigs(acme, in_tenant, shop, add_gig):
    s = shop(acme)
    view(in_tenant, acme, s.bob, s.logo, T0)  # Bob (a seller) views Ada's logo gig
    with in_tenant(acme):
        ids = [g.id for g in viewed.because_you_viewed(db.session.get(User, s.bob), 8)]
    assert s.icon not in ids  # Bob's own, though it shares the logo tag
    assert ids == [s.cards]


def test_nothing_viewed_nothing_suggested(acme, in_tenant, shop):
    s = shop(acme)
    with in_tenant(acme):
        buyer = db.session.get(User, s.buyer)
        assert viewed.recently_viewed(buyer) == [] and viewed.because_you_viewed(buyer) == []
        assert viewed.because_you_viewed(None) == []


# --------------------------------------------------------------------------- page and API


def test_recently_viewed_page_shows_cards_and_clears_the_history(acme, tenant_client, in_tenant, shop):
    s = shop(acme)
    view(in_tenant, acme, s.buyer, s.logo, T0)
    view(in_tenant, acme, s.buyer, s.site, T0 + timedelta(minutes=1))
    client = login(tenant_client("acme"), "buyer@example.com")
    html = client.get("/recently-viewed").get_data(as_text=True)
    assert html.index("I will build a fast landing page website") < html.index(
        "I will design a modern minimalist logo"
    )
    assert 'data-testid="clear-history"' in html

    response = post_form(client, "/recently-viewed", {}, action="/recently-viewed/clear")
    assert response.status_code == 303
    assert views_of(in_tenant, acme, s.buyer) == []
    html = client.get("/recently-viewed").get_data(as_text=True)
    assert 'data-testid="recently-viewed-empty"' in html
    # Without the CSRF token nothing is cleared.
    view(in_tenant, acme, s.buyer, s.logo, T0)
    assert client.post("/recently-viewed/clear").status_code == 400
    assert views_of(in_tenant, acme, s.buyer) == [s.logo]


def test_recently_viewed_page_asks_anonymous_visitors_to_sign_in(tenant_client):
    response = tenant_client("acme").get("/recently-viewed")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_api_lists_and_forgets_recently_viewed_gigs(acme, tenant_client, in_tenant, shop):
    s = shop(acme)
    view(in_tenant, acme, s.buyer, s.logo, T0)
    view(in_tenant, acme, s.buyer, s.site, T0 + timedelta(minutes=1))
    client = tenant_client("acme")
    headers = bearer_headers(client, "buyer@example.com")
    response = client.get("/api/v1/me/recently-viewed", headers=headers)
    assert response.status_code == 200
    assert [item["id"] for item in response.json] == [s.site, s.logo]
    first = response.json[0]
    assert first["title"] == "I will build a fast landing page website" and first["viewed_at"]
    assert "packages" not in first and first["seller"]["display_name"] == "Bob Builder"

    assert client.delete("/api/v1/me/recently-viewed", headers=headers).status_code == 204
    assert client.get("/api/v1/me/recently-viewed", headers=headers).json == []
    assert client.get("/api/v1/me/recently-viewed").status_code == 401


def test_views_of_equal_ids_stay_in_their_tenant(acme, globex, tenant_client, in_tenant, shop):
    a, g = shop(acme), shop(globex)
    assert (a.buyer, a.logo) == (g.buyer, g.logo)  # the same ids in both schemas
    view(in_tenant, acme, a.buyer, a.logo, T0)
    assert views_of(in_tenant, globex, g.buyer) == []
    globex_client = tenant_client("globex")
    headers = bearer_headers(globex_client, "buyer@example.com")
    assert globex_client.get("/api/v1/me/recently-viewed", headers=headers).json == []
    acme_client = tenant_client("acme")
    headers = bearer_headers(acme_client, "buyer@example.com")
    assert [i["id"] for i in acme_client.get("/api/v1/me/recently-viewed", headers=headers).json] == [a.logo]


def test_the_home_page_keeps_because_you_viewed_per_user_and_views_and_drops_paused_gigs(
    acme, in_tenant, shop, add_gig
):
    from app.discovery import home

    s = shop(acme)
    both_tags = add_gig(acme, s.bob, "I will design a logo and full branding kit", tags=["logo", "branding"])
    view(in_tenant, acme, s.buyer, s.logo, T0)
    with in_tenant(acme):
        buyer = db.session.get(User, s.buyer)
        first = [g.id for g in home.home_sections(buyer).because_you_viewed]
        assert first[0] == both_tags
        keys = home.redis_store.client.keys(f"t:{acme.id}:home:because:{s.buyer}:*")
        assert len(keys) == 1  # kept under the tenant, the user and their views
        # Paused by a write that published nothing (the generation is unchanged; pause_gig's
        # commit would renew it): the cached ids are reloaded as cards, so the paused gig is
        # left out at once.
        db.session.get(Gig, both_tags).status = "paused"
        db.session.commit()
        again = [g.id for g in home.home_sections(db.session.get(User, s.buyer)).because_you_viewed]
        assert again == [i for i in first if i != both_tags]
    # A change elsewhere in the marketplace renews the home's generation, not the buyer's
    # suggestions: the same key answers (no recomputing for every buyer after each gig change).
    with in_tenant(acme):
        before = home.current_generation()
        home.bump_generation()
        db.session.commit()
        assert home.current_generation() != before
        kept = [g.id for g in home.home_sections(db.session.get(User, s.buyer)).because_you_viewed]
        assert kept == again
        assert len(home.redis_store.client.keys(f"t:{acme.id}:home:because:{s.buyer}:*")) == 1
    # A new view makes a new key (the suggestions follow the views).
    view(in_tenant, acme, s.buyer, s.icon, T0 + timedelta(minutes=1))
    with in_tenant(acme):
        home.home_sections(db.session.get(User, s.buyer))
        assert len(home.redis_store.client.keys(f"t:{acme.id}:home:because:{s.buyer}:*")) == 2
