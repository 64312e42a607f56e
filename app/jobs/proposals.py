"""Proposals: a freelancer applies to an open job; the client reviews them.

State machine (``PROPOSAL_TRANSITIONS``; a refused step is a 409 naming ``current_status``):

| from | to | who | event |
| --- | --- | --- | --- |
| (new) | submitted | a seller; open job, not their own, one live proposal | ``proposal.submitted`` |
| submitted, shortlisted, archived | withdrawn | the freelancer, job open | ``proposal.withdrawn`` |
| submitted, archived | shortlisted | the client | |
| submitted, shortlisted | archived | the client | |
| submitted, shortlisted, archived | declined | the client (optional message) | ``proposal.declined`` |
| submitted, shortlisted | hired | contracts (``mark_hired``: contract accepted) | ``proposal.accepted`` |

Editing (cover letter, answers, price, delivery, attachments) is the freelancer's while the
proposal is submitted or shortlisted and the job open; attachments (``app.jobs.attachments``)
are seen and downloaded by the freelancer and the job's client only. Events (outbox), payload
``{"proposal_id", "job_id"}``: ``proposal.submitted`` (``app.notifications.events`` tells the client),
``proposal.withdrawn``, ``proposal.declined`` (the freelancer is told, with the message).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.accounts.models import PortfolioItem, User
from app.accounts.services import require_verified
from app.core.domain_errors import Conflict, DomainError, Forbidden, NotFound
from app.core.ids import parse_id
from app.events import publish
from app.jobs import attachments, matching
from app.jobs.models import (
    LIVE_PROPOSAL_STATUSES,
    MAX_MILESTONES,
    MAX_PROPOSAL_ATTACHMENTS,
    Job,
    JobAttachment,
    Proposal,
)
from app.jobs.services import MAX_BUDGET_MINOR, MAX_RATE_MINOR, _is_int, _text, get_job, get_own_job
from app.storage.uploads import Upload
from tenants.db import db

COVER_MIN, COVER_MAX = 50, 5000
ANSWER_MAX = 2000
MILESTONE_TITLE_MAX = 120
DECLINE_MAX = 1000
MAX_PORTFOLIO = 10
STATUS_LABELS = {
    "submitted": "Submitted",
    "shortlisted": "Shortlisted",
    "archived": "Archived",
    "declined": "Declined",
    "withdrawn": "Withdrawn",
    "hired": "Hired",
}

PROPOSAL_TRANSITIONS: dict[tuple[str, str], str] = {
    ("submitted", "withdrawn"): "freelancer",
    ("shortlisted", "withdrawn"): "freelancer",
    ("archived", "withdrawn"): "freelancer",
    ("submitted", "shortlisted"): "client",
    ("archived", "shortlisted"): "client",
    ("submitted", "archived"): "client",
    ("shortlisted", "archived"): "client",
    ("submitted", "declined"): "client",
    ("shortlisted", "declined"): "client",
    ("archived", "declined"): "client",
    ("submitted", "hired"): "contracts",
    ("shortlisted", "hired"): "contracts",
}
EDITABLE = ("submitted", "shortlisted")
ACTIONS = {
    "shortlisted": "shortlisted",
    "archived": "archived",
    "declined": "declined",
    "withdrawn": "withdrawn",
}


class ProposalError(DomainError):
    code = "proposal_invalid"


class ProposalNotFound(NotFound):
    code = "proposal_not_found"


class ProposalStateError(Conflict):
    code = "proposal_state"


def _move(proposal: Proposal, to: str, who: str) -> None:
    if PROPOSAL_TRANSITIONS.get((proposal.status, to)) != who:
        raise ProposalStateError(
            f"This proposal is {STATUS_LABELS[proposal.status].lower()}: it cannot be {ACTIONS.get(to, to)}.",
            extra={"current_status": proposal.status},
        )
    proposal.status = to


def _job_open(job: Job, action: str) -> None:
    if job.status != "open":
        label = {"draft": "not published", "cancelled": "closed"}.get(
            job.status, job.status.replace("_", " ")
        )
        raise ProposalStateError(
            f"This job is {label}: proposals cannot be {action}.", extra={"current_status": job.status}
        )


def _clean_milestones(value: Any, total: int | None, errors: dict) -> list[dict]:
    if value is None or value == []:
        # No split given: one milestone for the whole total.
        return [{"title": "Complete the job", "amount_minor": total, "due_in_days": None}] if total else []
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        errors["milestones"] = "Milestones must be a list of {title, amount_minor, due_in_days}."
        return []
    if len(value) > MAX_MILESTONES:
        errors["milestones"] = f"Propose at most {MAX_MILESTONES} milestones."
        return []
    milestones = []
    for i, raw in enumerate(value):
        title = _text(
            raw.get("title"),
            f"milestones.{i}.title",
            errors,
            label="A milestone's title",
            max_len=MILESTONE_TITLE_MAX,
            min_len=1,
        )
        amount = raw.get("amount_minor")
        if not _is_int(amount) or amount <= 0:
            errors[f"milestones.{i}.amount_minor"] = "Each milestone's amount must be more than zero."
            amount = None
        elif amount > MAX_BUDGET_MINOR:
            errors[f"milestones.{i}.amount_minor"] = "This amount is too large."
            amount = None
        due = raw.get("due_in_days")
        if due is not None and (not _is_int(due) or not 1 <= due <= 365):
            errors[f"milestones.{i}.due_in_days"] = "Due in 1 to 365 days from the start."
            due = None
        milestones.append({"title": title, "amount_minor": amount, "due_in_days": due})
    if total and not errors and sum(m["amount_minor"] for m in milestones) != total:
        errors["milestones"] = "The milestones must add up to the total."
    return milestones


def clean_proposal(job: Job, freelancer: User, data: dict) -> dict:
    """The proposal fields of ``data`` for ``job``, checked; raises ProposalError (422).

    Fixed-price jobs take ``total_minor`` (> 0) and optional ``milestones`` summing to it
    (none: one milestone for the total); hourly jobs take ``rate_minor`` (> 0).
    """
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {"payment_type": job.budget_type, "currency": job.currency}
    clean["cover_letter"] = _text(
        data.get("cover_letter"),
        "cover_letter",
        errors,
        label="The cover letter",
        max_len=COVER_MAX,
        min_len=COVER_MIN,
    )
    answers = data.get("answers") or []
    if not isinstance(answers, list):
        errors["answers"] = "Answers must be a list, one per screening question."
        answers = []
    clean["answers"] = []
    for i, question in enumerate(job.screening_questions):
        raw = answers[i] if i < len(answers) else None
        clean["answers"].append(
            _text(
                raw,
                f"answers.{i}",
                errors,
                label=f"The answer to “{question}”",
                max_len=ANSWER_MAX,
                min_len=1,
            )
        )
    if len(answers) > len(job.screening_questions):
        errors["answers"] = "Answer only the job's screening questions."
    delivery = data.get("delivery_days")
    if not _is_int(delivery) or not 1 <= delivery <= 365:
        errors["delivery_days"] = "Estimated delivery: a whole number of days from 1 to 365."
    clean["delivery_days"] = delivery
    if job.budget_type == "fixed":
        total = data.get("total_minor")
        if not _is_int(total) or total <= 0:
            errors["total_minor"] = "The total price must be more than zero."
            total = None
        elif total > MAX_BUDGET_MINOR:
            errors["total_minor"] = "The total price is too large."
            total = None
        if data.get("rate_minor") is not None:
            errors["rate_minor"] = "This job has a fixed price: propose a total, not a rate."
        clean.update(
            total_minor=total,
            rate_minor=None,
            milestones=_clean_milestones(data.get("milestones"), total, errors),
        )
    else:
        rate = data.get("rate_minor")
        if not _is_int(rate) or rate <= 0:
            errors["rate_minor"] = "The hourly rate must be more than zero."
            rate = None
        elif rate > MAX_RATE_MINOR:
            errors["rate_minor"] = "The hourly rate is too large."
            rate = None
        for field in ("total_minor", "milestones"):
            if data.get(field):
                errors[field] = "This job is paid by the hour: propose a rate, not a total or milestones."
        clean.update(rate_minor=rate, total_minor=None, milestones=[])
    items = data.get("portfolio_item_ids") or []
    if not isinstance(items, list) or not all(_is_int(i) for i in items) or len(items) > MAX_PORTFOLIO:
        errors["portfolio_item_ids"] = f"Choose up to {MAX_PORTFOLIO} of your portfolio items."
        items = []
    items = list(dict.fromkeys(items))
    if items:
        own = set(
            db.session.scalars(
                sa.select(PortfolioItem.id).where(
                    PortfolioItem.id.in_(items), PortfolioItem.user_id == freelancer.id
                )
            )
        )
        if own != set(items):
            errors["portfolio_item_ids"] = "Choose items of your own portfolio."
    clean["portfolio_item_ids"] = items
    if errors:
        raise ProposalError(errors)
    return clean


def submit_proposal(
    freelancer: User, job_id: int, data: dict, *, now: datetime, files: Sequence[Upload] = ()
) -> Proposal:
    """Apply to a job (``proposal.submitted``), with ``files`` attached.

    Raises ProposalError 422 (fields, refused files under ``files``; not a seller: 403),
    JobNotFound 404 (unknown or not visible), ProposalStateError 409 (the job is not open,
    your own job, a live proposal already sent). Nothing is stored when it raises.
    """
    require_verified(freelancer)
    job = get_job(freelancer, job_id)
    if not freelancer.is_seller:
        raise Forbidden(
            "Only freelancers (members with a seller profile) can send proposals.", code="not_a_seller"
        )
    if job.client_id == freelancer.id:
        raise ProposalStateError(
            "This is your own job: you cannot apply to it.", extra={"current_status": job.status}
        )
    _job_open(job, "sent")
    live = db.session.scalar(
        sa.select(Proposal).where(
            Proposal.job_id == job.id,
            Proposal.freelancer_id == freelancer.id,
            Proposal.status.in_(LIVE_PROPOSAL_STATUSES),
        )
    )
    if live is not None:
        raise ProposalStateError(
            "You already sent a proposal for this job: edit it instead.",
            extra={"current_status": live.status, "proposal_id": live.id},
        )
    file_error = None
    checked: list[Upload] = []
    try:
        checked = attachments.check_files(files, existing=0, limit=MAX_PROPOSAL_ATTACHMENTS)
    except attachments.AttachmentError as exc:
        file_error = exc
    try:
        clean = clean_proposal(job, freelancer, data)
    except ProposalError as exc:
        if file_error is None:
            raise
        raise ProposalError({**exc.errors, **file_error.errors}) from None
    if file_error is not None:
        raise file_error
    proposal = Proposal(
        job_id=job.id, freelancer_id=freelancer.id, status="submitted", attachments=[], **clean
    )
    db.session.add(proposal)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:  # a concurrent submission won the unique index
        raise ProposalStateError(
            "You already sent a proposal for this job.", extra={"current_status": "submitted"}
        ) from None
    proposal.attachments.extend(
        attachments.store(checked, owner="proposal", uploader_id=freelancer.id, now=now)
    )
    db.session.flush()
    publish("proposal.submitted", {"proposal_id": proposal.id, "job_id": job.id})
    return proposal


def get_proposal(user: User, proposal_id: int) -> Proposal:
    """A proposal seen by its freelancer or the job's client; ProposalNotFound (404) otherwise."""
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None or user is None:
        raise ProposalNotFound("This proposal does not exist.")
    if proposal.freelancer_id != user.id and db.session.get(Job, proposal.job_id).client_id != user.id:
        raise ProposalNotFound("This proposal does not exist.")
    return proposal


