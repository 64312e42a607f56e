"""``flask search reindex [--tenant SLUG] [--outdated]``: rebuild search indexes from the database."""

from __future__ import annotations

import time

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from app.search.services import index_state, reindex_tenant
from tenants.db import db, tenant_context
from tenants.models import Tenant
from tenants.resolver import get_tenant_by_slug

search_cli = click.Group("search", help="Search: rebuild the per-tenant indexes.")


@search_cli.command("reindex")
@click.option(
    "--tenant", "slug", default=None, help="Only this tenant (its slug); default: every active one."
)
@click.option(
    "--outdated",
    is_flag=True,
    help="Only indexes that are missing or of an older format (after an upgrade that changed it).",
)
@with_appcontext
def reindex(slug, outdated):
    """Rebuild into a fresh index and swap it in (searches keep working meanwhile)."""
    if slug is not None:
        ref = get_tenant_by_slug(slug)
        if ref is None:
            raise click.BadParameter(f"no tenant {slug!r}", param_hint="--tenant")
        refs = [ref]
    else:
        tenants = db.session.scalars(sa.select(Tenant).where(Tenant.status == "active").order_by(Tenant.id))
        refs = [t.ref() for t in tenants]
        db.session.remove()
    for ref in refs:
        if outdated and index_state(ref.id) == "ok":
            continue
        started = time.perf_counter()
        with tenant_context(ref):
            count = reindex_tenant()
        click.echo(f"{ref.slug}: {count} gig(s) indexed in {time.perf_counter() - started:.2f}s")
