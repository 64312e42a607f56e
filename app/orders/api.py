"""Orders and offers REST API (``/api/v1/orders``, ``/api/v1/offers``).

Thin: parse with a schema, call one service, serialize; the request's unit of
work commits (``app.core.unit_of_work``), and a refusal (an ``OrderError``, a
``DomainError``) is answered by the central error handler and rolled back. Every
mutating call honours an ``Idempotency-Key`` header (``app/core/idempotency``):
the same key and body replay the first answer; another body with the key is
refused (422). Refusals carry their status: 403 the other side's step, 404
unknown (or not yours), 409 the step is not allowed in the order's current
status — the message names it and ``errors.current_status`` carries it — and
422 field errors in smorest's shape ``{"errors": {"json": {field: [message]}}}``.
"""

from __future__ import annotations

from flask import g, request
from flask.views import MethodView
from flask_smorest import abort

from app.accounts import tokens
from app.core.api import Blueprint
from app.core.http import LOCATION, created
from app.core.idempotency import HEADER, idempotent
from app.orders import milestones, schemas, services

blp = Blueprint(
    "orders_api",
    __name__,
    url_prefix="/api/v1",
    description="Orders (gig orders and accepted custom offers) and custom offers. Amounts are "
    "integer minor units. Mutating calls accept an `Idempotency-Key` header.",
)


def auth_required(view):
    view = blp.alt_response(401, response="UNAUTHORIZED")(view)
    view = blp.doc(security=[{"bearerAuth": []}])(view)
    return tokens.token_auth_required(view)


def money_view(view):
    """Authenticated, idempotent by key, with the refusals documented. The views raise their
    refusals, so they need no view savepoint (``idempotent(savepoint=False)``)."""
    view = idempotent(view, savepoint=False)
    view = blp.doc(
        parameters=[
            {
                "in": "header",
                "name": HEADER,
                "schema": {"type": "string"},
                "required": False,
                "description": "Retry-safe key: the same key and body replay the first answer.",
            }
        ]
    )(view)
    for code, description in (
        (403, "The other side's step"),
        (404, "No such order (or not yours)"),
        (409, "Not allowed in the current status (named in the message and errors.current_status)"),
        (422, "Invalid fields"),
    ):
        view = blp.alt_response(code, response="DEFAULT_ERROR", description=description)(view)
    return auth_required(view)


def _order(order_id):
    return services.get_order(g.api_user, order_id)


ORDER_ID = "/orders/<int(max=9223372036854775807):order_id>"


@blp.route("/orders")
class Orders(MethodView):
    @auth_required
    @blp.arguments(schemas.OrderListArgs, location="query")
    @blp.response(200, schemas.OrderSchema(many=True))
    @blp.paginate(keyset=("id",), created=True)
    def get(self, args, pagination_parameters):
        """Your orders as buyer (default) or seller (`role=seller`), newest first.

        Filter by `status` (e.g. `delivered`) or by `tab` (`active`, `completed`,
        `cancelled`). Paginated: `page`, `page_size`; the total is in `X-Pagination`.
        """
        orders, total = services.list_orders(
            g.api_user,
            role=args["role"],
            tab=args.get("tab"),
            status=args.get("status"),
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
            window=pagination_parameters,
        )
        pagination_parameters.item_count = total
        return orders

    @money_view
    @blp.arguments(
        schemas.PlaceOrderSchema,
        example={
            "gig_id": 3,
            "tier": "standard",
            "extras": [5],
            "quantity": 1,
            "total_minor": 15000,
            "currency": "USD",
        },
    )
    @blp.response(201, schemas.OrderSchema, headers=LOCATION)
    def post(self, body):
        """Order a gig package with extras and quantity.

        The price is computed by the marketplace: (package + extras) x quantity.
        Send `total_minor` / `currency` as shown to the buyer and a mismatch is
        refused (422, `amount_mismatch`) instead of charging another amount. The
        order starts `awaiting_payment`; `checkout_url` is where the buyer pays.
        Refused: your own gig, a paused gig, an unknown package or extra (422).
        """
        order = services.place_order(
            g.api_user,
            body["gig_id"],
            body["tier"],
            body.get("extras", []),
            body.get("quantity", 1),
            expected_total_minor=body.get("total_minor"),
            expected_currency=body.get("currency"),
        )
        order.checkout_url = services.checkout_url(order)
        return created(order, "orders_api.OrderResource", order_id=order.id)


