"""Operators' webhook endpoints and their delivery log (docs/design/partners.md, "Webhooks").

Verb functions for the console's pages and API. They flush and never commit (the request's
unit of work commits); drains a change makes due are enqueued after that commit. Refusals are
``app.webhooks.errors`` (422 with field errors, 404, 409 at the endpoint limit, 412 on a stale
``expected_version``); nothing is stored then. Every function works on the bound tenant only:
an id of another marketplace's endpoint is simply not found.

Time-dependent functions take ``now`` (tests move the clock).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.core import pagination
from app.core.after_commit import on_commit
from app.core.crypto import decrypt_secret, encrypt_secret
from app.core.domain_errors import PreconditionFailed
from app.webhooks import catalogue, render, signing
from app.webhooks.errors import WebhookError, WebhookForbidden, WebhookLimit, WebhookNotFound
from app.webhooks.models import (
    DELIVERY_STATUSES,
    DESCRIPTION_MAX,
    ENDPOINTS_PER_TENANT,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from app.webhooks.urls import validate_url
from tenants.db import current_tenant, db

OVERLAP_MAX_HOURS = 168
PING = "ping"
LIST_LIMIT_MAX = 100


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _require_admin(actor: User | None) -> None:
    if actor is None or actor.role != "admin" or actor.status != "active":
        raise WebhookForbidden("Only the marketplace's admins manage webhooks.")


# --- input -------------------------------------------------------------------------------


def clean_event_types(raw) -> list[str]:
    """The subscribed names, in catalogue order (``*`` alone when given), or WebhookError."""
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]
    if not isinstance(raw, list | tuple) or not raw:
        raise WebhookError({"event_types": "Choose at least one event type (or * for all)."})
    if not all(isinstance(name, str) for name in raw):
        raise WebhookError({"event_types": "Event types are names like order.paid."})
    names = [name.strip() for name in raw]
    wrong = catalogue.unknown(names)
    if wrong:
        shown = ", ".join(w[:64] for w in wrong[:10])
        raise WebhookError(
            {"event_types": f"Unknown event types: {shown}. See GET /api/v1/webhook-event-types."}
        )
    if catalogue.ALL in names:
        return [catalogue.ALL]
    wanted = set(names)
    return [t.name for t in catalogue.CATALOGUE if t.name in wanted]


def _clean_description(raw) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise WebhookError({"description": "Text, please."})
    text = raw.strip()
    if len(text) > DESCRIPTION_MAX:
        raise WebhookError({"description": f"At most {DESCRIPTION_MAX} characters."})
    return text


def _clean_overlap(raw) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= OVERLAP_MAX_HOURS:
        raise WebhookError({"overlap_hours": f"A whole number of hours from 0 to {OVERLAP_MAX_HOURS}."})
    return raw


# --- endpoints ------------------------------------------------------------------------------


def get_endpoint(endpoint_id) -> WebhookEndpoint:
    """The bound tenant's endpoint ``endpoint_id``; WebhookNotFound otherwise."""
    if isinstance(endpoint_id, bool) or not isinstance(endpoint_id, int) or not 0 < endpoint_id < 2**31:
        raise WebhookNotFound("No such webhook endpoint.")
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookNotFound("No such webhook endpoint.")
    return endpoint


