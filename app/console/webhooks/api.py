"""Console API of webhooks under ``/api/v1/console`` (admins):

- ``GET/POST /webhook-endpoints``: list; create (201, ``Location``; the ``secret`` only here);
- ``GET/PATCH/DELETE /webhook-endpoints/<id>``: read (``ETag``), change (``If-Match`` with the
  ETag of your last read: 412 when it changed since, 428 without), delete;
- ``POST /webhook-endpoints/<id>/roll-secret`` ``{overlap_hours}``, ``/reveal-secret``: the
  secret (only in these answers); ``/ping``: a test ping to this endpoint (201, the delivery);
- ``GET /webhook-deliveries`` (filters ``endpoint_id``, ``status``, ``event_type``; newest
  first, ``before_id`` pages), ``GET /webhook-deliveries/<id>`` (its body and attempts),
  ``POST /webhook-deliveries/<id>/replay``.

Thin: parse, call one console action (``actions.py``: the service and the audit entry),
serialize. Refusals are JSON with field errors (422), 404 for ids of other marketplaces.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask import url_for
from flask.views import MethodView

from app.console.access import ADMIN, api_console_required, console_user
from app.console.blueprints import blp
from app.console.webhooks import actions
from app.console.webhooks import schemas as s
from app.webhooks import services
from app.webhooks.models import WebhookEndpoint
from tenants.db import db

ID = "<int(max=2147483647):endpoint_id>"
DELIVERY_ID = "<int(max=4611686018427387904):delivery_id>"
LOCATION = {"Location": {"description": "The new resource's URL", "schema": {"type": "string"}}}


def _etag(endpoint: WebhookEndpoint) -> dict:
    return {"id": endpoint.id, "version": endpoint.version}


def delivery_view(delivery, event, url: str) -> SimpleNamespace:
    return SimpleNamespace(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        endpoint_url=url,
        event_id=f"evt_{event.id}",
        event_type=event.type,
        object_key=delivery.object_key,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        completed_at=delivery.completed_at,
    )


def _detail(delivery_id: int) -> SimpleNamespace:
    detail = services.get_delivery(delivery_id)
    view = delivery_view(detail.delivery, detail.event, detail.endpoint.url)
    view.body = detail.event.body
    view.attempt_log = detail.attempts
    return view


@blp.route("/webhook-endpoints", endpoint="webhook_endpoints")
class ConsoleWebhookEndpoints(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.WebhookEndpointSchema(many=True))
    @blp.paginate_list()
    def get(self):
        """The marketplace's webhook endpoints, oldest first (at most 20)."""
        return services.list_endpoints()

    @api_console_required(ADMIN)
    @blp.arguments(
        s.WebhookEndpointInputSchema,
        example={
            "url": "https://partner.example.com/hooks",
            "event_types": ["order.paid"],
            "description": "ERP",
        },
    )
    @blp.response(201, s.WebhookEndpointCreatedSchema, headers=LOCATION)
    @blp.alt_response(409, response="CONFLICT", description="The marketplace has 20 endpoints already")
    @blp.alt_response(
        422,
        response="DEFAULT_ERROR",
        description="A bad or forbidden URL (`errors.json.url`: not https, private or reserved address), "
        "unknown event types (`errors.json.event_types`)",
    )
    def post(self, body):
        """Register an endpoint. The answer carries its signing `secret`: the only time it is
        shown (reveal or roll it later). Audited as `webhook.create`."""
        endpoint, secret = actions.create_endpoint(console_user(), **body)
        db.session.flush()
        location = url_for("console_api.webhook_endpoint", endpoint_id=endpoint.id)
        view = SimpleNamespace(
            **{name: getattr(endpoint, name) for name in s.WebhookEndpointSchema().fields}, secret=secret
        )
        return view, {"Location": location}


