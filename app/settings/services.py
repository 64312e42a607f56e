"""Marketplace settings and the one cached branding accessor."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from flask import g

from app.after_commit import on_commit
from app.extensions import redis_store
from app.settings.models import MarketplaceSettings
from tenants.db import current_tenant, db

_BRANDING_TTL = 300
HEX_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


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


def _cache_key(tenant_id: int) -> str:
    # Every cache key carries the tenant.
    return f"t:{tenant_id}:branding:v1"


def get_branding() -> Branding:
    """Branding of the bound tenant: per request, then Redis, then the database."""
    tenant = current_tenant()
    cached = getattr(g, "_branding", None)
    if cached is not None and cached[0] == tenant.id:
        return cached[1]
    key = _cache_key(tenant.id)
    raw = redis_store.client.get(key)
    if raw is not None:
        branding = Branding(**json.loads(raw))
    else:
        row = db.session.get(MarketplaceSettings, 1)
        if row is None:
            raise LookupError(f"tenant {tenant.slug} has no settings row")
        branding = Branding(
            name=row.name,
            tagline=row.tagline,
            hero_text=row.hero_text,
            logo_url=row.logo_url,
            primary_color=row.primary_color,
            accent_color=row.accent_color,
            support_email=row.support_email,
            currency=row.currency,
        )
        redis_store.client.set(key, json.dumps(asdict(branding)), ex=_BRANDING_TTL)
    g._branding = (tenant.id, branding)
    return branding


def _delete_cached(tenant_id: int) -> None:
    redis_store.client.delete(_cache_key(tenant_id))


def invalidate_branding() -> None:
    """Drop the cached branding now and again after commit (a reader may re-cache in between)."""
    tenant = current_tenant()
    _delete_cached(tenant.id)
    on_commit(_delete_cached, tenant.id)
    g.pop("_branding", None)


class SettingsError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def update_branding(**changes) -> MarketplaceSettings:
    """Change branding fields of the bound tenant; invalidates the cache after flush.

    Raises SettingsError with field errors; nothing is changed then.
    """
    errors = {}
    for field in ("primary_color", "accent_color"):
        if field in changes and not HEX_COLOR_RE.match(changes[field] or ""):
            errors[field] = "must be a colour like #1a2b3c"
    if "name" in changes and not (changes["name"] or "").strip():
        errors["name"] = "is required"
    for field in set(changes) - set(Branding.__dataclass_fields__):
        errors[field] = "is not a branding field"
    if errors:
        raise SettingsError(errors)
    row = db.session.execute(
        sa.select(MarketplaceSettings).where(MarketplaceSettings.id == 1).with_for_update()
    ).scalar_one()
    for field, value in changes.items():
        setattr(row, field, value)
    db.session.flush()
    invalidate_branding()
    return row


def seed_settings(_sender, *, session, tenant, options) -> list[str]:
    """tenant_seed receiver: the settings row, named after the tenant."""
    session.add(
        MarketplaceSettings(
            id=1,
            name=tenant.name,
            tagline=options.get("tagline") or "Find the right freelancer for the job",
            hero_text=options.get("hero_text") or "",
            primary_color=options.get("primary_color") or "#1dbf73",
            accent_color=options.get("accent_color") or "#404145",
            support_email=options.get("admin_email"),
            currency=options.get("currency") or "USD",
        )
    )
    return []
