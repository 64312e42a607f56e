"""Location settings (#18): an operator turns local services on and picks a default country,
on the web and through the API; bad input is refused and changes nothing; the branding cache
follows at once."""

from __future__ import annotations

import pytest

from app.settings.models import MarketplaceSettings
from app.settings.services import get_branding
from tenants.db import db
from tests.console.conftest import admin_web, bearer, form_data


def location(in_tenant, tenant) -> tuple:
    with in_tenant(tenant):
        row = db.session.get(MarketplaceSettings, 1)
        return row.location_enabled, row.default_country


def test_the_admin_turns_location_on_with_a_default_country(tenant_client, acme, globex, in_tenant):
    client = admin_web(tenant_client, acme)
    html = client.get("/console/settings").get_data(as_text=True)
    assert 'id="location_enabled"' in html and '<option value="DE">Germany</option>' in html
    response = client.post(
        "/console/settings", data=form_data(client, location_enabled="y", default_country="DE")
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert location(in_tenant, acme) == (True, "DE")
    assert location(in_tenant, globex) == (False, None)  # the other marketplace is untouched
    with in_tenant(acme):
        branding = get_branding()
        assert branding.location_enabled is True and branding.default_country == "DE"
    # Off again, no country.
    client.post("/console/settings", data=form_data(client, location_enabled="", default_country=""))
    assert location(in_tenant, acme) == (False, None)


def test_a_bad_default_country_is_refused_on_the_web(tenant_client, acme, in_tenant):
    client = admin_web(tenant_client, acme)
    response = client.post("/console/settings", data=form_data(client, default_country="XX"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="default_country-error"' in html and "country code" in html
    assert location(in_tenant, acme) == (False, None)


def test_the_api_reads_and_patches_location(tenant_client, acme, in_tenant):
    client, headers = bearer(tenant_client, acme)
    body = client.get("/api/v1/console/settings", headers=headers).json
    assert body["location_enabled"] is False and body["default_country"] is None
    response = client.patch(
        "/api/v1/console/settings", json={"location_enabled": True, "default_country": "fr"}, headers=headers
    )
    assert response.status_code == 200, response.json
    assert response.json["location_enabled"] is True and response.json["default_country"] == "FR"
    assert location(in_tenant, acme) == (True, "FR")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"default_country": "Germany"}, "default_country"),
        ({"default_country": "ZZ"}, "default_country"),
        ({"location_enabled": "maybe"}, "location_enabled"),
    ],
)
def test_bad_location_settings_through_the_api_change_nothing(tenant_client, acme, in_tenant, body, field):
    client, headers = bearer(tenant_client, acme)
    response = client.patch("/api/v1/console/settings", json=body, headers=headers)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"]
    assert location(in_tenant, acme) == (False, None)
