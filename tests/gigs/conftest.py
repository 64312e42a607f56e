"""Factories and helpers for the gigs tests: sellers, gigs, images, web forms and API tokens."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from PIL import Image

from app.accounts.models import User
from app.gigs import services
from app.gigs.models import Category, Gig
from tenants.db import db
from tests.helpers import PASSWORD, bearer_headers, csrf_token, login  # noqa: F401  (for modules)


def png(size=(800, 600), color=(30, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def gig_data(**overrides) -> dict:
    """A complete gig: three packages, an extra and a FAQ entry (category filled in by make_gig)."""
    data = {
        "title": "I will design a modern minimalist logo",
        "description": "A **clean** logo for your brand.\n\n- three concepts\n- vector files",
        "tags": ["logo", "branding", "minimalist"],
        "packages": [
            {
                "tier": "basic",
                "title": "Starter",
                "description": "One concept",
                "price_minor": 5000,
                "delivery_days": 5,
                "revisions": 2,
                "features": ["1 concept", "PNG file"],
            },
            {
                "tier": "standard",
                "title": "Standard",
                "price_minor": 12000,
                "delivery_days": 4,
                "revisions": 5,
                "features": ["3 concepts", "Vector files"],
            },
            {
                "tier": "premium",
                "title": "Premium",
                "price_minor": 25000,
                "delivery_days": 3,
                "revisions": -1,
                "features": ["5 concepts", "Brand guide"],
            },
        ],
        "extras": [{"title": "Fast delivery", "price_minor": 3000, "extra_days": -2}],
        "faqs": [{"question": "Do I own the rights?", "answer": "Yes, all of them."}],
    }
    data.update(overrides)
    return data


def first_subcategory_id() -> int:
    return db.session.scalar(
        sa.select(Category.id).where(Category.parent_id.is_not(None)).order_by(Category.id).limit(1)
    )


@pytest.fixture
def make_gig(in_tenant):
    """``make_gig(tenant, seller_id, status="active", **data)`` -> gig id (a complete gig)."""

    def factory(tenant, seller_id, status="active", **overrides):
        with in_tenant(tenant):
            seller = db.session.get(User, seller_id)
            data = gig_data(category_id=first_subcategory_id(), **overrides)
            gig = services.create_gig(seller, data)
            move_gig(seller, gig, status)
            db.session.commit()
            return gig.id

    return factory


def move_gig(seller, gig, status, published=("active", "paused")):
    """Take a new draft ``gig`` to ``status`` through the services (publishing it first when
    ``status`` is one of ``published``)."""
    if status in published:
        services.publish_gig(seller, gig)
    if status == "paused":
        services.pause_gig(seller, gig)
    if status == "archived":
        services.archive_gig(seller, gig)


@pytest.fixture
def approval(in_tenant):
    """``approval(tenant, on=True)``: switch gigs_require_approval on the settings row."""
    from app.settings.models import MarketplaceSettings

    def switch(tenant, on=True):
        with in_tenant(tenant):
            db.session.get(MarketplaceSettings, 1).gigs_require_approval = on
            db.session.commit()

    return switch


@pytest.fixture
def gig_row(in_tenant):
    """``gig_row(tenant, gig_id)`` -> a snapshot dict of the gig and its children (or None)."""

    def fetch(tenant, gig_id):
        with in_tenant(tenant):
            gig = db.session.get(Gig, gig_id)
            if gig is None:
                return None
            return snapshot(gig)

    return fetch


def snapshot(gig: Gig) -> dict:
    return {
        "id": gig.id,
        "seller_id": gig.seller_id,
        "title": gig.title,
        "slug": gig.slug,
        "status": gig.status,
        "description_source": gig.description_source,
        "description_html": gig.description_html,
        "category_id": gig.category_id,
        "tags": list(gig.tags),
        "version": gig.version,
        "min_price_minor": gig.min_price_minor,
        "min_delivery_days": gig.min_delivery_days,
        "packages": [
            (p.tier, p.title, p.price_minor, p.delivery_days, p.revisions, list(p.features))
            for p in gig.packages
        ],
        "extras": [(e.title, e.price_minor, e.extra_days) for e in gig.extras],
        "faqs": [(f.question, f.answer) for f in gig.faqs],
        "images": [(i.key, i.thumb_key) for i in gig.images],
    }


@pytest.fixture
def events_of(in_tenant):
    """``events_of(tenant)`` -> [(name, payload)] of the tenant's outbox, oldest first."""
    from app.events.models import OutboxEvent

    def fetch(tenant):
        with in_tenant(tenant):
            rows = db.session.scalars(sa.select(OutboxEvent).order_by(OutboxEvent.id))
            return [(row.name, row.payload) for row in rows if row.name.startswith("gig.")]

    return fetch


# --- web -------------------------------------------------------------------------


@pytest.fixture
def web():
    return SimpleNamespace(csrf_token=csrf_token, login=login, png=png)


# --- API -------------------------------------------------------------------------


@pytest.fixture
def api_token(tenant_client):
    """``api_token(tenant, email)`` -> (client, headers) signed in through POST /api/v1/auth/token."""

    def sign_in(tenant, email):
        client = tenant_client(tenant.slug)
        return client, bearer_headers(client, email)

    return sign_in


@pytest.fixture
def kit():
    """Plain helpers for test modules (test directories are not packages)."""
    return SimpleNamespace(
        gig_data=gig_data, png=png, snapshot=snapshot, first_subcategory_id=first_subcategory_id
    )


@pytest.fixture
def location_on(in_tenant):
    """``location_on(tenant, on=True, country=None)``: switch the marketplace's location
    search (and its default country) through the settings service (which refreshes the
    cached branding)."""
    from app.settings.services import update_marketplace_settings

    def switch(tenant, on=True, country=None):
        with in_tenant(tenant):
            update_marketplace_settings(location_enabled=on, default_country=country)
            db.session.commit()

    return switch
