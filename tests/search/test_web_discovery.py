"""The search page's discovery filters (#18): near a place (a city, or the buyer's position),
within, distance sort and distances on the cards, delivery mode, the seller's languages and
country, "online now" and delivery presets with their counts, the header box keeping the query,
and what to drop when nothing matches. The location controls only where the marketplace has
location search on."""

from __future__ import annotations

import html
import re

import pytest

from app.accounts.models import User
from app.gigs import services as gig_services
from app.gigs.models import Gig
from app.settings.services import update_marketplace_settings
from tenants.db import db


def _location(tenant, in_tenant, on=True, country=None):
    with in_tenant(tenant):
        update_marketplace_settings(location_enabled=on, default_country=country)
        db.session.commit()


@pytest.fixture
def market(acme, make_seller, make_gig, run_jobs, in_tenant):
    """Two sellers: Anna (de, en; DE) with a gig on site in Berlin (30 km) and an online gig
    delivered in 2 days; Chloe (fr; FR) with two online gigs delivered in 9 days."""
    from app.accounts.services import update_profile

    _location(acme, in_tenant)
    people = {"anna": (["de", "en"], "DE", 2), "chloe": (["fr"], "FR", 9)}
    sellers, gigs = {}, {}
    for name, (languages, country, days) in people.items():
        sellers[name] = make_seller(acme, display_name=name.title())
        with in_tenant(acme):
            update_profile(db.session.get(User, sellers[name]), languages=languages, country=country)
            db.session.commit()
        for n in (1, 2):
            gigs[f"{name}{n}"] = make_gig(
                acme, sellers[name], title=f"I will help you with task {name} {n}", days=days
            )
    with in_tenant(acme):
        gig_services.set_gig_location(
            db.session.get(Gig, gigs["anna1"]), delivery_mode="on_site", location="Berlin", radius_km=30
        )
        db.session.commit()
    run_jobs()
    return sellers, gigs


@pytest.fixture
def sellers_online(acme, in_tenant):
    """``sellers_online(user_id, ...)``: their sockets are connected (the presence set); cleared after."""
    from app.realtime import mark_offline, mark_online

    marked = []

    def mark(*user_ids):
        with in_tenant(acme):
            for user_id in user_ids:
                mark_online(acme.id, user_id, f"sid-{user_id}")
                marked.append(user_id)

    yield mark
    with in_tenant(acme):
        for user_id in marked:
            mark_offline(acme.id, user_id, f"sid-{user_id}")


def _page(tenant_client, query: str) -> str:
    response = tenant_client("acme").get("/search" + query)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_location_controls_show_only_where_location_is_on(acme, globex, in_tenant, tenant_client):
    body = _page(tenant_client, "")
    assert 'data-testid="location-filter"' not in body and "places.js" not in body
    assert 'data-testid="online-filter"' in body  # not a location control
    _location(acme, in_tenant)
    body = _page(tenant_client, "")
    assert 'data-testid="location-filter"' in body and 'data-places-url="/places/suggest"' in body
    # "Use my location" waits, hidden, for the script; nothing asks for the position on load.
    assert re.search(r'<button[^>]*data-testid="use-my-location"[^>]*hidden', body)
    assert all(f'<option value="{km}" >{km} km</option>' in body for km in (5, 10, 25, 50, 100))
    assert '<option value="distance"' not in body  # no place yet: no distance sort
    # The other marketplace keeps its own setting.
    globex_body = tenant_client("globex").get("/search").get_data(as_text=True)
    assert 'data-testid="location-filter"' not in globex_body


def test_location_parameters_are_ignored_where_location_is_off(market, acme, in_tenant, tenant_client):
    _location(acme, in_tenant, on=False)
    body = _page(tenant_client, "?q=task&near=Qwxyzville&mode=on_site&sort=distance&within=5")
    assert 'data-testid="search-errors"' not in body
    assert 'data-testid="result-count" aria-live="polite">4 gigs' in body


