"""Order web pages: the buyer's and seller's order lists, the order page with its actions,
ordering from a gig page, and custom offers from a conversation.

Thin: check the CSRF token, parse the fields, call one service, redirect; the
request's unit of work (``app.core.unit_of_work``) commits. Every form that moves
money carries ``idempotency_field()`` and its view is ``@idempotent``: a double
click or a resent form runs once. A refusal abandons the request's work and shows
the order page (or the offer form) again with the message next to the form that
was sent: 422 for bad input, 409 for a step the order's status does not allow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts.models import User
from app.core import money, unit_of_work
from app.core.confirm import Confirmation, confirmation_required
from app.core.forms import Form
from app.core.idempotency import idempotent
from app.orders import milestones, services
from tenants.db import db

bp = Blueprint("orders", __name__, template_folder="templates")


class CsrfForm(Form):
    """Only the CSRF token: the fields are read from the request and checked by the services."""


def _me():
    return current_user._get_current_object()


def _check_csrf() -> None:
    if not CsrfForm().validate_on_submit():
        abort(400)


def _gig_url(order) -> str | None:
    """The page of the gig an order was placed from (None for offers or a removed gig)."""
    if not order.gig_id:
        return None
    # The slug alone: loading the gig would load its packages, extras, images and FAQ too.
    slug = db.session.scalar(sa.select(services.Gig.slug).where(services.Gig.id == order.gig_id))
    return url_for("gigs.gig_page", slug=slug) if slug is not None else None


def _profile_url(user_id: int) -> str | None:
    user = db.session.get(User, user_id)
    return (
        url_for("accounts.public_profile", handle=user.handle) if user is not None and user.handle else None
    )


def _expected_delivery(order):
    """When the work is due if the requirements are sent now (orders not started yet)."""
    return datetime.now(UTC) + timedelta(days=order.delivery_days)


@bp.app_context_processor
def _order_helpers():
    return {
        "order_status_label": services.status_label,
        "order_gig_url": _gig_url,
        "order_profile_url": _profile_url,
        "expected_delivery_of": _expected_delivery,
        "milestone_actions": milestones.actions,
        "milestone_state_label": milestones.state_label,
    }


def _tab() -> str:
    tab = request.args.get("tab", "active")
    return tab if tab in services.TABS else "active"


def _page() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 6 and int(raw) > 0 else 1


PAGE_SIZE = 20


@bp.get("/orders")
@login_required
def order_list():
    """The buyer's orders (``?role=seller``: the seller's), by tab."""
    role = "seller" if request.args.get("role") == "seller" else "buyer"
    tab, page = _tab(), _page()
    orders, total = services.list_orders(_me(), role=role, tab=tab, page=page, per_page=PAGE_SIZE)
    return render_template(
        "orders/list.html",
        orders=orders,
        total=total,
        role=role,
        tab=tab,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


def _render_order(order_id: int, *, errors: dict | None = None, action: str | None = None, status: int = 200):
    try:
        order = services.get_order(_me(), order_id)
    except services.OrderNotFound:
        abort(404)
    return render_template(
        "orders/order.html",
        order=order,
        party=order.party(_me().id),
        money=services.money(order),
        timeline=services.timeline(order),
        deliveries=services.deliveries(order),
        pending=services.pending_cancellation(order),
        errors=errors or {},
        action=action,
        form_values=request.form if status != 200 else {},
        file_url=services.delivery_file_url,
        sections=services.order_sections(order, _me()),
    ), status


def render_order_page(order_id: int, status: int = 200):
    """The order page as the signed-in party sees it (404 for anyone else). A higher domain's
    view re-shows it with a refused form of its section (reviews), answering ``status``."""
    return _render_order(order_id, status=status)


@bp.get("/orders/<int:order_id>")
@login_required
def order_page(order_id: int):
    """The order page; an engagement another domain owns (a contract) opens on its own page."""
    if request.args.get("view") != "order":
        try:
            order = services.get_order(_me(), order_id)
        except services.OrderNotFound:
            abort(404)
        url = services.engagement_page(order)
        if url is not None:
            return redirect(url, 303)
    return _render_order(order_id)


def _refused(exc: services.OrderError, order_id: int, action: str):
    """The order page again, with the refusal next to the form that was sent (nothing of the
    request is kept: the page must show the order as it was)."""
    unit_of_work.abandon()
    if exc.status == 404:
        abort(404)
    if isinstance(exc, services.OrderStateError):
        # The status changed under the form (or it was never allowed): say so above everything.
        return _render_order(order_id, errors=exc.errors, action="state", status=409)
    return _render_order(order_id, errors=exc.errors, action=action, status=exc.status)


def _amount(raw: str | None, field: str, currency: str):
    """A typed amount ("25.50") as minor units; an OrderError for the form when it is not one.
    The range (more than zero, within escrow) is the service's to judge, as for the API."""
    try:
        return money.parse_optional(raw, currency, allow_negative=True)
    except money.MoneyError as exc:
        raise services.OrderError({field: str(exc)}) from None


