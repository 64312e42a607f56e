"""Rows written by one statement where the unit of work's flush would send several.

A flush spends most of its time in SQLAlchemy's bookkeeping, not in PostgreSQL: sorting the
mappers, dependency processors, a compiled statement and a result per table. On the money path
that was 16 % of an order's CPU (docs/design/performance.md, "One statement for an order and its
milestone"). Two shapes come back often enough to write by hand, each built once per shape
(classes and columns) and executed with bind parameters:

- ``insert_with_child(order, "milestones")``: a new row and its one new child::

    WITH parent AS (INSERT INTO <parent table> (...) VALUES (...) RETURNING <every column>),
         child AS (INSERT INTO <child table> (<fk>, ...) SELECT parent.id, ... FROM parent
                   RETURNING <every column>)
    SELECT parent.*, child.* FROM parent JOIN child ON true

  Both objects are filled from the returned row (every column, so nothing is left to load) and
  attached to the session as persistent rows, as a flush leaves them. Rules: both are new
  (transient); the parent's primary key is one generated column; the child's foreign key refers
  to it; plain columns. A column is sent when the object holds a value for it or the column has
  a Python-side default (evaluated as the flush would); otherwise the table's server default
  applies and the returned row says what it was.

- ``update_together([order, *order.milestones])``: the pending column changes of persistent
  rows, of one table or several::

    WITH u0 AS (UPDATE <table> SET <changed columns>, <SQL onupdate columns>
                WHERE id = ... RETURNING id, <onupdate columns>),
         u1 AS (...)
    SELECT u0.*, u1.* FROM u0 JOIN u1 ON true

  Rows without a change are skipped. A row with anything else pending (a relationship's change,
  a version counter, a Python-side onupdate) is left to the next flush, which then writes it as
  before. The rows are locked by their caller: a row that is gone raises StaleDataError, as the
  flush's UPDATE would. No flush listener runs for these rows (none of the callers' tables has
  one; ``app.settings``' row, which does, must not be passed).

- ``with write_with_next(payment, status="succeeded", ...): orders.mark_paid(...)``: changes of
  a row of another domain that join the next ``update_together`` statement of the block (the
  confirmed payment rides with the order it pays). They are set on the object only there, so
  no autoflush in between writes them on their own. A block that took no such statement ends
  with them set (the caller's own ``update_together`` writes them), as does a block whose
  statement a savepoint inside it undid; a block that raises drops them, unless a statement
  wrote them already (a savepoint around the block undoes that).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from app.core import unit_of_work
from tenants.db import db

# Changes to write with the transaction's next ``update_together`` (``write_with_next``).
_RIDERS = unit_of_work.transaction_scoped("gigforge_one_statement_riders")


def insert_with_child(parent: Any, relationship: str) -> None:
    """Insert ``parent`` and the one object in its ``relationship`` collection with one statement;
    both are persistent in the session afterwards, every column loaded (ids, server defaults).
    Raises ValueError when the objects do not follow the module's rules."""
    mapper = sa.inspect(type(parent))
    prop = mapper.relationships[relationship]
    children = getattr(parent, relationship)
    if len(children) != 1:
        raise ValueError(f"insert_with_child: {relationship} holds {len(children)} objects, not one")
    child = children[0]
    for obj in (parent, child):
        if not instance_state(obj).transient:
            raise ValueError(f"insert_with_child: {obj!r} is not new")
    parent_values, child_values = _values(parent), _values(child)
    statement, parent_columns, child_columns = _statement(
        type(parent), relationship, tuple(parent_values), tuple(child_values)
    )
    db.session.add(parent)  # pending, the child with it (cascade)
    with db.session.no_autoflush:  # the autoflush would insert them the slow way first
        row = db.session.execute(
            statement,
            {
                **{f"p_{k}": v for k, v in parent_values.items()},
                **{f"c_{k}": v for k, v in child_values.items()},
            },
        ).one()
    values = iter(row)
    for obj, columns in ((parent, parent_columns), (child, child_columns)):
        for key in columns:
            set_committed_value(obj, key, next(values))
    set_committed_value(parent, relationship, [child])
    if prop.back_populates:
        set_committed_value(child, prop.back_populates, parent)
    _as_flushed([instance_state(parent), instance_state(child)], inserted=True)


def _as_flushed(states: list, *, inserted: bool) -> None:
    """Leave ``states`` as the end of a flush leaves them (SQLAlchemy's own steps, internals of
    the pinned version that tests/core/test_one_statement.py holds to): persistent in the
    identity map and registered with the current transaction, so a rollback, a savepoint's
    included, expunges the inserted rows and expires the updated ones; no history left, out of
    the session's modified set."""
    session = db.session()
    if inserted:
        session._register_persistent(set(states))
    else:
        session._register_altered(states)
    for state in states:
        state._commit_all(state.dict, session.identity_map)


