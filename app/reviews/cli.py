"""``flask reviews reputation [--tenant SLUG]``: run the daily reputation job now.

What the ``reputation-daily`` loop does once per tenant and day, on demand (after changing the
level thresholds, or to backfill a day): snapshot every seller, assign levels, publish
``seller.level_changed``. One transaction per tenant; re-running a day replaces its rows.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click
from flask.cli import with_appcontext

from app.core.cli import tenant_refs
from app.core.unit_of_work import job_unit
from app.reviews import reputation
from tenants.db import tenant_context

reviews_cli = click.Group("reviews", help="Reviews and reputation.")


@reviews_cli.command("reputation")
@click.option("--tenant", "slug", default=None, help="Only this tenant (slug); default: every active one.")
@with_appcontext
def reputation_command(slug):
    """Snapshot every seller's reputation for today (UTC) and assign their levels."""
    refs = tenant_refs(slug)
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
