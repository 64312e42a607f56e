"""The workroom's calendar: meetings and stand-ups the parties add, the milestones' due dates
(read-only, from the engagement), a private ``.ics`` feed per user per contract, and reminders.

**Events.** ``starts_at`` / ``ends_at`` are given as ISO 8601: with an offset they are
instants; without one they are wall-clock times in the event's ``timezone`` (IANA, checked
with ``zoneinfo``); a wall-clock time that does not exist there (the hour skipped when clocks
go forward) is refused, an ambiguous one (the hour repeated) is its first occurrence. An event
lasts more than 0 and at most 24 hours. A recurring one (``daily``, ``weekdays``, ``weekly``)
repeats at the same wall-clock time in its timezone, up to ``repeat_until`` (a local date,
inclusive; at most ``MAX_REPEAT_DAYS`` after the start, None: no end).

**The feed.** ``feed_url(user, contract)`` is ``/calendar/<token>.ics`` where the token is
signed (itsdangerous, the app's secret key) over ``[tenant, user, contract]``: it needs no
session, cannot be guessed, and is refused (404) on another tenant's host, and once the user
is no longer an active party of the contract (or the workroom never opened).

**Reminders.** ``send_due_reminders(now)`` (the ``workroom-reminders`` job, enqueued per tenant
by the sweep in ``app/workroom/tasks.py``) finds the occurrences of events with
``remind_minutes`` whose reminder time has come (``start - remind_minutes <= now <= start +
GRACE``) on live contracts, records each in ``workroom_reminders`` (unique per event and
occurrence: once only, however often the sweep runs) and publishes ``calendar.reminder``
``{"contract_id", "event_id", "occurrence_start" (ISO, UTC), "title", "user_ids"}``;
notifications tells both parties.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.dialects.postgresql import insert

from app.accounts.models import User
from app.contracts.models import Contract
from app.core.domain_errors import NotFound
from app.core.ids import parse_id
from app.core.text import text_field
from app.core.urls import path_for, tenant_url
from app.events import publish
from app.workroom import services
from app.workroom.models import EVENT_KINDS, RECURRENCES, WorkroomEvent, WorkroomReminder
from app.workroom.services import WorkroomError
from tenants.db import current_tenant, db

TITLE_MAX = 200
MAX_LENGTH = timedelta(hours=24)
MAX_REPEAT_DAYS = 366
MAX_AHEAD = timedelta(days=2 * 366)
MAX_BEHIND = timedelta(days=366)
MAX_OCCURRENCES = 1000  # per event and window
MAX_EVENTS = 300  # per contract
GRACE = timedelta(minutes=10)  # a late sweep still reminds of an occurrence that just began
_FEED_SALT = "gigforge.workroom.ics-feed.v1"
KIND_LABELS = {"meeting": "Meeting", "standup": "Stand-up", "milestone": "Milestone due"}
RECURRENCE_LABELS = {
    "none": "Once",
    "daily": "Every day",
    "weekdays": "Every weekday",
    "weekly": "Every week",
}


class EventNotFound(NotFound):
    code = "event_not_found"


@dataclass(frozen=True)
class Occurrence:
    """One entry of the calendar: an event's occurrence or a milestone's due date."""

    kind: str  # meeting | standup | milestone
    title: str
    starts_at: datetime  # UTC
    ends_at: datetime
    timezone: str
    event_id: int | None = None
    milestone_id: int | None = None
    all_day: bool = False
    recurrence: str = "none"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name or len(name) > 64 or name not in _zones():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def timezone_names() -> list[str]:
    return sorted(_zones())


def _instant(value: Any, field: str, tz: ZoneInfo | None, errors: dict) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            errors[field] = "Give a date and time as YYYY-MM-DDTHH:MM."
            return None
    else:
        errors[field] = "Give a date and time as YYYY-MM-DDTHH:MM."
        return None
    if parsed.tzinfo is None:
        if tz is None:
            return None  # the timezone's own error says it
        local = parsed.replace(tzinfo=tz)
        back = local.astimezone(UTC).astimezone(tz)
        if back.replace(tzinfo=None) != parsed:
            errors[field] = f"{parsed:%Y-%m-%d %H:%M} does not exist in {tz.key} (the clocks change then)."
            return None
        parsed = local
    if not 1970 <= parsed.year <= 2200:
        errors[field] = "The date is out of range."
        return None
    return parsed.astimezone(UTC)


def _clean(data: dict, *, current: WorkroomEvent | None, now: datetime) -> dict:
    """The event's fields (merged over ``current`` for an edit), or WorkroomError."""
    if not isinstance(data, dict):
        raise WorkroomError({"title": "Give the event as an object."})
    errors: dict[str, str] = {}

    def given(name):
        return name in data if current is not None else True

    out: dict[str, Any] = {}
    if given("title"):
        out["title"] = text_field(
            data.get("title"), "title", errors, label="The title", max_len=TITLE_MAX, required=True
        )
    if given("kind"):
        kind = data.get("kind") or "meeting"
        if kind not in EVENT_KINDS:
            errors["kind"] = "The kind is meeting or standup."
        out["kind"] = kind
    tz_name = data.get("timezone") if given("timezone") else current.timezone
    tz = zone(tz_name)
    if tz is None:
        errors["timezone"] = "Choose a timezone such as Europe/Paris or America/New_York."
    out["timezone"] = tz_name
    retime = current is None or any(k in data for k in ("starts_at", "ends_at", "timezone"))
    if retime:
        if current is not None and "starts_at" not in data and tz is not None:
            starts = current.starts_at
        else:
            starts = _instant(data.get("starts_at"), "starts_at", tz, errors)
        if current is not None and "ends_at" not in data and starts is not None:
            ends = starts + (current.ends_at - current.starts_at)
        else:
            ends = _instant(data.get("ends_at"), "ends_at", tz, errors)
        if starts is not None and ends is not None:
            if ends <= starts:
                errors["ends_at"] = "The event ends after it starts."
            elif ends - starts > MAX_LENGTH:
                errors["ends_at"] = "An event lasts at most 24 hours."
            if starts > now + MAX_AHEAD:
                errors["starts_at"] = "The event is more than two years away."
            elif starts < now - MAX_BEHIND:
                errors["starts_at"] = "The event is more than a year ago."
        out["starts_at"], out["ends_at"] = starts, ends
    if given("recurrence"):
        recurrence = data.get("recurrence") or "none"
        if recurrence not in RECURRENCES:
            errors["recurrence"] = "Repeat: none, daily, weekdays or weekly."
        out["recurrence"] = recurrence
    recurrence = out.get("recurrence", current.recurrence if current else "none")
    if given("repeat_until"):
        raw = data.get("repeat_until")
        until = None
        if raw not in (None, ""):
            try:
                until = (
                    raw
                    if isinstance(raw, date) and not isinstance(raw, datetime)
                    else date.fromisoformat(str(raw))
                )
            except ValueError:
                errors["repeat_until"] = "Give the last day as YYYY-MM-DD."
        out["repeat_until"] = until
    until = out.get("repeat_until", current.repeat_until if current else None)
    starts = out.get("starts_at") or (current.starts_at if current else None)
    if recurrence == "none":
        out["repeat_until"] = None
    elif until is not None and starts is not None and tz is not None and "repeat_until" not in errors:
        first_day = starts.astimezone(tz).date()
        if until < first_day:
            errors["repeat_until"] = "The last day is before the first occurrence."
        elif until > first_day + timedelta(days=MAX_REPEAT_DAYS):
            errors["repeat_until"] = "Repeat for at most a year."
    if given("remind_minutes"):
        remind = data.get("remind_minutes")
        if remind in ("", None):
            remind = None
        elif isinstance(remind, str) and remind.strip().isdigit():
            remind = int(remind.strip())
        if remind is not None and (
            isinstance(remind, bool) or not isinstance(remind, int) or not 0 <= remind <= 1440
        ):
            errors["remind_minutes"] = "Remind 0 to 1440 minutes before (or not at all)."
        out["remind_minutes"] = remind
    if errors:
        raise WorkroomError(errors)
    return out


