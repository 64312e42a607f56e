"""Scrape-time metrics of the event system: values that live in PostgreSQL and Redis, computed
by the process that serves ``/metrics`` when it is scraped (``metrics.register_scrape_collector``;
registered when this module is imported, which ``app._register_domain_hooks`` does).

- ``gigforge_outbox_pending_events``, ``gigforge_outbox_oldest_pending_age_seconds``: undelivered
  outbox rows across every tenant and the age of the oldest (``backlog.outbox_backlog``, cached
  ``METRICS_SCRAPE_CACHE_SECONDS``);
- ``gigforge_rq_queue_jobs{queue,state}``: per queue the jobs waiting (``queued``) and in RQ's
  registries (``started``, ``scheduled``, ``deferred``, ``failed``), read in one Redis round trip
  without RQ's registry cleanup (a scrape changes nothing);
- ``gigforge_rq_workers``: RQ workers registered with a heartbeat;
  ``gigforge_rq_worker_heartbeat_age_seconds``: the youngest heartbeat's age, absent when there
  is no worker (alert on ``gigforge_rq_workers == 0`` or on the age being absent or high).

A collector that fails (database or Redis down) is logged and left out; the rest of the scrape
answers (``metrics.render``).
"""

from __future__ import annotations

from flask import current_app
from prometheus_client.core import GaugeMetricFamily
from rq import Queue

from app.core import metrics
from app.events.backlog import outbox_backlog, worker_heartbeats
from app.events.cli import DEFAULT_QUEUES
from app.extensions import redis_store

QUEUE_STATES = ("queued", "started", "scheduled", "deferred", "failed")
_QUEUE_SETTINGS = ("EVENT_QUEUE", "NOTIFY_EMAIL_QUEUE", "WEBHOOK_QUEUE")


def queue_names() -> list[str]:
    """The queues the workers serve: ``flask worker``'s defaults and those named in the config."""
    names = list(DEFAULT_QUEUES)
    for setting in _QUEUE_SETTINGS:
        name = current_app.config.get(setting)
        if name and name not in names:
            names.append(name)
    return names


def collect_outbox():
    backlog = outbox_backlog()
    pending = GaugeMetricFamily(
        "gigforge_outbox_pending_events", "Outbox events not yet delivered, across every tenant"
    )
    pending.add_metric([], backlog.pending)
    oldest = GaugeMetricFamily(
        "gigforge_outbox_oldest_pending_age_seconds",
        "Age of the oldest undelivered outbox event, across every tenant (0: none)",
    )
    oldest.add_metric([], backlog.oldest_pending_age)
    yield pending
    yield oldest


def collect_queues():
    connection = redis_store.client
    names = queue_names()
    with connection.pipeline(transaction=False) as pipe:
        for name in names:
            queue = Queue(name, connection=connection)
            pipe.llen(queue.key)
            for registry in (
                queue.started_job_registry,
                queue.scheduled_job_registry,
                queue.deferred_job_registry,
                queue.failed_job_registry,
            ):
                pipe.zcard(registry.key)
        counts = pipe.execute()
    family = GaugeMetricFamily(
        "gigforge_rq_queue_jobs",
        "RQ jobs by queue and state (queued; started, scheduled, deferred, failed registries)",
        labels=["queue", "state"],
    )
    for index, name in enumerate(names):
        for offset, state in enumerate(QUEUE_STATES):
            family.add_metric([name, state], counts[index * len(QUEUE_STATES) + offset])
    yield family


def collect_workers():
    beats = worker_heartbeats(redis_store.client)
    workers = GaugeMetricFamily("gigforge_rq_workers", "RQ workers registered with a heartbeat")
    workers.add_metric([], len(beats))
    yield workers
    if beats:  # no worker: no age (alert on gigforge_rq_workers == 0 or an absent age)
        age = GaugeMetricFamily(
            "gigforge_rq_worker_heartbeat_age_seconds", "Seconds since the youngest RQ worker heartbeat"
        )
        age.add_metric([], beats[0].age)
        yield age


for _collector in (collect_outbox, collect_queues, collect_workers):
    metrics.register_scrape_collector(_collector)
