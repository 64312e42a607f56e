"""Demo disputes: the resolution centre of each demo marketplace, seeded after the orders, reviews
and jobs (``seed_disputes(slug)``, once per tenant, while it has no dispute), through the
disputes services with the dates of the story, so every rule holds as for real members:

- the printed buyer (``people.BUYERS[0]``; another buyer when they have none) disputes one of
  their delivered or in-progress gig orders ("not as described"); the seller answered with a
  note, a link and a proposal to refund 30 %: it waits for the buyer (self-resolution);
- another buyer's gig order is in the admin's decision queue: opened five days ago, escalated,
  assigned to the demo moderator, who wrote to both sides and handed it over; the operator
  decides it in the console (a 60/40 split is the issue's "Done when");
- a dispute about milestone 2 of the printed buyer's active contract (funded ahead, not started)
  in self-resolution, opened by the client;
- a dispute settled ten days ago by an agreed 60/40 split: refunded through the sandbox, the
  rest released (it counts in the dashboard and in the seller's delivery score).

Outbox events are settled like the jobs' ones: notifications and system messages about demo
history are skipped; the payments' refund runs in this transaction. One transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.demo import people
from tenants.db import db

DAY, HOUR = timedelta(days=1), timedelta(hours=1)


@dataclass
class DisputesReport:
    opened: int = 0
    resolved: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return f"{self.opened} disputes ({self.resolved} resolved) in {self.seconds:.1f} s"


def _gig_orders(buyer_ids: list[int], statuses: tuple[str, ...]) -> list:
    from app.orders.models import Milestone, Order

    return list(
        db.session.scalars(
            sa.select(Order)
            .join(Milestone, Milestone.order_id == Order.id)
            .where(
                Order.kind != "contract",
                Order.buyer_id.in_(buyer_ids),
                Order.status.in_(statuses),
                Milestone.status == "funded",
            )
            .order_by(Order.id.desc())
        ).unique()
    )


def seed_disputes(slug: str, *, now: datetime | None = None) -> DisputesReport | None:
    """Add the bound tenant's demo disputes when it has none; commits once. Returns the report,
    or None when nothing was done (disputes exist, or no order fits)."""
    from app.demo.jobs import SKIPPED_PREFIXES, _Clock
    from app.demo.orders import INLINE_HANDLERS, _settle_events
    from app.disputes import services as disputes
    from app.disputes.models import Dispute
    from app.events.models import OutboxEvent
    from app.orders.models import Order

    started = time.perf_counter()
    if db.session.scalar(sa.select(Dispute.id).limit(1)) is not None:
        return None
    now = now or datetime.now(UTC)
    emails = [f"{handle}@{slug}.test" for _name, handle in people.BUYERS]
    buyers = list(db.session.scalars(sa.select(User).where(User.email.in_(emails), User.status == "active")))
    buyers.sort(key=lambda u: emails.index(u.email))
    admin = db.session.scalars(sa.select(User).where(User.role == "admin", User.status == "active")).first()
    moderator = db.session.scalars(sa.select(User).where(User.email == f"moderator@{slug}.test")).first()
    if not buyers or admin is None:
        return None
    watermark = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(OutboxEvent.id), 0)))
    report = DisputesReport()
    clock = _Clock()  # dates the timeline rows and ledger transactions the services stamp "now"

    def start(order: Order, ago: timedelta) -> tuple[datetime, timedelta]:
        """When a story on ``order`` begins (``ago`` before now, but after its last step) and the
        length of one of its steps (eight fit before now)."""
        from app.orders.models import OrderEvent

        last = db.session.scalar(
            sa.select(sa.func.max(OrderEvent.created_at)).where(OrderEvent.order_id == order.id)
        )
        begin = max(now - ago, (last or now - ago) + HOUR)
        return begin, (now - begin) / 8

    printed, others = buyers[0], buyers[1:]
    used: set[int] = set()

    def pick(candidates):
        order = next((o for o in candidates if o.id not in used), None)
        if order is not None:
            used.add(order.id)
        return order

    def seller_of(order: Order) -> User:
        return db.session.get(User, order.seller_id)

    def at_step(when: datetime, call, *args, **kwargs):
        """One service step at ``when``; the rows it stamped with the database's "now" get that date."""
        result = call(*args, now=when, **kwargs)
        clock.stamp(when)
        return result

    # 1. The printed buyer's dispute, answered by the seller with a proposal.
    order = pick(
        _gig_orders([printed.id], ("delivered", "in_progress"))
        + _gig_orders([b.id for b in others], ("delivered", "in_progress"))
    )
    if order is not None:
        at, unit = start(order, DAY)
        seller = seller_of(order)
        d = at_step(
            at,
            disputes.open_dispute,
            db.session.get(User, order.buyer_id),
            order.id,
            "not_as_described",
            "The delivery uses a different style from the samples in the gig, and two of the "
            "three files I asked for are missing.",
        )
        at_step(
            at + unit,
            disputes.add_evidence,
            seller,
            d.id,
            "note",
            text="The brief asked for the modern style; the missing files are in the ZIP's second folder.",
        )
        at_step(
            at + 2 * unit,
            disputes.add_evidence,
            seller,
            d.id,
            "link",
            url="https://example.com/preview/modern-style",
            text="Preview",
        )
        refund = d.amount_minor * 30 // 100
        at_step(
            at + 3 * unit,
            disputes.propose,
            seller,
            d.id,
            refund,
            d.amount_minor - refund,
            "I can refund 30 % for the trouble.",
        )
        report.opened += 1

    # 2. Another buyer's dispute waiting for the operator's decision.
    order = pick(_gig_orders([b.id for b in others] or [printed.id], ("delivered", "in_progress")))
    if order is not None:
        at, unit = start(order, 5 * DAY)
        buyer, seller, mediator = db.session.get(User, order.buyer_id), seller_of(order), moderator or admin
        d = at_step(
            at,
            disputes.open_dispute,
            buyer,
            order.id,
            "quality",
            "The work has obvious mistakes and the seller stopped answering after the first revision.",
        )
        at_step(
            at + unit,
            disputes.post_message,
            seller,
            d.id,
            "I answered within a day each time; the changes asked were outside the brief.",
        )
        at_step(at + 2 * unit, disputes.escalate, buyer, d.id, "We cannot agree.")
        at_step(at + 3 * unit, disputes.assign, mediator, d.id)
        at_step(
            at + 4 * unit,
            disputes.post_message,
            mediator,
            d.id,
            "Thank you both. I have read the brief, the deliveries and the conversation: an admin "
            "will decide.",
        )
        at_step(
            at + 5 * unit, disputes.hand_to_decision, mediator, d.id, "Part of the work matches the brief."
        )
        report.opened += 1

    # 3. A disputed contract milestone (the printed buyer's active contract, milestone 2).
    contract_order = db.session.scalars(
        sa.select(Order).where(
            Order.kind == "contract", Order.buyer_id == printed.id, Order.status == "in_progress"
        )
    ).first()
    funded = [m for m in contract_order.milestones if m.status == "funded"] if contract_order else []
    if funded:
        at, _unit = start(contract_order, 2 * HOUR)
        at_step(
            at,
            disputes.open_dispute,
            printed,
            contract_order.id,
            "late",
            "Milestone 2 was funded a week ago and has not started; I would like the money back.",
            milestone_id=funded[-1].id,
        )
        report.opened += 1

    # 4. A dispute settled by an agreed 60/40 split.
    order = pick(_gig_orders([b.id for b in buyers], ("delivered", "in_progress")))
    if order is not None:
        at, unit = start(order, 12 * DAY)
        buyer = db.session.get(User, order.buyer_id)
        d = at_step(at, disputes.open_dispute, buyer, order.id, "late", "Delivered four days late.")
        refund = d.amount_minor * 60 // 100
        p = at_step(
            at + unit,
            disputes.propose,
            buyer,
            d.id,
            refund,
            d.amount_minor - refund,
            "60 % back and we are done.",
        )
        at_step(at + 2 * unit, disputes.answer_proposal, seller_of(order), d.id, p.id, True)
        report.opened += 1
        report.resolved += 1

    db.session.flush()
    _settle_events(watermark, inline=INLINE_HANDLERS, skip=lambda key: key.startswith(SKIPPED_PREFIXES))
    db.session.commit()
    report.seconds = time.perf_counter() - started
    return report if report.opened else None
