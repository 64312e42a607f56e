"""Payments web pages: the sandbox checkout (TEST MODE), the Stripe checkout page,
the seller's earnings and payouts, Stripe onboarding, and the Stripe webhook.

Thin: parse the form, call one service, render; the request's unit of work
(``app.core.unit_of_work``) commits. A refusal is rolled back and shown: a form
again with its errors (``refuse_form``), otherwise the central error handler
(bad input changes nothing). Money-moving forms carry an idempotency key
(``@idempotent``): a double click or a resent form replays the first answer.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts import bot
from app.core import money, unit_of_work
from app.core.confirm import Confirmation, confirmation_required
from app.core.domain_errors import FORM, DomainError, refuse_form
from app.core.idempotency import idempotent
from app.core.urls import tenant_url
from app.orders.models import Order
from app.payments import backoffice, services, webhooks
from app.payments.forms import AuthenticateForm, OnboardForm, PayoutForm, TestCardForm, VerifyIdentityForm
from app.payments.providers import WebhookRejected
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

bp = Blueprint("payments", __name__, template_folder="templates")
webhooks_bp = Blueprint("payment_webhooks", __name__)

STRIPE_JS = "https://js.stripe.com"


def _me():
    return current_user._get_current_object()


def _order_url(order_id: int) -> str:
    return url_for("orders.order_page", order_id=order_id)


# --------------------------------------------------------------------------- sandbox checkout


def _render_checkout(page: services.SandboxCheckout, form, status=200, message=None):
    return (
        render_template(
            "payments/sandbox_checkout.html",
            payment=page.payment,
            order=page.order,
            gig_url=url_for("gigs.gig_page", slug=page.gig_slug) if page.gig_slug else None,
            form=form,
            message=message,
            order_url=_order_url(page.payment.order_id),
        ),
        status,
    )


@bp.get("/checkout/sandbox/<int(max=2147483647):payment_id>")
@login_required
def sandbox_checkout(payment_id: int):
    page = services.sandbox_checkout_page(_me(), payment_id)
    payment = page.payment
    if payment.status == "requires_action":
        return redirect(url_for("payments.sandbox_authenticate", payment_id=payment.id))
    return _render_checkout(
        page, TestCardForm(), message=payment.failure_reason if payment.status == "failed" else None
    )


@bp.post("/checkout/sandbox/<int(max=2147483647):payment_id>")
@login_required
# No view savepoint: a refusal answered here (the form's 422) changed nothing worth keeping,
# so it is rolled back with its key and a resent form runs again; a declined card is kept.
@idempotent(savepoint=False)
def sandbox_pay(payment_id: int):
    form = TestCardForm()
    if bot.refused(form, "checkout") or not form.validate_on_submit():
        return _render_checkout(services.sandbox_checkout_page(_me(), payment_id), form, 422)
    try:
        result = services.sandbox_pay(
            _me(), payment_id, form.card_number.data, form.expiry.data, form.cvc.data
        )
    except services.PaymentError as exc:
        if exc.status != 422:
            raise  # the central handler: the error page (or back to the page, with the message)
        leftovers = refuse_form(exc, form)
        page = services.sandbox_checkout_page(_me(), payment_id)
        return _render_checkout(page, form, 422, message=" ".join(leftovers) or None)
    if result.outcome == "requires_action":
        return redirect(url_for("payments.sandbox_authenticate", payment_id=payment_id))
    if result.outcome == "declined":
        unit_of_work.keep()  # the declined attempt is recorded although the answer is 402
        return _render_checkout(
            services.sandbox_checkout_page(_me(), payment_id),
            TestCardForm(formdata=None),
            402,
            message=result.payment.failure_reason,
        )
    flash(
        "Payment received (test mode). The money is held in escrow until the order is completed.", "success"
    )
    return redirect(_order_url(result.payment.order_id))


@bp.route("/checkout/sandbox/<int(max=2147483647):payment_id>/authenticate", methods=["GET", "POST"])
@login_required
@idempotent(savepoint=False)  # every answer is a page or a redirect to keep: no refusal to undo
def sandbox_authenticate(payment_id: int):
    form = AuthenticateForm()
    payment = services.sandbox_payment_for_page(_me(), payment_id)
    if request.method == "GET" or not form.validate_on_submit():
        if payment.status != "requires_action":
            return redirect(url_for("payments.sandbox_checkout", payment_id=payment_id))
        order = db.session.get(Order, payment.order_id)
        return render_template(
            "payments/sandbox_authenticate.html",
            payment=payment,
            order=order,
            form=form,
            order_url=_order_url(payment.order_id),
        )
    result = services.sandbox_authenticate(_me(), payment_id, approve="approve" in request.form)
    if result.outcome == "succeeded":
        flash(
            "Payment received (test mode). The money is held in escrow until the order is completed.",
            "success",
        )
        return redirect(_order_url(result.payment.order_id))
    flash(result.payment.failure_reason, "error")
    return redirect(url_for("payments.sandbox_checkout", payment_id=payment_id))


# --------------------------------------------------------------------------- Stripe checkout


@bp.get("/checkout/stripe/<int(max=2147483647):payment_id>")
@login_required
def stripe_checkout(payment_id: int):
    payment, publishable_key = services.stripe_payment_for_page(_me(), payment_id)
    order = db.session.get(Order, payment.order_id)
    response = current_app.make_response(
        render_template(
            "payments/stripe_checkout.html",
            payment=payment,
            order=order,
            publishable_key=publishable_key,
            order_url=_order_url(payment.order_id),
        )
    )
    # Stripe.js and its frames come from Stripe: allowed on this page only.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {STRIPE_JS} 'nonce-{g.csp_nonce}'; "
        f"frame-src {STRIPE_JS} https://hooks.stripe.com; connect-src 'self' https://api.stripe.com; "
        "img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; base-uri 'self'"
    )
    return response


# --------------------------------------------------------------------------- earnings and payouts


def _earnings_page(form=None, status=200):
    page = request.args.get("page", 1, type=int)
    data = services.earnings(_me(), page=max(1, page))
    return (
        render_template(
            "payments/earnings.html",
            earnings=data,
            form=form or PayoutForm(),
            onboard_form=OnboardForm(),
            verify_form=VerifyIdentityForm(),
        ),
        status,
    )


@bp.get("/account/earnings")
@login_required
def earnings():
    if not _me().is_seller:
        return redirect(url_for("accounts.seller_profile"))
    return _earnings_page()


def _confirm_payout() -> Confirmation:
    return Confirmation(
        "Send this payout?",
        "The amount leaves your available balance for your payout account. A payout that has been "
        "sent cannot be called back.",
        "Send the payout",
        url_for("payments.earnings"),
    )


@bp.post("/account/earnings/payouts")
@login_required
@confirmation_required(_confirm_payout)
@idempotent
def request_payout():
    form = PayoutForm()
    if not form.validate_on_submit():
        return _earnings_page(form, 422)
    currency = services.balances(_me())["currency"]
    try:
        amount = money.parse(form.amount.data, currency, allow_negative=True)  # the service judges the range
    except money.MoneyError as exc:
        form.amount.errors = [*form.amount.errors, str(exc)]
        return _earnings_page(form, 422)
    try:
        payout = services.request_payout(_me(), amount)
    except services.PaymentError as exc:
        refuse_form(
            exc, form, aliases={FORM: "amount", "amount_minor": "amount"}
        )  # one input: all goes there
        return _earnings_page(form, 422 if exc.status in (409, 422) else exc.status)
    flash(
        "Payout sent." if payout.status == "sent" else "Payout requested; it is on its way to your account.",
        "success",
    )
    return redirect(url_for("payments.earnings"))


@bp.post("/account/earnings/onboard")
@login_required
def start_onboarding():
    OnboardForm().validate_on_submit() or abort(400)
    link = services.start_onboarding(
        _me(),
        return_url=tenant_url(current_tenant(), "payments.onboarding_return"),
        refresh_url=tenant_url(current_tenant(), "payments.onboarding_refresh"),
    )
    # The unit of work commits the seller's account row before the redirect leaves.
    return redirect(link)


@bp.post("/account/earnings/verify-identity")
@login_required
def start_identity_verification():
    """The sandbox's simulated identity check: the seller's account becomes pending until an
    operator decides in the console."""
    VerifyIdentityForm().validate_on_submit() or abort(400)
    backoffice.start_sandbox_verification(_me())
    flash(
        "Identity verification started (test mode: the marketplace's operator completes it).",
        "success",
    )
    return redirect(url_for("payments.earnings"), 303)


@bp.get("/account/earnings/onboarded")
@login_required
def onboarding_return():
    ready = services.refresh_seller_account(_me())
    flash(
        "Your payout account is ready." if ready else "Your payout account is not complete yet.",
        "success" if ready else "error",
    )
    return redirect(url_for("payments.earnings"))


@bp.get("/account/earnings/onboard/refresh")
@login_required
def onboarding_refresh():
    """Stripe sends the seller here when an onboarding link expired: offer a new one."""
    flash("The set-up link expired. Start the payout set-up again.", "error")
    return redirect(url_for("payments.earnings"))


# --------------------------------------------------------------------------- webhooks


@webhooks_bp.post("/webhooks/stripe")
def stripe_webhook():
    """Stripe events for this marketplace (the tenant comes from the host, the secret from it).

    One unit of work per delivery: the event's ``processed_webhooks`` row and its effects
    are committed together on a 2xx and rolled back together otherwise (Stripe retries),
    except for an event its handler refused: see ``EventRefused``.
    """
    try:
        outcome = webhooks.handle_stripe_webhook(request.get_data(), request.headers.get("Stripe-Signature"))
    except WebhookRejected as exc:
        log.warning("stripe webhook rejected: %s", exc)
        return {"error": str(exc)}, 400
    except webhooks.RetryLater as exc:
        return {"error": str(exc)}, 409  # nothing recorded: the redelivery is handled
    except webhooks.EventRefused as exc:
        # The handler's work is already rolled back to its savepoint; the event's record is
        # kept, so Stripe's retries of an event that can never apply are answered "duplicate".
        unit_of_work.keep()
        return {"error": exc.message, "outcome": "refused"}, exc.status
    except DomainError as exc:
        return {"error": exc.message}, exc.status
    return {"received": True, "outcome": outcome}, 200
