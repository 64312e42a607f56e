"""Payments REST API: a seller's balances and payouts, anyone's wallet transactions,
and the payments of one's orders. Bearer tokens (``/api/v1/auth/token``).

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
from app.payments import services
from app.payments.schemas import (
    BalancesSchema,
    PaymentSchema,
    PayoutRequestSchema,
    PayoutSchema,
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
    @blp.paginate(page_size=20, max_page_size=100)
    def get(self, pagination_parameters):
        """Your wallet history, newest first: payments and refunds as a buyer, releases
        (net of the fee), clearances and payouts as a seller (paginated: `page`, `page_size`)."""
        history = services.transaction_history(
            g.api_user, pagination_parameters.page, pagination_parameters.page_size
        )
        pagination_parameters.item_count = history.total
        return history.items


@blp.route("/payouts")
class Payouts(MethodView):
    @auth_required
    @blp.response(200, PayoutSchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    def get(self, pagination_parameters):
        """Your payouts, newest first (paginated)."""
        rows, total = services.list_payouts(
            g.api_user, pagination_parameters.page, pagination_parameters.page_size
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
