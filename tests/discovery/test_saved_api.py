"""Saved lists API (/api/v1/saved-lists): every endpoint, bad input, other users' lists."""

from __future__ import annotations

import json

import pytest

from app.discovery import saved
from tests.helpers import bearer_headers


@pytest.fixture
def api(tenant_client):
    """``api(tenant, email)`` -> (client, auth headers)."""

    def make(tenant, email=None):
        client = tenant_client(tenant.slug)
        return client, bearer_headers(client, email or f"buyer@{tenant.slug}.test")

    return make


def _field(response, field):
    return response.json["errors"]["json"][field]


def test_lists_create_read_rename_delete(acme, saved_shop, api):
    saved_shop(acme)
    client, auth = api(acme)
    listed = client.get("/api/v1/saved-lists", headers=auth)
    assert listed.status_code == 200
    assert [(x["name"], x["is_default"], x["gig_count"]) for x in listed.json] == [("Saved", True, 0)]
    created = client.post("/api/v1/saved-lists", json={"name": "  Logo ideas "}, headers=auth)
    assert created.status_code == 201 and created.json["name"] == "Logo ideas"
    list_id = created.json["id"]
    assert created.headers["Location"].endswith(f"/api/v1/saved-lists/{list_id}")
    one = client.get(created.headers["Location"], headers=auth)
    assert one.status_code == 200 and one.json["gig_count"] == 0 and one.json["cover_url"] is None
    renamed = client.patch(f"/api/v1/saved-lists/{list_id}", json={"name": "Brand"}, headers=auth)
    assert renamed.status_code == 200 and renamed.json["name"] == "Brand"
    assert client.delete(f"/api/v1/saved-lists/{list_id}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/saved-lists/{list_id}", headers=auth).status_code == 404
    default_id = listed.json[0]["id"]
    refused = client.delete(f"/api/v1/saved-lists/{default_id}", headers=auth)
    assert refused.status_code == 409 and "cannot be deleted" in refused.json["message"]


def test_bad_list_names_are_422_with_the_field(acme, saved_shop, api):
    saved_shop(acme)
    client, auth = api(acme)
    client.post("/api/v1/saved-lists", json={"name": "Logos"}, headers=auth)
    for body, needle in (
        ({"name": ""}, "Give the list a name."),
        ({"name": "   "}, "Give the list a name."),
        ({"name": "x" * 61}, "60 characters"),
        ({"name": "LOGOS"}, "already have a list named"),
        ({"name": "bad\x00name"}, "control characters"),
        ({"name": 12}, "Not a valid string."),
        ({}, "Missing data for required field."),
    ):
        response = client.post("/api/v1/saved-lists", json=body, headers=auth)
        assert response.status_code == 422, body
        assert needle in json.dumps(_field(response, "name")), (body, response.json)


def test_gigs_of_a_list_save_move_remove(acme, saved_shop, api, make_gig, as_user):
    s = saved_shop(acme, gigs=3)
    client, auth = api(acme)
    lists = client.get("/api/v1/saved-lists", headers=auth).json
    default_id = lists[0]["id"]
    other_id = client.post("/api/v1/saved-lists", json={"name": "Other"}, headers=auth).json["id"]
    path = f"/api/v1/saved-lists/{default_id}/gigs"
    first = client.post(path, json={"gig_id": s.gigs[0]}, headers=auth)
    assert first.status_code == 201
    assert (
        first.json["gig_id"] == s.gigs[0] and first.json["list_id"] == default_id and first.json["available"]
    )
    assert first.json["gig"]["title"].startswith("I will design a logo number 1")
    again = client.post(path, json={"gig_id": s.gigs[0]}, headers=auth)
    assert again.status_code == 201 and again.json["saved_at"] == first.json["saved_at"]  # idempotent
    client.post(path, json={"gig_id": s.gigs[1]}, headers=auth)
    page = client.get(path, headers=auth, query_string={"page_size": 1})
    assert page.status_code == 200 and len(page.json) == 1
    assert json.loads(page.headers["X-Pagination"])["total"] == 2
    moved = client.post(f"{path}/{s.gigs[0]}/move", json={"to_list_id": other_id}, headers=auth)
    assert moved.status_code == 200 and moved.json["list_id"] == other_id
    assert client.get(f"/api/v1/saved-lists/{other_id}", headers=auth).json["gig_count"] == 1
    assert client.delete(f"{path}/{s.gigs[1]}", headers=auth).status_code == 204
    assert client.delete(f"{path}/{s.gigs[1]}", headers=auth).status_code == 404  # not in it any more
    assert client.get(path, headers=auth).json == []


def test_bad_gig_input_is_422(acme, saved_shop, api, make_gig):
    s = saved_shop(acme)
    paused = make_gig(acme, s.seller, status="paused", title="I will paint your portrait today")
    client, auth = api(acme)
    default_id = client.get("/api/v1/saved-lists", headers=auth).json[0]["id"]
    path = f"/api/v1/saved-lists/{default_id}/gigs"
    for body, needle in (
        ({"gig_id": 424242}, "This gig does not exist."),
        ({"gig_id": paused}, "not available"),
        ({"gig_id": "1"}, "Not a valid integer."),
        ({"gig_id": 2**40}, "Must be between"),
        ({}, "Missing data"),
    ):
        response = client.post(path, json=body, headers=auth)
        assert response.status_code == 422, body
        assert needle in json.dumps(_field(response, "gig_id")), (body, response.json)
    client.post(path, json={"gig_id": s.gigs[0]}, headers=auth)
    unknown_target = client.post(f"{path}/{s.gigs[0]}/move", json={"to_list_id": 99999}, headers=auth)
    assert unknown_target.status_code == 422 and "no list" in json.dumps(_field(unknown_target, "to_list_id"))
    assert client.post(f"{path}/{s.gigs[0]}/move", json={}, headers=auth).status_code == 422
    assert (
        client.post("/api/v1/saved-lists/99999/gigs", json={"gig_id": s.gigs[0]}, headers=auth).status_code
        == 404
    )


def test_another_users_lists_are_404_everywhere(acme, saved_shop, api, as_user):
    s = saved_shop(acme)
    with as_user(acme, s.other) as other:
        theirs = saved.create_list(other, "Private").id
        saved.save_gig(other, s.gigs[0], theirs)
    client, auth = api(acme)
    mine = client.get("/api/v1/saved-lists", headers=auth).json[0]["id"]
    base = f"/api/v1/saved-lists/{theirs}"
    for method, path, body in (
        ("get", base, None),
        ("patch", base, {"name": "Mine"}),
        ("delete", base, None),
        ("get", f"{base}/gigs", None),
        ("post", f"{base}/gigs", {"gig_id": s.gigs[1]}),
        ("delete", f"{base}/gigs/{s.gigs[0]}", None),
        ("post", f"{base}/gigs/{s.gigs[0]}/move", {"to_list_id": mine}),
    ):
        response = getattr(client, method)(path, json=body, headers=auth)
        assert response.status_code == 404, (method, path, response.json)
        assert response.json["message"] == "This list does not exist."
    assert [x["id"] for x in client.get("/api/v1/saved-lists", headers=auth).json] == [mine]
    with as_user(acme, s.other) as other:
        assert (
            saved.list_summary(other, theirs).count == 1
            and saved.list_summary(other, theirs).name == "Private"
        )


def test_the_api_needs_a_token(acme, saved_shop, tenant_client):
    saved_shop(acme)
    client = tenant_client("acme")
    assert client.get("/api/v1/saved-lists").status_code == 401
    assert client.post("/api/v1/saved-lists", json={"name": "x"}).status_code == 401
