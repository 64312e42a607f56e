"""Catalog rules: categories and gigs (packages, extras, FAQ, images, publishing).

Every function acts on the bound tenant, flushes and never commits: the view,
API call or job commits once. A function that refuses raises a ``GigError``
(or a subclass) *before* it changes anything, so the caller only has to roll
back (or not commit). ``GigError.errors`` maps a field to a message; nested
fields use dotted names (``packages.basic.price_minor``, ``faqs.1.answer``).

Every state change publishes an event in the same transaction (payload
``{"gig_id": id}``; the search domain's handlers load the gig fresh):

- ``gig.published``: a draft or paused gig became active (also sent by
  ``app/gigs/moderation.approve_gig`` when an operator approves a pending gig)
- ``gig.submitted``: the seller published but the gig needs an operator's review first
  (it is ``pending_approval`` and not public; see ``publish_gig``)
- ``gig.updated``: an edit (details, packages, extras, FAQ, images, where it is delivered) of any gig
- ``gig.paused``: an active gig stopped taking orders and left the catalog
  (``{"gig_id", "by_operator": true, "reason"}`` when an operator paused it)
- ``gig.archived``: the gig is gone for good (terminal)

Moderation (``app/gigs/moderation.py``) adds ``gig.approved`` and ``gig.rejected``.

Money is integer minor units of the marketplace currency.
"""

from __future__ import annotations

import functools
import io
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.accounts.models import User
from app.accounts.services import require_verified
from app.core import geo, money, tenant_cache
from app.core.after_commit import on_commit
from app.core.domain_errors import Conflict, DomainError, Forbidden, NotFound, PreconditionFailed
from app.core.text import slugify, strip_controls
from app.events import publish
from app.gigs.models import (
    MAX_PRICE_MINOR,
    TIERS,
    UNLIMITED_REVISIONS,
    Category,
    Gig,
    GigExtra,
    GigFaq,
    GigImage,
    GigPackage,
)
from app.gigs.text import looks_like_markup, render_description
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

TITLE_MIN, TITLE_MAX = 15, 100
DESCRIPTION_MAX = 10_000
MAX_TAGS = 5
TAG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9 -]{0,18}[a-z0-9])$")
DELIVERY_MIN, DELIVERY_MAX = 1, 90
REVISIONS_MAX = 20
MAX_FEATURES = 10
FEATURE_MAX = 80
PACKAGE_TITLE_MAX, PACKAGE_DESCRIPTION_MAX = 60, 300
MAX_EXTRAS = 10
MAX_FAQS = 10
QUESTION_MAX, ANSWER_MAX = 200, 1000
MAX_PAGE = 10_000  # deeper pages are empty rather than an absurd OFFSET
LOCATION_FIELDS = ("delivery_mode", "location", "latitude", "longitude", "service_radius_km")
GIG_FIELDS = ("title", "description", "category_id", "tags", "packages", "extras", "faqs", *LOCATION_FIELDS)
DELIVERY_MODES = ("online", "on_site")
LOCATION_TEXT_MAX = 120
NEAREST_CITY_KM = 25  # a point within this of a known city is named after it
# A pending gig stays editable (the operator reviews its latest version); a rejected
# one is edited and published again, which sends it back to review.
EDITABLE_STATUSES = ("draft", "pending_approval", "rejected", "active", "paused")
# Statuses in which the gig must stay complete (it is public, or about to be).
PUBLISHABLE_STATUSES = ("active", "pending_approval")


class GigError(DomainError):
    """A refused gig operation; ``errors`` maps a field (or ``"form"``) to a message.

    ``status`` is the HTTP status the API answers with (422 here; the subclasses
    below take theirs from the core classes they also are); the web shows the message.
    """


class GigNotFound(GigError, NotFound):
    """No such gig in this marketplace (or not visible to this viewer)."""


class GigForbidden(GigError, Forbidden):
    """The gig exists but the user may not change it (not the owner, or not a seller)."""


class GigStateError(GigError, Conflict):
    """The operation does not fit the gig's status (pause a draft, edit an archived gig)."""


class GigVersionConflict(GigError, PreconditionFailed):
    """The gig changed since the version the client last read."""


# --------------------------------------------------------------------------- categories


def category_tree(include_hidden: bool = False) -> list[Category]:
    """Top-level categories with their children loaded, in display order."""
    query = (
        sa.select(Category)
        .where(Category.parent_id.is_(None))
        .options(selectinload(Category.children))
        .order_by(Category.position, Category.id)
    )
    if not include_hidden:
        query = query.where(Category.is_hidden.is_(False))
    return list(db.session.execute(query).scalars())


@dataclass(frozen=True)
class CategoryNode:
    """A category as pages render it: plain data, safe to cache."""

    id: int
    name: str
    slug: str
    description: str
    children: tuple[CategoryNode, ...] = ()


CATEGORY_CACHE = tenant_cache.register("categories")


def visible_category_nodes() -> list[CategoryNode]:
    """The visible category tree of the bound tenant (pages: the home page, the header).

    This process's copy while the tenant's ``categories`` stamp in Redis is unchanged
    (``app.core.tenant_cache``); ``invalidate_category_cache`` renews the stamp whenever
    categories change. A fresh list each call (the cached tuple is shared by every request).
    """
    return list(tenant_cache.cached(CATEGORY_CACHE, _load_visible_nodes))


def _load_visible_nodes() -> tuple[CategoryNode, ...]:
    return tuple(
        CategoryNode(
            parent.id,
            parent.name,
            parent.slug,
            parent.description,
            tuple(
                CategoryNode(c.id, c.name, c.slug, c.description) for c in parent.children if not c.is_hidden
            ),
        )
        for parent in category_tree()
    )


