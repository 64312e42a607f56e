"""The seller's gig forms say where a gig is delivered; the gig page and cards show it (#18)."""

from __future__ import annotations

import re

import pytest

from app.accounts.models import User
from app.gigs.models import Gig
from tenants.db import db

EDIT_FIELDS = {
    "title": "I will tune your piano at your home",
    "description": "Careful tuning.",
    "tags": "piano, tuning",
    "basic-title": "Tuning",
    "basic-price": "80",
    "basic-delivery_days": "3",
    "basic-revisions": "0",
}


@pytest.fixture
def seller_client(tenant_client, make_seller, web):
    def make(tenant, email="seller@example.com"):
        user_id = make_seller(tenant, email=email)
        client = tenant_client(tenant.slug)
        web.login(client, email)
        return client, user_id

    return make


@pytest.fixture
def location_of(in_tenant):
    def fetch(tenant, gig_id):
        with in_tenant(tenant):
            gig = db.session.get(Gig, gig_id)
            return (
                gig.delivery_mode,
                gig.location_name,
                gig.location_country,
                gig.service_radius_km,
                gig.version,
            )

    return fetch


def _edit(client, web, gig_id, **overrides):
    page = f"/seller/gigs/{gig_id}/edit"
    body = client.get(page).get_data(as_text=True)
    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', body).group(1)
    category = re.search(r'<option value="(\d+)"[^>]*>[^<]*›', body).group(1)
    data = {"csrf_token": web.csrf_token(client, page), "version": version, "category_id": category}
    data.update(EDIT_FIELDS)
    data.update(overrides)
    return client.post(page, data=data)


def test_the_form_asks_where_only_when_the_marketplace_has_location_on(
    acme, seller_client, make_gig, location_on
):
    client, seller_id = seller_client(acme)
    gig_id = make_gig(acme, seller_id)
    for page in ("/seller/gigs/new", f"/seller/gigs/{gig_id}/edit"):
        assert 'data-testid="gig-location"' not in client.get(page).get_data(as_text=True)
    location_on(acme)
    for page in ("/seller/gigs/new", f"/seller/gigs/{gig_id}/edit"):
        body = client.get(page).get_data(as_text=True)
        assert "Where do you work?" in body and 'name="delivery_mode"' in body
        assert 'data-places-url="/places/suggest"' in body and 'name="service_radius_km"' in body


def test_a_seller_creates_an_on_site_gig_then_moves_it_online(
    acme, seller_client, web, in_tenant, kit, location_on, location_of, tenant_client
):
    location_on(acme, country="DE")
    client, _ = seller_client(acme)
    with in_tenant(acme):
        category_id = kit.first_subcategory_id()
    response = client.post(
        "/seller/gigs/new",
        data={
            "csrf_token": web.csrf_token(client, "/seller/gigs/new"),
            "title": "I will tune your piano at your home",
            "category_id": category_id,
            "delivery_mode": "on_site",
            "location": "berlin",  # typed, no suggestion picked: the text is resolved
            "service_radius_km": "15",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    gig_id = int(response.headers["Location"].split("/")[-2])
    assert location_of(acme, gig_id)[:4] == ("on_site", "Berlin", "DE", 15)

    # The edit form shows the place; saving it unchanged keeps it.
    body = client.get(f"/seller/gigs/{gig_id}/edit").get_data(as_text=True)
    assert 'value="Berlin, Germany"' in body and 'value="15"' in body
    assert re.search(r'value="on_site"[^>]*checked|checked[^>]*value="on_site"', body)
    response = _edit(
        client, web, gig_id, delivery_mode="on_site", location="Berlin, Germany", service_radius_km="20"
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert location_of(acme, gig_id)[:4] == ("on_site", "Berlin", "DE", 20)

    # Publish, then the page and the cards show it.
    client.post(f"/seller/gigs/{gig_id}/publish", data={"csrf_token": web.csrf_token(client, "/seller/gigs")})
    with in_tenant(acme):
        slug = db.session.get(Gig, gig_id).slug
    page = tenant_client("acme").get(f"/gigs/{slug}").get_data(as_text=True)
    assert "On site</strong> · Berlin, Germany · serves up to 20 km" in page

    # Online: the city left in the box is dropped, the place cleared.
    response = _edit(
        client, web, gig_id, delivery_mode="online", location="Berlin, Germany", service_radius_km="20"
    )
    assert response.status_code == 302
    assert location_of(acme, gig_id)[:4] == ("online", None, None, None)
    page = tenant_client("acme").get(f"/gigs/{slug}").get_data(as_text=True)
    assert "<strong>Online</strong> · delivered anywhere" in page


def test_a_picked_suggestion_wins_among_towns_of_one_label(
    acme, seller_client, web, make_gig, location_on, in_tenant
):
    location_on(acme)
    client, seller_id = seller_client(acme)
    gig_id = make_gig(acme, seller_id)
    from app.core import geo

    portland_me = next(
        c for c in geo.suggest_cities("Portland", limit=20) if c.country == "US" and c.lat > 43
    )
    response = _edit(
        client,
        web,
        gig_id,
        delivery_mode="on_site",
        location=portland_me.label,
        place_id=str(portland_me.id),
        service_radius_km="10",
    )
    assert response.status_code == 302
    with in_tenant(acme):
        assert db.session.get(Gig, gig_id).latitude == portland_me.lat


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"location": "Qwxyzville", "service_radius_km": "10"},
            "We don&#39;t know that place. Pick a city from the list.",
        ),
        (
            {"location": "Berlin", "service_radius_km": "0"},
            "The radius must be a whole number of km from 1 to 500.",
        ),
        (
            {"location": "Berlin", "service_radius_km": "501"},
            "The radius must be a whole number of km from 1 to 500.",
        ),
        (
            {"location": "Berlin", "service_radius_km": "abc"},
            "The radius must be a whole number of km from 1 to 500.",
        ),
        ({"location": "Berlin", "service_radius_km": ""}, "Say how far you travel: 1 to 500 km."),
        ({"location": "", "service_radius_km": "10"}, "Say where you work: pick a city."),
    ],
)
def test_bad_places_are_shown_on_the_form_and_change_nothing(
    acme, seller_client, web, make_gig, location_on, location_of, fields, message
):
    location_on(acme)
    client, seller_id = seller_client(acme)
    gig_id = make_gig(acme, seller_id)
    before = location_of(acme, gig_id)
    response = _edit(client, web, gig_id, delivery_mode="on_site", **fields)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body and 'class="field-error"' in body
    assert location_of(acme, gig_id) == before


