"""Console actions on the sign-in providers: each calls the accounts rule (app/accounts/oauth.py)
and writes the audit entry in the same transaction. The client secret never reaches the audit
log (``"(changed)"`` instead).

Audit actions (target ``identity_provider``, target id the provider's name):
``identity_provider.save`` (changes: client id, enabled, secret changed) and
``identity_provider.remove``.
"""

from __future__ import annotations

from typing import Any

from app.accounts import oauth
from app.accounts.models import IdentityProvider, User
from app.console.audit import record_audit

TARGET = "identity_provider"


def save_provider(
    actor: User, provider: Any, *, client_id: Any, client_secret: Any, enabled: bool
) -> IdentityProvider:
    """Add or change the client of ``provider`` (``oauth.configure_provider``), audited."""
    row, changes = oauth.configure_provider(
        provider, client_id=client_id, client_secret=client_secret, enabled=enabled
    )
    if changes:
        state = "on" if row.enabled else "off"
        record_audit(
            actor,
            "identity_provider.save",
            TARGET,
            row.provider,
            f"Saved sign in with {oauth.label(row.provider)} (client {row.client_id}, {state})",
            changes,
        )
    return row


def remove_provider(actor: User, provider: Any) -> IdentityProvider:
    """Forget the client of ``provider`` (``oauth.remove_provider``), audited."""
    row = oauth.remove_provider(provider)
    record_audit(
        actor,
        "identity_provider.remove",
        TARGET,
        row.provider,
        f"Removed sign in with {oauth.label(row.provider)}",
        {"client_id": [row.client_id, None]},
    )
    return row
