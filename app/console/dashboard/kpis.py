"""The dashboard's figures for a period, with the previous period for comparison.

Definitions (every amount is integer minor units of the marketplace's currency; the
ledger is the source of truth for money, the orders table for order counts):

- **GMV** (gross merchandise value): money paid in by buyers in the period, i.e. the sum
  of the ledger's ``payment`` transactions (their debit to ``provider:clearing``) created
  in the period. Refunds do not lower it; they are reported on their own. Every milestone
  funded is such a payment, so GMV already includes milestone payments (custom offers'
  and contracts' alike); **contract GMV** below is the contracts' part of it.
- **Refunds**: money given back to buyers in the period (the ledger's ``refund``
  transactions, their credit to ``provider:clearing``).
- **Commission revenue**: the net credit to ``platform:commission`` in the period — the
  fees taken on releases, minus any reversal (an adjustment debiting it).
- **Orders placed**: orders created in the period; **orders by status** counts those same
  orders by their status now. **Paid orders**: orders whose first payment (``paid_at``)
  falls in the period; **average order value** is GMV / paid orders.
- **New users**: accounts created in the period (later deletions included: they signed up).
- **Active sellers**: distinct sellers who received an order placed in the period or
  published a gig in it (``gigs.published_at``).
- **Top categories**: GMV of the period by top-level category of the ordered gig (custom
  offers without a gig, and gigs since deleted, are "No category").
- **Reviews published**: reviews (both directions) whose ``published_at`` falls in the period
  and that are still published (a hidden review leaves every figure, as it leaves the
  averages). **Average rating**: the mean overall rating of those of them in which buyers
  rate sellers (``of_seller``: the stars gigs and sellers show); None when there are none.
- **Jobs posted**: jobs published in the period (``jobs.published_at``; still open or not).
- **Contracts started**: contracts activated in the period (both signatures:
  ``contracts.activated_at``), whatever became of them since.
- **Milestones paid**: milestones of contract engagements released to the freelancer in the
  period (``order_milestones.paid_at``, of orders of kind ``contract``).
- **Contract GMV**: the part of GMV paid for contracts: the ledger's ``payment``
  transactions of the period whose order is a contract engagement (``orders.kind =
  'contract'``), i.e. the milestones the clients funded.
- **Disputes**: open now; of the disputes that ended in the period (resolved or dismissed),
  the median time from opening to the end and what they refunded to buyers
  (``app.disputes.services.dashboard_figures``); disputes opened and ended per bucket.
- **Series**: GMV, orders placed, new users, commission, reviews published and their average
  rating, disputes opened and ended per day (periods up to about two months), week (Monday
  first) or month. Buckets and dates are UTC.

The previous period has the same length and ends where the period starts (for ``12m``:
the same months a year earlier). Money in another currency than the marketplace's (a
currency changed after sales) is left out of the figures and listed in
``other_currencies``.

Nine short aggregate queries, each reading its table once for both periods (the money one
joins each payment's order for its kind; jobs, contracts and contract milestones are one
statement of three subqueries), and two for disputes (opened and ended per bucket; the
disputes domain's figures in one statement).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.console.errors import ConsoleInputError
from app.console.filters import blank, parse_day
from app.contracts.models import Contract
from app.disputes import services as disputes
from app.disputes.models import Dispute
from app.gigs.models import Category, Gig
from app.jobs.models import Job
from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from app.ledger.services import CLEARING, COMMISSION, account_codes, account_of
from app.orders.models import ORDER_STATUSES, Milestone, Order
from app.orders.services import STATUS_LABELS
from app.reviews.models import Review
from app.settings.models import MarketplaceSettings
from tenants.db import db

PRESETS = {
    "7d": ("Last 7 days", 7),
    "30d": ("Last 30 days", 30),
    "90d": ("Last 90 days", 90),
    "12m": ("Last 12 months", None),
}
DEFAULT_PERIOD = "30d"
MAX_CUSTOM_DAYS = 3 * 366
EARLIEST = date(2000, 1, 1)
TOP_CATEGORIES = 6
# The tiles of the jobs-and-contracts half, shown as their own group after the others.
CONTRACT_FIGURES = ("jobs_posted", "contracts_started", "milestones_paid", "contract_gmv")


class KpiError(ConsoleInputError):
    """Bad period input; ``errors`` maps a field (``period``, ``from``, ``to``) to a message."""


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    key: str  # a preset ("30d") or "custom"
    label: str
    first_day: date  # inclusive, UTC
    last_day: date  # inclusive, UTC
    previous_first_day: date
    previous_last_day: date
    granularity: str  # day | week | month

    @staticmethod
    def _at(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=UTC)

    @property
    def start(self) -> datetime:
        return self._at(self.first_day)

    @property
    def end(self) -> datetime:
        """Exclusive."""
        return self._at(self.last_day + timedelta(days=1))

    @property
    def previous_start(self) -> datetime:
        return self._at(self.previous_first_day)

    @property
    def previous_end(self) -> datetime:
        return self._at(self.previous_last_day + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    # Clamp the day (31 March - 1 month = 28/29 February).
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _granularity(days: int) -> str:
    if days <= 62:
        return "day"
    if days <= 400:
        return "week"
    return "month"


def resolve_period(period=None, date_from=None, date_to=None, *, today: date | None = None) -> Period:
    """The period to show: a preset (``7d``, ``30d``, ``90d``, ``12m``; default ``30d``)
    or, when ``date_from`` / ``date_to`` are given, those days (inclusive, UTC).

    Presets end today (UTC). Raises KpiError for an unknown preset, a custom range with one
    end missing, not a date, reversed, before 2000, ending after tomorrow or longer than
    three years.
    """
    today = today or datetime.now(UTC).date()
    if not blank(date_from) or not blank(date_to):
        errors: dict[str, str] = {}
        if blank(date_from):
            errors["from"] = "Give the first day of the range too."
        if blank(date_to):
            errors["to"] = "Give the last day of the range too."
        first = None if blank(date_from) else parse_day(date_from, "from", "The first day", errors)
        last = None if blank(date_to) else parse_day(date_to, "to", "The last day", errors)
        if first and first < EARLIEST:
            errors["from"] = f"The first day cannot be before {EARLIEST.isoformat()}."
        if last and last > today + timedelta(days=1):
            errors["to"] = "The last day cannot be in the future."
        if first and last and "from" not in errors and "to" not in errors:
            if first > last:
                errors["to"] = "The last day must be on or after the first day."
            elif (last - first).days + 1 > MAX_CUSTOM_DAYS:
                errors["to"] = f"Choose at most {MAX_CUSTOM_DAYS} days."
        if errors:
            raise KpiError(errors)
        days = (last - first).days + 1
        return Period(
            key="custom",
            label=f"{first.isoformat()} to {last.isoformat()}",
            first_day=first,
            last_day=last,
            previous_first_day=first - timedelta(days=days),
            previous_last_day=first - timedelta(days=1),
            granularity=_granularity(days),
        )
    key = DEFAULT_PERIOD if blank(period) else period
    if not isinstance(key, str) or key not in PRESETS:
        raise KpiError({"period": f"Choose one of {', '.join(PRESETS)}, or a range of days."})
    label, days = PRESETS[key]
    if days is None:  # 12m: this month and the 11 before; compared with the same months a year earlier
        first = _add_months(today.replace(day=1), -11)
        return Period(
            key=key,
            label=label,
            first_day=first,
            last_day=today,
            previous_first_day=_add_months(first, -12),
            previous_last_day=_add_months(today, -12),
            granularity="month",
        )
    first = today - timedelta(days=days - 1)
    return Period(
        key=key,
        label=label,
        first_day=first,
        last_day=today,
        previous_first_day=first - timedelta(days=days),
        previous_last_day=first - timedelta(days=1),
        granularity="day" if days <= 31 else "week",
    )


def _bucket_start(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def buckets(period: Period) -> list[date]:
    """The first day of every bucket of the period (the first one may start before it)."""
    out, current = [], _bucket_start(period.first_day, period.granularity)
    while current <= period.last_day:
        out.append(current)
        if period.granularity == "day":
            current += timedelta(days=1)
        elif period.granularity == "week":
            current += timedelta(days=7)
        else:
            current = _add_months(current, 1)
    return out


def bucket_label(day: date, granularity: str) -> str:
    if granularity == "month":
        return day.strftime("%b %Y")
    return f"{day.day} {day.strftime('%b')}"


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    """A KPI tile: this period's value, the previous period's, and the change."""

    key: str
    label: str
    value: int
    previous: int
    kind: str  # money | count

    @property
    def change_pct(self) -> float | None:
        """Percent change vs the previous period; None when there is nothing to compare with."""
        if self.previous == 0:
            return None
        return round((self.value - self.previous) * 100.0 / abs(self.previous), 1)


@dataclass(frozen=True)
class SeriesPoint:
    day: date
    label: str
    gmv_minor: int
    orders: int
    new_users: int
    commission_minor: int
    reviews: int = 0
    average_rating: Decimal | None = None  # buyers' reviews of sellers in the bucket; None: none
    disputes_opened: int = 0
    disputes_resolved: int = 0  # resolved or dismissed in the bucket


def _average(stars: int, count: int) -> Decimal | None:
    if not count:
        return None
    return (Decimal(stars) / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RatingFigure:
    """The average rating buyers gave sellers in reviews published in the period (see the
    module docstring), against the previous period; None where nothing was rated."""

    average: Decimal | None
    previous: Decimal | None
    count: int
    previous_count: int

    @property
    def change(self) -> Decimal | None:
        """The difference in stars (not percent: a rating is a bounded scale)."""
        if self.average is None or self.previous is None:
            return None
        return self.average - self.previous


@dataclass(frozen=True)
class DisputeFigures:
    """Disputes (``app.disputes.services.dashboard_figures``): open now; of those that ended
    in the period (resolved or dismissed), the median time from opening to the end and what
    they refunded to buyers (in the marketplace's currency); opened and ended in the period."""

    open: int = 0
    median_hours: float | None = None
    refunded_minor: int = 0
    opened: int = 0
    ended: int = 0


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


@dataclass(frozen=True)
class CategoryFigure:
    category_id: int | None
    name: str
    gmv_minor: int
    orders: int


@dataclass
class Dashboard:
    period: Period
    currency: str
    figures: dict[str, Figure]
    orders_by_status: list[StatusCount]
    top_categories: list[CategoryFigure]
    series: list[SeriesPoint]
    other_currencies: dict[str, int] = field(default_factory=dict)
    rating: RatingFigure = field(default_factory=lambda: RatingFigure(None, None, 0, 0))
    disputes: DisputeFigures = field(default_factory=DisputeFigures)

    @property
    def tiles(self) -> list[Figure]:
        """Every figure, the marketplace's first, then the jobs-and-contracts ones."""
        return list(self.figures.values())

    @property
    def marketplace_tiles(self) -> list[Figure]:
        return [f for f in self.figures.values() if f.key not in CONTRACT_FIGURES]

    @property
    def contract_tiles(self) -> list[Figure]:
        return [f for f in self.figures.values() if f.key in CONTRACT_FIGURES]


def _window(column, period: Period):
    """Rows of the period or the previous one (never overlapping)."""
    return sa.or_(
        sa.and_(column >= period.start, column < period.end),
        sa.and_(column >= period.previous_start, column < period.previous_end),
    )


def _in_period(column, period: Period):
    return sa.and_(column >= period.start, column < period.end)


def _in_previous(column, period: Period):
    return sa.and_(column >= period.previous_start, column < period.previous_end)


def _bucket(column, period: Period):
    """The UTC bucket (a date) of rows in the period, NULL for the previous period's rows."""
    day = sa.func.date_trunc(period.granularity, sa.func.timezone("UTC", column))
    return sa.case((_in_period(column, period), sa.cast(day, sa.Date)), else_=None)


MONEY_KINDS = ("payment", "refund", "release", "adjustment")


def _money_scope(period: Period) -> tuple[dict[int, tuple[str, str]], int | None]:
    """``({account id: (code, currency)}, first transaction id)``: the clearing and commission
    accounts' rows (a few: each hot account's shards and unsharded row, all named by the
    account's code), and the smallest id of a money transaction in either period.

    The id bounds the scans that follow (``transaction_id >= first``): with no index on
    ``created_at``, it lets PostgreSQL read only the entries from that id on through the
    ``(account_id, transaction_id)`` index instead of every entry. It never changes a result —
    the periods are still filtered on ``created_at`` — it only saves reading older rows.
    """
    t = LedgerTransaction
    first = (
        # ``id + 0``: a plain min(id) would walk the primary key from the oldest row instead
        sa.select(sa.func.min(t.id + 0))
        .where(t.kind.in_(MONEY_KINDS), _window(t.created_at, period))
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(LedgerAccount.id, LedgerAccount.code, LedgerAccount.currency, first.label("first")).where(
            LedgerAccount.code.in_(account_codes(CLEARING) + account_codes(COMMISSION))
        )
    ).all()
    return {row.id: (account_of(row.code), row.currency) for row in rows}, (rows[0].first if rows else None)


def dashboard(period=None, date_from=None, date_to=None, *, today: date | None = None) -> Dashboard:
    """Every figure of the dashboard for the period (see the module docstring and
    ``resolve_period``). Reads only. Raises KpiError for bad period input."""
    p = resolve_period(period, date_from, date_to, today=today)
    currency = db.session.scalar(sa.select(MarketplaceSettings.currency).where(MarketplaceSettings.id == 1))
    currency = currency or "USD"
    points = buckets(p)
    series = {
        day: {"gmv": 0, "orders": 0, "users": 0, "commission": 0, "reviews": 0, "rated": 0, "stars": 0}
        for day in points
    }

    # 1. Money, from the ledger: entries on the clearing and commission accounts.
    accounts, first_transaction = _money_scope(p)
    clearing_ids = [i for i, (code, _c) in accounts.items() if code == CLEARING]
    commission_ids = [i for i, (code, _c) in accounts.items() if code == COMMISSION]
    t, e = LedgerTransaction, LedgerEntry
    money = {"gmv": [0, 0], "refunds": [0, 0], "commission": [0, 0], "contract_gmv": [0, 0]}
    other_currencies: dict[str, int] = {}
    if accounts and first_transaction is not None:
        is_clearing = e.account_id.in_(clearing_ids or [-1])
        is_commission = e.account_id.in_(commission_ids or [-1])
        engagement = aliased(Order, name="engagement")
        rows = db.session.execute(
            sa.select(
                t.currency,
                _bucket(t.created_at, p).label("bucket"),
                sa.func.coalesce(
                    sa.func.sum(e.amount_minor).filter(t.kind == "payment", is_clearing), 0
                ).label("gmv"),
                sa.func.coalesce(
                    sa.func.sum(e.amount_minor).filter(
                        t.kind == "payment", is_clearing, engagement.kind == "contract"
                    ),
                    0,
                ).label("contract_gmv"),
                sa.func.coalesce(
                    sa.func.sum(-e.amount_minor).filter(t.kind == "refund", is_clearing), 0
                ).label("refunds"),
                sa.func.coalesce(sa.func.sum(-e.amount_minor).filter(is_commission), 0).label("commission"),
            )
            .select_from(e)
            .join(t, t.id == e.transaction_id)
            .outerjoin(engagement, engagement.id == t.order_id)
            .where(
                e.account_id.in_(list(accounts)),
                e.transaction_id >= first_transaction,
                t.id >= first_transaction,
                t.kind.in_(MONEY_KINDS),
                _window(t.created_at, p),
            )
            .group_by(sa.text("1"), sa.text("2"))
        ).all()
        for row in rows:
            if row.currency != currency:
                if row.bucket is not None and row.gmv:
                    other_currencies[row.currency] = other_currencies.get(row.currency, 0) + int(row.gmv)
                continue
            slot = 0 if row.bucket is not None else 1
            for name in money:
                money[name][slot] += int(getattr(row, name))
            if row.bucket is not None and row.bucket in series:
                series[row.bucket]["gmv"] += int(row.gmv)
                series[row.bucket]["commission"] += int(row.commission)

    # 2. Orders placed (by status and bucket) and paid, this period and the previous one.
    o = Order
    rows = db.session.execute(
        sa.select(
            o.status,
            _bucket(o.created_at, p).label("bucket"),
            sa.func.count().filter(_in_period(o.created_at, p)).label("placed"),
            sa.func.count().filter(_in_previous(o.created_at, p)).label("placed_prev"),
            sa.func.count().filter(_in_period(o.paid_at, p)).label("paid"),
            sa.func.count().filter(_in_previous(o.paid_at, p)).label("paid_prev"),
            sa.func.min(o.id).filter(_window(o.created_at, p)).label("first_id"),
        )
        .where(sa.or_(_window(o.created_at, p), _window(o.paid_at, p)))
        .group_by(sa.text("1"), sa.text("2"))
    ).all()
    by_status = dict.fromkeys(ORDER_STATUSES, 0)
    placed, paid = [0, 0], [0, 0]
    first_orders = [row.first_id for row in rows if row.first_id is not None]
    first_order = min(first_orders) if first_orders else None
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + int(row.placed)
        placed[0] += int(row.placed)
        placed[1] += int(row.placed_prev)
        paid[0] += int(row.paid)
        paid[1] += int(row.paid_prev)
        if row.bucket is not None and row.bucket in series:
            series[row.bucket]["orders"] += int(row.placed)

    # 3. New users.
    rows = db.session.execute(
        sa.select(_bucket(User.created_at, p).label("bucket"), sa.func.count().label("n"))
        .where(_window(User.created_at, p))
        .group_by(sa.text("1"))
    ).all()
    users = [0, 0]
    for row in rows:
        if row.bucket is None:
            users[1] += int(row.n)
        else:
            users[0] += int(row.n)
            if row.bucket in series:
                series[row.bucket]["users"] += int(row.n)

    # 4. Active sellers: an order received or a gig published in the period.
    activity = sa.union_all(
        sa.select(o.seller_id.label("seller_id"), o.created_at.label("at")).where(
            # the first order id of the periods bounds the scan (see _money_scope); none: no orders
            o.id >= first_order if first_order is not None else sa.false(),
            _window(o.created_at, p),
        ),
        sa.select(Gig.seller_id.label("seller_id"), Gig.published_at.label("at")).where(
            _window(Gig.published_at, p)
        ),
    ).subquery()
    sellers = db.session.execute(
        sa.select(
            sa.func.count(sa.distinct(activity.c.seller_id)).filter(_in_period(activity.c.at, p)),
            sa.func.count(sa.distinct(activity.c.seller_id)).filter(_in_previous(activity.c.at, p)),
        )
    ).one()

    # 5. Top categories by GMV (top-level category of the ordered gig).
    top: list[CategoryFigure] = []
    if clearing_ids and first_transaction is not None:
        parent = sa.func.coalesce(Category.parent_id, Category.id)
        ranked = (
            sa.select(
                parent.label("category_id"),
                sa.func.sum(e.amount_minor).label("gmv"),
                sa.func.count(sa.distinct(t.order_id)).label("orders"),
            )
            .select_from(e)
            .join(t, t.id == e.transaction_id)
            .join(o, o.id == t.order_id)
            .outerjoin(Gig, Gig.id == o.gig_id)
            .outerjoin(Category, Category.id == Gig.category_id)
            .where(
                e.account_id.in_(clearing_ids),
                e.transaction_id >= first_transaction,
                t.id >= first_transaction,
                t.kind == "payment",
                t.currency == currency,
                _in_period(t.created_at, p),
            )
            .group_by(parent)
            .order_by(sa.func.sum(e.amount_minor).desc(), parent)
            .limit(TOP_CATEGORIES)
            .subquery()
        )
        top_category = aliased(Category)
        for row in db.session.execute(
            sa.select(ranked, top_category.name)
            .outerjoin(top_category, top_category.id == ranked.c.category_id)
            .order_by(ranked.c.gmv.desc(), ranked.c.category_id)
        ).all():
            top.append(
                CategoryFigure(
                    category_id=row.category_id,
                    name=row.name or "No category",
                    gmv_minor=int(row.gmv),
                    orders=int(row.orders),
                )
            )

    # 6. Reviews published in the period (still published), and the buyers' ratings of sellers.
    rv = Review
    rows = db.session.execute(
        sa.select(
            _bucket(rv.published_at, p).label("bucket"),
            sa.func.count().label("n"),
            sa.func.count().filter(rv.direction == "of_seller").label("rated"),
            sa.func.coalesce(sa.func.sum(rv.rating).filter(rv.direction == "of_seller"), 0).label("stars"),
        )
        .where(rv.status == "published", _window(rv.published_at, p))
        .group_by(sa.text("1"))
    ).all()
    reviews, rated, stars = [0, 0], [0, 0], [0, 0]
    for row in rows:
        slot = 0 if row.bucket is not None else 1
        reviews[slot] += int(row.n)
        rated[slot] += int(row.rated)
        stars[slot] += int(row.stars)
        if row.bucket is not None and row.bucket in series:
            point = series[row.bucket]
            point["reviews"] += int(row.n)
            point["rated"] += int(row.rated)
            point["stars"] += int(row.stars)

    # 7. The jobs-and-contracts half, in one statement: jobs posted, contracts started, contract
    # milestones paid (each a scalar subquery reading its table once for both periods).
    ms = Milestone

    def both(column, extra=lambda q: q):
        query = extra(
            sa.select(
                sa.func.count().filter(_in_period(column, p)).label("now"),
                sa.func.count().filter(_in_previous(column, p)).label("before"),
            ).where(_window(column, p))
        ).subquery()
        return sa.select(query.c.now).scalar_subquery(), sa.select(query.c.before).scalar_subquery()

    jobs_now, jobs_before = both(Job.published_at)
    started_now, started_before = both(Contract.activated_at)
    paid_now, paid_before = both(
        ms.paid_at, lambda q: q.select_from(ms).join(o, o.id == ms.order_id).where(o.kind == "contract")
    )
    upwork = db.session.execute(
        sa.select(jobs_now, jobs_before, started_now, started_before, paid_now, paid_before)
    ).one()
    jobs_posted, contracts_started, milestones_paid = upwork[0:2], upwork[2:4], upwork[4:6]

    # 8. Disputes: opened and ended per bucket, and the domain's own figures for the period.
    dispute_series = {day: [0, 0] for day in points}
    steps = sa.union_all(
        sa.select(Dispute.opened_at.label("at"), sa.literal(0).label("slot")).where(
            _in_period(Dispute.opened_at, p)
        ),
        sa.select(Dispute.resolved_at.label("at"), sa.literal(1).label("slot")).where(
            _in_period(Dispute.resolved_at, p)
        ),
    ).subquery()
    totals = [0, 0]
    for row in db.session.execute(
        sa.select(_bucket(steps.c.at, p).label("bucket"), steps.c.slot, sa.func.count().label("n")).group_by(
            sa.text("1"), sa.text("2")
        )
    ).all():
        totals[row.slot] += int(row.n)
        if row.bucket in dispute_series:
            dispute_series[row.bucket][row.slot] += int(row.n)
    opened_total, ended_total = totals
    dispute_figures = disputes.dashboard_figures(since=p.start, until=p.end)

    def figure(key, label, pair, kind):
        return Figure(key, label, int(pair[0]), int(pair[1]), kind)

    aov = [money["gmv"][i] // paid[i] if paid[i] else 0 for i in (0, 1)]
    figures = {
        f.key: f
        for f in (
            figure("gmv", "GMV", money["gmv"], "money"),
            figure("commission", "Commission revenue", money["commission"], "money"),
            figure("refunds", "Refunds", money["refunds"], "money"),
            figure("orders", "Orders placed", placed, "count"),
            figure("paid_orders", "Paid orders", paid, "count"),
            figure("average_order", "Average order value", aov, "money"),
            figure("new_users", "New users", users, "count"),
            figure("active_sellers", "Active sellers", (sellers[0], sellers[1]), "count"),
            figure("reviews", "Reviews published", reviews, "count"),
            figure("jobs_posted", "Jobs posted", jobs_posted, "count"),
            figure("contracts_started", "Contracts started", contracts_started, "count"),
            figure("milestones_paid", "Milestones paid", milestones_paid, "count"),
            figure("contract_gmv", "Contract GMV", money["contract_gmv"], "money"),
        )
    }
    return Dashboard(
        period=p,
        currency=currency,
        figures=figures,
        orders_by_status=[
            StatusCount(status, STATUS_LABELS.get(status, status), count)
            for status, count in by_status.items()
        ],
        top_categories=top,
        series=[
            SeriesPoint(
                day=day,
                label=bucket_label(day, p.granularity),
                gmv_minor=values["gmv"],
                orders=values["orders"],
                new_users=values["users"],
                commission_minor=values["commission"],
                reviews=values["reviews"],
                average_rating=_average(values["stars"], values["rated"]),
                disputes_opened=dispute_series[day][0],
                disputes_resolved=dispute_series[day][1],
            )
            for day, values in series.items()
        ],
        other_currencies=other_currencies,
        rating=RatingFigure(
            average=_average(stars[0], rated[0]),
            previous=_average(stars[1], rated[1]),
            count=rated[0],
            previous_count=rated[1],
        ),
        disputes=DisputeFigures(
            open=dispute_figures["open"],
            median_hours=dispute_figures["median_hours"],
            refunded_minor=int(dispute_figures["refunded_minor"].get(currency, 0)),
            opened=opened_total,
            ended=ended_total,
        ),
    )
