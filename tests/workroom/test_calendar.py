"""The calendar: validation, timezones and DST, recurrence, the .ics feed, reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from app.events.models import OutboxEvent
from app.workroom import calendar
from app.workroom.models import WorkroomReminder
from app.workroom.services import WorkroomError
from tenants.db import db
from tests.workroom.conftest import DUE_1, DUE_2, user

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # a Monday


def event(r, **fields):
    data = {
        "title": "Stand-up",
        "kind": "standup",
        "starts_at": "2027-03-01T09:30",
        "ends_at": "2027-03-01T09:45",
        "timezone": "Europe/Paris",
        **fields,
    }
    return calendar.create_event(user(r.client), r.contract_id, data, now=NOW)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ends_at": "2027-03-01T09:00"}, "ends_at"),
        ({"ends_at": "2027-03-02T10:30"}, "ends_at"),  # 25 hours
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"recurrence": "hourly"}, "recurrence"),
        ({"recurrence": "daily", "repeat_until": "2027-02-01"}, "repeat_until"),
        ({"remind_minutes": 5000}, "remind_minutes"),
        ({"title": ""}, "title"),
        ({"kind": "party"}, "kind"),
        # 02:30 does not exist in Paris on 28 March 2027 (clocks go 02:00 -> 03:00).
        ({"starts_at": "2027-03-28T02:30", "ends_at": "2027-03-28T03:30"}, "starts_at"),
    ],
)
def test_bad_events_are_refused_with_the_field(acme, room, in_tenant, fields, field):
    r = room(acme)
    with in_tenant(acme):
        with pytest.raises(WorkroomError) as err:
            event(r, **fields)
        assert field in err.value.errors


def test_wall_clock_times_follow_the_events_timezone_across_dst(acme, room, in_tenant):
    r = room(acme)
    with in_tenant(acme):
        ev = event(r, recurrence="daily", repeat_until="2027-03-30")
        assert ev.starts_at == datetime(2027, 3, 1, 8, 30, tzinfo=UTC)  # 09:30 CET = 08:30 UTC
        starts = [
            s
            for s, _e in calendar.occurrences(
                ev, datetime(2027, 3, 26, tzinfo=UTC), datetime(2027, 3, 31, tzinfo=UTC)
            )
        ]
        # 09:30 in Paris every day: 08:30 UTC before the change on 28 March, 07:30 UTC after.
        assert starts == [
            datetime(2027, 3, 26, 8, 30, tzinfo=UTC),
            datetime(2027, 3, 27, 8, 30, tzinfo=UTC),
            datetime(2027, 3, 28, 7, 30, tzinfo=UTC),
            datetime(2027, 3, 29, 7, 30, tzinfo=UTC),
            datetime(2027, 3, 30, 7, 30, tzinfo=UTC),
        ]
        # An offset given explicitly is an instant, whatever the timezone.
        other = event(
            r, starts_at="2027-03-02T15:00+00:00", ends_at="2027-03-02T16:00+00:00", timezone="Asia/Tokyo"
        )
        assert other.starts_at == datetime(2027, 3, 2, 15, 0, tzinfo=UTC)


def test_weekdays_and_weekly_recurrence(acme, room, in_tenant):
    r = room(acme)
    with in_tenant(acme):
        weekdays = event(r, recurrence="weekdays")
        weekly = event(r, title="Review", kind="meeting", recurrence="weekly", repeat_until="2027-03-16")
        window = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 3, 15, tzinfo=UTC))
        days = [s.date() for s, _ in calendar.occurrences(weekdays, *window)]
        assert len(days) == 10 and all(d.weekday() < 5 for d in days)
        weeks = [
            s.date() for s, _ in calendar.occurrences(weekly, window[0], datetime(2027, 6, 1, tzinfo=UTC))
        ]
        assert weeks == [date(2027, 3, 1), date(2027, 3, 8), date(2027, 3, 15)]


def test_the_calendar_lists_milestone_due_dates(acme, room, in_tenant):
    r = room(acme)
    with in_tenant(acme):
        cleo = user(r.client)
        now = datetime.now(UTC)
        _contract, entries = calendar.upcoming(cleo, r.contract_id, now, now + timedelta(days=60))
        due = [e for e in entries if e.kind == "milestone"]
        assert [e.starts_at.date() for e in due] == [DUE_1, DUE_2]


def test_the_ics_feed_parses_and_holds_events_and_due_dates(acme, room, in_tenant, tenant_client):
    r = room(acme)
    with in_tenant(acme):
        event(r, recurrence="weekdays", repeat_until="2027-04-30", remind_minutes=10)
        event(
            r,
            title="Kick-off",
            kind="meeting",
            starts_at="2027-03-03T18:00",
            ends_at="2027-03-03T19:00",
            timezone="America/New_York",
        )
        db.session.commit()
        url = calendar.feed_url(user(r.ann), r.contract_id, external=False)
    response = tenant_client("acme").get(url)  # no session needed
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    cal = Calendar.from_ical(response.data)
    vevents = list(cal.walk("VEVENT"))
    summaries = {str(v["SUMMARY"]) for v in vevents}
    assert "Stand-up: Stand-up" in summaries and "Meeting: Kick-off" in summaries
    assert any(s.startswith("Milestone 1 due") for s in summaries)
    standup = next(v for v in vevents if str(v["SUMMARY"]) == "Stand-up: Stand-up")
    assert standup["DTSTART"].params["TZID"] == "Europe/Paris"
    assert standup["DTSTART"].dt.replace(tzinfo=None) == datetime(2027, 3, 1, 9, 30)
    assert standup["RRULE"]["FREQ"] == ["WEEKLY"] and standup["RRULE"]["BYDAY"] == [
        "MO",
        "TU",
        "WE",
        "TH",
        "FR",
    ]
    assert list(standup.walk("VALARM"))
    tzids = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    assert {"Europe/Paris", "America/New_York"} <= tzids
    due = next(v for v in vevents if str(v["SUMMARY"]).startswith("Milestone 1 due"))
    assert due["DTSTART"].dt == DUE_1


def test_feed_tokens_of_another_tenant_contract_or_user_are_refused(
    acme, globex, room, in_tenant, tenant_client
):
    a, g = room(acme), room(globex)
    with in_tenant(acme):
        good = calendar.feed_url(user(a.ann), a.contract_id, external=False)
        tid = calendar.current_tenant().id
        forged_contract = calendar.feed_token(tid, a.ann, a.contract_id + 1)
        stranger = calendar.feed_token(tid, a.bob, a.contract_id)
    assert tenant_client("acme").get(good).status_code == 200
    assert tenant_client("globex").get(good).status_code == 404  # another tenant's host
    for token in (forged_contract, stranger, good.rsplit("/", 1)[1][:-4] + "x"):
        assert tenant_client("acme").get(f"/calendar/{token}.ics").status_code == 404
    # No longer a party (the account closed): the feed is revoked.
    with in_tenant(acme):
        user(a.ann).status = "suspended"
        db.session.commit()
    assert tenant_client("acme").get(good).status_code == 404
    assert g.contract_id == a.contract_id


def test_reminders_go_out_once_per_occurrence(acme, room, in_tenant):
    r = room(acme)
    with in_tenant(acme):
        event(r, recurrence="daily", remind_minutes=15)  # 09:30 Paris = 08:30 UTC in March
        db.session.commit()
        assert calendar.send_due_reminders(datetime(2027, 3, 1, 8, 0, tzinfo=UTC)) == 0  # 30 min before
        assert calendar.send_due_reminders(datetime(2027, 3, 1, 8, 16, tzinfo=UTC)) == 1
        assert calendar.send_due_reminders(datetime(2027, 3, 1, 8, 20, tzinfo=UTC)) == 0  # same occurrence
        assert calendar.send_due_reminders(datetime(2027, 3, 2, 8, 15, tzinfo=UTC)) == 1  # the next day's
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkroomReminder)) == 2
        payloads = db.session.scalars(
            sa.select(OutboxEvent.payload).where(OutboxEvent.name == "calendar.reminder")
        ).all()
        assert [p["occurrence_start"] for p in payloads] == [
            "2027-03-01T08:30:00+00:00",
            "2027-03-02T08:30:00+00:00",
        ]
        assert set(payloads[0]["user_ids"]) == {r.client, r.ann}


def test_reminder_sweep_job_notifies_both_parties(acme, room, in_tenant, run_jobs):
    from app.notifications.models import Notification
    from app.workroom import tasks

    r = room(acme)
    soon = datetime.now(UTC) + timedelta(minutes=5)
    with in_tenant(acme):
        calendar.create_event(
            user(r.client),
            r.contract_id,
            {
                "title": "Demo",
                "starts_at": soon.isoformat(),
                "ends_at": (soon + timedelta(hours=1)).isoformat(),
                "timezone": "UTC",
                "remind_minutes": 10,
            },
        )
        db.session.commit()
        tenant_id = acme.id
    assert tasks.send_reminders(tenant_id) == 1
    assert tasks.send_reminders(tenant_id) == 0
    run_jobs()
    with in_tenant(acme):
        told = db.session.scalars(
            sa.select(Notification.user_id).where(Notification.kind == "calendar_reminder")
        ).all()
        assert sorted(told) == sorted([r.client, r.ann])
