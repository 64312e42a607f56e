"""Jobs test kit: a client and two freelancers per tenant, an open job, proposal data."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.gigs.conftest import api_token  # noqa: F401  (fixture)

JOB = {
    "title": "Build a booking tool for gyms",
    "description": "We need a booking tool for small gyms: calendar, payments and reminders by email.",
    "skills": ["Python", "React", "PostgreSQL"],
    "budget_type": "fixed",
    "budget_min_minor": 200000,
    "budget_max_minor": 500000,
    "duration": "1_to_3_months",
    "experience_level": "intermediate",
}
PROPOSAL = {
    "cover_letter": "I have built three booking tools for gyms; here is how I would approach it.",
    "total_minor": 300000,
    "milestones": [
        {"title": "Design", "amount_minor": 100000, "due_in_days": 7},
        {"title": "Build", "amount_minor": 200000, "due_in_days": 30},
    ],
    "delivery_days": 30,
}


@pytest.fixture
def people(make_user, make_seller, in_tenant):
    """``people(tenant)`` -> ids of a client, two freelancers (sellers with skills) and a member."""
    from app.accounts.models import User
    from app.accounts.services import upsert_seller_profile
    from tenants.db import db

    def build(tenant):
        slug = tenant.slug
        client = make_user(tenant, email=f"client@{slug}.test", display_name="Cleo Client")
        ann = make_seller(tenant, email=f"ann@{slug}.test", display_name="Ann Dev")
        bob = make_seller(tenant, email=f"bob@{slug}.test", display_name="Bob Dev")
        member = make_user(tenant, email=f"member@{slug}.test", display_name="Mo Member")
        with in_tenant(tenant):
            upsert_seller_profile(db.session.get(User, ann), skills=["Python", "React", "PostgreSQL"])
            upsert_seller_profile(db.session.get(User, bob), skills=["php"], availability="occasional")
            db.session.commit()
        return SimpleNamespace(
            tenant=tenant,
            client=client,
            ann=ann,
            bob=bob,
            member=member,
            emails={
                "client": f"client@{slug}.test",
                "ann": f"ann@{slug}.test",
                "bob": f"bob@{slug}.test",
                "member": f"member@{slug}.test",
            },
        )

    return build
