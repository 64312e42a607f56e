"""Every create answers `Location`; edited resources answer `ETag` and honour `If-Match` /
`If-None-Match` (issue #19, API coverage)."""

from __future__ import annotations

import sqlalchemy as sa

from app.discovery.models import SavedList
from tenants.db import db


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def spec(tenant_client) -> dict:
    return tenant_client("acme").get("/api/v1/openapi.json").json


def test_every_201_of_the_spec_documents_location(tenant_client):
    missing = []
    operations = 0
    for path, item in spec(tenant_client)["paths"].items():
        for method, operation in item.items():
            created = operation.get("responses", {}).get("201") if isinstance(operation, dict) else None
            if created is None:
                continue
            operations += 1
            if "Location" not in created.get("headers", {}):
                missing.append(f"{method.upper()} {path}")
    assert operations > 30
    assert not missing, "201s without a documented Location:\n" + "\n".join(sorted(missing))


def test_creates_send_location_and_it_leads_to_the_new_resource(
    acme, market, tenant_client, access_token, in_tenant
):
    m = market(acme)
    client = tenant_client("acme")
    buyer = auth(access_token(acme, m.buyer_id))
    seller = auth(access_token(acme, m.seller_id))

    order = client.post("/api/v1/orders", json={"gig_id": m.gig_id, "tier": "basic"}, headers=buyer)
    assert order.status_code == 201
    assert order.headers["Location"].endswith(f"/api/v1/orders/{order.json['id']}")
    assert client.get(order.headers["Location"], headers=buyer).json["id"] == order.json["id"]

    saved = client.post("/api/v1/saved-lists", json={"name": "Logos"}, headers=buyer)
    assert client.get(saved.headers["Location"], headers=buyer).json["id"] == saved.json["id"]

    conversation = client.post("/api/v1/conversations", json={"user_id": m.seller_id}, headers=buyer)
    message = client.post(
        f"/api/v1/conversations/{conversation.json['id']}/messages", json={"body": "Hello!"}, headers=buyer
    )
    assert message.status_code == 201
    history = client.get(message.headers["Location"], headers=buyer).json
    assert message.json["id"] in [x["id"] for x in history["items"]]

    gig = client.get(f"/api/v1/gigs/{m.gig_id}", headers=seller).json
    body = {
        k: gig[k]
        for k in ("title", "description", "category_id", "tags", "packages")
        if k in gig and gig[k] is not None
    }
    body["title"] = "I will draw a second logo for you today"
    body["packages"] = [
        {
            k: p[k]
            for k in ("tier", "title", "description", "price_minor", "delivery_days", "revisions")
            if k in p
        }
        for p in gig["packages"]
    ]
    new_gig = client.post("/api/v1/gigs", json=body, headers=seller)
    assert new_gig.status_code == 201, new_gig.json
    assert client.get(new_gig.headers["Location"], headers=seller).json["id"] == new_gig.json["id"]


def test_a_saved_list_answers_etags_304_and_412(acme, market, tenant_client, access_token, in_tenant):
    m = market(acme)
    client = tenant_client("acme")
    buyer = auth(access_token(acme, m.buyer_id))
    url = client.post("/api/v1/saved-lists", json={"name": "Logos"}, headers=buyer).headers["Location"]

    read = client.get(url, headers=buyer)
    etag = read.headers["ETag"]
    assert etag
    unchanged = client.get(url, headers={**buyer, "If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.get_data() == b"" and unchanged.headers["ETag"] == etag

    renamed = client.patch(url, json={"name": "Logo ideas"}, headers={**buyer, "If-Match": etag})
    assert renamed.status_code == 200 and renamed.headers["ETag"] != etag
    new_etag = renamed.headers["ETag"]
    assert client.get(url, headers={**buyer, "If-None-Match": etag}).status_code == 200

    stale = client.patch(url, json={"name": "Lost update"}, headers={**buyer, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.json["errors"]["code"] == "precondition_failed"
    stale_delete = client.delete(url, headers={**buyer, "If-Match": etag})
    assert stale_delete.status_code == 412
    with in_tenant(acme):
        names = list(db.session.scalars(sa.select(SavedList.name).order_by(SavedList.id)))
    assert "Logo ideas" in names and "Lost update" not in names
    # Without If-Match the change goes through (the precondition is the client's choice).
    assert client.patch(url, json={"name": "Final"}, headers=buyer).status_code == 200
    assert client.delete(url, headers={**buyer, "If-Match": new_etag}).status_code == 412


def test_the_spec_documents_etags_and_preconditions(tenant_client):
    paths = spec(tenant_client)["paths"]
    for path, write in (
        ("/api/v1/saved-lists/{list_id}", "patch"),
        ("/api/v1/console/settings", "patch"),
        ("/api/v1/console/branding", "patch"),
        ("/api/v1/console/categories/{category_id}", "patch"),
        ("/api/v1/jobs/{job_id}", "put"),
        ("/api/v1/proposals/{proposal_id}", "put"),
    ):
        read, change = paths[path]["get"], paths[path][write]
        assert "304" in read["responses"] and "ETag" in read["responses"]["200"]["headers"], path
        assert "If-None-Match" in [p.get("name") for p in read["parameters"]], path
        assert "412" in change["responses"] and "ETag" in change["responses"]["200"]["headers"], path
        assert "If-Match" in [p.get("name") for p in change["parameters"]], path
    delete = paths["/api/v1/saved-lists/{list_id}"]["delete"]
    assert "412" in delete["responses"] and "If-Match" in [p.get("name") for p in delete["parameters"]]


def test_console_settings_and_categories_refuse_a_stale_if_match(
    acme, make_user, tenant_client, access_token, in_tenant
):
    admin = auth(access_token(acme, make_user(acme, email="boss@acme.test", role="admin")))
    client = tenant_client("acme")
    read = client.get("/api/v1/console/settings", headers=admin)
    etag = read.headers["ETag"]
    assert client.get("/api/v1/console/settings", headers={**admin, "If-None-Match": etag}).status_code == 304
    changed = client.patch(
        "/api/v1/console/settings",
        json={"support_email": "help@acme.test"},
        headers={**admin, "If-Match": etag},
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    stale = client.patch(
        "/api/v1/console/settings",
        json={"support_email": "lost@acme.test"},
        headers={**admin, "If-Match": etag},
    )
    assert stale.status_code == 412 and stale.json["errors"]["code"] == "precondition_failed"
    assert client.get("/api/v1/console/settings", headers=admin).json["support_email"] == "help@acme.test"

    category = client.get("/api/v1/console/categories", headers=admin).json[0]
    url = f"/api/v1/console/categories/{category['id']}"
    etag = client.get(url, headers=admin).headers["ETag"]
    assert (
        client.patch(url, json={"description": "Now"}, headers={**admin, "If-Match": etag}).status_code == 200
    )
    stale = client.patch(url, json={"description": "Lost"}, headers={**admin, "If-Match": etag})
    assert stale.status_code == 412
    assert client.get(url, headers=admin).json["description"] == "Now"