def _values(obj: Any) -> dict[str, Any]:
    """What an INSERT of ``obj`` sends, by attribute key: the values it holds, else the columns'
    Python-side defaults; server-generated and server-defaulted columns are left out."""
    mapper = sa.inspect(type(obj))
    held = instance_state(obj).dict
    values = {}
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        value = held.get(attr.key)
        if value is not None or (attr.key in held and column.type.should_evaluate_none):
            values[attr.key] = value  # as the flush: None is "not given", except JSON's null
        elif column.default is not None and column.default.is_scalar:
            values[attr.key] = column.default.arg
        elif column.default is not None and column.default.is_callable:
            values[attr.key] = column.default.arg(None)  # default=list, dict...: no context needed
    return values


@functools.lru_cache(maxsize=64)
def _statement(
    parent_class: type, relationship: str, parent_keys: tuple[str, ...], child_keys: tuple[str, ...]
) -> tuple[sa.Select, tuple[str, ...], tuple[str, ...]]:
    """The statement for these classes and these columns given, and the attribute keys of the
    parent's and the child's columns in the order it returns them."""
    mapper = sa.inspect(parent_class)
    prop = mapper.relationships[relationship]
    child_mapper = prop.mapper
    (parent_pk,) = mapper.primary_key
    pairs = prop.local_remote_pairs
    if len(pairs) != 1 or pairs[0][0] is not parent_pk:
        raise ValueError(f"insert_with_child: {relationship} is not one foreign key to the primary key")
    foreign_key = pairs[0][1]
    parent_table, child_table = mapper.local_table, child_mapper.local_table

    given_parent = {k: _column(mapper, k) for k in parent_keys}
    parent_cte = (
        sa.insert(parent_table)
        .values({c.name: sa.bindparam(f"p_{k}", type_=c.type) for k, c in given_parent.items()})
        .returning(*(_unqualified(_column(mapper, k)) for k in _keys(mapper)))
        .cte("parent")
    )
    given = [k for k in child_keys if _column(child_mapper, k) is not foreign_key]
    child_cte = (
        sa.insert(child_table)
        .from_select(
            [foreign_key.name, *(_column(child_mapper, k).name for k in given)],
            sa.select(
                parent_cte.c[parent_pk.name],
                *(sa.bindparam(f"c_{k}", type_=_column(child_mapper, k).type) for k in given),
            ),
            include_defaults=False,
        )
        .returning(*(_unqualified(_column(child_mapper, k)) for k in _keys(child_mapper)))
        .cte("child")
    )
    statement = sa.select(
        *(parent_cte.c[_column(mapper, k).name] for k in _keys(mapper)),
        *(child_cte.c[_column(child_mapper, k).name] for k in _keys(child_mapper)),
    ).select_from(parent_cte.join(child_cte, sa.true()))
    return statement, _keys(mapper), _keys(child_mapper)


def _column(mapper, key: str) -> sa.Column:
    """The column of ``mapper``'s attribute ``key`` (plain columns: one each)."""
    return mapper.column_attrs[key].columns[0]


def _keys(mapper) -> tuple[str, ...]:
    """Every column attribute's key of ``mapper``, in mapping order (what RETURNING lists)."""
    return tuple(attr.key for attr in mapper.column_attrs)


def _unqualified(column: sa.Column) -> sa.ColumnClause:
    """``column`` named alone in a RETURNING list (its table is the INSERT's): the statement then
    stays under psycopg's 4,096 characters, whose conversion of a longer one is not cached."""
    return sa.column(column.name, column.type)


@contextlib.contextmanager
def write_with_next(obj: Any, **values: Any) -> Iterator[None]:
    """Within the block, the next ``update_together`` sets ``values`` on ``obj`` and writes
    them in its statement (see the module)."""
    rider = _Rider(obj, values)
    db.session.info.setdefault(_RIDERS, []).append(rider)
    try:
        yield
    except BaseException:
        _forget(rider)
        raise
    if _forget(rider) or rider.undone():  # for the caller's own update_together
        rider.apply()


class _Rider:
    """Changes waiting for a statement, and the transaction of the statement that took them."""

    __slots__ = ("obj", "values", "taken_in")

    def __init__(self, obj: Any, values: dict[str, Any]):
        self.obj, self.values, self.taken_in = obj, values, None

    def apply(self) -> None:
        for key, value in self.values.items():
            setattr(self.obj, key, value)

    def take(self) -> None:
        self.apply()
        self.taken_in = db.session().get_transaction()

    def undone(self) -> bool:
        """Taken, then undone by a savepoint rolled back since (it expired the row); not when
        the whole transaction ended, whose changes the next one must not inherit."""
        return (
            self.taken_in is not None
            and db.session().get_transaction() is self.taken_in
            and bool(instance_state(self.obj).expired_attributes.intersection(self.values))
        )


