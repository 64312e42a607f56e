"""Gig prices typed the marketplace's way: a German marketplace in euros reads "1.234,50",
a yen or forint marketplace reads "5000" as 5000 units (no cents), and shows them back in
its own format. Bad amounts are refused on their field and the gig is unchanged."""

# The imported fixture is then named as a test parameter.
# ruff: noqa: F811

from __future__ import annotations

import re

import pytest

from app.settings import services as settings
from tenants.db import db
from tests.gigs.test_web import _edit, seller_client  # noqa: F401  (fixture)

NBSP = "\u00a0"


def use_currency(in_tenant, tenant, currency: str, locale: str = "en_US") -> None:
    with in_tenant(tenant):
        settings.update_marketplace_settings(currency=currency, locale=locale)
        db.session.commit()


def test_a_german_marketplace_reads_and_writes_prices_the_german_way(
    acme, seller_client, web, make_gig, gig_row, in_tenant
):
    use_currency(in_tenant, acme, "EUR", "de_DE")
    client, seller_id = seller_client(acme)
    gig_id = make_gig(acme, seller_id)
    response = _edit(
        client,
        web,
        gig_id,
        **{"basic-price": "1.234,50", "premium-price": "2500.75", "extras-0-price": "30,5"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    row = gig_row(acme, gig_id)
    assert [p[2] for p in row["packages"]] == [123450, 250075]
    assert [e[1] for e in row["extras"]] == [3050]

    form = client.get(f"/seller/gigs/{gig_id}/edit").get_data(as_text=True)
    assert re.search(r'id="basic-price"[^>]*value="1234,50"', form), "the box is prefilled the German way"
    page = client.get(f"/gigs/{row['slug']}").get_data(as_text=True)
    assert f'data-testid="price-basic"><strong>1.234,50{NBSP}€</strong>' in page
    assert f"+30,50{NBSP}€" in page


@pytest.mark.parametrize(
    "currency, locale, typed, minor, shown",
    [
        ("JPY", "en_US", "5000", 5000, "¥5,000"),
        ("JPY", "ja_JP", "5,000", 5000, "￥5,000"),
        ("HUF", "hu_HU", "5000", 5000, f"5{NBSP}000{NBSP}Ft"),
        ("HUF", "en_US", "5,000", 5000, f"HUF{NBSP}5,000"),
        ("KWD", "en_US", "5.125", 5125, f"KWD{NBSP}5.125"),
    ],
)
def test_prices_in_currencies_without_cents_or_with_fils(
    currency, locale, typed, minor, shown, acme, seller_client, web, make_gig, gig_row, in_tenant
):
    use_currency(in_tenant, acme, currency, locale)
    client, seller_id = seller_client(acme)
    gig_id = make_gig(acme, seller_id)
    response = _edit(client, web, gig_id, **{"basic-price": typed})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    row = gig_row(acme, gig_id)
    assert row["packages"][0][2] == minor
    page = client.get(f"/gigs/{row['slug']}").get_data(as_text=True)
    assert f'data-testid="price-basic"><strong>{shown}</strong>' in page


@pytest.mark.parametrize(
    "currency, locale, typed, message",
    [
        ("JPY", "en_US", "5000.5", "Amounts in JPY are whole numbers, without decimals."),
        ("HUF", "hu_HU", "5000,50", "Amounts in HUF are whole numbers, without decimals."),
        ("KWD", "en_US", "5.1234", "Use at most 3 decimals for KWD."),
        ("EUR", "de_DE", "12,345", "Use at most 2 decimals for EUR."),
        ("EUR", "de_DE", "zwölf", "Enter an amount like 45 or 45,50."),
        ("USD", "en_US", "NaN", "Enter an amount like 45 or 45.50."),
        ("USD", "en_US", "1e6", "Enter an amount like 45 or 45.50."),
    ],
)
def test_bad_prices_are_refused_on_their_field_and_change_nothing(
    currency, locale, typed, message, acme, seller_client, web, make_gig, gig_row, in_tenant
):
    use_currency(in_tenant, acme, currency, locale)
    client, seller_id = seller_client(acme)
    gig_id = make_gig(acme, seller_id)
    before = gig_row(acme, gig_id)
    response = _edit(client, web, gig_id, **{"basic-price": typed})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert re.search(r'id="basic-price-error"[^>]*>' + re.escape(message), body), body[:3000]
    assert gig_row(acme, gig_id) == before
