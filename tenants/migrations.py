"""Two-level migrations: ``public`` once, then every tenant schema.

Each tenant schema has its own ``alembic_version`` table. ``migrate_all``:

1. takes a transaction-level PostgreSQL advisory lock (two release processes never race;
   it holds behind PgBouncer too);
2. upgrades ``public`` (Flask-Migrate's directory ``migrations/public``);
3. reads every tenant's version in a handful of ``UNION ALL`` queries, so a
   no-op run over thousands of tenants costs a few round trips (each in a transaction of
   its own, so the locks they take never pile up: ``read_tenant_versions``);
4. upgrades the tenants that are behind, each in its own transaction, in
   ``jobs`` worker processes. A failing tenant is reported and skipped; the
   others go on, and a re-run resumes where each one stands.
"""

from __future__ import annotations

import ast
import functools
import logging
import multiprocessing
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

from tenants.db import TENANT_SCHEMA, db, whole_metadata

log = logging.getLogger(__name__)

_ADVISORY_LOCK_KEY = 0x6766_6D69  # "gfmi"
_VERSION_QUERY_CHUNK = 500


def tenant_tables() -> list[sa.Table]:
    return [t for t in whole_metadata().sorted_tables if t.schema == TENANT_SCHEMA]


def _migrations_dir() -> Path:
    return Path(current_app.config.get("MIGRATIONS_DIR") or Path(current_app.root_path).parent / "migrations")


def alembic_config(level: str, migrations_dir: Path | None = None) -> AlembicConfig:
    # Alembic (and Mako, Pygments under it) is imported when a command migrates or writes a
    # revision, not by every process that creates a tenant (docs/design/performance.md, "CLI").
    from alembic.config import Config as AlembicConfig

    directory = (migrations_dir or _migrations_dir()) / level
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(directory))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(directory / "versions"))
    return cfg


# A version script's module-level assignments, as Alembic's template writes them
# (``revision = 't0034'``; an annotation such as ``revision: str = ...`` is allowed).
_HEADER_NAMES = ("revision", "down_revision", "branch_labels", "depends_on")
_HEADER_RE = re.compile(rf"^({'|'.join(_HEADER_NAMES)})\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


def read_head(directory: Path) -> str | None:
    """The head revision of the version scripts in ``directory`` (``migrations/<level>``).

    Read from the scripts' ``revision`` / ``down_revision`` lines, without importing Alembic:
    creating a tenant needs the head (to stamp it, to pick a spare), not Alembic. Anything
    beyond one straight line of revisions (branches, merges, dependencies, a script written
    another way) is left to Alembic, which also raises on several heads.
    """
    head = _linear_head(directory / "versions")
    if head is not None:
        return head
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(directory.name, directory.parent)).get_current_head()


def _linear_head(versions: Path) -> str | None:
    """The last revision of a single unbranched line of scripts; None when they say anything else."""
    parents: dict[str, str | None] = {}
    for path in sorted(versions.glob("*.py")):
        if path.name == "__init__.py" or path.name.startswith(".#"):
            continue  # what Alembic skips too
        found = _HEADER_RE.findall(path.read_text(encoding="utf-8"))
        if sorted(name for name, _value in found) != sorted(_HEADER_NAMES):
            return None  # a name missing or assigned twice
        try:
            values = {name: ast.literal_eval(value) for name, value in found}
        except (ValueError, SyntaxError):
            return None
        revision, down = values["revision"], values["down_revision"]
        if values["branch_labels"] is not None or values["depends_on"] is not None:
            return None
        if not isinstance(revision, str) or not isinstance(down, str | None) or revision in parents:
            return None
        parents[revision] = down
    heads = set(parents) - set(parents.values())
    if len(heads) != 1:
        return None
    (head,) = heads
    walked, revision = 0, head
    while revision is not None and walked <= len(parents):  # head -> root must visit every script
        if revision not in parents:
            return None
        walked, revision = walked + 1, parents[revision]
    return head if walked == len(parents) else None


def tenant_head() -> str | None:
    return read_head(_migrations_dir() / "tenant")


@functools.cache
def _stamp_head(directory: str) -> str | None:
    return read_head(Path(directory) / "tenant")


