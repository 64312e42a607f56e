"""/api/v1/notifications: list, read marks, preferences; tokens, tenants and bad input."""

from __future__ import annotations

import json

import pytest

from app.notifications import services
from app.notifications.models import Notification, NotificationPreference
from tenants.db import db


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def seeded(acme, make_user, in_tenant):
    """acme: Ada with three notifications, Bob with one -> (ada, bob, ada_ids, bob_id)."""
    ada = make_user(acme, email="ada@example.com")
    bob = make_user(acme, email="bob@example.com")
    with in_tenant(acme):
        ids = [services.notify(ada, "order_paid", {"order_id": n}, url=f"/orders/{n}").id for n in (1, 2, 3)]
        bob_id = services.notify(bob, "order_paid", {"order_id": 9}).id
        db.session.commit()
    return ada, bob, ids, bob_id


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/v1/notifications"),
        ("get", "/api/v1/notifications/unread"),
        ("post", "/api/v1/notifications/read"),
        ("get", "/api/v1/notifications/preferences"),
        ("put", "/api/v1/notifications/preferences"),
    ],
)
def test_every_endpoint_needs_a_token(tenant_client, acme, method, path):
    response = getattr(tenant_client("acme"), method)(path, json={})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_of_one_tenant_means_nothing_on_another(tenant_client, globex, seeded, acme, access_token):
    ada, *_ = seeded
    token = access_token(acme, ada)
    assert tenant_client("globex").get("/api/v1/notifications", headers=bearer(token)).status_code == 401


def test_the_list_is_paginated_newest_first_and_only_yours(tenant_client, acme, seeded, access_token):
    ada, bob, ids, bob_id = seeded
    client = tenant_client("acme")
    response = client.get("/api/v1/notifications?page=1&page_size=2", headers=bearer(access_token(acme, ada)))
    assert response.status_code == 200
    body = response.get_json()
    assert [n["id"] for n in body] == [ids[2], ids[1]]
    assert body[0]["kind"] == "order_paid" and body[0]["text"] == "Order #3 was paid."
    assert body[0]["url"] == "/orders/3" and body[0]["read"] is False and body[0]["data"] == {"order_id": 3}
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 3 and pagination["total_pages"] == 2
    page2 = client.get("/api/v1/notifications?page=2&page_size=2", headers=bearer(access_token(acme, ada)))
    assert [n["id"] for n in page2.get_json()] == [ids[0]]
    assert bob_id not in [n["id"] for n in body + page2.get_json()]
    bad = client.get("/api/v1/notifications?page=0", headers=bearer(access_token(acme, ada)))
    assert bad.status_code == 422


def test_mark_read_by_ids_then_all(tenant_client, acme, seeded, access_token, in_tenant):
    ada, _bob, ids, _ = seeded
    client, headers = tenant_client("acme"), bearer(access_token(acme, ada))
    response = client.post("/api/v1/notifications/read", json={"ids": [ids[0]]}, headers=headers)
    assert response.status_code == 200 and response.get_json() == {"marked": 1, "unread_count": 2}
    unread = client.get("/api/v1/notifications?unread=true", headers=headers).get_json()
    assert [n["id"] for n in unread] == [ids[2], ids[1]]
    response = client.post("/api/v1/notifications/read", json={"all": True}, headers=headers)
    assert response.get_json() == {"marked": 2, "unread_count": 0}
    assert client.get("/api/v1/notifications/unread", headers=headers).get_json() == {"count": 0}


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": []}, {"ids": "1"}, {"ids": [0]}, {"ids": ["a"]}, {"all": True, "ids": [1]}, {"all": "yes"}],
)
def test_malformed_read_requests_are_422_and_change_nothing(
    tenant_client, acme, seeded, access_token, in_tenant, body
):
    ada, *_ = seeded
    response = tenant_client("acme").post(
        "/api/v1/notifications/read", json=body, headers=bearer(access_token(acme, ada))
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"]  # says what is wrong
    with in_tenant(acme):
        assert db.session.scalar(db.select(db.func.count()).where(Notification.read_at.is_not(None))) == 0


def test_marking_someone_elses_notification_is_404_and_changes_nothing(
    tenant_client, acme, seeded, access_token, in_tenant
):
    ada, _bob, ids, bob_id = seeded
    response = tenant_client("acme").post(
        "/api/v1/notifications/read", json={"ids": [ids[0], bob_id]}, headers=bearer(access_token(acme, ada))
    )
    assert response.status_code == 404
    assert response.get_json()["errors"]["code"] == "unknown_notification"
    with in_tenant(acme):
        assert db.session.scalar(db.select(db.func.count()).where(Notification.read_at.is_not(None))) == 0


def test_preferences_read_and_change(tenant_client, acme, seeded, access_token):
    ada, *_ = seeded
    client, headers = tenant_client("acme"), bearer(access_token(acme, ada))
    prefs = {
        p["kind"]: p
        for p in client.get("/api/v1/notifications/preferences", headers=headers).get_json()["preferences"]
    }
    assert prefs["new_message"] == {
        "kind": "new_message",
        "label": "New messages",
        "category": "messages",
        "in_app": True,
        "email": True,
        "is_default": True,
    }
    response = client.put(
        "/api/v1/notifications/preferences",
        json={
            "preferences": [{"kind": "new_message", "email": False}, {"kind": "order_paid", "in_app": False}]
        },
        headers=headers,
    )
    assert response.status_code == 200
    prefs = {p["kind"]: p for p in response.get_json()["preferences"]}
    assert (prefs["new_message"]["in_app"], prefs["new_message"]["email"]) == (True, False)
    assert (prefs["order_paid"]["in_app"], prefs["order_paid"]["email"]) == (False, True)
    again = client.get("/api/v1/notifications/preferences", headers=headers).get_json()["preferences"]
    assert {p["kind"]: p for p in again} == prefs


@pytest.mark.parametrize(
    "body",
    [
        {"preferences": [{"kind": "new_message", "email": False}, {"kind": "nope", "email": False}]},
        {"preferences": [{"kind": "new_message", "email": "false"}]},
        {"preferences": [{"kind": "new_message", "email": 0}]},
        {"preferences": [{"kind": "new_message"}]},
        {"preferences": []},
        {},
    ],
)
def test_bad_preferences_are_422_and_change_nothing(
    tenant_client, acme, seeded, access_token, in_tenant, body
):
    ada, *_ = seeded
    response = tenant_client("acme").put(
        "/api/v1/notifications/preferences", json=body, headers=bearer(access_token(acme, ada))
    )
    assert response.status_code == 422, response.get_json()
    with in_tenant(acme):
        assert db.session.scalar(db.select(db.func.count()).select_from(NotificationPreference)) == 0


def test_the_endpoints_are_documented_with_examples(tenant_client, acme):
    spec = tenant_client("acme").get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/notifications", "/api/v1/notifications/read", "/api/v1/notifications/preferences"):
        assert path in spec["paths"], path
    read = spec["paths"]["/api/v1/notifications/read"]["post"]
    assert read["requestBody"]["content"]["application/json"]["example"] == {"ids": [31, 30]}
    assert "put" in spec["paths"]["/api/v1/notifications/preferences"]
