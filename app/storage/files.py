"""The antivirus record of every stored file (``StoredFile``): register, scan, serve, quarantine.

``storage.save`` (the facade in ``app/storage/__init__.py``) calls ``register`` in the same
transaction as the upload's own rows (it flushes; the request or job commits):

- ``UPLOAD_SCANNER=none``: the row is ``clean`` at once, ``scanner = "none"``;
- ``UPLOAD_SCANNER=clamd``: the row is ``pending`` and, after commit, ``scan_file(tenant_id,
  file_id)`` is queued (``app/storage/tasks.py``; jobs carry ids).

``scan_stored`` is the job's body: lock the row, read the bytes, scan, then mark it ``clean``
or quarantine it (the bytes move out of the tenant's readable files, ``file.quarantined``
``{"file_id", "uploaded_by_id"}`` is published: the notifications domain tells the uploader).
A scanner that cannot answer leaves the row ``pending`` with ``attempts`` + 1 (the job retries;
the sweep re-queues what stays pending).

Who hands stored bytes to people reads them through ``open_clean`` (``/files/<token>``, the
branding logo and favicon): a key without a row, a pending or a quarantined file is not
found there (fail closed).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app, g, has_request_context

from app.core.after_commit import on_commit
from app.core.unit_of_work import execute_apart
from app.storage.backends import StorageBackend, StorageNotFound
from app.storage.models import StoredFile
from app.storage.scanning import ScannerUnavailable, get_scanner
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

PENDING_MESSAGE = "This file is being checked for viruses. Try again in a moment."
QUARANTINED_MESSAGE = "This file was blocked by the virus scanner."


class FilePending(StorageNotFound):
    """The file is still waiting for its antivirus scan."""


class FileQuarantined(StorageNotFound):
    """The antivirus blocked this file."""


def _uploader_id() -> int | None:
    """The signed-in tenant user of this request (web session or API token), else None."""
    if not has_request_context():
        return None
    user = g.get("api_user")
    if user is None:
        from flask_login import current_user

        user = current_user if getattr(current_user, "is_authenticated", False) else None
    user_id = getattr(user, "id", None)
    return user_id if isinstance(user_id, int) else None


def _normal_type(content_type: str) -> str:
    return (content_type or "").split(";")[0].strip().lower()[:127] or "application/octet-stream"


def register(key: str, data: bytes, *, namespace: str, filename: str | None, content_type: str) -> StoredFile:
    """Record the just-stored ``key`` of the bound tenant (flushes); see the module docstring."""
    scanner = current_app.config.get("UPLOAD_SCANNER", "none")
    row = StoredFile(
        key=key,
        namespace=namespace,
        filename=(filename or None) and str(filename)[:255],
        content_type=_normal_type(content_type),
        size=len(data),
        sha256=hashlib.sha256(bytes(data)).hexdigest(),
        uploaded_by_id=_uploader_id(),
        attempts=0,
    )
    if scanner == "none":
        row.status, row.scanner, row.scanned_at = "clean", "none", datetime.now(UTC)
    else:
        row.status, row.scanner = "pending", scanner
    db.session.add(row)
    db.session.flush()
    if row.status == "pending":
        from app.storage.tasks import enqueue_scan

        on_commit(enqueue_scan, current_tenant().id, row.id)
    return row


def file_for_key(key: str) -> StoredFile | None:
    return db.session.scalar(sa.select(StoredFile).where(StoredFile.key == key))


def check_clean(key: str) -> StoredFile:
    """The row of a servable file; raises StorageNotFound (no row), FilePending, FileQuarantined."""
    row = file_for_key(key)
    if row is None:
        raise StorageNotFound(key)
    if row.status == "pending":
        raise FilePending(key)
    if row.status == "quarantined":
        raise FileQuarantined(key)
    return row


def open_clean(backend: StorageBackend, key: str) -> bytes:
    """The bytes of ``key`` when the antivirus found them clean; raises StorageNotFound (or its
    subclasses FilePending / FileQuarantined) otherwise."""
    check_clean(key)
    return backend.open(key)


def forget(key: str) -> None:
    """Drop the row of a deleted file, in its own short transaction (``storage.delete`` runs
    after the commit that orphaned the file). Quarantined rows stay for the operator."""
    table = StoredFile.__table__
    execute_apart(sa.delete(table).where(table.c.key == key, table.c.status != "quarantined"))


# --- the scan ---------------------------------------------------------------------------


def scan_stored(backend: StorageBackend, file_id: int, *, now: datetime | None = None) -> str:
    """Scan one pending file of the bound tenant (the ``scan_file`` job's body; flushes).

    Returns ``clean``, ``quarantined``, ``unavailable`` (the scanner could not answer: attempts
    counted, still pending), ``missing`` (the bytes are gone: the row is dropped) or ``skipped``
    (no such row, not pending, or another worker holds it). Idempotent.
    """
    now = now or datetime.now(UTC)
    row = db.session.scalar(
        sa.select(StoredFile).where(StoredFile.id == file_id).with_for_update(skip_locked=True)
    )
    if row is None or row.status != "pending":
        return "skipped"
    try:
        data = backend.open(row.key)
    except StorageNotFound:
        db.session.delete(row)
        db.session.flush()
        return "missing"
    scanner = get_scanner()
    try:
        result = scanner.scan(data)
    except ScannerUnavailable as exc:
        row.attempts += 1
        db.session.flush()
        log.warning("file %s not scanned (attempt %s): %s", row.id, row.attempts, exc)
        return "unavailable"
    row.attempts += 1
    row.scanner = scanner.name
    row.scanned_at = now
    if result.clean:
        row.status = "clean"
        db.session.flush()
        return "clean"
    quarantine(backend, row, result.signature or "Unknown")
    return "quarantined"


def quarantine(backend: StorageBackend, row: StoredFile, signature: str) -> None:
    """Move the file's bytes out of the tenant's readable files and tell the uploader (through
    ``file.quarantined``)."""
    from app.events import publish

    backend.quarantine(row.key)
    row.status = "quarantined"
    row.signature = signature[:200]
    db.session.flush()
    publish("file.quarantined", {"file_id": row.id, "uploaded_by_id": row.uploaded_by_id})
    log.warning("file %s (%s) quarantined: %s", row.id, row.key, signature)


def pending_ids(older_than: datetime, limit: int = 500) -> list[int]:
    """Ids of the bound tenant's files pending since before ``older_than``, oldest first."""
    return list(
        db.session.scalars(
            sa.select(StoredFile.id)
            .where(StoredFile.status == "pending", StoredFile.created_at <= older_than)
            .order_by(StoredFile.id)
            .limit(limit)
        )
    )


def stale_cutoff(now: datetime) -> datetime:
    return now - timedelta(minutes=int(current_app.config.get("UPLOAD_SCAN_STALE_MINUTES", 10)))


# --- the operators' side ----------------------------------------------------------------


def quarantined_files(page: int, per_page: int = 50) -> tuple[list[StoredFile], int]:
    """One page of the bound tenant's quarantined files (newest first) and their total."""
    where = StoredFile.status == "quarantined"
    total = db.session.scalar(sa.select(sa.func.count(StoredFile.id)).where(where)) or 0
    rows = db.session.scalars(
        sa.select(StoredFile)
        .where(where)
        .order_by(StoredFile.created_at.desc(), StoredFile.id.desc())
        .limit(per_page)
        .offset((max(1, page) - 1) * per_page)
    ).all()
    return list(rows), total


def quarantined_count() -> int:
    where = StoredFile.status == "quarantined"
    return db.session.scalar(sa.select(sa.func.count(StoredFile.id)).where(where)) or 0


def get_quarantined(file_id: int) -> StoredFile | None:
    row = db.session.get(StoredFile, file_id)
    return row if row is not None and row.status == "quarantined" else None


def delete_quarantined(backend: StorageBackend, row: StoredFile) -> None:
    """Remove a quarantined file for good: its bytes (after commit) and its row (flushes)."""
    key = row.key
    db.session.delete(row)
    db.session.flush()
    on_commit(_delete_quarantined_bytes, current_tenant().id, key)


def _delete_quarantined_bytes(tenant_id: int, key: str) -> None:
    from app.storage import get_storage

    try:
        get_storage().delete_quarantined(tenant_id, key)
    except OSError:
        log.warning("could not delete quarantined file %s of tenant %s", key, tenant_id)


# --- files stored before the antivirus ----------------------------------------------------


def unregistered_keys(backend: StorageBackend) -> Iterator[str]:
    """Keys of the bound tenant's stored files that have no row yet."""
    known = set(db.session.scalars(sa.select(StoredFile.key)))
    for key in backend.stored_keys():
        if key not in known:
            yield key


def register_existing(backend: StorageBackend, key: str) -> StoredFile:
    """Register a file stored before the antivirus (uploader unknown; flushes, enqueues after
    commit when the scanner is not ``none``)."""
    from app.storage.backends import content_type_for

    data = backend.open(key)
    return register(
        key, data, namespace=key.rpartition("/")[0], filename=None, content_type=content_type_for(key)
    )
