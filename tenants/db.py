"""Database binding for schema-per-tenant.

Tenant-scoped tables are declared in the placeholder schema ``__tenant__``
(``TenantModel`` does it). Every transaction the ORM session begins gets a
``schema_translate_map`` of ``{"__tenant__": <bound tenant's schema>}`` on its
connection. The translation happens when SQLAlchemy renders SQL, so no state
ever lives on the PostgreSQL connection: a pooled connection (or a PgBouncer
server connection in transaction mode) carries nothing from one tenant to the
next, and no ``SET search_path`` round trip is paid per request.

Failing closed: with no tenant bound, a query on a tenant model raises
``TenantNotBound`` before reaching the database, and as a backstop any SQL that
still names the placeholder schema is refused at the cursor.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

import psycopg
import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as _FlaskSession
from sqlalchemy import event
from sqlalchemy.engine import Engine

TENANT_SCHEMA = "__tenant__"
PUBLIC_SCHEMA = "public"
SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}\Z")  # \Z: "$" would accept a trailing newline


class TenantNotBound(RuntimeError):
    """A tenant-scoped query ran with no tenant bound."""


class TenantSwitchError(RuntimeError):
    """A different tenant was bound while the session had an open transaction."""


@dataclass(frozen=True)
class TenantRef:
    """An immutable snapshot of a tenant row: what request and job code sees."""

    id: int
    slug: str
    schema: str
    name: str
    status: str
    # The price plan (standard / growth / scale): sets the API's rate limits (app/core/rate_limits.py).
    plan: str = "standard"

    @property
    def is_active(self) -> bool:
        return self.status == "active"


def schema_for_slug(slug: str) -> str:
    """Schema name of a tenant. Slugs never contain ``_``, so this is injective."""
    if not SLUG_RE.match(slug):
        raise ValueError(f"invalid tenant slug {slug!r}")
    return "tenant_" + slug.replace("-", "_")


_current_tenant: ContextVar[TenantRef | None] = ContextVar("gigforge_tenant", default=None)


def current_tenant() -> TenantRef:
    """The bound tenant; raises TenantNotBound when none is."""
    tenant = _current_tenant.get()
    if tenant is None:
        raise TenantNotBound("no tenant is bound to this context")
    return tenant


def current_tenant_or_none() -> TenantRef | None:
    return _current_tenant.get()


def translate_map(tenant: TenantRef | None) -> dict:
    return {TENANT_SCHEMA: tenant.schema} if tenant else {}


def _is_tenant_table(table) -> bool:
    return getattr(table, "schema", None) == TENANT_SCHEMA


class TenantSession(_FlaskSession):
    """Flask-SQLAlchemy session that refuses tenant tables when no tenant is bound."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if mapper is not None and _current_tenant.get() is None:
            try:
                table = sa.inspect(mapper).local_table
            except sa.exc.NoInspectionAvailable:
                table = None
            if table is not None and _is_tenant_table(table):
                raise TenantNotBound(f"query on tenant table {table.name!r} with no tenant bound")
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


@event.listens_for(TenantSession, "after_begin")
def _bind_connection_to_tenant(session, transaction, connection):
    # Connection.execution_options modifies the Connection façade in place; the
    # façade is discarded when the connection goes back to the pool, so the
    # DBAPI connection itself never holds tenant state.
    connection.execution_options(schema_translate_map=translate_map(_current_tenant.get()))


# The placeholder as a schema qualifier (bind parameter names may contain it too).
_UNTRANSLATED = (f"{TENANT_SCHEMA}.", f'"{TENANT_SCHEMA}".')


@event.listens_for(Engine, "before_cursor_execute")
def _refuse_untranslated_tenant_sql(conn, cursor, statement, parameters, context, executemany):
    if TENANT_SCHEMA in statement and any(token in statement for token in _UNTRANSLATED):
        raise TenantNotBound(f"SQL names the tenant placeholder schema, no tenant bound: {statement[:200]}")


class CrossSchemaStatement(RuntimeError):
    """A statement sent with a tenant bound named another tenant's schema, or a public table
    beside its own schema (``guard_one_schema``)."""


# A schema qualifier as SQLAlchemy renders it: ``tenant_acme.orders``, ``"public".tenants``.
_QUALIFIER_RE = re.compile(r'(?<![\w."$])"?(tenant_[a-z0-9_]+|public)"?\.(?=["a-z_])')