def _forget(rider: _Rider) -> bool:
    """Remove ``rider`` from the waiting changes; False when a statement took it already."""
    riders = db.session.info.get(_RIDERS, [])
    for n, waiting in enumerate(riders):
        if waiting is rider:
            del riders[n]
            return True
    return False


def update_together(objs: Iterable[Any]) -> None:
    """Write the pending column changes of ``objs`` (persistent rows of this session), and the
    changes waiting in a ``write_with_next`` block, with one statement and leave them as a flush
    does (see the module); what it cannot write is left to the next flush. Raises
    StaleDataError when a row is gone."""
    objs = list(objs)
    for rider in db.session.info.pop(_RIDERS, None) or ():
        rider.take()
        if not any(rider.obj is obj for obj in objs):
            objs.append(rider.obj)
    rows = [(obj, state, keys) for obj in objs if (keys := _column_changes(state := instance_state(obj)))]
    if not rows:
        return
    statement, returned = _update_statement(tuple((type(obj), keys) for obj, _state, keys in rows))
    params = {}
    for n, (_obj, state, keys) in enumerate(rows):
        params[f"u{n}_pk"] = state.key[1][0]
        params.update({f"u{n}_{key}": state.dict.get(key) for key in keys})
    with db.session.no_autoflush:  # the autoflush would write these rows the slow way first
        row = db.session.execute(statement, params).one_or_none()
    if row is None:
        raise StaleDataError(f"update_together: one of {len(rows)} rows is gone")
    values = iter(row)
    for (obj, _state, _keys), keys_back in zip(rows, returned, strict=True):
        for key in keys_back:
            set_committed_value(obj, key, next(values))
    _as_flushed([state for _obj, state, _keys in rows], inserted=False)


def _column_changes(state) -> tuple[str, ...]:
    """The attribute keys with a pending change when every one is a plain column of a mapper
    this module can write; () otherwise (nothing pending, or something for the flush)."""
    if not state.persistent or not state.committed_state:
        return ()
    mapper = state.mapper
    if mapper.version_id_col is not None or not _writable(mapper):
        return ()
    keys = tuple(sorted(state.committed_state))
    if any(key not in mapper.column_attrs for key in keys):
        return ()
    return keys


@functools.cache
def _writable(mapper) -> bool:
    """One table, one primary key column, no Python-side onupdate (it would need evaluating)."""
    columns = [attr.columns[0] for attr in mapper.column_attrs]
    return (
        mapper.local_table is mapper.persist_selectable
        and len(mapper.primary_key) == 1
        and all(len(attr.columns) == 1 for attr in mapper.column_attrs)
        and not any(c.onupdate is not None and not c.onupdate.is_clause_element for c in columns)
    )


@functools.lru_cache(maxsize=128)
def _update_statement(shape: tuple[tuple[type, tuple[str, ...]], ...]) -> tuple[sa.Select, tuple]:
    """The statement for rows of these classes with these keys changed, and per row the keys
    of the columns it returns (the primary key, the onupdate columns), in order."""
    ctes, returned = [], []
    for n, (cls, keys) in enumerate(shape):
        mapper = sa.inspect(cls)
        (pk,) = mapper.primary_key
        changed = {_column(mapper, k): k for k in keys}
        values = {c.name: sa.bindparam(f"u{n}_{k}", type_=c.type) for c, k in changed.items()}
        back = [mapper.get_property_by_column(pk).key]
        for attr in mapper.column_attrs:
            column = attr.columns[0]
            if column in changed or column is pk:
                continue
            if column.onupdate is not None:  # a SQL expression (_writable): now(), for one
                values[column.name] = column.onupdate.arg
                back.append(attr.key)
            elif column.server_onupdate is not None:
                back.append(attr.key)
        columns_back = [_column(mapper, k) for k in back]
        ctes.append(
            sa.update(mapper.local_table)
            .where(pk == sa.bindparam(f"u{n}_pk", type_=pk.type))
            .values(values)
            .returning(*(_unqualified(c) for c in columns_back))
            .cte(f"u{n}")
        )
        returned.append(tuple(back))
    joined = ctes[0]
    for cte in ctes[1:]:
        joined = joined.join(cte, sa.true())
    statement = sa.select(*(c for cte in ctes for c in cte.c)).select_from(joined)
    return statement, tuple(returned)
