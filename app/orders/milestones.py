"""The milestone engine: an engagement paid milestone by milestone out of escrow.

Serves custom offers with several milestones now and job contracts later (issue #15, see
docs/design/jobs-and-contracts.md); a one-milestone gig order keeps the order-level
deliver / revision / complete flow of ``app.orders.services``.

The state machine is data (``TRANSITIONS``): every move goes through ``_move``, which
refuses (409, ``OrderStateError`` naming the milestone's current state) a move the table
does not list for that actor. Moves lock the order row first (``services.lock_order``), so
of two concurrent steps on one order (accept vs an operator's refund or cancel) exactly one
applies and the other sees the new state.

Money: funding posts the milestone's payment into the order's escrow; accepting releases
that milestone's amount (less refunds) to the seller minus commission in the same
transaction, and the milestone is ``paid``. Every posting carries the milestone's id and
the ledger refuses one that would take out of escrow more than that milestone put in
(``app.ledger.services._check_milestone_escrow``): one milestone's money never pays another's.

Events (outbox), besides the order-level ``order.paid`` (first funding; its payload also
carries ``amount_minor``, ``currency`` and ``milestone_id``) and ``order.completed`` (last
milestone paid):

- ``milestone.funding_requested``, ``milestone.funded``, ``milestone.submitted``,
  ``milestone.rejected`` (changes requested), ``milestone.accepted``,
  ``milestone.auto_release_reminder``: payload ``{"order_id", "order_event_id",
  "milestone_id"}`` (a timeline row, told in words by ``app.orders.announcements``, so the
  order's conversation and notifications follow them like ``order.*`` steps);
- ``escrow.funded`` ``{"order_id", "milestone_id", "amount_minor", "currency",
  "payment_ref"}`` and ``escrow.released`` ``{"order_id", "milestone_id", "amount_minor",
  "fee_minor", "seller_net_minor", "currency"}``: the money, for the payments and
  reporting side.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from app.accounts.models import User
from app.core.ids import parse_id
from app.events import publish
from app.ledger import services as ledger
from app.orders import services
from app.orders.models import Milestone, Order, OrderEvent
from app.orders.services import OrderError, OrderNotFound, OrderStateError
from tenants.db import db

MAX_LINKS = 5
MAX_LINK = 500
REMINDER_DAYS = 2  # the auto-release reminder goes out this long before the release


class Transition(NamedTuple):
    source: str
    target: str
    who: tuple[str, ...]  # buyer, seller, payments, engine, job, operator, party, dispute
    guard: str  # what must hold besides the state (documentation; checked in the step)
    event: str | None


TRANSITIONS: tuple[Transition, ...] = (
    Transition("planned", "funding_required", ("buyer",), "", "milestone.funding_requested"),
    Transition(
        "funding_required",
        "funded",
        ("payments",),
        "the captured amount equals the milestone's",
        "milestone.funded",
    ),
    Transition("planned", "funded", ("payments",), "funded ahead", "milestone.funded"),
    Transition(
        "funded", "submitted", ("seller",), "order in progress; every DoD item ticked", "milestone.submitted"
    ),
    Transition("changes_requested", "submitted", ("seller",), "every DoD item ticked", "milestone.submitted"),
    Transition("submitted", "changes_requested", ("buyer",), "feedback text", "milestone.rejected"),
    Transition(
        "submitted", "accepted", ("buyer", "job"), "job: auto_release_at passed", "milestone.accepted"
    ),
    Transition(
        "funded",
        "accepted",
        ("billing",),
        "an hourly week the client approved: released once its charge is confirmed",
        "milestone.accepted",
    ),
    Transition("accepted", "paid", ("engine",), "same transaction: ledger release", "escrow.released"),
    # Refunds come from the order-level cancellation (mutual, auto-resolved, or operator):
    # ``services._cancel`` refunds the held milestones latest first and releases the rest.
    Transition("funded", "refunded", ("operator", "party"), "", "order.refunded"),
    Transition("submitted", "refunded", ("operator", "party"), "", "order.refunded"),
    Transition("changes_requested", "refunded", ("operator", "party"), "", "order.refunded"),
    Transition("funded", "partially_refunded", ("operator", "party"), "", "order.refunded"),
    Transition("submitted", "partially_refunded", ("operator", "party"), "", "order.refunded"),
    Transition("changes_requested", "partially_refunded", ("operator", "party"), "", "order.refunded"),
    # Ending a contract drops the milestones that hold no money (``end_engagement``).
    Transition("planned", "cancelled", ("party", "operator"), "the engagement ends", None),
    Transition("funding_required", "cancelled", ("party", "operator"), "the engagement ends", None),
    # A dispute (``app.disputes``) locks the milestone's escrow; its resolution moves the money
    # (``resolve_disputed``) or, dismissed, gives the milestone back its state (``restore_disputed``).
    Transition("funded", "disputed", ("party",), "an open dispute on this money", "milestone.disputed"),
    Transition("submitted", "disputed", ("party",), "an open dispute on this money", "milestone.disputed"),
    Transition(
        "changes_requested", "disputed", ("party",), "an open dispute on this money", "milestone.disputed"
    ),
    Transition("disputed", "paid", ("dispute",), "decided: all released", "milestone.dispute_resolved"),
    Transition("disputed", "refunded", ("dispute",), "decided: all refunded", "milestone.dispute_resolved"),
    Transition(
        "disputed", "partially_refunded", ("dispute",), "decided: a split", "milestone.dispute_resolved"
    ),
    Transition(
        "disputed", "funded", ("dispute",), "dismissed: back where it was", "milestone.dispute_dismissed"
    ),
    Transition(
        "disputed", "submitted", ("dispute",), "dismissed: back where it was", "milestone.dispute_dismissed"
    ),
    Transition(
        "disputed",
        "changes_requested",
        ("dispute",),
        "dismissed: back where it was",
        "milestone.dispute_dismissed",
    ),
)

STATE_LABELS = {
    "planned": "Planned",
    "funding_required": "Funding required",
    "funded": "Funded",
    "submitted": "Submitted",
    "changes_requested": "Changes requested",
    "accepted": "Accepted",
    "paid": "Paid",
    "refunded": "Refunded",
    "partially_refunded": "Partially refunded",
    "disputed": "Disputed",
    "cancelled": "Cancelled",
}
FUNDABLE = ("planned", "funding_required")
DISPUTABLE = ("funded", "submitted", "changes_requested")
DONE = ("paid", "refunded", "partially_refunded", "cancelled")
# Work the buyer has not judged yet: ending the engagement alone would take it from the seller.
UNDER_REVIEW = ("submitted", "changes_requested", "accepted", "disputed")


def allowed(source: str, target: str, who: str) -> Transition | None:
    """The table's row for ``source -> target`` by ``who``, or None."""
    for row in TRANSITIONS:
        if row.source == source and row.target == target and who in row.who:
            return row
    return None


