"""The event system's readiness checks (``/readyz``, ``flask doctor``), registered on import
(``app._register_domain_hooks`` imports this module; ``app.core`` cannot import ``app.events``).

Both are non-critical: when the worker is down or the outbox backs up, every web node is
equally affected, and taking them out of the load balancer would turn a delay into an outage.
``/readyz`` reports them (status ``degraded``, still 200); the alerts page someone.
"""

from __future__ import annotations

from flask import current_app

from app.core.health import FAIL, OK, probe_redis, register_check
from app.events.backlog import outbox_backlog, worker_heartbeats


def check_worker() -> dict:
    """An RQ worker's heartbeat is younger than ``READY_WORKER_HEARTBEAT_SECONDS``."""
    limit = current_app.config["READY_WORKER_HEARTBEAT_SECONDS"]
    beats = worker_heartbeats(probe_redis())
    if not beats:
        return {"status": FAIL, "workers": 0, "reason": "no worker registered"}
    youngest = beats[0].age
    return {
        "status": OK if youngest <= limit else FAIL,
        "workers": len(beats),
        "youngest_heartbeat_age_seconds": round(youngest, 1),
        "max_heartbeat_age_seconds": limit,
    }


def check_outbox() -> dict:
    """Undelivered events across all tenants (cached ``METRICS_SCRAPE_CACHE_SECONDS``): at most
    ``READY_OUTBOX_MAX_PENDING``, the oldest at most ``READY_OUTBOX_MAX_AGE_SECONDS`` old."""
    config = current_app.config
    max_pending = config["READY_OUTBOX_MAX_PENDING"]
    max_age = config["READY_OUTBOX_MAX_AGE_SECONDS"]
    backlog = outbox_backlog()
    healthy = backlog.pending <= max_pending and backlog.oldest_pending_age <= max_age
    return {
        "status": OK if healthy else FAIL,
        "pending": backlog.pending,
        "oldest_age_seconds": round(backlog.oldest_pending_age, 1),
        "max_pending": max_pending,
        "max_age_seconds": max_age,
    }


register_check("worker", check_worker, critical=False)
register_check("outbox", check_outbox, critical=False)
