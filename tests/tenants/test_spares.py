"""Spare schemas: built ahead of time, renamed into place when a tenant is created."""

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from tenants import provisioning
from tenants.db import db, tenant_context
from tenants.migrations import current_stamp_head, migrate_all
from tenants.models import TenantSpareSchema
from tenants.spares import create_spare, ensure_spares, ready_spares


def _schemas(prefix: str) -> set[str]:
    with db.engine.connect() as conn:
        return set(
            conn.execute(
                sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"), {"p": prefix + "%"}
            ).scalars()
        )


def test_ensure_spares_tops_the_pool_up_and_no_further(app):
    with app.app_context():
        assert ensure_spares(2) == 2
        assert ensure_spares(2) == 0
        assert ready_spares() == 2
        assert len(_schemas("spare\\_")) == 2


def test_creating_a_tenant_renames_a_spare_with_all_tables_and_seeds(app):
    with app.app_context():
        spare = create_spare()
        result = provisioning.create_tenant("initech", "Initech", base_domain="localhost")
        assert spare not in _schemas("spare\\_")
        assert ready_spares() == 0
        with tenant_context(result.tenant):
            assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
        with db.engine.connect() as conn:
            version = conn.exec_driver_sql(
                'SELECT version_num FROM "tenant_initech".alembic_version'
            ).scalar()
        assert version == current_stamp_head()


def test_a_spare_of_another_head_is_never_used_and_migrate_drops_it(app):
    with app.app_context():
        spare = create_spare()
        with db.engine.begin() as conn:
            stale = sa.update(TenantSpareSchema).where(TenantSpareSchema.schema_name == spare)
            conn.execute(stale.values(head="t0000"))
        assert ready_spares() == 0
        provisioning.create_tenant("initech", "Initech", base_domain="localhost")
        assert spare in _schemas("spare\\_")  # not taken: built by other code
        assert migrate_all(jobs=1).ok
        assert spare not in _schemas("spare\\_")


def test_a_failed_creation_gives_the_spare_back(app):
    from tenants import signals

    def explode(_sender, **kwargs):
        raise RuntimeError("seed failed")

    with app.app_context():
        spare = create_spare()
        signals.tenant_seed.connect(explode)
        try:
            with pytest.raises(RuntimeError, match="seed failed"):
                provisioning.create_tenant("initech", "Initech", base_domain="localhost")
        finally:
            signals.tenant_seed.disconnect(explode)
        assert spare in _schemas("spare\\_") and ready_spares() == 1
        assert "tenant_initech" not in _schemas("tenant\\_")
