"""Hourly contracts: time entries, weekly timesheets, approval, billing, pause and rate changes.

Weeks run Monday 00:00 to Sunday 24:00 in the contract's time zone (``terms["timezone"]``);
a time entry belongs to the local day it was worked (``work_date``), so a week is a range of
dates and DST weeks (167 or 169 hours) need no special case.

Timesheet state machine (``TRANSITIONS``; a refused step is a 409 naming ``current_status``):

| from | to | who | event |
| --- | --- | --- | --- |
| (new) | submitted | the week closes (Monday's job, the CLI, the contract ending) | ``timesheet.submitted`` |
| submitted | approved | the client, or the review period running out | ``timesheet.approved`` |
| approved | billed | the charge succeeded: escrow, then released to the freelancer | ``timesheet.billed`` |
| approved | payment_failed | the charge failed: the contract pauses | ``timesheet.payment_failed`` |
| payment_failed | approved | the client retries (then billed or failed again) | |
| submitted | disputed | the client disputes (charged into escrow first) | ``timesheet.disputed`` |
| disputed | resolved | the dispute's decision moved the money (``milestone.dispute_resolved``) | |
| disputed | billed | the dispute withdrawn or dismissed: paid as billed | ``timesheet.billed`` |

Amount: ``money.time_amount(minutes_billable, rate)`` (half to even, once);
``minutes_billable = min(minutes_logged, cap × 60)``. The rate and cap are those in force for
the week (``terms_for_week``: an accepted change applies from the Monday after its answer).

Money moves only through the engagement's milestone engine (``orders.milestones``:
``add_billed_milestone``, ``release_billed``) and payments (``billing.charge_saved``).
Everything here flushes; the request or job commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.accounts.models import User
from app.contracts import services as contracts
from app.contracts.models import Contract
from app.core import money
from app.core.domain_errors import Conflict, DomainError, NotFound
from app.core.ids import parse_id
from app.core.text import text_field
from app.events import publish
from app.hourly.models import OPEN_TIMESHEET_STATUSES, RateChange, TimeEntry, Timesheet
from app.orders import milestones as engine
from app.orders import services as orders
from app.orders.models import Order
from app.payments import billing
from app.workroom import services as workroom
from tenants.db import db

MEMO_MAX = 500
DAY_MINUTES = 24 * 60
STATUS_LABELS = {
    "submitted": "Waiting for the client",
    "approved": "Approved: being charged",
    "billed": "Paid",
    "payment_failed": "Payment failed",
    "disputed": "Disputed",
    "resolved": "Settled by the dispute",
}
TRANSITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("submitted", "approved"): ("client", "job"),
    ("approved", "billed"): ("payments",),
    ("approved", "payment_failed"): ("payments",),
    ("payment_failed", "approved"): ("client",),
    ("submitted", "disputed"): ("client",),
    ("disputed", "resolved"): ("dispute",),
    ("disputed", "billed"): ("dispute",),
}


class HourlyError(DomainError):
    code = "hourly_invalid"


class HourlyNotFound(NotFound):
    code = "hourly_not_found"


class HourlyStateError(Conflict):
    code = "hourly_state"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


# --------------------------------------------------------------------------- weeks


def zone(contract: Contract) -> ZoneInfo:
    return ZoneInfo(contract.terms.get("timezone") or "UTC")


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def local_today(contract: Contract, now: datetime) -> date:
    return now.astimezone(zone(contract)).date()


def current_week(contract: Contract, now: datetime) -> date:
    """The Monday of the week running now in the contract's time zone."""
    return monday(local_today(contract, now))


def week_bounds(contract: Contract, week_start: date) -> tuple[datetime, datetime]:
    """The week's start and end in UTC (Monday 00:00 to the next Monday 00:00, local time)."""
    tz = zone(contract)
    return (
        datetime.combine(week_start, time(0), tzinfo=tz).astimezone(UTC),
        datetime.combine(week_start + timedelta(days=7), time(0), tzinfo=tz).astimezone(UTC),
    )


@dataclass(frozen=True)
class WeekTerms:
    rate_minor: int
    weekly_cap_hours: int


def terms_for_week(contract: Contract, week_start: date) -> WeekTerms:
    """The rate and weekly limit in force for the week starting ``week_start``."""
    rate, cap = contract.terms["rate_minor"], contract.terms["weekly_cap_hours"]
    for change in sorted(contract.terms.get("rate_history") or [], key=lambda c: c["week"]):
        if date.fromisoformat(change["week"]) <= week_start:
            rate, cap = change["rate_minor"], change["weekly_cap_hours"]
    return WeekTerms(rate, cap)


def week_amount(minutes_logged: int, terms: WeekTerms) -> tuple[int, int]:
    """(billable minutes, amount in minor units) of a week with ``minutes_logged``."""
    billable = min(minutes_logged, terms.weekly_cap_hours * 60)
    return billable, money.time_amount(billable, terms.rate_minor)


# --------------------------------------------------------------------------- the contract


def _hourly(contract: Contract, doing: str) -> Contract:
    if contract.payment_model != "hourly":
        raise HourlyStateError(
            f"Contract {contract.number} is paid by milestone: you cannot {doing}.",
            extra={"current_status": contract.status},
        )
    return contract