def _get(contract: Contract, event_id: Any) -> WorkroomEvent:
    eid = parse_id(event_id)
    event = db.session.get(WorkroomEvent, eid) if eid else None
    if event is None or event.contract_id != contract.id:
        raise EventNotFound("This event does not exist.")
    return event


def get_event(user: User, contract_id: Any, event_id: Any) -> WorkroomEvent:
    return _get(services.open_workroom(user, contract_id), event_id)


def create_event(user: User, contract_id: Any, data: dict, *, now: datetime | None = None) -> WorkroomEvent:
    """Add a meeting or stand-up; flushes. Publishes ``calendar.event_created``. Raises
    WorkroomError (field errors), ContractNotFound, WorkroomClosed."""
    now = _now(now)
    contract = services.lock_workroom(user, contract_id, "add events")
    fields = _clean(data, current=None, now=now)
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(WorkroomEvent).where(WorkroomEvent.contract_id == contract.id)
    )
    if count >= MAX_EVENTS:
        raise WorkroomError({"title": f"A contract has at most {MAX_EVENTS} events: delete old ones first."})
    event = WorkroomEvent(
        contract_id=contract.id, created_by=user.id, created_at=now, updated_at=now, **fields
    )
    db.session.add(event)
    db.session.flush()
    publish("calendar.event_created", {"contract_id": contract.id, "event_id": event.id, "actor_id": user.id})
    return event


