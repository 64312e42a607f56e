"""``GET /api/v1/webhook-event-types``: the catalogue of event types partners may subscribe to
(public: it is documentation). Endpoints are managed in the console API."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields

from app.core.api import Blueprint
from app.core.schema import Schema
from app.webhooks.catalogue import CATALOGUE

blp = Blueprint(
    "webhooks_api",
    __name__,
    url_prefix="/api/v1",
    description="Outbound webhooks: the event types (docs/webhooks.md). Endpoints are registered in "
    "the console (`/api/v1/console/webhook-endpoints`).",
)


class WebhookEventTypeSchema(Schema):
    name = fields.Str(metadata={"example": "order.paid"})
    object = fields.Str(metadata={"example": "order", "description": "The kind of `data.object`"})
    description = fields.Str()


@blp.route("/webhook-event-types")
class WebhookEventTypes(MethodView):
    @blp.response(200, WebhookEventTypeSchema(many=True))
    @blp.paginate_list()
    @blp.doc(security=[])
    def get(self):
        """Every event type an endpoint may subscribe to, with the object its body carries.
        Subscribe to `*` for all of them (today's and tomorrow's)."""
        return list(CATALOGUE)
