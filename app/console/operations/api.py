"""Console API: the dashboard, orders (read, cancel and refund), the audit log, CSV exports.

Thin like the web views (``views_operations.py``, ``views_dashboard.py``): parse with a
schema, call ``app.console.kpis`` / ``app.console.operations``, serialize. Moderators may
read the dashboard, orders and the audit log; cancelling and refunding and the CSV exports
need the admin role. ``POST /orders/{id}/cancel`` moves money: it honours an
``Idempotency-Key`` header (the same key and body replay the first answer), and the action
and its audit entry commit once with the stored answer.

Refusals: 401 without a valid token, 403 below the role, 404 unknown order, 409 the order is
completed or cancelled already (``errors.current_status``), 422 field errors in smorest's
shape (``{"errors": {"json" | "query": {field: [message]}}}``).
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort

from app.console import audit
from app.console.access import ADMIN, MODERATOR, api_console_required, console_user
from app.console.blueprints import blp
from app.console.dashboard import kpis
from app.console.operations import orders as operations
from app.console.operations import schemas
from app.console.operations.views import csv_response
from app.core.idempotency import HEADER, idempotent
from app.orders import services as order_services
from tenants.db import db

ORDER_ID = "/orders/<int(max=9223372036854775807):order_id>"
CSV_DOC = {
    "responses": {
        "200": {
            "description": "CSV (UTF-8, header row first), streamed. Cells a spreadsheet would run as a "
            "formula are prefixed with `'`. The export is written to the audit log.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


def _invalid_query(exc: operations.ConsoleInputError | kpis.KpiError):
    abort(
        422, message=str(exc), errors={"query": {field: [message] for field, message in exc.errors.items()}}
    )


def _refuse(exc: order_services.OrderError):
    db.session.rollback()
    if isinstance(exc, order_services.OrderStateError):
        abort(409, message=exc.message, errors={"current_status": exc.current_status, "code": exc.code})
    if exc.status == 422:
        fields = {k: [v] for k, v in exc.errors.items() if k != order_services.FORM}
        if order_services.FORM in exc.errors:
            fields["_schema"] = [exc.errors[order_services.FORM]]
        abort(422, message=exc.message, errors={"json": fields, "code": exc.code})
    abort(exc.status, message=exc.message)


# --------------------------------------------------------------------------- dashboard


@blp.route("/dashboard", endpoint="dashboard")
class ConsoleDashboard(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(schemas.ConsoleDashboardArgs, location="query")
    @blp.response(200, schemas.DashboardSchema)
    @blp.alt_response(422, response="DEFAULT_ERROR", description="Unknown period or a bad range of days")
    def get(self, args):
        """The dashboard's figures for a period, with the previous period and a time series.

        `period`: `7d`, `30d` (default), `90d` or `12m`, ending today (UTC); or `from` and `to`
        (inclusive UTC days, at most three years). GMV is money paid in by buyers (ledger
        payments); commission is the net fee revenue; see each figure's `previous` and
        `change_pct`. The series is per day, week or month depending on the length.
        """
        try:
            return kpis.dashboard(args.get("period"), args.get("date_from"), args.get("date_to"))
        except kpis.KpiError as exc:
            _invalid_query(exc)


# --------------------------------------------------------------------------- orders


@blp.route("/orders", endpoint="orders")
class ConsoleOrders(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(schemas.ConsoleOrderListArgs, location="query")
    @blp.response(200, schemas.ConsoleOrderSchema(many=True))
    @blp.alt_response(422, response="DEFAULT_ERROR", description="Bad filters")
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Every order of the marketplace, newest first: filter by `status` and the days it was
        placed (`from`, `to`), search with `q`. Paginated (`page`, `page_size`; total in
        `X-Pagination`)."""
        try:
            filters = operations.order_filters(
                args.get("status"), args.get("q"), args.get("date_from"), args.get("date_to")
            )
        except operations.ConsoleInputError as exc:
            _invalid_query(exc)
        rows, total = operations.search_orders(
            filters, pagination_parameters.page, pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return rows


@blp.route(ORDER_ID, endpoint="order")
class ConsoleOrder(MethodView):
    @api_console_required(MODERATOR)
    @blp.response(200, schemas.ConsoleOrderDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, order_id):
        """Any order with its parties, timeline, money, ledger transactions and entries, the
        provider's payments and refunds, and the console actions taken on it."""
        try:
            return operations.order_detail(order_id)
        except order_services.OrderNotFound as exc:
            abort(404, message=exc.message)


@blp.route(f"{ORDER_ID}/cancel", endpoint="order_cancel")
class ConsoleOrderCancel(MethodView):
    @api_console_required(ADMIN)
    @idempotent
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": HEADER,
                "schema": {"type": "string"},
                "required": False,
                "description": "Retry-safe key: the same key and body replay the first answer (refund once).",
            }
        ]
    )
    @blp.arguments(
        schemas.ConsoleOrderCancelSchema,
        example={"reason": "Seller unresponsive; refund agreed with the buyer.", "refund_minor": 2500},
    )
    @blp.response(200, schemas.ConsoleOrderDetailSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="No such order")
    @blp.alt_response(409, response="DEFAULT_ERROR", description="Completed or cancelled already")
    @blp.alt_response(422, response="DEFAULT_ERROR", description="No reason, or a refund above the escrow")
    def post(self, body, order_id):
        """Admins: cancel an order, refunding the buyer all of the escrow (default) or
        `refund_minor` of it (0: nothing); the rest is released to the seller minus commission.
        The buyer is refunded at the payment provider; written to the audit log as
        `order.refund` (or `order.cancel`)."""
        try:
            operations.cancel_order(console_user(), order_id, body.get("refund_minor"), body["reason"])
        except order_services.OrderError as exc:
            _refuse(exc)
        return operations.order_detail(order_id)


