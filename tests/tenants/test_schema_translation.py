"""The statements rendered for a tenant's schema are kept per (statement, schema map): a cached
statement is not rewritten with a regular expression at every execution, and one tenant's
rendering is never handed to another (the schema is in the key)."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from tenants.db import TENANT_SCHEMA, cache_schema_translation, db


def _engine(app):
    with app.app_context():
        url = db.engine.url
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    cache_schema_translation(engine, size=8)
    return engine


def _render(engine, statement, schema_map) -> str:
    compiled = statement.compile(dialect=engine.dialect, schema_translate_map=schema_map)
    return compiled.preparer._render_schema_translates(compiled.string, schema_map)


def test_each_tenants_schema_is_rendered_and_kept_under_its_own_key(app):
    engine = _engine(app)
    cache = engine.dialect.identifier_preparer.translation_cache
    statement = sa.select(User.id, User.email).where(User.id == 7)
    acme = _render(engine, statement, {TENANT_SCHEMA: "tenant_acme"})
    globex = _render(engine, statement, {TENANT_SCHEMA: "tenant_globex"})
    assert "tenant_acme.users" in acme and "tenant_globex" not in acme and "__[SCHEMA" not in acme
    assert "tenant_globex.users" in globex and "tenant_acme" not in globex
    assert cache.cache_info().misses == 2 and cache.cache_info().hits == 0
    assert _render(engine, statement, {TENANT_SCHEMA: "tenant_acme"}) == acme  # the kept text
    assert _render(engine, statement, {TENANT_SCHEMA: "tenant_globex"}) == globex
    assert cache.cache_info().hits == 2
    for n in range(20):  # bounded: old entries go, the answer stays right
        _render(engine, statement, {TENANT_SCHEMA: f"tenant_t{n}"})
    assert cache.cache_info().currsize == 8
    assert _render(engine, statement, {TENANT_SCHEMA: "tenant_acme"}) == acme


def test_equal_ids_in_two_tenants_read_their_own_rows_through_one_cached_statement(
    app, acme, globex, make_user, in_tenant
):
    ada = make_user(acme, email="ada@acme.test")  # ids
    bob = make_user(globex, email="bob@globex.test")
    statement = sa.select(User.email).where(User.id == sa.bindparam("id"))
    for _ in range(3):  # alternately, each time through the engine's translation cache
        with in_tenant(acme):
            assert db.session.scalar(statement, {"id": ada}) == "ada@acme.test"
            assert db.session.scalar(statement, {"id": bob}) != "bob@globex.test"
        with in_tenant(globex):
            assert db.session.scalar(statement, {"id": bob}) == "bob@globex.test"
            assert db.session.scalar(statement, {"id": ada}) != "ada@acme.test"
    with app.app_context():
        assert db.engine.dialect.identifier_preparer.translation_cache.cache_info().hits > 0


def test_a_map_with_a_none_key_is_left_to_sqlalchemy(app):
    engine = _engine(app)
    cache = engine.dialect.identifier_preparer.translation_cache
    table = sa.Table("things", sa.MetaData(), sa.Column("id", sa.Integer))  # no schema: the None key
    rendered = _render(engine, sa.select(table), {None: "tenant_acme"})
    assert "tenant_acme.things" in rendered
    assert cache.cache_info().currsize == 0
