"""The Statement of Work: generated from a contract's terms when the freelancer accepts, kept
immutable (its SHA-256 is stored and checked on every read), signed by both parties."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa

from app.accounts.models import User
from app.contracts.models import Contract, SowSignature, StatementOfWork
from app.core import money
from app.core.domain_errors import Conflict
from app.orders import services as orders
from app.settings.services import get_branding
from tenants.db import db

NDA_TEXT = (
    "Both parties keep confidential all non-public information the other shares for this contract, "
    "during the contract and for two years after it ends."
)
IP_TEXT = (
    "On payment of each milestone, the freelancer assigns to the client all rights in the work "
    "delivered for it, and confirms the work is original or properly licensed."
)
NO_IP_TEXT = "The freelancer keeps the rights in the work and grants the client a licence to use it."


def _person(user: User) -> str:
    return f"{user.display_name} (@{user.handle})" if user.handle else user.display_name


def render_sow(contract: Contract, now: datetime) -> str:
    """The SoW's text: scope, deliverables, the milestone schedule with amounts and due dates,
    payment and fee, NDA and IP terms, ending. Plain text, so the hash is of what people read."""
    client = db.session.get(User, contract.client_id)
    freelancer = db.session.get(User, contract.freelancer_id)
    settings = orders.settings()
    branding = get_branding()
    fmt = lambda minor: money.format(minor, contract.currency)  # noqa: E731
    terms = contract.terms
    lines = [
        f"STATEMENT OF WORK — CONTRACT {contract.number}",
        "",
        f"Marketplace: {branding.name}",
        f"Client: {_person(client)}",
        f"Freelancer: {_person(freelancer)}",
        f"Title: {contract.title}",
    ]
    if contract.job_id:
        lines.append(f"Job: #{contract.job_id}")
    lines += [
        f"Date: {now.date().isoformat()}",
        "",
        "1. SCOPE",
        "",
        terms["scope"],
        "",
        "2. DELIVERABLES AND SCHEDULE",
        "",
    ]
    if contract.payment_model == "hourly":
        _hourly_schedule(lines, contract, settings, fmt)
        return "\n".join(lines) + "\n"
    for i, m in enumerate(terms["milestones"], start=1):
        due = f", due {m['due_date']}" if m.get("due_date") else ""
        lines.append(f"Milestone {i}: {m['title']} — {fmt(m['amount_minor'])}{due}")
        if m.get("description"):
            lines.append(f"  Deliverable: {m['description']}")
        if m.get("dod"):
            lines.append("  Definition of Done:")
            lines += [f"  - {item}" for item in m["dod"]]
        lines.append("")
    fee = f"{settings.commission_bps / 100:g}% of each released milestone, at least " + fmt(
        settings.commission_min_fee_minor
    )
    lines += [
        f"Total: {fmt(contract.total_minor)} ({contract.currency})",
        "",
        "3. PAYMENT",
        "",
        "Each milestone is funded by the client into the marketplace's escrow before the work on it is "
        "due. The freelancer submits the work; the client accepts it (the payment is released to the "
        "freelancer) or asks for changes. A submitted milestone the client does not answer within "
        f"{settings.milestone_auto_release_days} days is accepted and released automatically.",
        f"Marketplace fee, deducted from the freelancer's payment: {fee} (the rate in force at release).",
        "",
        "4. CONFIDENTIALITY",
        "",
        NDA_TEXT if terms.get("nda") else "No confidentiality agreement beyond the marketplace's terms.",
        "",
        "5. INTELLECTUAL PROPERTY",
        "",
        IP_TEXT if terms.get("ip_assignment") else NO_IP_TEXT,
        "",
        "6. ENDING THE CONTRACT",
        "",
        "Either party may end the contract. Milestones funded but not submitted are refunded to the "
        "client; submitted work is accepted, or split by agreement, before the contract ends.",
        "",
        "Signed electronically by typing their names:",
    ]
    return "\n".join(lines) + "\n"


def _hourly_schedule(lines: list[str], contract: Contract, settings, fmt) -> None:
    """Sections 2 to 6 of an hourly contract's SoW: the rate and the week instead of milestones."""
    terms = contract.terms
    fee = f"{settings.commission_bps / 100:g}% of each weekly payment, at least " + fmt(
        settings.commission_min_fee_minor
    )
    lines += [
        f"Hourly rate: {fmt(terms['rate_minor'])} an hour",
        f"Weekly limit: {terms['weekly_cap_hours']} hours (at most {fmt(contract.total_minor)} a week)",
        f"Weeks run Monday to Sunday in {terms['timezone']}.",
        "",
        "3. PAYMENT",
        "",
        "The freelancer logs time against the contract. Each Monday the past week's time is closed into a "
        "timesheet, capped at the weekly limit; its amount is the billable minutes times the hourly rate "
        "divided by 60, rounded half to even to the currency's minor unit. The client approves or disputes "
        f"it within {settings.timesheet_review_days} days; a timesheet not answered by then is approved. "
        "An approved timesheet is charged to the client's saved card, held in escrow and released to "
        "the freelancer. A failed charge pauses the contract until it is paid. A disputed timesheet "
        "goes to the marketplace's resolution centre.",
        f"Marketplace fee, deducted from the freelancer's payment: {fee} (the rate in force at release).",
        "Changes to the rate or the weekly limit are agreed by both parties and apply from the next week.",
        "",
        "4. CONFIDENTIALITY",
        "",
        NDA_TEXT if terms.get("nda") else "No confidentiality agreement beyond the marketplace's terms.",
        "",
        "5. INTELLECTUAL PROPERTY",
        "",
        IP_TEXT if terms.get("ip_assignment") else NO_IP_TEXT,
        "",
        "6. ENDING THE CONTRACT",
        "",
        "Either party may end the contract. The time logged in the current week is closed into a last "
        "timesheet, reviewed and paid like the others.",
        "",
        "Signed electronically by typing their names:",
    ]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def generate(contract: Contract, now: datetime) -> StatementOfWork:
    """The SoW of a contract whose offer was just accepted (version 1); flushes."""
    body = render_sow(contract, now)
    sow = StatementOfWork(
        contract_id=contract.id, version=1, body=body, content_sha256=content_hash(body), created_at=now
    )
    db.session.add(sow)
    db.session.flush()
    return sow


class SowIntegrityError(Conflict):
    code = "sow_integrity"


def statement_of(contract: Contract) -> StatementOfWork | None:
    """The contract's SoW, its hash checked (SowIntegrityError when the text was altered)."""
    sow = db.session.scalar(
        sa.select(StatementOfWork)
        .where(StatementOfWork.contract_id == contract.id)
        .order_by(StatementOfWork.version.desc())
        .limit(1)
    )
    if sow is not None and content_hash(sow.body) != sow.content_sha256:
        raise SowIntegrityError("The Statement of Work does not match its recorded hash: contact support.")
    return sow


def signatures(sow: StatementOfWork | None) -> list[SowSignature]:
    if sow is None:
        return []
    return list(
        db.session.scalars(
            sa.select(SowSignature).where(SowSignature.sow_id == sow.id).order_by(SowSignature.id)
        )
    )
