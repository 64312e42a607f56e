"""Gigs REST API: create, read (ETag), PATCH with If-Match, lifecycle, my gigs, errors, tenants."""

from __future__ import annotations

import pytest


@pytest.fixture
def seller_api(make_seller, api_token):
    """``seller_api(tenant, email)`` -> (client, auth headers, user id) of a new seller."""

    def make(tenant, email="seller@example.com"):
        user_id = make_seller(tenant, email=email)
        client, headers = api_token(tenant, email)
        return client, headers, user_id

    return make


def _complete(kit, acme, in_tenant, **overrides):
    with in_tenant(acme):
        category_id = kit.first_subcategory_id()
    return kit.gig_data(category_id=category_id, **overrides)


def test_seller_creates_reads_and_publishes_a_gig(acme, seller_api, kit, in_tenant, events_of):
    client, headers, _ = seller_api(acme)
    created = client.post("/api/v1/gigs", json=_complete(kit, acme, in_tenant), headers=headers)
    assert created.status_code == 201, created.json
    gig = created.json
    assert gig["status"] == "draft" and gig["version"] == 1 and gig["currency"]
    assert [p["tier"] for p in gig["packages"]] == ["basic", "standard", "premium"]
    assert gig["min_price_minor"] == 5000 and gig["seller"]["display_name"]
    assert created.headers["ETag"]

    # A draft is invisible to the public, visible to its seller.
    assert client.get(f"/api/v1/gigs/{gig['id']}").status_code == 404
    assert client.get(f"/api/v1/gigs/{gig['id']}", headers=headers).status_code == 200

    published = client.post(f"/api/v1/gigs/{gig['id']}/publish", headers=headers)
    assert published.status_code == 200 and published.json["status"] == "active"
    public = client.get(f"/api/v1/gigs/{gig['id']}")
    assert public.status_code == 200 and public.json["title"] == gig["title"]
    assert public.json["url"].endswith(f"/gigs/{gig['slug']}")
    assert events_of(acme) == [("gig.published", {"gig_id": gig["id"]})]


def test_only_sellers_create_gigs(acme, make_user, api_token, kit, in_tenant):
    make_user(acme, email="buyer@example.com")
    client, headers = api_token(acme, "buyer@example.com")
    response = client.post("/api/v1/gigs", json=_complete(kit, acme, in_tenant), headers=headers)
    assert response.status_code == 403
    assert client.post("/api/v1/gigs", json=_complete(kit, acme, in_tenant)).status_code == 401


def test_patch_requires_if_match(acme, seller_api, make_gig, gig_row):
    client, headers, seller_id = seller_api(acme)
    gig_id = make_gig(acme, seller_id)
    before = gig_row(acme, gig_id)
    url = f"/api/v1/gigs/{gig_id}"
    change = {"title": "I will design a bold vintage logo"}

    assert client.patch(url, json=change, headers=headers).status_code == 428
    stale = client.patch(url, json=change, headers={**headers, "If-Match": '"not-the-etag"'})
    assert stale.status_code == 412
    assert gig_row(acme, gig_id) == before

    etag = client.get(url, headers=headers).headers["ETag"]
    ok = client.patch(url, json=change, headers={**headers, "If-Match": etag})
    assert ok.status_code == 200, ok.json
    assert ok.json["title"] == change["title"] and ok.json["version"] == before["version"] + 1
    assert ok.headers["ETag"] != etag
    # The old ETag is now stale.
    assert (
        client.patch(url, json={"tags": ["late"]}, headers={**headers, "If-Match": etag}).status_code == 412
    )


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"title": "short"}, ["title"]),
        ({"title": "<script>alert(1)</script> in a gig title"}, ["title"]),
        ({"category_id": 424242}, ["category_id"]),
        ({"tags": ["a1", "b2", "c3", "d4", "e5", "f6"]}, ["tags"]),
        (
            {"packages": [{"tier": "basic", "title": "B", "price_minor": -5, "delivery_days": 3}]},
            ["packages", "basic", "price_minor"],
        ),
        (
            {"packages": [{"tier": "basic", "title": "B", "price_minor": 500, "delivery_days": 120}]},
            ["packages", "basic", "delivery_days"],
        ),
        (
            {
                "packages": [
                    {"tier": "basic", "title": "B", "price_minor": 99_999_999_999, "delivery_days": 3}
                ]
            },
            ["packages", "basic", "price_minor"],
        ),
        (
            {"packages": [{"tier": "basic", "title": "B", "price_minor": "10", "delivery_days": 3}]},
            ["packages"],
        ),
        (
            {"packages": [{"tier": "basic", "title": "B", "price_minor": 10.5, "delivery_days": 3}]},
            ["packages"],
        ),
        ({"faqs": [{"question": "Q?", "answer": "<img src=x onerror=alert(1)>"}]}, ["faqs", "0", "answer"]),
        ({"unknown": 1}, ["unknown"]),
    ],
)
def test_bad_input_is_a_422_with_field_errors_and_changes_nothing(
    acme, seller_api, make_gig, gig_row, change, path
):
    client, headers, seller_id = seller_api(acme)
    gig_id = make_gig(acme, seller_id)
    before = gig_row(acme, gig_id)
    url = f"/api/v1/gigs/{gig_id}"
    etag = client.get(url).headers["ETag"]
    response = client.patch(url, json=change, headers={**headers, "If-Match": etag})
    assert response.status_code == 422, response.json
    node = response.json["errors"]["json"]
    for key in path:
        node = node[key if key in node else int(key)]
    assert node
    assert gig_row(acme, gig_id) == before