@functools.cache
def _tenant_ddl(dialect_name: str) -> str:
    """CREATE statements of every tenant table and index, in the placeholder schema.

    Compiled once per process: provisioning then creates a schema's tables in a
    single round trip instead of one (or two) per table.
    """
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = db.engine.dialect
    quote = dialect.identifier_preparer
    statements = []
    for table in tenant_tables():
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        # A column's storage strategy (``info={"postgresql_storage": "main"}``), which
        # SQLAlchemy's CREATE TABLE cannot say: e.g. a value read by every query kept inline.
        for column in table.columns:
            if storage := column.info.get("postgresql_storage"):
                statements.append(
                    f"ALTER TABLE {quote.format_table(table)} ALTER COLUMN {quote.quote(column.name)} "
                    f"SET STORAGE {storage.upper()}"
                )
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            statements.append(str(CreateIndex(index).compile(dialect=dialect)).strip())
        # What CREATE TABLE cannot say either: triggers and their functions
        # (``info={"postgresql_after_create": [...]}``, naming the placeholder schema).
        statements.extend(table.info.get("postgresql_after_create", ()))
    return ";\n".join(statements) + ";"


def create_tenant_tables(conn, schema: str) -> None:
    """Create every tenant table in ``schema`` (one round trip, inside the caller's transaction)."""
    ddl = _tenant_ddl(conn.dialect.name)
    rendered = ddl.replace(f'"{TENANT_SCHEMA}".', f'"{schema}".').replace(f"{TENANT_SCHEMA}.", f'"{schema}".')
    if TENANT_SCHEMA in rendered:
        raise RuntimeError("tenant DDL still names the placeholder schema")
    # A plain DBAPI execute without parameters may carry many statements (simple query protocol).
    conn.connection.driver_connection.execute(rendered)


def current_stamp_head() -> str | None:
    """The tenant head this process's models correspond to (read once per process)."""
    return _stamp_head(str(_migrations_dir()))


def stamp_tenant_schema(conn, schema: str) -> None:
    """Record the tenant head in a freshly created schema (used by provisioning).

    The head is read once per process, like the models the tables were built
    from: a process that outlives a deploy never stamps a head its models lack.
    """
    head = _stamp_head(str(_migrations_dir()))
    conn.exec_driver_sql(
        f'CREATE TABLE "{schema}".alembic_version ('
        "version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
    )
    if head:
        conn.exec_driver_sql(
            f'INSERT INTO "{schema}".alembic_version (version_num) VALUES (%(v)s)', {"v": head}
        )


def tenant_versions(conn, schemas: list[str]) -> dict[str, str | None]:
    """Current revision of each schema (None: no version table or empty)."""
    versions: dict[str, str | None] = {s: None for s in schemas}
    with_table = (
        conn.execute(
            sa.text(
                "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = 'alembic_version' AND n.nspname = ANY(:schemas)"
            ),
            {"schemas": schemas},
        )
        .scalars()
        .all()
    )
    for i in range(0, len(with_table), _VERSION_QUERY_CHUNK):
        chunk = with_table[i : i + _VERSION_QUERY_CHUNK]
        sql = " UNION ALL ".join(
            f"SELECT '{s}' AS schema, version_num FROM \"{s}\".alembic_version" for s in chunk
        )
        for schema, version in conn.exec_driver_sql(sql):
            versions[schema] = version
    return versions


def read_tenant_versions(schemas: list[str]) -> dict[str, str | None]:
    """``tenant_versions`` of any number of schemas, in transactions of ``_VERSION_QUERY_CHUNK``
    schemas each (on a connection of its own).

    Reading a table locks it until the transaction ends, and PostgreSQL's lock table is one
    for the whole server (``max_locks_per_transaction`` x connections: 6,400 by default): the
    versions of 10,000 schemas read in one transaction took two locks each and failed with
    "out of shared memory" (docs/benchmarks.md, "10,000 tenants"), leaving other sessions
    without locks meanwhile."""
    versions: dict[str, str | None] = {}
    with db.engine.connect() as conn:
        for i in range(0, len(schemas), _VERSION_QUERY_CHUNK):
            with conn.begin():
                versions.update(tenant_versions(conn, schemas[i : i + _VERSION_QUERY_CHUNK]))
    return versions


