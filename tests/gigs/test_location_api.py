"""The gigs API says and takes where a gig is delivered (#18)."""

from __future__ import annotations

import pytest


@pytest.fixture
def seller_api(make_seller, api_token):
    def make(tenant, email="seller@example.com"):
        user_id = make_seller(tenant, email=email)
        client, headers = api_token(tenant, email)
        return client, headers, user_id

    return make


def test_create_an_on_site_gig_and_read_its_place(acme, seller_api, location_on):
    location_on(acme)
    client, headers, _ = seller_api(acme)
    body = {
        "title": "I will tune your piano at home",
        "delivery_mode": "on_site",
        "location": "Berlin, Germany",
        "service_radius_km": 15,
    }
    created = client.post("/api/v1/gigs", json=body, headers=headers)
    assert created.status_code == 201, created.json
    gig = created.json
    assert gig["delivery_mode"] == "on_site" and gig["service_radius_km"] == 15
    place = gig["location"]
    assert (place["name"], place["country"], place["label"]) == ("Berlin", "DE", "Berlin, Germany")
    assert round(place["latitude"]) == 53 and round(place["longitude"]) == 13
    # A GeoNames id (a number) is a place too.
    by_id = client.post("/api/v1/gigs", json={**body, "location": 2950159}, headers=headers)
    assert by_id.status_code == 201 and by_id.json["location"]["name"] == "Berlin"


def test_an_online_gig_has_no_place(acme, seller_api, make_gig):
    client, headers, seller_id = seller_api(acme)
    gig_id = make_gig(acme, seller_id)
    gig = client.get(f"/api/v1/gigs/{gig_id}").json
    assert (gig["delivery_mode"], gig["location"], gig["service_radius_km"]) == ("online", None, None)


def test_patch_moves_a_gig_on_site_then_back_online(acme, seller_api, make_gig, location_on, events_of):
    location_on(acme)
    client, headers, seller_id = seller_api(acme)
    gig_id = make_gig(acme, seller_id)
    url = f"/api/v1/gigs/{gig_id}"
    etag = client.get(url).headers["ETag"]
    version = client.get(url).json["version"]
    point = {"delivery_mode": "on_site", "latitude": 48.8566, "longitude": 2.3522, "service_radius_km": 25}
    moved = client.patch(url, json=point, headers={**headers, "If-Match": etag})
    assert moved.status_code == 200, moved.json
    assert moved.json["version"] == version + 1 and moved.headers["ETag"] != etag
    assert moved.json["location"]["name"] == "Paris" and moved.json["location"]["latitude"] == 48.8566
    assert events_of(acme)[-1] == ("gig.updated", {"gig_id": gig_id})

    radius = client.patch(
        url, json={"service_radius_km": 40}, headers={**headers, "If-Match": moved.headers["ETag"]}
    )
    assert radius.status_code == 200 and radius.json["location"]["name"] == "Paris"
    assert radius.json["service_radius_km"] == 40

    online = client.patch(
        url, json={"delivery_mode": "online"}, headers={**headers, "If-Match": radius.headers["ETag"]}
    )
    assert online.status_code == 200
    assert (online.json["location"], online.json["service_radius_km"]) == (None, None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"delivery_mode": "on_site", "location": "Qwxyzville", "service_radius_km": 5}, "location"),
        ({"delivery_mode": "on_site", "location": True, "service_radius_km": 5}, "location"),
        ({"delivery_mode": "on_site", "location": "Berlin", "service_radius_km": 0}, "service_radius_km"),
        ({"delivery_mode": "on_site", "location": "Berlin", "service_radius_km": 501}, "service_radius_km"),
        ({"delivery_mode": "on_site", "location": "Berlin", "service_radius_km": "abc"}, "service_radius_km"),
        ({"delivery_mode": "on_site", "location": "Berlin", "service_radius_km": 1.5}, "service_radius_km"),
        ({"delivery_mode": "on_site", "location": "Berlin"}, "service_radius_km"),
        ({"delivery_mode": "on_site", "service_radius_km": 5}, "location"),
        ({"delivery_mode": "on_site", "latitude": 95, "longitude": 0, "service_radius_km": 5}, "latitude"),
        ({"delivery_mode": "on_site", "latitude": "x", "longitude": 0, "service_radius_km": 5}, "latitude"),
        ({"delivery_mode": "on_site", "latitude": 10, "longitude": 200, "service_radius_km": 5}, "longitude"),
        ({"delivery_mode": "teleport"}, "delivery_mode"),
        ({"service_radius_km": 5}, "service_radius_km"),
    ],
)
def test_bad_places_are_a_422_with_field_errors_and_change_nothing(
    acme, seller_api, make_gig, gig_row, location_on, change, field
):
    location_on(acme)
    client, headers, seller_id = seller_api(acme)
    gig_id = make_gig(acme, seller_id)
    before = gig_row(acme, gig_id)
    url = f"/api/v1/gigs/{gig_id}"
    etag = client.get(url).headers["ETag"]
    response = client.patch(url, json=change, headers={**headers, "If-Match": etag})
    assert response.status_code == 422, response.json
    assert response.json["errors"]["json"][field]
    assert gig_row(acme, gig_id) == before
    assert client.get(url).json["delivery_mode"] == "online"


def test_on_site_is_refused_where_the_marketplace_lists_online_services_only(acme, seller_api):
    client, headers, _ = seller_api(acme)
    body = {
        "title": "I will tune your piano at home",
        "delivery_mode": "on_site",
        "location": "Berlin",
        "service_radius_km": 5,
    }
    response = client.post("/api/v1/gigs", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json["errors"]["json"]["delivery_mode"] == [
        "This marketplace lists online services only."
    ]
    assert client.get("/api/v1/me/gigs", headers=headers).json == []


def test_the_openapi_documents_the_location_fields(acme, tenant_client):
    spec = tenant_client("acme").get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    gig_input = next(v for k, v in schemas.items() if k.startswith("GigInput"))
    assert {"delivery_mode", "location", "latitude", "longitude", "service_radius_km"} <= set(
        gig_input["properties"]
    )
    gig = schemas["Gig"]["properties"]
    assert {"delivery_mode", "location", "service_radius_km"} <= set(gig)