def state_label(status: str) -> str:
    return STATE_LABELS.get(status, status.replace("_", " "))


def _state_error(m: Milestone, doing: str) -> OrderStateError:
    return OrderStateError(
        f"Milestone {m.seq} ({m.title}) is {state_label(m.status).lower()}: you cannot {doing} now.",
        m.status,
    )


def _move(m: Milestone, target: str, who: str, doing: str) -> Transition:
    row = allowed(m.status, target, who)
    if row is None:
        raise _state_error(m, doing)
    m.status = target
    return row


def _milestone_of(order: Order, milestone_id: Any) -> Milestone:
    mid = parse_id(milestone_id)
    for m in order.milestones:
        if m.id == mid:
            # The milestones' load does not set their ``order``: set it to the order they were
            # read with, so ``m.order`` sends no query and keeps that (locked) order alive (the
            # session holds an unchanged object only weakly: a caller keeping only ``m`` lost
            # it, and ``m.order`` then read the order and its milestones again).
            if "order" not in m.__dict__:
                set_committed_value(m, "order", order)
            return m
    raise OrderNotFound({"milestone_id": "This order has no such milestone."})


def _lock(user: User, order_id: Any, milestone_id: Any, role: str) -> tuple[Order, Milestone]:
    """Lock an order ``user`` takes part in as ``role``, and one of its milestones."""
    order = services._lock_for(user, order_id)
    if order.party(user.id) != role:
        raise services.OrderForbidden(f"Only the {role} can do this.")
    milestone = _milestone_of(order, milestone_id)
    if not order.uses_milestones:
        raise OrderStateError(
            f"Order {order.number} is worked as a whole: use deliver, revision and complete.",
            order.status,
            code="not_milestone_order",
        )
    return order, milestone


def _step(order: Order, m: Milestone, kind: str, actor_id: int | None, event: str, data: dict | None = None):
    """A timeline row ``milestone_<kind>`` and its outbox event (``order_event_id`` + ``milestone_id``)."""
    order.version += 1
    return services._record(
        order,
        f"milestone_{kind}",
        actor_id,
        {"milestone_id": m.id, "seq": m.seq, "title": m.title, **(data or {})},
        event=event,
        extra={"milestone_id": m.id},
    )


def _ensure_live(order: Order, doing: str) -> None:
    if order.status in ("completed", "cancelled"):
        raise services._state_error(order, doing)


# --------------------------------------------------------------------------- funding


def request_funding(
    buyer: User, order_id: Any, milestone_id: Any, *, now: datetime | None = None
) -> Milestone:
    """The buyer asks to fund a milestone (``planned -> funding_required``); flushes.

    Funding one that already requires funding changes nothing (the buyer opens its checkout
    again). Publishes ``milestone.funding_requested``. Raises OrderNotFound, OrderForbidden
    (not the buyer), OrderStateError (the order is finished or the milestone already funded).
    """
    order, m = _lock(buyer, order_id, milestone_id, "buyer")
    _ensure_live(order, "fund a milestone")
    if m.status == "funding_required":
        return m
    _move(m, "funding_required", "buyer", "fund it")
    m.funding_requested_at = services._now(now)
    _step(order, m, "funding_requested", buyer.id, "milestone.funding_requested")
    return m


def fund_milestone(
    buyer: User, order_id: Any, milestone_id: Any, *, now: datetime | None = None
) -> Milestone:
    """The buyer funds a milestone: its funding is requested (``request_funding``) and its
    checkout opened with the tenant's provider; flushes. The milestone's ``checkout_url`` is
    where the buyer pays (None when the provider could not start: try again). Funding is
    confirmed later by payments (``mark_milestone_funded``). Raises as ``request_funding``.
    """
    m = request_funding(buyer, order_id, milestone_id, now=now)
    m.checkout_url = services.checkout_url(m.order, m)
    return m


