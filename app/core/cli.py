"""Developer commands: the embedded services (``flask embedded ...``)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.core.embedded import ensure_embedded, stop_all


@click.group("embedded", help="The embedded PostgreSQL and Redis under instance/.")
def embedded_cli():
    pass


@embedded_cli.command("stop")
@with_appcontext
def stop_command():
    """Stop the embedded servers."""
    stopped = stop_all(Path(current_app.config["INSTANCE_DIR"]))
    click.echo("stopped: " + (", ".join(stopped) or "nothing was running"))


@embedded_cli.command("urls")
@with_appcontext
def urls_command():
    """Print the database and Redis URLs in use (starting the embedded servers if needed)."""
    ensure_embedded(current_app)
    click.echo(f"DATABASE_URL={current_app.config['SQLALCHEMY_DATABASE_URI']}")
    click.echo(f"REDIS_URL={current_app.config['REDIS_URL']}")
