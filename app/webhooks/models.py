"""Outbound webhooks: the operator's endpoints, the events told to them, one delivery per
(endpoint, event) and every attempt of it.

All four live in the tenant's schema: an endpoint only ever receives its own tenant's
events (a delivery's endpoint and event are foreign keys into the same schema). A
``WebhookEvent`` is rendered once, when the outbox event is fanned out, and its ``body`` is
what every endpoint and every retry receives byte for byte (the object as it was then, like
Stripe's). Rows older than ``LOG_RETENTION_DAYS`` are purged by the sweep (events cascade to
their deliveries and attempts).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

URL_MAX = 2048
DESCRIPTION_MAX = 500
ENDPOINTS_PER_TENANT = 20
LOG_RETENTION_DAYS = 30
ENDPOINT_STATUSES = ("enabled", "disabled")
# Who turned an endpoint off: the operator, or the engine after it failed for too long.
DISABLED_REASONS = ("operator", "failing")
DELIVERY_STATUSES = ("pending", "succeeded", "failed")


def _fk(table: str, ondelete: str = "CASCADE"):
    return sa.ForeignKey(f"{TENANT_SCHEMA}.{table}.id", ondelete=ondelete)


class WebhookEndpoint(TenantModel):
    """A partner's URL and the event types it receives, signed with its own secret.

    ``secret_enc`` (Fernet, like the Stripe keys) signs every delivery; after a roll the old
    secret, ``previous_secret_enc``, signs beside the new one until ``previous_secret_expires_at``.
    ``blocked_until``: after a failed attempt the endpoint's next deliveries wait (a down or slow
    endpoint costs one timeout per back-off step, not one per event). ``failing_since``: the
    first failure since the last success; the engine disables an endpoint failing for longer than
    ``WEBHOOK_DISABLE_AFTER``. ``version`` is the ETag of the API's representation.
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("status in ('enabled', 'disabled')", name="status"),
        sa.CheckConstraint(
            "disabled_reason is null or disabled_reason in ('operator', 'failing')", name="disabled_reason"
        ),
        sa.CheckConstraint("cardinality(event_types) > 0", name="event_types_present"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(URL_MAX))
    description: Mapped[str] = mapped_column(sa.String(DESCRIPTION_MAX), default="", server_default="")
    event_types: Mapped[list[str]] = mapped_column(ARRAY(sa.String(64)))
    status: Mapped[str] = mapped_column(sa.String(16), default="enabled", server_default="enabled")
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(16))
    secret_enc: Mapped[str] = mapped_column(sa.Text)
    previous_secret_enc: Mapped[str | None] = mapped_column(sa.Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    blocked_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    failing_since: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    consecutive_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    last_success_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(_fk("users", "SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    disabled_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    version: Mapped[int] = mapped_column(default=1, server_default="1")


class WebhookEvent(TenantModel):
    """One partner-visible event, rendered once: ``body`` is the JSON every endpoint receives
    (``id`` "evt_…", ``type``, ``created``, ``tenant``, ``data.object``). ``object_key``
    ("order:42") orders deliveries per object. ``outbox_event_id`` is unique: an outbox event is
    fanned out once however often it is delivered; null for the console's test pings."""

    __tablename__ = "webhook_events"
    __table_args__ = tenant_table_args(
        sa.Index("ix_webhook_events_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    outbox_event_id: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    type: Mapped[str] = mapped_column(sa.String(64))
    object_key: Mapped[str] = mapped_column(sa.String(80))
    body: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class WebhookDelivery(TenantModel):
    """One event to one endpoint, until it succeeds or its retries run out.

    ``next_attempt_at`` is when it is due: set at fan-out, pushed back by each failure along the
    back-off schedule, and pushed ahead by a sender that claims it (a lease: a sender killed
    mid-delivery leaves a row the sweep finds again, so delivery is at least once).
    ``object_key`` repeats the event's: a delivery waits while an earlier one of the same object
    to the same endpoint is still pending (events arrive in order per object).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("endpoint_id", "event_id"),
        sa.CheckConstraint("status in ('pending', 'succeeded', 'failed')", name="status"),
        sa.Index(
            "ix_webhook_deliveries_due",
            "endpoint_id",
            "next_attempt_at",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.Index(
            "ix_webhook_deliveries_object",
            "endpoint_id",
            "object_key",
            "event_id",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.Index("ix_webhook_deliveries_event", "event_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(_fk("webhook_endpoints"))
    event_id: Mapped[int] = mapped_column(sa.BigInteger, _fk("webhook_events"))
    object_key: Mapped[str] = mapped_column(sa.String(80))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    last_status_code: Mapped[int | None] = mapped_column(sa.SmallInteger)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    completed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class WebhookAttempt(TenantModel):
    """One HTTP request of a delivery and what came back (the delivery log).

    ``request_headers`` keeps the signature header as sent; the body is the event's.
    ``response_status`` is null when no answer came (refused, timed out: ``error`` says which).
    ``replay``: asked for from the console or the API, not by the schedule.
    """

    __tablename__ = "webhook_attempts"
    __table_args__ = tenant_table_args(
        sa.Index("ix_webhook_attempts_delivery", "delivery_id", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(sa.BigInteger, _fk("webhook_deliveries"))
    attempt: Mapped[int] = mapped_column(sa.SmallInteger)
    attempted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    duration_ms: Mapped[int] = mapped_column(default=0)
    request_headers: Mapped[dict] = mapped_column(JSONB, default=dict)
    response_status: Mapped[int | None] = mapped_column(sa.SmallInteger)
    response_body: Mapped[str | None] = mapped_column(sa.String(2000))
    error: Mapped[str | None] = mapped_column(sa.String(500))
    replay: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