def _own_proposal(freelancer: User, proposal_id: int) -> Proposal:
    proposal = get_proposal(freelancer, proposal_id)
    if proposal.freelancer_id != freelancer.id:
        raise Forbidden("Only the freelancer who sent it changes a proposal.", code="proposal_forbidden")
    return proposal


def edit_proposal(freelancer: User, proposal_id: int, data: dict, *, now: datetime) -> Proposal:
    """Change a submitted or shortlisted proposal while the job is open; raises as ``submit_proposal``."""
    proposal = _own_proposal(freelancer, proposal_id)
    job = db.session.get(Job, proposal.job_id)
    _job_open(job, "changed")
    if proposal.status not in EDITABLE:
        raise ProposalStateError(
            f"This proposal is {STATUS_LABELS[proposal.status].lower()}: it cannot be changed.",
            extra={"current_status": proposal.status},
        )
    for field, value in clean_proposal(job, freelancer, data).items():
        setattr(proposal, field, value)
    proposal.updated_at = now
    db.session.flush()
    return proposal


def _editable_own_proposal(freelancer: User, proposal_id: int) -> Proposal:
    proposal = _own_proposal(freelancer, proposal_id)
    db.session.refresh(proposal, with_for_update=True)  # concurrent uploads count one after the other
    _job_open(db.session.get(Job, proposal.job_id), "changed")
    if proposal.status not in EDITABLE:
        raise ProposalStateError(
            f"This proposal is {STATUS_LABELS[proposal.status].lower()}: it cannot be changed.",
            extra={"current_status": proposal.status},
        )
    return proposal


