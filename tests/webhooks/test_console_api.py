"""The console API of webhooks: CRUD with Location and ETag/If-Match, secrets only where they
belong, roll/reveal/ping, the delivery log and replay, refusals as JSON field errors with nothing
stored, admins only, one marketplace's ids unknown to another; the public catalogue."""

from __future__ import annotations

import sqlalchemy as sa

from app.console.models import AuditEntry
from app.webhooks.catalogue import CATALOGUE
from app.webhooks.models import WebhookEndpoint
from tenants.db import db
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import bearer_headers

BASE = "/api/v1/console/webhook-endpoints"


def _admin(tenant_client, tenant):
    client = tenant_client(tenant.slug)
    return client, bearer_headers(client, f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def _create(client, headers, url, types=("*",)):
    response = client.post(BASE, json={"url": url, "event_types": list(types)}, headers=headers)
    assert response.status_code == 201, response.json
    return response


def test_the_catalogue_is_public(tenant_client, acme):
    response = tenant_client("acme").get("/api/v1/webhook-event-types")
    assert response.status_code == 200
    assert [t["name"] for t in response.json] == [t.name for t in CATALOGUE]
    assert {"name": "order.paid", "object": "order"}.items() <= response.json[1].items()


def test_create_read_update_delete(tenant_client, acme, in_tenant, receiver):
    r = receiver()
    client, headers = _admin(tenant_client, acme)
    created = _create(client, headers, r.url, ["order.paid"])
    body = created.json
    assert body["secret"].startswith("whsec_")
    assert created.headers["Location"].endswith(f"{BASE}/{body['id']}")
    assert body["status"] == "enabled" and body["version"] == 1

    listed = client.get(BASE, headers=headers)
    assert [e["id"] for e in listed.json] == [body["id"]] and "secret" not in listed.json[0]
    read = client.get(f"{BASE}/{body['id']}", headers=headers)
    assert "secret" not in read.json and read.headers["ETag"]

    stale = {**headers, "If-Match": read.headers["ETag"]}
    changed = client.patch(f"{BASE}/{body['id']}", json={"description": "ERP"}, headers=stale)
    assert changed.status_code == 200 and changed.json["version"] == 2
    assert client.patch(f"{BASE}/{body['id']}", json={"description": "x"}, headers=stale).status_code == 412
    assert client.patch(f"{BASE}/{body['id']}", json={"description": "x"}, headers=headers).status_code == 428
    fresh = {**headers, "If-Match": changed.headers["ETag"]}
    disabled = client.patch(f"{BASE}/{body['id']}", json={"enabled": False}, headers=fresh)
    assert disabled.json["status"] == "disabled" and disabled.json["disabled_reason"] == "operator"

    assert client.delete(f"{BASE}/{body['id']}", headers=headers).status_code == 204
    assert client.get(f"{BASE}/{body['id']}", headers=headers).status_code == 404
    with in_tenant(acme):
        actions = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["webhook.create", "webhook.update", "webhook.disable", "webhook.delete"]
        assert all("whsec_" not in str(e.changes) for e in db.session.scalars(sa.select(AuditEntry)))


def test_bad_input_is_a_422_with_field_errors_and_nothing_is_stored(
    tenant_client, acme, in_tenant, app, monkeypatch
):
    client, headers = _admin(tenant_client, acme)
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_HTTP", False)
    monkeypatch.setitem(app.config, "WEBHOOK_BLOCK_PRIVATE", True)
    cases = [
        ({"url": "not a url", "event_types": ["*"]}, "url"),
        ({"url": "ftp://h.example.com/x", "event_types": ["*"]}, "url"),
        ({"url": "https://169.254.169.254/latest/meta-data", "event_types": ["*"]}, "url"),
        ({"url": "https://[::1]/hook", "event_types": ["*"]}, "url"),
        ({"url": "https://10.0.0.1/hook", "event_types": ["*"]}, "url"),
        ({"url": "http://localhost:5000/hook", "event_types": ["*"]}, "url"),
        ({"url": "https://8.8.8.8/hook", "event_types": ["order.payed"]}, "event_types"),
        ({"url": "https://8.8.8.8/hook", "event_types": []}, "event_types"),
        ({"url": "https://8.8.8.8/hook", "event_types": "order.paid"}, "event_types"),
        ({"event_types": ["*"]}, "url"),
    ]
    for payload, field in cases:
        response = client.post(BASE, json=payload, headers=headers)
        assert response.status_code == 422, (payload, response.json)
        assert field in response.json["errors"]["json"], (payload, response.json)
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0
    roll = client.post(f"{BASE}/1/roll-secret", json={"overlap_hours": 200}, headers=headers)
    assert roll.status_code in (404, 422)


def test_roll_reveal_ping_deliveries_and_replay(tenant_client, acme, receiver, deliver):
    r = receiver()
    client, headers = _admin(tenant_client, acme)
    created = _create(client, headers, r.url).json
    rolled = client.post(f"{BASE}/{created['id']}/roll-secret", json={"overlap_hours": 2}, headers=headers)
    assert rolled.status_code == 200 and rolled.json["secret"] != created["secret"]
    assert rolled.json["previous_secret_expires_at"]
    assert (
        client.post(
            f"{BASE}/{created['id']}/roll-secret", json={"overlap_hours": 169}, headers=headers
        ).status_code
        == 422
    )
    revealed = client.post(f"{BASE}/{created['id']}/reveal-secret", headers=headers)
    assert revealed.json["secret"] == rolled.json["secret"]

    ping = client.post(f"{BASE}/{created['id']}/ping", headers=headers)
    assert ping.status_code == 201 and ping.json["event_type"] == "ping" and ping.json["status"] == "pending"
    deliver()
    assert [b["type"] for b in r.bodies()] == ["ping"]
    from app.webhooks import signing

    for secret in (created["secret"], rolled.json["secret"]):  # the overlap: both sign
        signing.verify(r.received[0].body, r.received[0].headers["Gigforge-Signature"], secret)

    log = client.get(
        "/api/v1/console/webhook-deliveries", query_string={"endpoint_id": created["id"]}, headers=headers
    )
    assert [d["status"] for d in log.json] == ["succeeded"]
    detail = client.get(ping.headers["Location"], headers=headers).json
    assert detail["body"]["type"] == "ping" and detail["attempt_log"][0]["response_status"] == 200
    assert detail["attempt_log"][0]["request_headers"]["Gigforge-Event-Type"] == "ping"
    replayed = client.post(f"/api/v1/console/webhook-deliveries/{detail['id']}/replay", headers=headers)
    assert replayed.status_code == 200 and replayed.json["status"] == "pending"
    deliver()
    assert len(r.received) == 2 and r.received[0].body == r.received[1].body
    filtered = client.get(
        "/api/v1/console/webhook-deliveries", query_string={"status": "nope"}, headers=headers
    )
    assert filtered.status_code == 422


def test_only_admins_and_only_their_own_marketplace(tenant_client, acme, globex, make_user):
    client, headers = _admin(tenant_client, acme)
    ours = _create(client, headers, "https://8.8.8.8/ours").json
    other, other_headers = _admin(tenant_client, globex)
    theirs = _create(other, other_headers, "https://8.8.8.8/theirs").json
    assert ours["id"] == theirs["id"] == 1
    # Globex's admin sees only globex's endpoint under the same id, never acme's.
    assert other.get(f"{BASE}/1", headers=other_headers).json["url"] == "https://8.8.8.8/theirs"
    assert other.get(f"{BASE}/2", headers=other_headers).status_code == 404
    # Acme's token is worthless on globex's host.
    assert other.get(BASE, headers=headers).status_code == 401
    make_user(acme, email="mod@example.com", role="moderator")
    mod_headers = bearer_headers(client, "mod@example.com")
    assert client.get(BASE, headers=mod_headers).status_code == 403
    assert client.get(BASE).status_code == 401