def _lock_contract(user: User, contract_id: Any, role: str | None = None, doing: str = "do this") -> Contract:
    return _hourly(contracts.lock_for(user, contract_id, role), doing)


def _working(contract: Contract, doing: str) -> None:
    if contract.status != "active":
        raise HourlyStateError(
            f"Contract {contract.number} is {contracts.status_label(contract.status).lower()}: "
            f"you cannot {doing}.",
            extra={"current_status": contract.status},
        )
    if contract.paused_at is not None:
        why = "a weekly payment failed" if contract.pause_reason == "payment_failed" else "it is paused"
        raise HourlyStateError(
            f"Contract {contract.number} is paused ({why}): you cannot {doing} until it resumes.",
            extra={"current_status": "paused"},
        )


def get_hourly_contract(user: User, contract_id: Any) -> Contract:
    """An hourly contract of which ``user`` is a party (ContractNotFound / HourlyStateError)."""
    return _hourly(contracts.get_contract(user, contract_id), "track time on it")


# --------------------------------------------------------------------------- time entries


def _day(value: Any, errors: dict) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    errors["work_date"] = "Give the day as YYYY-MM-DD."
    return None


def _clock(value: Any, field: str, errors: dict) -> time | None:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and len(value.strip()) == 5 and value.strip()[2] == ":":
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            pass
    errors[field] = "Give the time as HH:MM (24-hour clock)."
    return None


def _duration(value: Any, errors: dict) -> int | None:
    """Minutes from an integer, or ``"H:MM"`` / ``"1.5"`` hours."""
    if isinstance(value, bool):
        errors["minutes"] = "Give the duration in minutes."
        return None
    if isinstance(value, int):
        minutes = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            if ":" in text:
                hours, mins = text.split(":", 1)
                if not (hours.isdigit() and mins.isdigit() and len(mins) == 2 and int(mins) < 60):
                    raise ValueError
                minutes = int(hours) * 60 + int(mins)
            else:
                minutes = round(float(text) * 60)
        except ValueError:
            errors["minutes"] = "Give the duration as H:MM or in hours (1.5)."
            return None
    else:
        errors["minutes"] = "Give the duration in minutes, or a start and an end time."
        return None
    if minutes <= 0:
        errors["minutes"] = "The duration must be above zero."
    elif minutes > DAY_MINUTES:
        errors["minutes"] = "An entry is at most 24 hours."
    return minutes


@dataclass(frozen=True)
class EntryInput:
    work_date: date
    started_at: datetime | None
    ended_at: datetime | None
    minutes: int
    memo: str
    milestone_id: int | None
    task_id: int | None


