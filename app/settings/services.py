"""Marketplace settings and the one cached branding accessor.

Branding (name, tagline, hero text, colours, logo, favicon) is read on every page
and in every email through ``get_branding()`` (the process's copy, checked against the
tenant's stamp in Redis once per request -> database: ``app.core.tenant_cache``); every
change here renews the stamp now and again after commit, so the whole site and the next
email wear it at once. The business settings (currency, commission, delays,
payout schedule, gig approval) are read by the domains that use them through
``current_settings()``: a read-only snapshot kept the same way under the ``settings`` stamp,
which every write of the row renews (a flush listener, so no writer can forget it); the unit
of work that changed the row reads its own version until it commits.

Everything here flushes and never commits; refusals raise ``SettingsError`` with
field errors (nothing changed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, make_dataclass
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import current_app

from app.core import geo, money, tenant_cache, unit_of_work
from app.core.crypto import SecretUnavailable, decrypt_secret
from app.core.domain_errors import DomainError
from app.events import publish
from app.settings.models import MarketplaceSettings
from app.storage import delete_after_commit, storage
from tenants.db import TenantSession, current_tenant, current_tenant_or_none, db

HEX_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}\Z")
EMAIL_RE = re.compile(
    r"^[^@\s<>\",;:()\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\Z"
)
BRAND_IMAGE_KINDS = ("logo", "favicon")


@dataclass(frozen=True)
class Branding:
    name: str
    tagline: str
    hero_text: str
    logo_url: str | None
    primary_color: str
    accent_color: str
    support_email: str | None
    currency: str
    favicon_url: str | None = None
    locale: str = money.DEFAULT_LOCALE
    # Location search (#18): on-site gigs and "near" searches; the country preferred among
    # same-named cities. Defaults, so entries cached before they existed still load.
    location_enabled: bool = False
    default_country: str | None = None


BRANDING_CACHE = tenant_cache.register("branding")


def brand_file_token(key: str) -> str:
    """The short, stable part of a stored brand file's public name (from its random key)."""
    return key.rpartition("/")[2].split(".")[0][:16]


def brand_file_url(kind: str, key: str | None) -> str | None:
    """``/brand/logo-<token>.png``: a new name for each new file, so it can be cached for ever."""
    return f"/brand/{kind}-{brand_file_token(key)}.png" if key else None


def _branding_of(row: MarketplaceSettings) -> Branding:
    return Branding(
        name=row.name,
        tagline=row.tagline,
        hero_text=row.hero_text,
        logo_url=brand_file_url("logo", row.logo_key) or row.logo_url,
        primary_color=row.primary_color,
        accent_color=row.accent_color,
        support_email=row.support_email,
        currency=row.currency,
        favicon_url=brand_file_url("favicon", row.favicon_key),
        locale=row.locale,
        location_enabled=row.location_enabled,
        default_country=row.default_country,
    )


def get_branding() -> Branding:
    """Branding of the bound tenant: this process's copy while the tenant's ``branding`` stamp
    in Redis is unchanged, else the database (``app.core.tenant_cache``).

    Also the marketplace's currency and locale, which ``app.core.money`` uses by default
    (see ``money_defaults``)."""
    return tenant_cache.cached(BRANDING_CACHE, _load_branding)


def _load_branding() -> Branding:
    return _branding_of(current_settings())


def money_defaults() -> Branding | None:
    """For ``app.core.money``: the bound marketplace's currency and locale, None without a tenant."""
    return get_branding() if current_tenant_or_none() is not None else None


def invalidate_branding() -> None:
    """Every process reloads the branding on its next request (a new stamp now and after commit)."""
    tenant_cache.invalidate(BRANDING_CACHE)


class SettingsError(DomainError):
    """Refused settings input. ``errors``: field -> message; ``status``: 422, or 409 for a
    change the marketplace's state forbids (the currency once money has moved)."""

    def __init__(self, errors: dict[str, str], status: int | None = None):
        super().__init__(errors, status=status)


_UNIT_KEY = unit_of_work.transaction_scoped("gigforge_settings_row")
SETTINGS_CACHE = tenant_cache.register("settings")

