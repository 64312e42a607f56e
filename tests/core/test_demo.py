"""Demo data (``app.demo.seed_demo``), seeded small into the suite's acme and globex tenants."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import check_password
from app.demo import DEMO_PASSWORD, seed_demo
from app.events.models import OutboxEvent
from app.gigs.models import Gig
from app.search.services import build_query, search_gigs
from tenants.db import db

SELLERS, GIGS = 3, 6


@pytest.fixture(autouse=True)
def search_index_dir(app):
    slot = os.environ.get("GIGFORGE_TEST_SLOT")
    worker = f"s{slot}" if slot else os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    folder = Path(app.config["INSTANCE_DIR"]) / f"search-{worker}"
    app.config["SEARCH_INDEX_DIR"] = str(folder)
    shutil.rmtree(folder, ignore_errors=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def seeded(app):
    with app.app_context():
        return seed_demo(sellers_per_tenant=SELLERS, gigs_per_tenant=GIGS)


def _demo_users(slug: str) -> list[User]:
    """Demo sellers and buyers of ``slug`` (not the operator admin)."""
    query = sa.select(User).where(User.email.like(f"%@{slug}.test"), User.role == "member")
    return list(db.session.scalars(query))


def test_seed_creates_verified_sellers_buyers_and_published_gigs(seeded, in_tenant, acme):
    with in_tenant(acme):
        users = _demo_users("acme")
        sellers = [u for u in users if u.seller_profile is not None]
        assert len(sellers) == SELLERS and len(users) == SELLERS + 2  # plus two buyers
        for user in users:
            assert user.email_verified_at is not None and user.status == "active"
        assert check_password(sellers[0], DEMO_PASSWORD)
        assert all(s.avatar_key and s.seller_profile.headline and s.seller_profile.skills for s in sellers)
        gigs = list(db.session.scalars(sa.select(Gig)).unique())
        assert len(gigs) == GIGS and {g.status for g in gigs} == {"active"}
        for gig in gigs:
            assert [p.tier for p in gig.packages] == ["basic", "standard", "premium"]
            assert 1 <= len(gig.images) <= 3 and gig.faqs and gig.extras and gig.tags
            basic, standard, premium = gig.packages
            assert basic.price_minor < standard.price_minor < premium.price_minor
            assert basic.delivery_days <= standard.delivery_days <= premium.delivery_days
            assert gig.min_price_minor == basic.price_minor
    assert any("acme: log in as" in line and DEMO_PASSWORD in line for line in seeded)


def test_seeded_gigs_are_searchable_and_their_events_consumed(seeded, in_tenant, acme):
    with in_tenant(acme):
        gigs = list(db.session.scalars(sa.select(Gig)).unique())
        everything = search_gigs(build_query(per_page=100))
        assert sorted(everything.ids) == sorted(g.id for g in gigs)
        gig = gigs[0]
        found = search_gigs(build_query(text=gig.title, per_page=100))
        assert gig.id in found.ids
        # The index was rebuilt once; the gig events it covers are not left for the worker.
        pending = db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxEvent).where(OutboxEvent.status == "pending")
        )
        assert pending == 0


def test_seed_is_idempotent(seeded, app, in_tenant, acme, globex):
    with in_tenant(acme):
        before = (len(_demo_users("acme")), db.session.scalar(sa.select(sa.func.count()).select_from(Gig)))
    with app.app_context():
        lines = seed_demo(sellers_per_tenant=SELLERS, gigs_per_tenant=GIGS)
    assert "acme: demo content already there" in lines and "globex: demo content already there" in lines
    with in_tenant(acme):
        after = (len(_demo_users("acme")), db.session.scalar(sa.select(sa.func.count()).select_from(Gig)))
    assert after == before


def test_each_tenant_gets_its_own_people_and_gigs(seeded, in_tenant, acme, globex):
    with in_tenant(acme):
        acme_seller = next(u for u in _demo_users("acme") if u.seller_profile is not None)
        surname = acme_seller.display_name.split()[-1]
        assert search_gigs(build_query(text=surname)).total > 0
        assert not _demo_users("globex")
    with in_tenant(globex):
        assert len(_demo_users("globex")) == SELLERS + 2
        assert not _demo_users("acme")
        assert search_gigs(build_query(text=surname)).total == 0  # acme's seller is unknown here
        globex_names = {u.display_name for u in _demo_users("globex")}
    assert acme_seller.display_name not in globex_names
