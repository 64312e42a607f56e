"""Signed, expiring file tokens: ``/files/<token>`` binds tenant id + key + expiry."""

from __future__ import annotations

import time
from typing import NamedTuple

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "gigforge.storage.file-url.v1"


class FileGrant(NamedTuple):
    key: str
    expires_at: int


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_SALT)


def sign_file_token(tenant_id: int, key: str, expires_at: int) -> str:
    return _serializer().dumps([int(tenant_id), key, int(expires_at)])


def read_file_token(token: str, *, tenant_id: int, now: float | None = None) -> FileGrant | None:
    """What a token grants for ``tenant_id``; None if forged, expired or another tenant's."""
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        return None
    if not (isinstance(payload, list) and len(payload) == 3):
        return None
    token_tenant, key, expires_at = payload
    if not isinstance(key, str) or not isinstance(expires_at, int) or token_tenant != tenant_id:
        return None
    if expires_at <= (time.time() if now is None else now):
        return None
    return FileGrant(key, expires_at)