_MAPPER = sa.inspect(MarketplaceSettings)
_COLUMNS = tuple(_MAPPER.column_attrs)
_ROW_KEY = _MAPPER.identity_key_from_primary_key((1,))
# A frozen copy of the settings row, field for field (the columns' attribute names): what
# ``current_settings()`` hands out, shared by every request of the process.
SettingsSnapshot = make_dataclass(
    "SettingsSnapshot", [attr.key for attr in _COLUMNS], frozen=True, slots=True
)
SettingsSnapshot.__doc__ = "A read-only copy of the bound tenant's settings row (``current_settings()``)."


def current_settings() -> SettingsSnapshot | MarketplaceSettings:
    """The bound tenant's settings, read-only: the process's snapshot while the tenant's
    ``settings`` stamp is unchanged (``app.core.tenant_cache``), else the row, read once.

    The money path reads the currency, the commission and the provider several times a
    request, and pages read the bot check's mode: none of it costs a statement once the
    process holds the snapshot. Kept per transaction in ``session.info`` with the tenant's id
    (never across tenants). A unit of work that changed the row sees its change: the row
    itself while it has unflushed changes, a fresh read once flushed (the flush renewed the
    stamp and marks the value changed in this context until the commit). Changes go through
    ``settings_row(lock=True)``, never through what this returns."""
    session = db.session()
    live = session.identity_map.get(_ROW_KEY)
    if live is not None and sa.inspect(live).modified:
        return live  # this unit of work is changing it: its own version, not kept
    tenant_id = current_tenant().id
    cached = session.info.get(_UNIT_KEY)
    if cached is not None and cached[0] == tenant_id:
        return cached[1]
    snapshot = tenant_cache.cached(SETTINGS_CACHE, _load_settings)
    session.info[_UNIT_KEY] = (tenant_id, snapshot)
    return snapshot


def _load_settings() -> SettingsSnapshot:
    row = db.session.get(MarketplaceSettings, 1)
    if row is None:
        raise LookupError(f"tenant {current_tenant().slug} has no settings row")
    return SettingsSnapshot(**{attr.key: getattr(row, attr.key) for attr in _COLUMNS})


def _settings_changed(session) -> None:
    """The row changed in this unit of work: every process reloads it (a new stamp now and
    after commit), and this transaction forgets the snapshot it kept."""
    session.info.pop(_UNIT_KEY, None)
    if current_tenant_or_none() is not None:
        tenant_cache.invalidate(SETTINGS_CACHE)


@sa.event.listens_for(TenantSession, "after_flush")
def _renew_on_write(session, _context) -> None:
    for rows in (session.new, session.dirty, session.deleted):
        if any(isinstance(row, MarketplaceSettings) for row in rows):
            _settings_changed(session)
            return


@sa.event.listens_for(TenantSession, "do_orm_execute")
def _renew_on_bulk_write(state) -> None:
    writes = state.is_update or state.is_delete or state.is_insert
    if writes and state.bind_mapper is not None and state.bind_mapper.class_ is MarketplaceSettings:
        _settings_changed(state.session)


def settings_row(*, lock: bool = False) -> MarketplaceSettings:
    """The bound tenant's settings row (``lock``: FOR UPDATE, for a change)."""
    query = sa.select(MarketplaceSettings).where(MarketplaceSettings.id == 1)
    if lock:
        query = query.with_for_update()
    return db.session.execute(query).scalar_one()


# --------------------------------------------------------------------------- branding

# Editable through update_branding; ``logo_url`` is an external logo (an uploaded one wins).
BRANDING_FIELDS = (
    "name",
    "tagline",
    "hero_text",
    "logo_url",
    "primary_color",
    "accent_color",
    "support_email",
)
TEXT_LIMITS = {"name": 120, "tagline": 200, "hero_text": 2000}


def _clean_email(value, errors: dict, field: str = "support_email") -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > 254 or not EMAIL_RE.match(text):
        errors[field] = "must be an email address like help@example.com"
        return None
    return text


