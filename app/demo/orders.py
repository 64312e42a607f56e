"""Demo orders: about four months of marketplace history, so the operator console has figures.

``seed_orders(slug, count)`` runs once per demo tenant, after its gigs and buyers exist,
and only while the tenant has no orders at all (so a second ``make run`` adds nothing).
It plans ``count`` orders with a generator seeded by the slug (the same buyers, gigs,
packages and fates each time; the dates are relative to now), then:

1. drives each order through the real services, oldest first: ``place_order``, the
   sandbox checkout (``open_checkout`` + ``sandbox_pay``, so every paid order has a
   provider payment an operator can refund from the console), requirements, delivery,
   sometimes a revision, completion by the buyer or by the review period
   (``auto_complete``), mutual cancellations with full or partial refunds, and a few
   operator refunds through the console's ``cancel_order`` (audited). Services that take
   ``now`` are given the step's date, so due dates, auto-completion dates and
   cancellation deadlines follow from it;
2. flags the overdue ones late (``flag_late_orders``);
3. dates what the services stamped "now" (plain UPDATEs in the bound tenant): the
   orders' created/paid/updated/cancelled/late dates, milestones' funding, the timeline
   rows, the ledger transactions of each order, the provider's payments, the console's
   audit entries, the demo buyers' sign-up dates (each before their first order) and the
   sellers' (before the history: "member since", days active for the seller levels).
   Amounts never change, so the ledger's invariants still hold (``verify`` does not look
   at dates);
4. clears earnings as of a month ago (clearance goes by the release dates just set) and
   pays a few sellers out then, then clears what is due today, so sellers have pending,
   available and paid-out money;
5. settles the outbox events of all this (see ``_settle_events``): the provider refund of
   a refunded order is made now (and dated like its cancellation), the review window of a
   completed order opens (from its completion date; ``app/demo/reviews.py`` writes the
   reviews next), the contracts' handler finds no contract to end; the timeline
   messages, bells and emails of the orders' own handler are skipped, since telling two
   parties about a delivery of three months ago would only flood the demo inboxes.

Everything is one transaction: the tenant gets all of its demo orders or none.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.core import money
from app.demo import people
from tenants.db import db

HISTORY_DAYS = 120
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
CLEARED_DAYS_AGO = 30  # the first clearance (and the payouts after it) happened this long ago
PAYOUT_SHARE = 3  # one seller in three with money available was paid out then

# The handlers that tell people about order steps (system messages in the order's
# conversation, notifications) are skipped for demo history; the payments' handler
# (refund at the provider) runs in the seed.
SKIPPED_HANDLERS = frozenset(
    {
        # The home page's cache: the demo bumps it once when a tenant is filled.
        "app.discovery.events.home_changed",
        # Partners' webhooks: demo history is told to no endpoint (the demo's own is added last).
        "app.webhooks.delivery.fan_out",
        "app.messaging.events.post_order_step",
        "app.notifications.events.notify_order_step",
        # The sellers' identity checks and the payout hold of the demo history (no bells either).
        "app.notifications.events.notify_payout_kyc_changed",
        "app.notifications.events.notify_payout_held",
    }
)
# The hourly domain follows escrow and dispute steps of its weeks; run here, they find no week
# of a gig order or a fixed contract and change nothing (the demo hourly weeks are billed inline).
HOURLY_HANDLERS = (
    "app.hourly.events.bill_funded_week",
    "app.hourly.events.settle_disputed_week",
    "app.hourly.events.pay_undisputed_week",
)
# The reviews' window of a completed order opens in the seed too (from the order's own
# completion date), so the demo reviews (app/demo/reviews.py) are written into it; the
# contracts' handler of order.completed / order.cancelled runs too (a gig order is no contract's
# engagement: it finds nothing to end).
INLINE_HANDLERS = frozenset(
    {
        "app.payments.events.refund_at_provider",
        "app.reviews.events.order_completed",
        "app.contracts.events.end_with_engagement",
        *HOURLY_HANDLERS,
    }
)

# What each step writes to an order's timeline (order_events.kind), to date those rows.
STEP_EVENTS = {
    "place": ("placed",),
    "pay": ("paid",),
    "brief": ("requirements_submitted",),
    "deliver": ("delivered",),
    "revise": ("revision_requested",),
    "complete": ("completed",),
    "auto_complete": ("auto_completed",),
    "cancel_unpaid": ("cancelled",),
    "ask_cancel": ("cancellation_requested",),
    "accept_cancel": ("cancelled", "refunded"),
    "operator_cancel": ("cancelled", "refunded"),
}
CANCEL_KINDS = ("mutual", "unpaid", "operator", "partial", "mutual", "operator_partial", "unpaid")

BRIEFS = [
    "Our brand colours are navy and coral; the audience is small business owners. Examples attached "
    "in the shared folder.",
    "We launch next month. Please keep the tone friendly and plain, no jargon.",
    "Everything you need is in the brief below; happy to answer questions in the chat.",
    "Target market is Europe and North America. Deadline is flexible by a day or two.",
    "Please follow the style of our current website; logo and fonts are in the attached kit.",
]
DELIVERIES = [
    "Here is the delivery, with the source files. Let me know if anything needs adjusting.",
    "All done! Files attached in the formats we agreed on.",
    "Delivered ahead of schedule; I included a short note on the choices I made.",
    "Final version attached. Thanks for the clear brief, it was a pleasure.",
]
REVISIONS = [
    "Close! Could you make the headline larger and try a warmer colour?",
    "Please swap the second and third sections and shorten the intro.",
    "Looks good; one small change: use our new logo file instead.",
]
CANCEL_REASONS = [
    "Our project was put on hold, sorry.",
    "We found the work was already covered internally.",
    "Scope changed after the kick-off; we agreed to stop here.",
]
OPERATOR_REASONS = [
    "Seller unresponsive for several days; full refund to the buyer.",
    "Duplicate order placed by mistake; refunded on the buyer's request.",
    "Dispute settled by support: partial refund agreed by both sides.",
]


@dataclass
class Plan:
    """One demo order: who orders what, its fate, and the dated steps that lead there."""

    fate: str
    buyer_id: int
    gig_id: int
    tier: str
    extras: list[int]
    quantity: int
    steps: list[tuple[str, datetime]] = field(default_factory=list)
    refund_share: float | None = None  # partial refunds: the buyer's share of the total
    late_at: datetime | None = None
    order_id: int | None = None

    def at(self, step: str) -> datetime | None:
        return next((when for name, when in self.steps if name == step), None)

    @property
    def placed(self) -> datetime:
        return self.steps[0][1]

    @property
    def last(self) -> datetime:
        return max(self.late_at or self.placed, self.steps[-1][1])

    @property
    def cancelled(self) -> datetime | None:
        return next(
            (w for n, w in self.steps if n in ("cancel_unpaid", "accept_cancel", "operator_cancel")), None
        )


@dataclass
class OrdersReport:
    orders: int = 0
    statuses: Counter = field(default_factory=Counter)
    late: int = 0
    refunds: int = 0
    payouts: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        labels = [
            ("completed", "completed"),
            ("delivered", "delivered"),
            ("in_progress", "in progress"),
            ("awaiting_requirements", "awaiting requirements"),
            ("awaiting_payment", "awaiting payment"),
            ("cancelled", "cancelled"),
        ]
        parts = [f"{self.statuses[key]} {label}" for key, label in labels if self.statuses[key]]
        return (
            f"{self.orders} orders ({', '.join(parts)}; {self.late} late, {self.refunds} refunded), "
            f"{self.payouts} payouts ({self.seconds:.1f} s)"
        )


def seed_orders(slug: str, count: int, *, now: datetime | None = None) -> OrdersReport | None:
    """Add ``count`` demo orders to the bound tenant when it has none yet; commits once.

    Returns what was added, or None when nothing was (the tenant already has orders,
    ``count`` is 0, or there are no demo buyers or active gigs to order).
    """
    from app.events.models import OutboxEvent
    from app.gigs.models import Gig
    from app.orders import services as orders
    from app.orders.models import Order

    started = time.perf_counter()
    if count <= 0 or db.session.scalar(sa.select(Order.id).limit(1)) is not None:
        return None
    emails = [f"{handle}@{slug}.test" for _name, handle in people.BUYERS]
    buyers = list(db.session.scalars(sa.select(User).where(User.email.in_(emails)).order_by(User.id)))
    gigs = list(db.session.scalars(sa.select(Gig).where(Gig.status == "active").order_by(Gig.id)).unique())
    gigs = [g for g in gigs if g.seller.is_active]
    if not buyers or not gigs:
        return None
    admin = db.session.scalar(sa.select(User).where(User.role == "admin").order_by(User.id).limit(1))
    now = now or datetime.now(UTC)
    watermark = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(OutboxEvent.id), 0)))
    rng = random.Random(f"gigforge-demo-orders-{slug}")  # noqa: S311  (content, not secrets)
    plans = _plan(rng, count, buyers, gigs, admin is not None, now)

    users = {u.id: u for u in buyers}
    users.update({g.seller_id: g.seller for g in gigs})
    for plan in plans:  # oldest first: order numbers grow with the dates
        _drive(plan, users, admin, rng)
    flagged = set(orders.flag_late_orders(now))
    db.session.flush()
    _date_orders(plans, flagged, now)
    _date_buyers(plans, buyers, rng, now)
    _date_sellers({g.seller_id for g in gigs}, random.Random(f"gigforge-demo-sellers-{slug}"), now)  # noqa: S311
    db.session.flush()
    db.session.expire_all()  # the rows above changed underneath the loaded objects
    payouts = _earnings_and_payouts(rng, now)
    _settle_events(watermark)
    _date_refunds(plans)
    db.session.commit()

    report = OrdersReport(orders=len(plans), payouts=payouts)
    report.statuses.update(
        dict(db.session.execute(sa.select(Order.status, sa.func.count()).group_by(Order.status)).all())
    )
    report.late = db.session.scalar(sa.select(sa.func.count()).where(Order.late_at.is_not(None)))
    report.refunds = sum(1 for p in plans if p.cancelled and p.fate != "cancel_unpaid")
    db.session.rollback()
    report.seconds = time.perf_counter() - started
    return report


# --------------------------------------------------------------------------- planning


def _quotas(count: int) -> list[str]:
    """The fates of ``count`` orders: mostly completed, a few of every other state."""
    special = (
        ["late"] * (2 if count >= 20 else 1)
        + ["delivered"] * max(2, round(count * 0.05))
        + ["in_progress"] * max(2, round(count * 0.07))
        + ["awaiting_requirements"] * max(1, round(count * 0.03))
        + ["awaiting_payment"] * max(2, round(count * 0.04))
        + [f"cancel_{CANCEL_KINDS[i % len(CANCEL_KINDS)]}" for i in range(max(3, round(count * 0.08)))]
    )
    # Small demos keep at least half of their orders completed (the cancellations first).
    special.sort(key=lambda fate: not fate.startswith("cancel_"))
    special = special[: count // 2]
    return special + ["completed"] * (count - len(special))


def _plan(rng: random.Random, count: int, buyers, gigs, has_admin: bool, now: datetime) -> list[Plan]:
    from app.orders import services as orders
    from app.settings.models import MarketplaceSettings

    settings = db.session.get(MarketplaceSettings, 1)
    auto_days = settings.auto_complete_days
    # Some buyers come back often, some gigs sell much more than others.
    buyer_weights = [1 / (1 + 0.25 * i) for i in range(len(buyers))]
    rng.shuffle(buyer_weights)
    gig_weights = [rng.paretovariate(1.3) for _ in gigs]
    plans = []
    for i, fate in enumerate(_quotas(count)):
        if not has_admin and fate.startswith("cancel_operator"):
            fate = "cancel_mutual"
        buyer = rng.choices(buyers, weights=buyer_weights)[0]
        gig = rng.choices(gigs, weights=gig_weights)[0]
        tier = rng.choices(("basic", "standard", "premium"), weights=(6, 3, 1))[0]
        # Extras and quantities now and then (at least one order in ten of each).
        extras = [e.id for e in gig.extras if rng.random() < 0.2 or (i % 10 == 4 and e is gig.extras[-1])]
        quantity = rng.randint(2, 3) if rng.random() < 0.08 or i % 10 == 7 else 1
        days = orders.quote(gig.id, tier, extras, quantity, buyer).delivery_days
        plan = Plan(fate, buyer.id, gig.id, tier, extras, quantity)
        _timeline(plan, days, auto_days, rng, now)
        plans.append(plan)
    plans.sort(key=lambda p: p.placed)
    return plans


def _placed(rng: random.Random, now: datetime) -> datetime:
    """A placement date of the last HISTORY_DAYS, more of them recently, fewer on weekends."""
    while True:
        share = rng.random() if rng.random() < 0.4 else 1 - math.sqrt(rng.random())
        when = now - HISTORY_DAYS * share * DAY
        if when.weekday() < 5 or rng.random() < 0.65:
            return when


def _between(rng: random.Random, low: timedelta, high: timedelta) -> timedelta:
    return low + (high - low) * rng.random()


def _timeline(plan: Plan, days: int, auto_days: int, rng: random.Random, now: datetime) -> None:
    """Fill ``plan.steps`` (and ``late_at``) for its fate; every step is in the past."""
    pay_gap = _between(rng, 3 * MINUTE, 4 * HOUR)
    brief_gap = _between(rng, 10 * MINUTE, 20 * HOUR)
    work = max(2 * HOUR, days * DAY * rng.uniform(0.35, 0.95))
    fate = plan.fate

    def backwards(brief: datetime) -> list[tuple[str, datetime]]:
        paid = brief - brief_gap
        return [("place", paid - pay_gap), ("pay", paid), ("brief", brief)]

    if fate == "awaiting_payment":
        plan.steps = [("place", now - _between(rng, 20 * MINUTE, 6 * DAY))]
    elif fate == "awaiting_requirements":
        paid = now - _between(rng, 30 * MINUTE, 40 * HOUR)
        plan.steps = [("place", paid - pay_gap), ("pay", paid)]
    elif fate == "in_progress":  # due in the future
        plan.steps = backwards(now - days * DAY * rng.uniform(0.05, 0.7))
    elif fate == "late":  # overdue by half a day to five days, not delivered
        due = now - _between(rng, 12 * HOUR, 5 * DAY)
        plan.steps = backwards(due - days * DAY)
        plan.late_at = due + _between(rng, MINUTE, 10 * MINUTE)  # the next tick of the worker
    elif fate == "delivered":  # still within the review period
        delivered = now - _between(rng, HOUR, auto_days * DAY * 0.8)
        plan.steps = [*backwards(delivered - work), ("deliver", delivered)]
    else:  # completed or cancelled: placed any time, finished before now
        for _ in range(200):
            steps = _finished(plan, days, auto_days, rng, _placed(rng, now), pay_gap, brief_gap, work)
            if steps[-1][1] <= now - 30 * MINUTE:
                break
        else:  # keep the shape, move it into the past
            shift = steps[-1][1] - (now - HOUR)
            steps = [(name, when - shift) for name, when in steps]
        plan.steps = steps


def _finished(
    plan: Plan, days, auto_days, rng, placed, pay_gap, brief_gap, work
) -> list[tuple[str, datetime]]:
    paid = placed + pay_gap
    brief = paid + brief_gap
    due = brief + days * DAY
    if plan.fate == "cancel_unpaid":
        return [("place", placed), ("cancel_unpaid", placed + _between(rng, HOUR, 2 * DAY))]
    steps = [("place", placed), ("pay", paid), ("brief", brief)]
    if plan.fate.startswith("cancel_"):
        asked = brief + (due - brief) * rng.uniform(0.15, 0.7)
        answered = asked + _between(rng, HOUR, min(36 * HOUR, (due - asked) * 0.9))
        if plan.fate in ("cancel_operator", "cancel_operator_partial"):
            plan.refund_share = None if plan.fate == "cancel_operator" else rng.uniform(0.3, 0.6)
            return [*steps, ("operator_cancel", asked)]
        if plan.fate == "cancel_partial":  # the seller asks, keeping part for the work done
            plan.refund_share = rng.uniform(0.4, 0.7)
        return [*steps, ("ask_cancel", asked), ("accept_cancel", answered)]
    delivered = brief + work
    steps.append(("deliver", delivered))
    if rng.random() < 0.15:  # one round of changes
        revised = delivered + _between(rng, 2 * HOUR, 30 * HOUR)
        delivered = revised + _between(rng, 8 * HOUR, 40 * HOUR)
        steps += [("revise", revised), ("deliver", delivered)]
    if rng.random() < 0.2:  # the buyer never clicked: the review period ran out
        return [*steps, ("auto_complete", delivered + auto_days * DAY + _between(rng, MINUTE, 10 * MINUTE))]
    return [*steps, ("complete", delivered + _between(rng, HOUR, auto_days * DAY - HOUR))]


# --------------------------------------------------------------------------- driving


def _drive(plan: Plan, users: dict[int, User], admin: User | None, rng: random.Random) -> None:
    """Run the plan's steps through the services (flushes only)."""
    from app.console.operations.orders import cancel_order
    from app.orders import services as orders
    from app.payments import services as payments

    buyer = users[plan.buyer_id]
    order = orders.place_order(buyer, plan.gig_id, plan.tier, plan.extras, plan.quantity)
    plan.order_id = order.id
    seller = users[order.seller_id]
    refund = None
    if plan.refund_share is not None:
        unit = money.minor_unit(order.currency)
        refund = max(unit, int(order.total_minor * plan.refund_share) // unit * unit)
    for step, when in plan.steps[1:]:
        if step == "pay":
            checkout = payments.open_checkout(order)
            expiry = f"12/{(when.year + 5) % 100:02d}"
            result = payments.sandbox_pay(buyer, checkout.payment_id, "4242 4242 4242 4242", expiry, "123")
            if result.outcome != "succeeded":
                raise RuntimeError(f"demo order {order.id}: the sandbox payment {result.outcome}")
        elif step == "brief":
            orders.submit_requirements(buyer, order.id, rng.choice(BRIEFS), now=when)
        elif step == "deliver":
            orders.deliver(seller, order.id, rng.choice(DELIVERIES), now=when)
        elif step == "revise":
            orders.request_revision(buyer, order.id, rng.choice(REVISIONS), now=when)
        elif step == "complete":
            orders.complete(buyer, order.id, now=when)
        elif step == "auto_complete":
            if orders.auto_complete(order.id, now=when) is None:
                raise RuntimeError(f"demo order {order.id} was not due for auto-completion")
        elif step == "cancel_unpaid":
            orders.request_cancellation(buyer, order.id, rng.choice(CANCEL_REASONS), now=when)
        elif step == "ask_cancel":
            asker = seller if plan.fate == "cancel_partial" else buyer
            orders.request_cancellation(asker, order.id, rng.choice(CANCEL_REASONS), refund, now=when)
        elif step == "accept_cancel":
            answerer = buyer if plan.fate == "cancel_partial" else seller
            orders.respond_cancellation(answerer, order.id, True, now=when)
        elif step == "operator_cancel":
            reason = OPERATOR_REASONS[2] if refund is not None else rng.choice(OPERATOR_REASONS[:2])
            cancel_order(admin, order.id, refund, reason)
        else:
            raise ValueError(f"unknown demo step {step!r}")


# --------------------------------------------------------------------------- events


def _settle_events(
    after_id: int,
    *,
    inline: frozenset[str] = INLINE_HANDLERS,
    skip: Callable[[str], bool] = SKIPPED_HANDLERS.__contains__,
) -> None:
    """Settle the outbox events published in this transaction (ids above ``after_id``).

    An event whose handlers are all known here is marked dispatched: the payments'
    refund runs now (in this transaction, as the worker would run it), the orders'
    notifier is skipped (no messages, bells or emails about demo history). An event
    with another handler (a domain that listens to orders later) stays pending for the
    worker, with the handlers known here recorded as processed so only the others run.

    The events are read from the outbox (this transaction's rows after ``after_id``), again
    after the inline handlers ran, until none is new (a provider refund publishes
    ``refund.completed``); those settled here are also taken off the after-commit delivery
    list. ``inline`` and ``skip`` name the handlers run here and those skipped (the demo jobs
    pass their own).
    """
    from app.events.models import OutboxEvent, ProcessedEvent
    from app.events.registry import handlers_for
    from app.events.services import _PENDING_KEY

    def known(key: str) -> bool:
        return key in inline or skip(key)

    settled, leftover = [], set()
    cursor = after_id
    while True:
        events = db.session.scalars(
            sa.select(OutboxEvent)
            .where(OutboxEvent.id > cursor, OutboxEvent.status == "pending")
            .order_by(OutboxEvent.id)
        ).all()
        if not events:
            break
        cursor = events[-1].id
        for event in events:
            handlers = handlers_for(event.name)
            for handler in handlers:
                if handler.key in inline:
                    handler.fn(event)
            if all(known(h.key) for h in handlers):
                settled.append(event.id)
            else:
                leftover.add(event.id)
                db.session.add_all(
                    ProcessedEvent(event_id=event.id, handler=h.key) for h in handlers if known(h.key)
                )
        db.session.flush()
    if settled:
        db.session.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.id.in_(settled))
            .values(status="dispatched", dispatched_at=sa.func.now(), attempts=1)
        )
    # What is still to be enqueued after the commit: only the events left to the worker.
    pending = db.session.info.get(_PENDING_KEY)
    if pending:
        done = set(settled)
        pending[:] = [(tenant_id, event_id) for tenant_id, event_id in pending if event_id not in done]
    db.session.flush()


