"""Console reads of the contracts area: every contract (filters, search, money), one contract
with everything an operator needs to judge it, and the milestones of every contract's
engagement (the queue of stuck money).

The filters are checked here for web and API alike (``ConsoleInputError`` with field errors
``status``, ``q``, ``from``, ``to`` for contracts; ``state``, ``due_within`` for milestones).
Everything is read in the bound tenant: an id of another marketplace is simply not found.
Money comes from the engagement (``orders.Order`` of kind ``contract``): its milestones for
what was funded, released and refunded, the ledger for what escrow holds now.
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
from app.console.operations.orders import ProviderPayment, provider_records
from app.contracts import services as contracts
from app.contracts import sow as statements
from app.contracts.models import CONTRACT_STATUSES, Contract, ContractChange, SowSignature, StatementOfWork
from app.core.ids import parse_id
from app.core.text import escape_like
from app.jobs.models import Job
from app.ledger import services as ledger
from app.ledger.models import LedgerAccount
from app.orders import milestones as engine
from app.orders import services as orders
from app.orders.models import MILESTONE_STATUSES, Milestone, Order, OrderEvent
from tenants.db import db

CONTRACT_PAGE_SIZE = 25
MILESTONE_PAGE_SIZE = 50
MAX_QUERY = 200
MAX_DUE_DAYS = 365
# "C-12", "c12", "#12" or "12": a contract's number.
_NUMBER_RE = re.compile(r"^(?:c-?|#)?\s*(\d{1,10})\Z", re.IGNORECASE)
STATUS_BADGES = {
    "offered": "",
    "declined": "badge-bad",
    "withdrawn": "",
    "awaiting_signatures": "badge-warn",
    "active": "badge-warn",
    "completed": "badge-ok",
    "cancelled": "badge-bad",
}
MILESTONE_BADGES = {
    "planned": "",
    "funding_required": "badge-warn",
    "funded": "",
    "submitted": "badge-warn",
    "changes_requested": "badge-warn",
    "accepted": "badge-ok",
    "paid": "badge-ok",
    "refunded": "badge-bad",
    "partially_refunded": "badge-bad",
    "disputed": "badge-bad",
    "cancelled": "",
}
CHANGE_LABELS = {"add": "Add a milestone", "edit": "Change a milestone", "remove": "Remove a milestone"}


def status_label(status: str) -> str:
    return contracts.status_label(status)


def milestone_label(status: str) -> str:
    return engine.state_label(status)


_people = users_by_id  # {id: User} in one query (app.accounts.services)


# --------------------------------------------------------------------------- money


@dataclass(frozen=True)
class Money:
    """A contract's money: its total, what was funded into escrow, what escrow holds now (the
    ledger), what was released to the freelancer and what was refunded to the client."""

    total_minor: int
    funded_minor: int
    in_escrow_minor: int
    released_minor: int
    refunded_minor: int


def money_by_contract(rows: list[Contract]) -> dict[int, Money]:
    """The money of each contract (two queries for the lot: the engagements' milestones and
    their escrow accounts in the ledger). A contract without an engagement has moved none."""
    order_ids = [c.order_id for c in rows if c.order_id]
    sums: dict[int, Any] = {}
    escrow: dict[tuple[str, str], int] = {}
    if order_ids:
        m = Milestone
        sums = {
            row.order_id: row
            for row in db.session.execute(
                sa.select(
                    m.order_id,
                    sa.func.coalesce(sa.func.sum(m.amount_minor).filter(m.funded_at.is_not(None)), 0).label(
                        "funded"
                    ),
                    sa.func.coalesce(
                        sa.func.sum(m.amount_minor - m.refunded_minor).filter(
                            m.status.in_(("paid", "partially_refunded"))
                        ),
                        0,
                    ).label("released"),
                    sa.func.coalesce(sa.func.sum(m.refunded_minor), 0).label("refunded"),
                )
                .where(m.order_id.in_(order_ids))
                .group_by(m.order_id)
            )
        }
        codes = [ledger.escrow_account(oid) for oid in order_ids]
        escrow = {
            (row.code, row.currency): int(row.balance_minor)
            for row in db.session.execute(
                sa.select(LedgerAccount.code, LedgerAccount.currency, LedgerAccount.balance_minor).where(
                    LedgerAccount.code.in_(codes)
                )
            )
        }
    out = {}
    for c in rows:
        s = sums.get(c.order_id) if c.order_id else None
        out[c.id] = Money(
            total_minor=c.total_minor,
            funded_minor=int(s.funded) if s else 0,
            in_escrow_minor=escrow.get((ledger.escrow_account(c.order_id), c.currency), 0)
            if c.order_id
            else 0,
            released_minor=int(s.released) if s else 0,
            refunded_minor=int(s.refunded) if s else 0,
        )
    return out


# --------------------------------------------------------------------------- every contract


ContractFilters = ListFilters  # status, search text and a range of days


def contract_filters(
    status: Any = None, q: Any = None, date_from: Any = None, date_to: Any = None
) -> ContractFilters:
    """Checked filters of the contract list: a status, a search (words of the title, a
    contract number ``C-12`` / ``#12`` / ``12``, a party's email or name) and a range of UTC
    days the contract started (was activated) in. Raises ConsoleInputError."""
    return list_filters(CONTRACT_STATUSES, status, q, date_from, date_to, max_query=MAX_QUERY)


def _conditions(filters: ContractFilters) -> list:
    conditions = []
    if filters.status:
        conditions.append(Contract.status == filters.status)
    if filters.since is not None:
        conditions.append(Contract.activated_at >= filters.since)
    if filters.until is not None:
        conditions.append(Contract.activated_at < filters.until)
    if filters.q:
        like = "%" + escape_like(filters.q) + "%"
        people = sa.select(User.id).where(sa.or_(User.email.ilike(like), User.display_name.ilike(like)))
        matches = [
            Contract.title.ilike(like),
            Contract.client_id.in_(people),
            Contract.freelancer_id.in_(people),
        ]
        number = _NUMBER_RE.match(filters.q)
        if number and int(number[1]) < 2**31:
            matches.append(Contract.id == int(number[1]))
        conditions.append(sa.or_(*matches))
    return conditions


@dataclass(frozen=True)
class ContractRow:
    contract: Contract
    client: User | None
    freelancer: User | None
    money: Money

    def __getattr__(self, name: str):
        # The contract's own fields (id, title, status ...) read straight through, for the API.
        if name.startswith("__") or name == "contract":
            raise AttributeError(name)
        return getattr(self.contract, name)


def search_contracts(
    filters: ContractFilters | None = None, page: int = 1, per_page: int = CONTRACT_PAGE_SIZE
):
    """Contracts of the marketplace in any status matching ``filters``, newest first, with
    their parties and money; and the total."""
    filters = filters or ContractFilters()
    page = page if isinstance(page, int) and 1 <= page <= 100_000 else 1
    per_page = max(1, min(100, int(per_page)))
    conditions = _conditions(filters)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Contract).where(*conditions))
    rows = list(
        db.session.scalars(
            sa.select(Contract)
            .where(*conditions)
            .order_by(Contract.created_at.desc(), Contract.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    people = _people([c.client_id for c in rows] + [c.freelancer_id for c in rows])
    money = money_by_contract(rows)
    return [
        ContractRow(c, people.get(c.client_id), people.get(c.freelancer_id), money[c.id]) for c in rows
    ], int(total or 0)


def status_counts() -> dict[str, int]:
    """How many contracts are in each status (for the filter's choices)."""
    counts = dict(
        db.session.execute(sa.select(Contract.status, sa.func.count()).group_by(Contract.status)).all()
    )
    return {status: int(counts.get(status, 0)) for status in CONTRACT_STATUSES}


# --------------------------------------------------------------------------- one contract


@dataclass
class SowView:
    """The SoW as stored, whether its text still matches its hash, and its signatures."""

    statement: StatementOfWork
    intact: bool
    signatures: list[SowSignature]

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("statement", "signatures"):
            raise AttributeError(name)
        return getattr(self.statement, name)


@dataclass
class ChangeItem:
    change: ContractChange
    proposed_by_user: User | None
    responded_by_user: User | None
    milestone: Milestone | None

    @property
    def label(self) -> str:
        return CHANGE_LABELS.get(self.change.action, self.change.action)

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "change":
            raise AttributeError(name)
        return getattr(self.change, name)


@dataclass
class ContractDetail:
    contract: Contract
    client: User | None
    freelancer: User | None
    job: Job | None
    ended_by_user: User | None
    money: Money
    sow: SowView | None
    order: Order | None
    milestones: list[Milestone] = field(default_factory=list)
    changes: list[ChangeItem] = field(default_factory=list)
    timeline: list[OrderEvent] = field(default_factory=list)
    ledger_transactions: list[ledger.TransactionLines] = field(default_factory=list)
    provider_records: list[ProviderPayment] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    actor_names: dict[int, str] = field(default_factory=dict)

    @property
    def can_end(self) -> bool:
        """An active contract is the only one an operator ends (the others hold no money)."""
        return self.contract.status == "active"

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("contract", "milestones", "changes", "timeline", "audit"):
            raise AttributeError(name)
        return getattr(self.contract, name)


def get_contract(contract_id: Any) -> Contract:
    """Any contract of this marketplace, whatever its status; ContractNotFound (404) otherwise."""
    cid = parse_id(contract_id)
    contract = db.session.get(Contract, cid) if cid else None
    if contract is None:
        raise contracts.ContractNotFound("This contract does not exist.")
    return contract


def _sow_view(contract: Contract) -> SowView | None:
    """The SoW even when its text no longer matches its hash (the page says so instead of
    refusing: the operator is who must see it)."""
    try:
        statement = statements.statement_of(contract)
        intact = True
    except statements.SowIntegrityError:
        statement = db.session.scalar(
            sa.select(StatementOfWork)
            .where(StatementOfWork.contract_id == contract.id)
            .order_by(StatementOfWork.version.desc())
            .limit(1)
        )
        intact = False
    if statement is None:
        return None
    return SowView(statement, intact, statements.signatures(statement))


def contract_detail(contract_id: Any) -> ContractDetail:
    """A contract with its parties, job, terms, SoW (hash, signatures with time and IP), the
    engagement's milestones, the milestone changes, the engagement's timeline, its ledger
    transactions with their entries, the provider's payments and refunds, and the console's
    decisions. Raises ContractNotFound."""
    contract = get_contract(contract_id)
    order = contracts.engagement(contract)
    changes = contracts.changes_of(contract)
    timeline = orders.timeline(order) if order is not None else []
    people = _people(
        [contract.client_id, contract.freelancer_id, contract.ended_by]
        + [c.proposed_by for c in changes]
        + [c.responded_by for c in changes]
        + [e.actor_id for e in timeline]
    )
    milestones = sorted(order.milestones, key=lambda m: m.seq) if order is not None else []
    by_id = {m.id: m for m in milestones}
    entries, _total = search_audit(per_page=100, target_type="contract", target_id=str(contract.id))
    return ContractDetail(
        contract=contract,
        client=people.get(contract.client_id),
        freelancer=people.get(contract.freelancer_id),
        job=db.session.get(Job, contract.job_id) if contract.job_id else None,
        ended_by_user=people.get(contract.ended_by) if contract.ended_by else None,
        money=money_by_contract([contract])[contract.id],
        sow=_sow_view(contract),
        order=order,
        milestones=milestones,
        changes=[
            ChangeItem(c, people.get(c.proposed_by), people.get(c.responded_by), by_id.get(c.milestone_id))
            for c in changes
        ],
        timeline=timeline,
        ledger_transactions=ledger.order_transactions(order.id) if order is not None else [],
        provider_records=provider_records(order.id) if order is not None else [],
        audit=entries,
        actor_names={uid: user.display_name for uid, user in people.items()},
    )


# --------------------------------------------------------------------------- milestones


@dataclass(frozen=True)
class MilestoneFilters:
    state: str | None = None
    due_within: int | None = None  # days: submitted work the engine releases by then (or overdue)

    def as_args(self) -> dict:
        values = {"state": self.state, "due_within": self.due_within}
        return {k: v for k, v in values.items() if v is not None}


def milestone_filters(state: Any = None, due_within: Any = None) -> MilestoneFilters:
    """Checked filters of the milestones queue: a state, and "auto-release due within N days"
    (0 to 365: submitted milestones the engine will release on its own by then, overdue ones
    included). Raises ConsoleInputError."""
    errors: dict[str, str] = {}
    if not blank(state) and state not in MILESTONE_STATUSES:
        errors["state"] = f"Unknown state; use one of {', '.join(MILESTONE_STATUSES)}."
    days = None
    if not blank(due_within):
        raw = due_within.strip() if isinstance(due_within, str) else due_within
        if isinstance(raw, str) and raw.isdigit() and len(raw) <= 4:
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_DUE_DAYS:
            errors["due_within"] = f"Give a whole number of days from 0 to {MAX_DUE_DAYS}."
        else:
            days = raw
    if errors:
        raise ConsoleInputError(errors)
    return MilestoneFilters(state=None if blank(state) else state, due_within=days)


# When each state began, for "in this state since" (the refunded and cancelled ones: the end).
def _since_column():
    m = Milestone
    return sa.case(
        (m.status == "funding_required", m.funding_requested_at),
        (m.status == "funded", m.funded_at),
        (m.status == "submitted", m.submitted_at),
        (m.status == "changes_requested", m.changes_requested_at),
        (m.status == "accepted", m.accepted_at),
        (m.status.in_(("paid", "partially_refunded")), m.paid_at),
        (m.status.in_(("refunded", "cancelled")), sa.func.coalesce(Order.cancelled_at, Order.completed_at)),
        else_=None,
    )


@dataclass(frozen=True)
class MilestoneRow:
    milestone: Milestone
    contract: Contract
    client: User | None
    freelancer: User | None
    since: datetime | None

    @property
    def currency(self) -> str:
        return self.contract.currency

    @property
    def held_minor(self) -> int:
        return self.milestone.held_minor

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("milestone", "contract"):
            raise AttributeError(name)
        return getattr(self.milestone, name)


def search_milestones(
    filters: MilestoneFilters | None = None,
    page: int = 1,
    per_page: int = MILESTONE_PAGE_SIZE,
    *,
    now: datetime,
) -> tuple[list[MilestoneRow], int]:
    """Milestones of every contract's engagement matching ``filters``, with their contract and
    parties, and the total. With "due within", the soonest release first; with a state, the
    longest in it first (the stuck ones); otherwise the newest contracts first."""
    filters = filters or MilestoneFilters()
    page = page if isinstance(page, int) and 1 <= page <= 100_000 else 1
    per_page = max(1, min(200, int(per_page)))
    m = Milestone
    conditions = []
    if filters.state:
        conditions.append(m.status == filters.state)
    if filters.due_within is not None:
        conditions += [
            m.status == "submitted",
            m.auto_release_at.is_not(None),
            m.auto_release_at <= now + timedelta(days=filters.due_within),
        ]
    base = (
        sa.select(m, Contract, _since_column().label("since"))
        .join(Contract, Contract.order_id == m.order_id)
        .join(Order, Order.id == m.order_id)
        .where(Order.kind == "contract", *conditions)
    )
    if filters.due_within is not None:
        order_by = [m.auto_release_at, m.id]
    elif filters.state:
        order_by = [sa.nulls_last(_since_column().asc()), m.id]
    else:
        order_by = [Contract.id.desc(), m.seq]
    total = db.session.scalar(sa.select(sa.func.count()).select_from(base.subquery()))
    rows = db.session.execute(base.order_by(*order_by).offset((page - 1) * per_page).limit(per_page)).all()
    people = _people([c.client_id for _m, c, _s in rows] + [c.freelancer_id for _m, c, _s in rows])
    return [
        MilestoneRow(row[0], row[1], people.get(row[1].client_id), people.get(row[1].freelancer_id), row[2])
        for row in rows
    ], int(total or 0)


def milestone_state_counts() -> dict[str, int]:
    """How many milestones of contract engagements are in each state."""
    counts = dict(
        db.session.execute(
            sa.select(Milestone.status, sa.func.count())
            .join(Contract, Contract.order_id == Milestone.order_id)
            .group_by(Milestone.status)
        ).all()
    )
    return {state: int(counts.get(state, 0)) for state in MILESTONE_STATUSES}