def _clean_entry(contract: Contract, data: dict, now: datetime) -> EntryInput:
    if not isinstance(data, dict):
        raise HourlyError({"entry": "Give the time entry as an object."})
    errors: dict[str, str] = {}
    day = _day(data.get("work_date"), errors)
    start_raw, end_raw = data.get("start"), data.get("end")
    started = ended = None
    minutes = None
    if start_raw not in (None, "") or end_raw not in (None, ""):
        start = _clock(start_raw, "start", errors)
        end = _clock(end_raw, "end", errors)
        if day and start and end:
            tz = zone(contract)
            started = datetime.combine(day, start, tzinfo=tz)
            ended = datetime.combine(day, end, tzinfo=tz)
            if ended <= started:
                errors["end"] = "The end is before the start: split work past midnight into two entries."
            else:
                minutes = int((ended.astimezone(UTC) - started.astimezone(UTC)).total_seconds() // 60)
                if minutes < 1:
                    errors["end"] = "An entry is at least one minute."
                if data.get("minutes") not in (None, "") and _duration(data.get("minutes"), {}) != minutes:
                    errors["minutes"] = "Give either a start and an end, or a duration, not both."
    else:
        minutes = _duration(data.get("minutes"), errors)
    memo = text_field(data.get("memo"), "memo", errors, label="The memo", max_len=MEMO_MAX)
    milestone_id = None
    if data.get("milestone_id") not in (None, ""):
        milestone_id = parse_id(data.get("milestone_id"))
        order = db.session.get(Order, contract.order_id) if contract.order_id else None
        if milestone_id is None or order is None or milestone_id not in {m.id for m in order.milestones}:
            errors["milestone_id"] = "No milestone of this contract has this id."
            milestone_id = None
    task_id = None
    if data.get("task_id") not in (None, ""):
        task_id = parse_id(data.get("task_id"))
        if task_id is None or workroom.task_in_contract(contract.id, task_id) is None:
            errors["task_id"] = "No task of this contract has this id."
            task_id = None
    if day is not None and not errors.get("work_date"):
        today = local_today(contract, now)
        if day > today:
            errors["work_date"] = "You cannot log time in the future."
        elif ended is not None and ended > now:
            errors["end"] = "You cannot log time in the future."
        elif day == today and minutes and ended is None:
            midnight = datetime.combine(today, time(0), tzinfo=zone(contract))
            if minutes > (now - midnight).total_seconds() // 60 + 1:
                errors["minutes"] = "That is more time than has passed today."
        if (
            contract.activated_at is not None
            and day < contract.activated_at.astimezone(zone(contract)).date()
        ):
            errors["work_date"] = "This day is before the contract started."
    if errors:
        raise HourlyError(errors)
    return EntryInput(day, started, ended, minutes, memo, milestone_id, task_id)


def _check_week_open(contract: Contract, day: date, now: datetime) -> None:
    week = monday(day)
    closed = db.session.scalar(
        sa.select(Timesheet.id).where(Timesheet.contract_id == contract.id, Timesheet.week_start == week)
    )
    if closed is not None or week < current_week(contract, now) - timedelta(days=7):
        raise HourlyError(
            {"work_date": f"The week of {week.isoformat()} is closed: its timesheet was submitted."}
        )


def _check_fits(contract: Contract, entry: EntryInput, exclude_id: int | None) -> None:
    """No overlap with another timed entry; at most 24 hours on one day (under the contract lock)."""
    others = sa.select(TimeEntry).where(
        TimeEntry.contract_id == contract.id, TimeEntry.work_date == entry.work_date
    )
    if exclude_id is not None:
        others = others.where(TimeEntry.id != exclude_id)
    rows = list(db.session.scalars(others))
    if sum(r.minutes for r in rows) + entry.minutes > DAY_MINUTES:
        raise HourlyError({"minutes": f"That makes more than 24 hours on {entry.work_date.isoformat()}."})
    if entry.started_at is not None:
        for r in rows:
            if r.started_at is not None and r.started_at < entry.ended_at and entry.started_at < r.ended_at:
                local = zone(contract)
                span = f"{r.started_at.astimezone(local):%H:%M}–{r.ended_at.astimezone(local):%H:%M}"
                raise HourlyError({"start": f"This overlaps your entry of {span} on that day."})


def log_time(freelancer: User, contract_id: Any, data: dict, *, now: datetime | None = None) -> TimeEntry:
    """The freelancer logs time on an active, unpaused hourly contract; flushes.

    ``data``: ``work_date`` (YYYY-MM-DD, the local day), then ``start`` and ``end`` (HH:MM)
    or ``minutes`` (an integer, ``"H:MM"`` or hours ``"1.5"``), ``memo``, optionally
    ``milestone_id`` / ``task_id`` of the contract. Raises HourlyError (field errors: the
    future, overlapping, zero or over 24 hours, a closed week...), ContractNotFound (not a
    party), ContractForbidden (the client), HourlyStateError (not hourly, not active, paused,
    the week closed).
    """
    now = _now(now)
    contract = _lock_contract(freelancer, contract_id, "freelancer", "log time")
    _working(contract, "log time")
    entry = _clean_entry(contract, data, now)
    _check_week_open(contract, entry.work_date, now)
    _check_fits(contract, entry, None)
    row = TimeEntry(
        contract_id=contract.id,
        freelancer_id=freelancer.id,
        work_date=entry.work_date,
        started_at=entry.started_at,
        ended_at=entry.ended_at,
        minutes=entry.minutes,
        memo=entry.memo,
        milestone_id=entry.milestone_id,
        task_id=entry.task_id,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _own_entry(freelancer: User, entry_id: Any) -> tuple[Contract, TimeEntry]:
    eid = parse_id(entry_id)
    row = db.session.get(TimeEntry, eid) if eid else None
    if row is None:
        raise HourlyNotFound("No such time entry.")
    contract = contracts.lock_for(freelancer, row.contract_id)
    if row.freelancer_id != freelancer.id:
        raise HourlyNotFound("No such time entry.")
    row = db.session.scalars(
        sa.select(TimeEntry)
        .where(TimeEntry.id == eid)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if row.timesheet_id is not None:
        raise HourlyStateError(
            "This entry's week was submitted: it can no longer change.", extra={"current_status": "submitted"}
        )
    return contract, row


def edit_entry(freelancer: User, entry_id: Any, data: dict, *, now: datetime | None = None) -> TimeEntry:
    """Change an entry of a week not yet submitted (fields as ``log_time``; missing ones keep
    their values); flushes. Raises as ``log_time``; HourlyNotFound for another's entry."""
    now = _now(now)
    contract, row = _own_entry(freelancer, entry_id)
    if contract.status != "active":
        _working(contract, "change time")
    if not isinstance(data, dict):
        raise HourlyError({"entry": "Give the time entry as an object."})
    local = zone(contract)
    merged = {
        "work_date": row.work_date.isoformat(),
        "memo": row.memo,
        "milestone_id": row.milestone_id,
        "task_id": row.task_id,
    }
    if row.started_at is not None:
        merged |= {
            "start": row.started_at.astimezone(local).strftime("%H:%M"),
            "end": row.ended_at.astimezone(local).strftime("%H:%M"),
        }
    else:
        merged["minutes"] = row.minutes
    if "minutes" in data and "start" not in data:
        merged.pop("start", None)
        merged.pop("end", None)
    if "start" in data or "end" in data:
        merged.pop("minutes", None)
    merged |= {
        k: v
        for k, v in data.items()
        if k in ("work_date", "start", "end", "minutes", "memo", "milestone_id", "task_id")
    }
    entry = _clean_entry(contract, merged, now)
    _check_week_open(contract, entry.work_date, now)
    _check_week_open(contract, row.work_date, now)
    _check_fits(contract, entry, row.id)
    row.work_date, row.started_at, row.ended_at = entry.work_date, entry.started_at, entry.ended_at
    row.minutes, row.memo = entry.minutes, entry.memo
    row.milestone_id, row.task_id = entry.milestone_id, entry.task_id
    db.session.flush()
    return row


def delete_entry(freelancer: User, entry_id: Any, *, now: datetime | None = None) -> None:
    """Remove an entry of a week not yet submitted; flushes."""
    now = _now(now)
    contract, row = _own_entry(freelancer, entry_id)
    _check_week_open(contract, row.work_date, now)
    db.session.delete(row)
    db.session.flush()


def entries_of_week(contract: Contract, week_start: date) -> list[TimeEntry]:
    return list(
        db.session.scalars(
            sa.select(TimeEntry)
            .where(
                TimeEntry.contract_id == contract.id,
                TimeEntry.work_date >= week_start,
                TimeEntry.work_date < week_start + timedelta(days=7),
            )
            .order_by(TimeEntry.work_date, TimeEntry.started_at.nulls_last(), TimeEntry.id)
        )
    )


def entries_between(contract: Contract, first: date, last: date) -> list[TimeEntry]:
    """The contract's entries from ``first`` to ``last`` (local days, both included)."""
    return list(
        db.session.scalars(
            sa.select(TimeEntry)
            .where(
                TimeEntry.contract_id == contract.id,
                TimeEntry.work_date >= first,
                TimeEntry.work_date <= last,
            )
            .order_by(TimeEntry.work_date, TimeEntry.started_at.nulls_last(), TimeEntry.id)
        )
    )


def entries_of_timesheet(sheet: Timesheet) -> list[TimeEntry]:
    return list(
        db.session.scalars(
            sa.select(TimeEntry)
            .where(TimeEntry.timesheet_id == sheet.id)
            .order_by(TimeEntry.work_date, TimeEntry.started_at.nulls_last(), TimeEntry.id)
        )
    )


@dataclass(frozen=True)
class WeekView:
    week_start: date
    entries: list[TimeEntry]
    minutes_logged: int
    minutes_billable: int
    amount_minor: int
    terms: WeekTerms
    timesheet: Timesheet | None

    @property
    def over_cap_minutes(self) -> int:
        return self.minutes_logged - self.minutes_billable


def week_view(contract: Contract, week_start: date) -> WeekView:
    """A week's entries with its running figures (or its timesheet's, once closed)."""
    entries = entries_of_week(contract, week_start)
    sheet = db.session.scalar(
        sa.select(Timesheet).where(Timesheet.contract_id == contract.id, Timesheet.week_start == week_start)
    )
    terms = terms_for_week(contract, week_start)
    if sheet is not None:
        return WeekView(
            week_start,
            entries,
            sheet.minutes_logged,
            sheet.minutes_billable,
            sheet.amount_minor,
            WeekTerms(sheet.rate_minor, sheet.cap_hours),
            sheet,
        )
    logged = sum(e.minutes for e in entries)
    billable, amount = week_amount(logged, terms)
    return WeekView(week_start, entries, logged, billable, amount, terms, None)


# --------------------------------------------------------------------------- closing weeks


def _review_days() -> int:
    return orders.settings().timesheet_review_days


def close_week(
    contract_id: Any, week_start: date, *, now: datetime | None = None, final: bool = False
) -> Timesheet | None:
    """Close one week of a contract into a submitted timesheet (the Monday job, the CLI, the
    contract ending); flushes. Idempotent: a week already closed, or with no time, returns its
    timesheet or None. The week must be over (``final``: the contract ended mid-week). Every
    entry of the week not yet on a timesheet is frozen on it. Publishes ``timesheet.submitted``.
    """
    now = _now(now)
    contract = _hourly(contracts.lock(contract_id), "close a week")
    week_start = monday(week_start)
    existing = db.session.scalar(
        sa.select(Timesheet).where(Timesheet.contract_id == contract.id, Timesheet.week_start == week_start)
    )
    if existing is not None:
        return existing
    if not final and week_start >= current_week(contract, now):
        return None  # still running
    entries = [e for e in entries_of_week(contract, week_start) if e.timesheet_id is None]
    if not entries:
        return None
    terms = terms_for_week(contract, week_start)
    logged = sum(e.minutes for e in entries)
    billable, amount = week_amount(logged, terms)
    sheet = Timesheet(
        contract_id=contract.id,
        week_start=week_start,
        timezone=contract.terms.get("timezone") or "UTC",
        minutes_logged=logged,
        minutes_billable=billable,
        rate_minor=terms.rate_minor,
        cap_hours=terms.weekly_cap_hours,
        amount_minor=amount,
        currency=contract.currency,
        status="submitted",
        submitted_at=now,
        review_due_at=now + timedelta(days=_review_days()),
        final=final,
    )
    db.session.add(sheet)
    db.session.flush()
    db.session.execute(
        sa.update(TimeEntry).where(TimeEntry.id.in_([e.id for e in entries])).values(timesheet_id=sheet.id)
    )
    publish(
        "timesheet.submitted",
        {
            "timesheet_id": sheet.id,
            "contract_id": contract.id,
            "week_start": week_start.isoformat(),
            "minutes_billable": billable,
            "amount_minor": amount,
            "currency": contract.currency,
        },
    )
    return sheet


def weeks_to_close(now: datetime | None = None) -> list[tuple[int, date]]:
    """``(contract_id, week_start)`` of every finished week with time not yet on a timesheet."""
    now = _now(now)
    rows = db.session.execute(
        sa.select(TimeEntry.contract_id, TimeEntry.work_date)
        .where(TimeEntry.timesheet_id.is_(None), TimeEntry.work_date < monday(now.date() + timedelta(days=1)))
        .distinct()
    ).all()
    contracts_by_id = {
        c.id: c for c in db.session.scalars(sa.select(Contract).where(Contract.id.in_({r[0] for r in rows})))
    }
    due = set()
    for contract_id, day in rows:
        contract = contracts_by_id[contract_id]
        if monday(day) < current_week(contract, now):
            due.add((contract_id, monday(day)))
    return sorted(due)


# --------------------------------------------------------------------------- approval and billing


def _sheet_row(sheet_id: Any) -> Timesheet:
    sid = parse_id(sheet_id)
    row = db.session.get(Timesheet, sid) if sid else None
    if row is None:
        raise HourlyNotFound("No such timesheet.")
    return row


def _locked_sheet(sid: int) -> Timesheet:
    """The timesheet row-locked and read fresh (its contract is locked first, by the caller)."""
    return db.session.scalars(
        sa.select(Timesheet)
        .where(Timesheet.id == sid)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _lock_sheet(sheet_id: Any) -> tuple[Contract, Timesheet]:
    """The timesheet and its contract, both row-locked (the contract first), for jobs."""
    row = _sheet_row(sheet_id)
    return contracts.lock(row.contract_id), _locked_sheet(row.id)


def _sheet_for(user: User, sheet_id: Any, role: str | None = None) -> tuple[Contract, Timesheet]:
    """As ``_lock_sheet``, for a party of the contract (``role``: that party only)."""
    row = _sheet_row(sheet_id)
    contract = contracts.lock_for(user, row.contract_id, role)  # ContractNotFound for strangers
    return contract, _locked_sheet(row.id)


def get_timesheet(user: User, sheet_id: Any) -> tuple[Contract, Timesheet]:
    row = _sheet_row(sheet_id)
    return contracts.get_contract(user, row.contract_id), row


def _state_error(sheet: Timesheet, doing: str) -> HourlyStateError:
    return HourlyStateError(
        f"This timesheet is {status_label(sheet.status).lower()}: you cannot {doing}.",
        extra={"current_status": sheet.status},
    )


def _move(sheet: Timesheet, to: str, who: str, doing: str) -> None:
    if who not in TRANSITIONS.get((sheet.status, to), ()):
        raise _state_error(sheet, doing)
    sheet.status = to


def _week_title(sheet: Timesheet) -> str:
    hours, mins = divmod(sheet.minutes_billable, 60)
    return f"Week of {sheet.week_start:%d %b %Y}: {hours} h {mins:02d} min"


def _billing_milestone(contract: Contract, sheet: Timesheet, now: datetime):
    if sheet.milestone_id is None:
        m = engine.add_billed_milestone(
            contract.order_id,
            _week_title(sheet),
            sheet.amount_minor,
            description=(
                f"{sheet.minutes_billable} min at {money.format(sheet.rate_minor, sheet.currency)} an hour."
            ),
            now=now,
        )
        sheet.milestone_id = m.id
        db.session.flush()
        order = m.order  # locked and read by ``add_billed_milestone``, the new milestone appended
    else:
        order = orders.lock_order(contract.order_id)
    return order, next(m for m in order.milestones if m.id == sheet.milestone_id)


def _bill(contract: Contract, sheet: Timesheet, now: datetime) -> Timesheet:
    """Charge an approved timesheet and pay the freelancer, or record the failure and pause."""
    sheet.last_attempt_at = now
    if sheet.amount_minor == 0:  # a rate so low the week rounds to nothing: nothing to charge
        _move(sheet, "billed", "payments", "bill it")
        sheet.billed_at = now
        return sheet
    order, m = _billing_milestone(contract, sheet, now)
    result = billing.charge_saved(order, m)
    if result.outcome == "succeeded":
        return mark_billed(contract, sheet, now=now)
    if result.outcome == "pending":
        return sheet  # the provider's webhook funds it (``events``: escrow.funded -> mark_billed)
    _move(sheet, "payment_failed", "payments", "record the failed payment")
    sheet.failure_reason = (result.reason or "The charge failed.")[:255]
    publish(
        "timesheet.payment_failed",
        {"timesheet_id": sheet.id, "contract_id": contract.id, "reason": sheet.failure_reason},
    )
    if contract.paused_at is None:
        contract.paused_at, contract.pause_reason = now, "payment_failed"
        publish("contract.paused", {"contract_id": contract.id, "reason": "payment_failed"})
    db.session.flush()
    return sheet


def mark_billed(contract: Contract, sheet: Timesheet, *, now: datetime | None = None) -> Timesheet:
    """The week's charge is in escrow: release it to the freelancer (minus commission, through
    the engine) and mark the timesheet billed; resume a contract paused by failed payments once
    none is left; close the engagement of an ended contract once every week is settled.
    Idempotent (the charge's response and the provider's webhook may both report it).
    ``contract`` and ``sheet`` are locked by the caller (``_lock_sheet``, ``_sheet_for``)."""
    now = _now(now)
    if sheet.status == "billed":
        return sheet
    engine.release_billed(contract.order_id, sheet.milestone_id, now=now)
    if sheet.status == "payment_failed":
        sheet.status = "approved"
    _move(sheet, "billed", "dispute" if sheet.status == "disputed" else "payments", "bill it")
    sheet.billed_at = now
    sheet.failure_reason = None
    db.session.flush()
    publish(
        "timesheet.billed",
        {
            "timesheet_id": sheet.id,
            "contract_id": contract.id,
            "milestone_id": sheet.milestone_id,
            "amount_minor": sheet.amount_minor,
            "currency": sheet.currency,
        },
    )
    _resume_after_payment(contract, now)
    settle_if_ended(contract, now=now)
    return sheet


def _resume_after_payment(contract: Contract, now: datetime) -> None:
    if contract.pause_reason != "payment_failed":
        return
    failed = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Timesheet)
        .where(Timesheet.contract_id == contract.id, Timesheet.status == "payment_failed")
    )
    if not failed:
        contract.paused_at = contract.pause_reason = None
        publish("contract.resumed", {"contract_id": contract.id, "reason": "payment_received"})


def approve(client: User, sheet_id: Any, *, now: datetime | None = None) -> Timesheet:
    """The client approves a submitted timesheet: it is charged to their saved card and paid
    to the freelancer (or ``payment_failed``, the contract paused); flushes. Publishes
    ``timesheet.approved`` then ``timesheet.billed`` or ``timesheet.payment_failed``.
    Raises HourlyNotFound / ContractNotFound (strangers), ContractForbidden (the freelancer),
    HourlyStateError (not submitted)."""
    now = _now(now)
    contract, sheet = _sheet_for(client, sheet_id, "client")
    _move(sheet, "approved", "client", "approve it")
    # The charge below is this approval's attempt: recorded with it, one UPDATE of the sheet.
    sheet.approved_at, sheet.approved_by, sheet.last_attempt_at = now, client.id, now
    publish("timesheet.approved", {"timesheet_id": sheet.id, "contract_id": contract.id, "by": client.id})
    return _bill(contract, sheet, now)


def auto_approve(sheet_id: Any, *, now: datetime | None = None) -> Timesheet | None:
    """Approve a timesheet whose review period ran out (job); None when no longer due."""
    now = _now(now)
    contract, sheet = _lock_sheet(sheet_id)
    if sheet.status != "submitted" or sheet.review_due_at > now:
        return None
    _move(sheet, "approved", "job", "approve it")
    sheet.approved_at, sheet.approved_by, sheet.last_attempt_at = now, None, now  # as in ``approve``
    publish("timesheet.approved", {"timesheet_id": sheet.id, "contract_id": contract.id, "by": None})
    return _bill(contract, sheet, now)


def due_for_approval(now: datetime | None = None, limit: int = 500) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(Timesheet.id)
            .where(Timesheet.status == "submitted", Timesheet.review_due_at <= _now(now))
            .order_by(Timesheet.review_due_at, Timesheet.id)
            .limit(limit)
        )
    )


