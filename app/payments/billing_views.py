"""``/account/billing``: the card charged for approved hourly weeks (issue #17).

The sandbox saves a test card from a form; Stripe saves a card with a SetupIntent confirmed
by Stripe.js on ``/account/billing/stripe`` (Stripe.js loaded exactly as on the Stripe
checkout page), then comes back to ``/account/billing/stripe-return?setup_intent=...``.
Thin views; the rules are in ``app.payments.billing``; the request's unit of work commits.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.core.domain_errors import refuse_form
from app.core.forms import Form
from app.payments import billing
from app.payments.forms import TestCardForm
from app.payments.services import PaymentError, _provider
from app.payments.views import STRIPE_JS

bp = Blueprint("billing", __name__, template_folder="templates")


class CsrfForm(Form):
    """Only the CSRF token."""


def _me():
    return current_user._get_current_object()


def _next() -> str | None:
    """Where to go back to after saving (a path on this host only)."""
    target = (request.values.get("next") or "").strip()
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and len(target) < 300:
        return target
    return None


def _page(form=None, status: int = 200, message: str | None = None):
    method = billing.billing_method_of(_me().id)
    return (
        render_template(
            "payments/billing.html",
            method=method,
            usable=billing.usable(method),
            provider=_provider().name,
            form=form or TestCardForm(formdata=None),
            csrf=CsrfForm(),
            message=message,
            next=_next(),
        ),
        status,
    )


@bp.get("/account/billing")
@login_required
def billing_page():
    return _page()


@bp.post("/account/billing/card")
@login_required
def save_card():
    form = TestCardForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        method = billing.save_sandbox_card(_me(), form.card_number.data, form.expiry.data, form.cvc.data)
    except PaymentError as exc:
        leftovers = refuse_form(exc, form)
        return _page(form, exc.status, " ".join(leftovers) or None)
    flash(f"Card ending {method.last4} saved: approved weeks are charged to it.", "success")
    return redirect(_next() or url_for("billing.billing_page"), 303)


@bp.post("/account/billing/remove")
@login_required
def remove_card():
    if not CsrfForm().validate_on_submit():
        abort(400)
    if billing.remove_billing_method(_me()):
        flash("Your card is removed. Approved weeks cannot be charged until you add one.", "success")
    return redirect(url_for("billing.billing_page"), 303)


@bp.get("/account/billing/stripe")
@login_required
def stripe_setup():
    """Stripe.js collects the card and confirms a SetupIntent, then returns here below."""
    try:
        secret, publishable_key = billing.start_stripe_setup(_me())
    except PaymentError as exc:
        if exc.status == 409:
            return redirect(url_for("billing.billing_page"), 303)
        return _page(status=exc.status, message=exc.message)
    response = current_app.make_response(
        render_template(
            "payments/billing_stripe.html",
            client_secret=secret,
            publishable_key=publishable_key,
            return_url=url_for("billing.stripe_return", next=_next(), _external=True),
        )
    )
    # Stripe.js and its frames come from Stripe: allowed on this page only (as the checkout).
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {STRIPE_JS} 'nonce-{g.csp_nonce}'; "
        f"frame-src {STRIPE_JS} https://hooks.stripe.com; connect-src 'self' https://api.stripe.com; "
        "img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; base-uri 'self'"
    )
    return response


@bp.get("/account/billing/stripe-return")
@login_required
def stripe_return():
    setup_intent = (request.args.get("setup_intent") or "").strip()
    if not setup_intent or len(setup_intent) > 255:
        return _page(status=422, message="Stripe did not say which card setup this was: try again.")
    try:
        method = billing.complete_stripe_setup(_me(), setup_intent)
    except PaymentError as exc:
        return _page(status=exc.status, message=exc.message)
    flash(f"Card ending {method.last4} saved: approved weeks are charged to it.", "success")
    return redirect(_next() or url_for("billing.billing_page"), 303)
