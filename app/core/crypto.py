"""Encryption at rest of the tenants' provider secrets (Fernet, from ``cryptography``).

The key is ``PAYMENT_SECRETS_KEY`` (a Fernet key; several, comma-separated,
rotate: the first encrypts, all decrypt). Development and tests derive one from
``SECRET_KEY``; ProductionConfig refuses to start without it.

Infrastructure rather than payments code: the settings domain stores and masks the
secrets, the payments domain uses them, and settings sits below payments.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class SecretUnavailable(RuntimeError):
    """A stored secret could not be decrypted with the configured keys."""


def _keys() -> list[bytes]:
    configured = current_app.config.get("PAYMENT_SECRETS_KEY")
    if configured:
        return [k.strip().encode() for k in configured.split(",") if k.strip()]
    digest = hashlib.sha256(b"gigforge-payment-secrets:" + current_app.config["SECRET_KEY"].encode()).digest()
    return [base64.urlsafe_b64encode(digest)]


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys()])


def encrypt_secret(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise SecretUnavailable(
            "a stored payment secret cannot be decrypted with PAYMENT_SECRETS_KEY"
        ) from exc