def retry_payment(client: User, sheet_id: Any, *, now: datetime | None = None) -> Timesheet:
    """The client pays a timesheet whose charge failed (after updating their card); flushes."""
    now = _now(now)
    contract, sheet = _sheet_for(client, sheet_id, "client")
    _move(sheet, "approved", "client", "pay it again")
    return _bill(contract, sheet, now)


def charge_for_dispute(client: User, sheet_id: Any, reason: Any, *, now: datetime | None = None):
    """The client disputes a submitted timesheet: the week is charged into escrow (held, not
    released) so the resolution centre decides over real money; flushes. Returns ``(contract,
    timesheet, order, milestone)`` for ``app.disputes`` to open its dispute on that milestone.
    Raises HourlyStateError (not submitted), HourlyError (no reason), or ``payment_failed``
    (the card was declined: nothing is recorded, the client updates the card and tries again)."""
    now = _now(now)
    errors: dict[str, str] = {}
    text = text_field(reason, "reason", errors, label="The reason", max_len=2000, required=True)
    if errors:
        raise HourlyError(errors)
    contract, sheet = _sheet_for(client, sheet_id, "client")
    if sheet.status != "submitted":
        raise _state_error(sheet, "dispute it")
    if sheet.amount_minor == 0:
        raise _state_error(sheet, "dispute a week that costs nothing")
    order, m = _billing_milestone(contract, sheet, now)
    result = billing.charge_saved(order, m)
    if result.outcome != "succeeded":
        raise HourlyStateError(
            f"The charge for this week failed: {(result.reason or 'try again').rstrip('.')}. Update "
            "your card, then open the dispute again.",
            extra={"current_status": sheet.status},
            code="payment_failed",
        )
    _move(sheet, "disputed", "client", "dispute it")
    sheet.dispute_reason = text
    publish("timesheet.disputed", {"timesheet_id": sheet.id, "contract_id": contract.id})
    db.session.flush()
    return contract, sheet, orders.lock_order(contract.order_id), m