def list_endpoints() -> list[WebhookEndpoint]:
    """Every endpoint of the bound tenant, oldest first."""
    return list(db.session.scalars(sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def create_endpoint(
    actor: User, *, url, event_types, description="", enabled: bool = True, now: datetime | None = None
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its signing secret (shown once; stored encrypted).

    Raises WebhookForbidden (not an admin), WebhookError (bad URL, unknown event types, long
    description: field errors, nothing stored), WebhookLimit (already ENDPOINTS_PER_TENANT)."""
    _require_admin(actor)
    now = _now(now)
    errors: dict[str, str] = {}
    clean: dict = {}
    for field, check, value in (
        ("url", validate_url, url),
        ("event_types", clean_event_types, event_types),
        ("description", _clean_description, description),
    ):
        try:
            clean[field] = check(value)
        except WebhookError as exc:
            errors.update(exc.field_errors)
    if errors:
        raise WebhookError(errors)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint))
    if count >= ENDPOINTS_PER_TENANT:
        raise WebhookLimit(f"A marketplace has at most {ENDPOINTS_PER_TENANT} webhook endpoints.")
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        url=clean["url"],
        event_types=clean["event_types"],
        description=clean["description"],
        status="enabled" if enabled else "disabled",
        disabled_reason=None if enabled else "operator",
        disabled_at=None if enabled else now,
        secret_enc=encrypt_secret(secret),
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
        version=1,
    )
    db.session.add(endpoint)
    db.session.flush()
    return endpoint, secret


def update_endpoint(
    actor: User,
    endpoint_id,
    *,
    url=None,
    event_types=None,
    description=None,
    enabled: bool | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> WebhookEndpoint:
    """Change some fields (``None``: unchanged); bumps ``version`` when anything changed.

    Re-enabling clears the failure state (block, failing since, count) and makes the endpoint's
    pending deliveries due now. Raises WebhookForbidden, WebhookNotFound, PreconditionFailed
    (``expected_version`` is not the current one), WebhookError (field errors)."""
    _require_admin(actor)
    now = _now(now)
    endpoint = get_endpoint(endpoint_id)
    if expected_version is not None and expected_version != endpoint.version:
        raise PreconditionFailed("The endpoint changed since you read it; read it again.")
    errors: dict[str, str] = {}
    changes: dict = {}
    for field, check, value in (
        ("url", validate_url, url),
        ("event_types", clean_event_types, event_types),
        ("description", _clean_description, description),
    ):
        if value is None:
            continue
        try:
            changes[field] = check(value)
        except WebhookError as exc:
            errors.update(exc.field_errors)
    if enabled is not None and not isinstance(enabled, bool):
        errors["enabled"] = "true or false."
    if errors:
        raise WebhookError(errors)
    changed = False
    for field, value in changes.items():
        if getattr(endpoint, field) != value:
            setattr(endpoint, field, value)
            changed = True
    if enabled is True and endpoint.status != "enabled":
        endpoint.status, endpoint.disabled_reason, endpoint.disabled_at = "enabled", None, None
        _clear_failures(endpoint)
        db.session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
            .values(next_attempt_at=now)
        )
        _drain_after_commit(endpoint.id)
        changed = True
    elif enabled is False and endpoint.status != "disabled":
        endpoint.status, endpoint.disabled_reason, endpoint.disabled_at = "disabled", "operator", now
        changed = True
    if changed:
        endpoint.version += 1
        endpoint.updated_at = now
    db.session.flush()
    return endpoint


def _clear_failures(endpoint: WebhookEndpoint) -> None:
    endpoint.blocked_until = None
    endpoint.failing_since = None
    endpoint.consecutive_failures = 0


def delete_endpoint(actor: User, endpoint_id) -> WebhookEndpoint:
    """Remove an endpoint with its deliveries and attempts (events stay until purged)."""
    _require_admin(actor)
    endpoint = get_endpoint(endpoint_id)
    db.session.delete(endpoint)
    db.session.flush()
    return endpoint


def reveal_secret(actor: User, endpoint_id) -> str:
    """The current signing secret (the console's "reveal"; audited by the caller)."""
    _require_admin(actor)
    return decrypt_secret(get_endpoint(endpoint_id).secret_enc)


def roll_secret(actor: User, endpoint_id, *, overlap_hours=24, now: datetime | None = None) -> str:
    """A new secret; the old one keeps signing beside it for ``overlap_hours`` (0..168; 0 ends it
    now). Returns the new secret. Raises WebhookForbidden, WebhookNotFound, WebhookError."""
    _require_admin(actor)
    now = _now(now)
    overlap = _clean_overlap(overlap_hours)
    endpoint = get_endpoint(endpoint_id)
    secret = signing.new_secret()
    if overlap:
        endpoint.previous_secret_enc = endpoint.secret_enc
        endpoint.previous_secret_expires_at = now + timedelta(hours=overlap)
    else:
        endpoint.previous_secret_enc = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret_enc = encrypt_secret(secret)
    endpoint.version += 1
    endpoint.updated_at = now
    db.session.flush()
    return secret


def live_secrets(endpoint: WebhookEndpoint, now: datetime | None = None) -> list[str]:
    """The secrets that sign a request now: the current one, then the rolled one until it expires."""
    now = _now(now)
    secrets_ = [decrypt_secret(endpoint.secret_enc)]
    if endpoint.previous_secret_enc and (
        endpoint.previous_secret_expires_at is not None and endpoint.previous_secret_expires_at > now
    ):
        secrets_.append(decrypt_secret(endpoint.previous_secret_enc))
    return secrets_


# --- deliveries -----------------------------------------------------------------------------


@dataclass
class DeliveryRow:
    delivery: WebhookDelivery
    event: WebhookEvent
    endpoint_url: str


def _deliveries_query(endpoint_id, status: str | None, event_type: str | None):
    errors = {}
    if status is not None and status not in DELIVERY_STATUSES:
        errors["status"] = f"One of {', '.join(DELIVERY_STATUSES)}."
    if event_type is not None and event_type != PING and event_type not in catalogue.BY_NAME:
        errors["event_type"] = "Not an event type of the catalogue."
    if errors:
        raise WebhookError(errors, location="query")
    if endpoint_id is not None:
        get_endpoint(endpoint_id)
    query = (
        sa.select(WebhookDelivery, WebhookEvent, WebhookEndpoint.url)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
    )
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if event_type is not None:
        query = query.where(WebhookEvent.type == event_type)
    return query


def list_deliveries(
    endpoint_id=None,
    status: str | None = None,
    event_type: str | None = None,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[DeliveryRow]:
    """Deliveries newest first (``before_id``: the page after one ending there). Filters: an
    endpoint, a status (pending / succeeded / failed), an event type (``ping`` too)."""
    query = _deliveries_query(endpoint_id, status, event_type)
    limit = max(1, min(int(limit), LIST_LIMIT_MAX))
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    query = query.order_by(WebhookDelivery.id.desc()).limit(limit)
    return [DeliveryRow(d, e, url) for d, e, url in db.session.execute(query)]


def page_deliveries(
    endpoint_id, status: str | None, event_type: str | None, window: pagination.Window
) -> tuple[list[DeliveryRow], int]:
    """One page of ``list_deliveries`` for the API (keyset on the id, inside the created range)
    and how many are left from the cursor's position."""
    query = _deliveries_query(endpoint_id, status, event_type).where(
        *pagination.where(window, WebhookDelivery.id, created=WebhookDelivery.created_at)
    )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(WebhookDelivery.id.desc()).limit(window.page_size).offset(window.first_item)
    )
    return [DeliveryRow(d, e, url) for d, e, url in rows], total


@dataclass
class DeliveryDetail:
    delivery: WebhookDelivery
    event: WebhookEvent
    endpoint: WebhookEndpoint
    attempts: list[WebhookAttempt]

    @property
    def body_text(self) -> str:
        return render.body_bytes(self.event.body).decode("utf-8")


def get_delivery(delivery_id, endpoint_id=None) -> DeliveryDetail:
    """A delivery with its event (the body sent) and every attempt, newest first."""
    if isinstance(delivery_id, bool) or not isinstance(delivery_id, int) or not 0 < delivery_id < 2**62:
        raise WebhookNotFound("No such delivery.")
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or (endpoint_id is not None and delivery.endpoint_id != endpoint_id):
        raise WebhookNotFound("No such delivery.")
    attempts = list(
        db.session.scalars(
            sa.select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery.id)
            .order_by(WebhookAttempt.attempted_at.desc(), WebhookAttempt.id.desc())
        )
    )
    event = db.session.get(WebhookEvent, delivery.event_id)
    return DeliveryDetail(delivery, event, db.session.get(WebhookEndpoint, delivery.endpoint_id), attempts)


def replay_delivery(actor: User, delivery_id, *, now: datetime | None = None) -> WebhookDelivery:
    """Send a delivery again, whatever its status: pending and due now, the endpoint's back-off
    block lifted (the operator asks for a try now); the attempt is recorded with ``replay``.
    Raises WebhookForbidden, WebhookNotFound."""
    _require_admin(actor)
    now = _now(now)
    delivery = get_delivery(delivery_id).delivery
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    delivery.status, delivery.next_attempt_at, delivery.completed_at = "pending", now, None
    endpoint.blocked_until = None
    db.session.flush()
    from app.webhooks.delivery import mark_replay

    on_commit(mark_replay, current_tenant().id, delivery.id)
    _drain_after_commit(endpoint.id)
    return delivery


def send_test_ping(actor: User, endpoint_id, *, now: datetime | None = None) -> WebhookDelivery:
    """Send a ``ping`` event to one endpoint (not an outbox event; no other endpoint gets it),
    due now, the endpoint's block lifted. Works on a disabled endpoint too (to test it before
    enabling it). Raises WebhookForbidden, WebhookNotFound."""
    _require_admin(actor)
    now = _now(now)
    endpoint = get_endpoint(endpoint_id)
    event = WebhookEvent(type=PING, object_key=f"ping:{endpoint.id}", body={}, created_at=now)
    db.session.add(event)
    db.session.flush()
    event.body = render.event_body(
        event_id=event.id,
        type_=PING,
        created=now,
        tenant_slug=current_tenant().slug,
        obj={"object": "webhook_endpoint", "id": endpoint.id, "url": endpoint.url},
        payload={"endpoint_id": endpoint.id},
    )
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id, event_id=event.id, object_key=event.object_key, next_attempt_at=now
    )
    db.session.add(delivery)
    endpoint.blocked_until = None
    db.session.flush()
    _drain_after_commit(endpoint.id)
    return delivery


def _drain_after_commit(endpoint_id: int) -> None:
    from app.webhooks.delivery import enqueue_drain

    on_commit(enqueue_drain, current_tenant().id, endpoint_id)


# --- figures --------------------------------------------------------------------------------


def endpoint_stats(endpoint_id, now: datetime | None = None) -> list[dict]:
    """Attempts per hour over the last 24 h: ``[{"hour": datetime, "succeeded": n, "failed": n}]``,
    oldest first, 24 rows (empty hours are zeros). Succeeded: a 2xx answer."""
    now = _now(now)
    get_endpoint(endpoint_id)
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=24)
    hour = sa.func.date_trunc("hour", sa.func.timezone("UTC", WebhookAttempt.attempted_at))
    ok = sa.and_(WebhookAttempt.response_status >= 200, WebhookAttempt.response_status < 300)
    rows = db.session.execute(
        sa.select(
            hour.label("hour"),
            sa.func.count().filter(ok),
            sa.func.count().filter(sa.not_(ok) | WebhookAttempt.response_status.is_(None)),
        )
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookAttempt.attempted_at >= start,
            WebhookAttempt.attempted_at < end,
        )
        .group_by(hour)
    ).all()
    by_hour = {h.replace(tzinfo=UTC): (s, f) for h, s, f in rows}
    out = []
    for i in range(24):
        slot = start + timedelta(hours=i)
        succeeded, failed = by_hour.get(slot, (0, 0))
        out.append({"hour": slot, "succeeded": succeeded, "failed": failed})
    return out


def pending_count(endpoint_ids: Iterable[int]) -> dict[int, int]:
    """Pending deliveries per endpoint (the console's list)."""
    ids = list(endpoint_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(WebhookDelivery.endpoint_id, sa.func.count())
        .where(WebhookDelivery.endpoint_id.in_(ids), WebhookDelivery.status == "pending")
        .group_by(WebhookDelivery.endpoint_id)
    )
    return dict(rows.all())
