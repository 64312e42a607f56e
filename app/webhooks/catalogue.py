"""The event types partners may receive: every outbox event a partner may see, and what it says.

An endpoint subscribes to types from this list (or ``*``, every type, today's and tomorrow's).
Each type names the object its body carries (``data.object``): the fan-out renders that object
as the REST API shows it (``app.webhooks.render``). Events not listed here are internal (cache
invalidations, reminders, mentions): a test runs the demo's flows and checks that every event
they publish is either here or in ``INTERNAL``.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL = "*"


@dataclass(frozen=True)
class EventType:
    name: str
    object: str  # the object kind in data.object: "order", "offer", ...
    description: str


def _types(object_kind: str, rows: dict[str, str]) -> list[EventType]:
    return [EventType(name, object_kind, text) for name, text in rows.items()]


CATALOGUE: tuple[EventType, ...] = tuple(
    _types(
        "order",
        {
            "order.placed": "A buyer placed an order (not paid yet).",
            "order.paid": "The order's payment succeeded; the money is held in escrow.",
            "order.requirements_submitted": "The buyer sent the requirements; the clock starts.",
            "order.delivered": "The seller delivered.",
            "order.revision_requested": "The buyer asked for a revision.",
            "order.completed": "The order is complete; the seller's earnings start clearing.",
            "order.cancellation_requested": "One party asked to cancel.",
            "order.cancellation_declined": "The other party declined the cancellation.",
            "order.cancelled": "The order was cancelled.",
            "order.refunded": "The order's payment was refunded (in full or in part).",
            "order.disputed": "A dispute was opened on the order; its money is locked.",
            "milestone.funding_requested": "A milestone of a contract's order asks to be funded.",
            "milestone.funded": "A milestone was funded into escrow.",
            "milestone.submitted": "The freelancer submitted a milestone's work.",
            "milestone.rejected": "The client asked for changes to a milestone's work.",
            "milestone.accepted": "The client accepted a milestone; its money is released.",
            "milestone.changed": "A milestone's amount, title or due date changed.",
            "milestone.disputed": "A dispute was opened on a milestone.",
            "milestone.dispute_resolved": "A milestone's dispute was settled.",
            "milestone.dispute_dismissed": "A milestone's dispute was dismissed.",
        },
    )
    + _types(
        "offer",
        {
            "offer.sent": "A seller sent a custom offer.",
            "offer.declined": "The buyer declined a custom offer.",
            "offer.withdrawn": "The seller withdrew a custom offer.",
        },
    )
    + _types(
        "payment",
        {
            "escrow.funded": "A milestone was paid into escrow (a gig order's payment is `order.paid`).",
            "escrow.released": "A milestone's escrow was released to the freelancer (less the commission).",
            "refund.completed": "A refund reached the buyer's payment method.",
        },
    )
    + _types(
        "payout",
        {
            "payout.sent": "A payout was sent to a seller's account.",
            "payout.held": "The marketplace put a seller's payouts on hold.",
            "payout.hold_released": "A payout hold was lifted.",
        },
    )
    + _types(
        "timesheet",
        {
            "timesheet.submitted": "A week of hours was submitted for approval.",
            "timesheet.approved": "The client approved a week of hours.",
            "timesheet.disputed": "The client disputed a week of hours.",
            "timesheet.billed": "An approved week was charged to the client.",
            "timesheet.payment_failed": "Charging a week of hours failed.",
        },
    )
    + _types(
        "conversation",
        {"conversation.created": "A conversation was started."},
    )
    + _types(
        "message",
        {"message.posted": "A message was posted in a conversation."},
    )
    + _types(
        "review",
        {
            "review.published": "A review became public (both sides reviewed, or the window closed).",
            "review.replied": "A seller replied to a review.",
            "review.hidden": "A moderator hid a review.",
            "review.restored": "A moderator restored a hidden review.",
        },
    )
    + _types(
        "job",
        {
            "job.posted": "A client posted a job.",
            "job.updated": "A client edited an open job.",
            "job.closed": "A job was closed to proposals.",
            "job.filled": "A job's hiring is done.",
            "job.invite_sent": "A client invited a freelancer to a job.",
        },
    )
    + _types(
        "proposal",
        {
            "proposal.submitted": "A freelancer submitted a proposal.",
            "proposal.withdrawn": "A freelancer withdrew a proposal.",
            "proposal.declined": "The client declined a proposal.",
            "proposal.accepted": "The client accepted a proposal (a contract follows).",
        },
    )
    + _types(
        "contract",
        {
            "contract.created": "A contract was drafted from a proposal or an invitation.",
            "contract.offered": "The client offered the contract to the freelancer.",
            "contract.signed": "A party signed the contract's Statement of Work.",
            "contract.declined": "The freelancer declined the contract.",
            "contract.withdrawn": "The client withdrew the contract offer.",
            "contract.activated": "Both signed: the contract is active.",
            "contract.change_proposed": "A party proposed a change of milestones.",
            "contract.change_answered": "A proposed milestone change was accepted or declined.",
            "contract.rate_change_proposed": "A new hourly rate was proposed.",
            "contract.rate_change_answered": "A proposed hourly rate was accepted or declined.",
            "contract.paused": "The contract was paused.",
            "contract.resumed": "The contract was resumed.",
            "contract.ended": "The contract ended.",
        },
    )
    + _types(
        "dispute",
        {
            "dispute.opened": "A party opened a dispute.",
            "dispute.activity": "A dispute's case moved: evidence, a message, a proposal or an answer.",
            "dispute.escalated": "A dispute moved up the ladder (mediation, an expert, a decision).",
            "dispute.expert_requested": "A mediator asked an expert for an opinion.",
            "dispute.expert_answered": "The expert answered.",
            "dispute.resolved": "The dispute was settled; the money moved as agreed or decided.",
        },
    )
    + _types(
        "user",
        {
            "user.registered": "Someone signed up.",
            "user.deleted": "A member deleted their account (personal data erased).",
            "seller.updated": "A seller's public profile changed.",
            "seller.level_changed": "A seller's level changed.",
        },
    )
    + _types(
        "gig",
        {
            "gig.submitted": "A gig was sent for review.",
            "gig.approved": "A moderator approved a gig.",
            "gig.rejected": "A moderator rejected a gig.",
            "gig.published": "A gig is live in search.",
            "gig.updated": "A live gig changed.",
            "gig.paused": "A gig was paused.",
            "gig.archived": "A gig was archived.",
        },
    )
)

BY_NAME: dict[str, EventType] = {t.name: t for t in CATALOGUE}

# Published but never sent to partners: caches, reminders and internal bookkeeping.
INTERNAL = frozenset(
    {
        "branding.changed",
        "category.changed",
        "home.changed",
        "calendar.event_created",
        "calendar.reminder",
        "ci.updated",
        "pr.updated",
        "task.updated",
        "message.mentioned",
        "review.submitted",
        "review.held",
        "review.reported",
        "review.reminder",
        "milestone.auto_release_reminder",
        "gig.rating_changed",
        "payout_account.kyc_changed",
        "account.email_changed",
        "account.password_changed",
        "account.updated",
    }
)


def is_known(name: str) -> bool:
    return name == ALL or name in BY_NAME


def unknown(names) -> list[str]:
    """The names in ``names`` that are neither a catalogue type nor ``*`` (for field errors)."""
    return sorted({n for n in names if not is_known(n)})


def wants(subscribed: list[str], name: str) -> bool:
    return ALL in subscribed or name in subscribed
