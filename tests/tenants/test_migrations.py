"""Two-level migrations: the migration scripts and the models describe the same
schema; ``migrate_all`` upgrades every tenant that is behind, isolates a failing
one, resumes on a re-run, and reads versions in a constant number of queries."""

from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tenants.db import NAMING_CONVENTION, PUBLIC_SCHEMA, db, public_metadata, tenant_metadata
from tenants.migrations import (
    migrate_all,
    stamp_tenant_schema,
    tenant_head,
    tenant_tables,
    tenant_versions,
    upgrade_tenant_schema,
)


def _not_alembic_version(name, type_, parent_names):
    return not (type_ == "table" and name == "alembic_version")


def tenant_schema_diffs(schema: str) -> list:
    """Differences between ``schema`` in the database and the tenant models."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": _not_alembic_version,
            },
        )
        return compare_metadata(context, tenant_metadata(None))


def version_of(schema: str) -> str | None:
    with db.engine.connect() as conn:
        return tenant_versions(conn, [schema])[schema]


def tables_of(schema: str) -> set[str]:
    with db.engine.connect() as conn:
        return set(
            conn.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
            ).scalars()
        )


@pytest.fixture
def scratch_schema(app):
    """An empty schema that is no tenant's; dropped after the test."""
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    with app.app_context():
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        try:
            yield name
        finally:
            with db.engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def lagging_tenant(app):
    """``lagging_tenant("slug", ddl=None)`` -> schema: a tenant row and an empty schema,
    made without provisioning, so the tenant is behind every migration. The harness
    drops extra tenants (row and schema) after the test."""

    def make(slug: str, *, ddl: str | None = None) -> str:
        schema = f"tenant_{slug.replace('-', '_')}"
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO public.tenants (slug, name, schema_name) VALUES (:s, :n, :schema)"),
                {"s": slug, "n": slug.title(), "schema": schema},
            )
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            if ddl:
                conn.exec_driver_sql(ddl.format(schema=schema))
        return schema

    return make


def expected_tenant_tables() -> set[str]:
    return {t.name for t in tenant_tables()} | {"alembic_version"}


class TestScriptsMatchModels:
    def test_tenant_migrations_from_empty_build_exactly_the_models(self, scratch_schema):
        upgrade_tenant_schema(scratch_schema)
        assert tables_of(scratch_schema) == expected_tenant_tables()
        assert version_of(scratch_schema) == tenant_head()
        assert tenant_schema_diffs(scratch_schema) == []

    def test_a_provisioned_schema_equals_a_migrated_one(self, app, acme):
        # Provisioning builds from the models; the comparison catches a model
        # change that has no migration yet (or a migration the models lack).
        with app.app_context():
            assert tables_of(acme.schema) == expected_tenant_tables()
            assert version_of(acme.schema) == tenant_head()
            assert tenant_schema_diffs(acme.schema) == []

    def test_public_migrations_build_exactly_the_public_models(self, app):
        # Compared unqualified against the default schema (public): with
        # include_schemas, PostgreSQL's reflection leaves ``public`` off foreign
        # keys to visible tables and every FK would show up as a false diff.
        models = sa.MetaData(naming_convention=NAMING_CONVENTION)
        for table in public_metadata().sorted_tables:
            table.to_metadata(
                models,
                schema=None,
                referred_schema_fn=lambda *args: sa.schema.BLANK_SCHEMA,
            )
        with app.app_context(), db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_schema()").scalar() == PUBLIC_SCHEMA
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_name": _not_alembic_version,
                },
            )
            assert compare_metadata(context, models) == []

    def test_t0035_counts_the_cancellation_requests_orders_already_had(self, scratch_schema):
        upgrade_tenant_schema(scratch_schema, "t0034")
        q = f'"{scratch_schema}"'
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                f"INSERT INTO {q}.users (id, email, display_name) "
                "VALUES (1, 'b@x.test', 'B'), (2, 's@x.test', 'S')"
            )
            for order_id in (1, 2, 3):
                conn.exec_driver_sql(
                    f"INSERT INTO {q}.orders (id, kind, buyer_id, seller_id, title, currency, "
                    "subtotal_minor, total_minor, status, delivery_days, revisions_allowed) "
                    f"VALUES ({order_id}, 'gig', 1, 2, 'Logo', 'USD', 5000, 5000, 'in_progress', 3, 1)"
                )
            for order_id, status in ((1, "declined"), (1, "pending"), (3, "withdrawn")):
                conn.exec_driver_sql(
                    f"INSERT INTO {q}.order_cancellations (order_id, requested_by, reason, refund_minor, "
                    f"resolve_at, status) VALUES ({order_id}, 1, 'Too slow', 0, now(), '{status}')"
                )
        upgrade_tenant_schema(scratch_schema)
        with db.engine.connect() as conn:
            counts = conn.exec_driver_sql(
                f"SELECT id, cancellation_requests FROM {q}.orders ORDER BY id"
            ).all()
        assert [tuple(row) for row in counts] == [(1, 2), (2, 0), (3, 1)]

    def test_tenant_migrations_never_name_a_schema(self, scratch_schema):
        # Scripts use unqualified names under SET LOCAL search_path: the scratch
        # schema got every table and the connection's default path is untouched.
        upgrade_tenant_schema(scratch_schema)
        with db.engine.connect() as conn:
            path = conn.exec_driver_sql("SHOW search_path").scalar()
        assert scratch_schema not in path
        assert not (tables_of(PUBLIC_SCHEMA) & ({t.name for t in tenant_tables()}))