def mark_milestone_funded(
    order_id: Any,
    milestone_id: Any,
    payment_ref: str,
    *,
    amount_minor: Any = None,
    currency: Any = None,
    now: datetime | None = None,
) -> Order:
    """The provider captured a milestone's payment (called by payments); flushes. Idempotent.

    Posts the ledger payment keyed ``payment:<payment_ref>`` (clearing -> the order's escrow,
    carrying the milestone's id) and moves the milestone to ``funded``. The first funding
    of an order awaiting payment moves it to ``awaiting_requirements`` (``order.paid``).
    Publishes ``escrow.funded`` and ``milestone.funded``.

    The same ``payment_ref`` again returns the order and moves nothing. Raises
    OrderNotFound; OrderError ``amount_mismatch`` (amount or currency not the milestone's);
    OrderStateError ``already_paid`` (funded by another payment) or for a finished order —
    the payments domain refunds such a payment.
    """
    if not isinstance(payment_ref, str) or not 0 < len(payment_ref) <= 200:
        raise OrderError({"payment_ref": "A payment reference is required."})
    order = services.lock_order(order_id)
    m = _milestone_of(order, milestone_id)
    if m.status not in FUNDABLE:
        if m.payment_ref == payment_ref:
            return order  # the same payment reported again
        raise OrderStateError(
            f"Milestone {m.seq} of order {order.number} is already funded.", m.status, code="already_paid"
        )
    _ensure_live(order, "pay for it")
    services._check_expected(m.amount_minor, order.currency, amount_minor, currency)
    now = services._now(now)
    ledger.record_payment(order.id, m.id, order.buyer_id, m.amount_minor, order.currency, payment_ref)
    _move(m, "funded", "payments", "fund it")
    m.payment_ref = payment_ref
    m.funded_at = now
    if order.status == "awaiting_payment":
        # A contract's scope is its Statement of Work: the work starts with the first funding.
        # An offer's seller waits for the buyer's requirements first.
        order.status = "in_progress" if order.kind == "contract" else "awaiting_requirements"
        order.paid_at = now
        if order.kind == "contract":
            order.due_at = max((x.due_at for x in order.milestones if x.due_at), default=None)
        services._record(
            order,
            "paid",
            order.buyer_id,
            {"amount_minor": m.amount_minor, "payment_ref": payment_ref, "milestone_id": m.id},
            # milestone_id: its money is counted with escrow.funded (app/events/business.py)
            extra={"amount_minor": m.amount_minor, "currency": order.currency, "milestone_id": m.id},
        )
    publish(
        "escrow.funded",
        {
            "order_id": order.id,
            "milestone_id": m.id,
            "amount_minor": m.amount_minor,
            "currency": order.currency,
            "payment_ref": payment_ref,
        },
    )
    _step(order, m, "funded", order.buyer_id, "milestone.funded", {"amount_minor": m.amount_minor})
    db.session.flush()
    return order


# --------------------------------------------------------------------------- work


def _clean_links(links: Any, errors: dict) -> list[str]:
    if links is None or links == "":
        return []
    if isinstance(links, str):
        links = [line.strip() for line in links.splitlines() if line.strip()]
    if not isinstance(links, list | tuple):
        errors["links"] = "Give the links as a list."
        return []
    clean = []
    for link in links:
        if not isinstance(link, str) or not link.startswith(("https://", "http://")) or len(link) > MAX_LINK:
            errors["links"] = f"Each link must be an http(s) address of at most {MAX_LINK} characters."
            return []
        clean.append(link.strip())
    if len(clean) > MAX_LINKS:
        errors["links"] = f"Give at most {MAX_LINKS} links."
    return clean


def submit_milestone(
    seller: User,
    order_id: Any,
    milestone_id: Any,
    message: Any,
    links: Any = (),
    files: list | tuple = (),
    dod_done: Any = None,
    *,
    now: datetime | None = None,
) -> Milestone:
    """The seller submits a funded milestone's work (message, optional links and files, the
    Definition-of-Done items ticked); flushes. ``funded | changes_requested -> submitted``.

    Starts the auto-release clock (the tenant's ``milestone_auto_release_days``). Publishes
    ``milestone.submitted``. Raises OrderError (no message, bad links or files, DoD items not
    all ticked), OrderNotFound, OrderForbidden (not the seller), OrderStateError (the order
    has not started, or the milestone is not funded / sent back).
    """
    errors: dict[str, str] = {}
    text = services._text(
        message, "message", errors, label="The message", max_len=services.MAX_TEXT, required=True
    )
    clean_links = _clean_links(links, errors)
    files = list(files or ())
    if len(files) > services.MAX_DELIVERY_FILES:
        errors["files"] = f"Submit at most {services.MAX_DELIVERY_FILES} files."
    elif any(not f.data for f in files):
        errors["files"] = "A file is empty."
    if errors:
        raise OrderError(errors)
    order, m = _lock(seller, order_id, milestone_id, "seller")
    if m.status in ("funded", "changes_requested") and order.status != "in_progress":
        raise services._state_error(order, "submit work")
    if m.dod:
        ticked = {parse_id(i) for i in (dod_done or ()) if parse_id(i) is not None}
        if any(i + 1 not in ticked for i in range(len(m.dod))):
            raise OrderError({"dod": "Tick every item of the Definition of Done before submitting."})
    _move(m, "submitted", "seller", "submit it")
    now = services._now(now)
    stored = []
    for f in files:
        name = services._clean_filename(f.filename)
        content_type = (f.content_type or "application/octet-stream").split(";", 1)[0].strip().lower()[:100]
        key = services.storage.save(f.data, namespace="deliveries", filename=name, content_type=content_type)
        stored.append({"key": key, "filename": name, "content_type": content_type, "size": len(f.data)})
    m.submission_message = text
    m.submission_links = clean_links
    m.submission_files = stored
    m.dod = [{**item, "done": True} for item in (m.dod or [])]
    m.submitted_at = now
    m.auto_release_at = now + timedelta(days=services.settings().milestone_auto_release_days)
    _step(order, m, "submitted", seller.id, "milestone.submitted", {"links": len(clean_links)})
    return m


def request_changes(
    buyer: User, order_id: Any, milestone_id: Any, feedback: Any, *, now: datetime | None = None
) -> Milestone:
    """The buyer sends a submitted milestone back with feedback (``submitted -> changes_requested``);
    flushes. Stops the auto-release clock. Publishes ``milestone.rejected``. Raises OrderError
    (no feedback), OrderNotFound, OrderForbidden, OrderStateError (not submitted)."""
    errors: dict[str, str] = {}
    text = services._text(
        feedback, "feedback", errors, label="The feedback", max_len=services.MAX_TEXT, required=True
    )
    if errors:
        raise OrderError(errors)
    order, m = _lock(buyer, order_id, milestone_id, "buyer")
    _move(m, "changes_requested", "buyer", "request changes")
    m.feedback = text
    m.changes_requested_at = services._now(now)
    m.auto_release_at = None
    _step(order, m, "changes_requested", buyer.id, "milestone.rejected", {"feedback": text})
    return m