@dataclass
class MigrationReport:
    public_before: str | None = None
    public_after: str | None = None
    head: str | None = None
    checked: int = 0
    upgraded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


def upgrade_public() -> tuple[str | None, str | None]:
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    cfg = alembic_config("public")
    with db.engine.begin() as conn:
        before = MigrationContext.configure(
            conn, opts={"version_table_schema": "public"}
        ).get_current_revision()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        after = MigrationContext.configure(
            conn, opts={"version_table_schema": "public"}
        ).get_current_revision()
    return before, after


def upgrade_tenant_schema(schema: str, revision: str = "head") -> None:
    """Upgrade one tenant schema in one transaction."""
    _upgrade_schema_on(db.engine, _migrations_dir(), schema, revision)


def _upgrade_schema_on(engine, migrations_dir: Path, schema: str, revision: str = "head") -> None:
    from alembic import command

    cfg = alembic_config("tenant", migrations_dir)
    with engine.begin() as conn:
        # SET LOCAL lasts until this transaction ends: nothing leaks to the pool.
        conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
        cfg.attributes["connection"] = conn
        cfg.attributes["schema"] = schema
        command.upgrade(cfg, revision)


# Worker processes of a parallel run. They start from a clean fork server (no
# threads, no pooled sockets: forking the app process itself can deadlock on a
# lock some other thread held), build their own small engine, and need no app.
_child_engine = None
_child_dir: Path | None = None


def _child_init(database_url: str, migrations_dir: str) -> None:
    global _child_engine, _child_dir
    _child_engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    _child_dir = Path(migrations_dir)


def _child_upgrade(schema: str) -> tuple[str, str | None]:
    try:
        if _child_engine is not None:
            _upgrade_schema_on(_child_engine, _child_dir, schema)
        else:
            upgrade_tenant_schema(schema)
        return schema, None
    except Exception as exc:  # reported per tenant, never aborts the others
        return schema, f"{type(exc).__name__}: {exc}"


def migrate_all(jobs: int = 4, slug: str | None = None, public: bool = True) -> MigrationReport:
    """Upgrade public, then every tenant schema (or just ``slug``)."""
    started = time.perf_counter()
    report = MigrationReport(head=tenant_head())
    # The lock is a transaction-level one, held by a transaction that stays open for the whole
    # run (and ends with it, even if this process dies): no session state, so it holds behind
    # PgBouncer in transaction mode too, where a session lock would stay on a pooled connection.
    with db.engine.connect() as lock_conn, lock_conn.begin():
        lock_conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
        if public:
            report.public_before, report.public_after = upgrade_public()
            from tenants.spares import drop_stale_spares  # spares built by older code

            drop_stale_spares()
        query = "SELECT slug, schema_name FROM public.tenants"
        params = {}
        if slug:
            query += " WHERE slug = :slug"
            params["slug"] = slug
        rows = lock_conn.execute(sa.text(query + " ORDER BY id"), params).all()
        schemas = {schema: s for s, schema in rows}
        # Read outside the lock's transaction, which would hold a lock per schema to its end.
        versions = read_tenant_versions(list(schemas))
        report.checked = len(schemas)
        todo = [schema for schema, version in versions.items() if version != report.head]
        results: list[tuple[str, str | None]]
        if jobs > 1 and len(todo) > 1:
            ctx = multiprocessing.get_context("forkserver")
            init_args = (
                db.engine.url.render_as_string(hide_password=False),
                str(_migrations_dir()),
            )
            with ctx.Pool(min(jobs, len(todo)), initializer=_child_init, initargs=init_args) as pool:
                results = pool.map(_child_upgrade, todo, chunksize=1)
        else:
            results = [_child_upgrade(schema) for schema in todo]
        for schema, error in results:
            if error:
                report.failed[schemas[schema]] = error
                log.error("tenant migration failed", extra={"tenant": schemas[schema], "error": error})
            else:
                report.upgraded.append(schemas[schema])
    report.seconds = time.perf_counter() - started
    return report


def default_jobs() -> int:
    return max(1, min(8, os.cpu_count() or 1))
