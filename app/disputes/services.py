"""Disputes: opening one on a milestone's escrow, evidence, proposals, the ladder and its
deadlines, mediation, the expert's review and the admin's decision.

A dispute is about the money one milestone holds (a gig order's only milestone, or one
milestone of a contract): opening it locks that escrow in the milestone engine
(``app.orders.milestones.mark_disputed``), and only its resolution moves the money
(``resolve_disputed``: refund + release = what is held, commission on the released part only),
once, under the order's lock. A dismissal gives the milestone back its state (nothing moves).
This module never touches the ledger.

The ladder (``TRANSITIONS``, data; a refused step is a 409 naming the current stage; the
design doc renders it as a table):

- (new) -> self_resolution: a party, on money funded, submitted or sent back (``dispute.opened``);
- self_resolution -> resolved: the other party accepts a proposal, or the deadline passes with
  the other side silent (the side that acted wins);
- self_resolution -> mediation: a party escalates, or the deadline (``dispute.escalated``);
- mediation -> expert_review: the mediator asks an appointed expert, where the tenant allows
  it (``dispute.expert_requested``); back to mediation with the assessment or at its deadline
  (``dispute.expert_answered``);
- mediation -> resolved: both parties accept the mediator's proposal (or one party the other's);
- mediation | expert_review -> decision: the mediator hands it over, a party refuses the
  mediator's proposal, or mediation's deadline (``dispute.escalated``);
- mediation | expert_review | decision -> resolved: an operator admin decides (sums = held,
  a written reason; ``dispute.resolved``);
- any open stage -> dismissed: an admin, or the opener withdraws; the money goes back where it
  was (``dispute.resolved`` with ``outcome: dismissed``).

Deadlines (``DisputeSettings``): the other side answers within ``answer_days`` (else the side
that acted wins); self-resolution lasts ``self_resolution_days``; mediation
``mediation_days``; an expert has ``expert_days``. ``sweep_due`` acts on them with an injected
``now`` (``app.disputes.tasks``).

Events (outbox), payload ``{"dispute_id", "dispute_event_id"}`` plus: ``dispute.opened``
(+ ``order_id``, ``milestone_id``), ``dispute.escalated`` (+ ``stage``),
``dispute.resolved`` (+ ``outcome``, ``winner`` ``client | freelancer | null``,
``split`` ``{"refund_minor", "release_minor"}``), ``dispute.expert_requested``,
``dispute.expert_answered``, ``dispute.activity`` (evidence, proposals, answers, messages,
assignment: ``kind`` names it). ``app.notifications`` tells the people concerned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from app.accounts.models import User
from app.code import services as code
from app.contracts.services import ContractForbidden, ContractNotFound, contract_of_order
from app.core import pagination
from app.core.domain_errors import CodedError, Forbidden, NotFound, StateConflict
from app.core.ids import parse_id
from app.core.text import text_field
from app.disputes.models import (
    EVIDENCE_KINDS,
    NOTE_MAX,
    REASON_LABELS,
    REASONS,
    STATEMENT_MAX,
    Dispute,
    DisputeEvent,
    DisputeEvidence,
    DisputeExpert,
    DisputeProposal,
    DisputeSettings,
)
from app.events import publish
from app.hourly import services as hourly
from app.messaging import services as messaging
from app.orders import milestones as engine
from app.orders.models import Milestone, Order
from app.orders.services import OrderError
from app.storage import storage
from app.storage.uploads import DOCUMENT_TYPES, Upload, UploadRefused, check_upload
from tenants.db import db

MAX_EVIDENCE = 50  # pieces per dispute
MAX_FILES = 5  # per request
URL_MAX = 500
FILE_URL_SECONDS = 3600
EVIDENCE_TYPES = DOCUMENT_TYPES
STAGE_LABELS = {
    "self_resolution": "Self-resolution",
    "mediation": "Mediation",
    "expert_review": "Expert review",
    "decision": "Admin decision",
}
OUTCOME_LABELS = {
    "resolved_client": "Refunded to the buyer",
    "resolved_freelancer": "Released to the seller",
    "resolved_split": "Split",
    "dismissed": "Dismissed",
}
OPEN_STAGES = ("self_resolution", "mediation", "expert_review", "decision")


class Transition(NamedTuple):
    source: str
    target: str
    who: tuple[str, ...]  # party, deadline, mediator, expert, admin, opener
    guard: str
    event: str


TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        "self_resolution", "resolved", ("party",), "the other party accepts a proposal", "dispute.resolved"
    ),
    Transition(
        "self_resolution",
        "resolved",
        ("deadline",),
        "the other side never answered: the side that acted wins",
        "dispute.resolved",
    ),
    Transition(
        "self_resolution",
        "mediation",
        ("party", "deadline"),
        "escalated, or no agreement in time",
        "dispute.escalated",
    ),
    Transition(
        "mediation",
        "expert_review",
        ("mediator",),
        "expert review on; an appointed expert",
        "dispute.expert_requested",
    ),
    Transition(
        "expert_review",
        "mediation",
        ("expert", "deadline"),
        "the assessment, or its deadline",
        "dispute.expert_answered",
    ),
    Transition(
        "mediation", "resolved", ("party",), "both parties accept the same proposal", "dispute.resolved"
    ),
    Transition(
        "mediation",
        "decision",
        ("mediator", "party", "deadline"),
        "handed to an admin, a refused mediator proposal, or the deadline",
        "dispute.escalated",
    ),
    Transition("expert_review", "decision", ("mediator",), "handed to an admin", "dispute.escalated"),
    Transition("mediation", "resolved", ("admin",), "decision: sums = held, a reason", "dispute.resolved"),
    Transition(
        "expert_review", "resolved", ("admin",), "decision: sums = held, a reason", "dispute.resolved"
    ),
    Transition("decision", "resolved", ("admin",), "decision: sums = held, a reason", "dispute.resolved"),
    *(
        Transition(
            stage, "dismissed", ("admin", "opener"), "the money goes back where it was", "dispute.resolved"
        )
        for stage in OPEN_STAGES
    ),
)


def allowed(source: str, target: str, who: str) -> Transition | None:
    for row in TRANSITIONS:
        if row.source == source and row.target == target and who in row.who:
            return row
    return None


# --------------------------------------------------------------------------- errors


class DisputeError(CodedError):
    """A refused dispute operation (422 by default); ``code`` is stable."""

    status = 422
    code = "invalid"


class DisputeNotFound(DisputeError, NotFound):
    status = 404
    code = "not_found"


class DisputeForbidden(DisputeError, Forbidden):
    status = 403
    code = "forbidden"


class DisputeStateError(DisputeError, StateConflict):
    """Not possible at the dispute's current stage or status (409, ``current_status``)."""

    status = 409
    code = "conflict"


