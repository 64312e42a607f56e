"""Console actions and reads for orders, refunds, the audit log and CSV exports.

The one change here, ``cancel_order``, calls the orders domain's ``operator_cancel`` and
writes the audit entry in the same transaction; the web view and the API resource both
call it and commit once. Everything else reads: order search and detail (with the
order's ledger transactions and the provider's payments and refunds), the audit log's
filters, and the rows of the CSV exports (streamed in batches; nothing is held in memory).

Filter input is checked here for web and API alike; a refusal raises ``ConsoleInputError``
with field errors (``status``, ``q``, ``from``, ``to``, ``action``, ``actor_id``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.accounts.models import SellerProfile, User
from app.console import audit
from app.console.kpis import parse_day
from app.console.models import AuditEntry
from app.core import money
from app.gigs.models import Gig
from app.ledger import services as ledger
from app.orders import services as orders
from app.orders.models import ORDER_STATUSES, Milestone, Order
from tenants.db import db

ORDER_PAGE_SIZE = 25
AUDIT_PAGE_SIZE = 50
MAX_QUERY = 200
_ORDER_NUMBER_RE = re.compile(r"^#?\s*(\d{1,18})\Z")
_ACTION_RE = re.compile(r"^[a-z0-9_.]{1,64}\Z")


class ConsoleInputError(ValueError):
    """Bad filter input; ``errors`` maps a field to a message safe to show."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def day_range(date_from: Any, date_to: Any, errors: dict) -> tuple[datetime | None, datetime | None]:
    """``from`` / ``to`` days (inclusive, UTC; either may be empty) as ``[since, until)``."""
    first = None if _blank(date_from) else parse_day(date_from, "from", "The first day", errors)
    last = None if _blank(date_to) else parse_day(date_to, "to", "The last day", errors)
    if first and last and first > last:
        errors["to"] = "The last day must be on or after the first day."
    since = datetime.combine(first, time.min, tzinfo=UTC) if first else None
    until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC) if last else None
    return since, until


def _text(value: Any, name: str, label: str, max_len: int, errors: dict) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str):
        errors[name] = f"{label} must be text."
        return None
    value = value.strip()
    if len(value) > max_len:
        errors[name] = f"{label} must be at most {max_len} characters."
        return None
    return value


# --------------------------------------------------------------------------- orders: search


@dataclass(frozen=True)
class OrderFilters:
    status: str | None = None
    q: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    date_from: date | None = None
    date_to: date | None = None

    def as_dict(self) -> dict:
        """For the audit entry of an export and for links: only what was given."""
        values = {
            "status": self.status,
            "q": self.q,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }
        return {k: v for k, v in values.items() if v is not None}