def _clean_branding(changes: dict) -> dict:
    errors: dict[str, str] = {}
    clean: dict = {}
    for field in changes:
        if field not in BRANDING_FIELDS:
            errors[field] = "is not a branding field"
    for field in ("primary_color", "accent_color"):
        if field in changes:
            value = changes[field]
            if not isinstance(value, str) or not HEX_COLOR_RE.match(value.strip()):
                errors[field] = "must be a colour like #1a2b3c"
            else:
                clean[field] = value.strip().lower()
    for field, limit in TEXT_LIMITS.items():
        if field not in changes:
            continue
        value = changes[field]
        if value is None and field != "name":
            value = ""
        if not isinstance(value, str):
            errors[field] = "must be text"
            continue
        value = value.replace("\r\n", "\n").strip()
        if field != "hero_text":
            value = " ".join(value.split())  # one line
        if field == "name" and not value:
            errors[field] = "is required"
        elif len(value) > limit:
            errors[field] = f"must be at most {limit} characters"
        elif any(ord(ch) < 32 and ch != "\n" for ch in value):
            errors[field] = "must not contain control characters"
        else:
            clean[field] = value
    if "logo_url" in changes:
        value = changes["logo_url"]
        if value in (None, ""):
            clean["logo_url"] = None
        elif (
            not isinstance(value, str)
            or len(value) > 500
            or not re.match(r"^(https://[^\s\"'<>]+|/[^/\s\"'<>][^\s\"'<>]*)\Z", value)
        ):
            errors["logo_url"] = "must be an https:// URL or a path on this site"
        else:
            clean["logo_url"] = value
    if "support_email" in changes:
        clean["support_email"] = _clean_email(changes["support_email"], errors)
    if errors:
        raise SettingsError(errors)
    return clean


def update_branding(**changes) -> MarketplaceSettings:
    """Change branding fields of the bound tenant (see ``BRANDING_FIELDS``); flushes and
    invalidates the cached branding.

    Colours are ``#rrggbb`` (stored lower case); name 1-120 characters, tagline up to 200
    (one line each), hero text up to 2000 (paragraphs kept). Raises SettingsError with
    field errors; nothing is changed then.
    """
    clean = _clean_branding(changes)
    row = settings_row(lock=True)
    for field, value in clean.items():
        setattr(row, field, value)
    db.session.flush()
    invalidate_branding()
    publish("branding.changed", {})
    return row


def branding_snapshot(row: MarketplaceSettings | None = None) -> dict:
    """The branding as stored (for the console's forms and audit diffs)."""
    row = row or settings_row()
    return {
        "name": row.name,
        "tagline": row.tagline,
        "hero_text": row.hero_text,
        "primary_color": row.primary_color,
        "accent_color": row.accent_color,
        "logo_url": brand_file_url("logo", row.logo_key) or row.logo_url,
        "favicon_url": brand_file_url("favicon", row.favicon_key),
    }


def set_brand_image(kind: str, upload) -> MarketplaceSettings:
    """Validate, re-encode and store an uploaded logo or favicon; the old file goes after commit.

    ``upload`` is bytes or a werkzeug FileStorage. The logo is kept as a PNG within
    LOGO_BOX, the favicon as a 64x64 PNG (see ``app.settings.brand_images``). Raises
    SettingsError({kind: message}) for a missing, oversized, non-image, unsupported,
    damaged or badly sized upload; nothing is stored then.
    """
    from app.settings.brand_images import BrandImageError, process_brand_image  # Pillow: only when used

    if kind not in BRAND_IMAGE_KINDS:
        raise ValueError(f"unknown brand image {kind!r}")
    if upload is None or (hasattr(upload, "filename") and not upload.filename):
        raise SettingsError({kind: "Choose an image to upload."})
    try:
        data = process_brand_image(upload, kind, max_bytes=current_app.config["BRANDING_IMAGE_MAX_BYTES"])
    except BrandImageError as exc:
        raise SettingsError({kind: str(exc)}) from None
    row = settings_row(lock=True)
    key = storage.save(data, namespace="branding", filename=f"{kind}.png", content_type="image/png")
    delete_after_commit(getattr(row, f"{kind}_key"))
    setattr(row, f"{kind}_key", key)
    if kind == "logo":
        row.logo_url = None  # the upload replaces an external logo
    db.session.flush()
    invalidate_branding()
    publish("branding.changed", {})
    return row


