"""``flask ledger verify [--tenant SLUG]``: check the ledger invariants of every tenant (or one)."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from app.core.cli import tenant_refs
from app.ledger.verify import verify
from tenants.db import tenant_context

ledger_cli = click.Group("ledger", help="Ledger: check the double-entry invariants.")


@ledger_cli.command("verify")
@click.option("--tenant", "slug", default=None, help="Only this tenant (its slug); default: every tenant.")
@with_appcontext
def verify_command(slug):
    """Check that every transaction balances, no forbidden negative, cached = replayed,
    escrow = paid − released − refunded. Exits 1 listing the problems."""
    refs = tenant_refs(slug, active_only=False)
    failed = 0
    for ref in refs:
        with tenant_context(ref):
            report = verify()
        summary = (
            f"{report.transactions} transactions, {report.entries} entries, "
            f"{report.accounts} accounts in {report.seconds:.2f}s"
        )
        if report.ok:
            click.echo(f"{ref.slug}: OK ({summary})")
        else:
            failed += 1
            click.echo(f"{ref.slug}: {len(report.problems)} problem line(s) ({summary})")
            for line in report.problems:
                click.echo(f"  {line}")
    if failed:
        click.echo(f"{failed} of {len(refs)} tenant(s) have ledger problems", err=True)
        sys.exit(1)
    click.echo(f"all {len(refs)} tenant(s) balanced")
