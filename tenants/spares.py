"""Spare tenant schemas: the tables are built before anyone asks for a tenant.

``ensure_spares(n)`` (run by the worker's periodic loop and ``flask tenants
spares``) keeps ``n`` spare schemas ready; ``take_spare`` claims one inside the
provisioning transaction (``FOR UPDATE SKIP LOCKED``) and renames it to the new
tenant's schema, so creating a tenant costs the same whatever the number of
tables. Without a spare, provisioning builds the schema itself.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from tenants.db import db
from tenants.migrations import create_tenant_tables, current_stamp_head, stamp_tenant_schema
from tenants.models import TenantSpareSchema

SPARE_PREFIX = "spare_"


def create_spare() -> str:
    """Build one spare schema (tables and stamp) in its own transaction; returns its name."""
    name = SPARE_PREFIX + secrets.token_hex(8)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        create_tenant_tables(conn, name)
        stamp_tenant_schema(conn, name)
        conn.execute(sa.insert(TenantSpareSchema).values(schema_name=name, head=current_stamp_head()))
    return name


def take_spare(conn, schema: str) -> bool:
    """Rename a ready spare to ``schema`` within ``conn``'s transaction; False when none is ready."""
    name = conn.execute(
        sa.select(TenantSpareSchema.schema_name)
        .where(TenantSpareSchema.head == current_stamp_head())
        .order_by(TenantSpareSchema.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).scalar()
    if name is None:
        return False
    conn.execute(sa.delete(TenantSpareSchema).where(TenantSpareSchema.schema_name == name))
    conn.exec_driver_sql(f'ALTER SCHEMA "{name}" RENAME TO "{schema}"')
    return True


def drop_stale_spares() -> int:
    """Drop spares stamped at another head than this code's (after a migration); returns how many."""
    with db.engine.begin() as conn:
        stale = (
            conn.execute(
                sa.delete(TenantSpareSchema)
                .where(TenantSpareSchema.head != current_stamp_head())
                .returning(TenantSpareSchema.schema_name)
            )
            .scalars()
            .all()
        )
        for name in stale:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    return len(stale)


def ready_spares() -> int:
    with db.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).where(TenantSpareSchema.head == current_stamp_head())
        ).scalar_one()


def ensure_spares(count: int) -> int:
    """Top the pool up to ``count`` ready spares (dropping stale ones); returns how many were built."""
    drop_stale_spares()
    built = 0
    for _ in range(max(0, count - ready_spares())):
        create_spare()
        built += 1
    return built


def drop_all_spares() -> int:
    with db.engine.begin() as conn:
        names = (
            conn.execute(sa.delete(TenantSpareSchema).returning(TenantSpareSchema.schema_name))
            .scalars()
            .all()
        )
        for name in names:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    return len(names)
