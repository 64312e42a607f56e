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


class BillingMethodSchema(Schema):
    provider = fields.String(metadata={"description": "sandbox or stripe", "example": "sandbox"})
    brand = fields.String(metadata={"example": "visa"})
    last4 = fields.String(metadata={"example": "4242"})
    exp_month = fields.Integer(metadata={"example": 12})
    exp_year = fields.Integer(metadata={"example": 2030})
    label = fields.String(metadata={"example": "Visa •••• 4242 (expires 12/30)"})
    updated_at = fields.DateTime()


class SandboxCardSchema(Schema):
    card_number = fields.String(
        required=True,
        validate=validate.Length(max=40),
        metadata={
            "description": "A test card: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined, "
            "4000 0025 0000 3155 asks for authentication (charges fail).",
            "example": "4242 4242 4242 4242",
        },
    )
    expiry = fields.String(required=True, validate=validate.Length(max=10), metadata={"example": "12/30"})
    cvc = fields.String(required=True, validate=validate.Length(max=8), metadata={"example": "123"})


class StripeSetupSchema(Schema):
    client_secret = fields.String(metadata={"description": "For Stripe.js `confirmCardSetup`."})
    publishable_key = fields.String(allow_none=True)


class StripeCompleteSchema(Schema):
    setup_intent = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^seti_[A-Za-z0-9_]{1,250}$", error="Give the SetupIntent's id (seti_...)."
        ),
        metadata={"example": "seti_1Abc"},
    )


class PaymentSessionSchema(Schema):
    """A payment session: how the buyer pays an order (or one milestone) with the provider."""

    id = fields.Integer(metadata={"description": "The payment's id (`GET /payments/{id}`)."})
    order_id = fields.Integer()
    milestone_id = fields.Integer(
        allow_none=True, metadata={"description": "The milestone this session funds; null: the order."}
    )
    provider = fields.String(metadata={"enum": ["sandbox", "stripe"], "example": "sandbox"})
    status = fields.String(
        metadata={"description": "pending, requires_action, failed or succeeded", "example": "pending"}
    )
    amount_minor = fields.Integer(metadata={"example": 5000})
    currency = fields.String(metadata={"example": "USD"})
    failure_reason = fields.String(allow_none=True, metadata={"description": "Why the last attempt failed."})
    client_secret = fields.String(
        allow_none=True,
        metadata={"description": "Stripe: the PaymentIntent's client secret; null in the sandbox."},
    )
    publishable_key = fields.String(
        allow_none=True,
        metadata={"description": "Stripe: the marketplace's publishable key; null in the sandbox."},
    )
    confirm_url = fields.String(
        allow_none=True,
        metadata={"description": "Sandbox: POST a test card here to pay; null with Stripe."},
    )


class SandboxAuthenticateSchema(Schema):
    approve = fields.Boolean(
        required=True,
        metadata={"description": "true passes the second step (pays), false fails it.", "example": True},
    )