@dataclass(frozen=True)
class ApiCategory:
    """A category as ``GET /api/v1/categories`` answers it (``CategorySchema``): the visible
    top-level categories with all their subcategories, as the API always listed them."""

    id: int
    name: str
    slug: str
    position: int
    description: str = ""
    children: tuple[ApiCategory, ...] = ()


def api_category_tree() -> list[ApiCategory]:
    """``category_tree()`` as plain data, cached like ``visible_category_nodes`` (same stamp)."""
    return list(tenant_cache.cached(CATEGORY_CACHE, _load_api_tree, variant="api"))


def _load_api_tree() -> tuple[ApiCategory, ...]:
    return tuple(
        ApiCategory(
            p.id,
            p.name,
            p.slug,
            p.position,
            p.description,
            tuple(ApiCategory(c.id, c.name, c.slug, c.position) for c in p.children),
        )
        for p in category_tree()
    )


def invalidate_category_cache() -> None:
    """Every process reloads the bound tenant's category tree on its next request (pages and
    API): a new stamp now and again after commit."""
    tenant_cache.invalidate(CATEGORY_CACHE)


def category_choices() -> list[tuple[int, str]]:
    """(id, label) of every visible category, subcategories as "Parent › Child"."""
    choices: list[tuple[int, str]] = []
    for parent in category_tree():
        choices.append((parent.id, parent.name))
        choices.extend(
            (child.id, f"{parent.name} › {child.name}") for child in parent.children if not child.is_hidden
        )
    return choices


def get_category_by_slug(slug: str) -> Category | None:
    """The visible category with this slug, or None."""
    category = db.session.scalar(sa.select(Category).where(Category.slug == slug))
    return category if category is not None and category.is_visible else None


# --------------------------------------------------------------------------- cleaning input


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain(
    value: Any, field: str, errors: dict, *, max_len: int, required: bool, label: str, multiline: bool = False
) -> str:
    """A plain-text field: trimmed, no control characters, no markup, within ``max_len``."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = f"{label} must be text."
        return ""
    text = strip_controls(value)
    text = text.strip() if multiline else " ".join(text.split())
    if not text:
        if required:
            errors[field] = f"{label} is required."
        return ""
    if len(text) > max_len:
        errors[field] = f"{label} must be at most {max_len:,} characters."
    elif looks_like_markup(text):
        errors[field] = f"{label} cannot contain HTML; write plain text."
    return text


def _price(value: Any, field: str, errors: dict) -> int:
    if not _is_int(value):
        errors[field] = "Enter the price as a whole number of minor units (cents)."
        return 0
    if value <= 0:
        errors[field] = "The price must be more than zero."
    elif value > MAX_PRICE_MINOR:
        errors[field] = f"The price can be at most {MAX_PRICE_MINOR:,} minor units."
    return value


def _clean_title(value: Any, errors: dict) -> str:
    title = _plain(value, "title", errors, max_len=TITLE_MAX, required=True, label="The title")
    if "title" not in errors and len(title) < TITLE_MIN:
        errors["title"] = f"The title must be {TITLE_MIN} to {TITLE_MAX} characters long."
    return title


def _clean_description(value: Any, errors: dict) -> tuple[str, str]:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors["description"] = "The description must be text."
        return "", ""
    source = strip_controls(value).strip()
    if len(source) > DESCRIPTION_MAX:
        errors["description"] = f"The description must be at most {DESCRIPTION_MAX:,} characters."
        return "", ""
    html = render_description(source) if source else ""
    if source and not html:
        errors["description"] = "The description has no readable text."
    return source, html


def _clean_category(value: Any, errors: dict) -> int | None:
    if value is None or value == "":
        return None
    if not _is_int(value):
        errors["category_id"] = "Choose a category."
        return None
    category = db.session.get(Category, value) if 0 < value < 2**31 else None
    if category is None or not category.is_visible:
        errors["category_id"] = "This category does not exist."
        return None
    return category.id


def _clean_tags(value: Any, errors: dict) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        errors["tags"] = "Give the tags as a list."
        return []
    tags: list[str] = []
    for raw in value:
        if not isinstance(raw, str):
            errors["tags"] = "Each tag must be text."
            return []
        tag = " ".join(raw.split()).lower()
        if not tag:
            continue
        if not TAG_RE.match(tag):
            shown = tag[:20] + ("…" if len(tag) > 20 else "")
            errors["tags"] = f"“{shown}” is not a valid tag: use 2 to 20 letters, digits, spaces or hyphens."
            return []
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        errors["tags"] = f"Use at most {MAX_TAGS} tags."
    return tags


def _clean_features(value: Any, field: str, errors: dict) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list | tuple):
        errors[field] = "Give the features as a list."
        return []
    features: list[str] = []
    for i, raw in enumerate(value):
        text = _plain(raw, f"{field}.{i}", errors, max_len=FEATURE_MAX, required=False, label="A feature")
        if f"{field}.{i}" in errors:
            errors[field] = errors.pop(f"{field}.{i}")
            return []
        if text:
            features.append(text)
    if len(features) > MAX_FEATURES:
        errors[field] = f"List at most {MAX_FEATURES} features."
    return features


def _heading_and_text(
    raw: dict,
    prefix: str,
    errors: dict,
    heading: tuple[str, int, str],
    text: tuple[str, int, str],
    *,
    text_required: bool = False,
) -> dict:
    """An item's required one-line ``heading`` and its multi-line ``text``, each given as
    (key, max_len, label): {key: clean value}, problems on ``errors`` under ``prefix.key``."""
    (heading_key, heading_max, heading_label), (text_key, text_max, text_label) = heading, text
    return {
        heading_key: _plain(
            raw.get(heading_key),
            f"{prefix}.{heading_key}",
            errors,
            max_len=heading_max,
            required=True,
            label=heading_label,
        ),
        text_key: _plain(
            raw.get(text_key),
            f"{prefix}.{text_key}",
            errors,
            max_len=text_max,
            required=text_required,
            label=text_label,
            multiline=True,
        ),
    }


def _clean_packages(value: Any, errors: dict) -> list[dict]:
    """A list of package dicts (each with a ``tier``) -> clean dicts in tier order."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        errors["packages"] = "Give the packages as a list."
        return []
    by_tier: dict[str, dict] = {}
    for raw in value:
        if not isinstance(raw, dict):
            errors["packages"] = "Each package must be an object."
            return []
        tier = raw.get("tier")
        if tier not in TIERS:
            errors["packages"] = "Each package needs a tier: basic, standard or premium."
            return []
        if tier in by_tier:
            errors["packages"] = f"There are two {tier} packages."
            return []
        prefix = f"packages.{tier}"
        unknown = set(raw) - {
            "tier",
            "title",
            "description",
            "price_minor",
            "delivery_days",
            "revisions",
            "features",
        }
        if unknown:
            errors[f"{prefix}.{sorted(unknown)[0]}"] = "Unknown field."
        clean = {
            "tier": tier,
            "position": TIERS.index(tier),
            **_heading_and_text(
                raw,
                prefix,
                errors,
                ("title", PACKAGE_TITLE_MAX, "The package title"),
                ("description", PACKAGE_DESCRIPTION_MAX, "The package description"),
            ),
            "price_minor": _price(raw.get("price_minor"), f"{prefix}.price_minor", errors),
            "features": _clean_features(raw.get("features"), f"{prefix}.features", errors),
        }
        days = raw.get("delivery_days")
        if not _is_int(days) or not DELIVERY_MIN <= days <= DELIVERY_MAX:
            errors[f"{prefix}.delivery_days"] = (
                f"Delivery time must be {DELIVERY_MIN} to {DELIVERY_MAX} days."
            )
        clean["delivery_days"] = days
        revisions = raw.get("revisions", 0)
        if revisions is None or revisions == "unlimited":
            revisions = UNLIMITED_REVISIONS
        if not _is_int(revisions) or not UNLIMITED_REVISIONS <= revisions <= REVISIONS_MAX:
            errors[f"{prefix}.revisions"] = f"Revisions must be 0 to {REVISIONS_MAX}, or unlimited."
        clean["revisions"] = revisions
        by_tier[tier] = clean
    if by_tier and "basic" not in by_tier:
        errors["packages.basic"] = "The basic package is required."
    return [by_tier[tier] for tier in TIERS if tier in by_tier]


