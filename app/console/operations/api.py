"""Console API: orders (read, cancel and refund), the audit log, CSV exports.

Thin like the web views (``views.py``): parse with a schema, call ``orders.py``,
``audit_log.py`` or ``exports.py``, serialize. Moderators may read orders and the audit log;
cancelling and refunding and the CSV exports need the admin role. ``POST /orders/{id}/cancel``
moves money: it honours an ``Idempotency-Key`` header (the same key and body replay the first
answer), and the request's unit of work commits the action, its audit entry and the stored
answer at once.

Refusals are domain errors that the central handler answers (nothing is caught here): 401
without a valid token, 403 below the role, 404 unknown order, 409 the order is completed or
cancelled already (``errors.current_status``), 422 field errors in smorest's shape
(``{"errors": {"json" | "query": {field: [message]}}}``; bad filters are ``query``).
"""

from __future__ import annotations

from flask.views import MethodView

from app.console import audit
from app.console.access import ADMIN, MODERATOR, api_console_required, console_user
from app.console.blueprints import blp
from app.console.operations import audit_log, exports, orders, schemas
from app.core.idempotency import HEADER, idempotent

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
        filters = orders.order_filters(
            args.get("status"), args.get("q"), args.get("date_from"), args.get("date_to")
        )
        rows, total = orders.search_orders(
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
        return orders.order_detail(order_id)


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
        orders.cancel_order(console_user(), order_id, body.get("refund_minor"), body["reason"])
        return orders.order_detail(order_id)


# --------------------------------------------------------------------------- audit log


def _audit_filters(args: dict) -> dict:
    return audit_log.audit_filters(
        args.get("q"),
        args.get("action"),
        args.get("actor_id"),
        args.get("target_type"),
        args.get("target_id"),
        args.get("date_from"),
        args.get("date_to"),
    )


@blp.route("/audit-log", endpoint="audit_log")
class ConsoleAuditLog(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(schemas.ConsoleAuditArgs, location="query")
    @blp.response(200, schemas.ConsoleAuditEntrySchema(many=True))
    @blp.alt_response(422, response="DEFAULT_ERROR", description="Bad filters")
    @blp.paginate(keyset=("created_at", "id"), created=True)
    def get(self, args, pagination_parameters):
        """Every console action (web, API, CLI), newest first: who, when, which target and the
        change. Search with `q`; filter by `action` (or its prefix), `actor_id`, `target_type`,
        `target_id` and days (`from`, `to`)."""
        filters = _audit_filters(args)
        entries, total = audit.search_audit(
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
            window=pagination_parameters,
            **filters,
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
        exports.record_export(console_user(), "users")
        return exports.csv_response("users", exports.USER_CSV_HEADER, exports.user_csv_rows())


@blp.route("/exports/orders.csv", endpoint="export_orders")
class ExportOrders(MethodView):
    @api_console_required(ADMIN)
    @blp.arguments(schemas.ConsoleOrderListArgs, location="query")
    @blp.alt_response(422, response="DEFAULT_ERROR", description="Bad filters")
    @blp.doc(**CSV_DOC)
    def get(self, args):
        """Admins: the orders matching the filters of `GET /orders` (all by default) as CSV."""
        filters = orders.order_filters(
            args.get("status"), args.get("q"), args.get("date_from"), args.get("date_to")
        )
        exports.record_export(console_user(), "orders", filters.as_args())
        return exports.csv_response("orders", exports.ORDER_CSV_HEADER, exports.order_csv_rows(filters))


@blp.route("/exports/audit-log.csv", endpoint="export_audit_log")
class ExportAuditLog(MethodView):
    @api_console_required(ADMIN)
    @blp.arguments(schemas.ConsoleAuditArgs, location="query")
    @blp.alt_response(422, response="DEFAULT_ERROR", description="Bad filters")
    @blp.doc(**CSV_DOC)
    def get(self, args):
        """Admins: the audit log entries matching the filters of `GET /audit-log` as CSV."""
        filters = _audit_filters(args)
        exports.record_export(console_user(), "audit_log", audit_log.audit_filters_for_record(filters))
        return exports.csv_response("audit-log", audit.AUDIT_CSV_COLUMNS, audit.iter_audit(**filters))
