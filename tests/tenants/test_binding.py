"""Per-request binding through schema_translate_map: no query runs without a
tenant, no two tenants share a transaction, and a pooled connection carries
nothing from one tenant to the next (no ``SET search_path``, ever)."""

from __future__ import annotations

import flask
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.accounts.models import User
from app.gigs.models import Category
from tenants.db import (
    TenantNotBound,
    TenantSwitchError,
    bind_tenant,
    current_tenant,
    db,
    tenant_context,
    unbind_tenant,
)


def test_orm_query_with_no_tenant_bound_raises(app):
    with app.app_context():
        with pytest.raises(TenantNotBound):
            db.session.execute(sa.select(User)).all()
        with pytest.raises(TenantNotBound):
            db.session.get(Category, 1)
        with pytest.raises(TenantNotBound):
            current_tenant()


def test_core_sql_on_a_tenant_table_with_no_tenant_bound_is_refused_at_the_cursor(app):
    with app.app_context():
        with pytest.raises(TenantNotBound):
            db.session.execute(sa.select(User.__table__)).all()
        db.session.rollback()
        with db.engine.connect() as conn:
            for statement in (
                sa.select(Category.__table__.c.id),
                sa.text("SELECT id FROM __tenant__.users"),
                sa.text('SELECT id FROM "__tenant__".users'),
            ):
                with pytest.raises(TenantNotBound):
                    conn.execute(statement).all()
                conn.rollback()


def test_binding_another_tenant_inside_an_open_transaction_raises(app, acme, globex):
    with app.app_context(), tenant_context(acme):
        db.session.execute(sa.select(Category.id)).all()  # a transaction of acme is open
        with pytest.raises(TenantSwitchError):
            bind_tenant(globex)
        assert current_tenant() == acme
        # Binding the same tenant again is harmless; after a rollback another one is fine.
        unbind_tenant(bind_tenant(acme))
        db.session.rollback()
        token = bind_tenant(globex)
        try:
            names = db.session.execute(sa.select(User.email).where(User.role == "admin")).scalars().all()
            assert names == ["admin@globex.test"]
        finally:
            db.session.rollback()
            unbind_tenant(token)


def test_tenant_context_discards_uncommitted_work(in_tenant, acme):
    with in_tenant(acme):
        db.session.add(Category(name="Uncommitted", slug="uncommitted"))
        db.session.flush()
        assert db.session.execute(sa.select(Category).filter_by(slug="uncommitted")).scalar_one()
    with in_tenant(acme):
        assert db.session.execute(sa.select(Category).filter_by(slug="uncommitted")).first() is None


def test_equal_ids_in_two_tenants_return_each_tenants_own_row(in_tenant, make_user, acme, globex):
    acme_id = make_user(acme, email="ann@acme.example")
    globex_id = make_user(globex, email="gus@globex.example")
    assert acme_id == globex_id  # the harness restarts identities: the trap is set

    with in_tenant(acme):
        assert db.session.get(User, acme_id).email == "ann@acme.example"
    with in_tenant(globex):
        assert db.session.get(User, globex_id).email == "gus@globex.example"
        emails = db.session.execute(sa.select(User.email)).scalars().all()
        assert "ann@acme.example" not in emails


@pytest.fixture
def one_connection_app(app):
    """A second Flask app on the same database whose pool holds exactly one connection."""
    small = flask.Flask("one_connection")
    small.config.update(
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 5},
    )
    db.init_app(small)
    yield small
    with small.app_context():
        db.engine.dispose()


def test_a_pooled_connection_reused_from_one_tenant_to_another_carries_no_tenant_state(
    one_connection_app, make_user, acme, globex
):
    acme_id = make_user(acme, email="ann@acme.example")
    make_user(globex, email="gus@globex.example")
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with one_connection_app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", seen)
        try:
            observed = []
            for tenant in (acme, globex, acme):
                with tenant_context(tenant):
                    row = db.session.execute(
                        sa.text("SELECT pg_backend_pid(), current_setting('search_path')")
                    ).one()
                    email = db.session.get(User, acme_id).email
                    observed.append((row[0], row[1], email))
        finally:
            event.remove(engine, "before_cursor_execute", seen)

    pids = {pid for pid, _, _ in observed}
    assert len(pids) == 1, "the same server connection served both tenants"
    assert {path for _, path, _ in observed} == {'"$user", public'}
    assert [email for _, _, email in observed] == [
        "ann@acme.example",
        "gus@globex.example",
        "ann@acme.example",
    ]
    assert not [s for s in statements if "search_path" in s.lower() and s.lower().lstrip().startswith("set")]


def test_requests_never_set_search_path(app, tenant_client):
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.lower())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for slug in ("acme", "globex", "acme", "globex"):
            assert tenant_client(slug).get("/api/v1/categories").status_code == 200
            assert tenant_client(slug).get("/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert any('"tenant_acme".' in s or "tenant_acme." in s for s in statements)
    assert any('"tenant_globex".' in s or "tenant_globex." in s for s in statements)
    assert not [s for s in statements if "search_path" in s]


def test_the_request_session_is_released_when_the_request_ends(app, tenant_client):
    """A request's transaction never outlives it (so it cannot leak into the next one)."""
    with app.app_context():
        engine = db.engine
    checked_out_before = engine.pool.checkedout()
    for slug in ("acme", "globex"):
        assert tenant_client(slug).get("/api/v1/categories").status_code == 200
    assert engine.pool.checkedout() == checked_out_before