def _object_list(value: Any, field: str, errors: dict, *, limit: int, messages: tuple[str, str, str]) -> list:
    """``value`` as a list of dicts of at most ``limit`` items, else [] with one error on ``field``.

    ``messages``: (not a list, too many, an item is not an object).
    """
    if value is None:
        return []
    not_list, too_many, not_object = messages
    if not isinstance(value, list | tuple):
        errors[field] = not_list
        return []
    if len(value) > limit:
        errors[field] = too_many
        return []
    if not all(isinstance(raw, dict) for raw in value):
        errors[field] = not_object
        return []
    return list(value)


def _clean_extras(value: Any, errors: dict) -> list[dict]:
    items = _object_list(
        value,
        "extras",
        errors,
        limit=MAX_EXTRAS,
        messages=(
            "Give the extras as a list.",
            f"Offer at most {MAX_EXTRAS} extras.",
            "Each extra must be an object.",
        ),
    )
    extras = []
    for i, raw in enumerate(items):
        prefix = f"extras.{i}"
        days = raw.get("extra_days", 0) or 0
        if not _is_int(days) or not -(DELIVERY_MAX - 1) <= days <= DELIVERY_MAX:
            errors[f"{prefix}.extra_days"] = (
                f"Extra days must be between {-(DELIVERY_MAX - 1)} and {DELIVERY_MAX}."
            )
            days = 0
        extras.append(
            {
                "position": i,
                **_heading_and_text(
                    raw,
                    prefix,
                    errors,
                    ("title", PACKAGE_TITLE_MAX, "The extra's title"),
                    ("description", PACKAGE_DESCRIPTION_MAX, "The extra's description"),
                ),
                "price_minor": _price(raw.get("price_minor"), f"{prefix}.price_minor", errors),
                "extra_days": days,
            }
        )
    return extras


def _clean_faqs(value: Any, errors: dict) -> list[dict]:
    items = _object_list(
        value,
        "faqs",
        errors,
        limit=MAX_FAQS,
        messages=(
            "Give the FAQ as a list.",
            f"Add at most {MAX_FAQS} questions.",
            "Each FAQ entry must be an object.",
        ),
    )
    faqs = []
    for i, raw in enumerate(items):
        prefix = f"faqs.{i}"
        faqs.append(
            {
                "position": i,
                **_heading_and_text(
                    raw,
                    prefix,
                    errors,
                    ("question", QUESTION_MAX, "The question"),
                    ("answer", ANSWER_MAX, "The answer"),
                    text_required=True,
                ),
            }
        )
    return faqs