# --------------------------------------------------------------------------- acceptance and release


def _accept(order: Order, m: Milestone, actor_id: int | None, who: str, now: datetime) -> Milestone:
    """``submitted -> accepted -> paid``: release this milestone's escrow, minus commission."""
    _move(m, "accepted", who, "accept it")
    m.accepted_at = now
    m.auto_release_at = None
    kind = "billed" if who == "billing" else "accepted" if actor_id is not None else "auto_accepted"
    _step(order, m, kind, actor_id, "milestone.accepted")
    amount = m.amount_minor - m.refunded_minor
    release = ledger.release_escrow(order.id, m.id, order.seller_id, amount, order.currency)
    if m.refunded_minor:
        m.status = "partially_refunded"  # accepted after a partial refund (a split): the rest is paid
    else:
        _move(m, "paid", "engine", "release it")
    m.paid_at = now
    publish(
        "escrow.released",
        {
            "order_id": order.id,
            "milestone_id": m.id,
            "amount_minor": amount,
            "fee_minor": release.fee,
            "seller_net_minor": release.seller_net,
            "currency": order.currency,
        },
    )
    _complete_when_done(order, actor_id, now)
    db.session.flush()
    return m


def _complete_when_done(order: Order, actor_id: int | None, now: datetime) -> None:
    """The last milestone settled (paid, or dropped by agreement) completes the order; an
    open-ended engagement waits for ``close_open_ended``."""
    if order.open_ended:
        return
    if not all(x.status in DONE for x in order.milestones):
        return
    if not any(x.status in ("paid", "partially_refunded") for x in order.milestones):
        return  # nothing was ever paid: ending is the parties' step, not a completion
    order.status = "completed"
    order.completed_at = now
    order.auto_complete_at = None
    order.version += 1
    services._withdraw_pending_cancellation(order, now)
    released = sum(x.amount_minor - x.refunded_minor for x in order.milestones if x.status in DONE)
    services._record(
        order,
        "completed" if actor_id is not None else "auto_completed",
        actor_id,
        {"released_minor": released},
        event="order.completed",
    )


def accept_milestone(
    buyer: User, order_id: Any, milestone_id: Any, *, now: datetime | None = None
) -> Milestone:
    """The buyer accepts a submitted milestone: its escrow is released to the seller minus
    commission in this transaction and the milestone is ``paid``; flushes. The last milestone
    paid completes the order (``order.completed``: the review window opens).

    Publishes ``milestone.accepted`` and ``escrow.released``. Raises OrderNotFound,
    OrderForbidden (not the buyer), OrderStateError (not submitted, e.g. still funded or
    already paid or refunded).
    """
    order, m = _lock(buyer, order_id, milestone_id, "buyer")
    return _accept(order, m, buyer.id, "buyer", services._now(now))


def auto_release(milestone_id: Any, *, now: datetime | None = None) -> Milestone | None:
    """Accept a submitted milestone whose ``auto_release_at`` has passed (job step); flushes.

    Returns None, changing nothing, when it is no longer due (the buyer acted, or the
    order was cancelled).
    """
    now = services._now(now)
    mid = parse_id(milestone_id)
    row = db.session.get(Milestone, mid) if mid else None
    if row is None:
        return None
    order = services.lock_order(row.order_id)
    m = _milestone_of(order, mid)
    if m.status != "submitted" or m.auto_release_at is None or m.auto_release_at > now:
        return None
    if order.status in ("completed", "cancelled") or services.pending_cancellation(order) is not None:
        return None
    return _accept(order, m, None, "job", now)


def milestones_due_for_auto_release(now: datetime | None = None, limit: int = 500) -> list[int]:
    now = services._now(now)
    return list(
        db.session.scalars(
            sa.select(Milestone.id)
            .where(Milestone.status == "submitted", Milestone.auto_release_at <= now)
            .order_by(Milestone.auto_release_at, Milestone.id)  # equal times: a stable order
            .limit(limit)
        )
    )


def remind_auto_release(milestone_id: Any, *, now: datetime | None = None) -> Milestone | None:
    """Tell the buyer a submitted milestone will be released on its own soon (job step); flushes.

    Once per submission (a timeline row names its ``auto_release_at``); publishes
    ``milestone.auto_release_reminder``. Returns None when nothing was due.
    """
    now = services._now(now)
    mid = parse_id(milestone_id)
    row = db.session.get(Milestone, mid) if mid else None
    if row is None:
        return None
    order = services.lock_order(row.order_id)
    m = _milestone_of(order, mid)
    if m.status != "submitted" or m.auto_release_at is None:
        return None
    if not now >= m.auto_release_at - timedelta(days=REMINDER_DAYS) or now >= m.auto_release_at:
        return None
    due = m.auto_release_at.isoformat()
    sent = db.session.scalar(
        sa.select(
            sa.exists().where(
                OrderEvent.order_id == order.id,
                OrderEvent.kind == "milestone_auto_release_reminder",
                OrderEvent.data["milestone_id"].as_integer() == m.id,
                OrderEvent.data["auto_release_at"].as_string() == due,
            )
        )
    )
    if sent:
        return None
    _step(
        order, m, "auto_release_reminder", None, "milestone.auto_release_reminder", {"auto_release_at": due}
    )
    return m


