"""``flask tenants ...``: create, list, suspend, resume, drop, migrate, revision, add-domain,
verify-domains."""

from __future__ import annotations

import sys
import tempfile

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from tenants import provisioning
from tenants.db import db
from tenants.migrations import (
    alembic_config,
    default_jobs,
    migrate_all,
    read_tenant_versions,
    tenant_head,
    upgrade_tenant_schema,
)
from tenants.models import Tenant
from tenants.resolver import get_tenant_by_slug


def _fail(message: str) -> None:
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(1)


def _invalidate():
    current_app.extensions["tenants"].invalidate()


@click.group("tenants", help="Manage tenants (marketplaces).")
def tenants_cli():
    pass


@tenants_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name of the marketplace.")
@click.option("--domain", default=None, help="Custom hostname (becomes the primary one).")
@click.option("--admin-email", default=None, help="Email of the first operator admin.")
@click.option(
    "--admin-password",
    default=None,
    help="Password of that admin (if omitted, a set-password link is emailed).",
)
@with_appcontext
def create(slug, name, domain, admin_email, admin_password):
    """Create a tenant: schema, tables, defaults and first admin, atomically."""
    try:
        result = provisioning.create_tenant(
            slug,
            name,
            base_domain=current_app.config["BASE_DOMAIN"],
            domain=domain,
            options={"admin_email": admin_email, "admin_password": admin_password},
        )
    except provisioning.ProvisioningError as exc:
        _fail(exc.message)
    # No invalidate(): a creation only adds hosts, and a host nobody had is cached as unknown
    # for the resolver's ttl at most (tenants.resolver), so every process finds the new one
    # within it without the shared generation's renewal (nor a Redis round trip here).
    t = result.tenant
    click.echo(f"Created tenant {t.slug} (id {t.id}, schema {t.schema}) in {result.seconds * 1000:.0f} ms")
    for host in result.hostnames:
        click.echo(f"  host: {host}")
    for note in result.notes:
        click.echo(f"  {note}")


@tenants_cli.command("list")
@with_appcontext
def list_tenants():
    """List tenants (by slug) with status, schema version and hostnames."""
    tenants = db.session.execute(sa.select(Tenant).order_by(Tenant.slug)).scalars().all()
    versions = read_tenant_versions([t.schema_name for t in tenants])
    head = tenant_head()
    click.echo(f"{'slug':<24} {'status':<10} {'version':<14} hosts")
    for t in tenants:
        version = versions.get(t.schema_name) or "-"
        mark = "" if version == head else " (behind)"
        hosts = ", ".join(d.hostname + ("*" if d.is_primary else "") for d in t.domains)
        click.echo(f"{t.slug:<24} {t.status:<10} {version + mark:<14} {hosts}")
    click.echo(f"{len(tenants)} tenant(s); tenant head {head}")


@tenants_cli.command("suspend")
@click.argument("slug")
@click.option("--reason", default=None)
@with_appcontext
def suspend(slug, reason):
    """Suspend a tenant: its sites answer 503."""
    try:
        provisioning.set_status(slug, "suspended", reason)
    except provisioning.ProvisioningError as exc:
        _fail(exc.message)
    _invalidate()
    click.echo(f"Suspended {slug}")


@tenants_cli.command("resume")
@click.argument("slug")
@with_appcontext
def resume(slug):
    """Resume a suspended tenant."""
    try:
        provisioning.set_status(slug, "active")
    except provisioning.ProvisioningError as exc:
        _fail(exc.message)
    _invalidate()
    click.echo(f"Resumed {slug}")


@tenants_cli.command("drop")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Confirm: the tenant's data is deleted for good.")
@with_appcontext
def drop(slug, yes):
    """Drop a tenant and all of its data."""
    if not yes:
        _fail("dropping deletes all of the tenant's data; pass --yes to confirm")
    try:
        provisioning.drop_tenant(slug)
    except provisioning.ProvisioningError as exc:
        _fail(exc.message)
    _invalidate()
    click.echo(f"Dropped {slug}")