def _order_step(order_id: int, action: str, call, done: str):
    _check_csrf()
    try:
        call(_me())
    except services.OrderError as exc:
        return _refused(exc, order_id, action)
    flash(done, "success")
    return redirect(url_for("orders.order_page", order_id=order_id), 303)


@bp.post("/orders/<int:order_id>/requirements")
@login_required
@idempotent
def submit_requirements(order_id: int):
    return _order_step(
        order_id,
        "requirements",
        lambda me: services.submit_requirements(me, order_id, request.form.get("requirements")),
        "Your requirements are sent: the work has started.",
    )


@bp.post("/orders/<int:order_id>/deliver")
@login_required
@idempotent
def deliver(order_id: int):
    files = [
        services.DeliveryFile(f.filename, f.mimetype or "", f.read())
        for f in request.files.getlist("files")
        if f and f.filename
    ]
    return _order_step(
        order_id,
        "deliver",
        lambda me: services.deliver(me, order_id, request.form.get("message"), files),
        "Your delivery is sent.",
    )


@bp.post("/orders/<int:order_id>/revision")
@login_required
@idempotent
def request_revision(order_id: int):
    return _order_step(
        order_id,
        "revision",
        lambda me: services.request_revision(me, order_id, request.form.get("reason")),
        "The seller is asked for a revision.",
    )


def _order_or_404(order_id: int):
    try:
        return services.get_order(_me(), order_id)
    except services.OrderNotFound:
        abort(404)


def _confirm_complete(order_id: int) -> Confirmation:
    order = _order_or_404(order_id)
    held = money.format(services.escrow_balance(order), order.currency)
    return Confirmation(
        f"Complete order {order.number}?",
        f"The {held} held for this order is released to the seller. This cannot be undone: "
        "ask for a revision instead if something is missing.",
        "Complete and release the payment",
        url_for("orders.order_page", order_id=order_id),
    )


def _confirm_cancellation(order_id: int) -> Confirmation | None:
    if request.form.get("accept") != "yes":
        return None  # declining or withdrawing changes no money
    order = _order_or_404(order_id)
    pending = services.pending_cancellation(order)
    refund = money.format(pending.refund_minor if pending else 0, order.currency)
    return Confirmation(
        f"Cancel order {order.number}?",
        f"The order is cancelled and {refund} goes back to the buyer; the rest of the payment, "
        "if any, is released to the seller. This cannot be undone.",
        "Accept the cancellation",
        url_for("orders.order_page", order_id=order_id),
    )


@bp.post("/orders/<int:order_id>/complete")
@login_required
@confirmation_required(_confirm_complete)
@idempotent
def complete(order_id: int):
    return _order_step(
        order_id,
        "complete",
        lambda me: services.complete(me, order_id),
        "The order is complete. Thank you!",
    )


def _refund_field(me, order_id: int):
    order = services.get_order(me, order_id)
    raw = request.form.get("refund", "")
    return _amount(raw, "refund_minor", order.currency) if raw.strip() else None


@bp.post("/orders/<int:order_id>/cancellation")
@login_required
@idempotent
def request_cancellation(order_id: int):
    return _order_step(
        order_id,
        "cancellation",
        lambda me: services.request_cancellation(
            me, order_id, request.form.get("reason"), _refund_field(me, order_id)
        ),
        "Your cancellation request is sent.",
    )