def milestones_due_for_reminder(now: datetime | None = None, limit: int = 500) -> list[int]:
    now = services._now(now)
    return list(
        db.session.scalars(
            sa.select(Milestone.id)
            .where(
                Milestone.status == "submitted",
                Milestone.auto_release_at > now,
                Milestone.auto_release_at <= now + timedelta(days=REMINDER_DAYS),
            )
            .order_by(Milestone.auto_release_at, Milestone.id)
            .limit(limit)
        )
    )


# --------------------------------------------------------------------------- engagements of other domains


class PlannedMilestone(NamedTuple):
    title: str
    amount_minor: int
    description: str = ""
    due_at: datetime | None = None
    dod: tuple[str, ...] = ()


MAX_ENGAGEMENT_MILESTONES = 10


def open_engagement(
    kind: str,
    buyer_id: int,
    seller_id: int,
    title: str,
    currency: str,
    planned: list[PlannedMilestone],
    *,
    delivery_days: int,
    now: datetime | None = None,
) -> Order:
    """An engagement worked milestone by milestone for another domain (``kind="contract"``:
    a job contract, whose terms that domain has checked); flushes.

    The order awaits payment with its first milestone ``funding_required`` (its funding is
    requested at once: ``milestone.funding_requested``) and the others ``planned``. Publishes
    ``order.placed`` (the order's conversation opens). Raises OrderError for terms that break
    the engine's own rules (no milestone, too many, an amount not positive).
    """
    if kind != "contract":
        raise OrderError({"kind": "Only contracts open engagements here."})
    if not 1 <= len(planned) <= MAX_ENGAGEMENT_MILESTONES:
        raise OrderError({"milestones": f"Give 1 to {MAX_ENGAGEMENT_MILESTONES} milestones."})
    if any(not isinstance(p.amount_minor, int) or p.amount_minor <= 0 for p in planned):
        raise OrderError({"milestones": "Every milestone needs an amount above zero."})
    total = sum(p.amount_minor for p in planned)
    now = services._now(now)
    order = Order(
        kind=kind,
        buyer_id=buyer_id,
        seller_id=seller_id,
        title=title[: services.MAX_TITLE],
        quantity=1,
        extras=[],
        currency=currency,
        subtotal_minor=total,
        total_minor=total,
        status="awaiting_payment",
        delivery_days=max(1, min(365, delivery_days)),
        revisions_allowed=-1,
        revisions_used=0,
    )
    order.milestones = [
        Milestone(
            seq=i,
            title=p.title[:200],
            amount_minor=p.amount_minor,
            description=p.description,
            due_at=p.due_at,
            dod=[{"text": text, "done": False} for text in p.dod],
            status="funding_required" if i == 1 else "planned",
            funding_requested_at=now if i == 1 else None,
        )
        for i, p in enumerate(planned, start=1)
    ]
    db.session.add(order)
    db.session.flush()
    services._record(order, "placed", buyer_id, {"kind": kind, "total_minor": total, "currency": currency})
    first = order.milestones[0]
    _step(order, first, "funding_requested", buyer_id, "milestone.funding_requested")
    return order


def open_ended_engagement(
    buyer_id: int, seller_id: int, title: str, currency: str, *, now: datetime | None = None
) -> Order:
    """An hourly contract's engagement (kind ``contract``, ``open_ended``); flushes.

    No milestone and nothing to pay up front: the order is ``in_progress`` at once, and each
    week the client approves becomes a milestone (``add_billed_milestone``). Publishes
    ``order.placed`` (the contract's conversation opens)."""
    now = services._now(now)
    order = Order(
        kind="contract",
        buyer_id=buyer_id,
        seller_id=seller_id,
        title=title[: services.MAX_TITLE],
        quantity=1,
        extras=[],
        currency=currency,
        subtotal_minor=0,
        total_minor=0,
        status="in_progress",
        delivery_days=7,
        revisions_allowed=-1,
        revisions_used=0,
        open_ended=True,
        paid_at=now,
    )
    order.milestones = []
    db.session.add(order)
    db.session.flush()
    services._record(
        order,
        "placed",
        buyer_id,
        {"kind": "contract", "total_minor": 0, "currency": currency, "hourly": True},
    )
    return order


