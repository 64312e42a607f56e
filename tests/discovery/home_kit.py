"""Test kit of the home page, featured gigs and recently viewed tests (modules import the
fixtures by name: ``from tests.discovery.home_kit import shop, ...``).

``shop(tenant)`` builds a small marketplace through the real services: two sellers, gigs in two
subcategories of different top-level categories with tags, and a buyer; ``add_gig`` adds one
more. Everything is committed, like a request's unit of work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.gigs import services as gig_services
from app.gigs.models import Category, Gig
from tenants.db import db
from tests.gigs.conftest import gig_data, png
from tests.helpers import PASSWORD, bearer_headers, csrf_token, login, post_form  # noqa: F401  (for modules)


def subcategories(count: int = 2) -> list[int]:
    """Ids of the first subcategory of the first ``count`` top-level categories."""
    tops = db.session.scalars(
        sa.select(Category).where(Category.parent_id.is_(None)).order_by(Category.position, Category.id)
    ).all()
    return [top.children[0].id for top in tops[:count]]


@pytest.fixture
def add_gig(in_tenant):
    """``add_gig(tenant, seller_id, title, category=0, tags=(), status="active", image=False)``
    -> gig id. ``category`` is an index into ``subcategories()``; ``image`` True or an RGB
    colour adds a cover image."""

    def make(tenant, seller_id, title, *, category=0, tags=(), status="active", image=False):
        with in_tenant(tenant):
            seller = db.session.get(User, seller_id)
            data = gig_data(title=title, tags=list(tags), category_id=subcategories(3)[category])
            gig = gig_services.create_gig(seller, data)
            if image:
                color = image if isinstance(image, tuple) else (30, 120, 200)
                gig_services.add_gig_image(seller, gig, png(size=(64, 48), color=color))
            if status in ("active", "paused"):
                gig_services.publish_gig(seller, gig)
            if status == "paused":
                gig_services.pause_gig(seller, gig)
            db.session.commit()
            return gig.id

    return make


@pytest.fixture
def shop(make_seller, make_user, add_gig):
    """``shop(tenant)`` -> ids of a small marketplace (see the module doc)."""

    def build(tenant, slug_prefix=""):
        ada = make_seller(tenant, email="ada@example.com", display_name="Ada Designer")
        bob = make_seller(tenant, email="bob@example.com", display_name="Bob Builder")
        buyer = make_user(tenant, email="buyer@example.com", display_name="Betty Buyer")
        logo = add_gig(
            tenant, ada, "I will design a modern minimalist logo", tags=["logo", "branding"], image=True
        )
        cards = add_gig(tenant, ada, "I will design your business cards", tags=["branding", "print"])
        icon = add_gig(tenant, bob, "I will draw a flat icon set for apps", tags=["logo", "icons"])
        site = add_gig(tenant, bob, "I will build a fast landing page website", category=1, tags=["web"])
        return SimpleNamespace(ada=ada, bob=bob, buyer=buyer, logo=logo, cards=cards, icon=icon, site=site)

    return build


JOB = {
    "title": "Build a booking tool for gyms",
    "description": "We need a booking tool for small gyms: calendar, payments and reminders by email.",
    "skills": ["python", "react"],
    "budget_type": "fixed",
    "budget_min_minor": 200000,
    "budget_max_minor": 500000,
    "duration": "1_to_3_months",
    "experience_level": "intermediate",
}
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def post_job(in_tenant, tenant, client_id, title=JOB["title"]) -> int:
    """An open public job of ``client_id`` (published now: ``job.posted``)."""
    from app.jobs import services as job_services

    with in_tenant(tenant):
        job = job_services.post_job(
            db.session.get(User, client_id), {**JOB, "title": title}, publish_now=True, now=NOW
        )
        db.session.commit()
        return job.id


def gig_status(in_tenant, tenant, gig_id) -> str:
    with in_tenant(tenant):
        return db.session.get(Gig, gig_id).status