@bp.post("/orders/<int:order_id>/cancellation/respond")
@login_required
@confirmation_required(_confirm_cancellation)
@idempotent
def respond_cancellation(order_id: int):
    accept = request.form.get("accept") == "yes"
    return _order_step(
        order_id,
        "respond",
        lambda me: services.respond_cancellation(me, order_id, accept),
        "The order is cancelled." if accept else "The cancellation request is closed.",
    )


# --------------------------------------------------------------------------- milestones


MILESTONE_PATH = "/orders/<int:order_id>/milestones/<int:milestone_id>"


def _confirm_accept_milestone(order_id: int, milestone_id: int) -> Confirmation:
    order = _order_or_404(order_id)
    m = next((x for x in order.milestones if x.id == milestone_id), None)
    if m is None:
        abort(404)
    amount = money.format(m.amount_minor - m.refunded_minor, order.currency)
    return Confirmation(
        f"Accept milestone {m.seq} of order {order.number}?",
        f"The {amount} held for “{m.title}” is released to the seller. This cannot be undone: "
        "request changes instead if something is missing.",
        "Accept and release the payment",
        url_for("orders.order_page", order_id=order_id),
    )


@bp.post(f"{MILESTONE_PATH}/fund")
@login_required
@idempotent
def fund_milestone(order_id: int, milestone_id: int):
    """The buyer funds a milestone: off to its checkout."""
    _check_csrf()
    try:
        m = milestones.fund_milestone(_me(), order_id, milestone_id)
    except services.OrderError as exc:
        return _refused(exc, order_id, f"milestone-{milestone_id}")
    if m.checkout_url is None:
        flash("Payments are not available yet.", "error")
    return redirect(m.checkout_url or url_for("orders.order_page", order_id=order_id), 303)


@bp.post(f"{MILESTONE_PATH}/submit")
@login_required
@idempotent
def submit_milestone(order_id: int, milestone_id: int):
    files = [
        services.DeliveryFile(f.filename, f.mimetype or "", f.read())
        for f in request.files.getlist("files")
        if f and f.filename
    ]
    return _order_step(
        order_id,
        f"milestone-{milestone_id}",
        lambda me: milestones.submit_milestone(
            me,
            order_id,
            milestone_id,
            request.form.get("message"),
            request.form.get("links", ""),
            files,
            dod_done=request.form.getlist("dod"),
        ),
        "The milestone is submitted for review.",
    )


@bp.post(f"{MILESTONE_PATH}/request-changes")
@login_required
@idempotent
def request_milestone_changes(order_id: int, milestone_id: int):
    return _order_step(
        order_id,
        f"milestone-{milestone_id}",
        lambda me: milestones.request_changes(me, order_id, milestone_id, request.form.get("feedback")),
        "The seller is asked for changes.",
    )


@bp.post(f"{MILESTONE_PATH}/accept")
@login_required
@confirmation_required(_confirm_accept_milestone)
@idempotent
def accept_milestone(order_id: int, milestone_id: int):
    return _order_step(
        order_id,
        f"milestone-{milestone_id}",
        lambda me: milestones.accept_milestone(me, order_id, milestone_id),
        "The milestone is accepted and its payment released to the seller.",
    )


@bp.post("/orders/<int:order_id>/pay")
@login_required
def pay(order_id: int):
    """Go to the payments domain's checkout for an order awaiting payment."""
    _check_csrf()
    try:
        order = services.get_order(_me(), order_id)
    except services.OrderNotFound:
        abort(404)
    if order.status != "awaiting_payment" or order.buyer_id != _me().id:
        flash("This order does not need a payment.", "info")
        return redirect(url_for("orders.order_page", order_id=order_id), 303)
    checkout = services.checkout_url(order)  # the payment row is committed before the browser gets there
    if checkout is None:
        flash("Payments are not available yet.", "error")
    return redirect(checkout or url_for("orders.order_page", order_id=order_id), 303)


# --------------------------------------------------------------------------- ordering a gig