def schemas_named(statement: str) -> set[str]:
    """The tenant schemas and ``public`` that a rendered statement qualifies names with (a public
    table such as ``tenant_domains`` or its alias ``tenant_domains_1`` qualifying a column is
    not a schema)."""
    return {name for name in set(_QUALIFIER_RE.findall(statement)) if not _public_table_alias(name)}


@functools.lru_cache(maxsize=1024)
def _public_table_alias(name: str) -> bool:
    base = re.sub(r"_\d+\Z", "", name)
    return any(t.name == base for t in whole_metadata().tables.values() if t.schema == PUBLIC_SCHEMA)


def check_one_schema(statement: str, tenant: TenantRef) -> None:
    """The rule schema-based sharding (Citus ``citus_schema_distribute``) needs of a tenant's
    statements: each touches its tenant's schema only, never another tenant's and never a
    public table in the same statement (public-only statements, such as reading the tenant
    registry, run on the coordinator and are allowed)."""
    named = schemas_named(statement)
    tenant_schemas = {name for name in named if name != PUBLIC_SCHEMA}
    if tenant_schemas - {tenant.schema}:
        raise CrossSchemaStatement(
            f"statement of tenant {tenant.slug!r} names {sorted(tenant_schemas)}: {statement[:300]}"
        )
    if tenant_schemas and PUBLIC_SCHEMA in named:
        raise CrossSchemaStatement(
            f"statement of tenant {tenant.slug!r} joins a public table to its schema: {statement[:300]}"
        )


def _check_bound_statement(conn, cursor, statement, parameters, context, executemany):
    tenant = _current_tenant.get()
    if tenant is not None:
        check_one_schema(statement, tenant)


def guard_one_schema(engine: Engine) -> None:
    """Check every statement ``engine`` sends while a tenant is bound (``check_one_schema``);
    on in the test suite (``TENANT_SQL_GUARD``), so any request or job that breaks the rule
    fails its test."""
    if not event.contains(engine, "before_cursor_execute", _check_bound_statement):
        event.listen(engine, "before_cursor_execute", _check_bound_statement)


def guarded(engine: Engine) -> bool:
    """Whether ``guard_one_schema`` checks ``engine``'s statements."""
    return event.contains(engine, "before_cursor_execute", _check_bound_statement)


_USES = "gigforge_checkouts"


def limit_connection_uses(engine: Engine, max_uses: int) -> None:
    """Replace a pooled connection once it has been checked out ``max_uses`` times (0: never).

    A PostgreSQL backend caches the definition of every relation it opens until it ends, and
    a pooled connection serves every tenant in turn, so its memory grows with the number of
    tenant schemas it has touched (docs/benchmarks.md, "10,000 tenants"). Time-based
    recycling (``pool_recycle``, ``DB_POOL_RECYCLE``) bounds it by age; this bounds it by use,
    whatever the request rate. The checkout that finds the limit reached raises
    ``DisconnectionError``, on which the pool closes that connection and opens a new one for
    the same checkout (SQLAlchemy's documented way to refuse a connection on checkout)."""
    if max_uses <= 0:
        return

    @event.listens_for(engine, "connect")
    def _new_connection(dbapi_connection, record):
        record.info[_USES] = 0

    @event.listens_for(engine, "checkout")
    def _count_use(dbapi_connection, record, proxy):
        uses = record.info.get(_USES, 0)
        if uses >= max_uses:
            raise sa.exc.DisconnectionError(f"connection used {uses} times: replaced (DB_POOL_MAX_USES)")
        record.info[_USES] = uses + 1


_LAST_USE = "gigforge_last_use"


def ping_after_idle(engine: Engine, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
    """Check a pooled connection with a round trip only when it comes out of the pool after
    ``seconds`` or more unused (0: at every checkout, as SQLAlchemy's ``pool_pre_ping``; below
    0: never), instead of before every request's first statement.

    Under load a connection goes back and forth many times a second: a ping at each checkout
    is one more round trip for every request that touches the database (four in an order's
    three requests), for a server that answered a moment ago. A connection that failed its
    ping is replaced, and so is every connection the pool opened before it (a failed ping
    usually means the server restarted: ``InvalidatePoolError``); the checkout goes on with a
    fresh one (SQLAlchemy's documented way to refuse a connection on checkout). What is given
    up: a server restarted while a connection sat idle for less than ``seconds`` is found by
    that connection's next statement instead, whose request fails with the 503 of an outage;
    SQLAlchemy then replaces every connection of the pool, so the next request works."""
    if seconds < 0:
        return

    @event.listens_for(engine, "connect")
    def _opened(dbapi_connection, record):
        record.info[_LAST_USE] = clock()

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, record):
        if dbapi_connection is not None:  # None: invalidated, nothing to remember
            record.info[_LAST_USE] = clock()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy):
        last = record.info.get(_LAST_USE)
        if last is not None and clock() - last < seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.InvalidatePoolError(f"pooled connection failed its ping: {exc}") from exc
        record.info[_LAST_USE] = clock()


