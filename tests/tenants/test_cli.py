"""``flask tenants ...``: what the operator types, what they read back, and that
bad input exits 1 with a clear message and changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tenants.db import db
from tenants.migrations import tenant_head
from tenants.resolver import get_tenant_by_slug


@pytest.fixture
def flask_cli(app):
    """``flask_cli("tenants", "list")`` -> click Result."""
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=list(args))

    return invoke


def snapshot(app) -> tuple:
    """Everything a tenant command could change: public rows and tenant schemas."""
    with app.app_context(), db.engine.connect() as conn:
        return (
            conn.execute(sa.text("SELECT slug, status FROM public.tenants ORDER BY slug")).all(),
            conn.execute(sa.text("SELECT hostname, is_primary FROM public.tenant_domains ORDER BY 1")).all(),
            conn.execute(
                sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1")
            ).all(),
        )


@pytest.fixture
def empty_tenant(app):
    """``empty_tenant("slug", ddl=None)``: a tenant row and an empty schema (behind every
    migration), made without provisioning; the harness drops it after the test."""

    def make(slug: str, ddl: str | None = None) -> None:
        schema = f"tenant_{slug}"
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO public.tenants (slug, name, schema_name) VALUES (:s, :s, :schema)"),
                {"s": slug, "schema": schema},
            )
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            if ddl:
                conn.exec_driver_sql(ddl.format(schema=schema))

    return make


def tenant(app, slug):
    with app.app_context():
        return get_tenant_by_slug(slug)


class TestCreate:
    def test_create_prints_the_tenant_its_hosts_and_admin(self, app, flask_cli, tenant_client):
        result = flask_cli(
            "tenants", "create", "initech", "--name", "Initech Gigs", "--admin-email", "boss@initech.test"
        )
        assert result.exit_code == 0, result.output
        assert "Created tenant initech" in result.output
        assert "schema tenant_initech" in result.output
        assert "host: initech.localhost" in result.output
        assert "admin: boss@initech.test (invited: a set-password link is emailed)" in result.output
        assert tenant(app, "initech").name == "Initech Gigs"
        page = tenant_client("initech").get("/")
        assert page.status_code == 200 and b"Initech Gigs" in page.data

    def test_create_with_a_custom_domain_makes_it_primary(self, app, flask_cli, tenant_client):
        result = flask_cli("tenants", "create", "hooli", "--name", "Hooli", "--domain", "Jobs.Hooli.example.")
        assert result.exit_code == 0, result.output
        assert "host: hooli.localhost" in result.output and "host: jobs.hooli.example" in result.output
        assert b"Hooli" in tenant_client("jobs.hooli.example").get("/").data
        listing = flask_cli("tenants", "list").output
        assert "hooli.localhost, jobs.hooli.example*" in listing

    def test_given_admin_password_is_not_echoed(self, flask_cli):
        result = flask_cli(
            "tenants", "create", "umbrella", "--name", "Umbrella",
            "--admin-email", "a@umbrella.test", "--admin-password", "s3cret-Passw0rd",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "s3cret-Passw0rd" not in result.output

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["Bad_Slug", "--name", "X"], "slug must be"),
            (["x", "--name", "X"], "slug must be"),
            (["9lives", "--name", "X"], "slug must be"),
            (["www", "--name", "X"], "'www' is reserved"),
            (["admin", "--name", "X"], "'admin' is reserved"),
            (["acme", "--name", "Acme again"], "'acme' already exists"),
            (["newco", "--name", "   "], "name is required"),
            (["newco", "--name", "N" * 121], "name is required"),
            (["newco", "--name", "N", "--domain", "not a host"], "is not a valid hostname"),
            (["newco", "--name", "N", "--domain", "203.0.113.7"], "is not a valid hostname"),
            (["newco", "--name", "N", "--domain", "newco.localhost"], "under the platform domain"),
        ],
    )
    def test_bad_input_exits_1_with_a_clear_message_and_creates_nothing(self, app, flask_cli, args, message):
        before = snapshot(app)
        result = flask_cli("tenants", "create", *args)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ") and message in result.stderr, result.stderr
        assert "Traceback" not in result.output
        assert snapshot(app) == before

    def test_hostname_taken_by_another_tenant_exits_1_and_creates_nothing(self, app, flask_cli):
        assert flask_cli("tenants", "add-domain", "acme", "shop.example.com").exit_code == 0
        before = snapshot(app)
        result = flask_cli("tenants", "create", "newco", "--name", "N", "--domain", "shop.example.com")
        assert result.exit_code == 1
        assert "'shop.example.com' is already in use" in result.stderr
        assert snapshot(app) == before

    def test_missing_name_is_a_usage_error(self, app, flask_cli):
        before = snapshot(app)
        result = flask_cli("tenants", "create", "newco")
        assert result.exit_code == 2 and "--name" in result.output
        assert snapshot(app) == before


def test_list_shows_every_tenant_with_status_version_and_hosts(app, flask_cli):
    with app.app_context():
        head = tenant_head()
    result = flask_cli("tenants", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["slug", "status", "version", "hosts"]
    assert lines[1].split() == ["acme", "active", head, "acme.localhost*"]
    assert lines[2].split() == ["globex", "active", head, "globex.localhost*"]
    assert lines[-1] == f"2 tenant(s); tenant head {head}"


def test_list_marks_a_tenant_whose_schema_is_behind(app, flask_cli):
    with app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql('DELETE FROM "tenant_globex".alembic_version')
    try:
        globex_line = next(
            line for line in flask_cli("tenants", "list").output.splitlines() if line.startswith("globex")
        )
        assert "(behind)" in globex_line
    finally:
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(
                sa.text('INSERT INTO "tenant_globex".alembic_version VALUES (:v)'), {"v": tenant_head()}
            )


class TestStatus:
    def test_suspend_and_resume(self, app, flask_cli, tenant_client):
        result = flask_cli("tenants", "suspend", "acme", "--reason", "unpaid invoice")
        assert result.exit_code == 0 and result.output.strip() == "Suspended acme"
        assert tenant(app, "acme").status == "suspended"
        assert tenant_client("acme").get("/").status_code == 503
        assert "suspended" in next(
            line for line in flask_cli("tenants", "list").output.splitlines() if line.startswith("acme")
        )
        assert tenant(app, "globex").status == "active"

        result = flask_cli("tenants", "resume", "acme")
        assert result.exit_code == 0 and result.output.strip() == "Resumed acme"
        assert tenant(app, "acme").status == "active"
        assert tenant_client("acme").get("/").status_code == 200

    @pytest.mark.parametrize("command", ["suspend", "resume"])
    def test_status_change_of_a_missing_tenant_exits_1(self, app, flask_cli, command):
        before = snapshot(app)
        result = flask_cli("tenants", command, "nobody")
        assert result.exit_code == 1 and "no tenant with slug 'nobody'" in result.stderr
        assert snapshot(app) == before


class TestDrop:
    def test_drop_without_yes_refuses_and_keeps_everything(self, app, flask_cli):
        before = snapshot(app)
        result = flask_cli("tenants", "drop", "globex")
        assert result.exit_code == 1 and "--yes" in result.stderr
        assert snapshot(app) == before

    def test_drop_with_yes_removes_schema_rows_and_hosts(self, app, flask_cli, tenant_client):
        assert flask_cli("tenants", "create", "doomed", "--name", "Doomed").exit_code == 0
        assert tenant_client("doomed").get("/").status_code == 200
        result = flask_cli("tenants", "drop", "doomed", "--yes")
        assert result.exit_code == 0 and result.output.strip() == "Dropped doomed"
        tenants, domains, schemas = snapshot(app)
        assert [slug for slug, _ in tenants] == ["acme", "globex"]
        assert not [h for h, _ in domains if "doomed" in h]
        assert ("tenant_doomed",) not in schemas
        assert tenant_client("doomed").get("/").status_code == 404

    def test_drop_of_a_missing_tenant_exits_1(self, app, flask_cli):
        before = snapshot(app)
        result = flask_cli("tenants", "drop", "nobody", "--yes")
        assert result.exit_code == 1 and "no tenant with slug 'nobody'" in result.stderr
        assert snapshot(app) == before


class TestAddDomain:
    def test_add_domain_makes_the_tenant_reachable_there(self, flask_cli, tenant_client):
        result = flask_cli("tenants", "add-domain", "globex", "Market.Globex.example")
        assert result.exit_code == 0, result.output
        assert b"Globex Test Market" in tenant_client("market.globex.example").get("/").data

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["nobody", "shop.example.com"], "no tenant with slug 'nobody'"),
            (["acme", "bad host"], "is not a valid hostname"),
            (["acme", "globex.localhost"], "under the platform domain"),
            (["acme", "203.0.113.7"], "is not a valid hostname"),
        ],
    )
    def test_bad_domain_exits_1_and_changes_nothing(self, app, flask_cli, args, message):
        before = snapshot(app)
        result = flask_cli("tenants", "add-domain", *args)
        assert result.exit_code == 1 and message in result.stderr, result.output
        assert snapshot(app) == before

    def test_hostname_of_another_tenant_exits_1(self, app, flask_cli):
        assert flask_cli("tenants", "add-domain", "acme", "shop.example.com").exit_code == 0
        before = snapshot(app)
        result = flask_cli("tenants", "add-domain", "globex", "SHOP.example.com")
        assert result.exit_code == 1 and "already in use" in result.stderr
        assert snapshot(app) == before


class TestMigrate:
    def test_migrate_with_nothing_to_do(self, app, flask_cli):
        result = flask_cli("tenants", "migrate", "--jobs", "2")
        assert result.exit_code == 0, result.output
        assert "tenants: 2 checked, 0 upgraded" in result.output and "0 failed" in result.output

    def test_migrate_upgrades_a_tenant_behind(self, flask_cli, empty_tenant):
        empty_tenant("lagging")
        result = flask_cli("tenants", "migrate", "--tenant", "lagging", "--jobs", "1")
        assert result.exit_code == 0, result.output
        assert "tenants: 1 checked, 1 upgraded" in result.output
        assert "(behind)" not in flask_cli("tenants", "list").output

    def test_a_failing_tenant_makes_migrate_exit_1_and_names_it(self, flask_cli, empty_tenant):
        empty_tenant("broken", ddl='CREATE TABLE "{schema}".users (stray integer)')
        empty_tenant("lagging")
        result = flask_cli("tenants", "migrate", "--jobs", "1")
        assert result.exit_code == 1
        assert "4 checked, 1 upgraded" in result.output and "1 failed" in result.output  # acme, globex, +2
        assert "FAILED broken:" in result.stderr and "users" in result.stderr

    def test_migrate_of_a_missing_tenant_exits_1(self, flask_cli):
        result = flask_cli("tenants", "migrate", "--tenant", "nobody")
        assert result.exit_code == 1 and "no tenant with slug 'nobody'" in result.stderr