# --------------------------------------------------------------------------- dating


def _date_orders(plans: list[Plan], flagged: set[int], now: datetime) -> None:
    """Give each order's rows the dates of its plan (the services stamped some of them now)."""
    from app.console.models import AuditEntry
    from app.ledger.models import LedgerTransaction
    from app.orders.models import Milestone, Order, OrderEvent
    from app.payments.models import Payment

    by_order = {p.order_id: p for p in plans}
    ids = list(by_order)

    def late_at(plan: Plan) -> datetime | None:
        if plan.order_id not in flagged:
            return None
        return plan.late_at or now

    db.session.execute(
        sa.update(Order),
        [
            {
                "id": p.order_id,
                "created_at": p.placed,
                "paid_at": p.at("pay"),
                "cancelled_at": p.cancelled,
                "late_at": late_at(p),
                "updated_at": p.last,
            }
            for p in plans
        ],
    )
    milestones = db.session.execute(
        sa.select(Milestone.id, Milestone.order_id).where(Milestone.order_id.in_(ids))
    ).all()
    paid = [{"id": m.id, "funded_at": by_order[m.order_id].at("pay")} for m in milestones]
    if paid:
        db.session.execute(sa.update(Milestone), paid)

    # Timeline rows: each takes the date of the step that wrote it (in order).
    rows = db.session.execute(
        sa.select(OrderEvent.id, OrderEvent.order_id, OrderEvent.kind)
        .where(OrderEvent.order_id.in_(ids))
        .order_by(OrderEvent.id)
    ).all()
    cursor: dict[int, int] = {}
    updates = []
    for row in rows:
        plan = by_order[row.order_id]
        if row.kind == "late":
            when = late_at(plan) or now
        else:
            start = cursor.get(row.order_id, 0)
            match = next(
                (i for i in range(start, len(plan.steps)) if row.kind in STEP_EVENTS[plan.steps[i][0]]),
                None,
            )
            index = match if match is not None else max(0, start - 1)
            cursor[row.order_id] = index + 1 if match is not None else start
            when = plan.steps[index][1]
        updates.append({"id": row.id, "created_at": when})
    if updates:
        db.session.execute(sa.update(OrderEvent), updates)

    # Money: payments when paid, releases and refunds when completed or cancelled.
    def money_date(plan: Plan, kind: str) -> datetime:
        return plan.at("pay") if kind == "payment" else plan.cancelled or plan.steps[-1][1]

    transactions = db.session.execute(
        sa.select(LedgerTransaction.id, LedgerTransaction.order_id, LedgerTransaction.kind).where(
            LedgerTransaction.order_id.in_(ids)
        )
    ).all()
    if transactions:
        db.session.execute(
            sa.update(LedgerTransaction),
            [{"id": t.id, "created_at": money_date(by_order[t.order_id], t.kind)} for t in transactions],
        )
    payments = db.session.execute(
        sa.select(Payment.id, Payment.order_id).where(Payment.order_id.in_(ids))
    ).all()
    if payments:
        updates = []
        for payment in payments:
            plan = by_order[payment.order_id]
            opened = plan.placed + min(2 * MINUTE, (plan.at("pay") - plan.placed) / 2)
            updates.append({"id": payment.id, "created_at": opened, "succeeded_at": plan.at("pay")})
        db.session.execute(sa.update(Payment), updates)
    audits = db.session.execute(
        sa.select(AuditEntry.id, AuditEntry.target_id).where(
            AuditEntry.target_type == "order", AuditEntry.target_id.in_([str(i) for i in ids])
        )
    ).all()
    if audits:
        db.session.execute(
            sa.update(AuditEntry),
            [{"id": a.id, "created_at": by_order[int(a.target_id)].cancelled} for a in audits],
        )


