"""Signed, expiring file tokens: ``/files/<token>`` binds tenant id + key + expiry (and, when
given, the name the file is downloaded under).

Expiries are rounded up to a step (``url_expiry``), so a file's URL stays the same from page to
page for a while: the browser keeps the file it fetched (``/files`` answers ``Cache-Control:
private, max-age=<until expiry>``) instead of fetching it again under a new token each second,
and the token of a (secret, tenant, key, expiry, name) is signed once per process (an LRU)."""

from __future__ import annotations

import functools
import time
from typing import NamedTuple

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "gigforge.storage.file-url.v1"


class FileGrant(NamedTuple):
    key: str
    expires_at: int
    download_name: str | None = None


STABLE_URL_SECONDS = 900  # the longest step an expiry is rounded up by


def url_expiry(now: float, expires_in: int) -> int:
    """When a URL asked for at ``now`` for ``expires_in`` seconds expires: ``now + expires_in``
    rounded up to a step of a quarter of the lifetime, at most ``STABLE_URL_SECONDS`` (at least
    one second). Every URL of a file asked for within one step is the same, and none lives
    less than asked nor more than 1.25 times as long."""
    step = max(1, min(STABLE_URL_SECONDS, int(expires_in) // 4))
    return -(-(int(now) + int(expires_in)) // step) * step


@functools.cache
def _serializer_for(secret_key: str | bytes) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=_SALT)


def _serializer() -> URLSafeSerializer:
    return _serializer_for(current_app.secret_key)


def sign_file_token(tenant_id: int, key: str, expires_at: int, *, download_name: str | None = None) -> str:
    return _signed(current_app.secret_key, int(tenant_id), key, int(expires_at), download_name or None)


@functools.lru_cache(maxsize=4096)
def _signed(
    secret_key: str | bytes, tenant_id: int, key: str, expires_at: int, download_name: str | None
) -> str:
    """The token of these values (pages ask for the same images' URLs again and again within an
    expiry step); the secret is part of the key, so a new secret signs anew."""
    payload = [tenant_id, key, expires_at]
    if download_name:
        payload.append(str(download_name))
    return _serializer_for(secret_key).dumps(payload)


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
