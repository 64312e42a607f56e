"""The demo's partner integration: a scoped API key with a published secret, and a webhook
endpoint at the demo's own receiver (app/demo/inbox.py), so ``make run`` shows a partner's view
at once: call the API with the key, watch signed events arrive.

The key acts as the demo buyer within the scopes a buyer bot needs (search, order, pay, chat);
its secret is derived from the marketplace's slug and printed with the demo logins, like the
demo password (only its hash is stored, as for every key). The endpoint subscribes to the order,
payment and message events. Both are added once; a second run finds them.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.api_keys import KEY_PREFIX, hash_key
from app.accounts.models import ApiKey, User
from app.core.urls import platform_url
from app.demo.inbox import PATH as INBOX_PATH
from app.webhooks import services as webhook_services
from app.webhooks.models import WebhookEndpoint
from tenants.db import db

KEY_NAME = "Demo partner (buyer bot)"
KEY_SCOPES = [
    "catalog:read",
    "orders:read",
    "orders:write",
    "payments:read",
    "payments:write",
    "messaging:read",
    "messaging:write",
    "account:read",
]
ENDPOINT_DESCRIPTION = "Demo receiver: the platform host's /dev/webhook-inbox page lists what it got"
ENDPOINT_EVENTS = [
    "order.placed",
    "order.paid",
    "order.requirements_submitted",
    "order.delivered",
    "order.revision_requested",
    "order.completed",
    "order.cancelled",
    "order.refunded",
    "escrow.funded",
    "escrow.released",
    "refund.completed",
    "message.posted",
    "review.published",
]


def demo_key(slug: str) -> str:
    """The demo key's secret (published with the demo logins; a demo marketplace only)."""
    return f"{KEY_PREFIX}demo_{slug}_partner_key_2026"


def inbox_url(slug: str) -> str:
    return platform_url(f"{INBOX_PATH}/{slug}")


def seed_partners(slug: str, buyer_email: str) -> list[str]:
    """Add the demo key and endpoint of the bound tenant when missing; returns what to print."""
    lines = []
    admin = db.session.scalar(sa.select(User).where(User.email == f"admin@{slug}.test"))
    buyer = db.session.scalar(sa.select(User).where(User.email == buyer_email))
    if admin is None or buyer is None:
        return lines
    secret = demo_key(slug)
    if db.session.scalar(sa.select(ApiKey.id).where(ApiKey.key_hash == hash_key(secret))) is None:
        db.session.add(
            ApiKey(
                name=KEY_NAME,
                prefix=secret[:12],
                key_hash=hash_key(secret),
                scopes=KEY_SCOPES,
                user_id=buyer.id,
                created_by_id=admin.id,
            )
        )
    if not db.session.scalar(
        sa.select(sa.exists().where(WebhookEndpoint.description == ENDPOINT_DESCRIPTION))
    ):
        webhook_services.create_endpoint(
            admin, url=inbox_url(slug), event_types=ENDPOINT_EVENTS, description=ENDPOINT_DESCRIPTION
        )
    db.session.commit()
    lines.append(
        f"{slug}: partner API key {secret} (acts as {buyer_email}: {', '.join(KEY_SCOPES)}); "
        f"webhooks of orders, payments and messages -> {inbox_url(slug)}"
    )
    return lines