def update_event(
    user: User, contract_id: Any, event_id: Any, data: dict, *, now: datetime | None = None
) -> WorkroomEvent:
    """Change an event (only the fields given); flushes. Raises as ``create_event`` and
    EventNotFound."""
    now = _now(now)
    contract = services.lock_workroom(user, contract_id, "edit events")
    event = _get(contract, event_id)
    for name, value in _clean(data, current=event, now=now).items():
        setattr(event, name, value)
    event.updated_at = now
    db.session.flush()
    return event


def delete_event(user: User, contract_id: Any, event_id: Any) -> None:
    """Delete an event (either party); flushes."""
    contract = services.lock_workroom(user, contract_id, "delete events")
    db.session.delete(_get(contract, event_id))
    db.session.flush()


# --------------------------------------------------------------------------- occurrences


def occurrences(event: WorkroomEvent, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """``(starts_at, ends_at)`` in UTC of the event's occurrences that overlap [start, end)."""
    length = event.ends_at - event.starts_at
    if event.recurrence == "none":
        if event.starts_at < end and event.ends_at > start:
            yield event.starts_at, event.ends_at
        return
    tz = zone(event.timezone) or UTC
    first = event.starts_at.astimezone(tz)
    wall = first.time().replace(tzinfo=None)
    day = max(first.date(), (start - length).astimezone(tz).date() - timedelta(days=1))
    if event.recurrence == "weekly":  # stay on the first occurrence's weekday
        day += timedelta(days=(first.weekday() - day.weekday()) % 7)
    step = timedelta(days=7 if event.recurrence == "weekly" else 1)
    last_day = event.repeat_until
    for _ in range(MAX_OCCURRENCES * 2):
        if last_day is not None and day > last_day:
            return
        if event.recurrence == "weekdays" and day.weekday() >= 5:
            day += step
            continue
        begins = datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)
        if begins >= end:
            return
        if begins + length > start:
            yield begins, begins + length
        day += step


