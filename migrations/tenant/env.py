"""Alembic environment of the tenant level: one tenant schema per run.

The caller (``tenants.migrations.upgrade_tenant_schema``) passes a connection
whose transaction has ``SET LOCAL search_path`` to the tenant's schema, and the
schema name; migration scripts therefore use unqualified table names.
"""

from alembic import context

from tenants.db import tenant_metadata

config = context.config
connection = config.attributes["connection"]
schema = config.attributes["schema"]


def include_name(name, type_, parent_names):
    # The version table lives in the tenant schema but is Alembic's, not ours.
    return not (type_ == "table" and name == "alembic_version")


context.configure(
    connection=connection,
    target_metadata=tenant_metadata(None),
    include_name=include_name,
    version_table_schema=schema,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