def dispute_settled(milestone_id: int, *, now: datetime | None = None) -> Timesheet | None:
    """The resolution centre moved a disputed week's money: the timesheet is ``resolved``
    (the engine's milestone says how much went where). Idempotent."""
    sheet = db.session.scalar(sa.select(Timesheet).where(Timesheet.milestone_id == milestone_id))
    if sheet is None or sheet.status != "disputed":
        return sheet
    contract, sheet = _lock_sheet(sheet.id)
    if sheet.status != "disputed":
        return sheet
    _move(sheet, "resolved", "dispute", "settle it")
    db.session.flush()
    settle_if_ended(contract, now=now)
    return sheet


def dispute_dismissed(milestone_id: int, *, now: datetime | None = None) -> Timesheet | None:
    """A week's dispute was withdrawn or dismissed (its milestone is funded again): the week is
    paid as if approved (``mark_billed``). Idempotent."""
    sheet = db.session.scalar(sa.select(Timesheet).where(Timesheet.milestone_id == milestone_id))
    if sheet is None or sheet.status != "disputed":
        return sheet
    contract, sheet = _lock_sheet(sheet.id)
    if sheet.status != "disputed":
        return sheet
    return mark_billed(contract, sheet, now=now)


def funded_by_provider(milestone_id: int, *, now: datetime | None = None) -> Timesheet | None:
    """A week's charge confirmed later by the provider (Stripe's webhook): bill it."""
    sheet = db.session.scalar(sa.select(Timesheet).where(Timesheet.milestone_id == milestone_id))
    if sheet is None or sheet.status not in ("approved", "payment_failed"):
        return None
    return mark_billed(*_lock_sheet(sheet.id), now=now)


