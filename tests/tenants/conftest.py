"""Helpers for the tenancy engine's tests: what the database catalog holds."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tenants.db import db


def schema_exists(schema: str) -> bool:
    with db.engine.connect() as conn:
        return bool(
            conn.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).first()
        )


def tables_in(schema: str) -> set[str]:
    with db.engine.connect() as conn:
        return set(
            conn.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
            ).scalars()
        )


def public_rows(slug: str) -> tuple[int, int]:
    """(tenant rows, domain rows) the public schema holds for ``slug``."""
    with db.engine.connect() as conn:
        tenants = conn.execute(
            sa.text("SELECT count(*) FROM public.tenants WHERE slug = :s"), {"s": slug}
        ).scalar_one()
        domains = conn.execute(
            sa.text(
                "SELECT count(*) FROM public.tenant_domains d JOIN public.tenants t ON t.id = d.tenant_id "
                "WHERE t.slug = :s"
            ),
            {"s": slug},
        ).scalar_one()
    return tenants, domains


def public_counts() -> tuple[int, int]:
    with db.engine.connect() as conn:
        return (
            conn.execute(sa.text("SELECT count(*) FROM public.tenants")).scalar_one(),
            conn.execute(sa.text("SELECT count(*) FROM public.tenant_domains")).scalar_one(),
        )


def tenant_schemas() -> set[str]:
    with db.engine.connect() as conn:
        return set(
            conn.execute(
                sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'")
            ).scalars()
        )


class Catalog:
    """What the database holds, read on fresh connections (``catalog`` fixture)."""

    schema_exists = staticmethod(schema_exists)
    tables_in = staticmethod(tables_in)
    public_rows = staticmethod(public_rows)
    public_counts = staticmethod(public_counts)
    tenant_schemas = staticmethod(tenant_schemas)

    def snapshot(self) -> tuple:
        """Public row counts and tenant schemas: equal before and after a refused operation."""
        return public_counts(), tenant_schemas()


@pytest.fixture
def catalog(app) -> Catalog:
    return Catalog()
