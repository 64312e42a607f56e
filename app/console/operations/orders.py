"""Console reads and the one action on orders: search, detail, cancel and refund.

``cancel_order`` calls the orders domain's ``operator_cancel`` and writes the audit entry
in the same transaction; the web view and the API resource both call it (the request's
unit of work commits once). Everything else reads: the order search (its filters are
checked here for web and API alike; a refusal raises ``ConsoleInputError`` with field
errors ``status``, ``q``, ``from``, ``to``) and an order's detail with its ledger
transactions and the provider's payments and refunds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.console import audit
from app.console.filters import ListFilters, list_filters
from app.console.models import AuditEntry
from app.contracts.models import Contract
from app.contracts.services import contract_of_order
from app.core import money
from app.core.text import escape_like
from app.gigs.models import Gig
from app.ledger import services as ledger
from app.orders import services as orders
from app.orders.models import ORDER_STATUSES, Order
from tenants.db import db

ORDER_PAGE_SIZE = 25
MAX_QUERY = 200
_ORDER_NUMBER_RE = re.compile(r"^#?\s*(\d{1,18})\Z")


# --------------------------------------------------------------------------- orders: search


OrderFilters = ListFilters  # status, search text and a range of days


def order_filters(
    status: Any = None, q: Any = None, date_from: Any = None, date_to: Any = None
) -> OrderFilters:
    """Checked order filters: a status, a search text (order number, buyer or seller name or
    email, order or gig title) and a range of days the order was placed in.
    Raises ConsoleInputError."""
    return list_filters(ORDER_STATUSES, status, q, date_from, date_to, max_query=MAX_QUERY)


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
        like = "%" + escape_like(filters.q) + "%"
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


def orders_select(filters: OrderFilters, columns):
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
    query = orders_select(
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
    contract: Contract | None = None  # the contract whose engagement this order is


def provider_records(order_id: int) -> list[ProviderPayment]:
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
        provider_records=provider_records(order.id),
        audit=entries,
        actor_names=names,
        contract=contract_of_order(order.id) if order.kind == "contract" else None,
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