def test_editing_someone_elses_gig_is_403_and_changes_nothing(
    acme, seller_api, make_seller, make_gig, gig_row
):
    owner_id = make_seller(acme, email="owner@example.com")
    gig_id = make_gig(acme, owner_id)
    client, headers, _ = seller_api(acme, "intruder@example.com")
    before = gig_row(acme, gig_id)
    url = f"/api/v1/gigs/{gig_id}"
    etag = client.get(url).headers["ETag"]
    assert (
        client.patch(url, json={"tags": ["mine"]}, headers={**headers, "If-Match": etag}).status_code == 403
    )
    assert client.delete(url, headers=headers).status_code == 403
    for action in ("publish", "pause", "archive"):
        assert client.post(f"{url}/{action}", headers=headers).status_code == 403
    assert gig_row(acme, gig_id) == before


def test_lifecycle_and_delete_archives(acme, seller_api, make_gig, gig_row):
    client, headers, seller_id = seller_api(acme)
    draft_id = make_gig(acme, seller_id, status="draft")
    url = f"/api/v1/gigs/{draft_id}"
    assert client.post(f"{url}/pause", headers=headers).status_code == 409
    assert client.post(f"{url}/publish", headers=headers).json["status"] == "active"
    assert client.post(f"{url}/pause", headers=headers).json["status"] == "paused"
    assert client.get(url).status_code == 404
    assert client.delete(url, headers=headers).status_code == 204
    assert gig_row(acme, draft_id)["status"] == "archived"
    assert client.post(f"{url}/publish", headers=headers).status_code == 409
    etag = client.get(url, headers=headers).headers["ETag"]
    assert client.patch(url, json={"tags": ["x1"]}, headers={**headers, "If-Match": etag}).status_code == 409


def test_publishing_an_incomplete_gig_lists_what_is_missing(acme, seller_api):
    client, headers, _ = seller_api(acme)
    gig = client.post("/api/v1/gigs", json={"title": "I will mix and master your song"}, headers=headers).json
    response = client.post(f"/api/v1/gigs/{gig['id']}/publish", headers=headers)
    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"description", "category_id", "packages"}


def test_my_gigs_is_paginated(acme, seller_api, make_gig, make_seller):
    client, headers, seller_id = seller_api(acme)
    ids = [make_gig(acme, seller_id, status=s) for s in ("draft", "active", "paused", "archived")]
    make_gig(acme, make_seller(acme), status="active")  # someone else's
    response = client.get("/api/v1/me/gigs?page_size=2", headers=headers)
    assert response.status_code == 200
    assert len(response.json) == 2
    assert '"total": 3' in response.headers["X-Pagination"]
    page2 = client.get("/api/v1/me/gigs?page=2&page_size=2", headers=headers).json
    assert {g["id"] for g in response.json + page2} == set(ids[:3])
    assert client.get("/api/v1/me/gigs?page=10000", headers=headers).json == []
    assert client.get("/api/v1/me/gigs?page=99999999999", headers=headers).status_code == 422
    assert client.get("/api/v1/me/gigs?page=0", headers=headers).status_code == 422
    assert client.get("/api/v1/me/gigs").status_code == 401


def test_unknown_and_absurd_ids_are_404(acme, tenant_client):
    client = tenant_client("acme")
    assert client.get("/api/v1/gigs/999").status_code == 404
    assert client.get("/api/v1/gigs/99999999999999999999").status_code == 404


def test_openapi_documents_the_gig_endpoints(tenant_client):
    spec = tenant_client("acme").get("/api/v1/openapi.json").json
    for path in ("/api/v1/gigs", "/api/v1/gigs/{gig_id}", "/api/v1/gigs/{gig_id}/publish", "/api/v1/me/gigs"):
        assert path in spec["paths"], path
    patch = spec["paths"]["/api/v1/gigs/{gig_id}"]["patch"]
    assert {"412", "422", "428"} <= set(patch["responses"])
    assert spec["paths"]["/api/v1/gigs"]["post"]["requestBody"]["content"]["application/json"]["example"]


def test_equal_ids_in_acme_and_globex_never_meet(acme, globex, seller_api, make_gig, gig_row):
    acme_client, acme_headers, acme_seller = seller_api(acme, "same@example.com")
    globex_client, globex_headers, globex_seller = seller_api(globex, "same@example.com")
    acme_gig = make_gig(acme, acme_seller, title="I will design an acme logo for you")
    globex_gig = make_gig(globex, globex_seller, title="I will design a globex logo for you", status="draft")
    assert acme_gig == globex_gig and acme_seller == globex_seller
    url = f"/api/v1/gigs/{acme_gig}"

    # Each host answers with its own gig.
    assert acme_client.get(url).json["title"] == "I will design an acme logo for you"
    assert globex_client.get(url).status_code == 404  # globex's gig N is a draft
    # An acme token means nothing on globex's host, and vice versa.
    assert globex_client.get(url, headers=acme_headers).status_code == 401
    assert globex_client.post(f"{url}/publish", headers=acme_headers).status_code == 401
    assert acme_client.delete(url, headers=globex_headers).status_code == 401

    globex_before = gig_row(globex, globex_gig)
    etag = acme_client.get(url).headers["ETag"]
    assert (
        acme_client.patch(
            url, json={"tags": ["acme"]}, headers={**acme_headers, "If-Match": etag}
        ).status_code
        == 200
    )
    assert acme_client.post(f"{url}/pause", headers=acme_headers).status_code == 200
    assert gig_row(globex, globex_gig) == globex_before
    assert [g["id"] for g in globex_client.get("/api/v1/me/gigs", headers=globex_headers).json] == [
        globex_gig
    ]
