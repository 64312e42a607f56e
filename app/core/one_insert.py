"""A new row and its one new child row written by one statement, both persistent afterwards.

The unit of work's flush of a new parent with one child (an order and its milestone) sends two
``INSERT ... RETURNING`` statements and spends most of its time in SQLAlchemy's bookkeeping:
sorting the mappers, the dependency processors that copy the parent's id into the child, two
compiled-statement look-ups, two result sets (~1 ms of CPU on this machine for the two rows).
``insert_with_child`` sends one statement instead::

    WITH parent AS (INSERT INTO <parent table> (...) VALUES (...) RETURNING <every column>),
         child AS (INSERT INTO <child table> (<fk>, ...) SELECT parent.id, ... FROM parent
                   RETURNING <every column>)
    SELECT parent.*, child.* FROM parent, child

built once per (parent class, relationship, columns given) and executed with bind parameters,
then fills both objects with what the statement returned (every column, so nothing is left to
load) and attaches them to the session as persistent rows, as a flush would have left them.
Measured in docs/design/performance.md ("One statement for an order and its milestone").

Rules: both objects are new (transient, never added to a session); the parent's primary key is
one generated column; the child's foreign key refers to it; columns are plain (no inheritance,
no SQL expressions as values). A column is sent when the object holds a value for it or the
column has a Python-side default (evaluated here as the flush would); otherwise the table's
server default applies and the returned row says what it was.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from tenants.db import db


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
    row = db.session.execute(
        statement,
        {**{f"p_{k}": v for k, v in parent_values.items()}, **{f"c_{k}": v for k, v in child_values.items()}},
    ).one()
    values = iter(row)
    for obj, columns in ((parent, parent_columns), (child, child_columns)):
        for key in columns:
            set_committed_value(obj, key, next(values))
    set_committed_value(parent, relationship, [child])
    if prop.back_populates:
        set_committed_value(child, prop.back_populates, parent)
    make_transient_to_detached(parent)
    make_transient_to_detached(child)
    db.session.add(parent)  # persistent again, child included (cascade), without SQL


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

    def column_of(m, key):
        return m.column_attrs[key].columns[0]

    def keys_of(m):
        return tuple(attr.key for attr in m.column_attrs)

    given_parent = {k: column_of(mapper, k) for k in parent_keys}
    parent_cte = (
        sa.insert(parent_table)
        .values({c.name: sa.bindparam(f"p_{k}", type_=c.type) for k, c in given_parent.items()})
        .returning(*(_unqualified(column_of(mapper, k)) for k in keys_of(mapper)))
        .cte("parent")
    )
    given = [k for k in child_keys if column_of(child_mapper, k) is not foreign_key]
    child_cte = (
        sa.insert(child_table)
        .from_select(
            [foreign_key.name, *(column_of(child_mapper, k).name for k in given)],
            sa.select(
                parent_cte.c[parent_pk.name],
                *(sa.bindparam(f"c_{k}", type_=column_of(child_mapper, k).type) for k in given),
            ),
            include_defaults=False,
        )
        .returning(*(_unqualified(column_of(child_mapper, k)) for k in keys_of(child_mapper)))
        .cte("child")
    )
    statement = sa.select(
        *(parent_cte.c[column_of(mapper, k).name] for k in keys_of(mapper)),
        *(child_cte.c[column_of(child_mapper, k).name] for k in keys_of(child_mapper)),
    ).select_from(parent_cte.join(child_cte, sa.true()))
    return statement, keys_of(mapper), keys_of(child_mapper)


def _unqualified(column: sa.Column) -> sa.ColumnClause:
    """``column`` named alone in a RETURNING list (its table is the INSERT's): the statement then
    stays under psycopg's 4,096 characters, whose conversion of a longer one is not cached."""
    return sa.column(column.name, column.type)