@blp.route(f"/webhook-endpoints/{ID}", endpoint="webhook_endpoint")
class ConsoleWebhookEndpoint(MethodView):
    @api_console_required(ADMIN)
    @blp.etag
    @blp.response(200, s.WebhookEndpointSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, endpoint_id):
        """One endpoint (no secret). The `ETag` goes into `If-Match` of a PATCH."""
        endpoint = services.get_endpoint(endpoint_id)
        blp.set_etag(_etag(endpoint))
        return endpoint

    @api_console_required(ADMIN)
    @blp.etag
    @blp.arguments(s.WebhookEndpointPatchSchema, example={"event_types": ["*"], "enabled": True})
    @blp.response(200, s.WebhookEndpointSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="DEFAULT_ERROR", description="Field errors, as on create")
    def patch(self, body, endpoint_id):
        """Change some fields; `enabled: true` re-enables a disabled endpoint (its failure state is
        cleared and its waiting deliveries are sent). `If-Match` must carry the ETag of your last
        read. Audited as `webhook.update` (or `webhook.enable` / `webhook.disable`)."""
        endpoint = services.get_endpoint(endpoint_id)
        blp.check_etag(_etag(endpoint))
        endpoint = actions.update_endpoint(
            console_user(), endpoint_id, expected_version=endpoint.version, **body
        )
        blp.set_etag(_etag(endpoint))
        return endpoint

    @api_console_required(ADMIN)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, endpoint_id):
        """Delete an endpoint with its delivery log. Audited as `webhook.delete`."""
        actions.delete_endpoint(console_user(), endpoint_id)


@blp.route(f"/webhook-endpoints/{ID}/roll-secret", endpoint="webhook_roll_secret")
class ConsoleWebhookRoll(MethodView):
    @api_console_required(ADMIN)
    @blp.arguments(s.WebhookRollInputSchema, example={"overlap_hours": 24})
    @blp.response(200, s.WebhookSecretSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, body, endpoint_id):
        """A new signing secret (in this answer only). The old one keeps signing beside it for
        `overlap_hours` (default 24, at most 168; 0 retires it now). Audited."""
        secret = actions.roll_secret(console_user(), endpoint_id, overlap_hours=body["overlap_hours"])
        endpoint = services.get_endpoint(endpoint_id)
        return {"secret": secret, "previous_secret_expires_at": endpoint.previous_secret_expires_at}


@blp.route(f"/webhook-endpoints/{ID}/reveal-secret", endpoint="webhook_reveal_secret")
class ConsoleWebhookReveal(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.WebhookSecretSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, endpoint_id):
        """The current signing secret. Audited as `webhook.reveal_secret`."""
        secret = actions.reveal_secret(console_user(), endpoint_id)
        endpoint = services.get_endpoint(endpoint_id)
        return {"secret": secret, "previous_secret_expires_at": endpoint.previous_secret_expires_at}


@blp.route(f"/webhook-endpoints/{ID}/ping", endpoint="webhook_ping")
class ConsoleWebhookPing(MethodView):
    @api_console_required(ADMIN)
    @blp.response(201, s.WebhookDeliverySchema, headers=LOCATION)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, endpoint_id):
        """Send a `ping` event to this endpoint now (only to it; disabled endpoints too). The
        answer is its delivery; read it again to see the attempt. Audited as `webhook.ping`."""
        delivery = actions.send_test_ping(console_user(), endpoint_id)
        view = _detail(delivery.id)
        return view, {"Location": url_for("console_api.webhook_delivery", delivery_id=delivery.id)}


@blp.route("/webhook-deliveries", endpoint="webhook_deliveries")
class ConsoleWebhookDeliveries(MethodView):
    @api_console_required(ADMIN)
    @blp.arguments(s.WebhookDeliveryListArgs, location="query")
    @blp.response(200, s.WebhookDeliverySchema(many=True))
    @blp.paginate(page_size=50, max_page_size=100, keyset=("id",), created=True)
    @blp.alt_response(404, response="NOT_FOUND", description="No such endpoint")
    def get(self, args, pagination_parameters):
        """The delivery log, newest first (kept 30 days): filter by endpoint, status and event
        type; pages by `limit` and `cursor`."""
        rows, pagination_parameters.item_count = services.page_deliveries(
            args.get("endpoint_id"), args.get("status"), args.get("event_type"), pagination_parameters
        )
        return [delivery_view(r.delivery, r.event, r.endpoint_url) for r in rows]


@blp.route(f"/webhook-deliveries/{DELIVERY_ID}", endpoint="webhook_delivery")
class ConsoleWebhookDelivery(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.WebhookDeliveryDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, delivery_id):
        """One delivery: the body sent and every attempt (request headers, status, duration,
        the first 2,000 characters of the answer, the error)."""
        return _detail(delivery_id)


@blp.route(f"/webhook-deliveries/{DELIVERY_ID}/replay", endpoint="webhook_replay")
class ConsoleWebhookReplay(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.WebhookDeliveryDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, delivery_id):
        """Send a delivery again, whatever its status (same body; the attempt is marked
        `replay`). Audited as `webhook.replay`."""
        actions.replay_delivery(console_user(), delivery_id)
        return _detail(delivery_id)
