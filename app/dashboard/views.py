"""``/dashboard``: what needs the member's action first, then what they are waiting for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from app.contracts import services as contracts
from app.disputes import services as disputes
from app.hourly import pages as hourly_pages
from app.hourly import services as hourly
from app.messaging import services as messaging
from app.notifications import services as notifications
from app.orders import services as orders
from app.orders.models import Order
from app.payments import services as payments
from app.reviews import services as reviews

bp = Blueprint("dashboard", __name__, template_folder="templates")

# The statuses in which an order waits for this side (and what they should do).
BUYER_ACTION = {
    "awaiting_payment": "Pay to start the order",
    "awaiting_requirements": "Send the seller your requirements",
    "delivered": "Review the delivery: accept it or ask for a revision",
}
SELLER_ACTION = {"in_progress": "Deliver the work"}
ACTIVE_LIMIT = 50  # a dashboard, not the full list (the orders page pages through the rest)


@dataclass
class OrderRow:
    order: Order
    role: str
    todo: str | None  # what this member should do now; None: waiting for the other side


@dataclass
class Overview:
    to_do: list[OrderRow] = field(default_factory=list)
    waiting: list[OrderRow] = field(default_factory=list)


def _overview(user) -> Overview:
    overview = Overview()
    roles = [("buyer", BUYER_ACTION)] + ([("seller", SELLER_ACTION)] if user.is_seller else [])
    for role, actions in roles:
        active, _total = orders.list_orders(user, role=role, tab="active", per_page=ACTIVE_LIMIT)
        for order in active:
            if order.kind == "contract":
                continue  # a contract's steps are told by the contract (below)
            todo = actions.get(order.status)
            pending = orders.pending_cancellation(order)
            if pending is not None and pending.requested_by != user.id:
                todo = "Answer the request to cancel"
            (overview.to_do if todo else overview.waiting).append(OrderRow(order, role, todo))
    overview.to_do.sort(key=lambda row: (row.order.due_at is None, row.order.due_at or 0, row.order.id))
    return overview


REVIEWS_LIMIT = 10


@dataclass
class ReviewToWrite:
    order: Order
    role: str  # the member's side: "buyer" reviews the seller, "seller" the buyer
    closes_at: datetime


def _reviews_to_write(user) -> list[ReviewToWrite]:
    """Completed orders whose review window is open and the member has not reviewed yet."""
    rows = []
    for window in reviews.pending_reviews_for(user, limit=REVIEWS_LIMIT):
        order = orders.get_order(user, window.order_id)
        rows.append(ReviewToWrite(order, order.party(user.id) or "buyer", window.closes_at))
    return rows


DISPUTES_LIMIT = 5
TIMESHEETS_LIMIT = 10


@dataclass
class DisputeRow:
    dispute: object
    next_step: str


def _open_disputes(user) -> list[DisputeRow]:
    """The member's open disputes (the latest few) with what they should do next."""
    rows, _total = disputes.list_for_user(user, status="open", per_page=DISPUTES_LIMIT)
    return [DisputeRow(d, disputes.next_step(user, d)) for d in rows]


@bp.get("/dashboard")
@login_required
def dashboard():
    """The member's overview: orders needing their action, reviews to write, unread messages and
    notifications, earnings for sellers."""
    user = current_user._get_current_object()
    conversations = [c for c in messaging.list_conversations(user, limit=20) if c.unread_count][:5]
    return render_template(
        "dashboard/dashboard.html",
        overview=_overview(user),
        unread_messages=messaging.unread_total(user),
        conversations=conversations,
        unread_notifications=notifications.unread_count(user),
        balances=payments.balances(user) if user.is_seller else None,
        reviews_to_write=_reviews_to_write(user),
        contracts=contracts.to_do(user),
        disputes=_open_disputes(user),
        timesheets=hourly.timesheets_to_review(user, limit=TIMESHEETS_LIMIT),
        hourly_weeks=hourly_pages.freelancer_weeks(user) if user.is_seller else [],
    )
