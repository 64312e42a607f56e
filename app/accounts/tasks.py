"""RQ jobs of the accounts domain (IDs in, fresh rows loaded), and the worker's purge of API
key calls older than 30 days (``api-key-calls-purge``, every ``API_KEY_CALLS_PURGE_SECONDS``)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from app.accounts import api_keys
from app.core.jobs import tenant_job_context
from app.core.sweeps import enqueue_per_tenant, run_periodically, sweep_interval, tenants_with_due

# --- API key calls: kept 30 days ------------------------------------------------------------

CALLS_PURGE_SECONDS = 3600


def purge_api_key_calls(tenant_id: int, now: datetime | None = None) -> int:
    """Delete the tenant's API key calls older than 30 days (one transaction); returns how many."""
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return 0
        return api_keys.purge_calls(now)


def sweep_api_key_calls(now: datetime | None = None) -> int:
    """Enqueue ``purge_api_key_calls`` for each tenant with calls past the 30 days."""
    now = now or datetime.now(UTC)
    return enqueue_per_tenant(
        tenants_with_due("api_key_calls", "at < :cutoff", {"cutoff": now - api_keys.CALLS_KEPT}),
        purge_api_key_calls,
        name="api-key-calls-purge",
        interval=sweep_interval("API_KEY_CALLS_PURGE_SECONDS", CALLS_PURGE_SECONDS),
        now=now,
        description="purge old API key calls of tenant {tenant_id}",
        timeout=300,
    )


def run_api_key_calls_loop(app, stop: threading.Event) -> None:
    """The worker's periodic loop thread (``api-key-calls-purge``, started by ``flask worker``)."""
    interval_key = "API_KEY_CALLS_PURGE_SECONDS"
    run_periodically(app, stop, interval_key, CALLS_PURGE_SECONDS, sweep_api_key_calls, "API key call purge")
