"""``flask reviews reputation [--tenant SLUG]``: run the daily reputation job now.

What the ``reputation-daily`` loop does once per tenant and day, on demand (after changing the
level thresholds, or to backfill a day): snapshot every seller, assign levels, publish
``seller.level_changed``. One transaction per tenant; re-running a day replaces its rows.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from app.core.unit_of_work import job_unit
from app.reviews import reputation
from tenants.db import db, tenant_context
from tenants.models import Tenant
from tenants.resolver import get_tenant_by_slug

reviews_cli = click.Group("reviews", help="Reviews and reputation.")


@reviews_cli.command("reputation")
@click.option("--tenant", "slug", default=None, help="Only this tenant (slug); default: every active one.")
@with_appcontext
def reputation_command(slug):
    """Snapshot every seller's reputation for today (UTC) and assign their levels."""
    if slug is not None:
        ref = get_tenant_by_slug(slug)
        if ref is None:
            raise click.BadParameter(f"no tenant {slug!r}", param_hint="--tenant")
        refs = [ref]
    else:
        tenants = db.session.scalars(sa.select(Tenant).where(Tenant.status == "active").order_by(Tenant.id))
        refs = [t.ref() for t in tenants]
        db.session.remove()
    now = datetime.now(UTC)
    started = time.perf_counter()
    sellers = changes = 0
    for ref in refs:
        with tenant_context(ref):
            total = reputation.seller_count()
            with (
                job_unit(),
                click.progressbar(length=total, label=f"{ref.slug}: {total:,} sellers", show_pos=True) as bar,
            ):
                summary = reputation.snapshot_tenant(now, progress=bar.update)
        sellers += summary.sellers
        changes += len(summary.level_changes)
        click.echo(
            f"{ref.slug}: {summary.sellers:,} seller(s), {len(summary.level_changes):,} level change(s) "
            f"in {summary.seconds:.2f}s"
        )
    click.echo(
        f"reputation for {now.date().isoformat()}: {len(refs)} tenant(s), {sellers:,} seller(s), "
        f"{changes:,} level change(s) in {time.perf_counter() - started:.2f}s"
    )
