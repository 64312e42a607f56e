"""Payments REST API: a seller's balances and payouts, anyone's wallet transactions,
the payments of one's orders, and the saved card an hourly contract's weeks are charged to
(``/billing-method``). Bearer tokens (``/api/v1/auth/token``).

``POST /api/v1/payouts`` moves money: send an ``Idempotency-Key`` header; the
same key and body replay the first answer, the same key with another body is
refused (422). Refusals: 403 not a seller, 409 more than the available balance
or payout account not set up, 422 a bad amount; nothing moves then.
"""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from app.accounts import tokens
from app.core.api import Blueprint
from app.core.idempotency import idempotent
from app.payments import billing, services
from app.payments.schemas import (
    BalancesSchema,
    BillingMethodSchema,
    PaymentSchema,
    PayoutRequestSchema,
    PayoutSchema,
    SandboxCardSchema,
    StripeCompleteSchema,
    StripeSetupSchema,
    TransactionSchema,
)

blp = Blueprint(
    "payments_api",
    __name__,
    url_prefix="/api/v1",
    description="Money: your balances, wallet transactions and payouts, and the payments of your orders. "
    "Amounts are integer minor units.",
)


def auth_required(view):
    view = blp.alt_response(401, response="UNAUTHORIZED")(view)
    view = blp.doc(security=[{"bearerAuth": []}])(view)
    return tokens.token_auth_required(view)


@blp.route("/balances")
class Balances(MethodView):
    @auth_required
    @blp.response(
        200, BalancesSchema, example={"currency": "USD", "pending_minor": 4500, "available_minor": 12000}
    )
    def get(self):
        """Your seller balances: pending clearance and available for payout."""
        return services.balances(g.api_user)


@blp.route("/transactions")
class Transactions(MethodView):
    @auth_required
    @blp.response(200, TransactionSchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100, keyset=("created_at", "transaction_id"), created=True)
    def get(self, pagination_parameters):
        """Your wallet history, newest first: payments and refunds as a buyer, releases
        (net of the fee), clearances and payouts as a seller (paginated: `page`, `page_size`)."""
        history = services.transaction_history(
            g.api_user, pagination_parameters.page, pagination_parameters.page_size, pagination_parameters
        )
        pagination_parameters.item_count = history.total
        return history.items


@blp.route("/payouts")
class Payouts(MethodView):
    @auth_required
    @blp.response(200, PayoutSchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100, keyset=("id",), created=True)
    def get(self, pagination_parameters):
        """Your payouts, newest first (paginated)."""
        rows, total = services.list_payouts(
            g.api_user, pagination_parameters.page, pagination_parameters.page_size, pagination_parameters
        )
        pagination_parameters.item_count = total
        return rows

    @auth_required
    @idempotent
    @blp.arguments(PayoutRequestSchema, example={"amount_minor": 2500})
    @blp.response(201, PayoutSchema)
    @blp.alt_response(403, response="FORBIDDEN", description="You are not a seller")
    @blp.alt_response(
        409, response="CONFLICT", description="More than your available balance, or payouts not set up"
    )
    @blp.alt_response(
        422,
        response="UNPROCESSABLE_ENTITY",
        description="A bad amount, or an Idempotency-Key reused with another body",
    )
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": "Idempotency-Key",
                "schema": {"type": "string"},
                "required": False,
                "description": "Names this attempt: a retry with the same key and body replays "
                "the first answer.",
            }
        ]
    )
    def post(self, data):
        """Pay out part or all of your available balance."""
        return services.request_payout(g.api_user, data["amount_minor"])


@blp.route("/payments/<int(max=2147483647):payment_id>")  # payments.id is an INTEGER
class PaymentResource(MethodView):
    @auth_required
    @blp.response(200, PaymentSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, payment_id):
        """A payment of one of your orders (as its buyer or its seller)."""
        return services.payment_for_party(g.api_user, payment_id)


# --------------------------------------------------------------------------- the saved card

CARD_ERRORS = (
    (404, "No saved card (or no such card setup)"),
    (409, "Not with this marketplace's payment provider (sandbox: PUT a test card; Stripe: the setup)"),
    (422, "Invalid fields"),
    (503, "The payment provider failed: try again"),
)


def card_view(*codes: int):
    def decorate(view):
        for code, description in CARD_ERRORS:
            if code in codes:
                view = blp.alt_response(code, response="DEFAULT_ERROR", description=description)(view)
        return auth_required(view)

    return decorate


def _saved(user):
    method = billing.billing_method_of(user.id)
    if not billing.usable(method):
        raise services.PaymentError(404, "No saved card: add one.")
    return method


@blp.route("/billing-method")
class BillingMethodResource(MethodView):
    @card_view(404)
    @blp.response(200, BillingMethodSchema)
    def get(self):
        """Your saved card, charged without you for the weeks of your hourly contracts."""
        return _saved(g.api_user)

    @card_view(409, 422)
    @blp.arguments(
        SandboxCardSchema, example={"card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"}
    )
    @blp.response(200, BillingMethodSchema)
    def put(self, body):
        """Test mode (the sandbox): save a test card, replacing the one saved. Only its last
        four digits, expiry and test behaviour are kept. 409 when the marketplace uses Stripe
        (`/billing-method/stripe-setup`)."""
        return billing.save_sandbox_card(g.api_user, body["card_number"], body["expiry"], body["cvc"])

    @card_view(404)
    @blp.response(204)
    def delete(self):
        """Forget your saved card (weeks approved later fail until you add one)."""
        if not billing.remove_billing_method(g.api_user):
            raise services.PaymentError(404, "No saved card.")


@blp.route("/billing-method/stripe-setup")
class StripeSetup(MethodView):
    @card_view(409, 503)
    @blp.response(200, StripeSetupSchema)
    def post(self):
        """Stripe: start saving a card. Returns a SetupIntent's client secret and the
        publishable key for Stripe.js; confirm the card there, then call `stripe-complete`."""
        secret, key = billing.start_stripe_setup(g.api_user)
        return {"client_secret": secret, "publishable_key": key}


@blp.route("/billing-method/stripe-complete")
class StripeComplete(MethodView):
    @card_view(404, 409, 422, 503)
    @blp.arguments(StripeCompleteSchema, example={"setup_intent": "seti_1Abc"})
    @blp.response(200, BillingMethodSchema)
    def post(self, body):
        """Stripe: save the card of your succeeded SetupIntent (404 not yours, 409 not succeeded)."""
        return billing.complete_stripe_setup(g.api_user, body["setup_intent"])