def add_proposal_attachments(
    freelancer: User, proposal_id: int, files: Sequence[Upload], *, now: datetime
) -> list[JobAttachment]:
    """Attach files to the freelancer's proposal while it is editable (submitted or
    shortlisted, the job open); returns the new attachments.

    Raises ProposalNotFound (404), Forbidden (403: the job's client), ProposalStateError (409),
    AttachmentError (422: no file, a forbidden type or disguised content, an empty or too large
    file, more than MAX_PROPOSAL_ATTACHMENTS in all). Nothing is stored when it raises.
    """
    proposal = _editable_own_proposal(freelancer, proposal_id)
    if not files:
        raise attachments.AttachmentError("Choose a file to attach.", code="no_file")
    checked = attachments.check_files(
        files, existing=len(proposal.attachments), limit=MAX_PROPOSAL_ATTACHMENTS
    )
    added = attachments.store(checked, owner="proposal", uploader_id=freelancer.id, now=now)
    proposal.attachments.extend(added)
    proposal.updated_at = now
    db.session.flush()
    return added


def remove_proposal_attachment(
    freelancer: User, proposal_id: int, attachment_id: int, *, now: datetime
) -> Proposal:
    """Remove a file from the freelancer's editable proposal (the stored file is deleted after
    the commit). Raises ProposalNotFound / NotFound (404, ``attachment_not_found``), Forbidden
    (403), ProposalStateError (409)."""
    proposal = _editable_own_proposal(freelancer, proposal_id)
    attachment = attachments.find(proposal.attachments, attachment_id)
    if attachment is None:
        raise NotFound("This attachment does not exist.", code="attachment_not_found")
    proposal.attachments.remove(attachment)
    attachments.forget(attachment)
    proposal.updated_at = now
    db.session.flush()
    return proposal


