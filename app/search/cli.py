"""``flask search reindex [--tenant SLUG] [--outdated]``: rebuild search indexes from the database."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from app.core.cli import tenant_refs
from app.search.services import index_state, reindex_tenant
from tenants.db import tenant_context

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
    refs = tenant_refs(slug)
    for ref in refs:
        if outdated and index_state(ref.id) == "ok":
            continue
        started = time.perf_counter()
        with tenant_context(ref):
            count = reindex_tenant()
        click.echo(f"{ref.slug}: {count} gig(s) indexed in {time.perf_counter() - started:.2f}s")
