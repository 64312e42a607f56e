"""``flask demo seed``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.demo.seed import seed_demo


@click.group("demo", help="Demo marketplaces.")
def demo_cli():
    pass


@demo_cli.command("seed")
@with_appcontext
def seed_command():
    """Create the demo tenants (acme, globex, homehero) with their data, if missing."""
    for line in seed_demo():
        click.echo(line)