@blp.route(ORDER_ID)
class OrderResource(MethodView):
    @auth_required
    @blp.response(200, schemas.OrderDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, order_id):
        """An order you take part in, with its milestones, money, timeline, deliveries
        and cancellation requests."""
        return _order(order_id)


def _step(path: str, name: str, schema, example: dict | None, doc: str, call):
    class Step(MethodView):
        @money_view
        @blp.arguments(schema, example=example)
        @blp.response(200, schemas.OrderDetailSchema)
        def post(self, body, order_id):
            _kept = call(g.api_user, order_id, body)
            # ``_kept`` keeps the step's result referenced until the answer is built: the
            # session holds rows weakly, and the order it locked is then read from the
            # identity map instead of again from the database.
            return services.get_order(g.api_user, order_id)

    Step.post.__doc__ = doc
    Step.__name__ = f"Order{name.title().replace('_', '')}"
    blp.route(f"{ORDER_ID}/{path}", endpoint=f"order_{name}")(Step)


_step(
    "requirements",
    "requirements",
    schemas.RequirementsSchema,
    {"requirements": "Colours: navy and gold."},
    "The buyer submits the requirements: the work starts and the due date is set.",
    lambda user, oid, body: services.submit_requirements(user, oid, body["requirements"]),
)
_step(
    "revision",
    "revision",
    schemas.RevisionSchema,
    {"reason": "Please make the text larger."},
    "The buyer asks for a revision of the delivery (while revisions are left).",
    lambda user, oid, body: services.request_revision(user, oid, body["reason"]),
)


class _Empty(schemas.Schema):
    pass


_step(
    "complete",
    "complete",
    _Empty,
    {},
    "The buyer accepts the delivery: escrow is released to the seller minus commission.",
    lambda user, oid, body: services.complete(user, oid),
)
_step(
    "cancellation",
    "cancellation",
    schemas.CancellationInputSchema,
    {"reason": "I no longer need it.", "refund_minor": 3000},
    "Ask to cancel. `refund_minor` is the buyer's share of the escrow (default: all); the rest "
    "goes to the seller. An unpaid order is cancelled at once; otherwise the other side "
    "answers, or the request is accepted automatically after the marketplace's delay.",
    lambda user, oid, body: services.request_cancellation(
        user, oid, body["reason"], body.get("refund_minor")
    ),
)
_step(
    "cancellation/respond",
    "cancellation_respond",
    schemas.RespondSchema,
    {"accept": True},
    "Accept or decline the other side's cancellation request (`accept: false` by the "
    "requester withdraws it). Accepting refunds and releases the agreed split.",
    lambda user, oid, body: services.respond_cancellation(user, oid, body["accept"]),
)


# --------------------------------------------------------------------------- milestones
# An order worked milestone by milestone (a custom offer with several milestones; job
# contracts later): each milestone is funded, submitted, accepted (released) on its own.
# 409 names the milestone's current state in ``errors.current_status``.

MILESTONE_ID = f"{ORDER_ID}/milestones/<int(max=9223372036854775807):milestone_id>"


def _milestone_step(path: str, name: str, schema, example: dict, doc: str, call):
    class Step(MethodView):
        @money_view
        @blp.arguments(schema, example=example)
        @blp.response(200, schemas.MilestoneSchema)
        def post(self, body, order_id, milestone_id):
            return call(g.api_user, order_id, milestone_id, body)

    Step.post.__doc__ = doc
    Step.__name__ = f"Milestone{name.title().replace('_', '')}"
    blp.route(f"{MILESTONE_ID}/{path}", endpoint=f"milestone_{name}")(Step)


_milestone_step(
    "fund",
    "fund",
    _Empty,
    {},
    "The buyer funds a milestone (the next one, or one further ahead): `checkout_url` is where "
    "the buyer pays its amount with the marketplace's provider; the milestone is `funded` once "
    "the provider confirms (`escrow.funded`, `milestone.funded`). 409 when it is already funded.",
    lambda user, oid, mid, body: milestones.fund_milestone(user, oid, mid),
)
_milestone_step(
    "submit",
    "submit",
    schemas.SubmitMilestoneSchema,
    {"message": "Logo in three variants.", "links": ["https://example.com/logo"]},
    "The seller submits a funded milestone's work (or resubmits after changes were requested). "
    "Unanswered, it is accepted and released after the marketplace's `milestone_auto_release_days`.",
    lambda user, oid, mid, body: milestones.submit_milestone(
        user, oid, mid, body["message"], body.get("links"), dod_done=body.get("dod_done")
    ),
)
_milestone_step(
    "accept",
    "accept",
    _Empty,
    {},
    "The buyer accepts a submitted milestone: its escrow is released to the seller minus "
    "commission and it is `paid`; the last one paid completes the order. 409 when not submitted.",
    lambda user, oid, mid, body: milestones.accept_milestone(user, oid, mid),
)
_milestone_step(
    "request-changes",
    "request_changes",
    schemas.ChangesSchema,
    {"feedback": "Please try a darker blue."},
    "The buyer sends a submitted milestone back with feedback (`changes_requested`); the seller resubmits.",
    lambda user, oid, mid, body: milestones.request_changes(user, oid, mid, body["feedback"]),
)


