"""CSV exports of users, orders and the audit log: the rows (streamed in batches of
``EXPORT_BATCH``; nothing is held in memory), the audit entry of each export, and the
streamed response shared by the web pages and the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Response, stream_with_context

from app.accounts.models import SellerProfile, User
from app.console import audit
from app.console.models import AuditEntry
from app.console.operations.orders import OrderFilters, orders_select
from app.core import money
from app.orders.models import Milestone, Order
from tenants.db import current_tenant, db, tenant_context

USER_CSV_HEADER = (
    "id",
    "email",
    "display_name",
    "handle",
    "role",
    "status",
    "seller",
    "country",
    "email_verified_at",
    "created_at",
    "last_login_at",
    "suspended_at",
    "suspended_reason",
)
ORDER_CSV_HEADER = (
    "id",
    "number",
    "created_at",
    "status",
    "kind",
    "title",
    "buyer_id",
    "buyer_email",
    "seller_id",
    "seller_email",
    "gig_id",
    "currency",
    "total_minor",
    "total",
    "refunded_minor",
    "paid_at",
    "delivered_at",
    "completed_at",
    "cancelled_at",
)
EXPORT_BATCH = 1000


def _keyset(query, id_column, batch: int) -> Iterator:
    """Run ``query`` in id order, ``batch`` rows per round trip (no ORM objects kept)."""
    last_id = 0
    while True:
        rows = db.session.execute(query.where(id_column > last_id).order_by(id_column).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1][0]


def user_csv_rows(batch: int = EXPORT_BATCH) -> Iterator[tuple]:
    """Every user of the marketplace (deleted and suspended ones too, with their status)."""
    is_seller = sa.exists().where(SellerProfile.user_id == User.id)
    query = sa.select(
        User.id,
        User.email,
        User.display_name,
        User.handle,
        User.role,
        User.status,
        sa.case((is_seller, "yes"), else_="no"),
        User.country,
        User.email_verified_at,
        User.created_at,
        User.last_login_at,
        User.suspended_at,
        User.suspended_reason,
    )
    yield from (tuple(row) for row in _keyset(query, User.id, batch))


def order_csv_rows(filters: OrderFilters, batch: int = EXPORT_BATCH) -> Iterator[tuple]:
    """The orders matching ``filters`` (all by default), oldest first."""
    refunded = (
        sa.select(sa.func.coalesce(sa.func.sum(Milestone.refunded_minor), 0))
        .where(Milestone.order_id == Order.id)
        .scalar_subquery()
    )
    query = orders_select(
        filters,
        lambda buyer, seller: (
            Order.id,
            Order.created_at,
            Order.status,
            Order.kind,
            Order.title,
            Order.buyer_id,
            buyer.email,
            Order.seller_id,
            seller.email,
            Order.gig_id,
            Order.currency,
            Order.total_minor,
            refunded,
            Order.paid_at,
            Order.delivered_at,
            Order.completed_at,
            Order.cancelled_at,
        ),
    )
    for row in _keyset(query, Order.id, batch):
        (oid, created, status, kind, title, buyer_id, buyer_email, seller_id, seller_email, gig_id, currency,
         total, refunded_minor, paid, delivered, completed, cancelled) = row  # fmt: skip
        yield (
            oid,
            f"#{oid}",
            created,
            status,
            kind,
            title,
            buyer_id,
            buyer_email,
            seller_id,
            seller_email,
            gig_id,
            currency,
            total,
            money.plain(total, currency),
            int(refunded_minor),
            paid,
            delivered,
            completed,
            cancelled,
        )


def record_export(actor: User, what: str, details: dict | None = None) -> AuditEntry:
    """Audit a CSV export (``export.users``, ``export.orders``, ``export.audit_log``): who
    took a copy of which data, with which filters. Flushes nothing; it commits with the request."""
    labels = {"users": "users", "orders": "orders", "audit_log": "the audit log"}
    return audit.record_audit(
        actor,
        f"export.{what}",
        "export",
        what,
        f"Exported {labels.get(what, what)} as CSV",
        {"filters": details or {}},
    )


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