def _from_order_error(exc: OrderError) -> DisputeError:
    """The engine's refusal, as this domain's (same status, code, message and fields)."""
    cls = {404: DisputeNotFound, 403: DisputeForbidden}.get(exc.status, DisputeError)
    if exc.status == 409:
        return DisputeStateError(exc.message, exc.extra.get("current_status", ""), code=exc.code)
    return cls(exc.errors, code=exc.code, status=exc.status)


# --------------------------------------------------------------------------- helpers


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def settings() -> DisputeSettings:
    """The tenant's ladder settings (the row is created with the defaults on first use)."""
    row = db.session.get(DisputeSettings, 1)
    if row is None:
        row = DisputeSettings(id=1)
        db.session.add(row)
        db.session.flush()
    return row


_text = text_field  # the one text input check (app.core.text)


def _amount(value: Any, field: str, errors: dict) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        errors[field] = "Give a whole number of minor units, 0 or more."
        return 0
    return value


def _stage_error(d: Dispute, doing: str) -> DisputeStateError:
    where = STAGE_LABELS.get(d.stage, d.stage).lower() if d.is_open else d.status
    return DisputeStateError(
        f"Dispute {d.number} is {'in ' + where if d.is_open else where}: you cannot {doing} now.",
        d.stage if d.is_open else d.status,
    )


def _record(
    d: Dispute,
    kind: str,
    actor_id: int | None,
    *,
    body: str = "",
    data: dict | None = None,
    event: str = "dispute.activity",
    now: datetime,
    extra: dict | None = None,
) -> DisputeEvent:
    """A timeline row and its outbox event (``dispute.activity`` names the row's ``kind``)."""
    row = DisputeEvent(
        dispute_id=d.id, kind=kind, actor_id=actor_id, body=body, data=data or {}, created_at=now
    )
    db.session.add(row)
    db.session.flush()
    payload = {"dispute_id": d.id, "dispute_event_id": row.id, "kind": kind, **(extra or {})}
    publish(event, payload)
    return row


def _touch(d: Dispute) -> None:
    d.version += 1


