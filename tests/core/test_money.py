"""The one money module: exponents, parsing what people type, formatting what they read,
and Stripe's integers. No database: these are pure functions (locale given explicitly,
or the default outside a tenant)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.core import money

NBSP = "\u00a0"


@pytest.mark.parametrize(
    "currency, digits",
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("HUF", 0), ("TWD", 0), ("ISK", 0), ("KRW", 0), ("KWD", 3)]
    + [("BHD", 3), ("JOD", 3), ("OMR", 3), ("TND", 3), ("usd", 2)],
)
def test_exponents_come_from_one_table(currency, digits):
    assert money.exponent(currency) == digits
    assert money.minor_unit(currency) == 10**digits


def test_every_selectable_currency_has_an_exponent_and_hungarian_forint_and_kuwaiti_dinar_are_offered():
    from app.settings.services import CURRENCIES

    assert {"HUF", "KWD"} <= set(CURRENCIES)
    assert all(money.exponent(code) in (0, 2, 3) for code in CURRENCIES)


def test_something_that_is_not_a_currency_is_refused():
    for bad in ("XYZ", "US", "", None, "DOLLARS"):
        with pytest.raises(money.MoneyError) as exc:
            money.exponent(bad)
        assert exc.value.code == "currency"


@pytest.mark.parametrize(
    "text, currency, locale, minor",
    [
        ("45.50", "USD", "en_US", 4550),
        ("1,234.50", "USD", "en_US", 123450),
        ("$1,234.50", "USD", "en_US", 123450),
        ("45", "USD", "en_US", 4500),
        (".5", "USD", "en_US", 50),
        ("1.234,50", "EUR", "de_DE", 123450),
        ("1234,50", "EUR", "de_DE", 123450),
        ("1234.50", "EUR", "de_DE", 123450),  # the plain form works in every locale
        ("45,5", "EUR", "de_DE", 4550),
        ("1.234", "EUR", "de_DE", 123400),  # the locale's reading wins where both fit
        ("1 234,50", "EUR", "fr_FR", 123450),  # a plain space for the narrow no-break one
        ("1 234,50 €", "EUR", "fr_FR", 123450),
        ("5000", "JPY", "en_US", 5000),  # 5000 yen, not 50
        ("¥5,000", "JPY", "en_US", 5000),
        ("5000", "HUF", "en_US", 5000),  # 5000 forints, not 500000 fillér
        ("5 000 Ft", "HUF", "hu_HU", 5000),
        ("5000", "TWD", "en_US", 5000),
        ("1.234", "KWD", "en_US", 1234),
        ("12.5", "KWD", "en_US", 12500),
        ("KWD 12", "KWD", "en_US", 12000),
        ("1'234.50", "CHF", "de_CH", 123450),
        ("0", "USD", "en_US", 0),
        ("  45.50  ", "USD", "en_US", 4550),
    ],
)
def test_parse_reads_the_locales_form_and_the_plain_form(text, currency, locale, minor):
    assert money.parse(text, currency, locale=locale) == minor


@pytest.mark.parametrize(
    "text, currency, locale, code, message",
    [
        ("", "USD", "en_US", "empty", "Enter an amount."),
        ("   ", "USD", "en_US", "empty", "Enter an amount."),
        ("abc", "USD", "en_US", "invalid", "Enter an amount like 45 or 45.50."),
        ("abc", "EUR", "de_DE", "invalid", "Enter an amount like 45 or 45,50."),
        ("abc", "JPY", "en_US", "invalid", "Enter an amount like 5000."),
        ("abc", "KWD", "en_US", "invalid", "Enter an amount like 12 or 12.500."),
        ("NaN", "USD", "en_US", "invalid", None),
        ("inf", "USD", "en_US", "invalid", None),
        ("Infinity", "USD", "en_US", "invalid", None),
        ("1e5", "USD", "en_US", "invalid", None),
        ("1e999999", "USD", "en_US", "invalid", None),
        ("12,34", "USD", "en_US", "invalid", None),
        ("1,234.50", "EUR", "de_DE", "invalid", None),
        ("4 5", "USD", "en_US", "invalid", None),
        ("9" * 41, "USD", "en_US", "invalid", None),
        ("45.555", "USD", "en_US", "decimals", "Use at most 2 decimals for USD."),
        ("45,555", "EUR", "de_DE", "decimals", "Use at most 2 decimals for EUR."),
        ("5.5", "JPY", "en_US", "decimals", "Amounts in JPY are whole numbers, without decimals."),
        ("5000.50", "HUF", "en_US", "decimals", "Amounts in HUF are whole numbers, without decimals."),
        ("1.2345", "KWD", "en_US", "decimals", "Use at most 3 decimals for KWD."),
        ("-5", "USD", "en_US", "negative", "The amount cannot be negative."),
        ("−5", "USD", "en_US", "negative", "The amount cannot be negative."),  # U+2212 minus
        ("10000000000.01", "USD", "en_US", "too_large", "This amount is too large."),
        ("1000000000001", "JPY", "en_US", "too_large", "This amount is too large."),
        ("9" * 39, "USD", "en_US", "too_large", "This amount is too large."),
    ],
)
def test_parse_refuses_with_a_sentence_for_the_field(text, currency, locale, code, message):
    with pytest.raises(money.MoneyError) as exc:
        money.parse(text, currency, locale=locale)
    assert exc.value.code == code
    assert isinstance(exc.value, ValueError)
    if message:
        assert str(exc.value) == message


def test_parse_optional_gives_none_for_an_empty_box_and_negatives_only_when_allowed():
    assert money.parse_optional("", "USD") is None
    assert money.parse_optional(None, "USD") is None
    assert money.parse_optional("-5", "USD", allow_negative=True) == -500
    assert money.parse("-0", "USD") == 0


def test_parse_defaults_to_en_us_without_a_marketplace():
    assert money.marketplace_locale() == "en_US"
    assert money.parse("1,234.50", "USD") == 123450


@pytest.mark.parametrize(
    "minor, currency, locale, text",
    [
        (4550, "USD", "en_US", "$45.50"),
        (-4550, "USD", "en_US", "-$45.50"),
        (0, "USD", "en_US", "$0.00"),
        (5000, "JPY", "en_US", "¥5,000"),
        (5000, "HUF", "hu_HU", f"5{NBSP}000{NBSP}Ft"),
        (5000, "HUF", "en_US", f"HUF{NBSP}5,000"),  # CLDR's spacing after a code
        (5000, "TWD", "en_US", "NT$5,000"),  # our table: no decimals, though Babel says 2
        (1234, "KWD", "en_US", f"KWD{NBSP}1.234"),
        (123450, "EUR", "de_DE", f"1.234,50{NBSP}€"),
        (123450, "EUR", "en_US", "€1,234.50"),
        (100, "CAD", "en_US", "CA$1.00"),
    ],
)
def test_format_uses_the_locale_and_the_currencys_decimals(minor, currency, locale, text):
    assert money.format(minor, currency, locale=locale) == text
    # Kept per amount, currency and locale: the second answer is the kept text, the same one.
    assert money.format(minor, currency.lower(), locale=money.Locale.parse(locale)) == text


def test_a_kept_format_is_keyed_by_amount_currency_and_locale():
    money._formatted.cache_clear()
    assert money.format(4550, "USD", locale="en_US") == "$45.50"
    assert money.format(4550, " usd ", locale="en_US") == "$45.50"
    assert money._formatted.cache_info().hits == 1
    assert money.format(4550, "USD", locale="de_DE") == f"45,50{NBSP}$"
    assert money.format(4551, "USD", locale="en_US") == "$45.51"
    assert money.format(4550, "EUR", locale="en_US") == "€45.50"
    assert money._formatted.cache_info().misses == 4


@pytest.mark.parametrize(
    "minor, currency, locale, text",
    [
        (4550, "USD", "en_US", "45.50"),
        (123450, "USD", "en_US", "1234.50"),
        (123450, "EUR", "de_DE", "1234,50"),
        (5000, "JPY", "en_US", "5000"),
        (5000, "HUF", "hu_HU", "5000"),
        (1234, "KWD", "en_US", "1.234"),
        (None, "USD", "en_US", ""),
    ],
)
def test_input_value_prefills_a_box_that_parses_back_unchanged(minor, currency, locale, text):
    assert money.input_value(minor, currency, locale=locale) == text
    if minor is not None:
        assert money.parse(text, currency, locale=locale) == minor


@pytest.mark.parametrize(
    "currency, typed, locale",
    [
        ("USD", "1,234.56", "en_US"),
        ("EUR", "1.234,56", "de_DE"),
        ("JPY", "5,000", "ja_JP"),
        ("HUF", "5 000", "hu_HU"),
        ("KWD", "1.234", "ar_KW"),
        ("KWD", "0.005", "en_US"),
    ],
)
def test_parse_store_format_round_trips(currency, typed, locale):
    minor = money.parse(typed, currency, locale=locale)
    shown = money.format(minor, currency, locale=locale)
    assert money.parse(shown, currency, locale=locale) == minor
    assert money.to_minor(money.to_decimal(minor, currency), currency) == minor
    assert money.to_minor(money.plain(minor, currency), currency) == minor


def test_plain_and_decimal_conversions():
    assert money.plain(123450, "USD") == "1234.50"
    assert money.plain(5000, "JPY") == "5000"
    assert money.plain(5, "KWD") == "0.005"
    assert money.to_decimal(4550, "USD") == Decimal("45.50")
    assert money.to_minor(Decimal("45.5"), "USD") == 4550
    assert money.to_minor(45, "JPY") == 45
    with pytest.raises(money.MoneyError):
        money.to_minor(Decimal("45.505"), "USD")
    with pytest.raises(money.MoneyError):
        money.to_minor("NaN", "USD")


@pytest.mark.parametrize(
    "minor, currency, stripe",
    [
        (4550, "USD", 4550),
        (5000, "JPY", 5000),
        (5000, "HUF", 500000),  # Stripe counts forints in hundredths
        (5000, "TWD", 500000),
        (5000, "ISK", 500000),
        (5000, "KRW", 5000),
        (12340, "KWD", 12340),
    ],
)
def test_provider_amounts_follow_stripes_rules_both_ways(minor, currency, stripe):
    assert money.provider_amount(minor, currency, charge=True) == stripe
    assert money.from_provider_amount(stripe, currency) == minor


def test_amounts_stripe_cannot_take_are_refused():
    with pytest.raises(money.MoneyError) as exc:
        money.provider_amount(12345, "KWD", charge=True)  # Stripe charges KWD in steps of 0.010
    assert exc.value.code == "provider" and "0.010 KWD" in str(exc.value)
    assert money.provider_amount(12345, "KWD") == 12345  # a transfer may end in any digit
    with pytest.raises(money.MoneyError):
        money.from_provider_amount(500050, "HUF")  # 5000.50 forints: a fraction of our unit


def test_known_locales_are_normalized_and_unknown_ones_refused():
    assert money.known_locale("de-DE") == "de_DE"
    assert money.known_locale("en_us") == "en_US"
    assert money.known_locale("hu_HU") == "hu_HU"
    for bad in ("xx_YY", "", None, 42, "de_XX", "a" * 40):
        assert money.known_locale(bad) is None


def test_every_offered_locale_is_known_to_babel():
    from app.settings.services import LOCALE_CHOICES

    assert all(money.known_locale(code) == code for code in LOCALE_CHOICES)