def timesheets_of(contract: Contract, *, limit: int = 60) -> list[Timesheet]:
    return list(
        db.session.scalars(
            sa.select(Timesheet)
            .where(Timesheet.contract_id == contract.id)
            .order_by(Timesheet.week_start.desc())
            .limit(limit)
        )
    )


def timesheets_to_review(client: User, *, limit: int = 50) -> list[Timesheet]:
    """Submitted timesheets waiting for ``client`` (the dashboard)."""
    return list(
        db.session.scalars(
            sa.select(Timesheet)
            .join(Contract, Contract.id == Timesheet.contract_id)
            .where(Contract.client_id == client.id, Timesheet.status.in_(("submitted", "payment_failed")))
            .order_by(Timesheet.review_due_at, Timesheet.id)
            .limit(limit)
        )
    )


# --------------------------------------------------------------------------- pause, resume, rate


def pause(user: User, contract_id: Any, *, now: datetime | None = None) -> Contract:
    """Either party pauses an active hourly contract (no time is logged until it resumes);
    flushes. Publishes ``contract.paused``."""
    now = _now(now)
    contract = _lock_contract(user, contract_id, doing="pause it")
    _working(contract, "pause it")
    contract.paused_at, contract.pause_reason = now, contract.party(user.id)
    publish("contract.paused", {"contract_id": contract.id, "reason": contract.pause_reason, "by": user.id})
    db.session.flush()
    return contract


