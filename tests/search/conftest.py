"""Search test kit: a per-worker index folder emptied around every test, and gig factories
that go through the gigs services (events -> ``run_jobs()`` -> handlers -> index)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.gigs import services as gig_services
from app.gigs.models import Category
from tenants.db import db

# The gigs tests' factories (test folders are not packages): load that conftest once.
_spec = importlib.util.spec_from_file_location(
    "_gigs_test_kit", Path(__file__).resolve().parent.parent / "gigs" / "conftest.py"
)
_gigs_kit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_gigs_kit)
gig_data = _gigs_kit.gig_data


@pytest.fixture(autouse=True)
def _empty_search_index(search_index_dir):
    """Every search test starts with this worker's index folder empty (tests/conftest.py)."""
    return search_index_dir


def category_id(slug: str) -> int:
    return db.session.scalar(sa.select(Category.id).where(Category.slug == slug))


@pytest.fixture
def category_ids(in_tenant):
    """``category_ids(tenant)`` -> {slug: id} of the tenant's categories."""

    def fetch(tenant):
        with in_tenant(tenant):
            return dict(db.session.execute(sa.select(Category.slug, Category.id)).all())

    return fetch


@pytest.fixture
def make_gig(in_tenant):
    """``make_gig(tenant, seller_id, title=..., price=..., days=..., tags=..., category=slug,
    description=..., status="active")`` -> gig id, created and published through the services."""

    def factory(
        tenant,
        seller_id,
        title="I will design a modern minimalist logo",
        price=5000,
        days=5,
        tags=("logo", "branding"),
        category=None,
        description="Professional work, delivered on time.",
        status="active",
    ):
        with in_tenant(tenant):
            seller = db.session.get(User, seller_id)
            cat = category_id(category) if category else _gigs_kit.first_subcategory_id()
            data = gig_data(
                title=title,
                description=description,
                tags=list(tags),
                category_id=cat,
                packages=[
                    {
                        "tier": "basic",
                        "title": "Basic",
                        "price_minor": price,
                        "delivery_days": days,
                        "revisions": 1,
                        "features": [],
                    },
                    {
                        "tier": "premium",
                        "title": "Premium",
                        "price_minor": price * 3,
                        "delivery_days": days + 2,
                        "revisions": 3,
                        "features": [],
                    },
                ],
                extras=[],
            )
            gig = gig_services.create_gig(seller, data)
            _gigs_kit.move_gig(seller, gig, status, published=("active", "paused", "archived"))
            db.session.commit()
            return gig.id

    return factory


@pytest.fixture
def search(in_tenant):
    """``search(tenant, q="...", **params)`` -> (titles in order, SearchResult) through the service."""
    from app.search import services

    def run(tenant, **params):
        if "q" in params:
            params["text"] = params.pop("q")
        with in_tenant(tenant):
            result = services.search_gigs(services.build_query(**params))
            return [gig.title for gig in result.gigs], result

    return run


@pytest.fixture
def seller(make_seller, acme):
    return make_seller(acme, display_name="Dana Designer")


@pytest.fixture
def index_state(app):
    """``index_state(tenant.id)`` -> "ok", "missing" or "outdated": the tenant's index on disk."""
    from app.search import services

    def state(tenant_id: int) -> str:
        with app.app_context():
            return services.index_state(tenant_id)

    return state
