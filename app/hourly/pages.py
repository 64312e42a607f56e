"""What the hourly web pages read: a week laid out by day, the to-dos of a contract, the
dashboard's figures. Reading only (no flush); the rules stay in ``services``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.contracts.models import Contract
from app.hourly import services
from app.hourly.models import TimeEntry, Timesheet
from app.orders.models import Milestone
from app.payments import billing
from app.payments.models import Payment
from tenants.db import db


def hm(minutes: int | None) -> str:
    """``195`` -> ``"3 h 15 min"``; ``60`` -> ``"1 h"``; ``5`` -> ``"5 min"``."""
    minutes = int(minutes or 0)
    hours, mins = divmod(abs(minutes), 60)
    sign = "-" if minutes < 0 else ""
    if hours and mins:
        return f"{sign}{hours} h {mins:02d} min"
    if hours:
        return f"{sign}{hours} h"
    return f"{sign}{mins} min"


def hm_input(minutes: int | None) -> str:
    """``90`` -> ``"1:30"`` (what the duration box reads back)."""
    hours, mins = divmod(int(minutes or 0), 60)
    return f"{hours}:{mins:02d}"


def parse_week(contract: Contract, raw: Any, now: datetime) -> date:
    """The Monday of ``?week=YYYY-MM-DD`` (any day of it), else the running week; never after it."""
    current = services.current_week(contract, now)
    if isinstance(raw, str) and raw.strip():
        try:
            week = services.monday(date.fromisoformat(raw.strip()[:10]))
        except ValueError:
            return current
        return min(week, current)
    return current


@dataclass(frozen=True)
class Day:
    day: date
    entries: list[TimeEntry]

    @property
    def minutes(self) -> int:
        return sum(e.minutes for e in self.entries)


def days_of(view: services.WeekView) -> list[Day]:
    by_day: dict[date, list[TimeEntry]] = {}
    for e in view.entries:
        by_day.setdefault(e.work_date, []).append(e)
    return [
        Day(view.week_start + timedelta(days=i), by_day.get(view.week_start + timedelta(days=i), []))
        for i in range(7)
    ]


def local_span(contract: Contract, entry: TimeEntry) -> str | None:
    """``"09:00–12:30"`` in the contract's time zone for an entry with a start and an end."""
    if entry.started_at is None or entry.ended_at is None:
        return None
    tz = services.zone(contract)
    return f"{entry.started_at.astimezone(tz):%H:%M}–{entry.ended_at.astimezone(tz):%H:%M}"


def week_open(contract: Contract, week: date, view: services.WeekView, now: datetime) -> bool:
    """Entries of ``week`` may still change (not closed, not older than last week)."""
    return view.timesheet is None and week >= services.current_week(contract, now) - timedelta(days=7)


def can_log(contract: Contract, viewer: User) -> bool:
    return contract.freelancer_id == viewer.id and contract.status == "active" and contract.paused_at is None


def can_resume(contract: Contract, viewer: User) -> bool:
    if contract.status != "active" or contract.paused_at is None or contract.pause_reason == "payment_failed":
        return False
    party = contract.party(viewer.id)
    return party == "client" or contract.pause_reason == party


def client_card_ok(contract: Contract) -> bool:
    return billing.usable(billing.billing_method_of(contract.client_id))


@dataclass(frozen=True)
class Todo:
    to_review: int
    failed: int

    def lines(self, party: str | None) -> list[str]:
        out = []
        if party == "client":
            if self.to_review:
                out.append(f"{self.to_review} timesheet{'s' if self.to_review != 1 else ''} to review")
            if self.failed:
                out.append("Payment failed: update your card and retry")
        elif self.failed:
            out.append("A weekly payment failed: the client updates their card")
        return out


def todo_of(contract: Contract) -> Todo:
    """Timesheets waiting for the client, and failed payments, of one contract (one query)."""
    rows = dict(
        db.session.execute(
            sa.select(Timesheet.status, sa.func.count())
            .where(
                Timesheet.contract_id == contract.id,
                Timesheet.status.in_(("submitted", "payment_failed")),
            )
            .group_by(Timesheet.status)
        ).all()
    )
    return Todo(rows.get("submitted", 0), rows.get("payment_failed", 0))


def latest_timesheet(contract: Contract) -> Timesheet | None:
    return db.session.scalar(
        sa.select(Timesheet)
        .where(Timesheet.contract_id == contract.id)
        .order_by(Timesheet.week_start.desc())
        .limit(1)
    )


def payment_of(sheet: Timesheet) -> tuple[Milestone | None, Payment | None]:
    """The week's milestone of the engagement and its card payment (None before approval)."""
    if sheet.milestone_id is None:
        return None, None
    return (
        db.session.get(Milestone, sheet.milestone_id),
        db.session.scalar(sa.select(Payment).where(Payment.milestone_id == sheet.milestone_id)),
    )


@dataclass(frozen=True)
class WeekRow:
    contract: Contract
    minutes: int
    cap_hours: int


def freelancer_weeks(user: User, now: datetime | None = None) -> list[WeekRow]:
    """This week's logged time on each of the freelancer's active hourly contracts (the
    dashboard): one query over the last eight days of open entries, each contract's week then
    cut in its own time zone."""
    now = now or datetime.now(UTC)
    rows = db.session.execute(
        sa.select(Contract, TimeEntry.work_date, sa.func.sum(TimeEntry.minutes))
        .join(
            TimeEntry,
            sa.and_(
                TimeEntry.contract_id == Contract.id,
                TimeEntry.timesheet_id.is_(None),
                TimeEntry.work_date >= (now - timedelta(days=8)).date(),
            ),
            isouter=True,
        )
        .where(
            Contract.freelancer_id == user.id,
            Contract.status == "active",
            Contract.payment_model == "hourly",
        )
        .group_by(Contract.id, TimeEntry.work_date)
        .order_by(Contract.id)
    ).all()
    totals: dict[int, WeekRow] = {}
    for contract, day, minutes in rows:
        week = services.current_week(contract, now)
        cap = services.terms_for_week(contract, week).weekly_cap_hours
        row = totals.get(contract.id) or WeekRow(contract, 0, cap)
        if day is not None and services.monday(day) == week:
            row = WeekRow(contract, row.minutes + int(minutes or 0), row.cap_hours)
        totals[contract.id] = row
    return list(totals.values())
