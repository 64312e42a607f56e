"""Claiming overdue rows across every tenant schema: what a sweep re-enqueues after Redis lost it.

Anything that must happen later is recorded in PostgreSQL with the time it is due (an outbox
event's ``next_attempt_at``, a notification batch's ``email_due_at``, a queued email's
``next_attempt_at``); Redis only carries the job that normally does it. A sweep in the worker
(``flask worker``'s periodic loops) finds the rows whose time has passed, claims them by
pushing that time forward in the same statement (``FOR UPDATE SKIP LOCKED``: two sweeps never
claim one row, and a row a job is working on is left alone), and enqueues their jobs again.
The jobs are idempotent, so a job that was only late, not lost, and the sweep's copy send
nothing twice.

``claim_due`` does the cross-tenant part once: a few ``UNION ALL`` counts over the tenant
schemas (chunks of ``CHUNK``), then one short claiming transaction per tenant with due rows.
It runs on its own connections, outside any tenant binding.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.core.jobs import app_job_context, enqueue_once
from app.extensions import get_queue
from tenants.db import db

log = logging.getLogger(__name__)

CHUNK = 200  # tenant schemas per UNION ALL


def _tenant_schemas() -> list[tuple[int, str]]:
    with db.engine.connect() as conn:
        return [
            (tid, schema)
            for tid, schema in conn.execute(
                sa.text("SELECT id, schema_name FROM public.tenants WHERE status = 'active' ORDER BY id")
            )
        ]


def _due_schemas(table: str, due: str, params: Mapping[str, Any]) -> Iterator[tuple[int, str]]:
    """``(tenant_id, schema)`` of each active tenant with a row of ``table`` matching ``due``."""
    tenants = _tenant_schemas()
    for start in range(0, len(tenants), CHUNK):
        chunk = tenants[start : start + CHUNK]
        union = " UNION ALL ".join(
            f'(SELECT {int(tid)} AS tenant_id, EXISTS (SELECT 1 FROM "{schema}".{table} WHERE {due}) AS due)'
            for tid, schema in chunk
        )
        with db.engine.connect() as conn:
            due_tenants = [tid for tid, is_due in conn.execute(sa.text(union), dict(params)) if is_due]
        schemas = dict(chunk)
        for tenant_id in due_tenants:
            yield tenant_id, schemas[tenant_id]


def tenants_with_due(table: str, due: str, params: Mapping[str, Any]) -> list[int]:
    """Ids of the active tenants with a row of ``table`` matching ``due`` (read-only: for work
    whose job decides row by row under a lock, so nothing needs claiming here)."""
    return [tenant_id for tenant_id, _schema in _due_schemas(table, due, params)]


def claim_due(
    table: str, due: str, claim: str, returning: str, params: Mapping[str, Any], *, limit: int = 500
) -> Iterator[tuple[int, list[tuple]]]:
    """Yield ``(tenant_id, rows)`` for each active tenant with rows of ``table`` due now.

    ``due`` is the SQL condition of a due row (e.g. ``status = 'queued' AND next_attempt_at <=
    :now``), ``claim`` the SET clause that claims it (e.g. ``next_attempt_at = :later``),
    ``returning`` the columns yielded per claimed row; ``params`` are bound in both. At most
    ``limit`` rows per tenant and pass, oldest ids first. Each tenant's claim is committed
    before its rows are yielded, so an enqueue that fails leaves them for the next pass after
    the claim's delay.
    """
    for tenant_id, schema in _due_schemas(table, due, params):
        with db.engine.begin() as conn:
            rows = conn.execute(
                sa.text(
                    f'UPDATE "{schema}".{table} SET {claim} WHERE id IN ('
                    f'SELECT id FROM "{schema}".{table} WHERE {due} ORDER BY id '
                    f"LIMIT {int(limit)} FOR UPDATE SKIP LOCKED) RETURNING {returning}"
                ),
                dict(params),
            ).all()
        if rows:
            yield tenant_id, [tuple(row) for row in rows]


def sweep_interval(config_key: str, default: int) -> int:
    """A sweep's period in seconds (config ``config_key``), at least 1."""
    return max(1, int(current_app.config.get(config_key, default)))


def enqueue_per_tenant(
    tenant_ids: Iterable[int],
    job: Callable,
    *,
    name: str,
    interval: int,
    now: datetime,
    description: str,
    timeout: int = 600,
) -> int:
    """Enqueue ``job(tenant_id)`` for each tenant under the job id ``<name>-t<tenant>-<slot>``
    (``slot``: the sweep's time slot), so several workers sweeping at once queue it once;
    returns how many were queued. ``description`` names the job (``{tenant_id}`` filled in)."""
    slot = int(now.timestamp()) // interval
    count = 0
    with app_job_context():
        queue = get_queue("default")
        for tenant_id in tenant_ids:
            count += enqueue_once(
                queue,
                job,
                tenant_id,
                job_id=f"{name}-t{tenant_id}-{slot}",
                job_timeout=timeout,
                result_ttl=interval * 2,
                description=description.format(tenant_id=tenant_id),
            )
    return count


def run_periodically(
    app, stop: threading.Event, config_key: str, default: int, sweep: Callable, name: str
) -> None:
    """A worker's periodic loop thread (started by ``flask worker``): ``sweep()`` every
    ``config_key`` seconds in an app context until ``stop`` is set; a failure is logged and the
    loop goes on."""
    interval = app.config.get(config_key, default)
    while not stop.wait(interval):
        try:
            with app.app_context():
                sweep()
        except Exception:
            log.exception("%s failed", name)
