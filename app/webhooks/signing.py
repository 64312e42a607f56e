"""Webhook signatures, the way Stripe signs: ``Gigforge-Signature: t=<unix time>,v1=<hex>``.

``v1`` is HMAC-SHA256, keyed with the endpoint's secret, over ``"<t>.<body>"`` (the body's
exact bytes). While a rolled secret overlaps, the header carries one ``v1`` per live secret;
a receiver accepts the delivery when any of them matches its secret and ``t`` is within the
tolerance of its clock (replayed old deliveries are refused). ``verify`` is what a partner's
receiver does (docs/api.md has the same in a dozen lines of plain Python); the tests and the
development receiver use it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

HEADER = "Gigforge-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105  (the prefix, not a secret)
SCHEME = "v1"
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The signature header is missing or malformed, no signature matches, or it is too old."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def compute(secret: str, timestamp: int, body: bytes) -> str:
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def header_value(secrets_: Iterable[str], timestamp: int, body: bytes) -> str:
    """The header's value signed with every secret in ``secrets_`` (the current one first)."""
    parts = [f"t={int(timestamp)}"]
    parts += [f"{SCHEME}={compute(secret, timestamp, body)}" for secret in secrets_]
    return ",".join(parts)


def parse(header: str | None) -> tuple[int, list[str]]:
    if not header or len(header) > 2000:
        raise SignatureError("No signature header.")
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("The signature header has no timestamp or no v1 signature.")
    return timestamp, signatures


def verify(
    body: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a delivery as a receiver would; returns its timestamp or raises SignatureError."""
    timestamp, signatures = parse(header)
    expected = compute(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("No signature matches the secret.")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("The signature's timestamp is outside the tolerance.")
    return timestamp
