"""Console reads of the payouts area: every payout (filters), sellers' payout accounts with
their KYC status, holds and what blocks their payouts, one seller's account page, and the
holds.

The filters are checked here for web and API alike (``ConsoleInputError`` with field errors
``status``, ``q``, ``from``, ``to`` for payouts; ``kyc``, ``q``, ``held`` for accounts).
Everything is read in the bound tenant: an id of another marketplace is simply not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.accounts.models import SellerProfile, User
from app.accounts.services import users_by_id
from app.console.audit import search_audit
from app.console.errors import ConsoleInputError
from app.console.filters import ListFilters, blank, list_filters, short_text
from app.console.models import AuditEntry
from app.core.ids import INT32_MAX, parse_id
from app.core.text import escape_like
from app.ledger import services as ledger
from app.payments import services as payments
from app.payments.backoffice import seller_for_payouts
from app.payments.models import KYC_STATUSES, PAYOUT_STATUSES, Payout, PayoutHold, SellerPaymentAccount
from app.settings.models import MarketplaceSettings
from tenants.db import db

PAYOUT_PAGE_SIZE = 50
ACCOUNT_PAGE_SIZE = 50
MAX_QUERY = 200
HELD_CHOICES = ("yes", "no")
_ID_RE = re.compile(r"^#?\s*(\d{1,10})\Z")

STATUS_BADGES = {"pending": "badge-warn", "sent": "badge-ok", "failed": "badge-bad", "reversed": "badge-bad"}
KYC_BADGES = {"none": "", "pending": "badge-warn", "verified": "badge-ok", "rejected": "badge-bad"}
KYC_LABELS = {
    "none": "Not started",
    "pending": "Pending",
    "verified": "Verified",
    "rejected": "Rejected",
}
BLOCK_LABELS = {
    payments.KYC_REQUIRED: "KYC not verified",
    payments.PAYOUTS_HELD: "On hold",
}


def _settings() -> MarketplaceSettings:
    return db.session.get(MarketplaceSettings, 1)


def provider_name() -> str:
    return _settings().payment_provider


_people = users_by_id  # {id: User} in one query (app.accounts.services)


def _people_matching(q: str):
    """Ids of users whose email or name contains ``q``, or whose id is ``q`` (``#12``)."""
    like = "%" + escape_like(q) + "%"
    matches = [User.email.ilike(like), User.display_name.ilike(like)]
    number = _ID_RE.match(q)
    if number and int(number[1]) <= INT32_MAX:
        matches.append(User.id == int(number[1]))
    return sa.select(User.id).where(sa.or_(*matches))


# --------------------------------------------------------------------------- payouts


PayoutFilters = ListFilters  # status, seller search and a range of days


def payout_filters(status: Any = None, q: Any = None, date_from: Any = None, date_to: Any = None):
    """Checked filters of the payouts list: a status, a seller (email, name or ``#id``) and a
    range of UTC days the payout was requested in. Raises ConsoleInputError."""
    return list_filters(PAYOUT_STATUSES, status, q, date_from, date_to, max_query=MAX_QUERY)


@dataclass(frozen=True)
class PayoutRow:
    payout: Payout
    seller: User | None
    retried_as: int | None  # the payout that retried this failed one

    @property
    def can_retry(self) -> bool:
        return self.payout.status == "failed" and self.retried_as is None

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "payout":
            raise AttributeError(name)
        return getattr(self.payout, name)


def search_payouts(filters: PayoutFilters | None = None, page: int = 1, per_page: int = PAYOUT_PAGE_SIZE):
    """Payouts matching ``filters``, newest first, with their seller and retry; and the total."""
    filters = filters or PayoutFilters()
    page = page if isinstance(page, int) and 1 <= page <= 100_000 else 1
    per_page = max(1, min(100, int(per_page)))
    conditions = []
    if filters.status:
        conditions.append(Payout.status == filters.status)
    if filters.since is not None:
        conditions.append(Payout.requested_at >= filters.since)
    if filters.until is not None:
        conditions.append(Payout.requested_at < filters.until)
    if filters.q:
        conditions.append(Payout.seller_id.in_(_people_matching(filters.q)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Payout).where(*conditions))
    rows = list(
        db.session.scalars(
            sa.select(Payout)
            .where(*conditions)
            .order_by(Payout.requested_at.desc(), Payout.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    return _payout_rows(rows), int(total or 0)


def _payout_rows(rows: list[Payout]) -> list[PayoutRow]:
    people = _people(p.seller_id for p in rows)
    retries = dict(
        db.session.execute(
            sa.select(Payout.retry_of_id, Payout.id).where(Payout.retry_of_id.in_([p.id for p in rows]))
        ).all()
    )
    return [PayoutRow(p, people.get(p.seller_id), retries.get(p.id)) for p in rows]


def payout_row(payout_id: int) -> PayoutRow:
    payout = db.session.get(Payout, payout_id)
    if payout is None:
        raise payments.PaymentError(404, "No such payout in this marketplace.")
    return _payout_rows([payout])[0]


def payout_status_counts() -> dict[str, int]:
    counts = dict(db.session.execute(sa.select(Payout.status, sa.func.count()).group_by(Payout.status)).all())
    return {status: int(counts.get(status, 0)) for status in PAYOUT_STATUSES}


# --------------------------------------------------------------------------- accounts


@dataclass(frozen=True)
class AccountFilters:
    kyc: str | None = None
    q: str | None = None
    held: bool | None = None

    def as_args(self) -> dict:
        values = {
            "kyc": self.kyc,
            "q": self.q,
            "held": None if self.held is None else ("yes" if self.held else "no"),
        }
        return {k: v for k, v in values.items() if v is not None}


def account_filters(kyc: Any = None, q: Any = None, held: Any = None) -> AccountFilters:
    """Checked filters of the payout accounts: a KYC status, a seller search, held or not.
    Raises ConsoleInputError with every bad field."""
    errors: dict[str, str] = {}
    if not blank(kyc) and kyc not in KYC_STATUSES:
        errors["kyc"] = f"Unknown KYC status; use one of {', '.join(KYC_STATUSES)}."
    text = short_text(q, "q", "The search", MAX_QUERY, errors)
    if isinstance(held, bool):
        held_value = held
    elif blank(held):
        held_value = None
    elif held in HELD_CHOICES:
        held_value = held == "yes"
    else:
        held_value = None
        errors["held"] = "Held must be yes or no."
    if errors:
        raise ConsoleInputError(errors)
    return AccountFilters(kyc=None if blank(kyc) else kyc, q=text, held=held_value)


@dataclass(frozen=True)
class AccountRow:
    """A seller's payout account at the tenant's provider (``account`` None: never started),
    the active hold, the available balance and what blocks their payouts (None: nothing)."""

    user: User
    account: SellerPaymentAccount | None
    hold: HoldRow | None
    available_minor: int
    currency: str
    provider: str

    @property
    def kyc_status(self) -> str:
        return self.account.kyc_status if self.account is not None else "none"

    @property
    def kyc_requirements(self) -> list[str]:
        return list(self.account.kyc_requirements or []) if self.account is not None else []

    @property
    def kyc_checked_at(self):
        return self.account.kyc_checked_at if self.account is not None else None

    @property
    def kyc_note(self) -> str | None:
        return self.account.kyc_note if self.account is not None else None

    @property
    def block(self) -> str | None:
        if self.kyc_status != "verified":
            return payments.KYC_REQUIRED
        return payments.PAYOUTS_HELD if self.hold is not None else None


def _account_query(filters: AccountFilters, provider: str):
    account = sa.orm.aliased(SellerPaymentAccount)
    query = (
        sa.select(User, account)
        .join(SellerProfile, SellerProfile.user_id == User.id)
        .outerjoin(account, sa.and_(account.user_id == User.id, account.provider == provider))
    )
    if filters.kyc == "none":
        query = query.where(sa.or_(account.id.is_(None), account.kyc_status == "none"))
    elif filters.kyc:
        query = query.where(account.kyc_status == filters.kyc)
    if filters.q:
        query = query.where(User.id.in_(_people_matching(filters.q)))
    active = sa.select(PayoutHold.user_id).where(PayoutHold.released_at.is_(None))
    if filters.held is True:
        query = query.where(User.id.in_(active))
    elif filters.held is False:
        query = query.where(User.id.not_in(active))
    return query, account


def _rows(pairs, provider: str) -> list[AccountRow]:
    currency = _settings().currency
    ids = [user.id for user, _account in pairs]
    active = list(
        db.session.scalars(
            sa.select(PayoutHold).where(PayoutHold.user_id.in_(ids), PayoutHold.released_at.is_(None))
        )
    )
    people = _people([h.placed_by for h in active])
    holds = {
        h.user_id: HoldRow(
            h, next((u for u, _a in pairs if u.id == h.user_id), None), people.get(h.placed_by), None
        )
        for h in active
    }
    return [
        AccountRow(
            user=user,
            account=account,
            hold=holds.get(user.id),
            available_minor=ledger.seller_balances(user.id, currency)["available"],
            currency=currency,
            provider=provider,
        )
        for user, account in pairs
    ]


def search_accounts(filters: AccountFilters | None = None, page: int = 1, per_page: int = ACCOUNT_PAGE_SIZE):
    """Sellers (with a seller profile) and their payout account at the tenant's provider,
    matching ``filters``: pending first (the operator's queue), then by name; and the total."""
    filters = filters or AccountFilters()
    page = page if isinstance(page, int) and 1 <= page <= 100_000 else 1
    per_page = max(1, min(100, int(per_page)))
    provider = provider_name()
    query, account = _account_query(filters, provider)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    ordered = query.order_by(
        sa.case((account.kyc_status == "pending", 0), else_=1), User.display_name, User.id
    )
    pairs = db.session.execute(ordered.offset((page - 1) * per_page).limit(per_page)).all()
    return _rows([(row[0], row[1]) for row in pairs], provider), int(total or 0)


def kyc_counts() -> dict[str, int]:
    """Sellers by KYC status at the tenant's provider (never started counts as ``none``)."""
    provider = provider_name()
    status = sa.func.coalesce(SellerPaymentAccount.kyc_status, sa.literal_column("'none'"))
    rows = db.session.execute(
        sa.select(status, sa.func.count())
        .select_from(SellerProfile)
        .outerjoin(
            SellerPaymentAccount,
            sa.and_(
                SellerPaymentAccount.user_id == SellerProfile.user_id,
                SellerPaymentAccount.provider == provider,
            ),
        )
        .group_by(status)
    ).all()
    counts = dict(rows)
    return {status: int(counts.get(status, 0)) for status in KYC_STATUSES}


@dataclass(frozen=True)
class BlockedSummary:
    """Sellers with money available whom the scheduled payouts skip (``run_scheduled_payouts``
    refuses them the same way), by reason, and the money waiting."""

    kyc_required: int
    payouts_held: int
    waiting_minor: int
    currency: str


def blocked_summary() -> BlockedSummary:
    """What the scheduled payouts skip today: sellers with an available balance whose KYC is
    not verified or whose payouts are held."""
    provider = provider_name()
    currency = _settings().currency
    pairs = db.session.execute(_account_query(AccountFilters(), provider)[0]).all()
    counts = {payments.KYC_REQUIRED: 0, payments.PAYOUTS_HELD: 0}
    waiting = 0
    for row in _rows([(r[0], r[1]) for r in pairs], provider):
        if row.block and row.available_minor > 0:
            counts[row.block] += 1
            waiting += row.available_minor
    return BlockedSummary(counts[payments.KYC_REQUIRED], counts[payments.PAYOUTS_HELD], waiting, currency)


@dataclass
class AccountDetail:
    row: AccountRow
    holds: list[PayoutHold]
    people: dict[int, User]
    payouts: list[PayoutRow]
    audit: list[AuditEntry]


def account_detail(user_id: Any) -> AccountDetail:
    """One seller's payout account: KYC, holds (newest first, with who placed and released
    them), latest payouts and the console's decisions. Raises PaymentError 404 / 409 (not a
    seller), as ``backoffice.seller_for_payouts``."""
    seller = seller_for_payouts(parse_id(user_id, maximum=INT32_MAX) or 0)
    provider = provider_name()
    account = db.session.scalars(
        sa.select(SellerPaymentAccount).where(
            SellerPaymentAccount.user_id == seller.id, SellerPaymentAccount.provider == provider
        )
    ).first()
    row = _rows([(seller, account)], provider)[0]
    holds = list(
        db.session.scalars(
            sa.select(PayoutHold).where(PayoutHold.user_id == seller.id).order_by(PayoutHold.id.desc())
        )
    )
    people = _people([h.placed_by for h in holds] + [h.released_by for h in holds])
    payouts = list(
        db.session.scalars(
            sa.select(Payout).where(Payout.seller_id == seller.id).order_by(Payout.id.desc()).limit(20)
        )
    )
    audit, _total = search_audit(per_page=20, target_type="user", target_id=str(seller.id), action="payout")
    return AccountDetail(row, holds, people, _payout_rows(payouts), audit)


# --------------------------------------------------------------------------- holds


@dataclass(frozen=True)
class HoldRow:
    hold: PayoutHold
    seller: User | None
    placed_by: User | None
    released_by: User | None

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "hold":
            raise AttributeError(name)
        return getattr(self.hold, name)


def list_holds(active: bool | None = True, page: int = 1, per_page: int = 50) -> tuple[list[HoldRow], int]:
    """Payout holds, newest first: the active ones (``active`` True), the released ones
    (False) or all (None); and the total."""
    page = page if isinstance(page, int) and 1 <= page <= 100_000 else 1
    per_page = max(1, min(100, int(per_page)))
    query = sa.select(PayoutHold)
    if active is True:
        query = query.where(PayoutHold.released_at.is_(None))
    elif active is False:
        query = query.where(PayoutHold.released_at.is_not(None))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    holds = list(
        db.session.scalars(
            query.order_by(PayoutHold.placed_at.desc(), PayoutHold.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    people = _people(
        [h.user_id for h in holds] + [h.placed_by for h in holds] + [h.released_by for h in holds]
    )
    return [
        HoldRow(h, people.get(h.user_id), people.get(h.placed_by), people.get(h.released_by)) for h in holds
    ], int(total or 0)


def hold_row(hold_id: int) -> HoldRow:
    hold = db.session.get(PayoutHold, hold_id)
    if hold is None:
        raise payments.PaymentError(404, "No such hold in this marketplace.")
    people = _people([hold.user_id, hold.placed_by, hold.released_by])
    return HoldRow(hold, people.get(hold.user_id), people.get(hold.placed_by), people.get(hold.released_by))
