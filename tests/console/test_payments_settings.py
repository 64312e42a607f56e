"""Console payments (issue 7): choose sandbox or Stripe, enter Stripe keys (stored encrypted,
shown masked, audited as "(changed)"), see the webhook URL; bad keys refused, nothing changed."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app.console.models import AuditEntry
from app.core.crypto import decrypt_secret
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.console.conftest import PASSWORD, admin_web, bearer, csrf_token, login

KEYS = {
    "publishable_key": "pk_test_51HxPublishable",
    "secret_key": "sk_test_51HxSecretValueA1b2",
    "webhook_secret": "whsec_SigningSecretZz9f3c",
}


def stored(in_tenant, tenant) -> dict:
    with in_tenant(tenant):
        row = db.session.get(MarketplaceSettings, 1)
        return {
            "provider": row.payment_provider,
            "publishable_key": row.stripe_publishable_key,
            "secret_key_encrypted": row.stripe_secret_key_encrypted,
            "webhook_secret_encrypted": row.stripe_webhook_secret_encrypted,
            "secret_key": decrypt_secret(row.stripe_secret_key_encrypted),
            "webhook_secret": decrypt_secret(row.stripe_webhook_secret_encrypted),
        }


def audit(in_tenant, tenant) -> list[dict]:
    with in_tenant(tenant):
        rows = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action.startswith("payments.")).order_by(AuditEntry.id)
        )
        return [{"action": r.action, "via": r.via, "summary": r.summary, "changes": r.changes} for r in rows]


def test_admin_switches_to_stripe_through_the_api_and_secrets_stay_secret(tenant_client, acme, in_tenant):
    client, headers = bearer(tenant_client, acme)
    body = client.get("/api/v1/console/payments", headers=headers).json
    assert body == {
        "provider": "sandbox",
        "publishable_key": None,
        "secret_key": None,
        "webhook_secret": None,
        "stripe_configured": False,
        "webhook_url": "http://acme.localhost/webhooks/stripe",
    }

    response = client.put("/api/v1/console/payments", json={"provider": "stripe", **KEYS}, headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["provider"] == "stripe" and response.json["stripe_configured"] is True
    assert response.json["publishable_key"] == KEYS["publishable_key"]
    assert response.json["secret_key"] == "sk_test_…A1b2"
    assert response.json["webhook_secret"] == "whsec_…9f3c"

    row = stored(in_tenant, acme)
    assert row["provider"] == "stripe" and row["secret_key"] == KEYS["secret_key"]
    assert row["webhook_secret"] == KEYS["webhook_secret"]
    assert KEYS["secret_key"] not in row["secret_key_encrypted"]  # encrypted at rest

    (entry,) = audit(in_tenant, acme)
    assert entry["action"] == "payments.update" and entry["via"] == "api"
    assert entry["changes"]["provider"] == ["sandbox", "stripe"]
    assert entry["changes"]["secret_key"] == "(changed)" and entry["changes"]["webhook_secret"] == "(changed)"
    written = json.dumps(entry)
    for secret in ("SecretValue", "SigningSecret", "A1b2", "9f3c"):
        assert secret not in written

    # A new webhook secret alone: the other keys are kept.
    response = client.put(
        "/api/v1/console/payments",
        json={"provider": "stripe", "webhook_secret": "whsec_RotatedSecret0000"},
        headers=headers,
    )
    assert response.status_code == 200 and response.json["webhook_secret"] == "whsec_…0000"
    row = stored(in_tenant, acme)
    assert row["secret_key"] == KEYS["secret_key"] and row["webhook_secret"] == "whsec_RotatedSecret0000"
    assert audit(in_tenant, acme)[-1]["changes"] == {"webhook_secret": "(changed)"}

    # Back to the sandbox: keys are kept, inactive.
    response = client.put("/api/v1/console/payments", json={"provider": "sandbox"}, headers=headers)
    assert response.status_code == 200 and response.json["provider"] == "sandbox"
    assert response.json["stripe_configured"] is True
    assert stored(in_tenant, acme)["provider"] == "sandbox"
    assert audit(in_tenant, acme)[-1]["changes"] == {"provider": ["stripe", "sandbox"]}
    # And to Stripe again without re-entering anything.
    assert client.put("/api/v1/console/payments", json={"provider": "stripe"}, headers=headers).json[
        "provider"
    ] == ("stripe")
    assert audit(in_tenant, acme)[-1]["changes"] == {"provider": ["sandbox", "stripe"]}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({**KEYS, "publishable_key": "sk_test_123"}, {"publishable_key"}),
        ({**KEYS, "secret_key": "pk_test_123"}, {"secret_key"}),
        ({**KEYS, "secret_key": "sk_test_has spaces"}, {"secret_key"}),
        ({**KEYS, "webhook_secret": "secret"}, {"webhook_secret"}),
        (
            {**KEYS, "secret_key": "sk_live_51HxLive"},
            {"secret_key"},
        ),  # live secret with a test publishable key
        ({"publishable_key": KEYS["publishable_key"]}, {"secret_key", "webhook_secret"}),
        ({}, {"publishable_key", "secret_key", "webhook_secret"}),
        ({**KEYS, "provider": "paypal"}, {"provider"}),
        ({**KEYS, "secret_key": "sk_test_" + "x" * 300}, {"secret_key"}),
    ],
)
def test_stripe_keys_of_the_wrong_shape_are_refused_field_by_field(
    tenant_client, acme, in_tenant, body, fields
):
    client, headers = bearer(tenant_client, acme)
    before = stored(in_tenant, acme)
    response = client.put("/api/v1/console/payments", json={"provider": "stripe", **body}, headers=headers)
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]["json"]) == fields
    assert stored(in_tenant, acme) == before and audit(in_tenant, acme) == []


def test_the_web_page_masks_keys_never_echoes_secrets_and_shows_the_webhook_url(
    tenant_client, acme, in_tenant
):
    client = admin_web(tenant_client, acme)
    html = client.get("/console/payments").get_data(as_text=True)
    assert "http://acme.localhost/webhooks/stripe" in html and "Sandbox" in html

    # A bad secret: the error is on its field, and no secret is written back into the form.
    response = client.post(
        "/console/payments",
        data={
            "csrf_token": csrf_token(client, "/console/payments"),
            "provider": "stripe",
            **KEYS,
            "secret_key": "sk_nope",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="secret_key-error"' in html and "must be a Stripe secret key" in html
    assert "sk_nope" not in html and KEYS["webhook_secret"] not in html
    assert stored(in_tenant, acme)["provider"] == "sandbox"

    response = client.post(
        "/console/payments",
        data={"csrf_token": csrf_token(client, "/console/payments"), "provider": "stripe", **KEYS},
    )
    assert response.status_code == 302
    html = client.get("/console/payments").get_data(as_text=True)
    assert "Payments now go through Stripe" in html
    assert "sk_test_…A1b2" in html and "whsec_…9f3c" in html
    assert KEYS["secret_key"] not in html and KEYS["webhook_secret"] not in html
    assert stored(in_tenant, acme)["secret_key"] == KEYS["secret_key"]
    assert audit(in_tenant, acme)[0]["via"] == "web"

    response = client.post(
        "/console/payments",
        data={"csrf_token": csrf_token(client, "/console/payments"), "provider": "sandbox"},
    )
    assert response.status_code == 302 and stored(in_tenant, acme)["provider"] == "sandbox"
    assert "The Stripe keys are stored but not in use" in client.get("/console/payments").get_data(
        as_text=True
    )


def test_moderators_cannot_see_or_change_payments(tenant_client, acme, in_tenant, make_user):
    make_user(acme, email="mod@acme.test", role="moderator")
    before = stored(in_tenant, acme)
    web = tenant_client("acme")
    login(web, "mod@acme.test", PASSWORD)
    assert web.get("/console/payments").status_code == 403
    token = csrf_token(web, "/account")
    assert (
        web.post("/console/payments", data={"csrf_token": token, "provider": "stripe", **KEYS}).status_code
        == 403
    )
    client, headers = bearer(tenant_client, acme, "mod@acme.test", PASSWORD)
    assert client.get("/api/v1/console/payments", headers=headers).status_code == 403
    response = client.put("/api/v1/console/payments", json={"provider": "stripe", **KEYS}, headers=headers)
    assert response.status_code == 403
    assert stored(in_tenant, acme) == before and audit(in_tenant, acme) == []


def test_an_operator_of_acme_cannot_see_or_touch_globex_payments(tenant_client, acme, globex, in_tenant):
    g_client, g_headers = bearer(tenant_client, globex)
    g_client.put("/api/v1/console/payments", json={"provider": "stripe", **KEYS}, headers=g_headers)
    globex_before = stored(in_tenant, globex)

    client, headers = bearer(tenant_client, acme)
    assert client.get("/api/v1/console/payments", headers=headers).json["stripe_configured"] is False
    other = tenant_client("globex")
    assert other.get("/api/v1/console/payments", headers=headers).status_code == 401
    assert (
        other.put("/api/v1/console/payments", json={"provider": "sandbox"}, headers=headers).status_code
        == 401
    )
    # Switching acme to Stripe with blank secrets cannot borrow globex's stored ones.
    response = client.put(
        "/api/v1/console/payments",
        json={"provider": "stripe", "publishable_key": KEYS["publishable_key"]},
        headers=headers,
    )
    assert response.status_code == 422
    assert stored(in_tenant, globex) == globex_before and stored(in_tenant, acme)["provider"] == "sandbox"
    assert len(audit(in_tenant, globex)) == 1 and audit(in_tenant, acme) == []
