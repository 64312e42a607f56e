"""Alembic environment of the ``public`` level (tenants, domains, platform rows).

Run through ``flask tenants migrate`` (public, then all tenants) or
``flask db upgrade`` / ``flask db migrate`` (Flask-Migrate, public only).
"""

from alembic import context

from tenants.db import PUBLIC_SCHEMA, db, public_metadata

config = context.config
target_metadata = public_metadata()


def include_name(name, type_, parent_names):
    if type_ == "schema":
        return name == PUBLIC_SCHEMA
    return True


def run(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=PUBLIC_SCHEMA,
        include_schemas=True,
        include_name=include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    with db.engine.connect() as conn:
        run(conn)
        conn.commit()