def _clean(data: dict, *, creating: bool, gig: Gig | None = None) -> dict:
    """Validate the given fields; raises GigError with every problem at once.

    Location fields given alone on an edit are completed from ``gig``'s stored ones
    (``{"service_radius_km": 20}`` keeps the place); see ``_clean_location``."""
    if not isinstance(data, dict):
        raise GigError("The gig must be given as an object.")
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for field in data:
        if field not in GIG_FIELDS:
            errors[field] = "Unknown field."
    if creating and "title" not in data:
        errors["title"] = "The title is required."
    if "title" in data:
        clean["title"] = _clean_title(data["title"], errors)
    if "description" in data:
        clean["description_source"], clean["description_html"] = _clean_description(
            data["description"], errors
        )
    if "category_id" in data:
        clean["category_id"] = _clean_category(data["category_id"], errors)
    if "tags" in data:
        clean["tags"] = _clean_tags(data["tags"], errors)
    if "packages" in data:
        clean["packages"] = _clean_packages(data["packages"], errors)
    if "extras" in data:
        clean["extras"] = _clean_extras(data["extras"], errors)
    if "faqs" in data:
        clean["faqs"] = _clean_faqs(data["faqs"], errors)
    if any(field in data for field in LOCATION_FIELDS):
        given = {field: data[field] for field in LOCATION_FIELDS if field in data}
        clean["location"] = _clean_location(given, errors, current=gig)
    if errors:
        raise GigError(errors)
    return clean


# --------------------------------------------------------------------------- where it is delivered


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _resolve_place(value: Any, errors: dict) -> geo.City | None:
    """The gazetteer city a seller named (text, "City, Country" or a GeoNames id)."""
    if _is_int(value):
        value = str(value)
    if not isinstance(value, str):
        errors["location"] = "Give the place as text, like “Berlin” or “Berlin, Germany”."
        return None
    text = " ".join(strip_controls(value).split())
    if len(text) > LOCATION_TEXT_MAX:
        errors["location"] = f"The place must be at most {LOCATION_TEXT_MAX} characters."
        return None
    from app.settings.services import location_settings

    city = geo.find_city(text, prefer_country=location_settings().default_country)
    if city is None:
        errors["location"] = "We don't know that place. Pick a city from the list."
    return city


def _nearest_city(lat: float, lng: float) -> geo.City | None:
    """The most populous known city within ``NEAREST_CITY_KM`` of a point (to name it), or None."""
    box = geo.bounding_box(lat, lng, NEAREST_CITY_KM)
    near = [
        city
        for city in geo.gazetteer().by_id.values()
        if box.contains(city.lat, city.lng)
        and geo.haversine_km(lat, lng, city.lat, city.lng) <= NEAREST_CITY_KM
    ]
    return max(near, key=lambda c: (c.population, -c.id), default=None)


def _clean_location(data: dict, errors: dict, *, current: Gig | None = None) -> dict:
    """``data`` (some of ``LOCATION_FIELDS``) -> the gig's location columns, problems on ``errors``.

    - ``delivery_mode``: ``online`` (anywhere; clears the place and radius) or ``on_site``
      (only when the marketplace has location on);
    - on site, the place: ``location`` (a city of the gazetteer: "Berlin", "Berlin, Germany",
      a GeoNames id; the marketplace's default country wins among same-named cities) or
      ``latitude`` and ``longitude`` (degrees; named after the nearest big city), not both;
    - ``service_radius_km``: a whole number of km, 1 to ``geo.MAX_RADIUS_KM``.

    What ``data`` leaves out is taken from ``current`` (an edit), else missing."""
    mode = data.get("delivery_mode", current.delivery_mode if current is not None else "online")
    if mode not in DELIVERY_MODES:
        errors["delivery_mode"] = "Choose online or on site."
        return {}
    if mode == "online":
        for field in ("location", "latitude", "longitude", "service_radius_km"):
            if not _blank(data.get(field)):
                errors[field] = "An online gig has no place or radius: choose on site to give one."
                return {}
        return dict.fromkeys(
            ("location_name", "location_country", "latitude", "longitude", "service_radius_km"), None
        ) | {"delivery_mode": "online"}
    from app.settings.services import location_settings

    if not location_settings().enabled:
        errors["delivery_mode"] = "This marketplace lists online services only."
        return {}
    clean: dict[str, Any] = {"delivery_mode": "on_site"}
    place, lat, lng = data.get("location"), data.get("latitude"), data.get("longitude")
    has_place, has_point = not _blank(place), not (_blank(lat) and _blank(lng))
    if has_place and has_point:
        errors["location"] = "Give a city or a point (latitude and longitude), not both."
    elif has_place:
        city = _resolve_place(place, errors)
        if city is not None:
            clean.update(
                location_name=city.name, location_country=city.country, latitude=city.lat, longitude=city.lng
            )
    elif has_point:
        try:
            lat, lng = geo.check_point(lat, lng, lat_field="latitude", lng_field="longitude")
        except geo.GeoError as exc:
            errors[exc.field] = str(exc)
        else:
            city = _nearest_city(lat, lng)
            clean.update(
                location_name=city.name if city else None,
                location_country=city.country if city else None,
                latitude=lat,
                longitude=lng,
            )
    elif any(field in data for field in ("location", "latitude", "longitude")) or (
        current is None or current.latitude is None
    ):
        errors["location"] = "Say where you work: pick a city."
    # else: an edit that keeps the stored place
    radius = data.get("service_radius_km", current.service_radius_km if current is not None else None)
    if _blank(radius):
        errors["service_radius_km"] = f"Say how far you travel: 1 to {geo.MAX_RADIUS_KM} km."
    elif not _is_int(radius) or not 1 <= radius <= geo.MAX_RADIUS_KM:
        errors["service_radius_km"] = (
            f"The radius must be a whole number of km from 1 to {geo.MAX_RADIUS_KM}."
        )
    else:
        clean["service_radius_km"] = radius
    return clean