def lock(dispute_id: Any) -> Dispute:
    """The dispute, locked FOR UPDATE and read fresh. Raises DisputeNotFound."""
    did = parse_id(dispute_id)
    d = (
        db.session.execute(
            sa.select(Dispute)
            .where(Dispute.id == did)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if did
        else None
    )
    if d is None:
        raise DisputeNotFound("This dispute does not exist.")
    return d


def _lock_as_party(user: User, dispute_id: Any) -> tuple[Dispute, str]:
    d = lock(dispute_id)
    party = d.party(user.id)
    if party is None:
        raise DisputeNotFound("This dispute does not exist.")
    return d, party


def is_expert(user: User | None) -> bool:
    return user is not None and db.session.get(DisputeExpert, user.id) is not None


def _is_staff(user: User) -> bool:
    return user.role in ("moderator", "admin") and user.is_active


def can_view(user: User, d: Dispute) -> bool:
    """Parties, the marketplace's moderators and admins, and the expert asked on it."""
    return (
        d.party(user.id) is not None
        or _is_staff(user)
        or (d.expert_id is not None and d.expert_id == user.id)
    )


def get_dispute(user: User, dispute_id: Any) -> Dispute:
    """A dispute ``user`` may see. Raises DisputeNotFound."""
    did = parse_id(dispute_id)
    d = db.session.get(Dispute, did) if did else None
    if d is None or not can_view(user, d):
        raise DisputeNotFound("This dispute does not exist.")
    return d


# --------------------------------------------------------------------------- opening


def open_dispute(
    actor: User,
    order_id: Any,
    reason: Any,
    statement: Any,
    *,
    milestone_id: Any = None,
    now: datetime | None = None,
) -> Dispute:
    """Open a dispute about an order's escrow (a contract's or offer's: ``milestone_id``); flushes.

    The milestone's money is locked at once (``milestone.disputed`` / ``order.disputed``): no
    completion, auto-release, refund, cancellation or payout of it until the dispute ends. The
    other side has ``answer_days`` to answer. Publishes ``dispute.opened``.

    Raises DisputeError (a reason not in the list, no statement), DisputeNotFound (not a party),
    DisputeStateError ``not_disputable`` (unpaid, released or refunded, the order finished)
    or ``dispute_open`` (one is open on this money already).
    """
    errors: dict[str, str] = {}
    if reason not in REASONS:
        errors["reason"] = "Choose a reason: " + ", ".join(REASON_LABELS[r].lower() for r in REASONS) + "."
    text = _text(statement, "statement", errors, label="The statement", max_len=STATEMENT_MAX, required=True)
    if milestone_id not in (None, "") and parse_id(milestone_id) is None:
        errors["milestone_id"] = "Give a milestone id."
    if errors:
        raise DisputeError(errors)
    now = _now(now)
    try:
        order, m = engine.lock_disputable(actor, order_id, milestone_id)
    except OrderError as exc:
        raise _from_order_error(exc) from None
    ladder = settings()
    d = Dispute(
        order_id=order.id,
        milestone_id=m.id,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
        opened_by=actor.id,
        against_id=order.seller_id if actor.id == order.buyer_id else order.buyer_id,
        reason=reason,
        statement=text,
        amount_minor=m.amount_minor - m.refunded_minor,
        currency=order.currency,
        opened_at=now,
        awaiting_id=order.seller_id if actor.id == order.buyer_id else order.buyer_id,
        stage_deadline_at=now + timedelta(days=min(ladder.answer_days, ladder.self_resolution_days)),
    )
    db.session.add(d)
    db.session.flush()
    engine.mark_disputed(order, m, actor.id, d.id, now=now)
    _record(
        d,
        "opened",
        actor.id,
        body=text,
        data={"reason": reason},
        event="dispute.opened",
        now=now,
        extra={"order_id": order.id, "milestone_id": m.id},
    )
    return d


def open_timesheet_dispute(
    client: User, timesheet_id: Any, reason: Any, statement: Any, *, now: datetime | None = None
) -> Dispute:
    """The client disputes an hourly week they have not approved yet; flushes. The week is
    charged to their saved card into escrow first (``hourly.charge_for_dispute``: held, not
    released), then the dispute opens on that money like any milestone's. Raises DisputeError
    (reason, statement), DisputeNotFound (not the client's), DisputeStateError (the timesheet
    is not waiting for the client, or ``payment_failed``: the card was declined, nothing
    recorded)."""
    errors: dict[str, str] = {}
    if reason not in REASONS:
        errors["reason"] = "Choose a reason: " + ", ".join(REASON_LABELS[r].lower() for r in REASONS) + "."
    text = _text(statement, "statement", errors, label="The statement", max_len=STATEMENT_MAX, required=True)
    if errors:
        raise DisputeError(errors)
    now = _now(now)
    try:
        _contract, _sheet, order, m = hourly.charge_for_dispute(client, timesheet_id, text, now=now)
    except (hourly.HourlyNotFound, ContractNotFound, ContractForbidden) as exc:
        raise DisputeNotFound("No timesheet of yours to dispute.") from exc
    except hourly.HourlyStateError as exc:
        raise DisputeStateError(
            exc.message, str(exc.extra.get("current_status") or ""), code=exc.code
        ) from None
    return open_dispute(client, order.id, reason, text, milestone_id=m.id, now=now)


def _answered(d: Dispute, actor_id: int, now: datetime) -> None:
    """The side the deadline waited for has acted: self-resolution runs its full length."""
    if d.awaiting_id is not None and d.awaiting_id == actor_id:
        d.awaiting_id = None
        if d.stage == "self_resolution":
            full = d.opened_at + timedelta(days=settings().self_resolution_days)
            d.stage_deadline_at = max(full, now)


# --------------------------------------------------------------------------- evidence


def _order_conversation_message(user: User, d: Dispute, message_id: Any):
    conversation = messaging.order_conversation_of(user, d.order_id)
    mid = parse_id(message_id)
    message = messaging.message_of_conversation(conversation.id, mid) if conversation and mid else None
    if message is None:
        raise DisputeError({"message_id": "Pick a message of this order's conversation."})
    return message


def _lock_for_evidence(user: User, dispute_id: Any) -> Dispute:
    """The open dispute locked for a party, the marketplace's staff or its expert to add to."""
    d = lock(dispute_id)
    if d.party(user.id) is None and not (d.expert_id == user.id or _is_staff(user)):
        raise DisputeNotFound("This dispute does not exist.")
    if not d.is_open:
        raise _stage_error(d, "add evidence")
    return d


def add_evidence(
    user: User,
    dispute_id: Any,
    kind: Any,
    *,
    text: Any = "",
    url: Any = "",
    message_id: Any = None,
    files: list[Upload] | tuple = (),
    pull_request_id: Any = None,
    ci_run_id: Any = None,
    now: datetime | None = None,
) -> list[DisputeEvidence]:
    """Add evidence to an open dispute (a party, the mediator or the expert); flushes.

    ``kind``: ``message`` (a message of the order's conversation, picked by ``message_id``;
    its text is copied as it is now), ``file`` (``files``, up to 5, types checked by content),
    ``link`` (an http(s) ``url`` and an optional ``text``), ``dod`` (the milestone's
    Definition-of-Done checklist as it stands), ``note`` (``text``), ``pr`` (a pull request of
    the dispute's contract's repositories, ``pull_request_id``) or ``ci`` (a CI run of them,
    ``ci_run_id``): a PR or CI run is copied as it is now (title, state, status, its latest CI)
    with an optional ``text``. Each piece is timestamped and attributed and can never be
    changed or removed. Returns the new rows.

    Raises DisputeError (a bad kind, link, file, message, pull request or CI run (another
    contract's or unknown: a field error); no text for a note; too many pieces),
    DisputeNotFound, DisputeStateError (the dispute is over).
    """
    errors: dict[str, str] = {}
    if kind not in EVIDENCE_KINDS:
        raise DisputeError({"kind": "Choose message, file, link, dod, note, pr or ci."})
    note = _text(text, "text", errors, label="The text", max_len=NOTE_MAX, required=kind == "note")
    link = ""
    checked: list[Upload] = []
    if kind == "link":
        link = url.strip() if isinstance(url, str) else ""
        if (
            not link.startswith(("https://", "http://"))
            or len(link) > URL_MAX
            or any(c.isspace() for c in link)
        ):
            errors["url"] = f"Give an http(s) address of at most {URL_MAX} characters."
    if kind == "file":
        files = list(files or ())
        if not files:
            errors["files"] = "Choose at least one file."
        elif len(files) > MAX_FILES:
            errors["files"] = f"Add at most {MAX_FILES} files at once."
        else:
            from flask import current_app

            limit = int(current_app.config["JOB_ATTACHMENT_MAX_BYTES"])
            for upload in files:
                try:
                    checked.append(
                        check_upload(upload, allowed=EVIDENCE_TYPES, max_bytes=limit, name_in_message=True)
                    )
                except UploadRefused as exc:
                    errors["files"] = exc.message
                    break
    if kind == "message" and parse_id(message_id) is None:
        errors["message_id"] = "Pick a message of this order's conversation."
    if kind == "pr" and parse_id(pull_request_id) is None:
        errors["pull_request_id"] = PICK_PR
    if kind == "ci" and parse_id(ci_run_id) is None:
        errors["ci_run_id"] = PICK_CI
    if errors:
        raise DisputeError(errors)
    now = _now(now)
    d = _lock_for_evidence(user, dispute_id)
    count = db.session.scalar(sa.select(sa.func.count()).where(DisputeEvidence.dispute_id == d.id)) or 0
    adding = max(1, len(checked))
    if count + adding > MAX_EVIDENCE:
        raise DisputeError(
            {"kind": f"A dispute holds at most {MAX_EVIDENCE} pieces of evidence."}, code="too_much_evidence"
        )
    rows: list[DisputeEvidence] = []
    base = {"dispute_id": d.id, "author_id": user.id, "created_at": now}
    if kind == "message":
        message = _order_conversation_message(user, d, message_id)
        rows.append(
            DisputeEvidence(
                **base,
                kind="message",
                message_id=message.id,
                text=message.body[:NOTE_MAX],
                data={"sent_at": message.created_at.isoformat(), "sender_id": message.sender_id},
            )
        )
    elif kind == "file":
        for upload in checked:
            key = storage.save(
                upload.data,
                namespace="disputes/evidence",
                filename=upload.filename,
                content_type=upload.content_type,
            )
            rows.append(
                DisputeEvidence(
                    **base,
                    kind="file",
                    text=note,
                    storage_key=key,
                    filename=upload.filename,
                    content_type=upload.content_type,
                    size=upload.size,
                )
            )
    elif kind == "link":
        rows.append(DisputeEvidence(**base, kind="link", url=link, text=note))
    elif kind == "dod":
        m = db.session.get(Milestone, d.milestone_id)
        if not m.dod:
            raise DisputeError({"kind": "This milestone has no Definition of Done."}, code="no_dod")
        rows.append(
            DisputeEvidence(**base, kind="dod", text=note, data={"items": list(m.dod), "milestone": m.title})
        )
    elif kind in ("pr", "ci"):
        rows.append(_code_evidence(d, kind, base, note, pull_request_id, ci_run_id))
    else:
        rows.append(DisputeEvidence(**base, kind="note", text=note))
    db.session.add_all(rows)
    db.session.flush()
    _answered(d, user.id, now)
    _touch(d)
    _record(d, "evidence_added", user.id, data={"kind": kind, "evidence_ids": [r.id for r in rows]}, now=now)
    return rows


PICK_PR = "Pick a pull request of this contract's repositories."
PICK_CI = "Pick a CI run of this contract's repositories."


def _code_evidence(d: Dispute, kind: str, base: dict, note: str, pull_request_id: Any, ci_run_id: Any):
    """A pull request or CI run of the dispute's contract, copied as it is now (app.code)."""
    contract = contract_of_order(d.order_id)
    if kind == "pr":
        pr = code.evidence_pull_request(contract.id, pull_request_id) if contract else None
        if pr is None:
            raise DisputeError({"pull_request_id": PICK_PR})
        link = code.link_of(pr)
        ci = code.ci_of(pr)
        data = {
            "pull_request_id": pr.id,
            "provider": link.provider,
            "repo": link.full_name,
            "number": pr.number,
            "title": pr.title,
            "state": pr.state,
            "author": pr.author,
            "head_sha": pr.head_sha,
            "merged_at": pr.merged_at.isoformat() if pr.merged_at else None,
            "ci_status": ci.status,
            "ci_text": ci.text,
        }
        return DisputeEvidence(**base, kind="pr", url=pr.url or None, text=note, data=data)
    run = code.evidence_ci_run(contract.id, ci_run_id) if contract else None
    if run is None:
        raise DisputeError({"ci_run_id": PICK_CI})
    link = code.link_of(run)
    data = {
        "ci_run_id": run.id,
        "provider": link.provider,
        "repo": link.full_name,
        "kind": run.kind,
        "name": run.name,
        "status": run.status,
        "summary": run.summary,
        "head_sha": run.head_sha,
        "reported_at": run.updated_at.isoformat(),
    }
    return DisputeEvidence(**base, kind="ci", url=run.url, text=note, data=data)


def code_choices(d: Dispute) -> tuple[list, list]:
    """The pull requests and CI runs a party may pick as evidence (the dispute's contract's)."""
    contract = contract_of_order(d.order_id)
    if contract is None:
        return [], []
    return code.pull_requests_of(contract), code.ci_runs_of(contract)


def evidence_of(d: Dispute) -> list[DisputeEvidence]:
    return list(
        db.session.scalars(
            sa.select(DisputeEvidence).where(DisputeEvidence.dispute_id == d.id).order_by(DisputeEvidence.id)
        )
    )


def evidence_url(row: DisputeEvidence) -> str | None:
    """A signed download URL of a file (only given to those who may see the dispute)."""
    if not row.storage_key:
        return None
    return storage.url(row.storage_key, expires_in=FILE_URL_SECONDS, download_name=row.filename)


def conversation_messages(user: User, d: Dispute, limit: int = 100) -> list:
    """The order conversation's latest messages a party may pick as evidence (oldest first)."""
    conversation = messaging.order_conversation_of(user, d.order_id) if d.party(user.id) else None
    if conversation is None:
        return []
    rows, _more = messaging.history(user, conversation.id, limit=limit)
    return [m for m in rows if m.kind == "user"]


# --------------------------------------------------------------------------- messages


def post_message(user: User, dispute_id: Any, body: Any, *, now: datetime | None = None) -> DisputeEvent:
    """A message inside the dispute, read by both parties and the marketplace (a party, the
    mediator or any moderator, the expert); flushes. Raises DisputeError (empty or too long),
    DisputeNotFound, DisputeStateError (over)."""
    errors: dict[str, str] = {}
    text = _text(body, "body", errors, label="The message", max_len=NOTE_MAX, required=True)
    if errors:
        raise DisputeError(errors)
    now = _now(now)
    d = _lock_for_evidence(user, dispute_id)
    _answered(d, user.id, now)
    _touch(d)
    return _record(d, "message", user.id, body=text, data={"role": _role_name(d, user)}, now=now)


def _role_name(d: Dispute, user: User) -> str:
    party = d.party(user.id)
    if party:
        return party
    if d.expert_id == user.id:
        return "expert"
    return "mediator"


# --------------------------------------------------------------------------- proposals


def _open_proposals(d: Dispute) -> list[DisputeProposal]:
    return list(
        db.session.scalars(
            sa.select(DisputeProposal)
            .where(DisputeProposal.dispute_id == d.id, DisputeProposal.status == "open")
            .order_by(DisputeProposal.id)
            .with_for_update()
        )
    )


def proposals_of(d: Dispute) -> list[DisputeProposal]:
    return list(
        db.session.scalars(
            sa.select(DisputeProposal).where(DisputeProposal.dispute_id == d.id).order_by(DisputeProposal.id)
        )
    )


def _check_split(d: Dispute, refund_minor: Any, release_minor: Any, currency: Any = None) -> tuple[int, int]:
    errors: dict[str, str] = {}
    refund = _amount(refund_minor, "refund_minor", errors)
    release = _amount(release_minor, "release_minor", errors)
    if currency not in (None, "") and currency != d.currency:
        errors["currency"] = f"This dispute is in {d.currency}."
    if not errors and refund + release != d.amount_minor:
        errors["release_minor"] = (
            f"The refund and the release must add up to the {d.amount_minor} held in escrow "
            f"(they add up to {refund + release})."
        )
    if errors:
        raise DisputeError(errors, code="split_mismatch")
    return refund, release


def _new_proposal(
    d: Dispute, author: User, refund: int, release: int, text: str, *, by_mediator: bool, now: datetime
) -> DisputeProposal:
    """A proposal by ``author`` (the mediator's when ``by_mediator``), superseding their open one."""
    for p in _open_proposals(d):
        if p.by_mediator == by_mediator and (by_mediator or p.author_id == author.id):
            p.status, p.answered_at = "superseded", now
    proposal = DisputeProposal(
        dispute_id=d.id,
        author_id=author.id,
        by_mediator=by_mediator,
        refund_minor=refund,
        release_minor=release,
        message=text,
        created_at=now,
    )
    db.session.add(proposal)
    db.session.flush()
    _touch(d)
    _record(
        d,
        "mediator_proposal" if by_mediator else "proposal_made",
        author.id,
        body=text,
        data={"proposal_id": proposal.id, "refund_minor": refund, "release_minor": release},
        now=now,
    )
    return proposal


def propose(
    user: User,
    dispute_id: Any,
    refund_minor: Any,
    release_minor: Any,
    message: Any = "",
    *,
    currency: Any = None,
    now: datetime | None = None,
) -> DisputeProposal:
    """A party proposes a way out: ``refund_minor`` back to the buyer, ``release_minor`` to the
    seller (summing to what is held: release all, refund all, or a split); flushes. Their
    earlier open proposal is superseded. Allowed in self-resolution and mediation.

    Raises DisputeError ``split_mismatch`` (negative, wrong currency, not summing to the
    escrow), DisputeNotFound, DisputeStateError (over, or at the expert's or the admin's stage).
    """
    errors: dict[str, str] = {}
    text = _text(message, "message", errors, label="The message", max_len=NOTE_MAX, required=False)
    if errors:
        raise DisputeError(errors)
    now = _now(now)
    d, _party = _lock_as_party(user, dispute_id)
    if not d.is_open or d.stage not in ("self_resolution", "mediation"):
        raise _stage_error(d, "propose a resolution")
    refund, release = _check_split(d, refund_minor, release_minor, currency)
    _answered(d, user.id, now)
    return _new_proposal(d, user, refund, release, text, by_mediator=False, now=now)


def mediator_propose(
    mediator: User,
    dispute_id: Any,
    refund_minor: Any,
    release_minor: Any,
    message: Any,
    *,
    now: datetime | None = None,
) -> DisputeProposal:
    """The mediator proposes a resolution both parties must accept; flushes. Replaces the
    mediator's earlier open proposal. Raises DisputeForbidden (not a moderator), DisputeError,
    DisputeStateError (not in mediation)."""
    _require_staff(mediator)
    errors: dict[str, str] = {}
    text = _text(message, "message", errors, label="The explanation", max_len=NOTE_MAX, required=True)
    if errors:
        raise DisputeError(errors)
    now = _now(now)
    d = lock(dispute_id)
    if not d.is_open or d.stage != "mediation":
        raise _stage_error(d, "propose a resolution as mediator")
    refund, release = _check_split(d, refund_minor, release_minor)
    if d.mediator_id is None:
        d.mediator_id = mediator.id
    return _new_proposal(d, mediator, refund, release, text, by_mediator=True, now=now)


def answer_proposal(
    user: User, dispute_id: Any, proposal_id: Any, accept: Any, *, now: datetime | None = None
) -> Dispute:
    """A party accepts or declines a proposal (the other party's, or the mediator's); flushes.

    Accepting the other party's proposal resolves the dispute with its amounts (the money moves
    now). The mediator's proposal resolves once both parties accept it; one refusal sends the
    dispute to an admin's decision. The author may withdraw their own (``accept=False``).
    Raises DisputeError (accept not a boolean), DisputeNotFound, DisputeForbidden (accepting
    your own), DisputeStateError (the proposal or the dispute is no longer open).
    """
    if not isinstance(accept, bool):
        raise DisputeError({"accept": "Answer true (accept) or false (decline)."})
    now = _now(now)
    d, party = _lock_as_party(user, dispute_id)
    pid = parse_id(proposal_id)
    proposal = db.session.get(DisputeProposal, pid, with_for_update=True) if pid else None
    if proposal is None or proposal.dispute_id != d.id:
        raise DisputeNotFound({"proposal_id": "This dispute has no such proposal."})
    if not d.is_open:
        raise _stage_error(d, "answer a proposal")
    if proposal.status != "open":
        raise DisputeStateError(
            f"This proposal is {proposal.status}.", proposal.status, code="proposal_closed"
        )
    _answered(d, user.id, now)
    _touch(d)
    data = {"proposal_id": proposal.id, "accept": accept}
    if proposal.by_mediator:
        setattr(proposal, f"{party}_answer", "accepted" if accept else "declined")
        _record(d, "proposal_answered", user.id, data=data, now=now)
        if not accept:
            proposal.status, proposal.answered_at = "declined", now
            _escalate(
                d, "decision", "party", user.id, now, why=f"The {party} refused the mediator's proposal."
            )
        elif proposal.buyer_answer == "accepted" and proposal.seller_answer == "accepted":
            proposal.status, proposal.answered_at = "accepted", now
            _resolve(
                d,
                proposal.refund_minor,
                proposal.release_minor,
                "party",
                user.id,
                now,
                reason="Both parties accepted the mediator's proposal.",
            )
        return d
    if proposal.author_id == user.id:
        if accept:
            raise DisputeForbidden("The other side has to accept your proposal.")
        proposal.status, proposal.answered_at = "withdrawn", now
        _record(d, "proposal_withdrawn", user.id, data=data, now=now)
        return d
    proposal.answered_at = now
    if not accept:
        proposal.status = "declined"
        _record(d, "proposal_answered", user.id, data=data, now=now)
        return d
    if d.stage not in ("self_resolution", "mediation"):
        raise _stage_error(d, "accept a proposal")
    proposal.status = "accepted"
    _record(d, "proposal_answered", user.id, data=data, now=now)
    _resolve(
        d, proposal.refund_minor, proposal.release_minor, "party", user.id, now, reason="The parties agreed."
    )
    return d


# --------------------------------------------------------------------------- the ladder


def _move(d: Dispute, target: str, who: str, doing: str) -> Transition:
    row = allowed(d.stage if d.is_open else d.status, target, who)
    if row is None or not d.is_open:
        raise _stage_error(d, doing)
    return row


def _escalate(d: Dispute, target: str, who: str, actor_id: int | None, now: datetime, *, why: str) -> None:
    row = _move(d, target, who, "escalate it")
    ladder = settings()
    d.stage = target
    d.awaiting_id = None
    d.escalated_at = d.escalated_at or now
    d.stage_deadline_at = now + timedelta(days=ladder.mediation_days) if target == "mediation" else None
    for p in _open_proposals(d):
        if target == "decision" or not p.by_mediator:
            p.status, p.answered_at = "superseded", now
    _touch(d)
    _record(
        d,
        "escalated",
        actor_id,
        body=why,
        data={"stage": target},
        event=row.event,
        now=now,
        extra={"stage": target},
    )


def escalate(user: User, dispute_id: Any, reason: Any = "", *, now: datetime | None = None) -> Dispute:
    """A party asks the marketplace to mediate (self-resolution -> mediation); flushes.
    Raises DisputeNotFound, DisputeStateError (not in self-resolution)."""
    errors: dict[str, str] = {}
    text = _text(reason, "reason", errors, label="The reason", max_len=NOTE_MAX, required=False)
    if errors:
        raise DisputeError(errors)
    now = _now(now)
    d, party = _lock_as_party(user, dispute_id)
    if d.stage != "self_resolution":
        raise _stage_error(d, "ask for mediation")
    _answered(d, user.id, now)
    _escalate(
        d, "mediation", "party", user.id, now, why=text or f"The {party} asked the marketplace to mediate."
    )
    return d


def withdraw(user: User, dispute_id: Any, *, now: datetime | None = None) -> Dispute:
    """The opener withdraws the dispute: dismissed, the money goes back where it was; flushes.
    Raises DisputeNotFound, DisputeForbidden (not the opener), DisputeStateError (over)."""
    now = _now(now)
    d, _party = _lock_as_party(user, dispute_id)
    if d.opened_by != user.id:
        raise DisputeForbidden("Only the side that opened the dispute can withdraw it.")
    _dismiss(d, "opener", user.id, now, reason="Withdrawn by the side that opened it.")
    return d


def _close(
    d: Dispute,
    status: str,
    outcome: str,
    row: Transition,
    who: str,
    actor_id: int | None,
    now: datetime,
    *,
    reason: str,
    data: dict,
    split: dict | None,
) -> None:
    """End the dispute (the engine has moved the money, or given the milestone back)."""
    d.status, d.outcome = status, outcome
    d.decided_by, d.decision_reason, d.resolved_at = actor_id, reason, now
    d.stage_deadline_at = d.awaiting_id = None
    for p in _open_proposals(d):
        p.status, p.answered_at = "superseded", now
    _touch(d)
    winner = {"resolved_client": "client", "resolved_freelancer": "freelancer"}.get(outcome)
    _record(
        d,
        status,
        actor_id,
        body=reason,
        data={"outcome": outcome, **data, "by": who},
        event=row.event,
        now=now,
        extra={"outcome": outcome, "winner": winner, "split": split},
    )


def _resolve(
    d: Dispute, refund: int, release: int, who: str, actor_id: int | None, now: datetime, *, reason: str
) -> None:
    row = _move(d, "resolved", who, "resolve it")
    try:
        engine.resolve_disputed(
            d.order_id, d.milestone_id, refund, release, actor_id=actor_id, dispute_id=d.id, now=now
        )
    except OrderError as exc:
        raise _from_order_error(exc) from None
    d.refund_minor, d.release_minor = refund, release
    outcome = "resolved_client" if not release else "resolved_freelancer" if not refund else "resolved_split"
    split = {"refund_minor": refund, "release_minor": release}
    _close(d, "resolved", outcome, row, who, actor_id, now, reason=reason, data=split, split=split)


def _dismiss(d: Dispute, who: str, actor_id: int | None, now: datetime, *, reason: str) -> None:
    row = _move(d, "dismissed", who, "dismiss it")
    try:
        engine.restore_disputed(d.order_id, d.milestone_id, actor_id=actor_id, dispute_id=d.id, now=now)
    except OrderError as exc:
        raise _from_order_error(exc) from None
    _close(d, "dismissed", "dismissed", row, who, actor_id, now, reason=reason, data={}, split=None)


# --------------------------------------------------------------------------- the marketplace's side


def _require_staff(user: User) -> None:
    if not _is_staff(user):
        raise DisputeForbidden("Only the marketplace's moderators can mediate disputes.")


def _require_admin(user: User) -> None:
    if not (user.is_admin and user.is_active):
        raise DisputeForbidden(
            "Only the marketplace's admins can decide disputes.", code="decision_forbidden"
        )


def assign(staff: User, dispute_id: Any, mediator_id: Any = None, *, now: datetime | None = None) -> Dispute:
    """Assign the dispute's mediator (a moderator or admin; ``staff`` themself by default);
    flushes. Raises DisputeForbidden, DisputeError (not a moderator), DisputeStateError (over)."""
    _require_staff(staff)
    now = _now(now)
    target = staff
    if mediator_id not in (None, ""):
        mid = parse_id(mediator_id)
        target = db.session.get(User, mid) if mid else None
        if target is None or not _is_staff(target):
            raise DisputeError({"mediator_id": "Choose one of the marketplace's moderators or admins."})
    d = lock(dispute_id)
    if not d.is_open:
        raise _stage_error(d, "assign a mediator")
    d.mediator_id = target.id
    _touch(d)
    _record(
        d, "assigned", staff.id, data={"mediator_id": target.id, "mediator": target.display_name}, now=now
    )
    return d


def hand_to_decision(staff: User, dispute_id: Any, note: Any = "", *, now: datetime | None = None) -> Dispute:
    """The mediator hands the dispute to an admin's decision; flushes."""
    _require_staff(staff)
    errors: dict[str, str] = {}
    text = _text(note, "note", errors, label="The note", max_len=NOTE_MAX, required=False)
    if errors:
        raise DisputeError(errors)
    now = _now(now)
    d = lock(dispute_id)
    _escalate(
        d, "decision", "mediator", staff.id, now, why=text or "The mediator handed the case to an admin."
    )
    return d


def request_expert(
    staff: User, dispute_id: Any, expert_id: Any, question: Any, *, now: datetime | None = None
) -> Dispute:
    """The mediator asks an appointed expert for a written assessment (mediation -> expert
    review; the tenant's setting must allow it); flushes. Publishes ``dispute.expert_requested``.
    Raises DisputeForbidden, DisputeError (not an expert, a party, no question),
    DisputeStateError (not in mediation, or expert review off)."""
    _require_staff(staff)
    errors: dict[str, str] = {}
    text = _text(question, "question", errors, label="The question", max_len=NOTE_MAX, required=True)
    eid = parse_id(expert_id)
    expert = db.session.get(User, eid) if eid else None
    if expert is None or db.session.get(DisputeExpert, expert.id) is None or not expert.is_active:
        errors["expert_id"] = "Choose one of the marketplace's appointed experts."
    if errors:
        raise DisputeError(errors)
    now = _now(now)
    d = lock(dispute_id)
    if d.party(expert.id):
        raise DisputeError({"expert_id": "A party to the dispute cannot review it."})
    ladder = settings()
    if not ladder.expert_review_enabled:
        raise DisputeStateError(
            "Expert review is turned off on this marketplace.", d.stage, code="expert_review_off"
        )
    row = _move(d, "expert_review", "mediator", "ask an expert")
    d.stage = "expert_review"
    d.expert_id, d.expert_question, d.expert_requested_at = expert.id, text, now
    d.expert_assessment = d.expert_answered_at = None
    d.stage_deadline_at = now + timedelta(days=ladder.expert_days)
    if d.mediator_id is None:
        d.mediator_id = staff.id
    _touch(d)
    _record(
        d,
        "expert_requested",
        staff.id,
        body=text,
        data={"expert_id": expert.id, "expert": expert.display_name, "fee_rule": ladder.expert_fee_rule},
        event=row.event,
        now=now,
        extra={"expert_id": expert.id},
    )
    return d


def submit_assessment(
    expert: User, dispute_id: Any, assessment: Any, *, now: datetime | None = None
) -> Dispute:
    """The expert's written assessment; the dispute goes back to mediation; flushes.
    Raises DisputeNotFound (not this dispute's expert), DisputeError, DisputeStateError."""
    errors: dict[str, str] = {}
    text = _text(assessment, "assessment", errors, label="The assessment", max_len=NOTE_MAX, required=True)
    if errors:
        raise DisputeError(errors)
    now = _now(now)
    d = lock(dispute_id)
    if d.expert_id != expert.id:
        raise DisputeNotFound("This dispute does not exist.")
    row = _move(d, "mediation", "expert", "submit an assessment")
    d.stage = "mediation"
    d.expert_assessment, d.expert_answered_at = text, now
    d.stage_deadline_at = now + timedelta(days=settings().mediation_days)
    _touch(d)
    _record(d, "expert_answered", expert.id, body=text, event=row.event, now=now)
    return d


def decide(
    admin: User,
    dispute_id: Any,
    refund_minor: Any,
    release_minor: Any,
    reason: Any,
    *,
    currency: Any = None,
    now: datetime | None = None,
) -> Dispute:
    """An operator admin's final decision: refund / release / split the escrow, with a written
    reason; flushes. The money moves now, once. Two admins deciding at once: the dispute row's
    lock makes the second see it resolved (409).

    Raises DisputeForbidden ``decision_forbidden`` (not an admin), DisputeError
    (``split_mismatch``, no reason), DisputeStateError (self-resolution still running, or over).
    """
    _require_admin(admin)
    errors: dict[str, str] = {}
    text = _text(reason, "reason", errors, label="The reason", max_len=NOTE_MAX, required=True)
    if errors:
        raise DisputeError(errors)
    now = _now(now)
    d = lock(dispute_id)
    if not d.is_open or d.stage == "self_resolution":
        raise _stage_error(d, "decide it")
    refund, release = _check_split(d, refund_minor, release_minor, currency)
    _resolve(d, refund, release, "admin", admin.id, now, reason=text)
    return d


def dismiss(admin: User, dispute_id: Any, reason: Any, *, now: datetime | None = None) -> Dispute:
    """An admin dismisses the dispute: nothing moves, the milestone goes on where it was; flushes."""
    _require_admin(admin)
    errors: dict[str, str] = {}
    text = _text(reason, "reason", errors, label="The reason", max_len=NOTE_MAX, required=True)
    if errors:
        raise DisputeError(errors)
    now = _now(now)
    d = lock(dispute_id)
    _dismiss(d, "admin", admin.id, now, reason=text)
    return d


# --------------------------------------------------------------------------- deadlines


def due_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    now = _now(now)
    return list(
        db.session.scalars(
            sa.select(Dispute.id)
            .where(Dispute.status == "open", Dispute.stage_deadline_at <= now)
            .order_by(Dispute.stage_deadline_at, Dispute.id)
            .limit(limit)
        )
    )


def apply_deadline(dispute_id: Any, *, now: datetime | None = None) -> str | None:
    """Act on one dispute whose stage deadline passed (job step; idempotent); flushes. Returns
    what happened (``resolved``, ``mediation``, ``decision``) or None when nothing was due.

    Self-resolution: the side the deadline waited for never answered -> resolved for the side
    that acted (a buyer's dispute refunds all, a seller's releases all); otherwise mediation.
    Mediation past its time -> an admin's decision. Expert review past its time -> back to
    mediation (noted on the timeline)."""
    now = _now(now)
    d = lock(dispute_id)
    if not d.is_open or d.stage_deadline_at is None or d.stage_deadline_at > now:
        return None
    if d.stage == "self_resolution":
        if d.awaiting_id is not None:
            buyer_opened = d.opened_by == d.buyer_id
            refund, release = (d.amount_minor, 0) if buyer_opened else (0, d.amount_minor)
            side = "buyer" if buyer_opened else "seller"
            _resolve(
                d,
                refund,
                release,
                "deadline",
                None,
                now,
                reason=f"The other side did not answer in time: resolved for the {side}, who opened it.",
            )
            return "resolved"
        _escalate(
            d,
            "mediation",
            "deadline",
            None,
            now,
            why="No agreement before the deadline: the marketplace mediates.",
        )
        return "mediation"
    if d.stage == "mediation":
        _escalate(d, "decision", "deadline", None, now, why="Mediation ran out of time: an admin decides.")
        return "decision"
    if d.stage == "expert_review":
        row = _move(d, "mediation", "deadline", "go back to mediation")
        d.stage = "mediation"
        d.stage_deadline_at = now + timedelta(days=settings().mediation_days)
        _touch(d)
        _record(
            d, "expert_answered", None, body="The expert did not answer in time.", event=row.event, now=now
        )
        return "mediation"
    d.stage_deadline_at = None
    return None


# --------------------------------------------------------------------------- reading


def timeline(d: Dispute) -> list[DisputeEvent]:
    return list(
        db.session.scalars(
            sa.select(DisputeEvent).where(DisputeEvent.dispute_id == d.id).order_by(DisputeEvent.id)
        )
    )


def list_for_user(
    user: User,
    *,
    status: str | None = None,
    page: int = 1,
    per_page: int = 20,
    window: pagination.Window | None = None,
) -> tuple[list[Dispute], int]:
    """Disputes ``user`` is a party to, newest first (``status``: open / closed; from the API,
    also its cursor and created range)."""
    query = sa.select(Dispute).where(
        sa.or_(Dispute.buyer_id == user.id, Dispute.seller_id == user.id),
        *pagination.where(window, Dispute.id, created=Dispute.opened_at),
    )
    if status == "open":
        query = query.where(Dispute.status == "open")
    elif status == "closed":
        query = query.where(Dispute.status != "open")
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(Dispute.id.desc()).limit(per_page).offset((max(1, page) - 1) * per_page)
    )
    return list(rows), total


