"""Payments REST API: a seller's balances and payouts, anyone's wallet transactions,
the payments of one's orders, and the saved card an hourly contract's weeks are charged to
(``/billing-method``). Bearer tokens (``/api/v1/auth/token``).

``POST /api/v1/payouts`` moves money: send an ``Idempotency-Key`` header; the
same key and body replay the first answer, the same key with another body is
refused (422). Refusals: 403 not a seller, 409 more than the available balance
or payout account not set up, 422 a bad amount; nothing moves then.
"""

from __future__ import annotations

from flask import g, url_for
from flask.views import MethodView

from app.accounts import tokens
from app.core import unit_of_work
from app.core.api import Blueprint
from app.core.http import LOCATION, created, error_response
from app.core.idempotency import HEADER, idempotent
from app.orders import services as orders
from app.orders.schemas import OrderDetailSchema
from app.payments import billing, services, sessions
from app.payments.schemas import (
    BalancesSchema,
    BillingMethodSchema,
    PaymentSchema,
    PaymentSessionSchema,
    PayoutRequestSchema,
    PayoutSchema,
    SandboxAuthenticateSchema,
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
    @blp.response(201, PayoutSchema, headers=LOCATION)
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
        """Pay out part or all of your available balance. `Location`: the payout."""
        payout = services.request_payout(g.api_user, data["amount_minor"])
        return created(payout, "payments_api.Payouts")


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


# --------------------------------------------------------------------------- payment sessions
# Paying through the API alone (app/payments/sessions.py): open a session for an order awaiting
# payment (or for one milestone of an order worked milestone by milestone), then pay it: Stripe
# with Stripe.js and the session's client_secret (the webhook marks the order paid), the sandbox
# by POSTing a test card to `confirm`.

ORDER_ID = "/orders/<int(max=9223372036854775807):order_id>"
MILESTONE_ID = f"{ORDER_ID}/milestones/<int(max=9223372036854775807):milestone_id>"
SESSION_ERRORS = {
    402: "The card was declined, or asks for a second step (errors.code `card_declined`, "
    "`authentication_required`); the attempt is recorded, nothing is paid",
    403: "You are the seller: only the buyer pays",
    404: "No such order or milestone (or not yours), or no session opened yet",
    409: "Not awaiting payment (already paid, cancelled), a Stripe session confirmed here, or no "
    "second step pending",
    422: "Invalid fields (card details), or an Idempotency-Key reused with another body",
    502: "The payment provider refused",
    503: "The payment provider is not set up or unreachable: try again",
}
IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": HEADER,
    "schema": {"type": "string"},
    "required": False,
    "description": "Retry-safe key: the same key and body replay the first answer.",
}


def session_view(*codes: int, mutating: bool = False):
    def decorate(view):
        if mutating:
            # Refusals are raised, or returned kept (``_paid_or_refused``): no view savepoint.
            view = idempotent(view, savepoint=False)
            view = blp.doc(parameters=[IDEMPOTENCY_PARAMETER])(view)
        for code in codes:
            view = blp.alt_response(code, response="DEFAULT_ERROR", description=SESSION_ERRORS[code])(view)
        return auth_required(view)

    return decorate


def _session_json(session: sessions.Session) -> dict:
    payment = session.payment
    values = {"order_id": payment.order_id}
    endpoint = "payments_api.OrderPaymentSessionConfirm"
    if payment.milestone_id is not None:
        values["milestone_id"] = payment.milestone_id
        endpoint = "payments_api.MilestonePaymentSessionConfirm"
    return {
        "id": payment.id,
        "order_id": payment.order_id,
        "milestone_id": payment.milestone_id,
        "provider": payment.provider,
        "status": payment.status,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "failure_reason": payment.failure_reason,
        "client_secret": payment.client_secret if payment.provider == "stripe" else None,
        "publishable_key": session.publishable_key,
        "confirm_url": url_for(endpoint, **values) if payment.provider == "sandbox" else None,
    }


def _created_session(session: sessions.Session):
    payment = session.payment
    if payment.milestone_id is None:
        return created(_session_json(session), "payments_api.OrderPaymentSession", order_id=payment.order_id)
    return created(
        _session_json(session),
        "payments_api.MilestonePaymentSession",
        order_id=payment.order_id,
        milestone_id=payment.milestone_id,
    )


def _paid_or_refused(result: services.CardResult, order_id: int):
    """The order once paid; a declined card or a pending second step as a 402 whose attempt is
    kept (``@idempotent`` stores it: the same key replays the refusal, a new key tries again)."""
    if result.outcome == "succeeded":
        return orders.get_order(g.api_user, order_id)
    unit_of_work.keep()  # the attempt (a decline, a second step due) is recorded though refused
    if result.outcome == "requires_action":
        refusal = services.PaymentError(
            402,
            "The card asks for a second step: POST its answer to the session's `authenticate`.",
            code="authentication_required",
            extra={"payment_status": result.payment.status},
        )
    else:
        refusal = services.PaymentError(
            402,
            result.payment.failure_reason or services.DECLINED_MESSAGE,
            code="card_declined",
            extra={"payment_status": result.payment.status},
        )
    return error_response(refusal)