def _apply_location(gig: Gig, clean: dict) -> bool:
    """Set the location columns; whether anything changed."""
    changed = False
    for field, value in clean.items():
        if getattr(gig, field) != value:
            setattr(gig, field, value)
            changed = True
    return changed


def set_gig_location(
    gig: Gig,
    *,
    delivery_mode: str,
    location: str | int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    radius_km: int | None = None,
) -> Gig:
    """Say where ``gig`` is delivered: ``online``, or ``on_site`` from a place (``location``, a
    city text or GeoNames id, or ``latitude`` + ``longitude``) within ``radius_km`` (1-500).

    The arguments are the whole location (nothing is kept from before); online clears it. The
    caller checks who may edit the gig (``update_gig`` does, with the same fields). A change
    bumps the version and publishes ``gig.updated`` (for a gig already stored).
    Raises GigStateError (archived), GigError with field errors (``delivery_mode``,
    ``location``, ``latitude``, ``longitude``, ``service_radius_km``): an unknown city, a bad
    point or radius, on site when the marketplace lists online services only.
    """
    _require_editable(gig)
    errors: dict[str, str] = {}
    data = {
        "delivery_mode": delivery_mode,
        "location": location,
        "latitude": latitude,
        "longitude": longitude,
    }
    clean = _clean_location({**data, "service_radius_km": radius_km}, errors)
    if errors:
        raise GigError(errors)
    if _apply_location(gig, clean) and gig.id is not None:
        _bump(gig)
        _flush_versioned()
        publish("gig.updated", {"gig_id": gig.id})
    return gig


# --------------------------------------------------------------------------- gigs: reading


def get_gig(gig_id: Any) -> Gig | None:
    """The gig with this id in the bound tenant, or None (also for ids that cannot exist)."""
    if not _is_int(gig_id) or not 0 < gig_id < 2**31:
        return None
    return db.session.get(Gig, gig_id)


def _seller_is_public(gig: Gig) -> bool:
    return gig.seller.status == "active"


def can_view(gig: Gig, viewer: User | None) -> bool:
    """Everyone sees an active gig of an active seller; the owner sees every status."""
    if viewer is not None and getattr(viewer, "id", None) == gig.seller_id:
        return True
    return gig.status == "active" and _seller_is_public(gig)


def get_public_gig(slug: str, viewer: User | None = None) -> Gig:
    """The gig at ``/gigs/<slug>`` as ``viewer`` (None: anonymous) may see it.

    Raises GigNotFound for an unknown slug, and for a draft, paused or
    archived gig (or a suspended seller's) unless ``viewer`` owns it.
    """
    gig = (
        db.session.scalars(_public_gig_statement(), {"slug": slug}).unique().first()
        if isinstance(slug, str)
        else None
    )
    if gig is None or not can_view(gig, viewer):
        raise GigNotFound("This gig does not exist.")
    return gig


@functools.cache
def _public_gig_statement() -> sa.Select:
    """``get_public_gig``'s select, built once (parameter ``slug``): the page's seller level and
    breadcrumb (the seller's profile, the category's parent) and the packages (at most three
    rows) come in the same query; extras, images and FAQs keep their own (joined too, their
    rows would multiply)."""
    return (
        sa.select(Gig)
        .where(Gig.slug == sa.bindparam("slug", type_=Gig.__table__.c.slug.type))
        .options(
            joinedload(Gig.seller).joinedload(User.seller_profile),
            joinedload(Gig.category).joinedload(Category.parent),
            joinedload(Gig.packages),
        )
    )


def get_visible_gig(gig_id: Any, viewer: User | None = None) -> Gig:
    """Like ``get_public_gig`` but by id (the API). Raises GigNotFound."""
    gig = get_gig(gig_id)
    if gig is None or not can_view(gig, viewer):
        raise GigNotFound("This gig does not exist.")
    return gig


def get_gig_for_owner(user: User, gig_id: Any) -> Gig:
    """A gig ``user`` may edit. Raises GigNotFound (no such gig) or GigForbidden (someone else's)."""
    gig = get_gig(gig_id)
    if gig is None:
        raise GigNotFound("This gig does not exist.")
    _require_owner(user, gig)
    return gig


def _page_bounds(page: int, per_page: int) -> tuple[int, int] | None:
    if not _is_int(page) or page < 1 or page > MAX_PAGE:
        return None
    return (page - 1) * per_page, per_page


def list_seller_gigs(
    user: User, include_drafts: bool = False, *, page: int = 1, per_page: int = 50
) -> tuple[list[Gig], int]:
    """``(gigs, total)`` of ``user``, newest first.

    Without ``include_drafts``: only what the public sees (active gigs of an
    active seller). With it: every status but archived, for the owner's pages.
    A page beyond ``MAX_PAGE`` is empty. Raises nothing.
    """
    query = sa.select(Gig).where(Gig.seller_id == user.id)
    if include_drafts:
        query = query.where(Gig.status != "archived")
    else:
        if user.status != "active":
            return [], 0
        query = query.where(Gig.status == "active")
    return _paginate(query.order_by(Gig.created_at.desc(), Gig.id.desc()), page, per_page)


def list_category_gigs(category: Category, *, page: int = 1, per_page: int = 24) -> tuple[list[Gig], int]:
    """``(gigs, total)``: active gigs of active sellers in ``category`` or its subcategories, newest first."""
    ids = [category.id, *(child.id for child in category.children if not child.is_hidden)]
    query = (
        sa.select(Gig)
        .join(Gig.seller)
        .where(Gig.status == "active", Gig.category_id.in_(ids), User.status == "active")
        .order_by(Gig.published_at.desc(), Gig.id.desc())
        # Cards show the seller's level: loaded with the page, not one query per seller.
        .options(joinedload(Gig.seller).joinedload(User.seller_profile))
    )
    return _paginate(query, page, per_page)