def test_on_site_is_refused_on_the_form_when_location_is_off(
    acme, seller_client, web, make_gig, location_on, location_of
):
    location_on(acme)
    client, seller_id = seller_client(acme)
    gig_id = make_gig(acme, seller_id)
    page = f"/seller/gigs/{gig_id}/edit"
    token = web.csrf_token(client, page)
    location_on(acme, on=False)
    # A form loaded while it was on, posted after the operator switched it off.
    response = _edit(client, web, gig_id, delivery_mode="on_site", location="Berlin", service_radius_km="5")
    assert token and response.status_code == 302  # the location fields are ignored: nothing to refuse
    assert location_of(acme, gig_id)[0] == "online"


def test_an_on_site_gig_survives_edits_while_location_is_off(
    acme, seller_client, web, make_gig, location_on, location_of, in_tenant
):
    from app.gigs import services

    location_on(acme)
    client, seller_id = seller_client(acme)
    gig_id = make_gig(acme, seller_id)
    with in_tenant(acme):
        services.set_gig_location(
            db.session.get(Gig, gig_id), delivery_mode="on_site", location="Berlin", radius_km=5
        )
        db.session.commit()
    location_on(acme, on=False)
    assert _edit(client, web, gig_id, title="I will tune your grand piano at home").status_code == 302
    assert location_of(acme, gig_id)[:4] == ("on_site", "Berlin", "DE", 5)


def test_places_suggest_answers_cities_with_the_default_country_first(acme, tenant_client, location_on):
    location_on(acme, country="CA")
    client = tenant_client("acme")
    found = client.get("/places/suggest?q=londo").json
    assert found[0]["label"] == "London, Canada" and isinstance(found[0]["id"], int)
    assert {"id", "label"} == set(found[0])
    assert client.get("/places/suggest?q=l").json == []
    assert client.get("/places/suggest").json == []
    assert client.get("/places/suggest?q=" + "x" * 5000).status_code == 200
    assert client.get("/places/suggest?q=%00%ff<script>").status_code == 200


def test_cards_show_where_on_site_gigs_are(
    acme, make_seller, make_gig, in_tenant, location_on, tenant_client
):
    from app.gigs import services

    location_on(acme)
    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id)
    with in_tenant(acme):
        gig = db.session.get(Gig, gig_id)
        services.set_gig_location(gig, delivery_mode="on_site", location="Hamburg", radius_km=30)
        db.session.commit()
        slug = gig.category.slug
        handle = db.session.get(User, seller_id).handle
    body = tenant_client("acme").get(f"/c/{slug}").get_data(as_text=True)
    assert 'data-testid="gig-card-place">On site · Hamburg</p>' in body
    if handle:
        assert "On site · Hamburg" in tenant_client("acme").get(f"/u/{handle}").get_data(as_text=True)


def test_the_card_renders_a_distance(app, acme, make_seller, make_gig, in_tenant):
    from flask import render_template_string

    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id)
    with in_tenant(acme), app.test_request_context():
        gig = db.session.get(Gig, gig_id)
        html = render_template_string(
            '{% from "gigs/_card.html" import gig_card %}'
            "{{ gig_card(gig, distance=3.249) }}{{ gig_card(gig) }}",
            gig=gig,
        )
    assert html.count("3.2 km away") == 1 and html.count('data-testid="gig-card-place"') == 1


def test_each_marketplace_completes_places_with_its_own_default_country(
    acme, globex, tenant_client, location_on
):
    location_on(acme, country="CA")
    location_on(globex, country="GB")
    assert tenant_client("acme").get("/places/suggest?q=london").json[0]["label"] == "London, Canada"
    assert (
        tenant_client("globex").get("/places/suggest?q=london").json[0]["label"] == "London, United Kingdom"
    )
