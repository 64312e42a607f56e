"""Tenancy under concurrency: bindings stay in their own thread, and two
operators racing to create the same tenant get one tenant and one clear error."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.gigs.models import Category
from app.settings.models import MarketplaceSettings
from tenants import provisioning
from tenants.db import current_tenant, current_tenant_or_none, db, tenant_context


def test_a_binding_does_not_leak_into_other_threads(in_tenant, acme):
    seen = []
    with in_tenant(acme):
        thread = threading.Thread(target=lambda: seen.append(current_tenant_or_none()))
        thread.start()
        thread.join()
        assert current_tenant() == acme
    assert seen == [None]


def test_tenant_context_restores_the_previous_binding(app, acme, globex):
    with app.app_context():
        with tenant_context(acme):
            with tenant_context(globex):
                assert current_tenant() == globex
            assert current_tenant() == acme
        assert current_tenant_or_none() is None


def test_tenant_context_unbinds_and_discards_work_when_the_block_raises(app, in_tenant, acme):
    with app.app_context():
        with pytest.raises(ZeroDivisionError), tenant_context(acme):
            db.session.add(Category(name="Half made", slug="half-made"))
            db.session.flush()
            1 / 0  # noqa: B018
        assert current_tenant_or_none() is None
    with in_tenant(acme):
        assert db.session.scalars(sa.select(Category).where(Category.slug == "half-made")).first() is None


def test_threads_bound_to_different_tenants_each_read_their_own_rows(app, acme, globex):
    barrier = threading.Barrier(2)
    names: dict[str, list[str]] = {}

    def read(ref):
        with app.app_context(), tenant_context(ref):
            db.session.scalars(sa.select(Category.id)).first()  # this tenant's transaction is open...
            barrier.wait(timeout=10)  # ...while the other thread's is too
            for _ in range(5):
                names.setdefault(ref.slug, []).append(db.session.get(MarketplaceSettings, 1).name)
                db.session.expire_all()

    threads = [threading.Thread(target=read, args=(ref,)) for ref in (acme, globex)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert names == {"acme": ["Acme Test Market"] * 5, "globex": ["Globex Test Market"] * 5}


def test_two_operators_racing_for_one_slug_get_one_tenant_and_one_clear_error(app):
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def create():
        with app.app_context():
            barrier.wait(timeout=10)
            try:
                outcomes.append(
                    provisioning.create_tenant("racer", "Racer", base_domain=app.config["BASE_DOMAIN"])
                )
            except provisioning.ProvisioningError as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    errors = [o for o in outcomes if isinstance(o, provisioning.ProvisioningError)]
    created = [o for o in outcomes if isinstance(o, provisioning.ProvisionResult)]
    assert len(created) == 1 and len(errors) == 1, outcomes
    assert errors[0].field == "slug" and "already exists" in errors[0].message
    with app.app_context(), db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM public.tenants WHERE slug = 'racer'")).scalar() == 1
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM public.tenant_domains WHERE hostname = 'racer.localhost'")
            ).scalar()
            == 1
        )
