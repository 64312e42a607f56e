"""Console actions on webhook endpoints: each calls app/webhooks/services.py and writes the audit
entry in the same transaction (the request's unit of work commits both, or neither). Secrets
never enter the log (``"(changed)"``).

Audit actions (target ``webhook_endpoint``): ``webhook.create``, ``webhook.update``,
``webhook.enable``, ``webhook.disable``, ``webhook.delete``, ``webhook.roll_secret``,
``webhook.reveal_secret``, ``webhook.ping``, ``webhook.replay`` (target id: the endpoint).
"""

from __future__ import annotations

from app.accounts.models import User
from app.console.audit import record_audit
from app.webhooks import services
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

TARGET = "webhook_endpoint"
FIELDS = ("url", "description", "event_types", "status")


def _state(endpoint: WebhookEndpoint) -> dict:
    return {field: list(v) if isinstance(v := getattr(endpoint, field), list) else v for field in FIELDS}


def create_endpoint(
    actor: User, *, url, event_types, description="", enabled=True
) -> tuple[WebhookEndpoint, str]:
    endpoint, secret = services.create_endpoint(
        actor, url=url, event_types=event_types, description=description, enabled=enabled
    )
    record_audit(
        actor,
        "webhook.create",
        TARGET,
        endpoint.id,
        f"Webhook endpoint #{endpoint.id} created for {endpoint.url}",
        {**{k: [None, v] for k, v in _state(endpoint).items()}, "secret": "(changed)"},
    )
    return endpoint, secret


def update_endpoint(actor: User, endpoint_id, *, expected_version=None, **fields) -> WebhookEndpoint:
    before = _state(services.get_endpoint(endpoint_id))
    endpoint = services.update_endpoint(actor, endpoint_id, expected_version=expected_version, **fields)
    after = _state(endpoint)
    changes = {k: [before[k], after[k]] for k in FIELDS if before[k] != after[k]}
    if changes:
        only_status = set(changes) == {"status"}
        action = (
            ("webhook.enable" if after["status"] == "enabled" else "webhook.disable")
            if only_status
            else "webhook.update"
        )
        verb = {"webhook.enable": "enabled", "webhook.disable": "disabled"}.get(action, "changed")
        record_audit(actor, action, TARGET, endpoint.id, f"Webhook endpoint #{endpoint.id} {verb}", changes)
    return endpoint


def delete_endpoint(actor: User, endpoint_id) -> None:
    endpoint = services.delete_endpoint(actor, endpoint_id)
    record_audit(
        actor,
        "webhook.delete",
        TARGET,
        endpoint.id,
        f"Webhook endpoint #{endpoint.id} deleted ({endpoint.url})",
        {k: [v, None] for k, v in _state(endpoint).items()},
    )


def roll_secret(actor: User, endpoint_id, *, overlap_hours=24) -> str:
    secret = services.roll_secret(actor, endpoint_id, overlap_hours=overlap_hours)
    record_audit(
        actor,
        "webhook.roll_secret",
        TARGET,
        endpoint_id,
        f"Signing secret of webhook endpoint #{endpoint_id} rolled ({overlap_hours} h overlap)",
        {"secret": "(changed)", "overlap_hours": overlap_hours},
    )
    return secret


def reveal_secret(actor: User, endpoint_id) -> str:
    secret = services.reveal_secret(actor, endpoint_id)
    record_audit(
        actor,
        "webhook.reveal_secret",
        TARGET,
        endpoint_id,
        f"Signing secret of webhook endpoint #{endpoint_id} revealed",
    )
    return secret


def send_test_ping(actor: User, endpoint_id) -> WebhookDelivery:
    delivery = services.send_test_ping(actor, endpoint_id)
    record_audit(
        actor, "webhook.ping", TARGET, endpoint_id, f"Test ping sent to webhook endpoint #{endpoint_id}"
    )
    return delivery


def replay_delivery(actor: User, delivery_id) -> WebhookDelivery:
    delivery = services.replay_delivery(actor, delivery_id)
    record_audit(
        actor,
        "webhook.replay",
        TARGET,
        delivery.endpoint_id,
        f"Delivery #{delivery.id} to webhook endpoint #{delivery.endpoint_id} replayed",
        {"delivery_id": delivery.id},
    )
    return delivery
