"""Marshmallow schemas of the console API for orders and refunds, and the audit log.

Query schemas check shapes and types; the rules (valid filters and ranges) are in
``orders.py`` and ``audit_log.py``. Money is integer minor units.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.core.schema import Schema
from app.orders.models import ORDER_STATUSES
from app.orders.schemas import OrderDetailSchema

MINOR = {"description": "Integer minor units (cents) of the currency."}
DAY = {"description": "A UTC day, inclusive (YYYY-MM-DD).", "example": "2024-05-31"}


# --------------------------------------------------------------------------- orders


class ConsoleOrderListArgs(Schema):
    status = fields.Str(validate=validate.OneOf(list(ORDER_STATUSES)), metadata={"example": "delivered"})
    q = fields.Str(
        validate=validate.Length(max=200),
        metadata={
            "description": "Order number (`#12` or `12`), buyer or seller name or email, order or gig title."
        },
    )
    date_from = fields.Date(
        data_key="from", metadata={**DAY, "description": "Placed on or after this UTC day."}
    )
    date_to = fields.Date(data_key="to", metadata={**DAY, "description": "Placed on or before this UTC day."})


class OrderPartySchema(Schema):
    id = fields.Int()
    display_name = fields.Str(metadata={"example": "Sally Seller"})
    email = fields.Email(metadata={"example": "sally@example.com"})
    status = fields.Str(metadata={"example": "active"})


class ConsoleOrderSchema(Schema):
    id = fields.Int(attribute="order.id", metadata={"example": 12})
    number = fields.Str(attribute="order.number", metadata={"example": "#12"})
    kind = fields.Str(attribute="order.kind")
    status = fields.Str(attribute="order.status", metadata={"enum": list(ORDER_STATUSES)})
    title = fields.Str(attribute="order.title")
    currency = fields.Str(attribute="order.currency", metadata={"example": "USD"})
    total_minor = fields.Int(attribute="order.total_minor", metadata=MINOR)
    gig_id = fields.Int(attribute="order.gig_id", allow_none=True)
    buyer_id = fields.Int(attribute="order.buyer_id")
    buyer_name = fields.Str()
    buyer_email = fields.Str()
    seller_id = fields.Int(attribute="order.seller_id")
    seller_name = fields.Str()
    seller_email = fields.Str()
    created_at = fields.DateTime(attribute="order.created_at")
    paid_at = fields.DateTime(attribute="order.paid_at", allow_none=True)
    completed_at = fields.DateTime(attribute="order.completed_at", allow_none=True)
    cancelled_at = fields.DateTime(attribute="order.cancelled_at", allow_none=True)


class ConsoleLedgerEntrySchema(Schema):
    account_code = fields.Str(metadata={"example": "escrow:order:12"})
    account_kind = fields.Str(
        metadata={
            "enum": [
                "provider_clearing",
                "escrow",
                "seller_pending",
                "seller_available",
                "platform_commission",
            ]
        }
    )
    amount_minor = fields.Int(metadata={"description": "Signed: debit positive, credit negative."})
    currency = fields.Str()


class ConsoleLedgerTransactionSchema(Schema):
    id = fields.Int()
    kind = fields.Str(metadata={"enum": ["payment", "release", "refund", "adjustment"], "example": "payment"})
    created_at = fields.DateTime()
    currency = fields.Str()
    memo = fields.Str()
    milestone_id = fields.Int(allow_none=True)
    entries = fields.List(fields.Nested(ConsoleLedgerEntrySchema))


class ConsoleProviderRecordSchema(Schema):
    id = fields.Int()
    kind = fields.Str(metadata={"enum": ["payment", "refund"]})
    provider = fields.Str(metadata={"enum": ["sandbox", "stripe"]})
    status = fields.Str(metadata={"example": "succeeded"})
    amount_minor = fields.Int(metadata=MINOR)
    currency = fields.Str()
    provider_ref = fields.Str(allow_none=True)
    created_at = fields.DateTime()


class ConsoleAuditEntrySchema(Schema):
    id = fields.Int(metadata={"example": 41})
    created_at = fields.DateTime()
    actor_id = fields.Int(allow_none=True)
    actor_label = fields.Str(metadata={"example": "Ada Admin <admin@acme.example>"})
    via = fields.Str(metadata={"enum": ["web", "api", "cli"]})
    action = fields.Str(metadata={"example": "order.refund"})
    target_type = fields.Str(metadata={"example": "order"})
    target_id = fields.Str(allow_none=True, metadata={"example": "12"})
    summary = fields.Str()
    changes = fields.Dict(
        metadata={
            "description": '`{"field": [old, new]}` for changed fields, other keys are details.',
            "example": {"status": ["in_progress", "cancelled"], "refund_minor": 5000},
        }
    )
    ip = fields.Str(allow_none=True)


class ConsoleOrderDetailSchema(Schema):
    order = fields.Nested(OrderDetailSchema, metadata={"description": "The order as its parties see it."})
    buyer = fields.Nested(OrderPartySchema)
    seller = fields.Nested(OrderPartySchema)
    ledger_transactions = fields.List(
        fields.Nested(ConsoleLedgerTransactionSchema),
        metadata={"description": "The order's payments, releases and refunds with their entries."},
    )
    provider_records = fields.List(
        fields.Nested(ConsoleProviderRecordSchema),
        metadata={"description": "Payments and refunds at the provider."},
    )
    audit = fields.List(
        fields.Nested(ConsoleAuditEntrySchema), metadata={"description": "Console actions on the order."}
    )


class ConsoleOrderCancelSchema(Schema):
    reason = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=5000),
        metadata={"example": "Seller unresponsive; refund agreed with the buyer."},
    )
    refund_minor = fields.Int(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0),
        metadata={
            "description": "The buyer's refund from the escrow (default: all of it; 0: none). The rest is "
            "released to the seller minus commission.",
            "example": 2500,
        },
    )


# --------------------------------------------------------------------------- audit log


class ConsoleAuditArgs(Schema):
    q = fields.Str(
        validate=validate.Length(max=100),
        metadata={"description": "Free text: summary, operator, action, target."},
    )
    action = fields.Str(
        metadata={
            "description": "Action or its prefix (`order` for every order action).",
            "example": "order.refund",
        }
    )
    actor_id = fields.Int(
        strict=False, validate=validate.Range(min=1), metadata={"description": "The operator's user id."}
    )
    target_type = fields.Str(validate=validate.Length(max=32), metadata={"example": "order"})
    target_id = fields.Str(validate=validate.Length(max=64), metadata={"example": "12"})
    date_from = fields.Date(data_key="from", metadata=DAY)
    date_to = fields.Date(data_key="to", metadata=DAY)
