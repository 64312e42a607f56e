"""The marketplace's locale (how amounts are written and read): set by an operator admin on
the web or through the API, any locale Babel knows, stored normalized, audited, in the cached
branding at once; an unknown locale is refused and nothing changes."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.console.models import AuditEntry
from app.core import money
from app.settings.models import MarketplaceSettings
from app.settings.services import get_branding
from tenants.db import db
from tests.conftest import ADMIN_PASSWORD
from tests.console.conftest import bearer, form_data, login


def _stored(in_tenant, tenant) -> tuple[str, str, int]:
    with in_tenant(tenant):
        row = db.session.get(MarketplaceSettings, 1)
        return row.locale, row.currency, row.commission_min_fee_minor


def test_new_marketplaces_write_amounts_the_american_way(acme, in_tenant):
    assert _stored(in_tenant, acme)[0] == "en_US"
    with in_tenant(acme):
        assert get_branding().locale == "en_US" and money.marketplace_locale() == "en_US"
        assert money.format(123450, "USD") == "$1,234.50"


def test_admin_sets_the_locale_through_the_api_and_amounts_follow_at_once(tenant_client, acme, in_tenant):
    client, headers = bearer(tenant_client, acme)
    assert client.get("/api/v1/console/settings", headers=headers).json["locale"] == "en_US"
    response = client.patch("/api/v1/console/settings", json={"locale": "de-DE"}, headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["locale"] == "de_DE"
    with in_tenant(acme):
        assert get_branding().locale == "de_DE"  # the cached branding was dropped
        assert money.format(123450, "USD") == "1.234,50\u00a0$"
        assert money.parse("1.234,50", "USD") == 123450
        entry = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "settings.update").order_by(AuditEntry.id.desc())
        ).first()
        assert entry.changes["locale"] == ["en_US", "de_DE"]


def test_an_unknown_locale_is_refused_through_the_api_and_nothing_changes(tenant_client, acme, in_tenant):
    client, headers = bearer(tenant_client, acme)
    before = _stored(in_tenant, acme)
    for bad in ("xx_YY", "", "de_DE; DROP TABLE", 42):
        response = client.patch(
            "/api/v1/console/settings", json={"locale": bad, "clearance_days": 9}, headers=headers
        )
        assert response.status_code == 422, (bad, response.json)
        assert "locale" in response.json["errors"]["json"], bad
    assert _stored(in_tenant, acme) == before
    with in_tenant(acme):
        assert db.session.get(MarketplaceSettings, 1).clearance_days == 7


def test_admin_sets_the_locale_on_the_web_and_the_fee_is_read_in_it(tenant_client, acme, in_tenant):
    client = tenant_client("acme")
    login(client, "admin@acme.test", ADMIN_PASSWORD)
    page = client.get("/console/settings").get_data(as_text=True)
    assert 'data-testid="locale"' in page and 'value="hu_HU"' in page
    # Hungarian: a decimal comma. The fee is read in the locale being saved.
    response = client.post(
        "/console/settings", data=form_data(client, locale="hu_HU", commission_min_fee="1,50")
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert _stored(in_tenant, acme) == ("hu_HU", "USD", 150)
    page = client.get("/console/settings").get_data(as_text=True)
    assert re.search(r'id="commission_min_fee"[^>]*value="1,50"', page)
    assert re.search(r'<option selected value="hu_HU">|<option value="hu_HU" selected>', page)


def test_an_unknown_locale_on_the_web_is_shown_on_its_field_and_changes_nothing(
    tenant_client, acme, in_tenant
):
    client = tenant_client("acme")
    login(client, "admin@acme.test", ADMIN_PASSWORD)
    before = _stored(in_tenant, acme)
    response = client.post(
        "/console/settings", data=form_data(client, locale="klingon", commission_min_fee="2.00")
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="locale-error"' in html and "must be a locale like en_US" in html
    assert _stored(in_tenant, acme) == before


def test_a_locale_set_through_the_api_stays_selected_on_the_web(tenant_client, acme, in_tenant):
    client, headers = bearer(tenant_client, acme)
    assert (
        client.patch("/api/v1/console/settings", json={"locale": "fr_CH"}, headers=headers).status_code == 200
    )
    web = tenant_client("acme")
    login(web, "admin@acme.test", ADMIN_PASSWORD)
    page = web.get("/console/settings").get_data(as_text=True)
    assert re.search(r'<option selected value="fr_CH">|<option value="fr_CH" selected>', page)
    # Saving the page without touching the list keeps it.
    assert web.post("/console/settings", data=form_data(web, locale="fr_CH")).status_code == 302
    assert _stored(in_tenant, acme)[0] == "fr_CH"
