"""Marshmallow schemas of the orders API.

Request schemas check shapes and types (strict integers: an amount of ``"10"``
or ``10.5`` is refused); the rules are the services'. Money is integer minor
units with the order's currency.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.core.schema import Schema
from app.orders import services
from app.orders.models import MAX_OFFER_MILESTONES

MINOR = {"description": "Integer minor units (cents) of the currency."}


class MilestoneSchema(Schema):
    id = fields.Int()
    seq = fields.Int(metadata={"example": 1})
    title = fields.Str()
    amount_minor = fields.Int(metadata={**MINOR, "example": 5000})
    status = fields.Str(metadata={"example": "funded"})
    refunded_minor = fields.Int(metadata=MINOR)
    due_at = fields.DateTime(allow_none=True)
    description = fields.Str()
    dod = fields.List(fields.Dict(), metadata={"description": 'Definition of Done: [{"text", "done"}].'})
    funded_at = fields.DateTime(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    changes_requested_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    auto_release_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "Accepted and released automatically then, unless the buyer acts."},
    )
    feedback = fields.Str(allow_none=True, metadata={"description": "The buyer's last request for changes."})
    submission_message = fields.Str(allow_none=True)
    submission_links = fields.List(fields.Str())
    submission_files = fields.List(fields.Nested("DeliveryFileSchema"))
    checkout_url = fields.Str(
        allow_none=True,
        metadata={"description": "Where the buyer pays this milestone (only in the answer to `fund`)."},
    )


class SubmitMilestoneSchema(Schema):
    message = fields.Str(required=True, metadata={"example": "The logo in three variants."})
    links = fields.List(fields.Str(), load_default=list, metadata={"example": ["https://example.com/logo"]})
    dod_done = fields.List(
        fields.Int(strict=True),
        load_default=list,
        metadata={"description": "The Definition-of-Done items ticked (1-based); all are required."},
    )


class ChangesSchema(Schema):
    feedback = fields.Str(required=True, metadata={"example": "Please try a darker blue."})


class MoneySchema(Schema):
    total_minor = fields.Int(metadata=MINOR)
    escrow_minor = fields.Int(metadata={"description": "What the ledger holds in escrow for this order."})
    paid_minor = fields.Int()
    refunded_minor = fields.Int()
    released_minor = fields.Int()
    fee_minor = fields.Int(
        metadata={"description": "Commission on the release (expected, until it happens)."}
    )
    seller_net_minor = fields.Int()
    currency = fields.Str(metadata={"example": "USD"})


class OrderSchema(Schema):
    id = fields.Int(metadata={"example": 12})
    number = fields.Str(metadata={"example": "#12"})
    kind = fields.Str(metadata={"example": "gig", "enum": ["gig", "offer"]})
    status = fields.Str(metadata={"example": "awaiting_payment", "enum": list(services.STATUS_LABELS)})
    buyer_id = fields.Int()
    seller_id = fields.Int()
    gig_id = fields.Int(allow_none=True)
    package_tier = fields.Str(allow_none=True, metadata={"example": "standard"})
    title = fields.Str()
    quantity = fields.Int()
    extras = fields.List(fields.Dict(), metadata={"description": "Snapshot of the ordered extras."})
    currency = fields.Str(metadata={"example": "USD"})
    subtotal_minor = fields.Int(metadata=MINOR)
    total_minor = fields.Int(metadata=MINOR)
    delivery_days = fields.Int()
    revisions_allowed = fields.Int(metadata={"description": "-1 = unlimited"})
    revisions_used = fields.Int()
    requirements = fields.Str(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    is_late = fields.Bool()
    paid_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    auto_complete_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    milestones = fields.List(fields.Nested(MilestoneSchema))
    money = fields.Method("_money")
    checkout_url = fields.Str(
        allow_none=True,
        metadata={
            "description": "Where the buyer pays (only in the answer that placed the order); null when "
            "the payment provider could not start a checkout (pay again from the order)."
        },
    )

    def _money(self, order):
        return MoneySchema.shared().dump(services.money(order))


class TimelineEntrySchema(Schema):
    id = fields.Int()
    kind = fields.Str(metadata={"example": "delivered"})
    actor_id = fields.Int(allow_none=True)
    data = fields.Dict()
    created_at = fields.DateTime()


class DeliveryFileSchema(Schema):
    filename = fields.Str()
    content_type = fields.Str()
    size = fields.Int()
    url = fields.Method("_url")

    def _url(self, item):
        return services.delivery_file_url(item["key"])


class DeliverySchema(Schema):
    id = fields.Int()
    message = fields.Str()
    files = fields.List(fields.Nested(DeliveryFileSchema))
    created_at = fields.DateTime()


class CancellationSchema(Schema):
    id = fields.Int()
    requested_by = fields.Int()
    reason = fields.Str()
    refund_minor = fields.Int(metadata={"description": "The buyer's share; the rest goes to the seller."})
    status = fields.Str(metadata={"enum": ["pending", "accepted", "declined", "auto_accepted", "withdrawn"]})
    resolve_at = fields.DateTime(metadata={"description": "Accepted automatically then, unless answered."})
    responded_by = fields.Int(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class OrderDetailSchema(OrderSchema):
    timeline = fields.Method("_timeline")
    deliveries = fields.Method("_deliveries")
    cancellations = fields.Method("_cancellations")

    def _timeline(self, order):
        return TimelineEntrySchema.shared(many=True).dump(services.timeline(order))

    def _deliveries(self, order):
        return DeliverySchema.shared(many=True).dump(services.deliveries(order))

    def _cancellations(self, order):
        return CancellationSchema.shared(many=True).dump(services.cancellations(order))


class OrderListArgs(Schema):
    role = fields.Str(load_default="buyer", validate=validate.OneOf(["buyer", "seller"]))
    status = fields.Str(validate=validate.OneOf(list(services.STATUS_LABELS)))
    tab = fields.Str(validate=validate.OneOf(list(services.TABS)))


class PlaceOrderSchema(Schema):
    gig_id = fields.Int(required=True, strict=True, metadata={"example": 3})
    tier = fields.Str(
        required=True, metadata={"example": "standard", "enum": ["basic", "standard", "premium"]}
    )
    extras = fields.List(fields.Int(strict=True), load_default=list, metadata={"example": [5]})
    quantity = fields.Int(
        strict=True, load_default=1, metadata={"minimum": 1, "maximum": services.MAX_QUANTITY}
    )
    total_minor = fields.Int(
        strict=True,
        metadata={"description": "The total the client showed the buyer; refused (422) if it differs."},
    )
    currency = fields.Str(metadata={"description": "Refused (422) if not the marketplace's currency."})


class RequirementsSchema(Schema):
    requirements = fields.Str(required=True, metadata={"example": "Colours: navy and gold. Name: Acme."})


class DeliverInputSchema(Schema):
    message = fields.Str(required=True, metadata={"example": "Here are the three concepts."})


class RevisionSchema(Schema):
    reason = fields.Str(required=True, metadata={"example": "Please make the text larger."})


class CancellationInputSchema(Schema):
    reason = fields.Str(required=True, metadata={"example": "I no longer need it."})
    refund_minor = fields.Int(
        strict=True,
        allow_none=True,
        metadata={"description": "The buyer's share of the escrow (default: all of it)."},
    )


class RespondSchema(Schema):
    accept = fields.Bool(required=True, metadata={"example": True})


class OfferMilestoneSchema(Schema):
    title = fields.Str(required=True)
    amount_minor = fields.Int(required=True, strict=True)


class OfferInputSchema(Schema):
    conversation_id = fields.Int(required=True, strict=True)
    title = fields.Str(required=True)
    description = fields.Str(load_default="")
    total_minor = fields.Int(required=True, strict=True, metadata=MINOR)
    delivery_days = fields.Int(required=True, strict=True, metadata={"minimum": 1, "maximum": 365})
    revisions = fields.Int(strict=True, load_default=0, metadata={"description": "-1 = unlimited"})
    currency = fields.Str()
    gig_id = fields.Int(strict=True, allow_none=True)
    milestones = fields.List(
        fields.Nested(OfferMilestoneSchema),
        load_default=list,
        metadata={"description": f"Up to {MAX_OFFER_MILESTONES}, summing to total_minor."},
    )


class OfferSchema(Schema):
    id = fields.Int()
    conversation_id = fields.Int()
    seller_id = fields.Int()
    buyer_id = fields.Int()
    gig_id = fields.Int(allow_none=True)
    title = fields.Str()
    description = fields.Str()
    currency = fields.Str()
    total_minor = fields.Int(metadata=MINOR)
    delivery_days = fields.Int()
    revisions = fields.Int()
    milestones = fields.List(fields.Dict())
    status = fields.Str(metadata={"enum": ["open", "accepted", "declined", "withdrawn", "expired"]})
    expires_at = fields.DateTime(allow_none=True)
    order_id = fields.Int(allow_none=True)
    created_at = fields.DateTime()
