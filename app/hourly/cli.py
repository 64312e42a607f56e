"""``flask hourly close-weeks [--tenant SLUG]``: close finished weeks and approve due timesheets now.

What the ``hourly-sweep`` loop does, on demand (the demo, an operator who does not want to wait
for Monday's run): every finished week with time becomes a submitted timesheet, every timesheet
past its review period is approved and billed. One transaction per week and per timesheet.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click
from flask.cli import with_appcontext

from app.core.cli import tenant_refs
from app.core.unit_of_work import job_unit
from app.hourly import services
from app.hourly.tasks import _each
from tenants.db import tenant_context

hourly_cli = click.Group("hourly", help="Hourly contracts: weeks and timesheets.")


@hourly_cli.command("close-weeks")
@click.option("--tenant", "slug", default=None, help="Only this tenant (slug); default: every active one.")
@with_appcontext
def close_weeks_command(slug):
    """Close every finished week into a timesheet and approve the timesheets whose review ran out."""
    refs = tenant_refs(slug)
    now = datetime.now(UTC)
    started = time.perf_counter()
    closed = approved = 0
    with click.progressbar(
        refs, label="tenants", show_pos=True, item_show_func=lambda r: r and r.slug
    ) as bar:
        for ref in bar:
            with tenant_context(ref), job_unit():
                closed += _each(
                    services.weeks_to_close(now),
                    lambda item: services.close_week(item[0], item[1], now=now),
                    "closing week",
                )
                approved += _each(
                    services.due_for_approval(now),
                    lambda sid: services.auto_approve(sid, now=now),
                    "timesheet",
                )
    click.echo(
        f"{len(refs)} tenant(s): {closed:,} week(s) closed into timesheets, {approved:,} timesheet(s) "
        f"approved in {time.perf_counter() - started:.2f}s"
    )