def add_billed_milestone(
    order_id: Any, title: str, amount_minor: int, *, description: str = "", now: datetime | None = None
) -> Milestone:
    """Append a milestone for money the buyer owes now (an approved hourly week) to an
    open-ended engagement; flushes. It is ``funding_required``: payments charges the buyer's
    saved billing method for it, and ``release_billed`` pays the seller once it is funded.
    Raises OrderError (amount not positive), OrderStateError (not open-ended, or finished)."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise OrderError({"amount_minor": "The amount must be a whole number of minor units above zero."})
    order = services.lock_order(order_id)
    if not order.open_ended:
        raise OrderStateError(
            f"Order {order.number} has its milestones agreed up front.", order.status, code="not_open_ended"
        )
    _ensure_live(order, "bill it")
    now = services._now(now)
    m = Milestone(
        seq=max((x.seq for x in order.milestones), default=0) + 1,
        title=title[:200],
        amount_minor=amount_minor,
        description=description,
        dod=[],
        status="funding_required",
        funding_requested_at=now,
    )
    order.milestones.append(m)
    order.total_minor += amount_minor
    order.subtotal_minor += amount_minor
    order.version += 1
    db.session.flush()
    return m


def release_billed(order_id: Any, milestone_id: Any, *, now: datetime | None = None) -> Milestone:
    """Pay the seller a billed milestone of an open-ended engagement once its charge is
    confirmed (``funded -> accepted -> paid``: escrow released minus commission in this
    transaction); flushes. Idempotent: a milestone already paid is returned unchanged.
    Raises OrderStateError when it is not funded (disputed, refunded...)."""
    order = services.lock_order(order_id)
    m = _milestone_of(order, milestone_id)
    if m.status == "paid":
        return m
    if not order.open_ended:
        raise OrderStateError(
            f"Order {order.number} has its milestones agreed up front.", order.status, code="not_open_ended"
        )
    return _accept(order, m, None, "billing", services._now(now))


def close_open_ended(order_id: Any, actor_id: int | None, *, now: datetime | None = None) -> Order:
    """Finish an open-ended engagement whose contract ended and whose weeks are settled;
    flushes. Completed when something was paid (``order.completed``: the review window opens),
    else cancelled (``order.cancelled``). Idempotent. Raises OrderStateError ``unsettled``
    while a milestone still waits for money or a decision."""
    order = services.lock_order(order_id)
    if order.status in ("completed", "cancelled"):
        return order
    open_ms = [m for m in order.milestones if m.status not in DONE]
    if open_ms:
        m = open_ms[0]
        raise OrderStateError(
            f"Milestone {m.seq} ({m.title}) is {state_label(m.status).lower()}: it settles first.",
            m.status,
            code="unsettled",
        )
    now = services._now(now)
    order.version += 1
    if any(m.status in ("paid", "partially_refunded") for m in order.milestones):
        order.status = "completed"
        order.completed_at = now
        released = sum(m.amount_minor - m.refunded_minor for m in order.milestones)
        services._record(order, "completed", actor_id, {"released_minor": released}, event="order.completed")
    else:
        order.status = "cancelled"
        order.cancelled_at = now
        services._record(order, "cancelled", actor_id, {"ended": True}, event="order.cancelled")
    db.session.flush()
    return order


def _recount(order: Order) -> None:
    live = [m for m in order.milestones if m.status != "cancelled"]
    order.total_minor = order.subtotal_minor = sum(m.amount_minor for m in live)


def change_milestones(
    order_id: Any,
    action: str,
    *,
    milestone_id: Any = None,
    planned: PlannedMilestone | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> Milestone:
    """Apply a change both parties agreed to (the contracts domain checked who and what);
    flushes. ``add`` appends a ``planned`` milestone; ``edit`` rewrites one not funded yet;
    ``remove`` drops one not funded yet (``cancelled``; the last live one cannot go: end the
    engagement instead). The order's total follows. Records ``milestone_changed`` on the
    timeline (``milestone.changed``). Raises OrderNotFound, OrderStateError (finished, or the
    milestone already funded), OrderError (too many milestones, a bad amount).
    """
    order = services.lock_order(order_id)
    if not order.uses_milestones:
        raise OrderStateError(f"Order {order.number} has no milestones to change.", order.status)
    _ensure_live(order, "change its milestones")
    now = services._now(now)
    if action == "add":
        if planned is None or planned.amount_minor <= 0:
            raise OrderError({"amount_minor": "The amount must be above zero."})
        if len(order.milestones) >= MAX_ENGAGEMENT_MILESTONES:
            raise OrderError(
                {"milestones": f"An engagement has at most {MAX_ENGAGEMENT_MILESTONES} milestones."}
            )
        m = Milestone(
            seq=max(x.seq for x in order.milestones) + 1,
            title=planned.title[:200],
            amount_minor=planned.amount_minor,
            description=planned.description,
            due_at=planned.due_at,
            dod=[{"text": text, "done": False} for text in planned.dod],
            status="planned",
        )
        order.milestones.append(m)
        db.session.flush()
    else:
        m = _milestone_of(order, milestone_id)
        if m.status not in FUNDABLE:
            raise _state_error(m, "change it (only milestones not funded yet change)")
        if action == "edit":
            if planned is None or planned.amount_minor <= 0:
                raise OrderError({"amount_minor": "The amount must be above zero."})
            m.title, m.amount_minor, m.description = (
                planned.title[:200],
                planned.amount_minor,
                planned.description,
            )
            m.due_at = planned.due_at
            m.dod = [{"text": text, "done": False} for text in planned.dod]
        elif action == "remove":
            if not any(x.status not in ("cancelled",) and x.id != m.id for x in order.milestones):
                raise OrderStateError(
                    "This is the last milestone: end the contract instead.", m.status, code="last_milestone"
                )
            _move(m, "cancelled", "party", "remove it")
        else:
            raise OrderError({"action": "Choose add, edit or remove."})
    _recount(order)
    _step(
        order, m, "changed", actor_id, "milestone.changed", {"action": action, "amount_minor": m.amount_minor}
    )
    if action == "remove":
        _complete_when_done(order, actor_id, now)
    db.session.flush()
    return m


def end_engagement(
    actor: User, order_id: Any, reason: Any, *, operator: bool = False, now: datetime | None = None
) -> Order:
    """End an engagement worked milestone by milestone, as one of its parties (or, with
    ``operator=True``, an admin); flushes.

    Milestones funded but not yet submitted are refunded to the buyer in full (``refunded``,
    ``order.refunded`` tells payments to give the money back at the provider); those never
    funded are ``cancelled``; paid ones stay paid. The order is ``completed`` when some
    milestone was paid (``order.completed``: the review window opens), else ``cancelled``
    (``order.cancelled``). A pending cancellation request is withdrawn.

    Work the buyer has not judged (a milestone submitted, sent back for changes, accepted or
    disputed) is not the ending side's to take or give alone: refused with
    OrderStateError ``work_under_review``; the parties agree on a split with a cancellation
    request (``services.request_cancellation``) or accept the work first. Raises OrderError
    (no reason), OrderNotFound, OrderForbidden, OrderStateError (finished or not milestone-worked).
    """
    errors: dict[str, str] = {}
    text = services._text(
        reason, "reason", errors, label="The reason", max_len=services.MAX_TEXT, required=True
    )
    if errors:
        raise OrderError(errors)
    if operator:
        if not actor.is_admin:
            raise services.OrderForbidden("Only the marketplace's operators can do this.")
        order = services.lock_order(order_id)
        who = "operator"
    else:
        order = services._lock_for(actor, order_id)
        who = "party"
    if not order.uses_milestones:
        raise OrderStateError(
            f"Order {order.number} is worked as a whole: cancel it instead.",
            order.status,
            code="not_milestone_order",
        )
    _ensure_live(order, "end it")
    services._refuse_disputed(order, "end it")
    pending_review = [m for m in order.milestones if m.status in UNDER_REVIEW]
    if pending_review and not operator:
        m = pending_review[0]
        raise OrderStateError(
            f"Milestone {m.seq} ({m.title}) is {state_label(m.status).lower()}: accept it, or agree with "
            "the other side on a split, before ending.",
            m.status,
            code="work_under_review",
        )
    now = services._now(now)
    refunds, refunded = [], 0
    for m in sorted(order.milestones, key=lambda m: m.seq, reverse=True):
        if m.status in FUNDABLE:
            _move(m, "cancelled", who, "end it")
            continue
        if m.status not in ("funded", "submitted", "changes_requested"):
            continue
        share = m.amount_minor - m.refunded_minor
        ledger.refund_escrow(
            order.id, m.id, order.buyer_id, share, order.currency, f"order:{order.id}:end:{m.id}"
        )
        m.refunded_minor += share
        refunded += share
        refunds.append({"milestone_id": m.id, "amount_minor": share})
        _move(m, "refunded", who, "end it")
        m.auto_release_at = None
    request = services.pending_cancellation(order, for_update=True)
    if request is not None:
        request.status = "withdrawn"
        request.responded_at = now
    paid = any(m.status in ("paid", "partially_refunded") for m in order.milestones)
    order.version += 1
    order.auto_complete_at = None
    if refunded:
        services._record(
            order,
            "refunded",
            actor.id,
            {"refund_minor": refunded},
            extra={"refund_minor": refunded, "currency": order.currency, "refunds": refunds},
        )
    data = {
        "reason": text,
        "refund_minor": refunded,
        "ended": True,
        **({"by_operator": True} if operator else {}),
    }
    if paid:
        order.status = "completed"
        order.completed_at = now
        services._record(order, "completed", actor.id, data, event="order.completed")
    else:
        order.status = "cancelled"
        order.cancelled_at = now
        services._record(order, "cancelled", actor.id, data, event="order.cancelled")
    db.session.flush()
    return order


# --------------------------------------------------------------------------- disputes


def lock_disputable(actor: User, order_id: Any, milestone_id: Any = None) -> tuple[Order, Milestone]:
    """Lock an order ``actor`` takes part in and the milestone a dispute would be about (a
    one-milestone gig order's only milestone when ``milestone_id`` is None), checking that its
    money can be disputed now: funded, submitted or sent back for changes, on an order not
    finished. The caller (``app.disputes``) records the dispute, then ``mark_disputed``.

    Raises OrderNotFound (not a party, no such milestone), OrderStateError ``not_disputable``
    (unpaid, already released or refunded, already disputed, the order finished).
    """
    order = services._lock_for(actor, order_id)
    if milestone_id is None or milestone_id == "":
        if order.uses_milestones:
            raise OrderError({"milestone_id": "Choose the milestone the dispute is about."})
        if not order.milestones:
            raise OrderStateError(
                f"Order {order.number} is not paid: there is no money to dispute.",
                order.status,
                code="not_disputable",
            )
        m = order.milestones[0]
    else:
        m = _milestone_of(order, milestone_id)
    if order.status in ("completed", "cancelled", "awaiting_payment") or m.status not in DISPUTABLE:
        if m.status == "disputed":
            reason = "a dispute about this money is already open"
        elif order.status == "awaiting_payment" or m.status in FUNDABLE:
            reason = "nothing is held in escrow for it yet (not paid)"
        elif not order.uses_milestones or order.status in ("completed", "cancelled"):
            reason = f"order {order.number} is {services.status_label(order.status).lower()}"
        else:
            reason = f"milestone {m.seq} ({m.title}) is {state_label(m.status).lower()}"
        raise OrderStateError(
            f"You cannot open a dispute: {reason}.",
            m.status if order.uses_milestones else order.status,
            code="dispute_open" if m.status == "disputed" else "not_disputable",
        )
    return order, m


def mark_disputed(
    order: Order, m: Milestone, actor_id: int, dispute_id: int, *, now: datetime | None = None
) -> Milestone:
    """Lock ``m``'s escrow for dispute ``dispute_id`` (the order locked by ``lock_disputable``);
    flushes. ``funded | submitted | changes_requested -> disputed``; the state it left is kept
    in ``disputed_from``; the auto-release and auto-completion clocks stop. Publishes
    ``order.disputed`` (a gig order) or ``milestone.disputed`` (an engagement), payload
    ``{"order_id", "order_event_id", "milestone_id", "dispute_id"}``.
    """
    source = m.status
    _move(m, "disputed", "party", "dispute it")
    m.disputed_from = source
    m.auto_release_at = None
    order.auto_complete_at = None
    services._withdraw_pending_cancellation(order, services._now(now))  # the dispute supersedes it
    data = {"dispute_id": dispute_id}
    if order.uses_milestones:
        _step(order, m, "disputed", actor_id, "milestone.disputed", data)
    else:
        order.version += 1
        services._record(
            order,
            "disputed",
            actor_id,
            {**data, "milestone_id": m.id},
            event="order.disputed",
            extra={"milestone_id": m.id, "dispute_id": dispute_id},
        )
    db.session.flush()
    return m


def _locked_disputed(order_id: Any, milestone_id: Any, doing: str) -> tuple[Order, Milestone]:
    order = services.lock_order(order_id)
    m = _milestone_of(order, milestone_id)
    if m.status != "disputed":
        raise _state_error(m, doing)
    return order, m


class Resolution(NamedTuple):
    order: Order
    milestone: Milestone
    refund_minor: int
    release_minor: int
    fee_minor: int


def resolve_disputed(
    order_id: Any,
    milestone_id: Any,
    refund_minor: int,
    release_minor: int,
    *,
    actor_id: int | None,
    dispute_id: int,
    now: datetime | None = None,
) -> Resolution:
    """Settle a disputed milestone's escrow as decided; flushes. The money moves once, in this
    transaction: ``refund_minor`` back to the buyer (ledger refund keyed
    ``dispute:<dispute_id>``; ``order.refunded`` has payments return it at the provider) and
    ``release_minor`` to the seller minus commission on that part only (the milestone's one
    release). ``refund_minor + release_minor`` must be exactly what the milestone holds.

    The milestone is ``paid`` (all released), ``refunded`` (all refunded) or
    ``partially_refunded`` (a split). A gig order then completes (something released:
    ``order.completed``) or is cancelled (all refunded: ``order.cancelled``); an engagement
    completes when its last milestone is settled. Publishes ``milestone.dispute_resolved``
    (timeline ``milestone_dispute_resolved``) and ``escrow.released`` for a release.

    Raises OrderNotFound; OrderStateError (the milestone is no longer disputed: decided
    already); OrderError ``split_mismatch`` (amounts negative or not summing to what is held).
    """
    order, m = _locked_disputed(order_id, milestone_id, "settle its dispute")
    held = m.amount_minor - m.refunded_minor
    for field, value in (("refund_minor", refund_minor), ("release_minor", release_minor)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise OrderError({field: "Give a whole number of minor units, 0 or more."}, code="split_mismatch")
    if refund_minor + release_minor != held:
        raise OrderError(
            {"release_minor": f"The refund and the release must add up to the {held} held in escrow."},
            code="split_mismatch",
        )
    now = services._now(now)
    fee = 0
    if refund_minor:
        ledger.refund_escrow(
            order.id, m.id, order.buyer_id, refund_minor, order.currency, f"dispute:{dispute_id}"
        )
        m.refunded_minor += refund_minor
    if release_minor:
        release = ledger.release_escrow(order.id, m.id, order.seller_id, release_minor, order.currency)
        fee = release.fee
        m.paid_at = now
    target = "refunded" if not release_minor else "paid" if not refund_minor else "partially_refunded"
    _move(m, target, "dispute", "settle its dispute")
    m.disputed_from = None
    data = {"dispute_id": dispute_id, "refund_minor": refund_minor, "release_minor": release_minor}
    _step(order, m, "dispute_resolved", actor_id, "milestone.dispute_resolved", data)
    if refund_minor:
        services._record(
            order,
            "refunded",
            actor_id,
            {"refund_minor": refund_minor, "dispute_id": dispute_id},
            extra={
                "refund_minor": refund_minor,
                "currency": order.currency,
                "refunds": [{"milestone_id": m.id, "amount_minor": refund_minor}],
            },
        )
    if release_minor:
        publish(
            "escrow.released",
            {
                "order_id": order.id,
                "milestone_id": m.id,
                "amount_minor": release_minor,
                "fee_minor": fee,
                "seller_net_minor": release_minor - fee,
                "currency": order.currency,
            },
        )
    if order.uses_milestones:
        _complete_when_done(order, actor_id, now)
    else:
        order.version += 1
        order.auto_complete_at = None
        services._withdraw_pending_cancellation(order, now)
        summary = {"refund_minor": refund_minor, "released_minor": release_minor, "dispute_id": dispute_id}
        if release_minor:
            order.status = "completed"
            order.completed_at = now
            services._record(order, "completed", actor_id, summary, event="order.completed")
        else:
            order.status = "cancelled"
            order.cancelled_at = now
            services._record(order, "cancelled", actor_id, summary, event="order.cancelled")
    db.session.flush()
    return Resolution(order, m, refund_minor, release_minor, fee)


def restore_disputed(
    order_id: Any, milestone_id: Any, *, actor_id: int | None, dispute_id: int, now: datetime | None = None
) -> Milestone:
    """A dismissed dispute gives the milestone back the state it was disputed from; flushes.
    Nothing moves; the clocks start again from ``now`` (a submitted milestone's auto-release, a
    delivered gig order's auto-completion). Publishes ``milestone.dispute_dismissed``. Raises
    OrderNotFound, OrderStateError (not disputed)."""
    order, m = _locked_disputed(order_id, milestone_id, "dismiss its dispute")
    now = services._now(now)
    _move(m, m.disputed_from or "funded", "dispute", "dismiss its dispute")
    m.disputed_from = None
    if m.status == "submitted":
        m.auto_release_at = now + timedelta(days=services.settings().milestone_auto_release_days)
    if not order.uses_milestones and order.status == "delivered":
        order.auto_complete_at = now + timedelta(days=services.settings().auto_complete_days)
    _step(order, m, "dispute_dismissed", actor_id, "milestone.dispute_dismissed", {"dispute_id": dispute_id})
    db.session.flush()
    return m


# --------------------------------------------------------------------------- reading


def actions(order: Order, m: Milestone, party: str | None) -> list[str]:
    """The steps ``party`` may take on ``m`` now (the order page's buttons and the API's)."""
    if not order.uses_milestones or party is None or order.status in ("completed", "cancelled"):
        return []
    if party == "buyer":
        if m.status in FUNDABLE:
            return ["fund"]
        if m.status == "submitted":
            return ["accept", "request_changes"]
    if party == "seller" and m.status in ("funded", "changes_requested") and order.status == "in_progress":
        return ["submit"]
    return []


def escrow_held(order: Order, m: Milestone) -> int:
    """What the ledger says this milestone holds in escrow."""
    return int(ledger.milestone_escrow_balance(order.id, m.id, order.currency))