def remove_brand_image(kind: str) -> MarketplaceSettings:
    """Drop the logo (also an external one) or the favicon; the file goes after commit."""
    if kind not in BRAND_IMAGE_KINDS:
        raise ValueError(f"unknown brand image {kind!r}")
    row = settings_row(lock=True)
    delete_after_commit(getattr(row, f"{kind}_key"))
    setattr(row, f"{kind}_key", None)
    if kind == "logo":
        row.logo_url = None
    db.session.flush()
    invalidate_branding()
    publish("branding.changed", {})
    return row


def brand_file_key(kind: str, token: str) -> str | None:
    """The storage key of the tenant's current ``kind`` file when ``token`` names it, else None."""
    if kind not in BRAND_IMAGE_KINDS:
        return None
    key = getattr(settings_row(), f"{kind}_key")
    return key if key and brand_file_token(key) == token else None


def _luminance(hex_color: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g_, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g_) + 0.0722 * channel(b)


def contrast_with_white(hex_color: str) -> float:
    """WCAG contrast ratio of white text on ``hex_color`` (the header and buttons)."""
    return round(1.05 / (_luminance(hex_color) + 0.05), 2)


def contrast_warnings(primary: str, accent: str) -> list[str]:
    """Advice (not refusals) when white text would be hard to read on the chosen colours."""
    warnings = []
    for label, color in (("primary", primary), ("accent", accent)):
        if HEX_COLOR_RE.match(color or "") and contrast_with_white(color) < 3:
            warnings.append(
                f"White text on the {label} colour {color} has a contrast of {contrast_with_white(color)}:1; "
                "3:1 or more reads well."
            )
    return warnings


# --------------------------------------------------------------------------- business settings

# ISO 4217 codes a marketplace can price in (all of them Stripe currencies; decimals from
# app.core.money: HUF, JPY, KRW 0, KWD 3, the others 2).
CURRENCIES = {
    "USD": "US dollar",
    "EUR": "Euro",
    "GBP": "Pound sterling",
    "CAD": "Canadian dollar",
    "AUD": "Australian dollar",
    "NZD": "New Zealand dollar",
    "CHF": "Swiss franc",
    "SEK": "Swedish krona",
    "NOK": "Norwegian krone",
    "DKK": "Danish krone",
    "PLN": "Polish zloty",
    "CZK": "Czech koruna",
    "HUF": "Hungarian forint",
    "KWD": "Kuwaiti dinar",
    "RON": "Romanian leu",
    "JPY": "Japanese yen",
    "KRW": "South Korean won",
    "SGD": "Singapore dollar",
    "HKD": "Hong Kong dollar",
    "INR": "Indian rupee",
    "BRL": "Brazilian real",
    "MXN": "Mexican peso",
    "ZAR": "South African rand",
}
PAYOUT_SCHEDULES = ("manual", "daily", "weekly")
SETTINGS_FIELDS = (
    "currency",
    "locale",
    "commission_percent",
    "commission_min_fee_minor",
    "auto_complete_days",
    "clearance_days",
    "cancellation_auto_resolve_days",
    "timesheet_review_days",
    "payout_schedule",
    "gigs_require_approval",
    "require_verified_email",
    "support_email",
    "location_enabled",
    "default_country",
    "require_2fa_staff",
    "bot_protection",
)
BOT_PROTECTION_MODES = ("off", "auto", "always")
MAX_COMMISSION_PERCENT = Decimal(50)
MAX_MIN_FEE_MINOR = 1_000_000  # 10,000.00 in a two-decimal currency, ¥1,000,000 in yen
# Offered in the console's list; any locale Babel knows is accepted (the API takes them all).
LOCALE_CHOICES = (
    "en_US",
    "en_GB",
    "en_AU",
    "en_CA",
    "en_IN",
    "de_DE",
    "de_AT",
    "de_CH",
    "fr_FR",
    "fr_CA",
    "es_ES",
    "es_MX",
    "it_IT",
    "nl_NL",
    "pt_BR",
    "pt_PT",
    "pl_PL",
    "cs_CZ",
    "hu_HU",
    "ro_RO",
    "sv_SE",
    "nb_NO",
    "da_DK",
    "ja_JP",
    "ko_KR",
    "zh_Hant_TW",
    "ar_KW",
)
DAY_RANGES = {
    "auto_complete_days": (1, 60, "Days after delivery until an order completes by itself"),
    "clearance_days": (0, 90, "Days after completion until the seller's earnings can be paid out"),
    "cancellation_auto_resolve_days": (1, 30, "Days until an unanswered cancellation request is accepted"),
    "timesheet_review_days": (1, 30, "Days until an unanswered hourly timesheet is approved"),
}