@bp.post("/gigs/<int:gig_id>/order")
@login_required
@idempotent
def place_order(gig_id: int):
    """The gig page's "Order" form: package, extras, quantity, and the total it showed."""
    _check_csrf()
    expected = request.form.get("total_minor")
    try:
        order = services.place_order(
            _me(),
            gig_id,
            request.form.get("tier"),
            request.form.getlist("extras"),
            request.form.get("quantity") or 1,
            expected_total_minor=int(expected) if expected and expected.isdigit() else expected or None,
        )
        checkout = services.checkout_url(order)
    except services.OrderError as exc:
        unit_of_work.abandon()  # the answer is a redirect: without this it would be committed
        if exc.status == 404:
            abort(404)
        for message in exc.errors.values():
            flash(message, "error")
        gig = db.session.get(services.Gig, gig_id)
        back = url_for("gigs.gig_page", slug=gig.slug) if gig else url_for("orders.order_list")
        return redirect(back, 303)
    return redirect(checkout or url_for("orders.order_page", order_id=order.id), 303)


# --------------------------------------------------------------------------- custom offers


@bp.route("/inbox/<int:conversation_id>/offers", methods=["GET", "POST"])
@login_required
@idempotent
def conversation_offers(conversation_id: int):
    """The offers of a conversation; a seller sends a new one from here."""
    try:
        conversation = services.offer_conversation(_me(), conversation_id)
    except services.OrderNotFound:
        abort(404)
    errors: dict = {}
    if request.method == "POST":
        _check_csrf()
        try:
            currency = services.marketplace_currency()
            milestones = []
            for i in range(3):
                title = (request.form.get(f"milestone_{i}_title") or "").strip()
                raw = request.form.get(f"milestone_{i}_amount") or ""
                if title or raw.strip():
                    milestones.append(
                        {
                            "title": title,
                            "amount_minor": _amount(raw, f"milestones.{i}.amount_minor", currency),
                        }
                    )
            revisions = request.form.get("revisions", "0")
            days = request.form.get("delivery_days", "")
            data = {
                "title": request.form.get("title"),
                "description": request.form.get("description"),
                "total_minor": _amount(request.form.get("price"), "total_minor", currency),
                "delivery_days": int(days) if days.isdigit() else days,
                "revisions": int(revisions) if revisions.lstrip("-").isdigit() else revisions,
                "milestones": milestones,
            }
            offer = services.send_offer(_me(), conversation.id, data)
        except services.OrderError as exc:
            unit_of_work.abandon()
            if exc.status == 404:
                abort(404)
            errors = exc.errors
        else:
            flash("Your offer is sent.", "success")
            return redirect(url_for("orders.offer_page", offer_id=offer.id), 303)
    return render_template(
        "orders/offers.html",
        conversation=conversation,
        offers=services.offers_in_conversation(_me(), conversation.id),
        errors=errors,
        form_values=request.form if errors else {},
        currency=services.marketplace_currency(),
    ), (422 if errors else 200)


@bp.get("/offers/<int:offer_id>")
@login_required
def offer_page(offer_id: int):
    try:
        offer = services.get_offer(_me(), offer_id)
    except services.OrderNotFound:
        abort(404)
    return render_template("orders/offer.html", offer=offer)


@bp.post("/offers/<int:offer_id>/<any(accept, decline, withdraw):action>")
@login_required
@idempotent
def offer_action(offer_id: int, action: str):
    _check_csrf()
    call = {
        "accept": services.accept_offer,
        "decline": services.decline_offer,
        "withdraw": services.withdraw_offer,
    }
    try:
        result = call[action](_me(), offer_id)
        checkout = services.checkout_url(result) if action == "accept" else None
    except services.OrderError as exc:
        unit_of_work.abandon()  # the answer is a redirect: without this it would be committed
        if exc.status == 404:
            abort(404)
        flash(exc.message, "error")
        return redirect(url_for("orders.offer_page", offer_id=offer_id), 303)
    if action == "accept":
        return redirect(checkout or url_for("orders.order_page", order_id=result.id), 303)
    flash("The offer is declined." if action == "decline" else "The offer is withdrawn.", "info")
    return redirect(url_for("orders.offer_page", offer_id=offer_id), 303)
