"""Console reads of the disputes area: the queue (filters, search, sorting), one dispute's
case with everything a mediator needs on one page, and the settings page's values.

The filters are checked here for web and API alike (``ConsoleInputError`` with field errors
``status``, ``stage``, ``mediator``, ``older_than``, ``sort``, ``q``, ``from``, ``to``).
Everything is read in the bound tenant: an id of another marketplace is simply not found.
The rules (who may do what, at which stage) stay in ``app/disputes``; the case view only
says which steps the dispute's stage allows, so the page offers just those.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import users_by_id
from app.console.audit import search_audit
from app.console.errors import ConsoleInputError
from app.console.filters import ListFilters, blank, list_filters
from app.console.models import AuditEntry
from app.console.operations.orders import OrderDetail, order_detail
from app.core.ids import parse_id
from app.core.text import escape_like
from app.disputes import admin as dispute_admin
from app.disputes import services as disputes
from app.disputes.models import STAGES, STATUSES, Dispute, DisputeEvent, DisputeEvidence, DisputeProposal
from app.ledger.services import commission_for
from app.messaging import services as messaging
from app.orders import services as orders
from app.orders.models import Milestone, Order
from tenants.db import db

PAGE_SIZE = 25
MAX_QUERY = 200
MAX_AGE_DAYS = 365
MESSAGE_LIMIT = 200
MEDIATOR_FILTERS = ("mine", "unassigned")
SORTS = ("age", "deadline")
SORT_LABELS = {"age": "Oldest first", "deadline": "Deadline soonest first"}
MEDIATOR_LABELS = {"": "Anyone", "mine": "Mine", "unassigned": "Unassigned"}
STATUS_LABELS = {"open": "Open", "resolved": "Resolved", "dismissed": "Dismissed"}
STAGE_BADGES = {
    "self_resolution": "",
    "mediation": "badge-warn",
    "expert_review": "badge-warn",
    "decision": "badge-bad",
}
OUTCOME_BADGES = {
    "resolved_client": "badge-ok",
    "resolved_freelancer": "badge-ok",
    "resolved_split": "badge-ok",
    "dismissed": "",
}
# "D-000012", "d12", "#12" or "12": a dispute's number (or id).
_NUMBER_RE = re.compile(r"^(?:d-?|#)?\s*(\d{1,10})\Z", re.IGNORECASE)

EVENT_LABELS = {
    "opened": "Opened",
    "evidence_added": "Evidence added",
    "proposal_made": "Proposal",
    "proposal_answered": "Proposal answered",
    "proposal_withdrawn": "Proposal withdrawn",
    "escalated": "Escalated",
    "assigned": "Mediator assigned",
    "message": "Message",
    "mediator_proposal": "Mediator's proposal",
    "expert_requested": "Expert review asked",
    "expert_answered": "Expert's assessment",
    "resolved": "Resolved",
    "dismissed": "Dismissed",
}


def stage_label(stage: str) -> str:
    return disputes.STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize())


def state_of(d: Dispute) -> tuple[str, str]:
    """``(label, badge class)``: the stage of an open dispute, the outcome of an ended one."""
    if d.is_open:
        return stage_label(d.stage), STAGE_BADGES.get(d.stage, "")
    return disputes.OUTCOME_LABELS.get(d.outcome or "", d.status.title()), OUTCOME_BADGES.get(
        d.outcome or "", ""
    )


_people = users_by_id  # {id: User} in one query (app.accounts.services)


# --------------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class DisputeFilters:
    """The queue's checked filters: ``base`` (status, search, the days it was opened), the
    stage, the mediator (mine / unassigned / anyone), "opened more than N days ago" and the
    order (oldest first, or the deadline soonest first)."""

    base: ListFilters = field(default_factory=ListFilters)
    stage: str | None = None
    mediator: str | None = None
    older_than: int | None = None
    sort: str = "age"

    @property
    def status(self) -> str | None:
        return self.base.status

    def as_args(self) -> dict:
        values = {
            **self.base.as_args(),
            "stage": self.stage,
            "mediator": self.mediator,
            "older_than": self.older_than,
            "sort": self.sort if self.sort != "age" else None,
        }
        return {k: v for k, v in values.items() if v is not None}


def dispute_filters(
    status: Any = None,
    stage: Any = None,
    mediator: Any = None,
    older_than: Any = None,
    sort: Any = None,
    q: Any = None,
    date_from: Any = None,
    date_to: Any = None,
) -> DisputeFilters:
    """Check the queue's filters; every bad field at once in one ConsoleInputError."""
    errors: dict[str, str] = {}
    try:
        base = list_filters(STATUSES, status, q, date_from, date_to, max_query=MAX_QUERY)
    except ConsoleInputError as exc:
        errors.update(exc.errors)
        base = ListFilters()
    if not blank(stage) and stage not in STAGES:
        errors["stage"] = f"Unknown stage; use one of {', '.join(STAGES)}."
    if not blank(mediator) and mediator not in MEDIATOR_FILTERS:
        errors["mediator"] = "Choose mine or unassigned (or leave it empty for anyone)."
    if not blank(sort) and sort not in SORTS:
        errors["sort"] = "Sort by age or deadline."
    days = None
    if not blank(older_than):
        raw = older_than.strip() if isinstance(older_than, str) else older_than
        if isinstance(raw, str) and raw.isdigit() and len(raw) <= 4:
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_AGE_DAYS:
            errors["older_than"] = f"Give a whole number of days from 0 to {MAX_AGE_DAYS}."
        else:
            days = raw
    if errors:
        raise ConsoleInputError(errors)
    return DisputeFilters(
        base=base,
        stage=None if blank(stage) else stage,
        mediator=None if blank(mediator) else mediator,
        older_than=days,
        sort="age" if blank(sort) else sort,
    )