@tenants_cli.command("add-domain")
@click.argument("slug")
@click.argument("hostname")
@click.option("--primary", is_flag=True)
@with_appcontext
def add_domain(slug, hostname, primary):
    """Attach a custom hostname to a tenant."""
    try:
        provisioning.add_domain(
            slug, hostname, base_domain=current_app.config["BASE_DOMAIN"], primary=primary
        )
    except provisioning.ProvisioningError as exc:
        _fail(exc.message)
    _invalidate()
    click.echo(f"Added {hostname} to {slug}")


@tenants_cli.command("migrate")
@click.option("--tenant", "slug", default=None, help="Only this tenant (public is upgraded first).")
@click.option("--jobs", default=None, type=int, help="Parallel worker processes.")
@with_appcontext
def migrate(slug, jobs):
    """Upgrade public, then every tenant schema (in parallel)."""
    if jobs is not None and jobs < 1:
        _fail("--jobs must be at least 1")
    if slug and get_tenant_by_slug(slug) is None:
        _fail(f"no tenant with slug {slug!r}")
    report = migrate_all(jobs=jobs or default_jobs(), slug=slug)
    click.echo(f"public: {report.public_before or 'empty'} -> {report.public_after}")
    click.echo(
        f"tenants: {report.checked} checked, {len(report.upgraded)} upgraded to {report.head}, "
        f"{len(report.failed)} failed, in {report.seconds:.2f} s"
    )
    for failed_slug, error in report.failed.items():
        click.secho(f"  FAILED {failed_slug}: {error}", fg="red", err=True)
    if not report.ok:
        sys.exit(1)


@tenants_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate", is_flag=True, help="Diff the models against a schema at head.")
@click.option("--rev-id", default=None, help="Revision id (default: generated), e.g. t0002.")
@with_appcontext
def revision(message, autogenerate, rev_id):
    """Create a tenant-level migration script."""
    from alembic import command

    cfg = alembic_config("tenant")
    if not autogenerate:
        command.revision(cfg, message=message, rev_id=rev_id)
        return
    scratch = "autogen_" + next(tempfile._get_candidate_names()).lower()
    with db.engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{scratch}"')
        conn.commit()
    try:
        upgrade_tenant_schema(scratch)
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{scratch}"')
            cfg.attributes["connection"] = conn
            cfg.attributes["schema"] = scratch
            command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
    finally:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{scratch}" CASCADE')


@tenants_cli.command("spares")
@click.option("--count", default=None, type=int, help="Spare schemas to keep ready (default: config).")
@with_appcontext
def spares(count):
    """Build spare tenant schemas ahead of time so creation only renames one."""
    from tenants.spares import ensure_spares, ready_spares

    if count is None:
        count = current_app.config.get("TENANT_SPARE_SCHEMAS", 2)
    if count < 0:
        _fail("--count must be 0 or more")
    built = ensure_spares(count)
    click.echo(f"built {built} spare schema(s); {ready_spares()} ready")


@tenants_cli.command("verify-domains")
@click.option("--tenant", "slug", default=None, help="Only this tenant's pending domains.")
@with_appcontext
def verify_domains(slug):
    """Check the DNS record of every pending custom domain; verified ones start resolving.

    Safe to run from cron: a domain whose record is not there yet stays pending.
    """
    from tenants.domains import verify_pending

    tenant_id = None
    if slug is not None:
        ref = get_tenant_by_slug(slug)
        if ref is None:
            _fail(f"no tenant with slug {slug!r}")
        tenant_id = ref.id
    checked = verified = 0
    for _domain_id, hostname, _tenant_id, ok, error in verify_pending(tenant_id):
        checked += 1
        if ok:
            verified += 1
            click.echo(f"verified  {hostname}")
        else:
            click.echo(f"pending   {hostname}: {error}")
    if verified:
        _invalidate()
    click.echo(f"{checked} pending domain(s) checked, {verified} verified")
