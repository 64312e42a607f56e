"""RQ jobs and the worker's loop of the webhooks (the engine is ``delivery.py``)."""

from __future__ import annotations

import threading

from flask import Flask

from app.core.jobs import app_job_context
from app.core.sweeps import run_periodically
from app.webhooks import delivery


def drain_tenant(tenant_id: int) -> str:
    """Send the due deliveries of every endpoint of one tenant (queue ``webhooks``); idempotent,
    any number of times."""
    with app_job_context():
        result = delivery.drain_tenant(tenant_id)
    if result is None:
        return "tenant gone"
    return f"sent {result.sent} ({result.succeeded} ok, {result.failed} failed): {result.reason}"


def drain_endpoint(tenant_id: int, endpoint_id: int) -> str:
    """Send one endpoint's due deliveries (jobs queued before drains were per tenant)."""
    with app_job_context():
        result = delivery.run_drain(tenant_id, endpoint_id)
    if result is None:
        return "tenant gone"
    return f"sent {result.sent} ({result.succeeded} ok, {result.failed} failed): {result.reason}"


def sweep() -> int:
    return delivery.sweep()


def run_sweep_loop(app: Flask, stop: threading.Event) -> None:
    """``flask worker``'s thread: drains of endpoints with due deliveries, and the purge."""
    run_periodically(app, stop, "WEBHOOK_SWEEP_SECONDS", 30, sweep, "webhooks sweep")