def _conditions(filters: DisputeFilters, viewer: User | None, now: datetime) -> list:
    d = Dispute
    conditions = []
    if filters.base.status:
        conditions.append(d.status == filters.base.status)
    if filters.stage:
        conditions += [d.stage == filters.stage, d.status == "open"]
    if filters.mediator == "mine":
        conditions.append(d.mediator_id == (viewer.id if viewer is not None else -1))
    elif filters.mediator == "unassigned":
        conditions.append(d.mediator_id.is_(None))
    if filters.older_than is not None:
        conditions.append(d.opened_at <= now - timedelta(days=filters.older_than))
    if filters.base.since is not None:
        conditions.append(d.opened_at >= filters.base.since)
    if filters.base.until is not None:
        conditions.append(d.opened_at < filters.base.until)
    if filters.base.q:
        like = "%" + escape_like(filters.base.q) + "%"
        people = sa.select(User.id).where(sa.or_(User.email.ilike(like), User.display_name.ilike(like)))
        matches = [d.buyer_id.in_(people), d.seller_id.in_(people), d.statement.ilike(like)]
        number = _NUMBER_RE.match(filters.base.q)
        if number and int(number[1]) < 2**31:
            matches += [d.id == int(number[1]), d.order_id == int(number[1])]
        conditions.append(sa.or_(*matches))
    return conditions


@dataclass(frozen=True)
class DisputeRow:
    dispute: Dispute
    buyer: User | None
    seller: User | None
    mediator: User | None
    order_title: str
    now: datetime

    @property
    def age_days(self) -> int:
        end = self.dispute.resolved_at or self.now
        return max(0, (end - self.dispute.opened_at).days)

    @property
    def overdue(self) -> bool:
        at = self.dispute.stage_deadline_at
        return self.dispute.is_open and at is not None and at <= self.now

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "dispute":
            raise AttributeError(name)
        return getattr(self.dispute, name)