def resume(user: User, contract_id: Any, *, now: datetime | None = None) -> Contract:
    """Resume a paused contract: the party who paused it, or the client; after a failed
    payment only by paying it (``retry_payment``). Publishes ``contract.resumed``."""
    contract = _lock_contract(user, contract_id, doing="resume it")
    if contract.status != "active" or contract.paused_at is None:
        raise HourlyStateError(
            f"Contract {contract.number} is not paused.", extra={"current_status": contract.status}
        )
    party = contract.party(user.id)
    if contract.pause_reason == "payment_failed":
        raise HourlyStateError(
            "This contract is paused because a weekly payment failed: pay that timesheet to resume.",
            extra={"current_status": "paused"},
            code="payment_failed",
        )
    if party != "client" and contract.pause_reason != party:
        raise HourlyStateError(
            "The client paused this contract: only the client can resume it.",
            extra={"current_status": "paused"},
        )
    contract.paused_at = contract.pause_reason = None
    publish("contract.resumed", {"contract_id": contract.id, "by": user.id})
    db.session.flush()
    return contract


def pending_rate_change(contract: Contract) -> RateChange | None:
    return db.session.scalar(
        sa.select(RateChange).where(RateChange.contract_id == contract.id, RateChange.status == "pending")
    )


def rate_changes_of(contract: Contract, *, limit: int = 100) -> list[RateChange]:
    """The contract's proposed rate and limit changes, newest first."""
    return list(
        db.session.scalars(
            sa.select(RateChange)
            .where(RateChange.contract_id == contract.id)
            .order_by(RateChange.id.desc())
            .limit(limit)
        )
    )