def percent_from_bps(bps: int) -> Decimal:
    return (Decimal(bps) / 100).quantize(Decimal("0.01"))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# The domains that hold amounts in the marketplace currency sit above settings in the domain
# graph, so settings cannot ask them; each registers its answer here at app setup
# (``app._register_domain_hooks``), in the order the reasons should be given.
#
# - a currency lock: ``check() -> reason | None``, a reason when no change of currency is
#   possible any more (orders exist, money has moved);
# - a decimals lock: ``check(current, new) -> reason | None``, a reason when changing from
#   ``current`` to ``new`` would change the value of stored amounts (gig prices are minor units).
CurrencyLock = Callable[[], str | None]
DecimalsLock = Callable[[str, str], str | None]
_currency_locks: list[CurrencyLock] = []
_decimals_locks: list[DecimalsLock] = []


def register_currency_lock(check: CurrencyLock) -> None:
    """Add ``check() -> reason | None`` to what locks the currency (once per function)."""
    if check not in _currency_locks:
        _currency_locks.append(check)


def register_decimals_lock(check: DecimalsLock) -> None:
    """Add ``check(current, new) -> reason | None`` to what refuses a currency of other decimals."""
    if check not in _decimals_locks:
        _decimals_locks.append(check)


def currency_lock_reason() -> str | None:
    """Why the currency cannot change at all, or None (the first registered lock that answers)."""
    for check in _currency_locks:
        reason = check()
        if reason:
            return reason
    return None


def _decimals_lock_reason(current: str, new: str) -> str | None:
    for check in _decimals_locks:
        reason = check(current, new)
        if reason:
            return reason
    return None


def _clean_settings(changes: dict, row: MarketplaceSettings) -> dict:
    errors: dict[str, str] = {}
    clean: dict = {}
    status = 422
    for field in changes:
        if field not in SETTINGS_FIELDS:
            errors[field] = "is not a marketplace setting"
    if "currency" in changes:
        value = changes["currency"]
        code = value.strip().upper() if isinstance(value, str) else ""
        if code not in CURRENCIES:
            errors["currency"] = "must be one of " + ", ".join(sorted(CURRENCIES))
        elif code != row.currency:
            locked = currency_lock_reason()
            if locked:
                errors["currency"], status = locked, 409
            elif reason := _decimals_lock_reason(row.currency, code):
                errors["currency"], status = reason, 409
            else:
                clean["currency"] = code
    if "locale" in changes:
        locale = money.known_locale(changes["locale"])
        if locale is None or len(locale) > 16:
            errors["locale"] = "must be a locale like en_US, de_DE or hu_HU"
        else:
            clean["locale"] = locale
    if "commission_percent" in changes:
        value = changes["commission_percent"]
        try:
            percent = Decimal(str(value).strip()) if isinstance(value, str | int | float | Decimal) else None
        except InvalidOperation:
            percent = None
        if isinstance(value, bool) or percent is None or not percent.is_finite():
            errors["commission_percent"] = "must be a number like 12.5"
        elif percent < 0 or percent > MAX_COMMISSION_PERCENT:
            errors["commission_percent"] = "must be between 0 and 50 (percent)"
        elif percent != percent.quantize(Decimal("0.01")):
            errors["commission_percent"] = "must have at most 2 decimals"
        else:
            clean["commission_bps"] = int(percent * 100)
    if "commission_min_fee_minor" in changes:
        value = changes["commission_min_fee_minor"]
        if not _is_int(value):
            errors["commission_min_fee_minor"] = "must be a whole number of minor units (cents)"
        elif value < 0:
            errors["commission_min_fee_minor"] = "must not be negative"
        elif value > MAX_MIN_FEE_MINOR:
            errors["commission_min_fee_minor"] = f"must be at most {MAX_MIN_FEE_MINOR} minor units"
        else:
            clean["commission_min_fee_minor"] = value
    for field, (low, high, _label) in DAY_RANGES.items():
        if field not in changes:
            continue
        value = changes[field]
        if not _is_int(value) or not low <= value <= high:
            errors[field] = f"must be a whole number of days from {low} to {high}"
        else:
            clean[field] = value
    if "payout_schedule" in changes:
        if changes["payout_schedule"] not in PAYOUT_SCHEDULES:
            errors["payout_schedule"] = "must be one of " + ", ".join(PAYOUT_SCHEDULES)
        else:
            clean["payout_schedule"] = changes["payout_schedule"]
    if "default_country" in changes:
        value = changes["default_country"]
        code = value.strip().upper() if isinstance(value, str) else value
        if code in (None, ""):
            clean["default_country"] = None
        elif not geo.is_country(code):
            errors["default_country"] = "must be a country code like US, DE or FR"
        else:
            clean["default_country"] = code
    if "bot_protection" in changes:
        if changes["bot_protection"] not in BOT_PROTECTION_MODES:
            errors["bot_protection"] = "must be one of " + ", ".join(BOT_PROTECTION_MODES)
        else:
            clean["bot_protection"] = changes["bot_protection"]
    for flag in ("gigs_require_approval", "require_verified_email", "location_enabled", "require_2fa_staff"):
        if flag in changes:
            if not isinstance(changes[flag], bool):
                errors[flag] = "must be true or false"
            else:
                clean[flag] = changes[flag]
    if "support_email" in changes:
        clean["support_email"] = _clean_email(changes["support_email"], errors)
    if errors:
        if status == 409 and set(errors) != {"currency"}:
            status = 422  # report every problem at once; the plain input errors come first
        raise SettingsError(errors, status)
    return clean