def withdraw_proposal(freelancer: User, proposal_id: int, *, now: datetime) -> Proposal:
    """The freelancer takes a proposal back (``proposal.withdrawn``); 409 once declined or hired."""
    proposal = _own_proposal(freelancer, proposal_id)
    _job_open(db.session.get(Job, proposal.job_id), "withdrawn")
    _move(proposal, "withdrawn", "freelancer")
    proposal.updated_at = now
    db.session.flush()
    publish("proposal.withdrawn", {"proposal_id": proposal.id, "job_id": proposal.job_id})
    return proposal


def _clients_proposal(client: User, proposal_id: int) -> Proposal:
    proposal = get_proposal(client, proposal_id)
    if db.session.get(Job, proposal.job_id).client_id != client.id:
        raise Forbidden("Only the job's client reviews its proposals.", code="proposal_forbidden")
    return proposal


def review_proposal(client: User, proposal_id: int, to: str, *, message: str = "", now: datetime) -> Proposal:
    """The client shortlists, archives or declines (``to``) a proposal; a decline may carry a
    message and publishes ``proposal.declined``. 409 from a state that does not allow it."""
    proposal = _clients_proposal(client, proposal_id)
    if to not in ("shortlisted", "archived", "declined"):
        raise ProposalError({"status": "Choose shortlisted, archived or declined."})
    errors: dict[str, str] = {}
    text = _text(message, "message", errors, label="The message", max_len=DECLINE_MAX)
    if errors:
        raise ProposalError(errors)
    _move(proposal, to, "client")
    proposal.updated_at = now
    if to == "declined":
        proposal.decline_message = text or None
    db.session.flush()
    if to == "declined":
        publish("proposal.declined", {"proposal_id": proposal.id, "job_id": proposal.job_id})
    return proposal