# Operators cancel and refund in the console (POST /api/v1/console/orders/<id>/cancel), audited.


@blp.route(f"{ORDER_ID}/deliveries")
class Deliveries(MethodView):
    @auth_required
    @blp.response(200, schemas.DeliverySchema(many=True))
    @blp.paginate_list()
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, order_id):
        """The order's deliveries, oldest first, with signed file URLs (24 hours)."""
        return services.deliveries(_order(order_id))

    @money_view
    @blp.doc(
        requestBody={
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "message": {"type": "string"},
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        },
                        "required": ["message"],
                    }
                },
                "application/json": {
                    "schema": {"type": "object", "properties": {"message": {"type": "string"}}},
                    "example": {"message": "Here are the three concepts."},
                },
            }
        }
    )
    @blp.response(201, schemas.DeliverySchema, headers=LOCATION)
    def post(self, order_id):
        """The seller delivers: a message and up to 5 files (multipart `files`), or JSON
        with a message only. The order becomes `delivered`."""
        if request.mimetype == "multipart/form-data":
            message = request.form.get("message")
            files = [
                services.DeliveryFile(f.filename or "file", f.mimetype or "", f.read())
                for f in request.files.getlist("files")
                if f.filename
            ]
        else:
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                abort(422, message='Send JSON {"message": ...} or a multipart form.')
            message, files = body.get("message"), []
        delivery = services.deliver(g.api_user, order_id, message, files)
        # A delivery has no URL of its own: the order's deliveries list it.
        return created(delivery, "orders_api.Deliveries", order_id=order_id)


# --- offers ---------------------------------------------------------------------------


@blp.route("/offers")
class Offers(MethodView):
    @money_view
    @blp.arguments(
        schemas.OfferInputSchema,
        example={
            "conversation_id": 4,
            "title": "Full brand kit",
            "description": "Logo, business cards and a style guide",
            "total_minor": 30000,
            "delivery_days": 10,
            "revisions": 2,
            "milestones": [
                {"title": "Logo", "amount_minor": 10000},
                {"title": "Cards and guide", "amount_minor": 20000},
            ],
        },
    )
    @blp.response(201, schemas.OfferSchema, headers=LOCATION)
    def post(self, body):
        """A seller sends a custom offer to the other person of a direct conversation.

        Up to 3 milestones summing to `total_minor` (default: one for the total).
        """
        offer = services.send_offer(g.api_user, body.pop("conversation_id"), body)
        return created(offer, "orders_api.OfferResource", offer_id=offer.id)


@blp.route("/offers/<int(max=9223372036854775807):offer_id>")
class OfferResource(MethodView):
    @auth_required
    @blp.response(200, schemas.OfferSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, offer_id):
        """An offer you sent or received."""
        return services.get_offer(g.api_user, offer_id)


@blp.route("/offers/<int(max=9223372036854775807):offer_id>/accept")
class OfferAccept(MethodView):
    @money_view
    @blp.response(201, schemas.OrderSchema, headers=LOCATION)
    def post(self, offer_id):
        """The buyer accepts an open offer: an order awaiting payment (`checkout_url` to pay)."""
        order = services.accept_offer(g.api_user, offer_id)
        order.checkout_url = services.checkout_url(order)
        return created(order, "orders_api.OrderResource", order_id=order.id)


def _offer_step(action: str, call, doc: str):
    class Step(MethodView):
        @money_view
        @blp.response(200, schemas.OfferSchema)
        def post(self, offer_id):
            return call(g.api_user, offer_id)

    Step.post.__doc__ = doc
    Step.__name__ = f"Offer{action.title()}"
    blp.route(f"/offers/<int(max=9223372036854775807):offer_id>/{action}", endpoint=f"offer_{action}")(Step)


_offer_step("decline", services.decline_offer, "The buyer declines an open offer.")
_offer_step("withdraw", services.withdraw_offer, "The seller withdraws an open offer.")
