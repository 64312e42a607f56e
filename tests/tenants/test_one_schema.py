"""One schema per tenant statement (``tenants.db.check_one_schema``): the rule Citus
schema-based sharding needs. The guard is on for the whole suite (``TENANT_SQL_GUARD`` in
TestingConfig), so every request and job the suite runs with a tenant bound is checked; these
tests show that it catches what it must and lets through what it may."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from tenants.db import CrossSchemaStatement, TenantRef, check_one_schema, db, schemas_named

ACME = TenantRef(id=1, slug="acme", schema="tenant_acme", name="Acme", status="active")


def test_the_schemas_a_rendered_statement_names():
    assert schemas_named("SELECT tenant_acme.orders.id FROM tenant_acme.orders") == {"tenant_acme"}
    assert schemas_named('SELECT 1 FROM "tenant_acme".orders JOIN "public".tenants ON true') == {
        "tenant_acme",
        "public",
    }
    # A public table (or its alias) qualifying a column, a bind parameter, a column: no schema.
    assert schemas_named(
        "SELECT tenant_domains_1.hostname FROM public.tenant_domains AS tenant_domains_1 "
        "WHERE tenant_domains_1.tenant_id = %(tenant_id_1)s"
    ) == {"public"}
    assert schemas_named("SELECT orders.tenant_id FROM orders") == set()


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT tenant_acme.users.id FROM tenant_acme.users",
        "SELECT id, schema_name FROM public.tenants WHERE status = 'active'",  # the coordinator's
        "SELECT 1",
    ],
)
def test_statements_a_tenant_may_send(statement):
    check_one_schema(statement, ACME)


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("SELECT tenant_globex.users.id FROM tenant_globex.users", "names \\['tenant_globex'\\]"),
        ("SELECT 1 FROM tenant_acme.users JOIN tenant_globex.users ON true", "tenant_globex"),
        ("SELECT 1 FROM tenant_acme.users u JOIN public.tenants t ON t.id = u.id", "joins a public table"),
    ],
)
def test_statements_a_tenant_may_not_send(statement, reason):
    with pytest.raises(CrossSchemaStatement, match=reason):
        check_one_schema(statement, ACME)


def test_the_suite_guard_refuses_another_tenants_schema_before_it_reaches_the_database(
    app, acme, globex, in_tenant
):
    assert app.config["TENANT_SQL_GUARD"]
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count(User.id))) >= 0  # its own schema: fine
        with pytest.raises(CrossSchemaStatement):
            db.session.execute(sa.text(f"SELECT count(*) FROM {globex.schema}.users"))
        db.session.rollback()
        with pytest.raises(CrossSchemaStatement):
            db.session.execute(
                sa.select(sa.func.count()).select_from(
                    User.__table__.join(sa.table("tenants", schema="public"), sa.true())
                )
            )
        db.session.rollback()
    with app.app_context(), db.engine.connect() as conn:  # no tenant bound: platform code, not checked
        assert conn.execute(sa.text(f"SELECT count(*) FROM {globex.schema}.users")).scalar() >= 0
