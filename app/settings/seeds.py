"""The settings' ``tenant_seed`` receiver, on the model alone: ``flask tenants create`` does not
import the settings' services (docs/design/performance.md, "CLI startup")."""

from __future__ import annotations

from app.core.money import DEFAULT_LOCALE
from app.settings.models import MarketplaceSettings


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
            locale=options.get("locale") or DEFAULT_LOCALE,
        )
    )
    return []