def settings_snapshot(row: MarketplaceSettings | None = None) -> dict:
    """The business settings in the console's terms (percent, minor units, days)."""
    row = row or settings_row()
    return {
        "currency": row.currency,
        "locale": row.locale,
        "commission_percent": str(percent_from_bps(row.commission_bps)),
        "commission_min_fee_minor": row.commission_min_fee_minor,
        "auto_complete_days": row.auto_complete_days,
        "clearance_days": row.clearance_days,
        "cancellation_auto_resolve_days": row.cancellation_auto_resolve_days,
        "timesheet_review_days": row.timesheet_review_days,
        "payout_schedule": row.payout_schedule,
        "gigs_require_approval": row.gigs_require_approval,
        "require_verified_email": row.require_verified_email,
        "support_email": row.support_email,
        "location_enabled": row.location_enabled,
        "default_country": row.default_country,
        "require_2fa_staff": row.require_2fa_staff,
        "bot_protection": row.bot_protection,
    }


def update_marketplace_settings(**changes) -> MarketplaceSettings:
    """Change the business settings of the bound tenant (``SETTINGS_FIELDS``); flushes.

    - ``currency``: a code of ``CURRENCIES``; refused (409) once there is any order or
      ledger movement, or when gigs exist and the new currency has other decimals
      (``money.exponent``);
    - ``locale``: how amounts are written and read (``de_DE``: 1.234,50 €), any locale Babel
      knows, stored normalized;
    - ``commission_percent``: 0 to 50 with at most 2 decimals (stored as basis points);
    - ``commission_min_fee_minor``: 0 to ``MAX_MIN_FEE_MINOR`` minor units;
    - ``auto_complete_days`` 1-60, ``clearance_days`` 0-90, ``cancellation_auto_resolve_days`` 1-30;
    - ``payout_schedule``: manual, daily or weekly; ``gigs_require_approval``: bool;
    - ``require_verified_email``: bool, whether ordering, publishing, offers and messages need a
      verified email address;
    - ``support_email``: an address or empty;
    - ``location_enabled``: bool, whether gigs may be delivered on site and buyers search near a
      place; ``default_country``: an ISO 3166 code (preferred among same-named cities) or empty;
    - ``require_2fa_staff``: bool, admins and moderators must have two-factor sign-in to use the
      console; ``bot_protection``: off, auto (challenge an IP after suspicious volume) or always.

    Raises SettingsError (422, or 409 for a locked currency) with every field's problem;
    nothing changes then. New values apply to what happens next (orders placed, earnings
    released, gigs published after the change).
    """
    row = settings_row(lock=True)
    clean = _clean_settings(changes, row)
    for field, value in clean.items():
        setattr(row, field, value)
    db.session.flush()
    invalidate_branding()  # currency, locale and support email are part of the branding
    return row


