"""What the accounts domain does on events (registered by ``app._register_domain_hooks``)."""

from __future__ import annotations

from app.accounts.services import send_admin_invitations
from app.events import handles


@handles("tenant.created")
def invite_new_admins(event) -> None:
    """A new marketplace's password-less admin gets the set-password invitation (``seed_admin``
    published the event with the tenant; sending is idempotent: one invitation per admin)."""
    send_admin_invitations()
