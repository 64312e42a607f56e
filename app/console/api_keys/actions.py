"""Console actions on API keys: each calls the accounts rule (``app.accounts.api_keys``) and writes
the audit entry in the same transaction (the request's unit of work commits both, or rolls both
back on a refusal). The secret never reaches the audit log.

Audit actions (target ``api_key``, target id the key): ``api_key.create`` (changes: name, prefix,
scopes, acting member, expiry) and ``api_key.revoke`` (no entry when it was revoked already).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.accounts import api_keys
from app.accounts.models import ApiKey, User
from app.console.audit import record_audit
from tenants.db import db

TARGET = "api_key"


def create_key(
    actor: User, *, name: Any, scopes: Any, user_handle: Any = None, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Make a key (``api_keys.create_key``); returns ``(key, secret)``, audited as ``api_key.create``."""
    key, secret = api_keys.create_key(
        actor, name=name, scopes=scopes, user_handle=user_handle, expires_at=expires_at
    )
    member = db.session.get(User, key.user_id)
    record_audit(
        actor,
        "api_key.create",
        TARGET,
        key.id,
        f"Created API key “{key.name}” ({key.prefix}…) acting as {member.display_name}, "
        f"scopes {', '.join(key.scopes)}",
        {
            "name": key.name,
            "prefix": key.prefix,
            "scopes": list(key.scopes),
            "user_id": key.user_id,
            "expires_at": key.expires_at,
        },
    )
    return key, secret


def revoke_key(actor: User, key_id: Any) -> ApiKey:
    """Revoke a key at once (``api_keys.revoke_key``), audited as ``api_key.revoke``."""
    key, changed = api_keys.revoke_key(actor, key_id)
    if changed:
        record_audit(
            actor,
            "api_key.revoke",
            TARGET,
            key.id,
            f"Revoked API key “{key.name}” ({key.prefix}…)",
            {"revoked_at": [None, key.revoked_at]},
        )
    return key


def describe(keys: list[ApiKey]) -> list[dict]:
    """The keys as the list page and the API show them: the row, its status, the acting member
    and the creator (one query for the members)."""
    members = api_keys.users_by_id([k.user_id for k in keys] + [k.created_by_id for k in keys])
    return [
        {
            "id": key.id,
            "name": key.name,
            "prefix": key.prefix,
            "scopes": list(key.scopes),
            "status": api_keys.key_status(key),
            "acts_as": members.get(key.user_id),
            "created_by": members.get(key.created_by_id),
            "created_at": key.created_at,
            "expires_at": key.expires_at,
            "revoked_at": key.revoked_at,
            "last_used_at": key.last_used_at,
            "last_used_ip": key.last_used_ip,
        }
        for key in keys
    ]