def open_dispute_of(order: Order) -> Dispute | None:
    """The open dispute on one of ``order``'s milestones, if any."""
    return db.session.scalars(
        sa.select(Dispute).where(Dispute.order_id == order.id, Dispute.status == "open")
    ).first()


def disputes_of_order(order_id: int) -> list[Dispute]:
    return list(
        db.session.scalars(sa.select(Dispute).where(Dispute.order_id == order_id).order_by(Dispute.id))
    )


def names_of(user_ids) -> dict[int, str]:
    """``{user_id: display name}`` of the people on a dispute's page (parties, mediator, expert)."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids))).all())


def orders_by_id(order_ids) -> dict[int, Order]:
    """The orders of a page of disputes (My disputes), by id."""
    ids = {i for i in order_ids if i}
    if not ids:
        return {}
    return {o.id: o for o in db.session.scalars(sa.select(Order).where(Order.id.in_(ids)))}


def order_of(d: Dispute) -> Order:
    """The order (a gig order, an offer's or a contract's engagement) ``d`` is about."""
    return db.session.get(Order, d.order_id)


def milestone_of(d: Dispute) -> Milestone:
    """The milestone whose money ``d`` is about (its title, seq and Definition of Done)."""
    return db.session.get(Milestone, d.milestone_id)


def next_step(user: User, d: Dispute) -> str:
    """What ``user`` should do next, in words (My disputes, the dispute page)."""
    if not d.is_open:
        return OUTCOME_LABELS.get(d.outcome or "", d.status.title())
    if d.stage == "self_resolution":
        if d.awaiting_id == user.id:
            return "Answer: add your side, make a proposal or accept theirs."
        return "Try to agree: make or answer a proposal, or ask the marketplace to mediate."
    if d.stage == "mediation":
        return "The marketplace is mediating: add evidence and answer the mediator."
    if d.stage == "expert_review":
        return "An expert is reviewing the case."
    return "An admin is deciding the case."


def disputable_milestones(user: User, order: Order) -> list[Milestone]:
    """The milestones of ``order`` whose money ``user`` (a party) could dispute now."""
    if order.party(user.id) is None or order.status in ("completed", "cancelled", "awaiting_payment"):
        return []
    return [m for m in order.milestones if m.status in engine.DISPUTABLE]


@dataclass(frozen=True)
class SellerDisputeFigures:
    lost: int = 0  # resolved against the seller (all refunded or a split)
    total: int = 0  # resolved or dismissed


def seller_dispute_figures(
    seller_ids: list[int] | None = None, *, since: datetime | None = None
) -> dict[int, SellerDisputeFigures]:
    """``{seller_id: SellerDisputeFigures}``: disputes the seller lost (all refunded, or a split
    with a refund) among those ended since ``since``, for the reputation's delivery score."""
    lost = sa.func.count().filter(Dispute.outcome.in_(("resolved_client", "resolved_split")))
    query = (
        sa.select(Dispute.seller_id, lost, sa.func.count())
        .where(Dispute.status != "open")
        .group_by(Dispute.seller_id)
    )
    if since is not None:
        query = query.where(Dispute.resolved_at >= since)
    if seller_ids is not None:
        query = query.where(Dispute.seller_id.in_(seller_ids))
    return {sid: SellerDisputeFigures(int(n_lost), int(n)) for sid, n_lost, n in db.session.execute(query)}


