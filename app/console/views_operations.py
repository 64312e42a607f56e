"""Console pages for orders (list, detail, cancel and refund), the audit log and CSV exports.

Thin: parse the form, call ``app.console.operations``, render. Moderators may read orders
and the audit log; cancelling or refunding and exporting CSV are the admins'. The refund
form moves money, so it carries ``idempotency_field()`` and its view is ``@idempotent``:
a double click refunds once, and the decorator commits the action with its stored answer.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_wtf import FlaskForm
from wtforms import Field, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.console import audit, operations
from app.console.access import ADMIN, MODERATOR, console_required, console_user
from app.console.blueprints import bp
from app.core import money
from app.core.idempotency import idempotent
from app.orders import services as order_services
from app.orders.models import ORDER_STATUSES
from tenants.db import current_tenant, db, tenant_context

# --------------------------------------------------------------------------- forms


class OrderFilterForm(FlaskForm):
    """The orders list's filters (a GET form: no CSRF token; rules in ``operations.order_filters``)."""

    class Meta:
        csrf = False

    q = StringField("Search", description="Order number, buyer or seller name or email, title")
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")]
        + [SelectChoice(s, order_services.status_label(s)) for s in ORDER_STATUSES],
        validate_choice=False,
    )
    date_from = StringField("Placed from", name="from", render_kw={"type": "date"})
    date_to = StringField("Placed to", name="to", render_kw={"type": "date"})


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search", description="Summary, operator, action or target")
    action = StringField("Action", description="e.g. order.refund, or order for every order action")
    actor_id = SelectField("Operator", validate_choice=False)
    target_type = StringField("Target type", description="e.g. order, user, gig, settings")
    target_id = StringField("Target id")
    date_from = StringField("From", name="from", render_kw={"type": "date"})
    date_to = StringField("To", name="to", render_kw={"type": "date"})


class CancelOrderForm(FlaskForm):
    reason = TextAreaField(
        "Reason",
        validators=[
            DataRequired("Give the reason: the buyer and the seller see it."),
            Length(max=order_services.MAX_TEXT),
        ],
        description="Shown to the buyer and the seller, and kept in the audit log.",
    )
    refund = StringField(
        "Refund to the buyer",
        description="Empty: a full refund of what is in escrow. A smaller amount: a partial refund, the rest "
        "goes to the seller (minus commission). 0: no refund.",
        render_kw={"inputmode": "decimal", "placeholder": "all of it"},
    )


def _attach_errors(form: FlaskForm, errors: dict, names: dict[str, str]) -> list[str]:
    """Put field errors on the form's fields; returns the ones that belong to no field."""
    loose = []
    for key, message in errors.items():
        target = getattr(form, names.get(key, key), None)
        if isinstance(target, Field):
            target.errors = [*target.errors, message]
        else:
            loose.append(message)
    return loose


def _page() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


# --------------------------------------------------------------------------- orders


def _order_filters(form: OrderFilterForm):
    """``(filters, loose errors)``; the field errors land on the form."""
    try:
        return operations.order_filters(
            form.status.data, form.q.data, form.date_from.data, form.date_to.data
        ), []
    except operations.ConsoleInputError as exc:
        loose = _attach_errors(form, exc.errors, {"from": "date_from", "to": "date_to"})
        return None, loose


@bp.get("/orders")
@console_required(MODERATOR)
def orders():
    """Every order of the marketplace: filter by status and days placed, search, paginate."""
    form = OrderFilterForm(formdata=request.args)
    filters, loose = _order_filters(form)
    page = _page()
    rows, total = operations.search_orders(filters, page) if filters is not None else ([], 0)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "console/orders.html",
        form=form,
        loose_errors=loose,
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total, operations.ORDER_PAGE_SIZE),
        args=args,
        invalid=filters is None,
    ), (422 if filters is None else 200)


