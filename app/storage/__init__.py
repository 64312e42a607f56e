"""File storage for tenants: ``from app.storage import storage``.

``storage`` is the configured backend (``STORAGE_BACKEND``, default "local"):
``save(data, namespace=, filename=, content_type=) -> key``, ``open(key)``,
``delete(key)``, ``exists(key)``, ``url(key, expires_in=3600, download_name=None)``.
All calls act for the bound tenant. Images are validated and re-encoded by
``app.storage.images.process_image`` before they are saved; other uploads are checked by
``app.storage.uploads.check_upload`` (types by content, sizes, clean display names).

``storage`` is the backend wrapped by ``ScannedStorage``: ``save`` also records the file's
``StoredFile`` row in the current transaction (the antivirus, ``app/storage/files.py``),
``open_clean(key)`` returns the bytes only of a file the antivirus found clean (raising
StorageNotFound otherwise: what is handed to people goes through it), and ``delete`` also
forgets the row. Every domain saves through it, so no upload escapes the scan.
"""

from __future__ import annotations

from flask import current_app
from werkzeug.local import LocalProxy

from app.storage.backends import (
    InvalidKey,
    LocalStorage,
    StorageBackend,
    StorageError,
    StorageNotFound,
    backend_class,
)

__all__ = [
    "InvalidKey",
    "LocalStorage",
    "StorageBackend",
    "StorageError",
    "ScannedStorage",
    "StorageNotFound",
    "get_storage",
    "storage",
]

_EXTENSION_KEY = "gigforge.storage"


def get_storage() -> StorageBackend:
    """The app's backend instance, created on first use from ``STORAGE_BACKEND``."""
    name = current_app.config.get("STORAGE_BACKEND", "local")
    cached = current_app.extensions.get(_EXTENSION_KEY)
    if cached is None or cached[0] != name:
        cached = (name, backend_class(name)())
        current_app.extensions[_EXTENSION_KEY] = cached
    return cached[1]


class ScannedStorage:
    """The configured backend plus the antivirus record of each file (see the module docstring);
    every other call goes to the backend unchanged."""

    def __init__(self, backend: StorageBackend):
        self.backend = backend

    def save(self, data: bytes, *, namespace: str, filename: str, content_type: str) -> str:
        from app.storage import files

        key = self.backend.save(data, namespace=namespace, filename=filename, content_type=content_type)
        files.register(key, data, namespace=namespace, filename=filename, content_type=content_type)
        return key

    def open_clean(self, key: str) -> bytes:
        from app.storage import files

        return files.open_clean(self.backend, key)

    def delete(self, key: str) -> None:
        from app.storage import files

        self.backend.delete(key)
        files.forget(key)

    def __getattr__(self, name: str):
        return getattr(self.backend, name)


def get_scanned_storage() -> ScannedStorage:
    return ScannedStorage(get_storage())


storage: StorageBackend = LocalProxy(get_scanned_storage)  # type: ignore[assignment]


def remove_tenant_files(_sender=None, *, tenant, **_kwargs) -> None:
    """tenant_dropped receiver: delete every file of the dropped tenant."""
    get_storage().delete_tenant(tenant.id)


def delete_for_tenant(tenant_id: int, key: str) -> None:
    """Delete ``key`` of tenant ``tenant_id`` (binding it when another or none is bound).

    Best effort: a file that cannot be deleted is logged, never raised, because
    callers run after the database change that orphaned it has committed.
    """
    import logging

    from tenants.db import bind_tenant, current_tenant_or_none, unbind_tenant
    from tenants.resolver import get_tenant_by_id

    tenant = current_tenant_or_none()
    token = None
    if tenant is None or tenant.id != tenant_id:
        ref = get_tenant_by_id(tenant_id)
        if ref is None:
            return
        token = bind_tenant(ref)
    try:
        storage.delete(key)
    except StorageError:
        logging.getLogger(__name__).warning("could not delete stored file %s", key)
    finally:
        if token is not None:
            unbind_tenant(token)


def delete_after_commit(key: str | None) -> None:
    """Delete the bound tenant's file ``key`` once the current transaction commits."""
    if key:
        from app.core.after_commit import on_commit
        from tenants.db import current_tenant

        on_commit(delete_for_tenant, current_tenant().id, key)
