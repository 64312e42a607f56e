"""#19's "Done when", as a partner lives it, over real HTTP against a live server:

an operator registers a local receiver for order and payment events (console API) and makes a
scoped API key acting as a buyer; the partner's script (docs/examples/order_and_pay.py) places
and pays for an order through the API with that key alone; the receiver gets the events, signed
with the endpoint's secret, in order of occurrence; the key was refused outside its scopes; and
every call it made is in its call log.
"""

from __future__ import annotations

import requests
import sqlalchemy as sa

from app.accounts.models import ApiKeyCall, User
from app.orders.models import Order
from app.webhooks import signing
from tenants.db import db
from tests.api.test_example_order_and_pay import run_example
from tests.conftest import ADMIN_PASSWORD

# The order and payment events of a gig order (escrow.funded / released are a milestone's).
EVENTS = ["order.placed", "order.paid", "order.requirements_submitted"]
SUBSCRIBED = [*EVENTS, "escrow.funded", "escrow.released", "refund.completed"]


def _api(live_server, tenant):
    session = requests.Session()
    session.headers["Host"] = f"{tenant.slug}.localhost:{live_server.port}"
    base = f"http://127.0.0.1:{live_server.port}/api/v1"
    return session, base


def test_a_partner_orders_and_pays_with_a_scoped_key_and_receives_the_signed_events(
    acme, market, live_server, receiver, deliver, in_tenant
):
    m = market(acme)
    with in_tenant(acme):
        buyer = db.session.get(User, m.buyer_id)
        buyer.handle = buyer.handle or "bobbuyer"
        buyer_handle = buyer.handle
        db.session.commit()
    http, api = _api(live_server, acme)
    token = http.post(f"{api}/auth/token", json={"email": "admin@acme.test", "password": ADMIN_PASSWORD})
    assert token.status_code == 200, token.text
    operator = {"Authorization": f"Bearer {token.json()['access_token']}"}

    inbox = receiver()
    created = http.post(
        f"{api}/console/webhook-endpoints",
        json={"url": inbox.url, "event_types": SUBSCRIBED, "description": "Order sync"},
        headers=operator,
    )
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith(f"/webhook-endpoints/{created.json()['id']}")
    secret = created.json()["secret"]

    key = http.post(
        f"{api}/console/api-keys",
        json={
            "name": "Buyer bot",
            "scopes": ["catalog:read", "orders:read", "orders:write", "payments:write"],
            "user_handle": buyer_handle,
        },
        headers=operator,
    )
    assert key.status_code == 201, key.text
    partner_key = key.json()["secret"]
    assert key.json()["acts_as"]["handle"] == buyer_handle, key.json()
    as_partner = {"Authorization": f"Bearer {partner_key}"}

    # Outside its scopes the key is refused, and nothing it could not do happens.
    refused = http.get(f"{api}/conversations", headers=as_partner)
    assert refused.status_code == 403 and "messaging:read" in refused.text

    done = run_example(live_server, GIGFORGE_API_KEY=partner_key, GIGFORGE_QUERY="logo")
    assert done.returncode == 0, done.stdout + done.stderr
    with in_tenant(acme):
        order = db.session.scalars(sa.select(Order).where(Order.buyer_id == m.buyer_id)).one()
        assert order.paid_at is not None
        order_id = order.id
    submitted = http.post(
        f"{api}/orders/{order_id}/requirements", json={"requirements": "Navy and gold."}, headers=as_partner
    )
    assert submitted.status_code in (200, 201), submitted.text

    deliver()
    got = [(r.headers["Gigforge-Event-Type"], r.json) for r in inbox.received]
    assert [name for name, _ in got] == EVENTS  # in order of occurrence, nothing else
    for r in inbox.received:
        assert signing.verify(r.body, r.headers[signing.HEADER], secret)
        body = r.json
        assert body["tenant"] == "acme" and body["id"] == r.headers["Gigforge-Event-Id"]
    objects = {name: body["data"]["object"] for name, body in got}
    assert objects["order.placed"]["id"] == order_id and objects["order.paid"]["status"] != "awaiting_payment"

    with in_tenant(acme):
        calls = db.session.scalars(sa.select(ApiKeyCall).order_by(ApiKeyCall.id)).all()
        assert {c.status for c in calls} >= {200, 201, 403}
        assert any(
            c.route == "/api/v1/orders/<int(max=9223372036854775807):order_id>/payment-session" for c in calls
        ), [c.route for c in calls]
