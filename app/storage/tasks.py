"""The antivirus's jobs: ``scan_file(tenant_id, file_id)`` and the sweep of files left pending.

``enqueue_scan`` runs after the upload's commit and queues ``scan_file`` on the default queue
with RQ retries (``UPLOAD_SCAN_RETRY_INTERVALS``): a scanner that cannot answer makes the job
raise ``ScannerUnavailable`` once the attempt is counted, and RQ runs it again later. Redis
failing at the enqueue is logged: the sweep finds the file.

``sweep()`` runs in the worker's periodic loop (``upload-scan-sweep``, every
``UPLOAD_SCAN_SWEEP_SECONDS``): one read-only ``UNION ALL`` over the tenant schemas finds the
tenants with files pending for more than ``UPLOAD_SCAN_STALE_MINUTES``
(``app.core.sweeps.tenants_with_due``) and enqueues ``rescan_pending`` for each under a job id
per tenant and time slot; that job queues ``scan_file`` again for each such file. The scan locks
its row (``FOR UPDATE SKIP LOCKED``) and acts only on a pending file, so duplicates are harmless.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import redis
from flask import current_app
from rq import Retry

from app.core.jobs import tenant_job_context
from app.core.sweeps import enqueue_per_tenant, run_periodically, sweep_interval, tenants_with_due
from app.extensions import get_queue
from app.storage import files, get_storage
from app.storage.scanning import ScannerUnavailable

log = logging.getLogger(__name__)

QUEUE = "default"
DUE = "status = 'pending' AND created_at <= :cutoff"


def enqueue_scan(tenant_id: int, file_id: int) -> None:
    """Queue the scan of one file (with retries). After commit: a Redis failure is logged and
    left to the sweep."""
    intervals = current_app.config["UPLOAD_SCAN_RETRY_INTERVALS"]
    try:
        get_queue(QUEUE).enqueue(
            scan_file,
            tenant_id,
            file_id,
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            job_timeout=300,
            result_ttl=600,
            description=f"antivirus scan of file {file_id} of tenant {tenant_id}",
        )
    except redis.RedisError as exc:
        log.warning(
            "scan of file %s of tenant %s not queued (%s): left to the sweep",
            file_id,
            tenant_id,
            exc,
        )


def scan_file(tenant_id: int, file_id: int, now: datetime | None = None) -> str:
    """Scan one stored file (``files.scan_stored``). Raises ScannerUnavailable after counting the
    attempt (committed), so RQ retries."""
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return "skipped"
        outcome = files.scan_stored(get_storage(), file_id, now=now)
    if outcome == "unavailable":
        raise ScannerUnavailable(f"file {file_id} of tenant {tenant_id}: scanner unavailable, retrying")
    return outcome


def rescan_pending(tenant_id: int, now: datetime | None = None) -> int:
    """Queue ``scan_file`` again for each file of the tenant pending too long; returns how many."""
    now = now or datetime.now(UTC)
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return 0
        ids = files.pending_ids(files.stale_cutoff(now))
    for file_id in ids:
        enqueue_scan(tenant_id, file_id)
    return len(ids)


def sweep(now: datetime | None = None) -> int:
    """Enqueue ``rescan_pending`` for each tenant with files pending too long; returns how many."""
    now = now or datetime.now(UTC)
    return enqueue_per_tenant(
        tenants_with_due("stored_files", DUE, {"cutoff": files.stale_cutoff(now)}),
        rescan_pending,
        name="upload-scan-sweep",
        interval=sweep_interval("UPLOAD_SCAN_SWEEP_SECONDS", 300),
        now=now,
        description="pending antivirus scans of tenant {tenant_id}",
        timeout=300,
    )


def run_sweep_loop(app, stop: threading.Event) -> None:
    """The worker's periodic loop thread (started by ``flask worker``)."""
    run_periodically(app, stop, "UPLOAD_SCAN_SWEEP_SECONDS", 300, sweep, "upload scan sweep")