def _render_order(order_id: int, form: CancelOrderForm | None = None, loose: list | None = None, status=200):
    try:
        detail = operations.order_detail(order_id)
    except order_services.OrderNotFound:
        abort(404)
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


@bp.post("/orders/<int(max=9223372036854775807):order_id>/cancel")
@console_required(ADMIN)
@idempotent
def cancel_order(order_id: int):
    """Cancel with a full (empty amount) or partial refund and a reason; audited."""
    form = CancelOrderForm()
    try:
        current = operations.get_order(order_id)
    except order_services.OrderNotFound:
        abort(404)
    # A refusal rolls back: nothing half done stays, and the form's idempotency claim goes with it,
    # so the corrected form (a fresh key) or the same one can be sent again.
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        db.session.rollback()
        return _render_order(order_id, form, status=422)
    try:
        refund = money.parse_optional(form.refund.data, current.currency, allow_negative=True)
    except money.MoneyError as exc:
        db.session.rollback()
        form.refund.errors = [*form.refund.errors, str(exc)]
        return _render_order(order_id, form, status=422)
    try:
        done = operations.cancel_order(console_user(), order_id, refund, form.reason.data)
    except order_services.OrderError as exc:
        db.session.rollback()
        if exc.status == 404:
            abort(404)
        loose = _attach_errors(form, exc.errors, {"refund_minor": "refund", "reason": "reason"})
        return _render_order(order_id, form, loose, status=exc.status)
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
        return operations.audit_filters(
            form.q.data,
            form.action.data,
            form.actor_id.data,
            form.target_type.data,
            form.target_id.data,
            form.date_from.data,
            form.date_to.data,
        ), []
    except operations.ConsoleInputError as exc:
        return None, _attach_errors(form, exc.errors, {"from": "date_from", "to": "date_to"})


@bp.get("/audit-log")
@console_required(MODERATOR)
def audit_log():
    """Every console action: who, when, what, on which target, and the change."""
    form = _audit_form()
    filters, loose = _audit_filters(form)
    page = _page()
    entries, total = (
        audit.search_audit(page=page, per_page=operations.AUDIT_PAGE_SIZE, **filters)
        if filters is not None
        else ([], 0)
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "console/audit_log.html",
        form=form,
        loose_errors=loose,
        entries=entries,
        total=total,
        page=page,
        pages=_pages(total, operations.AUDIT_PAGE_SIZE),
        args=args,
        describe_changes=audit.describe_changes,
        can_export=console_user().role == ADMIN,
    ), (422 if filters is None else 200)


# --------------------------------------------------------------------------- CSV exports


def _in_tenant(tenant, chunks):
    """Stream ``chunks`` with ``tenant`` bound: the rows are read after the view has returned,
    when the request's own binding may be gone (the binding is explicit, never assumed)."""
    with tenant_context(tenant):
        yield from chunks


def csv_response(name: str, header, rows) -> Response:
    """A streamed CSV download of ``rows`` (read lazily, in the bound tenant)."""
    tenant = current_tenant()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    filename = f"{tenant.slug}-{name}-{stamp}.csv"
    body = stream_with_context(_in_tenant(tenant, audit.csv_rows(header, rows)))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/exports/users.csv")
@console_required(ADMIN)
def export_users():
    """Every user as CSV (admins only; the export itself is audited)."""
    operations.record_export(console_user(), "users")
    db.session.commit()
    return csv_response("users", operations.USER_CSV_HEADER, operations.user_csv_rows())


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
    operations.record_export(console_user(), "orders", filters.as_dict())
    db.session.commit()
    return csv_response("orders", operations.ORDER_CSV_HEADER, operations.order_csv_rows(filters))


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
    operations.record_export(console_user(), "audit_log", operations.audit_filters_for_record(filters))
    db.session.commit()
    return csv_response("audit-log", audit.AUDIT_CSV_COLUMNS, audit.iter_audit(**filters))