# --------------------------------------------------------------------------- audit log


def _audit_filters(args: dict) -> dict:
    try:
        return operations.audit_filters(
            args.get("q"),
            args.get("action"),
            args.get("actor_id"),
            args.get("target_type"),
            args.get("target_id"),
            args.get("date_from"),
            args.get("date_to"),
        )
    except operations.ConsoleInputError as exc:
        _invalid_query(exc)


@blp.route("/audit-log", endpoint="audit_log")
class ConsoleAuditLog(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(schemas.ConsoleAuditArgs, location="query")
    @blp.response(200, schemas.ConsoleAuditEntrySchema(many=True))
    @blp.alt_response(422, response="DEFAULT_ERROR", description="Bad filters")
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Every console action (web, API, CLI), newest first: who, when, which target and the
        change. Search with `q`; filter by `action` (or its prefix), `actor_id`, `target_type`,
        `target_id` and days (`from`, `to`)."""
        filters = _audit_filters(args)
        entries, total = audit.search_audit(
            page=pagination_parameters.page, per_page=pagination_parameters.page_size, **filters
        )
        pagination_parameters.item_count = total
        return entries


# --------------------------------------------------------------------------- CSV exports


@blp.route("/exports/users.csv", endpoint="export_users")
class ExportUsers(MethodView):
    @api_console_required(ADMIN)
    @blp.doc(**CSV_DOC)
    def get(self):
        """Admins: every user as CSV (deleted and suspended ones with their status)."""
        operations.record_export(console_user(), "users")
        db.session.commit()
        return csv_response("users", operations.USER_CSV_HEADER, operations.user_csv_rows())


@blp.route("/exports/orders.csv", endpoint="export_orders")
class ExportOrders(MethodView):
    @api_console_required(ADMIN)
    @blp.arguments(schemas.ConsoleOrderListArgs, location="query")
    @blp.alt_response(422, response="DEFAULT_ERROR", description="Bad filters")
    @blp.doc(**CSV_DOC)
    def get(self, args):
        """Admins: the orders matching the filters of `GET /orders` (all by default) as CSV."""
        try:
            filters = operations.order_filters(
                args.get("status"), args.get("q"), args.get("date_from"), args.get("date_to")
            )
        except operations.ConsoleInputError as exc:
            _invalid_query(exc)
        operations.record_export(console_user(), "orders", filters.as_dict())
        db.session.commit()
        return csv_response("orders", operations.ORDER_CSV_HEADER, operations.order_csv_rows(filters))


@blp.route("/exports/audit-log.csv", endpoint="export_audit_log")
class ExportAuditLog(MethodView):
    @api_console_required(ADMIN)
    @blp.arguments(schemas.ConsoleAuditArgs, location="query")
    @blp.alt_response(422, response="DEFAULT_ERROR", description="Bad filters")
    @blp.doc(**CSV_DOC)
    def get(self, args):
        """Admins: the audit log entries matching the filters of `GET /audit-log` as CSV."""
        filters = _audit_filters(args)
        operations.record_export(console_user(), "audit_log", operations.audit_filters_for_record(filters))
        db.session.commit()
        return csv_response("audit-log", audit.AUDIT_CSV_COLUMNS, audit.iter_audit(**filters))