def order_filters(
    status: Any = None, q: Any = None, date_from: Any = None, date_to: Any = None
) -> OrderFilters:
    """Checked order filters: a status, a search text (order number, buyer or seller name or
    email, order or gig title) and a range of days the order was placed in.
    Raises ConsoleInputError."""
    errors: dict[str, str] = {}
    if not _blank(status) and status not in ORDER_STATUSES:
        errors["status"] = f"Unknown status; use one of {', '.join(ORDER_STATUSES)}."
    text = _text(q, "q", "The search", MAX_QUERY, errors)
    since, until = day_range(date_from, date_to, errors)
    if errors:
        raise ConsoleInputError(errors)
    return OrderFilters(
        status=None if _blank(status) else status,
        q=text,
        since=since,
        until=until,
        date_from=since.date() if since else None,
        date_to=(until - timedelta(days=1)).date() if until else None,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _order_conditions(filters: OrderFilters) -> list:
    """WHERE clauses on ``orders`` alone (no join: counting stays a single-table scan).

    The search finds the matching users and gigs first (small tables, each read once), then
    the orders whose buyer, seller or gig is one of them, or whose number or title matches.
    """
    conditions = []
    if filters.status:
        conditions.append(Order.status == filters.status)
    if filters.since is not None:
        conditions.append(Order.created_at >= filters.since)
    if filters.until is not None:
        conditions.append(Order.created_at < filters.until)
    if filters.q:
        like = "%" + _escape_like(filters.q) + "%"
        # a CTE: the users are searched once for both sides of the order
        people = (
            sa.select(User.id)
            .where(sa.or_(User.email.ilike(like), User.display_name.ilike(like)))
            .cte("people")
        )
        gigs = sa.select(Gig.id).where(Gig.title.ilike(like))
        matches = [
            Order.buyer_id.in_(sa.select(people.c.id)),
            Order.seller_id.in_(sa.select(people.c.id)),
            Order.gig_id.in_(gigs),
            Order.title.ilike(like),
        ]
        number = _ORDER_NUMBER_RE.match(filters.q)
        if number and int(number[1]) < 2**63:
            matches.append(Order.id == int(number[1]))
        conditions.append(sa.or_(*matches))
    return conditions


def _orders_select(filters: OrderFilters, columns):
    """``columns(buyer, seller)`` of the orders matching ``filters``, with both parties joined."""
    buyer, seller = aliased(User, name="buyer"), aliased(User, name="seller")
    return (
        sa.select(*columns(buyer, seller))
        .select_from(Order)
        .join(buyer, buyer.id == Order.buyer_id)
        .join(seller, seller.id == Order.seller_id)
        .where(*_order_conditions(filters))
    )


@dataclass(frozen=True)
class OrderRow:
    order: Order
    buyer_name: str
    buyer_email: str
    seller_name: str
    seller_email: str


def search_orders(
    filters: OrderFilters, page: int = 1, per_page: int = ORDER_PAGE_SIZE
) -> tuple[list[OrderRow], int]:
    """Every order of the marketplace matching ``filters``, newest first, and the total."""
    page = page if isinstance(page, int) and 1 <= page <= 100_000 else 1
    per_page = max(1, min(100, int(per_page)))
    query = _orders_select(
        filters,
        lambda buyer, seller: (Order, buyer.display_name, buyer.email, seller.display_name, seller.email),
    )
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(Order).where(*_order_conditions(filters))
    )
    rows = db.session.execute(
        query.order_by(Order.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return [OrderRow(*row) for row in rows], int(total or 0)


# --------------------------------------------------------------------------- orders: detail


def get_order(order_id: Any) -> Order:
    """Any order of the bound tenant. Raises OrderNotFound."""
    oid = orders.parse_id(order_id)
    order = db.session.get(Order, oid) if oid else None
    if order is None:
        raise orders.OrderNotFound("This order does not exist.")
    return order


@dataclass
class ProviderPayment:
    id: int
    kind: str  # payment | refund
    provider: str
    status: str
    amount_minor: int
    currency: str
    provider_ref: str | None
    created_at: datetime


@dataclass
class OrderDetail:
    order: Order
    buyer: User
    seller: User
    money: orders.Money
    timeline: list
    deliveries: list
    cancellations: list
    ledger_transactions: list[ledger.TransactionLines]
    provider_records: list[ProviderPayment]
    audit: list[AuditEntry]
    actor_names: dict[int, str] = field(default_factory=dict)


def _provider_records(order_id: int) -> list[ProviderPayment]:
    """The provider's payments and refunds of an order (read-only), oldest first."""
    from app.payments.models import Payment, Refund

    records = [
        ProviderPayment(
            p.id, "payment", p.provider, p.status, p.amount_minor, p.currency, p.provider_ref, p.created_at
        )
        for p in db.session.scalars(sa.select(Payment).where(Payment.order_id == order_id))
    ]
    records += [
        ProviderPayment(
            r.id, "refund", r.provider, r.status, r.amount_minor, r.currency, r.provider_ref, r.created_at
        )
        for r in db.session.scalars(sa.select(Refund).where(Refund.order_id == order_id))
    ]
    return sorted(records, key=lambda r: (r.created_at, r.kind, r.id))


def order_detail(order_id: Any) -> OrderDetail:
    """An order with everything an operator needs to judge it. Raises OrderNotFound."""
    order = get_order(order_id)
    timeline = orders.timeline(order)
    entries, _total = audit.search_audit(per_page=100, target_type="order", target_id=str(order.id))
    actor_ids = {e.actor_id for e in timeline if e.actor_id} | {order.buyer_id, order.seller_id}
    names = {
        row.id: row.display_name
        for row in db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(actor_ids)))
    }
    return OrderDetail(
        order=order,
        buyer=db.session.get(User, order.buyer_id),
        seller=db.session.get(User, order.seller_id),
        money=orders.money(order),
        timeline=timeline,
        deliveries=orders.deliveries(order),
        cancellations=orders.cancellations(order),
        ledger_transactions=ledger.order_transactions(order.id),
        provider_records=_provider_records(order.id),
        audit=entries,
        actor_names=names,
    )