def calendar_entries(contract: Contract, start: datetime, end: datetime) -> list[Occurrence]:
    """Every entry of the contract's calendar in [start, end), in time order: the events'
    occurrences and the milestones' due dates."""
    entries: list[Occurrence] = []
    events = db.session.scalars(
        sa.select(WorkroomEvent).where(
            WorkroomEvent.contract_id == contract.id,
            WorkroomEvent.starts_at < end,
        )
    )
    for event in events:
        for begins, ends in occurrences(event, start, end):
            entries.append(
                Occurrence(
                    event.kind,
                    event.title,
                    begins,
                    ends,
                    event.timezone,
                    event_id=event.id,
                    recurrence=event.recurrence,
                )
            )
            if len(entries) > MAX_OCCURRENCES:
                break
    for m in services.milestones_of(contract):
        if m.due_at is not None and start <= m.due_at < end:
            entries.append(
                Occurrence(
                    "milestone",
                    f"Milestone {m.seq} due: {m.title}",
                    m.due_at,
                    m.due_at,
                    "UTC",
                    milestone_id=m.id,
                    all_day=True,
                )
            )
    entries.sort(key=lambda e: (e.starts_at, e.kind != "milestone", e.title))
    return entries[:MAX_OCCURRENCES]


def upcoming(
    user: User, contract_id: Any, start: datetime, end: datetime
) -> tuple[Contract, list[Occurrence]]:
    contract = services.open_workroom(user, contract_id)
    return contract, calendar_entries(contract, start, end)


def list_events(user: User, contract_id: Any) -> list[WorkroomEvent]:
    contract = services.open_workroom(user, contract_id)
    return list(
        db.session.scalars(
            sa.select(WorkroomEvent)
            .where(WorkroomEvent.contract_id == contract.id)
            .order_by(WorkroomEvent.starts_at, WorkroomEvent.id)
        )
    )


# --------------------------------------------------------------------------- the .ics feed


def _feed_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_FEED_SALT)


def feed_token(tenant_id: int, user_id: int, contract_id: int) -> str:
    return _feed_serializer().dumps([int(tenant_id), int(user_id), int(contract_id)])


def feed_url(user: User, contract_id: Any, *, external: bool = True) -> str:
    """The private feed URL of ``user`` (a party) for the contract's calendar."""
    contract = services.open_workroom(user, contract_id)
    tenant = current_tenant()
    token = feed_token(tenant.id, user.id, contract.id)
    if external:  # on the marketplace's primary host, also outside a request (the API, emails)
        return tenant_url(tenant, "workroom.ics_feed", token=token)
    return path_for("workroom.ics_feed", token=token)


def read_feed_token(token: str) -> tuple[User, Contract] | None:
    """The user and contract of a feed token for the bound tenant; None when forged, another
    tenant's, or the user is no longer an active party of an opened workroom."""
    try:
        payload = _feed_serializer().loads(token)
    except BadSignature:
        return None
    if not (isinstance(payload, list) and len(payload) == 3 and all(type(x) is int for x in payload)):
        return None
    tenant_id, user_id, contract_id = payload
    if tenant_id != current_tenant().id:
        return None
    user = db.session.get(User, user_id)
    contract = db.session.get(Contract, contract_id)
    if user is None or not user.is_active or contract is None:
        return None
    if contract.party(user.id) is None or contract.order_id is None:
        return None
    return user, contract


_RRULE = {
    "daily": {"FREQ": "DAILY"},
    "weekdays": {"FREQ": "WEEKLY", "BYDAY": ["MO", "TU", "WE", "TH", "FR"]},
    "weekly": {"FREQ": "WEEKLY"},
}


