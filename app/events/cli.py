"""``flask worker`` and ``flask events ...``."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.core import metrics
from app.core.embedded import ensure_embedded
from app.events.models import OutboxEvent
from app.events.services import enqueue_delivery
from app.events.tasks import relay_outbox
from app.events.worker import run_worker
from app.extensions import redis_store
from tenants.db import db, tenant_context
from tenants.resolver import get_tenant_by_slug
from tenants.spares import ensure_spares

log = logging.getLogger(__name__)

DEFAULT_QUEUES = ("events", "default", "webhooks")  # webhooks: app/webhooks drains

# Periodic loops the worker runs next to the outbox relay, each in its own thread:
# ``loop(app, stop)`` runs until the ``stop`` event is set. The domains that own them
# (orders' tick, payments' clearance and payouts) sit above events in the domain graph,
# so they register here at app setup (``app._register_domain_hooks``) instead of being imported.
_periodic_loops: dict[str, Callable[[Flask, threading.Event], None]] = {}


def register_periodic_loop(name: str, loop: Callable[[Flask, threading.Event], None]) -> None:
    """Have ``flask worker`` run ``loop(app, stop)`` in a thread called ``name`` (once per name)."""
    _periodic_loops[name] = loop


def _relay_loop(app, stop: threading.Event) -> None:
    interval = app.config["OUTBOX_RELAY_INTERVAL_SECONDS"]
    while not stop.wait(interval):
        try:
            with app.app_context():
                relay_outbox()
        except Exception:
            log.exception("outbox relay pass failed")
        try:
            with app.app_context():
                # Keep spare tenant schemas built, so provisioning only renames one.
                ensure_spares(app.config["TENANT_SPARE_SCHEMAS"])
        except Exception:
            log.exception("building spare tenant schemas failed")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--no-relay", is_flag=True, help="Do not run the outbox relay in this process.")
@click.argument("queues", nargs=-1)
@with_appcontext
def worker_command(burst, no_relay, queues):
    """Run an RQ worker for all tenants (plus the outbox relay and the registered periodic loops)."""
    app = current_app._get_current_object()
    ensure_embedded(app)  # Redis comes first here, before any database connection would start it
    stop = threading.Event()
    if not no_relay:
        threading.Thread(target=_relay_loop, args=(app, stop), daemon=True, name="relay").start()
        for name, loop in _periodic_loops.items():
            threading.Thread(target=loop, args=(app, stop), daemon=True, name=name).start()
    metrics_server = _serve_metrics(app)
    # Jobs run in this process (SimpleWorker): one warm connection pool serves every tenant,
    # and no forked child inherits the pool's sockets. Redis outages are waited out, and the
    # scheduler is a thread of this process (app/events/worker.py).
    try:
        run_worker(
            list(queues or DEFAULT_QUEUES),
            redis_store.client,
            burst=burst,
            logging_level=app.config["LOG_LEVEL"],
            stop=stop,
        )
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
        # Its live gauges go; its counters stay (app/core/metrics.py).
        metrics.mark_process_dead(os.getpid())


def _serve_metrics(app):
    """With ``WORKER_METRICS_PORT``, serve this host's metrics directory at /metrics on
    ``WORKER_METRICS_ADDR`` (a worker on a machine without the web); returns the server."""
    port = app.config["WORKER_METRICS_PORT"]
    if not port:
        return None
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    server, _thread = start_http_server(port, addr=app.config["WORKER_METRICS_ADDR"], registry=registry)
    log.info("worker metrics at http://%s:%s/metrics", app.config["WORKER_METRICS_ADDR"], port)
    return server


@click.group("events", help="Inspect and re-deliver outbox events.")
def events_cli():
    pass


@events_cli.command("relay")
@with_appcontext
def relay_command():
    """Enqueue pending events whose delivery was lost (one pass)."""
    click.echo(f"re-enqueued {relay_outbox()} event(s)")


@events_cli.command("list")
@click.option("--tenant", "slug", required=True)
@click.option("--status", type=click.Choice(["pending", "dispatched", "failed"]), default=None)
@click.option("--limit", default=50)
@with_appcontext
def list_command(slug, status, limit):
    """Show a tenant's recent outbox events."""
    tenant = get_tenant_by_slug(slug)
    if tenant is None:
        raise click.ClickException(f"no tenant with slug {slug!r}")
    with tenant_context(tenant):
        query = sa.select(OutboxEvent).order_by(OutboxEvent.id.desc()).limit(limit)
        if status:
            query = query.where(OutboxEvent.status == status)
        for e in db.session.execute(query).scalars():
            click.echo(f"{e.id:>8} {e.status:<10} {e.attempts:>2} {e.name:<32} {e.last_error or ''}")


@events_cli.command("retry")
@click.option("--tenant", "slug", required=True)
@click.argument("event_id", type=int)
@with_appcontext
def retry_command(slug, event_id):
    """Put a failed event back to pending and enqueue it."""
    tenant = get_tenant_by_slug(slug)
    if tenant is None:
        raise click.ClickException(f"no tenant with slug {slug!r}")
    with tenant_context(tenant):
        event = db.session.get(OutboxEvent, event_id)
        if event is None:
            raise click.ClickException(f"no event {event_id} in {slug}")
        event.status = "pending"
        db.session.commit()
    enqueue_delivery(tenant.id, event_id)
    click.echo(f"event {event_id} re-enqueued")