def propose_rate_change(
    user: User, contract_id: Any, data: dict, *, now: datetime | None = None
) -> RateChange:
    """A party proposes a new rate and/or weekly limit; the other accepts it (from the next
    week) or declines it. One pending at a time. Publishes ``contract.rate_change_proposed``."""
    now = _now(now)
    if not isinstance(data, dict):
        raise HourlyError({"rate_minor": "Give the new terms as an object."})
    contract = _lock_contract(user, contract_id, doing="change the rate")
    if contract.status != "active":
        _working(contract, "change the rate")
    current = terms_for_week(contract, current_week(contract, now) + timedelta(days=7))
    errors: dict[str, str] = {}
    rate = data.get("rate_minor", current.rate_minor)
    cap = data.get("weekly_cap_hours", current.weekly_cap_hours)
    rate = contracts.clean_rate(rate, "rate_minor", errors)
    cap = contracts.clean_cap(cap, "weekly_cap_hours", errors)
    note = text_field(data.get("note"), "note", errors, label="The note", max_len=1000)
    if not errors and (rate, cap) == (current.rate_minor, current.weekly_cap_hours):
        errors["rate_minor"] = "These are the current terms: change the rate or the weekly limit."
    if errors:
        raise HourlyError(errors)
    if pending_rate_change(contract) is not None:
        raise HourlyStateError(
            "A change is already waiting for an answer.", extra={"current_status": "pending"}
        )
    change = RateChange(
        contract_id=contract.id, proposed_by=user.id, rate_minor=rate, weekly_cap_hours=cap, note=note
    )
    db.session.add(change)
    db.session.flush()
    publish(
        "contract.rate_change_proposed", {"contract_id": contract.id, "change_id": change.id, "by": user.id}
    )
    return change


def answer_rate_change(
    user: User, contract_id: Any, accept: bool, *, now: datetime | None = None
) -> RateChange:
    """The other party accepts (it applies from next Monday) or declines the pending change;
    its proposer may withdraw it (``accept=False``). Publishes ``contract.rate_change_answered``."""
    now = _now(now)
    contract = _lock_contract(user, contract_id, doing="answer the change")
    change = pending_rate_change(contract)
    if change is None:
        raise HourlyStateError("No change is waiting for an answer.", extra={"current_status": "none"})
    own = change.proposed_by == user.id
    if own and accept:
        raise HourlyStateError(
            "The other party accepts your change; you can withdraw it.", extra={"current_status": "pending"}
        )
    change.status = "withdrawn" if own else ("accepted" if accept else "declined")
    change.responded_by, change.responded_at = user.id, now
    if change.status == "accepted":
        week = current_week(contract, now) + timedelta(days=7)
        change.effective_week = week
        terms = dict(contract.terms)
        terms["rate_history"] = [
            *[c for c in terms.get("rate_history") or [] if c["week"] != week.isoformat()],
            {
                "week": week.isoformat(),
                "rate_minor": change.rate_minor,
                "weekly_cap_hours": change.weekly_cap_hours,
            },
        ]
        contract.terms = terms
        contract.total_minor = max(contract.total_minor, change.rate_minor * change.weekly_cap_hours)
    db.session.flush()
    publish(
        "contract.rate_change_answered",
        {"contract_id": contract.id, "change_id": change.id, "status": change.status, "by": user.id},
    )
    return change


# --------------------------------------------------------------------------- ending


def end_hourly(contract: Contract, actor_id: int | None, now: datetime, by_operator: bool) -> str:
    """Ending an hourly contract (registered with contracts' ``end_contract``): every week with
    time not yet on a timesheet is closed now (the running one as a ``final`` timesheet) and
    goes through review and billing as usual; the engagement closes once every week is settled.
    Returns the contract's end status: completed when time was worked, else cancelled."""
    weeks = sorted(
        {
            monday(d)
            for d in db.session.scalars(
                sa.select(TimeEntry.work_date).where(
                    TimeEntry.contract_id == contract.id, TimeEntry.timesheet_id.is_(None)
                )
            )
        }
    )
    for week in weeks:
        close_week(contract.id, week, now=now, final=True)
    change = pending_rate_change(contract)
    if change is not None:
        change.status, change.responded_at = "withdrawn", now
    contract.paused_at = contract.pause_reason = None
    worked = db.session.scalar(
        sa.select(sa.func.count()).select_from(Timesheet).where(Timesheet.contract_id == contract.id)
    )
    # The contract's status changes after this returns; settle against the engagement alone.
    _close_engagement_if_settled(contract, actor_id, now)
    return "completed" if worked else "cancelled"


def _open_sheets(contract_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Timesheet)
        .where(Timesheet.contract_id == contract_id, Timesheet.status.in_(OPEN_TIMESHEET_STATUSES))
    )


def _close_engagement_if_settled(contract: Contract, actor_id: int | None, now: datetime) -> None:
    if contract.order_id is None or _open_sheets(contract.id):
        return
    engine.close_open_ended(contract.order_id, actor_id, now=now)


def settle_if_ended(contract: Contract, *, now: datetime | None = None) -> None:
    """Close the engagement of an ended hourly contract once its last week is settled."""
    if contract.status in ("completed", "cancelled"):
        _close_engagement_if_settled(contract, None, _now(now))


# --------------------------------------------------------------------------- reading


def week_summaries(contract: Contract, weeks: Iterable[date]) -> list[WeekView]:
    return [week_view(contract, w) for w in weeks]


def current_terms(contract: Contract, now: datetime | None = None) -> WeekTerms:
    return terms_for_week(contract, current_week(contract, _now(now)))
