"""Contracts: the client's offer, the freelancer's answer, the Statement of Work both sign,
and ending the contract. Money moves only through the engagement's milestone engine
(``app.orders.milestones``); this module never touches the ledger.

State machine (``TRANSITIONS``; a refused step is a 409 naming ``current_status``):

| from | to | who | event |
| --- | --- | --- | --- |
| (new) | offered | the client (from a proposal, or direct) | ``contract.offered`` |
| offered | withdrawn | the client; the system when another offer is accepted | ``contract.withdrawn`` |
| offered | declined | the freelancer (optional reason) | ``contract.declined`` |
| offered | awaiting_signatures | the freelancer accepts: SoW made, job filled | ``contract.created`` |
| awaiting_signatures | active | the second signature: engagement opens | ``contract.activated`` |
| awaiting_signatures | cancelled | either party, before it starts (job reopens) | ``contract.ended`` |
| active | completed / cancelled | the engagement ends: paid, ended, split, operator | ``contract.ended`` |

Events (outbox), payload ``{"contract_id"}`` (``contract.signed`` adds ``"user_id"``;
``contract.ended`` adds ``"order_id"``, ``"status"`` and, when the marketplace ended it
(``operator_end_contract``), ``"by_operator": true``): ``app.notifications.events``
tells the other party (both, when the marketplace ended it). The engagement's own steps
(``order.*``, ``milestone.*``, ``escrow.*``) come from the orders domain;
``app.contracts.events`` follows its ``order.completed`` / ``order.cancelled`` to end the
contract and complete the job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import require_verified
from app.contracts import sow
from app.contracts.models import (
    LIVE_STATUSES,
    PAYMENT_MODELS,
    Contract,
    ContractChange,
    SowSignature,
)
from app.core import pagination
from app.core.domain_errors import Conflict, DomainError, Forbidden, NotFound
from app.core.ids import parse_id
from app.core.text import strip_controls, text_field
from app.events import publish
from app.jobs import proposals as job_proposals
from app.jobs import services as jobs
from app.jobs.models import Job, Proposal
from app.orders import milestones as engine
from app.orders import services as orders
from app.orders.models import Order
from tenants.db import db

OFFER_DAYS = 14
MAX_MILESTONES = engine.MAX_ENGAGEMENT_MILESTONES
MAX_DOD = 10
TITLE_MAX = 200
SCOPE_MAX = 10_000
TEXT_MAX = 2000
DOD_MAX = 200
MESSAGE_MAX = 2000
MAX_TOTAL_MINOR = jobs.MAX_BUDGET_MINOR
MAX_DUE_DAYS = 3 * 365

STATUS_LABELS = {
    "offered": "Offer sent",
    "declined": "Declined",
    "withdrawn": "Withdrawn",
    "awaiting_signatures": "Awaiting signatures",
    "active": "Active",
    "completed": "Completed",
    "cancelled": "Cancelled",
}
TRANSITIONS: dict[tuple[str, str], str] = {
    ("offered", "withdrawn"): "client",
    ("offered", "declined"): "freelancer",
    ("offered", "awaiting_signatures"): "freelancer",
    ("awaiting_signatures", "active"): "signatures",
    ("awaiting_signatures", "cancelled"): "party",
    ("active", "completed"): "engagement",
    ("active", "cancelled"): "engagement",
}


class ContractError(DomainError):
    code = "contract_invalid"


class ContractNotFound(NotFound):
    code = "contract_not_found"


class ContractForbidden(Forbidden):
    code = "contract_forbidden"


class ContractStateError(Conflict):
    code = "contract_state"


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def _state_error(contract: Contract, doing: str) -> ContractStateError:
    return ContractStateError(
        f"Contract {contract.number} is {status_label(contract.status).lower()}: you cannot {doing} now.",
        extra={"current_status": contract.status},
    )


def _move(contract: Contract, to: str, who: str, doing: str) -> None:
    allowed = TRANSITIONS.get((contract.status, to))
    if allowed is None or (allowed != who and not (allowed == "party" and who in ("client", "freelancer"))):
        raise _state_error(contract, doing)
    contract.status = to


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# --------------------------------------------------------------------------- terms


_text = text_field  # the one text input check (app.core.text)


def _due_date(value: Any, field: str, errors: dict, today: date) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            errors[field] = "Give the due date as YYYY-MM-DD."
            return None
    else:
        errors[field] = "Give the due date as YYYY-MM-DD."
        return None
    if day < today:
        errors[field] = "The due date is in the past."
    elif day > today + timedelta(days=MAX_DUE_DAYS):
        errors[field] = "The due date is more than three years away."
    return day.isoformat()


def _bool(value: Any, field: str, errors: dict, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    errors[field] = "Answer true or false."
    return default


def _clean_milestone(m: dict, prefix: str, errors: dict, today: date) -> dict:
    """One milestone of the terms (or of a change), field errors under ``prefix``."""
    title = _text(m.get("title"), f"{prefix}.title", errors, label="The title", max_len=120, required=True)
    amount = m.get("amount_minor")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        errors[f"{prefix}.amount_minor"] = "The amount must be a whole number of minor units above zero."
        amount = 0
    elif amount > MAX_TOTAL_MINOR:
        errors[f"{prefix}.amount_minor"] = "The amount is too large."
    description = _text(
        m.get("description"), f"{prefix}.description", errors, label="The deliverable", max_len=TEXT_MAX
    )
    dod_raw = m.get("dod") or []
    dod: list[str] = []
    if not isinstance(dod_raw, list) or not all(isinstance(x, str) for x in dod_raw):
        errors[f"{prefix}.dod"] = "The Definition of Done is a list of texts."
    elif len(dod_raw) > MAX_DOD:
        errors[f"{prefix}.dod"] = f"Give at most {MAX_DOD} Definition-of-Done items."
    else:
        dod = [strip_controls(x).strip() for x in dod_raw if strip_controls(x).strip()]
        if any(len(x) > DOD_MAX for x in dod):
            errors[f"{prefix}.dod"] = f"Each Definition-of-Done item has at most {DOD_MAX} characters."
    due = _due_date(m.get("due_date"), f"{prefix}.due_date", errors, today)
    return {"title": title, "description": description, "amount_minor": amount, "due_date": due, "dod": dod}


def clean_terms(data: Any, *, now: datetime) -> tuple[dict, int]:
    """Check an offer's terms; the clean terms and their total, or ContractError with field
    errors (milestones ``milestones.<i>.<field>``; ``total_minor`` when a given total is not
    the milestones' sum)."""
    if not isinstance(data, dict):
        raise ContractError({"terms": "Give the terms as an object."})
    errors: dict[str, str] = {}
    today = now.date()
    scope = _text(data.get("scope"), "scope", errors, label="The scope", max_len=SCOPE_MAX, required=True)
    raw = data.get("milestones")
    clean: list[dict] = []
    if not isinstance(raw, list) or not raw or not all(isinstance(m, dict) for m in raw):
        errors["milestones"] = (
            "Give at least one milestone: {title, amount_minor, due_date, description, dod}."
        )
    elif len(raw) > MAX_MILESTONES:
        errors["milestones"] = f"Give at most {MAX_MILESTONES} milestones."
    else:
        clean = [_clean_milestone(m, f"milestones.{i}", errors, today) for i, m in enumerate(raw)]
    total = sum(m["amount_minor"] for m in clean)
    given = data.get("total_minor")
    if given not in (None, "") and not errors.get("milestones"):
        if isinstance(given, bool) or not isinstance(given, int):
            errors["total_minor"] = "The total must be a whole number of minor units."
        elif given != total:
            errors["total_minor"] = f"The milestones add up to {total}, not {given}."
    if total > MAX_TOTAL_MINOR:
        errors["milestones"] = "The total is too large."
    nda = _bool(data.get("nda"), "nda", errors, False)
    ip = _bool(data.get("ip_assignment"), "ip_assignment", errors, True)
    if errors:
        raise ContractError(errors)
    return {"scope": scope, "milestones": clean, "nda": nda, "ip_assignment": ip}, total


MAX_RATE_MINOR = 100_000_000  # 1,000,000.00 an hour in a two-decimal currency
MAX_CAP_HOURS = 80


def clean_timezone(value: Any, field: str, errors: dict, default: str = "UTC") -> str:
    """An IANA time zone name (``Europe/Berlin``), or ``default`` when none is given."""
    if value in (None, ""):
        return default
    if not isinstance(value, str) or len(value) > 64 or not re.fullmatch(r"[A-Za-z0-9_+\-/]+", value):
        errors[field] = "Give a time zone such as Europe/Berlin or America/New_York."
        return default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        errors[field] = f"{value} is not a known time zone."
        return default
    return value


def clean_rate(value: Any, field: str, errors: dict) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[field] = "The hourly rate must be a whole number of minor units."
        return 0
    if value <= 0:
        errors[field] = "The hourly rate must be above zero."
    elif value > MAX_RATE_MINOR:
        errors[field] = "The hourly rate is too large."
    return value


def clean_cap(value: Any, field: str, errors: dict) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[field] = "The weekly limit is a whole number of hours."
        return 0
    if not 1 <= value <= MAX_CAP_HOURS:
        errors[field] = f"The weekly limit is 1 to {MAX_CAP_HOURS} hours."
    return value


def clean_hourly_terms(data: Any) -> tuple[dict, int]:
    """Check an hourly offer's terms: scope, ``rate_minor`` (an hour, minor units),
    ``weekly_cap_hours`` (1-80), ``timezone`` (the weeks run Monday to Sunday there), NDA and
    IP. The clean terms and the most one week can cost, or ContractError with field errors."""
    if not isinstance(data, dict):
        raise ContractError({"terms": "Give the terms as an object."})
    errors: dict[str, str] = {}
    scope = _text(data.get("scope"), "scope", errors, label="The scope", max_len=SCOPE_MAX, required=True)
    rate = clean_rate(data.get("rate_minor"), "rate_minor", errors)
    cap = clean_cap(data.get("weekly_cap_hours"), "weekly_cap_hours", errors)
    zone = clean_timezone(data.get("timezone"), "timezone", errors)
    nda = _bool(data.get("nda"), "nda", errors, False)
    ip = _bool(data.get("ip_assignment"), "ip_assignment", errors, True)
    if errors:
        raise ContractError(errors)
    terms = {
        "scope": scope,
        "rate_minor": rate,
        "weekly_cap_hours": cap,
        "timezone": zone,
        "nda": nda,
        "ip_assignment": ip,
        "rate_history": [],
    }
    return terms, rate * cap


def prefill_from_proposal(proposal: Proposal, job: Job) -> dict:
    """Terms for the hire form: the proposal's milestones, with the deliverables and DoD of
    the job's template when it has as many milestones."""
    template = db.session.get(jobs.JobTemplate, job.template_id) if job.template_id else None
    tmpl = (template.milestones or []) if template is not None else []
    milestones = []
    for i, m in enumerate(proposal.milestones or []):
        t = tmpl[i] if len(tmpl) == len(proposal.milestones) else {}
        milestones.append(
            {
                "title": m.get("title") or f"Milestone {i + 1}",
                "description": t.get("deliverable", ""),
                "amount_minor": m.get("amount_minor"),
                "due_date": None,
                "dod": list(t.get("dod", [])),
            }
        )
    return {
        "scope": job.description_source or job.title,
        "milestones": milestones,
        "nda": job.nda_required,
        "ip_assignment": job.ip_assignment,
    }


# --------------------------------------------------------------------------- offers


def _freelancer(user_id: Any) -> User:
    uid = parse_id(user_id)
    user = db.session.get(User, uid) if uid else None
    if user is None or not user.is_active or user.seller_profile is None:
        raise ContractError({"freelancer_id": "No freelancer with this id."})
    return user


def _new_contract(
    client: User, freelancer: User, title: str, data: dict, *, job: Job | None, proposal: Proposal | None, now
) -> Contract:
    require_verified(client)
    if not client.is_active:
        raise ContractForbidden("Your account cannot hire.")
    if freelancer.id == client.id:
        raise ContractError({"freelancer_id": "You cannot hire yourself."})
    model = data.get("payment_model") or "fixed"
    if model not in PAYMENT_MODELS:
        raise ContractError({"payment_model": "Choose fixed (milestones) or hourly."})
    terms, total = clean_hourly_terms(data) if model == "hourly" else clean_terms(data, now=now)
    errors: dict[str, str] = {}
    message = _text(data.get("message"), "message", errors, label="The message", max_len=MESSAGE_MAX)
    if errors:
        raise ContractError(errors)
    contract = Contract(
        job_id=job.id if job else None,
        proposal_id=proposal.id if proposal else None,
        client_id=client.id,
        freelancer_id=freelancer.id,
        title=title[:TITLE_MAX],
        payment_model=model,
        currency=orders.marketplace_currency(),
        total_minor=total,
        terms=terms,
        message=message,
        status="offered",
        offer_expires_at=now + timedelta(days=OFFER_DAYS),
        created_at=now,
    )
    db.session.add(contract)
    db.session.flush()
    publish("contract.offered", {"contract_id": contract.id})
    return contract


def offer_from_proposal(
    client: User, proposal_id: Any, data: dict, *, now: datetime | None = None
) -> Contract:
    """The client offers a contract to a proposal's freelancer (terms from the form); flushes.

    Raises ContractError (bad terms), ProposalNotFound / 403 (not the client's job),
    ProposalStateError (the proposal is not submitted or shortlisted), JobStateError (the job is
    not open), ContractStateError (an offer to this proposal is already open).
    """
    now = _now(now)
    proposal = job_proposals.get_proposal(client, proposal_id)
    job = jobs.lock_job(proposal.job_id)
    if job.client_id != client.id:
        raise ContractForbidden("Only the job's client hires.")
    if job.status != "open":
        raise jobs._state_error(job, "hired for")
    job_proposals.check_hireable(proposal)
    open_offer = db.session.scalar(
        sa.select(Contract).where(
            Contract.proposal_id == proposal.id, Contract.status.in_(("offered", *LIVE_STATUSES))
        )
    )
    if open_offer is not None:
        raise ContractStateError(
            f"You already sent an offer for this proposal (contract {open_offer.number}).",
            extra={"current_status": open_offer.status},
        )
    freelancer = db.session.get(User, proposal.freelancer_id)
    return _new_contract(client, freelancer, job.title, data, job=job, proposal=proposal, now=now)


def direct_offer(
    client: User, freelancer_id: Any, data: dict, *, job_id: Any = None, now: datetime | None = None
) -> Contract:
    """The client offers a contract straight to a freelancer (optionally for one of their open
    jobs); flushes. ``data["title"]`` names it when there is no job. Raises ContractError,
    JobNotFound / JobStateError."""
    now = _now(now)
    freelancer = _freelancer(freelancer_id)
    job = None
    if job_id not in (None, ""):
        jid = parse_id(job_id)
        job = jobs.get_own_job(client, jid) if jid else None
        if job is None:
            raise ContractError({"job_id": "No job of yours with this id."})
        job = jobs.lock_job(job.id)
        if job.status != "open":
            raise jobs._state_error(job, "hired for")
    errors: dict[str, str] = {}
    title = _text(
        data.get("title") if job is None else job.title, "title", errors, label="The title", max_len=TITLE_MAX
    )
    if job is None and len(title) < 5:
        errors["title"] = "Give the contract a title of at least 5 characters."
    if errors:
        raise ContractError(errors)
    return _new_contract(client, freelancer, title, data, job=job, proposal=None, now=now)


def _lock(contract_id: Any) -> Contract:
    cid = parse_id(contract_id)
    contract = (
        db.session.scalar(
            sa.select(Contract)
            .where(Contract.id == cid)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if cid
        else None
    )
    if contract is None:
        raise ContractNotFound("This contract does not exist.")
    return contract


def _lock_for(user: User, contract_id: Any, role: str | None = None) -> Contract:
    contract = _lock(contract_id)
    party = contract.party(user.id)
    if party is None:
        raise ContractNotFound("This contract does not exist.")
    if role is not None and party != role:
        raise ContractForbidden(f"Only the {role} can do this.")
    return contract


def lock_for(user: User, contract_id: Any, role: str | None = None) -> Contract:
    """The contract, row-locked, if ``user`` is a party (``role``: that party only); raises
    ContractNotFound (unknown, or not theirs) or ContractForbidden (the other party)."""
    return _lock_for(user, contract_id, role)


def lock(contract_id: Any) -> Contract:
    """The contract, row-locked (for jobs acting on no one's behalf); raises ContractNotFound."""
    return _lock(contract_id)


def _expired(contract: Contract, now: datetime) -> bool:
    return (
        contract.status == "offered"
        and contract.offer_expires_at is not None
        and now >= contract.offer_expires_at
    )


def effective_status(contract: Contract, now: datetime | None = None) -> str:
    """``expired`` for an offer past its time (it can no longer be accepted)."""
    return "expired" if _expired(contract, _now(now)) else contract.status


def withdraw_offer(client: User, contract_id: Any, *, now: datetime | None = None) -> Contract:
    """The client takes an offer back; flushes. 409 unless offered."""
    contract = _lock_for(client, contract_id, "client")
    _move(contract, "withdrawn", "client", "withdraw the offer")
    contract.responded_at = _now(now)
    publish("contract.withdrawn", {"contract_id": contract.id})
    return contract


def decline_offer(
    freelancer: User, contract_id: Any, reason: Any = "", *, now: datetime | None = None
) -> Contract:
    """The freelancer declines an offer (optional reason); flushes. 409 unless offered."""
    errors: dict[str, str] = {}
    text = _text(reason, "reason", errors, label="The reason", max_len=1000)
    if errors:
        raise ContractError(errors)
    contract = _lock_for(freelancer, contract_id, "freelancer")
    _move(contract, "declined", "freelancer", "decline the offer")
    contract.decline_reason = text or None
    contract.responded_at = _now(now)
    publish("contract.declined", {"contract_id": contract.id})
    return contract


def accept_offer(freelancer: User, contract_id: Any, *, now: datetime | None = None) -> Contract:
    """The freelancer accepts an offer: the Statement of Work is generated for both to sign,
    the job is filled (in progress; ``job.filled``), the proposal hired (``proposal.accepted``)
    and the job's other open offers withdrawn; flushes. Publishes ``contract.created``.

    Raises ContractNotFound, ContractForbidden (not the freelancer), ContractStateError (not
    offered, or expired), JobStateError (the job was filled or closed meanwhile).
    """
    now = _now(now)
    contract = _lock_for(freelancer, contract_id, "freelancer")
    if _expired(contract, now):
        raise ContractStateError(
            "This offer has expired: ask the client for a new one.", extra={"current_status": "expired"}
        )
    require_verified(freelancer)
    _move(contract, "awaiting_signatures", "freelancer", "accept the offer")
    contract.responded_at = now
    if contract.job_id is not None:
        jobs.hire_for_job(contract.job_id, contract.proposal_id, now=now)
        others = db.session.scalars(
            sa.select(Contract)
            .where(
                Contract.job_id == contract.job_id, Contract.status == "offered", Contract.id != contract.id
            )
            .with_for_update()
        ).all()
        for other in others:
            other.status = "withdrawn"
            other.responded_at = now
            publish("contract.withdrawn", {"contract_id": other.id})
    if contract.proposal_id is not None:
        job_proposals.mark_hired(contract.proposal_id, now=now)
    db.session.flush()
    sow.generate(contract, now)
    publish("contract.created", {"contract_id": contract.id})
    return contract


# --------------------------------------------------------------------------- signing


def signed_document(contract: Contract) -> str:
    """The SoW with its signatures and hash (the download)."""
    statement = sow.statement_of(contract)
    if statement is None:
        raise ContractStateError(
            "There is no Statement of Work until the freelancer accepts the offer.",
            extra={"current_status": contract.status},
        )
    lines = [statement.body.rstrip("\n")]
    for s in sow.signatures(statement):
        when = s.signed_at.isoformat(timespec="seconds")
        lines.append(f"  {s.role.title()}: /{s.typed_name}/ — {when} from {s.ip or 'unknown'}")
    if len(lines) == 1:
        lines.append("  (not signed yet)")
    lines += ["", f"SHA-256 of the statement above the signatures: {statement.content_sha256}"]
    return "\n".join(lines) + "\n"


def _normal(name: str) -> str:
    return " ".join(name.split()).casefold()


def sign(
    user: User,
    contract_id: Any,
    typed_name: Any,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> SowSignature:
    """A party signs the SoW by typing their name (as on their account); flushes. The second
    signature activates the contract: its engagement opens with milestone 1 to fund.

    Raises ContractError (name missing or not theirs), ContractNotFound, ContractStateError
    (not awaiting signatures, or already signed by them).
    """
    errors: dict[str, str] = {}
    name = _text(typed_name, "typed_name", errors, label="Your typed name", max_len=120, required=True)
    if not errors and _normal(name) != _normal(user.display_name):
        errors["typed_name"] = f"Type your name as it is on your account: {user.display_name}."
    if errors:
        raise ContractError(errors)
    now = _now(now)
    contract = _lock_for(user, contract_id)
    if contract.status != "awaiting_signatures":
        raise _state_error(contract, "sign")
    statement = sow.statement_of(contract)
    existing = {s.user_id for s in sow.signatures(statement)}
    if user.id in existing:
        raise ContractStateError(
            "You have already signed this Statement of Work.", extra={"current_status": contract.status}
        )
    signature = SowSignature(
        sow_id=statement.id,
        user_id=user.id,
        role=contract.party(user.id),
        typed_name=name,
        content_sha256=statement.content_sha256,
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
        signed_at=now,
    )
    db.session.add(signature)
    db.session.flush()
    publish("contract.signed", {"contract_id": contract.id, "user_id": user.id})
    if existing | {user.id} >= {contract.client_id, contract.freelancer_id}:
        _activate(contract, now)
    return signature


def _due_at(day: str | None) -> datetime | None:
    return datetime.combine(date.fromisoformat(day), time(23, 59), tzinfo=UTC) if day else None


def _activate(contract: Contract, now: datetime) -> None:
    if contract.payment_model == "hourly":
        # Nothing to fund up front: each approved week is billed (``app.hourly``).
        order = engine.open_ended_engagement(
            contract.client_id, contract.freelancer_id, contract.title, contract.currency, now=now
        )
        _move(contract, "active", "signatures", "activate it")
        contract.order_id = order.id
        contract.activated_at = now
        db.session.flush()
        publish("contract.activated", {"contract_id": contract.id, "order_id": order.id})
        return
    planned = [
        engine.PlannedMilestone(
            title=m["title"],
            amount_minor=m["amount_minor"],
            description=m.get("description", ""),
            due_at=_due_at(m.get("due_date")),
            dod=tuple(m.get("dod", [])),
        )
        for m in contract.terms["milestones"]
    ]
    last_due = max((p.due_at for p in planned if p.due_at), default=None)
    days = (last_due - now).days + 1 if last_due else 30
    order = engine.open_engagement(
        "contract",
        contract.client_id,
        contract.freelancer_id,
        contract.title,
        contract.currency,
        planned,
        delivery_days=days,
        now=now,
    )
    _move(contract, "active", "signatures", "activate it")
    contract.order_id = order.id
    contract.activated_at = now
    db.session.flush()
    publish("contract.activated", {"contract_id": contract.id, "order_id": order.id})


# --------------------------------------------------------------------------- ending


def _finish(
    contract: Contract,
    status: str,
    actor_id: int | None,
    reason: str | None,
    now: datetime,
    *,
    by_operator: bool = False,
) -> None:
    _move(contract, status, "engagement" if contract.status == "active" else "client", "end it")
    contract.ended_at = now
    contract.ended_by = actor_id
    contract.end_reason = reason
    change = pending_change(contract)
    if change is not None:  # nothing left to change: the proposal closes with the contract
        change.status, change.responded_at = "withdrawn", now
    if contract.job_id is not None:
        if status == "cancelled" and contract.order_id is None:
            jobs.reopen_job(contract.job_id, now=now)
        else:
            jobs.complete_job(contract.job_id, now=now)
    db.session.flush()
    publish(
        "contract.ended",
        {
            "contract_id": contract.id,
            "order_id": contract.order_id,
            "status": status,
            **({"by_operator": True} if by_operator else {}),
        },
    )


def end_contract(user: User, contract_id: Any, reason: Any, *, now: datetime | None = None) -> Contract:
    """Either party ends the contract; flushes.

    Before it starts (awaiting signatures) it is cancelled and the job reopens. Once active,
    the engagement ends (``orders.milestones.end_engagement``): milestones funded but not
    submitted are refunded to the client, unfunded ones dropped; the contract is completed if
    any milestone was paid, else cancelled, and the job completed. Publishes ``contract.ended``.

    Raises ContractError (no reason), ContractNotFound, ContractStateError (not live),
    OrderStateError ``work_under_review`` (submitted work waits for the client's answer:
    accept it or agree on a split first).
    """
    errors: dict[str, str] = {}
    text = _text(reason, "reason", errors, label="The reason", max_len=TEXT_MAX, required=True)
    if errors:
        raise ContractError(errors)
    now = _now(now)
    contract = _lock_for(user, contract_id)
    if contract.status == "awaiting_signatures":
        _finish(contract, "cancelled", user.id, text, now)
        return contract
    if contract.status != "active":
        raise _state_error(contract, "end it")
    if contract.payment_model == "hourly":
        _end_hourly(contract, user.id, text, now, by_operator=False)
        return contract
    order = engine.end_engagement(user, contract.order_id, text, now=now)
    _finish(contract, "completed" if order.status == "completed" else "cancelled", user.id, text, now)
    return contract


# Ending an hourly contract is the hourly domain's (it closes the open week into a last
# timesheet; the engagement closes once every week is settled). It sits above contracts, so it
# registers ``end(contract, actor_id, now, by_operator) -> status`` here at app setup.
_hourly_ender = None


def register_hourly_ender(end) -> None:
    global _hourly_ender
    _hourly_ender = end


def _end_hourly(contract: Contract, actor_id: int, reason: str, now: datetime, *, by_operator: bool) -> None:
    if _hourly_ender is None:
        raise ContractStateError(
            "Hourly contracts cannot be ended here.", extra={"current_status": contract.status}
        )
    status = _hourly_ender(contract, actor_id, now, by_operator)
    _finish(contract, status, actor_id, reason, now, by_operator=by_operator)


OPERATOR_REASON_MIN = 5


def operator_end_contract(
    operator: User, contract_id: Any, reason: Any, *, now: datetime | None = None
) -> Contract:
    """The marketplace ends an active contract (the console's "End the contract"); flushes.

    The engagement ends as an operator's (``orders.milestones.end_engagement(...,
    operator=True)``): every milestone holding money that was not released — funded,
    submitted or sent back for changes — is refunded to the client in full, unfunded ones are
    dropped, paid ones stay paid. The contract is completed if any milestone was paid, else
    cancelled; its job is completed; ``ended_by`` is the operator and ``end_reason`` the
    reason. Publishes ``contract.ended`` (with ``"by_operator": true``): both parties are told.

    Raises ContractForbidden (not an admin), ContractError (a reason of under 5 or over 2,000
    characters), ContractNotFound, ContractStateError (the contract is not active: an offer or
    a contract awaiting signatures holds no money, an ended one is ended).
    """
    if not operator.is_admin:
        raise ContractForbidden("Only the marketplace's admins can end a contract.")
    errors: dict[str, str] = {}
    text = _text(reason, "reason", errors, label="The reason", max_len=TEXT_MAX, required=True)
    if not errors and len(text) < OPERATOR_REASON_MIN:
        errors["reason"] = (
            f"Give a reason of at least {OPERATOR_REASON_MIN} characters: both parties read it."
        )
    if errors:
        raise ContractError(errors)
    now = _now(now)
    contract = _lock(contract_id)
    if contract.status != "active":
        raise _state_error(contract, "end it")
    if contract.payment_model == "hourly":
        _end_hourly(contract, operator.id, text, now, by_operator=True)
        return contract
    order = engine.end_engagement(operator, contract.order_id, text, operator=True, now=now)
    status = "completed" if order.status == "completed" else "cancelled"
    _finish(contract, status, operator.id, text, now, by_operator=True)
    return contract


def propose_split(
    user: User, contract_id: Any, reason: Any, refund_minor: Any, *, now: datetime | None = None
):
    """Ask the other party to end the contract with the escrow split: ``refund_minor`` back to
    the client, the rest released to the freelancer (the orders domain's cancellation request:
    the other side accepts or declines; unanswered, it is accepted after the marketplace's
    ``cancellation_auto_resolve_days``). Raises as ``orders.request_cancellation``."""
    contract = _lock_for(user, contract_id)
    if contract.status != "active" or contract.payment_model == "hourly":
        raise _state_error(contract, "propose a split")
    return orders.request_cancellation(user, contract.order_id, reason, refund_minor, now=now)


def answer_split(user: User, contract_id: Any, accept: bool, *, now: datetime | None = None):
    """Accept or decline the other party's split (the requester may withdraw it)."""
    contract = _lock_for(user, contract_id)
    if contract.status != "active":
        raise _state_error(contract, "answer a split")
    request = orders.respond_cancellation(user, contract.order_id, accept, now=now)
    if accept:
        sync_with_engagement(contract.order_id, now=now)
    return request


def sync_with_engagement(order_id: Any, *, now: datetime | None = None) -> Contract | None:
    """End an active contract whose engagement finished (the last milestone paid, an agreed
    split, an operator's cancellation): completed when work was paid, else cancelled.
    Idempotent (``app.contracts.events`` runs it on ``order.completed`` / ``order.cancelled``)."""
    oid = parse_id(order_id)
    if oid is None:
        return None
    contract = db.session.scalar(
        sa.select(Contract)
        .where(Contract.order_id == oid)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if contract is None or contract.status != "active":
        return contract
    order = db.session.get(Order, oid)
    if order is None or order.status not in ("completed", "cancelled"):
        return contract
    paid = any(m.status in ("paid", "partially_refunded") for m in order.milestones)
    _finish(contract, "completed" if paid else "cancelled", None, None, _now(now))
    return contract


# --------------------------------------------------------------------------- reading


def pending_change(contract: Contract) -> ContractChange | None:
    return db.session.scalar(
        sa.select(ContractChange).where(
            ContractChange.contract_id == contract.id, ContractChange.status == "pending"
        )
    )


def changes_of(contract: Contract) -> list[ContractChange]:
    return list(
        db.session.scalars(
            sa.select(ContractChange)
            .where(ContractChange.contract_id == contract.id)
            .order_by(ContractChange.id)
        )
    )


def get_contract(user: User, contract_id: Any) -> Contract:
    """A contract ``user`` is a party to (an admin sees every one). ContractNotFound otherwise."""
    cid = parse_id(contract_id)
    contract = db.session.get(Contract, cid) if cid else None
    if contract is None or (contract.party(user.id) is None and not user.is_admin):
        raise ContractNotFound("This contract does not exist.")
    return contract


def contract_of_order(order_id: int) -> Contract | None:
    return db.session.scalar(sa.select(Contract).where(Contract.order_id == order_id))


# Sections higher domains add to the contract page (hourly: time and timesheets; workroom: its
# link and the week's tasks; code: the linked repository), in the order registered:
# ``section(contract, viewer) -> Markup | None``. Wired in ``app._register_domain_hooks``.
_contract_sections: list = []


def register_contract_section(section) -> None:
    if section not in _contract_sections:
        _contract_sections.append(section)


def contract_sections(contract: Contract, viewer: User) -> list:
    """The rendered sections of ``contract``'s page as ``viewer`` (a party) sees it."""
    if contract.party(viewer.id) is None:
        return []
    return [html for html in (section(contract, viewer) for section in _contract_sections) if html]


def engagement(contract: Contract) -> Order | None:
    return db.session.get(Order, contract.order_id) if contract.order_id else None


TABS = {
    "offers": ("offered",),
    "active": ("awaiting_signatures", "active"),
    "ended": ("completed", "cancelled", "declined", "withdrawn"),
}


def list_contracts(
    user: User,
    *,
    role: str | None = None,
    tab: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 20,
    window: pagination.Window | None = None,
) -> tuple[list[Contract], int]:
    """The user's contracts (as client, as freelancer, or both), newest first, with the total;
    narrowed by ``tab`` or one ``status`` (and, from the API, by its cursor and created range)."""
    if role == "client":
        who = Contract.client_id == user.id
    elif role == "freelancer":
        who = Contract.freelancer_id == user.id
    else:
        who = sa.or_(Contract.client_id == user.id, Contract.freelancer_id == user.id)
    in_window = pagination.where(window, Contract.created_at, Contract.id, created=Contract.created_at)
    query = sa.select(Contract).where(who, *in_window)
    if tab in TABS:
        query = query.where(Contract.status.in_(TABS[tab]))
    if status is not None:
        query = query.where(Contract.status == status)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(Contract.created_at.desc(), Contract.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), total


@dataclass(frozen=True)
class ContractMoney:
    total: int
    funded: int
    in_escrow: int
    released: int
    refunded: int


def money_of(contract: Contract) -> ContractMoney:
    order = engagement(contract)
    if order is None:
        return ContractMoney(contract.total_minor, 0, 0, 0, 0)
    funded = sum(m.amount_minor for m in order.milestones if m.funded_at is not None)
    released = sum(
        m.amount_minor - m.refunded_minor
        for m in order.milestones
        if m.status in ("paid", "partially_refunded")
    )
    refunded = sum(m.refunded_minor for m in order.milestones)
    return ContractMoney(order.total_minor, funded, orders.escrow_balance(order), released, refunded)


def actions(contract: Contract, user: User, *, now: datetime | None = None) -> list[str]:
    """What ``user`` may do with the contract now (the page's buttons and the API's ``actions``)."""
    party = contract.party(user.id)
    status = effective_status(contract, now)
    if party is None:
        return []
    if status == "offered":
        return ["withdraw"] if party == "client" else ["accept", "decline"]
    if status == "awaiting_signatures":
        signed = {s.user_id for s in sow.signatures(sow.statement_of(contract))}
        return (["sign"] if user.id not in signed else []) + ["end"]
    if status == "active" and contract.payment_model == "hourly":
        return ["end"]  # the hourly steps (time, timesheets, pause, rate) are app.hourly's
    if status == "active":
        change = pending_change(contract)
        if change is None:
            return ["end", "propose_split", "propose_change"]
        return [
            "end",
            "propose_split",
            "withdraw_change" if change.proposed_by == user.id else "answer_change",
        ]
    return []


@dataclass(frozen=True)
class ContractToDo:
    contract: Contract
    todo: str | None  # what the member should do now; None: waiting for the other party


def to_do(user: User, *, limit: int = 50) -> list[ContractToDo]:
    """The member's live contracts and offers, each with their next step (the dashboard)."""
    rows, _ = list_contracts(user, tab=None, per_page=limit)
    out = []
    for contract in rows:
        status = effective_status(contract)
        if status not in ("offered", "awaiting_signatures", "active"):
            continue
        party = contract.party(user.id)
        todo = None
        steps = actions(contract, user)
        if "accept" in steps:
            todo = "Answer the contract offer"
        elif "sign" in steps:
            todo = "Sign the Statement of Work"
        elif "answer_change" in steps:
            todo = "Answer the proposed change to the milestones"
        elif status == "active":
            order = engagement(contract)
            if order is not None and order.status not in ("completed", "cancelled"):
                for m in order.milestones:
                    step = engine.actions(order, m, order.party(user.id))
                    if "fund" in step and m.status == "funding_required":
                        todo = f"Fund milestone {m.seq}"
                    elif "accept" in step:
                        todo = f"Review milestone {m.seq}: accept it or ask for changes"
                    elif "submit" in step:
                        todo = f"Deliver milestone {m.seq}"
                    if todo:
                        break
        if party == "client" and status == "offered":
            todo = None  # waiting for the freelancer's answer
        out.append(ContractToDo(contract, todo))
    return out


def open_jobs_of(client: User) -> list[Job]:
    """The client's open jobs (a direct offer may be for one of them)."""
    return list(
        db.session.scalars(
            sa.select(Job)
            .where(Job.client_id == client.id, Job.status == "open")
            .order_by(Job.id.desc())
            .limit(50)
        )
    )


def users_by_id(ids) -> dict[int, User]:
    return jobs.users_by_id(ids)