def lock_proposal(proposal_id: Any) -> Proposal:
    """The proposal, locked FOR UPDATE, for contracts. ProposalNotFound."""
    pid = parse_id(proposal_id)
    proposal = (
        db.session.scalar(
            sa.select(Proposal)
            .where(Proposal.id == pid)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if pid
        else None
    )
    if proposal is None:
        raise ProposalNotFound("This proposal does not exist.")
    return proposal


def check_hireable(proposal: Proposal) -> None:
    """409 unless the proposal can still be hired (submitted or shortlisted)."""
    if PROPOSAL_TRANSITIONS.get((proposal.status, "hired")) != "contracts":
        raise ProposalStateError(
            f"This proposal is {STATUS_LABELS[proposal.status].lower()}: it cannot be hired.",
            extra={"current_status": proposal.status},
        )


def mark_hired(proposal_id: Any, *, now: datetime) -> Proposal:
    """The freelancer accepted the contract made from this proposal; publishes ``proposal.accepted``."""
    proposal = lock_proposal(proposal_id)
    _move(proposal, "hired", "contracts")
    proposal.updated_at = now
    db.session.flush()
    publish("proposal.accepted", {"proposal_id": proposal.id, "job_id": proposal.job_id})
    return proposal


def list_job_proposals(
    client: User, job_id: int, *, status: str | None = None
) -> list[tuple[Proposal, matching.Match]]:
    """The proposals of the client's job (withdrawn ones left out), best match first, each with
    its match score and explanation."""
    job = get_own_job(client, job_id)
    query = sa.select(Proposal).where(Proposal.job_id == job.id, Proposal.status != "withdrawn")
    if status:
        query = query.where(Proposal.status == status)
    proposals = list(db.session.scalars(query))
    scores = matching.score_freelancers(job, [p.freelancer_id for p in proposals])
    ranked = [(p, scores[p.freelancer_id]) for p in proposals]
    ranked.sort(key=lambda pair: (-pair[1].score, pair[0].created_at, pair[0].id))
    return ranked


def list_my_proposals(freelancer: User, *, status: str | None = None) -> list[Proposal]:
    """The freelancer's proposals, newest first."""
    query = sa.select(Proposal).where(Proposal.freelancer_id == freelancer.id)
    if status:
        query = query.where(Proposal.status == status)
    return list(db.session.scalars(query.order_by(Proposal.created_at.desc(), Proposal.id.desc())))


def my_live_proposal(freelancer: User | None, job_id: int) -> Proposal | None:
    if freelancer is None:
        return None
    return db.session.scalar(
        sa.select(Proposal).where(
            Proposal.job_id == job_id,
            Proposal.freelancer_id == freelancer.id,
            Proposal.status.in_(LIVE_PROPOSAL_STATUSES),
        )
    )
