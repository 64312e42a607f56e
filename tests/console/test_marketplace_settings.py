"""Console marketplace settings (issue 7): currency, commission, delays, payout schedule,
gig approval and support email; on the web and the API, audited, bad input refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.console.models import AuditEntry
from app.orders import services as orders
from app.settings.models import MarketplaceSettings
from app.settings.services import get_branding
from tenants.db import db
from tests.console.conftest import PASSWORD, admin_web, bearer, csrf_token, form_data, login
from tests.orders.conftest import drive, market  # noqa: F401  (fixture)

FIELDS = (
    "currency",
    "commission_bps",
    "commission_min_fee_minor",
    "auto_complete_days",
    "clearance_days",
    "cancellation_auto_resolve_days",
    "payout_schedule",
    "gigs_require_approval",
    "support_email",
)


def stored(in_tenant, tenant) -> dict:
    with in_tenant(tenant):
        row = db.session.get(MarketplaceSettings, 1)
        return {field: getattr(row, field) for field in FIELDS}


def audit(in_tenant, tenant) -> list[AuditEntry]:
    with in_tenant(tenant):
        rows = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action.startswith("settings.")).order_by(AuditEntry.id)
        ).all()
        for r in rows:
            db.session.expunge(r)
        return list(rows)


def test_admin_changes_every_setting_on_the_web(tenant_client, acme, in_tenant):
    client = admin_web(tenant_client, acme)
    html = client.get("/console/settings").get_data(as_text=True)
    assert 'value="10.00"' in html and 'value="1.00"' in html  # 1000 bps, 100 cents

    response = client.post(
        "/console/settings",
        data=form_data(
            client,
            currency="EUR",
            commission_percent="12.5",
            commission_min_fee="2.50",
            auto_complete_days="5",
            clearance_days="14",
            cancellation_auto_resolve_days="4",
            payout_schedule="weekly",
            gigs_require_approval="y",
            support_email="Help@Acme.test",
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert stored(in_tenant, acme) == {
        "currency": "EUR",
        "commission_bps": 1250,
        "commission_min_fee_minor": 250,
        "auto_complete_days": 5,
        "clearance_days": 14,
        "cancellation_auto_resolve_days": 4,
        "payout_schedule": "weekly",
        "gigs_require_approval": True,
        "support_email": "Help@Acme.test",
    }
    (entry,) = audit(in_tenant, acme)
    assert entry.action == "settings.update" and entry.via == "web"
    assert entry.changes["commission_percent"] == ["10.00", "12.50"]
    assert entry.changes["currency"] == ["USD", "EUR"]
    assert entry.changes["gigs_require_approval"] == [False, True]
    # Cached values follow at once: the branding (currency, support email) and the page.
    with in_tenant(acme):
        assert get_branding().currency == "EUR" and orders.commission_for(10_000) == 1250
    footer = tenant_client("acme").get("/").get_data(as_text=True)
    assert "Help@Acme.test" in footer
    assert "Settings saved" in client.get("/console/settings").get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("commission_percent", "50.01", "between 0 and 50"),
        ("commission_percent", "-1", "between 0 and 50"),
        ("commission_percent", "12.345", "at most 2 decimals"),
        ("commission_percent", "ten", "a number like 12.5"),
        ("commission_percent", "NaN", "a number like 12.5"),
        ("commission_min_fee", "-1", "must not be negative"),
        ("commission_min_fee", "1.234", "Use at most 2 decimals for USD."),
        ("commission_min_fee", "lots", "Enter an amount like 45 or 45.50."),
        ("commission_min_fee", "99999999", "at most 1000000 minor units"),
        ("auto_complete_days", "0", "from 1 to 60"),
        ("clearance_days", "91", "from 0 to 90"),
        ("cancellation_auto_resolve_days", "x", "Not a valid integer value"),
        ("payout_schedule", "hourly", "must be one of manual, daily, weekly"),
        ("currency", "XYZ", "must be one of"),
        ("support_email", "not-an-email", "must be an email address"),
    ],
)
def test_bad_settings_on_the_web_are_shown_on_their_field_and_change_nothing(
    tenant_client, acme, in_tenant, field, value, message
):
    client = admin_web(tenant_client, acme)
    before = stored(in_tenant, acme)
    response = client.post("/console/settings", data=form_data(client, **{field: value}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html, html[:3000]
    assert message in html
    assert stored(in_tenant, acme) == before
    assert audit(in_tenant, acme) == []


def test_settings_api_reads_and_patches(tenant_client, acme, in_tenant):
    client, headers = bearer(tenant_client, acme)
    body = client.get("/api/v1/console/settings", headers=headers).json
    assert body["commission_percent"] == 10.0 and body["commission_bps"] == 1000
    assert body["currency_locked"] is None and "EUR" in body["currencies"]

    response = client.patch(
        "/api/v1/console/settings",
        json={"commission_percent": 7.25, "commission_min_fee_minor": 0, "gigs_require_approval": True},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["commission_percent"] == 7.25 and response.json["commission_bps"] == 725
    assert response.json["commission_min_fee_minor"] == 0 and response.json["gigs_require_approval"] is True
    (entry,) = audit(in_tenant, acme)
    assert entry.via == "api" and set(entry.changes) == {
        "commission_percent",
        "commission_min_fee_minor",
        "gigs_require_approval",
    }
    assert (
        client.patch(
            "/api/v1/console/settings", json={"commission_percent": "7.25"}, headers=headers
        ).status_code
        == 200
    )
    assert len(audit(in_tenant, acme)) == 1  # nothing changed, nothing audited


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"commission_percent": 51}, {"commission_percent"}),
        ({"commission_percent": -0.5}, {"commission_percent"}),
        ({"commission_percent": 1.005}, {"commission_percent"}),
        ({"commission_percent": "abc"}, {"commission_percent"}),
        ({"commission_min_fee_minor": -1}, {"commission_min_fee_minor"}),
        ({"commission_min_fee_minor": 1.5}, {"commission_min_fee_minor"}),
        ({"commission_min_fee_minor": "100"}, {"commission_min_fee_minor"}),
        ({"auto_complete_days": 0, "clearance_days": -1}, {"auto_complete_days", "clearance_days"}),
        ({"cancellation_auto_resolve_days": 31}, {"cancellation_auto_resolve_days"}),
        ({"payout_schedule": "yearly"}, {"payout_schedule"}),
        ({"gigs_require_approval": "maybe"}, {"gigs_require_approval"}),
        ({"currency": "usd!"}, {"currency"}),
        ({"support_email": "a@b"}, {"support_email"}),
        ({"name": "Not here"}, {"name"}),
    ],
)
def test_bad_settings_through_the_api_get_422_field_errors_and_change_nothing(
    tenant_client, acme, in_tenant, body, fields
):
    client, headers = bearer(tenant_client, acme)
    before = stored(in_tenant, acme)
    response = client.patch("/api/v1/console/settings", json=body, headers=headers)
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]["json"]) == fields
    assert stored(in_tenant, acme) == before
    assert audit(in_tenant, acme) == []


def test_the_currency_is_locked_once_the_marketplace_has_an_order(tenant_client, acme, in_tenant, market):  # noqa: F811
    client, headers = bearer(tenant_client, acme)
    m = market(acme)
    # With gigs priced in cents, a currency with the same decimals is still fine...
    assert (
        client.patch("/api/v1/console/settings", json={"currency": "GBP"}, headers=headers).status_code == 200
    )
    # ...but one whose minor unit differs would change every price's value.
    response = client.patch("/api/v1/console/settings", json={"currency": "JPY"}, headers=headers)
    assert (
        response.status_code == 409
        and "Gig prices are stored in minor units of GBP" in response.json["message"]
    )
    assert (
        client.patch("/api/v1/console/settings", json={"currency": "USD"}, headers=headers).status_code == 200
    )

    with in_tenant(acme):
        drive(m, "awaiting_payment")
    before = stored(in_tenant, acme)
    response = client.patch(
        "/api/v1/console/settings", json={"currency": "EUR", "clearance_days": 10}, headers=headers
    )
    assert response.status_code == 409
    assert "cannot change once the marketplace has orders" in response.json["errors"]["json"]["currency"][0]
    assert stored(in_tenant, acme) == before  # the other field did not change either
    assert (
        client.get("/api/v1/console/settings", headers=headers)
        .json["currency_locked"]
        .startswith("The currency cannot change")
    )
    web = admin_web(tenant_client, acme)
    html = web.get("/console/settings").get_data(as_text=True)
    assert 'data-testid="currency-locked"' in html and 'id="currency-locked" value="USD" disabled' in html
    response = web.post("/console/settings", data=form_data(web, currency="EUR"))
    assert (
        response.status_code == 409
        and "cannot change once the marketplace has orders" in response.get_data(as_text=True)
    )
    # Other settings still save with the same currency.
    assert web.post("/console/settings", data=form_data(web, clearance_days="10")).status_code == 302
    assert stored(in_tenant, acme)["clearance_days"] == 10


def test_moderators_cannot_read_or_change_settings(tenant_client, acme, in_tenant, make_user):
    make_user(acme, email="mod@acme.test", role="moderator")
    before = stored(in_tenant, acme)
    web = tenant_client("acme")
    login(web, "mod@acme.test", PASSWORD)
    assert web.get("/console/settings").status_code == 403
    token = csrf_token(web, "/account")
    assert (
        web.post("/console/settings", data={"csrf_token": token, "commission_percent": "0"}).status_code
        == 403
    )
    client, headers = bearer(tenant_client, acme, "mod@acme.test", PASSWORD)
    assert client.get("/api/v1/console/settings", headers=headers).status_code == 403
    assert (
        client.patch("/api/v1/console/settings", json={"commission_percent": 0}, headers=headers).status_code
        == 403
    )
    assert stored(in_tenant, acme) == before and audit(in_tenant, acme) == []


def test_an_operator_of_acme_cannot_see_or_touch_globex_settings(tenant_client, acme, globex, in_tenant):
    client, headers = bearer(tenant_client, acme)
    globex_before = stored(in_tenant, globex)
    other = tenant_client("globex")
    assert other.get("/api/v1/console/settings", headers=headers).status_code == 401
    assert (
        other.patch("/api/v1/console/settings", json={"commission_percent": 0}, headers=headers).status_code
        == 401
    )
    assert (
        client.patch("/api/v1/console/settings", json={"commission_percent": 20}, headers=headers).status_code
        == 200
    )
    assert stored(in_tenant, acme)["commission_bps"] == 2000
    assert stored(in_tenant, globex) == globex_before and audit(in_tenant, globex) == []
