"""How far behind the event system is, for ``/metrics``, ``/readyz`` and ``flask doctor``.

``outbox_backlog()`` counts undelivered outbox rows across every tenant schema (a few
``UNION ALL`` queries, 200 schemas each, like the relay) and is cached per process for
``METRICS_SCRAPE_CACHE_SECONDS``: a scrape every 15 s and a load balancer's readiness probe
every few seconds cost one pass per cache period, whatever the number of tenants.

``worker_heartbeats()`` reads RQ's registry of workers (each refreshes its heartbeat while it
waits for or runs jobs): an empty list, or only old heartbeats, means nothing delivers events.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app
from rq import Worker

from tenants.db import db

_CHUNK = 200


@dataclass(frozen=True)
class Backlog:
    pending: int  # outbox rows not yet delivered (status pending)
    oldest_pending_age: float  # seconds since the oldest pending row was written (0: none)
    computed_at: float  # time.time() of the count


_cache: dict[str, Backlog] = {}
_lock = threading.Lock()


def outbox_backlog(*, max_age: float | None = None) -> Backlog:
    """The outbox backlog across all tenants, at most ``max_age`` seconds old (default
    ``METRICS_SCRAPE_CACHE_SECONDS``; 0 counts now). Needs an app context."""
    if max_age is None:
        max_age = current_app.config["METRICS_SCRAPE_CACHE_SECONDS"]
    key = str(db.engine.url)
    cached = _cache.get(key)
    if cached is not None and time.time() - cached.computed_at <= max_age:
        return cached
    with _lock:  # one pass at a time; a waiting caller takes the fresh result
        cached = _cache.get(key)
        if cached is not None and time.time() - cached.computed_at <= max_age:
            return cached
        backlog = _count()
        _cache[key] = backlog
        return backlog


def _count() -> Backlog:
    pending = 0
    oldest: datetime | None = None
    with db.engine.connect() as conn:
        schemas = conn.execute(sa.text("SELECT schema_name FROM public.tenants ORDER BY id")).scalars().all()
        for start in range(0, len(schemas), _CHUNK):
            union = " UNION ALL ".join(
                # status = 'pending' matches the partial index ix_outbox_events_pending.
                f"(SELECT count(*), min(created_at) FROM \"{schema}\".outbox_events WHERE status = 'pending')"
                for schema in schemas[start : start + _CHUNK]
            )
            for n_pending, first in conn.exec_driver_sql(union):
                pending += n_pending
                if first is not None and (oldest is None or first < oldest):
                    oldest = first
        now = conn.execute(sa.text("SELECT now()")).scalar_one()
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return Backlog(pending=pending, oldest_pending_age=age, computed_at=time.time())


@dataclass(frozen=True)
class Heartbeat:
    name: str
    queues: tuple[str, ...]
    age: float  # seconds since its last heartbeat


def worker_heartbeats(connection) -> list[Heartbeat]:
    """Every RQ worker registered in Redis with the age of its last heartbeat (youngest first)."""
    now = datetime.now(UTC)
    beats = []
    for worker in Worker.all(connection=connection):
        last = worker.last_heartbeat
        if last is None:
            continue
        if last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        beats.append(
            Heartbeat(worker.name, tuple(worker.queue_names()), max(0.0, (now - last).total_seconds()))
        )
    return sorted(beats, key=lambda beat: beat.age)
