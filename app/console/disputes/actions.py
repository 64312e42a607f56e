"""Console actions on disputes: each calls the disputes domain's rule and writes the audit
entry in the same transaction (the request's unit of work commits both, or rolls both back
on a refusal). The web views and the API call only these, so both are audited alike.

The rules and every refusal live in ``app/disputes/services.py`` (the ladder) and
``app/disputes/admin.py`` (settings, experts). Audit actions (target ``dispute`` unless
said otherwise; ``changes`` holds the stage before and after and the step's details):

- ``dispute.assign``: the mediator (before, after);
- ``dispute.message``: a message to both parties (its text);
- ``dispute.propose``: the mediator's proposal (refund, release, the explanation);
- ``dispute.expert_request``: the expert asked and the question;
- ``dispute.hand_over``: handed to an admin's decision (the note);
- ``dispute.decide``: the admin's decision (outcome, refund, release, the reason);
- ``dispute.dismiss``: dismissed (the reason; nothing moved);
- ``disputes.settings.update`` (target ``dispute_settings`` 1): ``{"field": [old, new]}``;
- ``dispute_expert.appoint`` / ``dispute_expert.remove`` (target ``user``): the expert, the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.accounts.models import User
from app.console.audit import record_audit
from app.core import money
from app.disputes import admin as dispute_admin
from app.disputes import services
from app.disputes.models import Dispute, DisputeProposal
from tenants.db import db

SPLIT_OUTCOMES = ("refund", "release", "split")


def _who(user: User | None) -> str:
    return f"{user.display_name} <{user.email}>" if user is not None else "a deleted account"


def _user(user_id: int | None) -> User | None:
    return db.session.get(User, user_id) if user_id else None


def _short(text: str, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _amounts(d: Dispute, refund: int, release: int) -> str:
    back, to = money.format(refund, d.currency), money.format(release, d.currency)
    return f"{back} back to the buyer, {to} to the seller"


def split_from_input(d: Dispute, outcome: Any, refund_text: Any, release_text: Any) -> tuple[int, int]:
    """The web form's split in minor units: ``refund`` (all to the buyer), ``release`` (all to
    the seller) or ``split`` (both amounts typed in major units, read by ``app.core.money``).
    Raises DisputeError (``outcome``, ``refund``, ``release``: unreadable, negative, or not
    adding up to what the dispute holds)."""
    if outcome == "refund":
        return d.amount_minor, 0
    if outcome == "release":
        return 0, d.amount_minor
    if outcome != "split":
        raise services.DisputeError({"outcome": "Choose refund, release or split."})
    errors: dict[str, str] = {}
    amounts = {}
    for name, text in (("refund", refund_text), ("release", release_text)):
        try:
            amounts[name] = money.parse(text, d.currency)
        except money.MoneyError as exc:
            errors[name] = exc.message
    if not errors and amounts["refund"] + amounts["release"] != d.amount_minor:
        errors["release"] = (
            f"The refund and the release must add up to the {money.format(d.amount_minor, d.currency)} "
            f"held in escrow (they add up to "
            f"{money.format(amounts['refund'] + amounts['release'], d.currency)})."
        )
    if errors:
        raise services.DisputeError(errors, code="split_mismatch")
    return amounts["refund"], amounts["release"]


def assign(actor: User, dispute_id: Any, mediator_id: Any = None, *, now: datetime | None = None) -> Dispute:
    """Assign the mediator (``actor`` themself by default) and audit ``dispute.assign``."""
    current = services.lock(dispute_id) if actor.role in ("moderator", "admin") else None
    before = current.mediator_id if current is not None else None
    d = services.assign(actor, dispute_id, mediator_id, now=now)
    mediator = _user(d.mediator_id)
    record_audit(
        actor,
        "dispute.assign",
        "dispute",
        d.id,
        f"Assigned dispute {d.number} to {_who(mediator)}",
        {"mediator_id": [before, d.mediator_id], "stage": d.stage},
    )
    return d


def message(actor: User, dispute_id: Any, body: Any, *, now: datetime | None = None) -> Dispute:
    """Write to both parties inside the dispute and audit ``dispute.message``."""
    event = services.post_message(actor, dispute_id, body, now=now)
    d = db.session.get(Dispute, event.dispute_id)
    record_audit(
        actor,
        "dispute.message",
        "dispute",
        d.id,
        f"Wrote to both parties of dispute {d.number}: {_short(event.body)}",
        {"dispute_event_id": event.id, "body": event.body, "stage": d.stage},
    )
    return d


def propose(
    actor: User, dispute_id: Any, refund_minor: Any, release_minor: Any, explanation: Any, *, now=None
) -> DisputeProposal:
    """The mediator's proposal (both parties must accept it); audited ``dispute.propose``."""
    proposal = services.mediator_propose(actor, dispute_id, refund_minor, release_minor, explanation, now=now)
    d = db.session.get(Dispute, proposal.dispute_id)
    record_audit(
        actor,
        "dispute.propose",
        "dispute",
        d.id,
        f"Proposed for dispute {d.number}: {_amounts(d, proposal.refund_minor, proposal.release_minor)}",
        {
            "proposal_id": proposal.id,
            "refund_minor": proposal.refund_minor,
            "release_minor": proposal.release_minor,
            "currency": d.currency,
            "message": proposal.message,
        },
    )
    return proposal