def ics_feed(contract: Contract, *, host: str, now: datetime | None = None) -> bytes:
    """The contract's calendar as iCalendar: its events (RRULE for recurring ones, local
    DTSTART/DTEND with TZID and a VTIMEZONE per zone, a VALARM when reminded) and the
    milestones' due dates as all-day entries."""
    from icalendar import Alarm, Calendar, Event

    now = _now(now)
    cal = Calendar()
    cal.add("prodid", "-//Gigforge//Workroom calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"{contract.title[:80]} ({contract.number})")
    events = db.session.scalars(
        sa.select(WorkroomEvent).where(WorkroomEvent.contract_id == contract.id).order_by(WorkroomEvent.id)
    )
    for row in events:
        tz = zone(row.timezone) or ZoneInfo("UTC")
        item = Event()
        item.add("uid", f"workroom-event-{row.id}@{host}")
        item.add("dtstamp", now)
        item.add("summary", f"{KIND_LABELS[row.kind]}: {row.title}")
        item.add("dtstart", row.starts_at.astimezone(tz))
        item.add("dtend", row.ends_at.astimezone(tz))
        item.add("categories", [KIND_LABELS[row.kind]])
        if row.recurrence in _RRULE:
            rule = dict(_RRULE[row.recurrence])
            if row.repeat_until is not None:
                last = datetime.combine(row.repeat_until, time(23, 59, 59), tzinfo=tz)
                rule["UNTIL"] = last.astimezone(UTC)
            item.add("rrule", rule)
        if row.remind_minutes is not None:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", row.title)
            alarm.add("trigger", timedelta(minutes=-row.remind_minutes))
            item.add_component(alarm)
        cal.add_component(item)
    for m in services.milestones_of(contract):
        if m.due_at is None:
            continue
        item = Event()
        item.add("uid", f"workroom-milestone-{m.id}@{host}")
        item.add("dtstamp", now)
        item.add("summary", f"Milestone {m.seq} due: {m.title}")
        day = m.due_at.astimezone(UTC).date()
        item.add("dtstart", day)
        item.add("dtend", day + timedelta(days=1))
        item.add("categories", [KIND_LABELS["milestone"]])
        cal.add_component(item)
    cal.add_missing_timezones()
    return cal.to_ical()


# --------------------------------------------------------------------------- reminders


def reminder_candidates(now: datetime) -> list[WorkroomEvent]:
    """Events of live contracts that may have an occurrence to remind of now."""
    horizon = now + timedelta(minutes=1440)
    return list(
        db.session.scalars(
            sa.select(WorkroomEvent)
            .join(Contract, Contract.id == WorkroomEvent.contract_id)
            .where(
                WorkroomEvent.remind_minutes.is_not(None),
                WorkroomEvent.starts_at <= horizon,
                Contract.status.in_(services.WRITABLE),
                sa.or_(
                    sa.and_(WorkroomEvent.recurrence == "none", WorkroomEvent.starts_at >= now - GRACE),
                    sa.and_(
                        WorkroomEvent.recurrence != "none",
                        sa.or_(
                            WorkroomEvent.repeat_until.is_(None),
                            WorkroomEvent.repeat_until >= (now - timedelta(days=1)).date(),
                        ),
                    ),
                ),
            )
            .order_by(WorkroomEvent.id)
        )
    )


def send_due_reminders(now: datetime | None = None) -> int:
    """Remind both parties of every occurrence whose reminder time has come, once each
    (flushes; the job commits). Returns how many reminders were published."""
    now = _now(now)
    sent = 0
    for event in reminder_candidates(now):
        notice = timedelta(minutes=event.remind_minutes)
        for begins, _ends in occurrences(event, now - GRACE, now + notice + timedelta(seconds=1)):
            if not (begins - notice <= now <= begins + GRACE):
                continue
            inserted = db.session.execute(
                insert(WorkroomReminder)
                .values(event_id=event.id, occurrence_start=begins, sent_at=now)
                .on_conflict_do_nothing(index_elements=["event_id", "occurrence_start"])
                .returning(WorkroomReminder.id)
            ).scalar()
            if inserted is None:
                continue
            contract = db.session.get(Contract, event.contract_id)
            publish(
                "calendar.reminder",
                {
                    "contract_id": contract.id,
                    "event_id": event.id,
                    "occurrence_start": begins.isoformat(),
                    "title": event.title,
                    "timezone": event.timezone,
                    "user_ids": [contract.client_id, contract.freelancer_id],
                },
            )
            sent += 1
    db.session.flush()
    return sent
