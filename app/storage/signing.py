"""Signed, expiring file tokens: ``/files/<token>`` binds tenant id + key + expiry (and, when
given, the name the file is downloaded under)."""

from __future__ import annotations

import time
from typing import NamedTuple

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "gigforge.storage.file-url.v1"


class FileGrant(NamedTuple):
    key: str
    expires_at: int
    download_name: str | None = None


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_SALT)


def sign_file_token(tenant_id: int, key: str, expires_at: int, *, download_name: str | None = None) -> str:
    payload = [int(tenant_id), key, int(expires_at)]
    if download_name:
        payload.append(str(download_name))
    return _serializer().dumps(payload)


def read_file_token(token: str, *, tenant_id: int, now: float | None = None) -> FileGrant | None:
    """What a token grants for ``tenant_id``; None if forged, expired or another tenant's."""
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        return None
    if not (isinstance(payload, list) and len(payload) in (3, 4)):
        return None
    token_tenant, key, expires_at = payload[:3]
    download_name = payload[3] if len(payload) == 4 else None
    if not isinstance(key, str) or not isinstance(expires_at, int) or token_tenant != tenant_id:
        return None
    if download_name is not None and not isinstance(download_name, str):
        return None
    if expires_at <= (time.time() if now is None else now):
        return None
    return FileGrant(key, expires_at, download_name)
