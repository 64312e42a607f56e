"""The console's Webhooks pages: list, create (the secret shown once), edit with refusals on the
form, enable/disable, roll and reveal, ping, the endpoint page with its chart and log, a
delivery's page and replay; admins only."""

from __future__ import annotations

import re

from tests.conftest import ADMIN_PASSWORD
from tests.helpers import csrf_token, login


def _admin(tenant_client, tenant):
    return login(tenant_client(tenant.slug), f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def _create(client, url, types=("*",)):
    token = csrf_token(client, "/console/webhooks/new")
    return client.post(
        "/console/webhooks/new",
        data={
            "csrf_token": token,
            "url": url,
            "event_types": list(types),
            "enabled": "y",
            "description": "ERP",
        },
    )


def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(tenant_client, acme, receiver, deliver):
    r = receiver()
    client = _admin(tenant_client, acme)
    assert "Webhooks" in client.get("/console/webhooks").get_data(as_text=True)
    response = _create(client, r.url, ["order.paid", "user.registered"])
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    secret = re.search(r'data-testid="secret-value">(whsec_[^<]+)<', page).group(1)
    again = client.get(response.headers["Location"]).get_data(as_text=True)
    assert secret not in again  # shown once
    listing = client.get("/console/webhooks").get_data(as_text=True)
    assert r.url in listing and "Enabled" in listing

    token = csrf_token(client, "/console/webhooks/1")
    assert client.post("/console/webhooks/1/ping", data={"csrf_token": token}).status_code == 303
    deliver()
    page = client.get("/console/webhooks/1").get_data(as_text=True)
    assert (
        'data-testid="delivery-row-1"' in page
        and "Succeeded" in page
        and 'data-testid="chart-succeeded"' in page
    )
    delivery = client.get("/console/webhooks/1/deliveries/1").get_data(as_text=True)
    assert "Gigforge-Signature" in delivery and "HTTP 200" in delivery and '"type": "ping"' in delivery
    assert (
        client.post("/console/webhooks/1/deliveries/1/replay", data={"csrf_token": token}).status_code == 303
    )
    deliver()
    assert len(r.received) == 2
    filtered = client.get("/console/webhooks/1?status=failed").get_data(as_text=True)
    assert 'data-testid="no-deliveries"' in filtered
    assert 'data-testid="filter-error"' in client.get("/console/webhooks/1?status=bogus").get_data(
        as_text=True
    )

    revealed = client.post("/console/webhooks/1/reveal-secret", data={"csrf_token": token})
    assert secret in client.get(revealed.headers["Location"]).get_data(as_text=True)
    rolled = client.post("/console/webhooks/1/roll-secret", data={"csrf_token": token, "overlap_hours": "5"})
    new_page = client.get(rolled.headers["Location"]).get_data(as_text=True)
    assert "Old secret signs until" in new_page and secret not in new_page
    assert client.post("/console/webhooks/1/disable", data={"csrf_token": token}).status_code == 303
    assert "Disabled" in client.get("/console/webhooks").get_data(as_text=True)
    assert client.post("/console/webhooks/1/enable", data={"csrf_token": token}).status_code == 303
    assert client.post("/console/webhooks/1/delete", data={"csrf_token": token}).status_code == 303
    assert 'data-testid="no-webhooks"' in client.get("/console/webhooks").get_data(as_text=True)


def test_refusals_show_on_the_form_and_nothing_is_stored(tenant_client, acme):
    client = _admin(tenant_client, acme)
    response = _create(client, "ftp://nope", ["order.payed"])
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Use https://" in page or "absolute https://" in page
    assert "Unknown event types: order.payed" in page
    assert 'data-testid="no-webhooks"' in client.get("/console/webhooks").get_data(as_text=True)
    _create(client, "http://127.0.0.1:9/hook")
    edit = client.post(
        "/console/webhooks/1/edit",
        data={
            "csrf_token": csrf_token(client, "/console/webhooks/1/edit"),
            "url": "nope",
            "event_types": ["*"],
        },
    )
    assert edit.status_code == 422
    assert "absolute https:// URL" in edit.get_data(as_text=True)


def test_moderators_and_members_may_not_open_webhooks(tenant_client, acme, make_user):
    make_user(acme, email="mod@example.com", role="moderator")
    client = login(tenant_client("acme"), "mod@example.com")
    assert client.get("/console/webhooks").status_code == 403
    assert "/console/webhooks" not in client.get("/console/users").get_data(as_text=True)