def _paginate(query, page: int, per_page: int) -> tuple[list[Gig], int]:
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    bounds = _page_bounds(page, per_page)
    if bounds is None:
        return [], total
    offset, limit = bounds
    return list(db.session.scalars(query.offset(offset).limit(limit)).unique()), total


# --------------------------------------------------------------------------- gigs: writing


def _require_seller(user: User) -> None:
    if user is None or user.status != "active":
        raise GigForbidden("This account cannot sell.")
    if user.seller_profile is None:
        raise GigForbidden("Create your seller profile before you offer a gig.")


def _require_owner(user: User | None, gig: Gig) -> None:
    if user is None or user.id != gig.seller_id:
        raise GigForbidden("Only the seller who owns this gig can change it.")


def _require_editable(gig: Gig) -> None:
    if gig.status not in EDITABLE_STATUSES:
        raise GigStateError("This gig is archived and can no longer be changed.")


def _check_version(gig: Gig, expected_version: Any) -> None:
    if expected_version is not None and expected_version != gig.version:
        raise GigVersionConflict(
            "This gig was changed since you loaded it (in another tab or app). Reload it and try again."
        )


def parse_version(raw: Any) -> int | None:
    """A version number sent back by a form ("3" -> 3); None when absent or garbled (no check)."""
    raw = str(raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _new_slug(title: str) -> str:
    base = slugify(title, fallback="gig")[:90].strip("-")
    for _ in range(5):
        slug = f"{base}-{secrets.token_hex(3)}"
        if db.session.scalar(sa.select(Gig.id).where(Gig.slug == slug)) is None:
            return slug
    raise RuntimeError("could not find a free gig slug")  # 16M suffixes per title: never in practice


def _refresh_summary(gig: Gig) -> None:
    """Recompute the denormalised search fields from the packages."""
    gig.min_price_minor = min((p.price_minor for p in gig.packages), default=None)
    gig.min_delivery_days = min((p.delivery_days for p in gig.packages), default=None)


def _bump(gig: Gig) -> None:
    gig.version = gig.version + 1
    gig.updated_at = datetime.now(UTC)


def completeness_errors(gig: Gig) -> dict[str, str]:
    """What a gig still lacks before it can be published (empty when it is complete)."""
    errors: dict[str, str] = {}
    if not gig.title or len(gig.title) < TITLE_MIN:
        errors["title"] = f"The title must be {TITLE_MIN} to {TITLE_MAX} characters long."
    if not gig.description_html:
        errors["description"] = "Describe what you offer."
    if gig.category_id is None:
        errors["category_id"] = "Choose a category."
    elif not gig.category.is_visible:
        errors["category_id"] = "This category is no longer offered; choose another."
    if gig.package("basic") is None:
        errors["packages.basic"] = "The basic package is required."
    return errors


def _check_extras_fit(packages: list, extras: list, errors: dict) -> None:
    """Every extra must leave every package with at least one day of delivery."""
    shortest = min(
        (p["delivery_days"] if isinstance(p, dict) else p.delivery_days for p in packages), default=None
    )
    if shortest is None:
        return
    for i, extra in enumerate(extras):
        days = extra["extra_days"] if isinstance(extra, dict) else extra.extra_days
        if _is_int(shortest) and shortest + days < DELIVERY_MIN:
            errors[f"extras.{i}.extra_days"] = (
                f"This would leave a package with less than one day ({shortest} days)."
            )


def _apply(gig: Gig, clean: dict) -> None:
    for field in ("title", "description_source", "description_html", "category_id", "tags"):
        if field in clean:
            setattr(gig, field, clean[field])
    if "category_id" in clean:
        gig.category = db.session.get(Category, clean["category_id"]) if clean["category_id"] else None
    if "packages" in clean:
        # Update tiers in place: a flush inserts before it deletes, so replacing the
        # rows would trip the (gig_id, tier) unique constraint.
        wanted = {p["tier"]: p for p in clean["packages"]}
        for package in list(gig.packages):
            if package.tier not in wanted:
                gig.packages.remove(package)
        for tier, fields in wanted.items():
            package = gig.package(tier)
            if package is None:
                gig.packages.append(GigPackage(**fields))
            else:
                for name, value in fields.items():
                    setattr(package, name, value)
        gig.packages.sort(key=lambda p: p.position)
        _refresh_summary(gig)
    if "extras" in clean:
        gig.extras = [GigExtra(**e) for e in clean["extras"]]
    if "faqs" in clean:
        gig.faqs = [GigFaq(**f) for f in clean["faqs"]]
    if "location" in clean:
        _apply_location(gig, clean["location"])


def _validate_result(gig: Gig, clean: dict) -> None:
    """Cross-field rules of the gig as it would be after ``clean`` is applied."""
    errors: dict[str, str] = {}
    packages = clean.get("packages", gig.packages)
    extras = clean.get("extras", gig.extras)
    _check_extras_fit(packages, extras, errors)
    if errors:
        raise GigError(errors)


def create_gig(seller: User, data: dict) -> Gig:
    """Create a draft gig for ``seller``.

    ``data``: title (required, 15-100 characters), description (Markdown),
    category_id, tags (up to 5), packages (list of {tier, title, description,
    price_minor, delivery_days, revisions, features}), extras, faqs, and where it is
    delivered (``delivery_mode``, ``location`` or ``latitude``/``longitude``,
    ``service_radius_km``: see ``set_gig_location``); all but the title may come later.
    Publishes nothing (drafts are private).
    Raises GigForbidden when ``seller`` has no seller profile, GigError with
    field errors for bad input.
    """
    _require_seller(seller)
    clean = _clean(data, creating=True)
    gig = Gig(seller_id=seller.id, seller=seller, status="draft", slug=_new_slug(clean["title"]), version=1)
    _validate_result(gig, {"packages": [], "extras": [], **clean})
    _apply(gig, clean)
    db.session.add(gig)
    db.session.flush()
    log.info("gig created", extra={"gig_id": gig.id, "user_id": seller.id})
    return gig


def update_gig(actor: User, gig: Gig, data: dict, expected_version: int | None = None) -> Gig:
    """Change some of a gig's fields (the keys present in ``data``, as for ``create_gig``).

    ``packages``, ``extras`` and ``faqs`` replace the whole list when given.
    ``expected_version`` is the version the client read (None: do not check);
    a concurrent write between the check and the flush is caught too.
    An active (or pending) gig must stay publishable. Publishes ``gig.updated``.
    Raises GigForbidden (not the owner), GigStateError (archived),
    GigVersionConflict, GigError with field errors.
    """
    _require_owner(actor, gig)
    _require_editable(gig)
    _check_version(gig, expected_version)
    clean = _clean(data, creating=False, gig=gig)
    _validate_result(gig, clean)
    if gig.status in PUBLISHABLE_STATUSES and (
        "packages" in clean or "description_html" in clean or "category_id" in clean
    ):
        errors = {}
        if "packages" in clean and not any(p["tier"] == "basic" for p in clean["packages"]):
            errors["packages.basic"] = "A published gig needs its basic package."
        if "description_html" in clean and not clean["description_html"]:
            errors["description"] = "A published gig needs a description."
        if "category_id" in clean and clean["category_id"] is None:
            errors["category_id"] = "A published gig needs a category."
        if errors:
            raise GigError(errors)
    if "title" in clean and clean["title"] != gig.title and gig.published_at is None:
        gig.slug = _new_slug(clean["title"])  # never published: no link to keep
    _apply(gig, clean)
    _bump(gig)
    _flush_versioned()
    publish("gig.updated", {"gig_id": gig.id})
    return gig


def _flush_versioned() -> None:
    try:
        db.session.flush()
    except StaleDataError:
        raise GigVersionConflict(
            "This gig was changed at the same time by another request. Reload it and try again."
        ) from None


def approval_required() -> bool:
    """Whether the marketplace reviews new gigs before they go live (``gigs_require_approval``)."""
    from app.settings.models import MarketplaceSettings

    return bool(db.session.scalar(sa.select(MarketplaceSettings.gigs_require_approval)))


def needs_review(gig: Gig) -> bool:
    """Whether publishing ``gig`` sends it to the operators' review instead of making it active.

    - a rejected gig, and a gig an operator paused (its ``moderation_reason`` is set),
      always go back through review: the seller cannot undo an operator's decision alone;
    - with approval on, a gig that was never published (``published_at`` empty) is reviewed;
      a gig already approved or published once goes live again when its seller resumes it.
    """
    if gig.status == "rejected":
        return True
    if gig.status == "paused" and gig.moderation_reason is not None:
        return True
    return gig.published_at is None and approval_required()


def publish_gig(actor: User, gig: Gig) -> Gig:
    """Publish a draft, paused or rejected gig: it becomes active (listed, searchable), or
    ``pending_approval`` when it needs an operator's review first (see ``needs_review``).

    Publishing an active or pending gig changes nothing. Publishes ``gig.published``
    (active) or ``gig.submitted`` (pending). Raises GigForbidden (not the owner, or no
    longer a seller), GigStateError (archived), GigError with what is missing (title,
    description, category, basic package).
    """
    _require_owner(actor, gig)
    _require_editable(gig)
    if gig.status in ("active", "pending_approval"):
        return gig
    _require_seller(actor)
    require_verified(actor)
    errors = completeness_errors(gig)
    if errors:
        raise GigError(errors)
    if needs_review(gig):
        gig.status = "pending_approval"
        _bump(gig)
        _flush_versioned()
        publish("gig.submitted", {"gig_id": gig.id})
        return gig
    gig.status = "active"
    gig.published_at = gig.published_at or datetime.now(UTC)
    _bump(gig)
    _flush_versioned()
    publish("gig.published", {"gig_id": gig.id})
    return gig


def pause_gig(actor: User, gig: Gig) -> Gig:
    """Take an active gig out of the catalog (it keeps its page for the owner). Pausing a paused gig
    changes nothing. Publishes ``gig.paused``. Raises GigForbidden, GigStateError (draft or archived).
    """
    _require_owner(actor, gig)
    if gig.status == "paused":
        return gig
    if gig.status != "active":
        raise GigStateError("Only a published gig can be paused.")
    gig.status = "paused"
    _bump(gig)
    _flush_versioned()
    publish("gig.paused", {"gig_id": gig.id})
    return gig


def archive_gig(actor: User, gig: Gig) -> Gig:
    """Retire a gig for good: it leaves the catalog and cannot be edited or published again.

    Archiving an archived gig changes nothing. Publishes ``gig.archived``.
    Raises GigForbidden (not the owner).
    """
    _require_owner(actor, gig)
    if gig.status == "archived":
        return gig
    gig.status = "archived"
    _bump(gig)
    _flush_versioned()
    publish("gig.archived", {"gig_id": gig.id})
    return gig


def set_gig_rating(gig_id: int, average: Any, count: int) -> bool:
    """Store the average and count of a gig's published reviews (the reviews domain computes
    them); flushes. A plain UPDATE: it neither bumps nor checks the gig's ``version``, so a
    review publishing while the seller edits the gig never makes the edit stale. Returns
    whether anything changed; a change publishes ``gig.rating_changed`` ``{"gig_id"}`` for the
    search index.
    """
    changed = db.session.execute(
        sa.update(Gig)
        .where(
            Gig.id == gig_id,
            sa.or_(Gig.rating_count != count, Gig.rating_avg != (average or 0)),
        )
        .values(rating_avg=average or 0, rating_count=count)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if changed:
        publish("gig.rating_changed", {"gig_id": gig_id})
    return bool(changed)


# --------------------------------------------------------------------------- page sections

# Sections higher domains add to a gig's page (reviews: the rating summary and the reviews), in
# the order registered: ``section(gig, viewer) -> Markup | None`` (None: nothing to show; viewer
# None when anonymous). Registered at app setup (``app._register_domain_hooks``).
_gig_sections: list[Callable[[Gig, User | None], Any]] = []


def register_gig_section(section: Callable[[Gig, User | None], Any]) -> None:
    if section not in _gig_sections:
        _gig_sections.append(section)


def gig_sections(gig: Gig, viewer: User | None) -> list:
    """The rendered sections of ``gig``'s page as ``viewer`` sees it."""
    return [html for html in (section(gig, viewer) for section in _gig_sections) if html]


# --------------------------------------------------------------------------- images

THUMB_SIDE = 480
IMAGE_SIDE = 1600


def add_gig_image(actor: User, gig: Gig, file) -> GigImage:
    """Validate, re-encode and store an uploaded image (plus a thumbnail) at the end of the gallery.

    ``file`` is bytes or a werkzeug FileStorage. At most ``GIG_MAX_IMAGES``
    per gig (the gig row is locked while counting, so two uploads at once
    cannot both take the last place). Publishes ``gig.updated``.
    Raises GigForbidden, GigStateError (archived), GigError({"image": ...}).
    """
    from PIL import Image

    from app.storage import storage
    from app.storage.images import ImageError, process_image

    _require_owner(actor, gig)
    _require_editable(gig)
    limit = current_app.config["GIG_MAX_IMAGES"]
    db.session.execute(sa.select(Gig.id).where(Gig.id == gig.id).with_for_update())
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(GigImage).where(GigImage.gig_id == gig.id)
    )
    if count >= limit:
        raise GigError({"image": f"A gig has at most {limit} images. Remove one first."})
    if file is None or (hasattr(file, "filename") and not file.filename):
        raise GigError({"image": "Choose an image to upload."})
    try:
        data, content_type = process_image(
            file, max_bytes=current_app.config["GIG_IMAGE_MAX_BYTES"], max_side=IMAGE_SIDE
        )
        thumb, _ = process_image(data, max_bytes=len(data), max_side=THUMB_SIDE)
    except ImageError as exc:
        raise GigError({"image": str(exc)}) from None
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
    key = storage.save(data, namespace="gigs", filename="image", content_type=content_type)
    thumb_key = storage.save(thumb, namespace="gigs", filename="thumb", content_type=content_type)
    try:
        position = max((image.position for image in gig.images), default=-1) + 1
        image = GigImage(key=key, thumb_key=thumb_key, position=position, width=width, height=height)
        gig.images.append(image)
        _bump(gig)
        _flush_versioned()
    except Exception:
        for stored in (key, thumb_key):  # nothing points at them: do not leave orphans
            _delete_file(current_tenant().id, stored)
        raise
    publish("gig.updated", {"gig_id": gig.id})
    return image


def remove_gig_image(actor: User, gig: Gig, image_id: Any) -> None:
    """Remove one image of the gig (its files are deleted after commit). Publishes ``gig.updated``.

    Raises GigForbidden, GigStateError (archived), GigNotFound (not an image of this gig).
    """
    _require_owner(actor, gig)
    _require_editable(gig)
    image = next((img for img in gig.images if _is_int(image_id) and img.id == image_id), None)
    if image is None:
        raise GigNotFound("This image does not exist.")
    tenant_id = current_tenant().id
    for key in (image.key, image.thumb_key):
        on_commit(_delete_file, tenant_id, key)
    gig.images.remove(image)
    for position, remaining in enumerate(gig.images):
        remaining.position = position
    _bump(gig)
    _flush_versioned()
    publish("gig.updated", {"gig_id": gig.id})


def _delete_file(tenant_id: int, key: str) -> None:
    from app.storage import delete_for_tenant

    delete_for_tenant(tenant_id, key)


def image_url(key: str | None, expires_in: int = 3600) -> str | None:
    """A signed URL of a stored gig image, or None."""
    from app.storage import storage

    return storage.url(key, expires_in=expires_in) if key else None


def currency_decimals_lock(current: str, new: str) -> str | None:
    """Registered with settings (``register_decimals_lock``): gig prices are minor units of the
    ``current`` currency, so once gigs exist a ``new`` one with other decimals is refused."""
    if money.exponent(new) == money.exponent(current):
        return None
    if not db.session.scalar(sa.select(sa.exists().where(Gig.id.is_not(None)))):
        return None
    return (
        f"Gig prices are stored in minor units of {current} ({money.exponent(current)} decimals); "
        f"{new} has {money.exponent(new)}, so every price would change value. Change the "
        "currency before sellers add gigs, or to one with the same decimals."
    )


def seller_listing(user: User) -> list[Gig]:
    """Registered with accounts (``register_seller_listing``): the seller's live gigs, for
    their public profile."""
    return list_seller_gigs(user, per_page=24)[0]
