"""The search API's location and discovery parameters, /api/v1/search/suggest and /api/v1/places."""

from __future__ import annotations

import pytest

from app.gigs.models import Gig
from app.search import services
from tenants.db import db

BERLIN = (52.52, 13.405)
POTSDAM = (52.3906, 13.0645)


@pytest.fixture
def located(acme, make_seller, make_gig, run_jobs, in_tenant):
    seller = make_seller(acme, display_name="Pat Local")
    ids = {
        "berlin": make_gig(acme, seller, title="I will fix your plumbing in Berlin", tags=("plumbing",)),
        "potsdam": make_gig(acme, seller, title="I will fix your plumbing in Potsdam", tags=("plumbing",)),
        "online": make_gig(acme, seller, title="I will explain plumbing online", tags=("plumbing",)),
    }
    run_jobs()
    for key, point, radius in (("berlin", BERLIN, 20), ("potsdam", POTSDAM, 50)):
        with in_tenant(acme):
            gig = db.session.get(Gig, ids[key])
            gig.delivery_mode, gig.latitude, gig.longitude, gig.service_radius_km = "on_site", *point, radius
            db.session.commit()
            services.index_gig(gig.id)
    return ids


def test_gigs_near_a_city_sorted_by_distance(located, tenant_client):
    client = tenant_client("acme")
    # From Berlin: the Berlin plumber, then Potsdam's (27 km, comes 50 km), then the online gig.
    response = client.get("/api/v1/gigs?q=plumbing&near=Berlin,DE&within_km=100&sort=distance")
    assert response.status_code == 200, response.json
    assert [g["id"] for g in response.json] == [located["berlin"], located["potsdam"], located["online"]]
    distances = [g["distance_km"] for g in response.json]
    assert distances[0] < 5 and 20 < distances[1] < 30 and distances[2] is None
    assert distances[1] == round(distances[1], 1)
    response = client.get("/api/v1/gigs?lat=52.52&lng=13.405&mode=on_site")
    assert {g["id"] for g in response.json} == {located["berlin"], located["potsdam"]}
    response = client.get("/api/v1/gigs?lat=52.52&lng=13.405&mode=on_site,online&within_km=1e9")
    assert response.status_code == 200 and len(response.json) == 3  # within clamped to 500 km
    assert all(g["distance_km"] is None for g in client.get("/api/v1/gigs").json)
    facets = client.get("/api/v1/search/facets?near=Berlin&mode=online").json
    assert facets["total"] == 1
    assert facets["facet_counts"]["mode"] == {"online": 1, "on_site": 2}
    assert set(facets["facet_counts"]) == {"level", "language", "country", "mode", "delivery", "online"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "abc", "lng": "1"}, "lat"),
        ({"lat": "91", "lng": "1"}, "lat"),
        ({"lat": "10"}, "lng"),
        ({"lng": "-181", "lat": "1"}, "lng"),
        ({"near": "Berlin", "within_km": "-1"}, "within_km"),
        ({"near": "Berlin", "within_km": "0"}, "within_km"),
        ({"near": "Berlin", "within_km": "nan"}, "within_km"),
        ({"near": "Narnia"}, "near"),
        ({"near": "x" * 121}, "near"),
        ({"mode": "teleport"}, "mode"),
        ({"language": "english"}, "language"),
        ({"country": "XX"}, "country"),
        ({"online": "maybe"}, "online"),
        ({"sort": "distance"}, "sort"),
    ],
)
def test_bad_location_parameters_are_422_field_errors(located, tenant_client, params, field):
    response = tenant_client("acme").get("/api/v1/gigs", query_string=params)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["query"], response.json
    if field == "near" and params["near"] == "Narnia":
        assert response.json["errors"]["query"]["near"] == [
            "We don't know that place. Pick a city from the list."
        ]


def test_suggest_and_places(located, tenant_client, in_tenant, acme):
    client = tenant_client("acme")
    response = client.get("/api/v1/search/suggest?q=plumb")
    assert response.status_code == 200
    assert "plumbing" in response.json["suggestions"]
    assert client.get("/api/v1/search/suggest?q=p").json["suggestions"] == []
    places = client.get("/api/v1/places?q=Berl&limit=3").json
    assert places[0]["label"] == "Berlin, Germany" and len(places) <= 3
    assert set(places[0]) == {"id", "name", "country", "label", "latitude", "longitude", "population"}
    # A place's id is a value for near.
    by_id = client.get(f"/api/v1/gigs?near={places[0]['id']}&mode=on_site").json
    assert {g["id"] for g in by_id} == {located["berlin"], located["potsdam"]}
    assert client.get("/api/v1/places?q=B").json == []
    assert client.get("/api/v1/places?q=Berl&limit=0").status_code == 422
    from app.settings.services import update_marketplace_settings

    with in_tenant(acme):
        update_marketplace_settings(default_country="GB")  # refreshes the cached branding
        db.session.commit()
    assert client.get("/api/v1/places?q=Perth").json[0]["label"] == "Perth, United Kingdom"


def test_openapi_documents_the_new_parameters_and_paths(tenant_client):
    spec = tenant_client("acme").get("/api/v1/openapi.json").json
    names = {p["name"] for p in spec["paths"]["/api/v1/gigs"]["get"]["parameters"]}
    assert {"near", "lat", "lng", "within_km", "mode", "language", "country", "online"} <= names
    assert "/api/v1/places" in spec["paths"] and "/api/v1/search/suggest" in spec["paths"]
    for path in ("/api/v1/places", "/api/v1/search/suggest"):
        assert spec["paths"][path]["get"].get("description") or spec["paths"][path]["get"].get("summary")


def test_the_search_page_takes_the_new_parameters_without_a_500(located, tenant_client):
    client = tenant_client("acme")
    for query in (
        "near=Berlin&within=25&mode=on_site&language=en&country=DE&online=1&sort=distance",
        "lat=91&lng=abc&within=-1&mode=teleport&language=english&country=XX&sort=distance",
        "near=Narnia&sort=distance",
    ):
        assert client.get(f"/search?{query}").status_code == 200, query