# --------------------------------------------------------------------------- payment provider

STRIPE_KEY_PATTERNS = {
    "publishable_key": r"pk_(test|live)_[A-Za-z0-9]+",
    "secret_key": r"(sk|rk)_(test|live)_[A-Za-z0-9]+",
    "webhook_secret": r"whsec_[A-Za-z0-9]+",
}


def mask_secret(value: str | None) -> str | None:
    """``sk_test_…a1b2``: the kind of key and its last four characters, never the rest."""
    if not value:
        return None
    prefix = re.match(r"^((?:sk|rk|pk)_(?:test|live)_|whsec_)", value)
    head = prefix.group(1) if prefix else ""
    return f"{head}…{value[-4:]}" if len(value) > len(head) + 4 else f"{head}…"


def stripe_mode_errors(publishable_key: str, secret_key: str) -> dict[str, str]:
    """A test publishable key with a live secret key (or the reverse) is a mistake to catch early."""
    pk = re.match(r"^pk_(test|live)_", publishable_key or "")
    sk = re.match(r"^(?:sk|rk)_(test|live)_", secret_key or "")
    if pk and sk and pk.group(1) != sk.group(1):
        return {"secret_key": f"is a {sk.group(1)} key but the publishable key is a {pk.group(1)} key"}
    return {}


def payment_overview(row: MarketplaceSettings | None = None) -> dict:
    """The provider and the stored Stripe keys, masked (what the console shows)."""
    row = row or settings_row()
    masked: dict[str, str | None] = {}
    unreadable = False
    for field, column in (
        ("secret_key", "stripe_secret_key_encrypted"),
        ("webhook_secret", "stripe_webhook_secret_encrypted"),
    ):
        try:
            masked[field] = mask_secret(decrypt_secret(getattr(row, column)))
        except SecretUnavailable:
            masked[field] = "(stored, unreadable with the current PAYMENT_SECRETS_KEY: enter it again)"
            unreadable = True
    return {
        "provider": row.payment_provider,
        "publishable_key": row.stripe_publishable_key,
        "secret_key": masked["secret_key"],
        "webhook_secret": masked["webhook_secret"],
        "stripe_configured": bool(
            row.stripe_publishable_key
            and row.stripe_secret_key_encrypted
            and row.stripe_webhook_secret_encrypted
            and not unreadable
        ),
    }


def stored_stripe_secrets(row: MarketplaceSettings | None = None) -> tuple[str | None, str | None]:
    """The decrypted secret key and webhook secret (None when absent or unreadable)."""
    row = row or settings_row()
    values = []
    for column in ("stripe_secret_key_encrypted", "stripe_webhook_secret_encrypted"):
        try:
            values.append(decrypt_secret(getattr(row, column)))
        except SecretUnavailable:
            values.append(None)
    return values[0], values[1]


def use_sandbox_payments() -> MarketplaceSettings:
    """Switch the bound tenant to the sandbox provider. Stored Stripe keys are kept (inactive),
    so switching back needs no re-entry; flushes."""
    row = settings_row(lock=True)
    row.payment_provider = "sandbox"
    db.session.flush()
    return row


# --------------------------------------------------------------------------- location (#18)


@dataclass(frozen=True)
class LocationSettings:
    """Whether the marketplace lists on-site gigs and searches near places (``enabled``), and
    the ISO country preferred among same-named cities (``default_country``, or None)."""

    enabled: bool
    default_country: str | None


def location_settings() -> LocationSettings:
    """The bound marketplace's location settings (from the cached branding, which every change
    through ``update_marketplace_settings`` refreshes): the gig form, the gig services and the
    search page consult them."""
    branding = get_branding()
    return LocationSettings(branding.location_enabled, branding.default_country)