def _date_refunds(plans: list[Plan]) -> None:
    """The provider's refunds (made when the events were settled) on the day of the cancellation."""
    from app.payments.models import Refund

    by_order = {p.order_id: p for p in plans}
    refunds = db.session.execute(
        sa.select(Refund.id, Refund.order_id).where(Refund.order_id.in_(list(by_order)))
    ).all()
    if refunds:
        db.session.execute(
            sa.update(Refund),
            [
                {
                    "id": r.id,
                    "created_at": by_order[r.order_id].cancelled,
                    "succeeded_at": by_order[r.order_id].cancelled,
                }
                for r in refunds
            ],
        )


def _date_buyers(plans: list[Plan], buyers: list[User], rng: random.Random, now: datetime) -> None:
    """Demo buyers signed up over the period, each some time before their first order."""
    first = {}
    for plan in plans:
        first.setdefault(plan.buyer_id, plan.placed)
    updates = []
    for buyer in buyers:
        if buyer.id in first:
            joined = first[buyer.id] - _between(rng, 30 * MINUTE, 10 * DAY)
        else:
            joined = now - _between(rng, HOUR, HISTORY_DAYS * DAY)
        verified = joined + _between(rng, 2 * MINUTE, 30 * MINUTE)
        updates.append({"id": buyer.id, "created_at": joined, "email_verified_at": verified})
    db.session.execute(sa.update(User), updates)