TRANSLATION_CACHE_SIZE = 2048  # (statement, schema) pairs: ~500 hot statements of ~4 busy tenants


def cache_schema_translation(engine: Engine, size: int = TRANSLATION_CACHE_SIZE) -> None:
    """Keep the last ``size`` statements rendered for a schema map, keyed by the statement and
    the whole map (so by the tenant's schema): SQLAlchemy rewrites every placeholder of a cached
    statement with a regular expression at each execution (~35 microseconds for an order's
    SELECT, 20-odd statements an order), where a dictionary look-up finds the same text. The
    text for one tenant's schema is never served for another's: the schema is in the key. A map
    with a ``None`` key is left to SQLAlchemy (we use none; its check depends on the compile).

    Replaces the engine's dialect's identifier preparer with a subclass (before any statement is
    compiled on it: a compiled statement keeps a copy of the preparer it was compiled with)."""
    dialect = engine.dialect
    original = dialect.identifier_preparer
    render = type(original)._render_schema_translates

    @functools.lru_cache(maxsize=size)
    def translated(statement: str, items: tuple) -> str:
        return render(original, statement, dict(items))

    def _render_schema_translates(self, statement, schema_translate_map):
        if None in schema_translate_map:
            return render(self, statement, schema_translate_map)
        return translated(statement, tuple(schema_translate_map.items()))

    subclass = type(
        f"Cached{type(original).__name__}",
        (type(original),),
        {"_render_schema_translates": _render_schema_translates, "translation_cache": translated},
    )
    dialect.identifier_preparer = subclass(dialect)


_EXEC = psycopg.pq.ExecStatus
_ROWS = frozenset((_EXEC.TUPLES_OK, _EXEC.SINGLE_TUPLE, _EXEC.TUPLES_CHUNK))


class _ResultView:
    """What ``psycopg.Column`` reads of a cursor, for one result: the result itself (the cursor
    may have moved on to another by the time the columns are wanted), its connection's encoding
    and type adapters."""

    __slots__ = ("pgresult", "_encoding", "adapters")

    def __init__(self, result, encoding: str, adapters):
        self.pgresult, self._encoding, self.adapters = result, encoding, adapters


class ResultColumns(Sequence):
    """A result's ``cursor.description``, its ``psycopg.Column`` objects made on first use.

    psycopg makes a new list of ``Column`` objects at every read of ``description`` (name
    decoded, type looked up, size and modifier read: ~3 microseconds a column), and SQLAlchemy
    reads it after every statement that returns rows, but for a cached statement (all of ours
    after their first run) uses only whether it is ``None``: its result metadata is kept with
    the compiled statement. An order's three requests read ~360 columns so, ~1 ms of CPU. This
    sequence has the result's length at once and makes the columns, equal to psycopg's own,
    when one is indexed or iterated (SQLAlchemy's first run of a statement, ``insertmanyvalues``,
    a caller of the DBAPI)."""

    __slots__ = ("_cursor", "_result", "_columns")

    def __init__(self, cursor: psycopg.Cursor, result):
        self._cursor, self._result = cursor, result
        self._columns: list[psycopg.Column] | None = None

    def _made(self) -> list[psycopg.Column]:
        if self._columns is None:
            # The connection's encoding and adapters, this result's fields.
            view = _ResultView(self._result, self._cursor._encoding, self._cursor.adapters)
            self._columns = [psycopg.Column(view, i) for i in range(self._result.nfields)]
        return self._columns

    def __len__(self) -> int:
        return self._result.nfields

    def __getitem__(self, index):
        return self._made()[index]

    def __iter__(self):
        return iter(self._made())

    def __repr__(self) -> str:
        return repr(self._made())


class LeanCursor(psycopg.Cursor):
    """psycopg's client cursor whose ``description`` is a ``ResultColumns``: the same columns,
    made only when read. ``None`` exactly when psycopg's is (no result, or one without rows)."""

    __slots__ = ()

    @property
    def description(self) -> ResultColumns | None:
        result = self.pgresult
        if result and (result.nfields or result.status in _ROWS):
            return ResultColumns(self, result)
        return None


