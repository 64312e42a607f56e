"""Demo marketplaces for `make run`: two tenants with different branding."""

from __future__ import annotations

from flask import current_app

from app.settings.services import update_branding
from tenants.db import db, tenant_context
from tenants.provisioning import create_tenant
from tenants.resolver import get_tenant_by_slug

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105  (published demo credentials)

DEMO_TENANTS = [
    {
        "slug": "acme",
        "name": "Acme Talent",
        "branding": {
            "tagline": "Hand-picked freelancers for growing businesses",
            "hero_text": "Logos, websites, copy and more, delivered on time.",
            "primary_color": "#0f766e",
            "accent_color": "#134e4a",
        },
    },
    {
        "slug": "globex",
        "name": "Globex Freelance",
        "branding": {
            "tagline": "The creative marketplace of the Globex network",
            "hero_text": "Find design, video and music talent in minutes.",
            "primary_color": "#6d28d9",
            "accent_color": "#3b0764",
        },
    },
]


def seed_demo() -> list[str]:
    """Create the demo tenants that are missing; returns lines to print."""
    lines = []
    base = current_app.config["BASE_DOMAIN"]
    for spec in DEMO_TENANTS:
        if get_tenant_by_slug(spec["slug"]) is not None:
            lines.append(f"{spec['slug']}: already there")
            continue
        result = create_tenant(
            spec["slug"],
            spec["name"],
            base_domain=base,
            options={
                "admin_email": f"admin@{spec['slug']}.test",
                "admin_password": DEMO_PASSWORD,
                **spec["branding"],
            },
        )
        with tenant_context(result.tenant):
            update_branding(**spec["branding"])
            db.session.commit()
        lines.append(f"{spec['slug']}: created ({', '.join(result.notes)})")
    current_app.extensions["tenants"].invalidate()
    return lines