def test_near_a_city_shows_distances_and_offers_the_distance_sort(market, tenant_client):
    _sellers, gigs = market
    body = _page(tenant_client, "?q=task&near=Potsdam&within=50&sort=distance")
    assert "Near Potsdam, Germany, within 50 km" in body
    assert '<option value="distance" selected>Distance</option>' in body
    assert '<option value="50" selected>50 km</option>' in body
    cards = re.findall(r'<li class="gig-card".*?</li>', body, re.S)
    assert "task anna 1" in cards[0]  # on site and near first, then the online gigs
    distance = re.search(r'data-testid="gig-card-distance">([\d.]+) km away', cards[0]).group(1)
    assert 20 < float(distance) < 30
    assert "On site · Berlin" in cards[0]
    assert all("km away" not in card for card in cards[1:])
    # Further than the gig's radius: only the online gigs.
    body = _page(tenant_client, "?q=task&near=Hamburg")
    assert "task anna 1" not in body and 'result-count" aria-live="polite">3 gigs' in body


def test_a_position_is_your_location(market, tenant_client):
    body = _page(tenant_client, "?q=task&lat=52.40&lng=13.06&sort=distance")
    assert "Near your location" in body
    assert 'id="search-lat" name="lat" value="52.40"' in body and 'placeholder="Your location"' in body
    assert 'data-testid="locate-status" aria-live="polite">Your location</span>' in body


def test_filters_show_their_counts(market, sellers_online, tenant_client):
    sellers, _gigs = market
    sellers_online(sellers["chloe"])
    body = _page(tenant_client, "?q=task&language=de")

    def count(testid):
        found = re.search(rf'data-testid="count-{testid}">(\d+)<', body)
        return int(found.group(1)) if found else None

    # Languages count over every other filter: choosing French too would add Chloe's two.
    assert (count("language-de"), count("language-en"), count("language-fr")) == (2, 2, 2)
    assert (count("country-DE"), count("country-FR")) == (2, None)  # none of the French speak German
    assert (count("mode-online"), count("mode-on_site")) == (1, 1)
    assert (count("delivery-1"), count("delivery-3"), count("delivery-7")) == (0, 2, 2)
    assert count("online") == 0  # Chloe is online, but she does not speak German
    assert "German" in body and "English" in body and "Germany" in body
    assert 'name="language" value="de" checked' in body
    body = _page(tenant_client, "?q=task")
    assert count("online") == 2


def test_no_results_offer_to_drop_a_filter(market, tenant_client):
    body = _page(tenant_client, "?q=task&online=1&language=fr")
    assert 'data-testid="no-results"' in body
    relaxations = re.search(r'data-testid="relaxations">(.*?)</ul>', body, re.S).group(1)
    assert 'Remove “Online now”</a> <span class="muted">(2 results)' in relaxations
    link = html.unescape(re.search(r'<a href="([^"]+)">Remove “Online now”', relaxations).group(1))
    assert "online=" not in link and "language=fr" in link and "q=task" in link
    assert "(0 results)" not in relaxations  # only what finds something


def test_bad_location_input_is_explained_not_a_500(acme, in_tenant, tenant_client):
    _location(acme, in_tenant)
    for query in (
        "?near=Qwxyzville",
        "?lat=abc&lng=1",
        "?lat=95&lng=0",
        "?within=-5&near=Berlin",
        "?mode=teleport",
    ):
        body = _page(tenant_client, query)
        assert 'data-testid="search-errors"' in body, query
    body = _page(tenant_client, "?near=Qwxyzville")
    assert 'value="Qwxyzville"' in body  # kept in the box, to correct it


def test_the_header_box_keeps_the_query_on_the_results_page(acme, tenant_client):
    client = tenant_client("acme")
    body = client.get("/search?q=logo+%22design%22").get_data(as_text=True)
    assert re.search(r'id="header-search-q"[^>]*value="logo &#34;design&#34;"', body)
    assert re.search(r'id="header-search-q"[^>]*value=""', client.get("/login?q=logo").get_data(as_text=True))
