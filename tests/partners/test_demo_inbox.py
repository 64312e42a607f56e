"""The demo's webhook receiver (app/demo/inbox.py) and the demo's partner integration
(app/demo/partners.py): what `make run` shows a partner at once."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from app.accounts.api_keys import hash_key
from app.accounts.models import ApiKey
from app.demo import partners
from app.webhooks import services, signing
from app.webhooks.models import WebhookEndpoint
from tenants.db import db
from tests.webhooks.conftest import admin_of


def _signed(secret: str, body: dict) -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    header = signing.header_value([secret], int(time.time()), raw)
    return raw, {
        signing.HEADER: header,
        "Content-Type": "application/json",
        "Gigforge-Event-Type": body["type"],
    }


def test_the_inbox_keeps_verified_deliveries_and_refuses_forged_ones(
    acme, globex, platform_client, in_tenant
):
    with in_tenant(acme):
        _, secret = services.create_endpoint(
            admin_of(acme), url="http://localhost/dev/webhook-inbox/acme", event_types=["*"]
        )
        db.session.commit()
    raw, headers = _signed(secret, {"id": "evt_1", "type": "order.paid", "data": {"object": {"id": 7}}})
    assert platform_client.post("/dev/webhook-inbox/acme", data=raw, headers=headers).status_code == 204
    forged, headers = _signed("whsec_not-the-secret", {"id": "evt_2", "type": "order.placed"})
    assert platform_client.post("/dev/webhook-inbox/acme", data=forged, headers=headers).status_code == 400
    # Signed for acme, posted as globex's: globex has no such secret.
    assert platform_client.post("/dev/webhook-inbox/globex", data=raw, headers=headers).status_code == 400

    page = platform_client.get("/dev/webhook-inbox/acme").get_data(as_text=True)
    assert "order.paid" in page and "verified" in page and "invalid" in page
    of_globex = platform_client.get("/dev/webhook-inbox/globex").get_data(as_text=True)
    assert "badge-bad" in of_globex and "badge-ok" not in of_globex  # kept, shown as not verified
    assert platform_client.get("/dev/webhook-inbox/nosuchmarket").status_code == 404


def test_the_demo_partner_key_and_endpoint_are_added_once(acme, make_user, in_tenant):
    make_user(acme, email="buyer@acme.test", display_name="Bob Buyer")
    with in_tenant(acme):
        first = partners.seed_partners("acme", "buyer@acme.test")
        again = partners.seed_partners("acme", "buyer@acme.test")
        key = db.session.scalars(sa.select(ApiKey)).one()
        endpoint = db.session.scalars(sa.select(WebhookEndpoint)).one()
    assert first == again and partners.demo_key("acme") in first[0]
    assert key.key_hash == hash_key(partners.demo_key("acme")) and "orders:write" in key.scopes
    assert endpoint.url.endswith("/dev/webhook-inbox/acme") and "order.paid" in endpoint.event_types
