"""Marshmallow schemas of the payments API. Amounts are integer minor units."""

from __future__ import annotations

from marshmallow import fields, validate

from app.core.schema import Schema


class BalancesSchema(Schema):
    currency = fields.String(metadata={"example": "USD"})
    pending_minor = fields.Integer(metadata={"description": "Earnings not yet cleared"})
    available_minor = fields.Integer(metadata={"description": "Earnings that can be paid out"})


class TransactionSchema(Schema):
    transaction_id = fields.Integer()
    kind = fields.String(metadata={"description": "payment, refund, release, clearance or payout"})
    role = fields.String(metadata={"description": "buyer or seller"})
    created_at = fields.DateTime()
    currency = fields.String()
    amount_minor = fields.Integer(metadata={"description": "Signed from your side: money in is positive"})
    gross_minor = fields.Integer()
    fee_minor = fields.Integer()
    order_id = fields.Integer(allow_none=True)
    memo = fields.String()


class PayoutSchema(Schema):
    id = fields.Integer()
    amount_minor = fields.Integer()
    currency = fields.String()
    status = fields.String(metadata={"description": "pending, sent, failed or reversed"})
    provider = fields.String()
    requested_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    failure_reason = fields.String(allow_none=True)


class PayoutRequestSchema(Schema):
    amount_minor = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1), metadata={"example": 2500}
    )


class PaymentSchema(Schema):
    id = fields.Integer()
    order_id = fields.Integer()
    amount_minor = fields.Integer()
    currency = fields.String()
    provider = fields.String()
    status = fields.String(metadata={"description": "pending, requires_action, failed or succeeded"})
    failure_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    succeeded_at = fields.DateTime(allow_none=True)
