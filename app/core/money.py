"""Money: the one place that knows currency exponents, reads amounts people type and
writes amounts people read.

Amounts are integers of minor units of a currency (cents, yen, fils); nothing else in
the code scales, parses or formats them. The exponents come from Babel (CLDR) with a
few overrides where the marketplace, like Stripe, counts a currency differently.

- ``exponent("USD") == 2``, ``exponent("JPY") == 0``, ``exponent("KWD") == 3``;
- ``parse("1.234,50", "EUR", locale="de_DE") == 123450``; refusals raise ``MoneyError``
  (a ``ValueError``) whose message can be shown as is, next to the field;
- ``format(4550, "USD") == "$45.50"``; ``input_value(4550, "USD") == "45.50"`` to prefill
  a form; ``plain(4550, "USD") == "45.50"`` for CSV and logs;
- ``provider_amount(5000, "HUF") == 500000``: Stripe's integer, whose own exponent differs
  for a few currencies; ``from_provider_amount`` is the way back.

``locale=None`` means the marketplace's locale when a tenant is bound (the settings domain
registers where to find it, see ``init_app``), ``DEFAULT_LOCALE`` otherwise.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from copy import copy
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    NumberFormatError,
    format_currency,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    is_currency,
    parse_decimal,
)
from flask import current_app, has_app_context

DEFAULT_LOCALE = "en_US"
MAX_MINOR = 10**12  # no single amount is larger; also keeps every computation cheap
MAX_INPUT_LENGTH = 40

# Exponents where the marketplace differs from Babel, or where Babel's answer is worth
# pinning because money depends on it. HUF and TWD: Stripe pays them out in whole units
# only (docs.stripe.com/currencies#special-cases), and neither has coins below one unit in
# use, so a price of 10.50 could be charged but never paid out; we count whole units.
# ISK and UGX are whole units too (Stripe's "special cases"). KWD, BHD, JOD, OMR and TND
# have 3 decimals (fils / baisa / millimes).
EXPONENT_OVERRIDES = {
    "HUF": 0,
    "TWD": 0,
    "ISK": 0,
    "UGX": 0,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "BHD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
}

# The exponent of Stripe's API ``amount`` (docs.stripe.com/currencies): the zero-decimal
# list, the three-decimal list, and 2 for every other currency, including the "special
# cases" ISK, HUF and TWD, which Stripe still counts in hundredths (5000 HUF is 500000).
STRIPE_ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
STRIPE_THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())

_SPACES = frozenset(" \u00a0\u202f\u2009")
_APOSTROPHES = frozenset("'\u2019")
_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u061c"))
_LOCALE_RE = re.compile(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8}){0,3}\Z")
_PLAIN = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)\Z", re.ASCII)


class MoneyError(ValueError):
    """An amount that cannot be used. ``str(exc)`` is a sentence for the person who typed it;
    ``code`` says which problem: empty, invalid, decimals, negative, too_large, currency,
    provider."""

    def __init__(self, message: str, *, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


# --------------------------------------------------------------------------- currencies


def time_amount(minutes: int, rate_minor: int) -> int:
    """What ``minutes`` of work cost at ``rate_minor`` an hour, in minor units: the exact product
    ``minutes × rate / 60`` rounded once, half to even (banker's rounding), never summed from
    rounded parts (an hourly timesheet's amount)."""
    if minutes < 0 or rate_minor < 0:
        raise ValueError("minutes and rate must not be negative")
    return int((Decimal(minutes) * Decimal(rate_minor) / 60).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _code(currency: str) -> str:
    code = currency.strip().upper() if isinstance(currency, str) else ""
    if len(code) != 3 or not is_currency(code):
        raise MoneyError(f"{currency!r} is not a currency.", code="currency")
    return code


@functools.lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """Decimals of the currency's minor unit as the marketplace stores it (USD 2, JPY 0,
    HUF 0, KWD 3). Raises MoneyError for something that is not an ISO 4217 code."""
    code = _code(currency)
    if code in EXPONENT_OVERRIDES:
        return EXPONENT_OVERRIDES[code]
    return get_currency_precision(code)


def minor_unit(currency: str) -> int:
    """Minor units in one major unit: 100 for USD, 1 for JPY, 1000 for KWD."""
    return 10 ** exponent(currency)


def to_decimal(minor: int, currency: str) -> Decimal:
    """4550 USD cents -> Decimal("45.50"); exact."""
    return Decimal(int(minor)).scaleb(-exponent(currency))


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """Decimal("45.50") (or "45.50", or 45) in USD -> 4550, exactly. For amounts a program
    holds, not what people type (that is ``parse``). Raises MoneyError when the amount has
    more decimals than the currency or is not a finite number."""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except InvalidOperation:
        raise MoneyError(f"{amount!r} is not an amount.") from None
    if not value.is_finite():
        raise MoneyError(f"{amount!r} is not an amount.")
    return _scaled(value, _code(currency))


def _scaled(value: Decimal, code: str) -> int:
    digits = exponent(code)
    if abs(value) >= Decimal(MAX_MINOR).scaleb(-digits) + 1:  # before scaling: "9" * 39 stays cheap
        raise MoneyError("This amount is too large.", code="too_large")
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        raise MoneyError(_decimals_message(code, digits), code="decimals")
    if abs(minor) > MAX_MINOR:
        raise MoneyError("This amount is too large.", code="too_large")
    return int(minor)


def _decimals_message(code: str, digits: int) -> str:
    if digits == 0:
        return f"Amounts in {code} are whole numbers, without decimals."
    return f"Use at most {digits} decimals for {code}."


# --------------------------------------------------------------------------- locales


def init_app(app, marketplace: Callable[[], Any | None]) -> None:
    """Register the ``money`` template filter and where the marketplace's defaults come from.

    ``marketplace()`` returns an object with ``currency`` and ``locale`` (the bound tenant's
    branding) or None when no tenant is bound. The settings domain provides it, so this
    module depends on no domain.
    """
    app.extensions["money"] = marketplace
    app.add_template_filter(money_filter, "money")


def _marketplace() -> Any | None:
    if not has_app_context():
        return None
    source = current_app.extensions.get("money")
    return source() if source is not None else None


def marketplace_locale() -> str:
    """The bound marketplace's locale, or ``DEFAULT_LOCALE``."""
    return getattr(_marketplace(), "locale", None) or DEFAULT_LOCALE


@functools.lru_cache(maxsize=128)
def _parse_locale(identifier: str) -> Locale:
    return Locale.parse(identifier)


def _locale(locale: str | Locale | None) -> Locale:
    if isinstance(locale, Locale):
        return locale
    return _parse_locale(locale or marketplace_locale())


def known_locale(value: Any) -> str | None:
    """``"de-DE"`` or ``"de_de"`` -> ``"de_DE"``: the normalized identifier of a locale Babel
    has data for, or None."""
    text = value.strip() if isinstance(value, str) else ""
    if not _LOCALE_RE.match(text):  # Babel alone reads "de_DE; anything" as "de"
        return None
    try:
        return str(Locale.parse(text, sep="-" if "-" in text else "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None


def locale_name(identifier: str) -> str:
    """``"de_DE"`` -> ``"German (Germany)"``, for choice lists."""
    return _parse_locale(identifier).get_display_name("en") or identifier


# --------------------------------------------------------------------------- parsing


def _example(code: str, loc: Locale) -> str:
    digits = exponent(code)
    if digits == 0:
        return "5000"
    whole = "45" if digits == 2 else "12"
    return f"{whole} or {whole}{get_decimal_symbol(loc)}{'5' + '0' * (digits - 1)}"


def parse_optional(
    text: Any, currency: str, *, locale: str | Locale | None = None, allow_negative: bool = False
) -> int | None:
    """What someone typed -> minor units of ``currency``; None for an empty box.

    Accepts the locale's own form ("1.234,50" in de_DE, "1,234.50" in en_US, "1 234,50" in
    fr_FR) and the plain form "1234.50" everywhere; the locale's reading wins where both
    fit ("1.234" is 1234 in de_DE). A currency code or the locale's symbol around the number
    is ignored. Raises MoneyError (a sentence for the field) for anything else: words,
    NaN or infinity, more decimals than the currency has, a negative amount (unless
    ``allow_negative``) or more than ``MAX_MINOR`` minor units.
    """
    code = _code(currency)
    loc = _locale(locale)
    raw = "" if text is None else str(text)
    raw = raw.translate(_BIDI_MARKS).replace("\u2212", "-").strip()
    for mark in {code, get_currency_symbol(code, loc).translate(_BIDI_MARKS)}:
        if mark:
            raw = raw.replace(mark, "")
    raw = raw.strip()
    if not raw:
        return None
    invalid = MoneyError(f"Enter an amount like {_example(code, loc)}.")
    if len(raw) > MAX_INPUT_LENGTH:
        raise invalid
    negative = raw[0] == "-"
    body = raw[1:].strip() if raw[0] in "+-" else raw
    value = _read_number(body, loc)
    if value is None:
        raise invalid
    if negative and value != 0 and not allow_negative:
        raise MoneyError("The amount cannot be negative.", code="negative")
    return _scaled(-value if negative else value, code)


def parse(
    text: Any, currency: str, *, locale: str | Locale | None = None, allow_negative: bool = False
) -> int:
    """Like ``parse_optional``, and an empty box is refused too ("Enter an amount.")."""
    minor = parse_optional(text, currency, locale=locale, allow_negative=allow_negative)
    if minor is None:
        raise MoneyError("Enter an amount.", code="empty")
    return minor


def _read_number(body: str, loc: Locale) -> Decimal | None:
    """An unsigned number in the locale's form or the plain form, or None."""
    group, decimal = get_group_symbol(loc), get_decimal_symbol(loc)
    # People type plain spaces and apostrophes where the locale prints narrow no-break
    # spaces or typographic apostrophes.
    for family in (_SPACES, _APOSTROPHES):
        if group in family:
            body = "".join(group if ch in family else ch for ch in body)
    allowed = {group, decimal, ".", ","}
    if not body or any(not _is_digit(ch) and ch not in allowed for ch in body):
        return None  # also keeps out "NaN", "Infinity" and "1e5", which Decimal would take
    try:
        return parse_decimal(body, locale=loc, strict=True)
    except (NumberFormatError, InvalidOperation, ValueError):
        pass
    if _PLAIN.match(body):
        return Decimal(body)
    return None


def _is_digit(ch: str) -> bool:
    return unicodedata.decimal(ch, None) is not None


# --------------------------------------------------------------------------- formatting


@functools.lru_cache(maxsize=256)
def _currency_pattern(identifier: str, digits: int):
    pattern = copy(_parse_locale(identifier).currency_formats["standard"])
    pattern.frac_prec = (digits, digits)
    return pattern


def format(minor: int, currency: str, *, locale: str | Locale | None = None) -> str:
    """4550 USD -> "$45.50", 5000 JPY -> "¥5,000", 5000 HUF in hu_HU -> "5 000 Ft",
    1234 KWD -> "KWD 1.234": the locale's currency format with the currency's decimals from
    this module's table (not Babel's)."""
    return _formatted(minor, _code(currency), str(_locale(locale)))


@functools.lru_cache(maxsize=4096)
def _formatted(minor: int, code: str, identifier: str) -> str:
    """``format``'s text, kept per amount, currency and locale: a page lists the same prices
    again and again, and Babel's formatting is ~100 Python calls each."""
    loc = _parse_locale(identifier)
    digits = exponent(code)
    text = format_currency(
        to_decimal(minor, code),
        code,
        format=_currency_pattern(identifier, digits),
        locale=loc,
        currency_digits=False,
    )
    return _space_letters(text, get_currency_symbol(code, loc))


def _space_letters(text: str, symbol: str) -> str:
    """CLDR's currency spacing, which Babel leaves out: a no-break space between a symbol
    made of letters ("HUF", "Ft") and the digits it touches, so "HUF 5,000", not "HUF5,000"."""
    if not symbol:
        return text
    if not unicodedata.category(symbol[-1]).startswith("S"):
        text = re.sub(re.escape(symbol) + r"(?=\d)", symbol + "\u00a0", text)
    if not unicodedata.category(symbol[0]).startswith("S"):
        text = re.sub(r"(?<=\d)" + re.escape(symbol), "\u00a0" + symbol, text)
    return text


def input_value(minor: int | None, currency: str, *, locale: str | Locale | None = None) -> str:
    """The amount as someone would type it, to prefill a form: "45.50", "5000", "45,50" in
    de_DE (no grouping, no symbol); "" for None. ``parse`` reads it back unchanged."""
    if minor is None:
        return ""
    text = plain(minor, currency)
    return text.replace(".", get_decimal_symbol(_locale(locale)))


def plain(minor: int, currency: str) -> str:
    """ "1234.50": the major amount with the currency's decimals, a dot and no grouping, for
    CSV exports, logs and machines."""
    digits = exponent(currency)
    return f"{to_decimal(minor, currency):.{digits}f}"


def money_filter(amount: int | None, currency: str | None = None) -> str:
    """The ``money`` template filter: ``{{ order.total_minor | money(order.currency) }}``;
    the currency defaults to the marketplace's. None renders as ""."""
    if amount is None:
        return ""
    market = _marketplace()  # read once: a page of cards calls this once per price
    if currency is None:
        currency = getattr(market, "currency", None)
        if currency is None:
            raise ValueError("money filter without a currency and no marketplace bound")
    return format(amount, currency, locale=getattr(market, "locale", None) or DEFAULT_LOCALE)


# --------------------------------------------------------------------------- providers


def stripe_exponent(currency: str) -> int:
    code = _code(currency)
    if code in STRIPE_ZERO_DECIMAL:
        return 0
    if code in STRIPE_THREE_DECIMAL:
        return 3
    return 2


def provider_amount(minor: int, currency: str, *, charge: bool = False) -> int:
    """Our minor units -> the integer ``amount`` Stripe expects. Mostly the same number;
    HUF, TWD and ISK are whole units here but hundredths at Stripe, so 5000 HUF is sent as
    500000. ``charge``: a payment or a refund, where Stripe wants three-decimal currencies
    in steps of ten (5.120 KWD, not 5.124). Raises MoneyError (code "provider") for an
    amount Stripe cannot take."""
    code = _code(currency)
    shift = stripe_exponent(code) - exponent(code)
    if shift >= 0:
        amount = int(minor) * 10**shift
    else:
        step = 10**-shift
        if int(minor) % step:
            raise MoneyError(
                f"{format(minor, code, locale=DEFAULT_LOCALE)} cannot be sent to the payment provider, "
                f"which counts {code} in whole units.",
                code="provider",
            )
        amount = int(minor) // step
    if charge and code in STRIPE_THREE_DECIMAL and amount % 10:
        raise MoneyError(
            f"Card payments in {code} must be a multiple of 0.010 {code}; "
            f"{format(minor, code, locale=DEFAULT_LOCALE)} is not.",
            code="provider",
        )
    return amount


def from_provider_amount(amount: int, currency: str) -> int:
    """Stripe's integer ``amount`` -> our minor units (the inverse of ``provider_amount``).
    Raises MoneyError (code "provider") when it is a fraction of our minor unit (a refund
    of 10.50 HUF made in Stripe's dashboard)."""
    code = _code(currency)
    shift = stripe_exponent(code) - exponent(code)
    if shift <= 0:
        return int(amount) * 10**-shift
    step = 10**shift
    if int(amount) % step:
        raise MoneyError(f"The provider's amount {amount} is a fraction of a {code} unit.", code="provider")
    return int(amount) // step