CARD_EXAMPLE = {"card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"}


@blp.route(f"{ORDER_ID}/payment-session")
class OrderPaymentSession(MethodView):
    @session_view(403, 404)
    @blp.response(200, PaymentSessionSchema)
    def get(self, order_id):
        """Your order's payment session (404 before one is opened)."""
        return _session_json(sessions.get_session(g.api_user, order_id))

    @session_view(403, 404, 409, 422, 502, 503, mutating=True)
    @blp.response(201, PaymentSessionSchema, headers=LOCATION)
    def post(self, order_id):
        """Open (or reopen) the payment of your order awaiting payment.

        Stripe: pay with Stripe.js (`stripe.confirmCardPayment(client_secret)`, `publishable_key`);
        the order is paid when Stripe confirms (`order.paid`). Sandbox (test mode): POST a test card
        to `confirm_url`. An order worked milestone by milestone: this funds its first milestone.
        Calling it again answers the same payment. `Location`: the session.
        """
        return _created_session(sessions.open_order_session(g.api_user, order_id))


@blp.route(f"{ORDER_ID}/payment-session/confirm")
class OrderPaymentSessionConfirm(MethodView):
    @session_view(402, 403, 404, 409, 422, mutating=True)
    @blp.arguments(SandboxCardSchema, example=CARD_EXAMPLE)
    @blp.response(200, OrderDetailSchema)
    def post(self, body, order_id):
        """Sandbox: pay the session with a test card; answers the order, paid.

        4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined (402 `card_declined`: nothing
        paid, try again); 4000 0025 0000 3155 asks for a second step (402
        `authentication_required`: POST `authenticate`). Confirming a paid session again
        answers the order and pays nothing twice.
        """
        result = sessions.confirm_sandbox(
            g.api_user, order_id, None, body["card_number"], body["expiry"], body["cvc"]
        )
        return _paid_or_refused(result, order_id)


@blp.route(f"{ORDER_ID}/payment-session/authenticate")
class OrderPaymentSessionAuthenticate(MethodView):
    @session_view(402, 403, 404, 409, 422, mutating=True)
    @blp.arguments(SandboxAuthenticateSchema, example={"approve": True})
    @blp.response(200, OrderDetailSchema)
    def post(self, body, order_id):
        """Sandbox: answer the test card's second step (`approve: true` pays, `false` fails the
        attempt: 402 `card_declined`)."""
        result = sessions.authenticate_sandbox(g.api_user, order_id, None, body["approve"])
        return _paid_or_refused(result, order_id)


@blp.route(f"{MILESTONE_ID}/payment-session")
class MilestonePaymentSession(MethodView):
    @session_view(403, 404)
    @blp.response(200, PaymentSessionSchema)
    def get(self, order_id, milestone_id):
        """The payment session of one milestone of your order (404 before one is opened)."""
        return _session_json(sessions.get_session(g.api_user, order_id, milestone_id))

    @session_view(403, 404, 409, 422, 502, 503, mutating=True)
    @blp.response(201, PaymentSessionSchema, headers=LOCATION)
    def post(self, order_id, milestone_id):
        """Fund a milestone: its funding is requested (as `.../fund`) and its own payment opened
        (or reopened). Pay it as an order's session (Stripe.js, or the sandbox's `confirm_url`);
        the milestone is `funded` once paid. 409 when it is already funded. `Location`: the session.
        """
        return _created_session(sessions.open_milestone_session(g.api_user, order_id, milestone_id))


@blp.route(f"{MILESTONE_ID}/payment-session/confirm")
class MilestonePaymentSessionConfirm(MethodView):
    @session_view(402, 403, 404, 409, 422, mutating=True)
    @blp.arguments(SandboxCardSchema, example=CARD_EXAMPLE)
    @blp.response(200, OrderDetailSchema)
    def post(self, body, order_id, milestone_id):
        """Sandbox: pay the milestone's session with a test card (the rules of the order's
        `confirm`); answers the order with the milestone funded."""
        result = sessions.confirm_sandbox(
            g.api_user, order_id, milestone_id, body["card_number"], body["expiry"], body["cvc"]
        )
        return _paid_or_refused(result, order_id)


@blp.route(f"{MILESTONE_ID}/payment-session/authenticate")
class MilestonePaymentSessionAuthenticate(MethodView):
    @session_view(402, 403, 404, 409, 422, mutating=True)
    @blp.arguments(SandboxAuthenticateSchema, example={"approve": True})
    @blp.response(200, OrderDetailSchema)
    def post(self, body, order_id, milestone_id):
        """Sandbox: answer the test card's second step for the milestone's session."""
        result = sessions.authenticate_sandbox(g.api_user, order_id, milestone_id, body["approve"])
        return _paid_or_refused(result, order_id)