def dashboard_figures(since: datetime | None = None, until: datetime | None = None) -> dict:
    """Open disputes, the median time to resolution (hours) and what disputes refunded (minor
    units of each currency), for the console's dashboard (the ended ones: resolved in
    ``[since, until)`` when given)."""
    ended = sa.select(Dispute).where(Dispute.status != "open")
    if since is not None:
        ended = ended.where(Dispute.resolved_at >= since)
    if until is not None:
        ended = ended.where(Dispute.resolved_at < until)
    sub = ended.subquery()
    by_currency = (
        sa.select(sub.c.currency, sa.func.sum(sub.c.refund_minor).label("refunded"))
        .group_by(sub.c.currency)
        .subquery()
    )
    # One statement (the dashboard counts its queries): three scalar subqueries.
    open_count, median, refunded = db.session.execute(
        sa.select(
            sa.select(sa.func.count()).where(Dispute.status == "open").scalar_subquery(),
            sa.select(
                sa.func.percentile_cont(0.5).within_group(
                    sa.func.extract("epoch", sub.c.resolved_at - sub.c.opened_at)
                )
            ).scalar_subquery(),
            sa.select(
                sa.func.json_object_agg(by_currency.c.currency, by_currency.c.refunded)
            ).scalar_subquery(),
        )
    ).one()
    refunded = refunded or {}
    return {
        "open": int(open_count),
        "median_hours": round(float(median) / 3600, 1) if median is not None else None,
        "refunded_minor": {k: int(v) for k, v in refunded.items()},
    }