class TestMigrateAll:
    def test_a_tenant_behind_is_upgraded_to_head(self, app, lagging_tenant):
        with app.app_context():
            schema = lagging_tenant("lagging")
            assert version_of(schema) is None
            report = migrate_all(jobs=1)
            assert report.ok, report.failed
            assert report.upgraded == ["lagging"]
            assert report.checked == 3
            assert version_of(schema) == tenant_head()
            assert tenant_schema_diffs(schema) == []

    def test_only_the_named_tenant_is_migrated(self, app, lagging_tenant):
        with app.app_context():
            first = lagging_tenant("lagging-one")
            second = lagging_tenant("lagging-two")
            report = migrate_all(jobs=1, slug="lagging-two")
            assert report.checked == 1 and report.upgraded == ["lagging-two"]
            assert version_of(first) is None
            assert version_of(second) == tenant_head()

    @pytest.mark.parametrize("jobs", [1, 2])
    def test_a_failing_tenant_does_not_block_the_others_and_a_rerun_resumes(self, app, lagging_tenant, jobs):
        with app.app_context():
            # A stray table where the first migration wants to create one.
            broken = lagging_tenant("broken", ddl='CREATE TABLE "{schema}".categories (stray integer)')
            healthy = [lagging_tenant(f"behind-{i}") for i in range(2)]

            report = migrate_all(jobs=jobs)
            assert set(report.failed) == {"broken"}
            assert "categories" in report.failed["broken"]
            assert sorted(report.upgraded) == ["behind-0", "behind-1"]
            assert not report.ok
            for schema in healthy:
                assert version_of(schema) == tenant_head()
            # The failed tenant's transaction rolled back whole: no half-made tables.
            assert version_of(broken) is None
            assert tables_of(broken) == {"categories"}

            with db.engine.begin() as conn:
                conn.exec_driver_sql(f'DROP TABLE "{broken}".categories')
            rerun = migrate_all(jobs=jobs)
            assert rerun.ok and rerun.upgraded == ["broken"]
            assert version_of(broken) == tenant_head()
            assert tenant_schema_diffs(broken) == []

            assert migrate_all(jobs=jobs).upgraded == []

    def test_parallel_run_upgrades_every_tenant_behind(self, app, lagging_tenant):
        with app.app_context():
            schemas = [lagging_tenant(f"par-{i}") for i in range(4)]
            report = migrate_all(jobs=2)
            assert report.ok, report.failed
            assert sorted(report.upgraded) == [f"par-{i}" for i in range(4)]
            assert {version_of(s) for s in schemas} == {tenant_head()}
            # The parent's engine still works after forking workers.
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT 1").scalar() == 1


def _count_statements(run):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        result = run()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return result, statements


class TestNoOpRun:
    def test_a_no_op_run_changes_nothing_and_is_fast(self, app):
        with app.app_context():
            started = time.perf_counter()
            report = migrate_all(jobs=4)
            elapsed = time.perf_counter() - started
        assert report.ok and report.upgraded == [] and report.checked == 2
        assert report.public_before == report.public_after
        assert elapsed < 1.0, f"no-op migrate took {elapsed:.2f} s"

    def test_versions_are_read_in_a_constant_number_of_queries(self, app, lagging_tenant):
        with app.app_context():
            _, baseline = _count_statements(lambda: migrate_all(jobs=1))
            for i in range(25):
                schema = lagging_tenant(f"stamped-{i}")
                with db.engine.begin() as conn:
                    stamp_tenant_schema(conn, schema)
            report, statements = _count_statements(lambda: migrate_all(jobs=1))
        assert report.ok and report.checked == 27 and report.upgraded == []
        assert len(statements) == len(baseline), statements
        union = [s for s in statements if "UNION ALL" in s]
        assert len(union) == 1 and union[0].count("alembic_version") == 27

    def test_version_read_treats_a_missing_or_empty_version_table_as_behind(self, app, lagging_tenant):
        with app.app_context():
            no_table = lagging_tenant("no-table")
            empty = lagging_tenant("empty-version")
            with db.engine.begin() as conn:
                conn.exec_driver_sql(f'CREATE TABLE "{empty}".alembic_version (version_num varchar(32))')
                versions = tenant_versions(conn, [no_table, empty, "tenant_acme"])
            assert versions == {no_table: None, empty: None, "tenant_acme": tenant_head()}

    def test_versions_are_read_without_piling_up_locks(self, app, monkeypatch):
        """Each chunk of the version read ends its transaction, so its table locks go with it:
        PostgreSQL's lock table is one for the server, and 10,000 schemas' locks held by one
        transaction exhaust it ("out of shared memory")."""
        import tenants.migrations as migrations

        monkeypatch.setattr(migrations, "_VERSION_QUERY_CHUNK", 1)  # acme, then globex
        held_before_each_chunk: list[int] = []
        with app.app_context():
            watcher = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)

            def count_held(conn, cursor, statement, parameters, context, executemany):
                if "AS schema, version_num" not in statement:
                    return
                with watcher.connect() as other:
                    held_before_each_chunk.append(
                        other.execute(
                            sa.text(
                                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                                "WHERE l.pid = :pid AND c.relname = 'alembic_version'"
                            ),
                            {"pid": conn.connection.driver_connection.info.backend_pid},
                        ).scalar_one()
                    )

            sa.event.listen(db.engine, "before_cursor_execute", count_held)
            try:
                report = migrate_all(jobs=1)
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", count_held)
                watcher.dispose()
        assert report.ok and report.checked == 2
        assert held_before_each_chunk == [0, 0]
