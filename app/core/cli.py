"""Developer commands: the embedded services (``flask embedded ...``); ``tenant_refs``, the
``--tenant SLUG`` selection every per-tenant command shares."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from app.core.embedded import ensure_embedded, stop_all
from tenants.db import db
from tenants.models import Tenant
from tenants.resolver import get_tenant_by_slug


def tenant_refs(slug: str | None, *, active_only: bool = True) -> list:
    """The tenants a ``--tenant SLUG`` option names: that one (``click.BadParameter`` if there
    is none), else every tenant (``active_only``: every active one), by id. The session is
    released afterwards (each tenant's work binds its own)."""
    if slug is not None:
        ref = get_tenant_by_slug(slug)
        if ref is None:
            raise click.BadParameter(f"no tenant {slug!r}", param_hint="--tenant")
        return [ref]
    query = sa.select(Tenant).order_by(Tenant.id)
    if active_only:
        query = query.where(Tenant.status == "active")
    refs = [t.ref() for t in db.session.scalars(query)]
    db.session.remove()
    return refs


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
