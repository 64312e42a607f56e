"""The app's connections make ``LeanCursor`` cursors: ``description`` is psycopg's own (the same
columns, ``None`` in the same cases), its ``Column`` objects made only when one is read, from the
result they describe even after the cursor has moved on."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from tenants.db import LeanCursor, ResultColumns, db, lean_cursor_descriptions

QUERY = (
    "SELECT 1::int AS one, 'x'::varchar(7) AS name, 2.5::numeric(6, 2) AS price,"
    " '2026-12-05 10:00+00'::timestamptz AS at, NULL::jsonb"
)


@pytest.fixture
def raw(app):
    """A plain psycopg connection (autocommit) to the suite's database."""
    url = _url(app).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        yield conn


def test_the_description_is_psycopgs_own(raw):
    plain, lean = raw.cursor(), LeanCursor(raw)
    plain.execute(QUERY)
    lean.execute(QUERY)
    described = lean.description
    assert isinstance(described, ResultColumns) and len(described) == 5
    assert [c.name for c in described] == ["one", "name", "price", "at", "jsonb"]
    assert [tuple(c) for c in described] == [tuple(c) for c in plain.description]
    assert described[1].display_size == 7 and described[2].precision == 6 and described[2].scale == 2
    assert described[-1].type_code == plain.description[-1].type_code
    assert lean.fetchall() == plain.fetchall()


def test_none_where_psycopgs_is_none_and_empty_where_it_is_empty(raw):
    plain, lean = raw.cursor(), LeanCursor(raw)
    assert lean.description is None and plain.description is None  # nothing run yet
    plain.execute("CREATE TEMPORARY TABLE lean_t (id int)")
    lean.execute("CREATE TEMPORARY TABLE lean_u (id int)")
    assert lean.description is None and plain.description is None
    plain.execute("INSERT INTO lean_t VALUES (1)")
    lean.execute("INSERT INTO lean_t VALUES (1)")
    assert lean.description is None and plain.description is None
    plain.execute("SELECT")  # a result with rows but no columns
    lean.execute("SELECT")
    assert plain.description == [] and lean.description is not None and len(lean.description) == 0
    lean.execute("INSERT INTO lean_t VALUES (2) RETURNING id")
    assert [c.name for c in lean.description] == ["id"]


def test_columns_are_made_on_first_read_from_the_result_they_describe(raw):
    lean = LeanCursor(raw)
    lean.execute(QUERY)
    described = lean.description
    assert described._columns is None  # nothing made by asking for the description or its length
    assert len(described) == 5 and described._columns is None
    lean.execute("SELECT 'y'::text AS other")  # the cursor moves on before the columns are read
    assert [c.name for c in described] == ["one", "name", "price", "at", "jsonb"]
    assert [c.name for c in lean.description] == ["other"]


def test_the_apps_engines_make_lean_cursors_and_sqlalchemy_reads_through_them(app):
    with app.app_context(), db.engine.connect() as conn:
        assert isinstance(conn.connection.dbapi_connection.cursor(), LeanCursor)
        rows = conn.execute(sa.text("SELECT 1 AS a, 'b' AS b")).mappings().all()
        assert rows == [{"a": 1, "b": "b"}]
        for _ in range(3):  # a cached statement: its result metadata is kept, the columns unread
            result = conn.execute(sa.select(sa.literal(1).label("x"), sa.literal("y").label("y")))
            assert result.keys() == ["x", "y"] and result.one() == (1, "y")


def test_a_named_server_side_cursor_stays_psycopgs(app):
    engine = sa.create_engine(_url(app), poolclass=sa.pool.NullPool)
    lean_cursor_descriptions(engine)
    with engine.connect() as conn:
        streamed = conn.execution_options(stream_results=True).execute(
            sa.text("SELECT generate_series(1, 5) AS n")
        )
        assert [row.n for row in streamed] == [1, 2, 3, 4, 5]
        assert isinstance(conn.connection.dbapi_connection.cursor(), LeanCursor)
    engine.dispose()


def _url(app):
    with app.app_context():
        return db.engine.url
