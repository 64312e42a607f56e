"""Console pages for orders (list, detail, cancel and refund), the audit log and CSV exports.

Thin: parse the form, call ``orders.py``, ``audit_log.py`` or ``exports.py``, render; the
request's unit of work commits (an export's audit entry too, before the CSV streams).
Moderators may read orders and the audit log; cancelling or refunding and exporting CSV are
the admins'. The refund form moves money, so it carries ``idempotency_field()`` and its view
is ``@idempotent``: a double click refunds once. A refusal shows the page again with the
message on the form (``refuse_form``: nothing of the attempt is kept); an unknown order is 404.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from app.console import audit
from app.console.access import ADMIN, MODERATOR, console_required, console_user
from app.console.blueprints import bp
from app.console.errors import ConsoleError, ConsoleInputError
from app.console.operations import audit_log, exports, orders
from app.console.operations.forms import AuditFilterForm, CancelOrderForm, OrderFilterForm
from app.core import money, unit_of_work
from app.core.confirm import Confirmation, confirmation_required
from app.core.domain_errors import DomainError, refuse_form
from app.core.idempotency import idempotent
from app.orders import services as order_services


def _page() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


# --------------------------------------------------------------------------- orders


def _order_filters(form: OrderFilterForm):
    """``(filters, loose errors)``; the field errors land on the form."""
    try:
        return orders.order_filters(form.status.data, form.q.data, form.date_from.data, form.date_to.data), []
    except ConsoleInputError as exc:
        return None, refuse_form(exc, form)


@bp.get("/orders", endpoint="orders")
@console_required(MODERATOR)
def order_list():
    """Every order of the marketplace: filter by status and days placed, search, paginate."""
    form = OrderFilterForm(formdata=request.args)
    filters, loose = _order_filters(form)
    page = _page()
    rows, total = orders.search_orders(filters, page) if filters is not None else ([], 0)
    return _filtered_list(
        "console/orders.html",
        form,
        loose,
        filters,
        page,
        total,
        orders.ORDER_PAGE_SIZE,
        rows=rows,
        invalid=filters is None,
    )


def _filtered_list(template, form, loose, filters, page, total, page_size, **context):
    """A filtered, paginated list page: 422 when the filters are refused (``filters`` is None)."""
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        template,
        form=form,
        loose_errors=loose,
        total=total,
        page=page,
        pages=_pages(total, page_size),
        args=args,
        **context,
    ), (422 if filters is None else 200)


def _render_order(order_id: int, form: CancelOrderForm | None = None, loose: list | None = None, status=200):
    detail = orders.order_detail(order_id)
    form = form or CancelOrderForm(formdata=None)
    form.refund.label.text = f"Refund to the buyer ({detail.order.currency})"
    return render_template(
        "console/order.html",
        d=detail,
        order=detail.order,
        form=form,
        loose_errors=loose or [],
        can_refund=console_user().role == ADMIN,
        describe_changes=audit.describe_changes,
        file_url=order_services.delivery_file_url,
    ), status


@bp.get("/orders/<int(max=9223372036854775807):order_id>")
@console_required(MODERATOR)
def order(order_id: int):
    """One order: parties, status, timeline, deliveries, money, ledger and provider records."""
    return _render_order(order_id)


def _refused_order(order_id: int, form: CancelOrderForm, exc: DomainError):
    """The order page again, as it is now, with the refusal on the cancel form. Nothing of the
    attempt is kept, not even its idempotency claim: the corrected form can be sent."""
    if exc.status == 404:
        raise exc
    loose = refuse_form(exc, form, {"refund_minor": "refund"})
    return _render_order(order_id, form, loose, status=exc.status)


def _confirm_cancel(order_id: int) -> Confirmation:
    current = orders.get_order(order_id)
    refund = (request.form.get("refund") or "").strip() or "everything in escrow"
    return Confirmation(
        f"Cancel order {current.number} and refund?",
        f"Refund: {refund}. The buyer gets it back through the payment provider; what is not "
        "refunded is released to the seller minus commission. This cannot be undone.",
        "Cancel the order and refund",
        url_for("console.order", order_id=order_id),
    )


@bp.post("/orders/<int(max=9223372036854775807):order_id>/cancel")
@console_required(ADMIN)
@confirmation_required(_confirm_cancel)
@idempotent
def cancel_order(order_id: int):
    """Cancel with a full (empty amount) or partial refund and a reason; audited."""
    form = CancelOrderForm()
    current = orders.get_order(order_id)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        # Not stored by @idempotent either: the form's key can be sent again once corrected.
        unit_of_work.abandon()
        return _render_order(order_id, form, status=422)
    try:
        refund = money.parse_optional(form.refund.data, current.currency, allow_negative=True)
    except money.MoneyError as exc:  # not an amount of this currency
        return _refused_order(order_id, form, ConsoleError({"refund": str(exc)}))
    try:
        done = orders.cancel_order(console_user(), order_id, refund, form.reason.data)
    except order_services.OrderError as exc:
        return _refused_order(order_id, form, exc)
    refunded = sum(m.refunded_minor for m in done.milestones)
    if refunded:
        message = f"Order {done.number} is cancelled; {money.format(refunded, done.currency)} "
        message += "goes back to the buyer."
    else:
        message = f"Order {done.number} is cancelled without a refund."
    flash(message, "success")
    return redirect(url_for("console.order", order_id=order_id), 303)


# --------------------------------------------------------------------------- audit log


def _audit_form() -> AuditFilterForm:
    form = AuditFilterForm(formdata=request.args)
    form.actor_id.choices = [SelectChoice("", "Anyone")] + [
        SelectChoice(str(i), label) for i, label in audit.audit_actors()
    ]
    return form


def _audit_filters(form: AuditFilterForm):
    try:
        return audit_log.audit_filters(
            form.q.data,
            form.action.data,
            form.actor_id.data,
            form.target_type.data,
            form.target_id.data,
            form.date_from.data,
            form.date_to.data,
        ), []
    except ConsoleInputError as exc:
        return None, refuse_form(exc, form)


@bp.get("/audit-log", endpoint="audit_log")
@console_required(MODERATOR)
def audit_log_page():
    """Every console action: who, when, what, on which target, and the change."""
    form = _audit_form()
    filters, loose = _audit_filters(form)
    page = _page()
    entries, total = (
        audit.search_audit(page=page, per_page=audit_log.AUDIT_PAGE_SIZE, **filters)
        if filters is not None
        else ([], 0)
    )
    return _filtered_list(
        "console/audit_log.html",
        form,
        loose,
        filters,
        page,
        total,
        audit_log.AUDIT_PAGE_SIZE,
        entries=entries,
        describe_changes=audit.describe_changes,
        can_export=console_user().role == ADMIN,
    )


# --------------------------------------------------------------------------- CSV exports


@bp.get("/exports/users.csv")
@console_required(ADMIN)
def export_users():
    """Every user as CSV (admins only; the export itself is audited)."""
    exports.record_export(console_user(), "users")
    return exports.csv_response("users", exports.USER_CSV_HEADER, exports.user_csv_rows())


@bp.get("/exports/orders.csv")
@console_required(ADMIN)
def export_orders():
    """The orders matching the list's filters (all by default) as CSV."""
    form = OrderFilterForm(formdata=request.args)
    filters, loose = _order_filters(form)
    if filters is None:
        rows, total = [], 0
        return render_template(
            "console/orders.html",
            form=form,
            loose_errors=loose,
            rows=rows,
            total=total,
            page=1,
            pages=1,
            args={},
            invalid=True,
        ), 422
    exports.record_export(console_user(), "orders", filters.as_args())
    return exports.csv_response("orders", exports.ORDER_CSV_HEADER, exports.order_csv_rows(filters))


@bp.get("/exports/audit-log.csv")
@console_required(ADMIN)
def export_audit_log():
    """The audit log entries matching the page's filters as CSV."""
    form = _audit_form()
    filters, loose = _audit_filters(form)
    if filters is None:
        return render_template(
            "console/audit_log.html",
            form=form,
            loose_errors=loose,
            entries=[],
            total=0,
            page=1,
            pages=1,
            args={},
            describe_changes=audit.describe_changes,
            can_export=True,
        ), 422
    exports.record_export(console_user(), "audit_log", audit_log.audit_filters_for_record(filters))
    return exports.csv_response("audit-log", audit.AUDIT_CSV_COLUMNS, audit.iter_audit(**filters))