def lean_cursor_descriptions(engine: Engine) -> None:
    """Every connection ``engine`` opens makes ``LeanCursor`` cursors (psycopg's
    ``cursor_factory``; server-side cursors, made by name, stay psycopg's)."""

    @event.listens_for(engine, "connect")
    def _lean_cursors(dbapi_connection, record):
        dbapi_connection.cursor_factory = LeanCursor


def analyze_tenant() -> None:
    """``ANALYZE`` every table of the bound tenant's schema, in the session's transaction.

    For bulk loads (the demo seed, imports): the planner's statistics of a table come from
    ANALYZE (autovacuum's, or this), and a schema filled in one go has none until then, so
    its first queries are planned on guesses (a search took seconds instead of milliseconds).
    One statement for the whole schema."""
    schema = current_tenant().schema
    names = ", ".join(
        f'"{schema}"."{table.name}"' for table in db.metadata.sorted_tables if _is_tenant_table(table)
    )
    db.session.connection().exec_driver_sql(f"ANALYZE {names}")


# Names never include the schema: the same DDL must fit every tenant schema.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(
    metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
    session_options={"class_": TenantSession},
)

# An app may declare some of its models only when they are needed (the lean app of the tenant
# commands imports those its receivers use); what needs every table asks ``whole_metadata()``.
_metadata_loaders: list[Callable[[], object]] = []
_metadata_lock = threading.RLock()


def add_metadata_loader(loader: Callable[[], object]) -> None:
    """Register ``loader``, which declares the models not declared yet; ``whole_metadata()``
    calls it (once) before anything that needs every table."""
    with _metadata_lock:
        _metadata_loaders.append(loader)


def whole_metadata() -> sa.MetaData:
    """``db.metadata`` with every table declared: new tenant schemas, spares, migrations and the
    one-schema guard read it, never a part of it."""
    if _metadata_loaders:
        with _metadata_lock:
            while _metadata_loaders:
                _metadata_loaders[0]()
                _metadata_loaders.pop(0)
    return db.metadata


class TenantModel(db.Model):
    """Base for every table that lives in a tenant's schema."""

    __abstract__ = True
    __table_args__ = {"schema": TENANT_SCHEMA}


def tenant_table_args(*args, **kwargs):
    """``__table_args__`` for a tenant model that also declares constraints or indexes."""
    return (*args, {"schema": TENANT_SCHEMA, **kwargs})


def public_table_args(*args, **kwargs):
    return (*args, {"schema": PUBLIC_SCHEMA, **kwargs})


def _session_map():
    """The translate map of the session's open transaction, or None when none is open."""
    if not db.session.registry.has():
        return None  # no session in this context (a request's start): nothing is open
    session = db.session()
    if not session.in_transaction():
        return None
    return session.connection().get_execution_options().get("schema_translate_map", {})


def bind_tenant(tenant: TenantRef | None):
    """Bind ``tenant`` to the current context; returns a token for ``unbind_tenant``.

    Raises TenantSwitchError when the session has an open transaction bound to
    another tenant: commit or roll back first, never mix two tenants in one
    transaction.
    """
    current = _session_map()
    if current is not None and current != translate_map(tenant):
        raise TenantSwitchError("commit or roll back before binding another tenant")
    return _current_tenant.set(tenant)


def unbind_tenant(token) -> None:
    _current_tenant.reset(token)


@contextlib.contextmanager
def tenant_context(tenant: TenantRef):
    """Run a block with ``tenant`` bound (jobs, CLI, tests).

    Uncommitted work is discarded when the block ends, like at the end of a
    request: commit inside the block.
    """
    token = bind_tenant(tenant)
    try:
        yield tenant
    finally:
        db.session.remove()
        unbind_tenant(token)


def public_metadata() -> sa.MetaData:
    """A MetaData with only the public tables (for Alembic's public level)."""
    md = sa.MetaData(naming_convention=NAMING_CONVENTION)  # names must match db.metadata's
    for table in whole_metadata().sorted_tables:
        if table.schema == PUBLIC_SCHEMA:
            table.to_metadata(md)
    return md


def tenant_metadata(schema: str | None = None) -> sa.MetaData:
    """The tenant tables copied into ``schema`` (None: unqualified, for migrations)."""
    md = sa.MetaData(naming_convention=NAMING_CONVENTION)  # names must match db.metadata's
    for table in whole_metadata().sorted_tables:
        if _is_tenant_table(table):
            table.to_metadata(
                md,
                schema=schema,
                referred_schema_fn=lambda t, to_schema, constraint, referred: (
                    referred
                    if referred == PUBLIC_SCHEMA
                    else (to_schema if to_schema is not None else sa.schema.BLANK_SCHEMA)
                ),
            )
    return md