def search_disputes(
    filters: DisputeFilters | None,
    viewer: User | None,
    page: int = 1,
    per_page: int = PAGE_SIZE,
    *,
    now: datetime,
) -> tuple[list[DisputeRow], int]:
    """Disputes matching ``filters`` with their parties, mediator and order title, and the
    total. ``age``: the oldest first; ``deadline``: the soonest stage deadline first (those
    without one last)."""
    filters = filters or DisputeFilters()
    page = page if isinstance(page, int) and 1 <= page <= 100_000 else 1
    per_page = max(1, min(100, int(per_page)))
    conditions = _conditions(filters, viewer, now)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Dispute).where(*conditions))
    if filters.sort == "deadline":
        order_by = [sa.nulls_last(Dispute.stage_deadline_at.asc()), Dispute.opened_at, Dispute.id]
    else:
        order_by = [Dispute.opened_at, Dispute.id]
    rows = list(
        db.session.scalars(
            sa.select(Dispute)
            .where(*conditions)
            .order_by(*order_by)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    people = _people([x for r in rows for x in (r.buyer_id, r.seller_id, r.mediator_id)])
    titles = (
        dict(
            db.session.execute(
                sa.select(Order.id, Order.title).where(Order.id.in_({r.order_id for r in rows}))
            ).all()
        )
        if rows
        else {}
    )
    return [
        DisputeRow(
            r,
            people.get(r.buyer_id),
            people.get(r.seller_id),
            people.get(r.mediator_id) if r.mediator_id else None,
            titles.get(r.order_id, ""),
            now,
        )
        for r in rows
    ], int(total or 0)


def stage_counts() -> dict[str, int]:
    """How many open disputes are at each stage (for the filter's choices)."""
    counts = dict(
        db.session.execute(
            sa.select(Dispute.stage, sa.func.count()).where(Dispute.status == "open").group_by(Dispute.stage)
        ).all()
    )
    return {stage: int(counts.get(stage, 0)) for stage in STAGES}


def status_counts() -> dict[str, int]:
    counts = dict(
        db.session.execute(sa.select(Dispute.status, sa.func.count()).group_by(Dispute.status)).all()
    )
    return {status: int(counts.get(status, 0)) for status in STATUSES}


# --------------------------------------------------------------------------- one dispute


def get_dispute(dispute_id: Any) -> Dispute:
    """Any dispute of this marketplace; DisputeNotFound (404) otherwise."""
    did = parse_id(dispute_id)
    d = db.session.get(Dispute, did) if did else None
    if d is None:
        raise disputes.DisputeNotFound("This dispute does not exist.")
    return d


@dataclass
class EvidenceItem:
    row: DisputeEvidence
    author: User | None
    file_url: str | None  # a file's signed download link

    @property
    def url(self) -> str | None:
        """A file's signed link, or a link's address."""
        return self.file_url or self.row.url

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "row":
            raise AttributeError(name)
        return getattr(self.row, name)


@dataclass
class ProposalItem:
    row: DisputeProposal
    author: User | None

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "row":
            raise AttributeError(name)
        return getattr(self.row, name)


@dataclass(frozen=True)
class Step:
    stage: str
    label: str
    state: str  # done | current | todo | skipped


@dataclass
class DisputeDetail:
    """A dispute with everything a mediator needs: the parties, the order (or contract) with
    its timeline, deliveries or the milestone's submission, ledger and conversation, the
    evidence (files with signed links), the proposals, the dispute's own timeline, and which
    steps its stage allows."""

    dispute: Dispute
    buyer: User | None
    seller: User | None
    opened_by_user: User | None
    mediator: User | None
    expert: User | None
    decided_by_user: User | None
    order: OrderDetail
    milestone: Milestone | None
    messages: list = field(default_factory=list)
    more_messages: bool = False
    evidence: list[EvidenceItem] = field(default_factory=list)
    proposals: list[ProposalItem] = field(default_factory=list)
    timeline: list[DisputeEvent] = field(default_factory=list)
    experts: list[dispute_admin.Expert] = field(default_factory=list)
    staff: list[User] = field(default_factory=list)
    expert_review_enabled: bool = True
    expert_fee_rule: str = ""
    commission_bps: int = 0
    commission_min_fee_minor: int = 0
    audit: list[AuditEntry] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    now: datetime | None = None

    def __getattr__(self, name: str):
        if name.startswith("__") or name in (
            "dispute",
            "order",
            "timeline",
            "audit",
            "evidence",
            "proposals",
        ):
            raise AttributeError(name)
        return getattr(self.dispute, name)

    @property
    def contract(self):
        return self.order.contract

    # for the API's case
    @property
    def order_title(self) -> str:
        return self.order.order.title

    @property
    def order_brief(self) -> dict:
        o = self.order.order
        return {
            "id": o.id,
            "kind": o.kind,
            "title": o.title,
            "status": o.status,
            "currency": o.currency,
            "total_minor": o.total_minor,
            "escrow_minor": self.order.money.escrow_minor,
            "contract_id": self.order.contract.id if self.order.contract is not None else None,
        }

    @property
    def deliveries(self) -> list:
        return self.order.deliveries

    @property
    def order_timeline(self) -> list:
        return self.order.timeline

    @property
    def age_days(self) -> int:
        end = self.dispute.resolved_at or self.now
        return max(0, (end - self.dispute.opened_at).days) if end else 0

    @property
    def steps(self) -> list[Step]:
        """The ladder as a stepper: rungs passed, the current one, those ahead."""
        d = self.dispute
        reached = {e.data.get("stage") for e in self.timeline if e.kind == "escalated"}
        if d.expert_requested_at:
            reached.add("expert_review")
        current = STAGES.index(d.stage) if d.is_open else len(STAGES)
        out = []
        for i, stage in enumerate(STAGES):
            if d.is_open and i == current:
                state = "current"
            elif i < current and (i == 0 or stage in reached):
                state = "done"
            elif i < current:
                state = "skipped"
            else:
                state = "todo"
            out.append(Step(stage, stage_label(stage), state))
        return out

    @property
    def overdue(self) -> bool:
        d = self.dispute
        return bool(d.is_open and d.stage_deadline_at and self.now and d.stage_deadline_at <= self.now)

    # which steps the stage allows (the services refuse the rest anyway)
    @property
    def can_mediate(self) -> bool:
        return self.dispute.is_open

    @property
    def can_propose(self) -> bool:
        return self.dispute.is_open and self.dispute.stage == "mediation"

    @property
    def can_request_expert(self) -> bool:
        return self.can_propose and self.expert_review_enabled and bool(self.experts)

    @property
    def can_hand_over(self) -> bool:
        return self.dispute.is_open and self.dispute.stage in ("mediation", "expert_review")

    @property
    def can_decide(self) -> bool:
        return self.dispute.is_open and self.dispute.stage != "self_resolution"

    def name_of(self, user_id: int | None) -> str:
        d = self.dispute
        if user_id is None:
            return "the marketplace (deadline)"
        if user_id == d.buyer_id:
            return f"{self.names.get(user_id, 'the buyer')} (buyer)"
        if user_id == d.seller_id:
            return f"{self.names.get(user_id, 'the seller')} (seller)"
        if user_id == d.expert_id:
            return f"{self.names.get(user_id, 'the expert')} (expert)"
        return f"{self.names.get(user_id, 'user #' + str(user_id))} (marketplace)"


def name_of_user(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.display_name if user is not None else "nobody"


def active_staff() -> list[User]:
    """The marketplace's active moderators and admins (who can mediate)."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.role.in_(("moderator", "admin")), User.status == "active")
            .order_by(User.display_name, User.id)
        )
    )


def dispute_detail(dispute_id: Any, *, now: datetime) -> DisputeDetail:
    """One dispute's case (see ``DisputeDetail``). Raises DisputeNotFound."""
    d = get_dispute(dispute_id)
    order = order_detail(d.order_id)
    milestone = db.session.get(Milestone, d.milestone_id)
    timeline = disputes.timeline(d)
    evidence = disputes.evidence_of(d)
    proposals = disputes.proposals_of(d)
    messages, more = messaging.order_messages_for_operator(d.order_id, MESSAGE_LIMIT)
    people = _people(
        [d.buyer_id, d.seller_id, d.opened_by, d.mediator_id, d.expert_id, d.decided_by]
        + [e.actor_id for e in timeline]
        + [e.author_id for e in evidence]
        + [p.author_id for p in proposals]
        + [m.sender_id for m in messages]
    )
    ladder = disputes.settings()
    marketplace = orders.settings()
    entries, _total = search_audit(per_page=100, target_type="dispute", target_id=str(d.id))
    return DisputeDetail(
        dispute=d,
        buyer=people.get(d.buyer_id),
        seller=people.get(d.seller_id),
        opened_by_user=people.get(d.opened_by),
        mediator=people.get(d.mediator_id) if d.mediator_id else None,
        expert=people.get(d.expert_id) if d.expert_id else None,
        decided_by_user=people.get(d.decided_by) if d.decided_by else None,
        order=order,
        milestone=milestone,
        messages=messages,
        more_messages=more,
        evidence=[EvidenceItem(e, people.get(e.author_id), disputes.evidence_url(e)) for e in evidence],
        proposals=[ProposalItem(p, people.get(p.author_id)) for p in proposals],
        timeline=timeline,
        experts=dispute_admin.list_experts(active_only=True),
        staff=active_staff(),
        expert_review_enabled=ladder.expert_review_enabled,
        expert_fee_rule=ladder.expert_fee_rule,
        commission_bps=marketplace.commission_bps,
        commission_min_fee_minor=marketplace.commission_min_fee_minor,
        audit=entries,
        names={uid: u.display_name for uid, u in people.items()},
        now=now,
    )


def commission_on(release_minor: int, bps: int, min_fee_minor: int) -> int:
    """The commission the ledger takes on a released amount (0 on nothing released)."""
    return commission_for(release_minor, bps, min_fee_minor) if release_minor > 0 else 0