def _date_sellers(seller_ids: set[int], rng: random.Random, now: datetime) -> None:
    """Demo sellers joined before the history starts (4 months to 2 years ago): their profiles
    say "member since" then, and the days-active threshold of the seller levels can be met."""
    from app.accounts.models import SellerProfile

    users, profiles = [], []
    for seller_id in sorted(seller_ids):
        joined = now - HISTORY_DAYS * DAY - _between(rng, 10 * DAY, 600 * DAY)
        verified = joined + _between(rng, 2 * MINUTE, 30 * MINUTE)
        users.append({"id": seller_id, "created_at": joined, "email_verified_at": verified})
        profiles.append({"user_id": seller_id, "created_at": joined + _between(rng, HOUR, 5 * DAY)})
    if users:
        db.session.execute(sa.update(User), users)
        db.session.execute(sa.update(SellerProfile), profiles)


# --------------------------------------------------------------------------- earnings


def _earnings_and_payouts(rng: random.Random, now: datetime) -> int:
    """Clear earnings as of a month ago and pay some sellers out then; clear today's. Returns payouts."""
    from app.ledger import services as ledger
    from app.ledger.models import LedgerTransaction
    from app.orders.services import marketplace_currency
    from app.payments import services as payments
    from app.payments.models import Payout

    currency = marketplace_currency()
    then = now - CLEARED_DAYS_AGO * DAY
    blocked = _payout_accounts(then)
    watermark = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(LedgerTransaction.id), 0)))
    payments.clear_due_earnings(then)
    db.session.execute(
        sa.update(LedgerTransaction)
        .where(LedgerTransaction.id > watermark, LedgerTransaction.kind == "clearance")
        .values(created_at=then)
    )
    available = [
        (ledger.seller_balances(seller_id, currency)["available"], seller_id)
        for seller_id in payments.seller_ids_with_profiles()
    ]
    available = sorted((a for a in available if a[0] > 0 and a[1] not in blocked), reverse=True)
    chosen = available[: max(1, len(available) // PAYOUT_SHARE)] if available else []
    made = 0
    for amount, seller_id in chosen:
        payout = payments.request_payout(db.session.get(User, seller_id), amount)
        requested = then + _between(rng, 2 * HOUR, 5 * DAY)
        db.session.execute(
            sa.update(Payout)
            .where(Payout.id == payout.id)
            .values(requested_at=requested, sent_at=requested + _between(rng, 5 * MINUTE, 2 * HOUR))
        )
        db.session.execute(
            sa.update(LedgerTransaction)
            .where(LedgerTransaction.idempotency_key == f"payout:{payout.ledger_ref}")
            .values(created_at=requested)
        )
        made += 1
    payments.clear_due_earnings(now)
    db.session.flush()
    return made


MIN_SELLERS_FOR_BLOCKED = 5


def _payout_accounts(then: datetime) -> set[int]:
    """Sellers' identity checks (the sandbox's simulation, as an operator completes it): every
    seller verified but the last two (with at least ``MIN_SELLERS_FOR_BLOCKED`` sellers): one
    waits for the operator (pending), one is verified and held (a hold with a reason). Returns
    those two, whom no payout goes to."""
    from app.payments import backoffice
    from app.payments import services as payments
    from app.payments.models import PayoutHold, SellerPaymentAccount

    admin = db.session.scalar(sa.select(User).where(User.role == "admin").order_by(User.id).limit(1))
    seller_ids = payments.seller_ids_with_profiles()
    if admin is None or not seller_ids:
        return set()
    # Only a marketplace with a few sellers to spare shows them (a tiny one keeps its payouts).
    pending = seller_ids[-1] if len(seller_ids) >= MIN_SELLERS_FOR_BLOCKED else None
    held = seller_ids[-2] if len(seller_ids) >= MIN_SELLERS_FOR_BLOCKED else None
    for seller_id in seller_ids:
        backoffice.start_sandbox_verification(db.session.get(User, seller_id), now=then)
        if seller_id != pending:
            backoffice.decide_sandbox_kyc(admin, seller_id, "verified", now=then)
    if held is not None:
        backoffice.place_hold(
            admin, held, "Demo: a buyer reported the seller's portfolio as copied; checking.", now=then
        )
    db.session.execute(sa.update(SellerPaymentAccount).values(created_at=then, updated_at=then))
    db.session.execute(sa.update(PayoutHold).values(placed_at=then))
    return {i for i in (pending, held) if i is not None}