def request_expert(
    actor: User, dispute_id: Any, expert_id: Any, question: Any, *, now: datetime | None = None
) -> Dispute:
    """Ask an appointed expert for an assessment (mediation -> expert review); audited
    ``dispute.expert_request``."""
    d = services.request_expert(actor, dispute_id, expert_id, question, now=now)
    record_audit(
        actor,
        "dispute.expert_request",
        "dispute",
        d.id,
        f"Asked {_who(_user(d.expert_id))} to review dispute {d.number}: {_short(d.expert_question or '')}",
        {"stage": ["mediation", d.stage], "expert_id": d.expert_id, "question": d.expert_question},
    )
    return d


def hand_over(actor: User, dispute_id: Any, note: Any = "", *, now: datetime | None = None) -> Dispute:
    """Hand the dispute to an admin's decision; audited ``dispute.hand_over``."""
    before = services.lock(dispute_id).stage if actor.role in ("moderator", "admin") else None
    d = services.hand_to_decision(actor, dispute_id, note, now=now)
    text = note.strip() if isinstance(note, str) else ""
    record_audit(
        actor,
        "dispute.hand_over",
        "dispute",
        d.id,
        f"Handed dispute {d.number} to an admin's decision" + (f": {_short(text)}" if text else ""),
        {"stage": [before, d.stage], "note": text},
    )
    return d


def decide(
    actor: User,
    dispute_id: Any,
    refund_minor: Any,
    release_minor: Any,
    reason: Any,
    *,
    currency: Any = None,
    now: datetime | None = None,
) -> Dispute:
    """An admin's final decision (the money moves now, once); audited ``dispute.decide``."""
    before = services.lock(dispute_id).stage if actor.is_admin else None
    d = services.decide(actor, dispute_id, refund_minor, release_minor, reason, currency=currency, now=now)
    outcome = services.OUTCOME_LABELS.get(d.outcome or "", d.outcome)
    record_audit(
        actor,
        "dispute.decide",
        "dispute",
        d.id,
        f"Decided dispute {d.number} ({outcome}): {_amounts(d, d.refund_minor, d.release_minor)}. "
        f"{_short(d.decision_reason or '', 200)}",
        {
            "stage": [before, d.status],
            "outcome": d.outcome,
            "refund_minor": d.refund_minor,
            "release_minor": d.release_minor,
            "currency": d.currency,
            "order_id": d.order_id,
            "milestone_id": d.milestone_id,
            "reason": d.decision_reason,
        },
    )
    return d


def dismiss(actor: User, dispute_id: Any, reason: Any, *, now: datetime | None = None) -> Dispute:
    """An admin dismisses the dispute (nothing moves); audited ``dispute.dismiss``."""
    before = services.lock(dispute_id).stage if actor.is_admin else None
    d = services.dismiss(actor, dispute_id, reason, now=now)
    record_audit(
        actor,
        "dispute.dismiss",
        "dispute",
        d.id,
        f"Dismissed dispute {d.number}: {_short(d.decision_reason or '', 200)}",
        {"stage": [before, d.status], "reason": d.decision_reason, "order_id": d.order_id},
    )
    return d


def update_settings(actor: User, values: dict[str, Any]):
    """Change the ladder's settings; audited ``disputes.settings.update`` when something changed."""
    row, changes = dispute_admin.update_dispute_settings(actor, values)
    if changes:
        record_audit(
            actor,
            "disputes.settings.update",
            "dispute_settings",
            1,
            "Changed the dispute settings: " + ", ".join(sorted(changes)),
            changes,
        )
    return row, changes


def appoint_expert(actor: User, email: Any, field: Any = "", *, now: datetime | None = None):
    """Appoint an expert reviewer; audited ``dispute_expert.appoint``."""
    expert = dispute_admin.appoint_expert(actor, email, field, now=now)
    record_audit(
        actor,
        "dispute_expert.appoint",
        "user",
        expert.id,
        f"Appointed {_who(expert.user)} as a dispute expert" + (f" ({expert.field})" if expert.field else ""),
        {"expert": [False, True], "field": expert.field},
    )
    return expert


def remove_expert(actor: User, user_id: Any):
    """Remove an expert reviewer; audited ``dispute_expert.remove``."""
    expert = dispute_admin.remove_expert(actor, user_id)
    record_audit(
        actor,
        "dispute_expert.remove",
        "user",
        expert.id,
        f"Removed {_who(expert.user)} from the dispute experts",
        {"expert": [True, False], "field": expert.field},
    )
    return expert