# --------------------------------------------------------------------------- orders: the action


def cancel_order(actor: User, order_id: Any, refund_minor: Any = None, reason: Any = "") -> Order:
    """Cancel an order as the operator, refunding the buyer ``refund_minor`` of the escrow
    (None: all of it; 0: nothing) and releasing the rest to the seller; audited as
    ``order.refund`` (or ``order.cancel`` when nothing is refunded). Flushes, never commits.

    Raises OrderForbidden (not an admin), OrderNotFound, OrderError (no reason; refund
    negative or above the escrow), OrderStateError (completed or cancelled already).
    """
    order = orders.lock_order(order_id)
    before = {
        "status": order.status,
        "refunded_minor": sum(m.refunded_minor for m in order.milestones),
        "escrow_minor": orders.escrow_balance(order) if orders.funded_total(order) else 0,
    }
    order = orders.operator_cancel(actor, order.id, refund_minor, reason)
    after = {
        "status": order.status,
        "refunded_minor": sum(m.refunded_minor for m in order.milestones),
        "escrow_minor": orders.escrow_balance(order),
    }
    refunded = after["refunded_minor"] - before["refunded_minor"]
    released = before["escrow_minor"] - refunded - after["escrow_minor"]
    full = refunded == before["escrow_minor"] and refunded > 0
    amount = money.format(refunded, order.currency)
    text = reason.strip() if isinstance(reason, str) else ""
    if refunded:
        summary = (
            f"Cancelled order {order.number} and refunded {amount} to the buyer "
            f"({'full' if full else 'partial'} refund): {text}"
        )
    else:
        summary = f"Cancelled order {order.number} without a refund: {text}"
    audit.record_audit(
        actor,
        "order.refund" if refunded else "order.cancel",
        "order",
        order.id,
        summary,
        {
            **audit.diff(before, after),
            "reason": text,
            "refund_minor": refunded,
            "released_to_seller_minor": released,
            "full_refund": full,
            "currency": order.currency,
        },
    )
    db.session.flush()
    return order


# --------------------------------------------------------------------------- audit log filters


def audit_filters(
    q: Any = None,
    action: Any = None,
    actor_id: Any = None,
    target_type: Any = None,
    target_id: Any = None,
    date_from: Any = None,
    date_to: Any = None,
) -> dict:
    """Checked filters of the audit log, as keyword arguments of ``audit.search_audit``.
    Raises ConsoleInputError."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {
        "q": _text(q, "q", "The search", 100, errors),
        "target_type": _text(target_type, "target_type", "The target type", 32, errors),
        "target_id": _text(target_id, "target_id", "The target id", 64, errors),
    }
    action_text = _text(action, "action", "The action", 64, errors)
    if action_text and not _ACTION_RE.match(action_text):
        errors["action"] = "An action looks like order.refund or user (lower case, dots)."
    clean["action"] = action_text
    if not _blank(actor_id):
        actor = orders.parse_id(actor_id.strip() if isinstance(actor_id, str) else actor_id)
        if actor is None:
            errors["actor_id"] = "Choose an operator from the list."
        clean["actor_id"] = actor
    since, until = day_range(date_from, date_to, errors)
    clean.update(since=since, until=until)
    if errors:
        raise ConsoleInputError(errors)
    return {k: v for k, v in clean.items() if v is not None}


def audit_filters_for_record(filters: dict) -> dict:
    """Filters as JSON-able details of an export's audit entry."""
    out = {}
    for key, value in filters.items():
        if key == "until" and isinstance(value, datetime):
            out["to"] = (value - timedelta(days=1)).date().isoformat()
        elif key == "since" and isinstance(value, datetime):
            out["from"] = value.date().isoformat()
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------- CSV exports

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
    query = _orders_select(
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
    took a copy of which data, with which filters. Flushes nothing; the caller commits."""
    labels = {"users": "users", "orders": "orders", "audit_log": "the audit log"}
    return audit.record_audit(
        actor,
        f"export.{what}",
        "export",
        what,
        f"Exported {labels.get(what, what)} as CSV",
        {"filters": details or {}},
    )
