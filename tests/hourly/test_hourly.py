"""Hourly contracts: weeks in the contract's time zone (DST too), the weekly cap and rounding,
closing weeks, approval and auto-approval with billing on an injected clock, a failed charge
pausing the contract, ledger invariants, bad input, ending mid-week, tenants apart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.contracts.conftest import user
from tests.hourly.conftest import HOURLY, T0


def _models():
    from app.hourly import services
    from app.hourly.models import TimeEntry, Timesheet

    return services, Timesheet, TimeEntry


def at(days=0, hours=0):
    return T0 + timedelta(days=days, hours=hours)


# --------------------------------------------------------------------------- pure rules


def test_amount_rounds_half_to_even_once():
    from app.core import money

    assert money.time_amount(60, 4500) == 4500
    assert money.time_amount(1, 4500) == 75
    assert money.time_amount(1, 30) == 0  # 0.5 -> 0 (even)
    assert money.time_amount(3, 30) == 2  # 1.5 -> 2 (even)
    assert money.time_amount(5, 30) == 2  # 2.5 -> 2 (even)
    assert money.time_amount(7, 7) == 1  # 0.8166... -> 1
    with pytest.raises(ValueError):
        money.time_amount(-1, 10)


def test_week_bounds_follow_the_time_zone_across_dst(acme, hourly_in, in_tenant):
    h = hourly_in(acme)
    services, *_ = _models()
    from app.contracts.models import Contract
    from tenants.db import db

    with in_tenant(acme):
        c = db.session.get(Contract, h.contract_id)
        # Sunday 29 March 2026 23:30 UTC is Monday 01:30 in Berlin (CEST): a new week there.
        sunday_late = datetime(2026, 3, 29, 23, 30, tzinfo=UTC)
        assert services.current_week(c, sunday_late) == date(2026, 3, 30)
        start, end = services.week_bounds(c, date(2026, 3, 23))
        assert (end - start) == timedelta(hours=167)  # the week the clocks go forward
        start, end = services.week_bounds(c, date(2026, 10, 19))
        assert (end - start) == timedelta(hours=169)  # the week they go back
        # In New York the same instant is still Sunday evening: last week is running.
        terms = dict(c.terms, timezone="America/New_York")
        c.terms = terms
        assert services.current_week(c, sunday_late) == date(2026, 3, 23)
        db.session.rollback()


def test_timed_entry_minutes_across_the_dst_switch(acme, hourly_in, in_tenant):
    """01:30 to 03:30 on 29 March in Berlin is one real hour (02:00 does not exist)."""
    h = hourly_in(acme)
    services, *_ = _models()
    with in_tenant(acme):
        e = services.log_time(
            user(h.ann),
            h.contract_id,
            {"work_date": "2026-03-29", "start": "01:00", "end": "04:00"},
            now=datetime(2026, 3, 29, 12, tzinfo=UTC),
        )
        assert e.minutes == 120


# --------------------------------------------------------------------------- a week, end to end


def _log(h, day, minutes=None, start=None, end=None, now=None, **extra):
    services, *_ = _models()
    data = {"work_date": day, **extra}
    if minutes is not None:
        data["minutes"] = minutes
    if start:
        data |= {"start": start, "end": end}
    return services.log_time(user(h.ann), h.contract_id, data, now=now or at(6, 12))


def test_a_week_is_closed_capped_approved_billed_and_paid(acme, hourly_in, in_tenant):
    from app.contracts.models import Contract
    from app.hourly import tasks
    from app.ledger import services as ledger
    from app.orders.models import Order
    from tenants.db import db

    h = hourly_in(acme)
    services, Timesheet, TimeEntry = _models()
    with in_tenant(acme):
        _log(h, "2026-03-02", start="09:00", end="13:30")  # 270
        _log(h, "2026-03-03", minutes="4:15")  # 255
        _log(h, "2026-03-05", minutes=150, memo="Reviews")  # 150 -> 675 logged, cap 600
        db.session.commit()
        # Sunday night: the week is still running, nothing closes.
        assert tasks.run_due_in_tenant(datetime(2026, 3, 8, 22, 30, tzinfo=UTC)) == {
            "weeks_closed": 0,
            "timesheets_approved": 0,
        }
        monday = datetime(2026, 3, 9, 0, 30, tzinfo=UTC)  # 01:30 Monday in Berlin
        assert tasks.run_due_in_tenant(monday)["weeks_closed"] == 1
        sheet = db.session.scalars(sa.select(Timesheet)).one()
        figures = (sheet.week_start, sheet.minutes_logged, sheet.minutes_billable)
        assert figures == (date(2026, 3, 2), 675, 600)
        assert sheet.amount_minor == 45_000 and sheet.over_cap_minutes == 75
        assert sheet.status == "submitted" and sheet.review_due_at == monday + timedelta(days=5)
        # The entries are frozen now.
        entry = db.session.scalars(sa.select(TimeEntry)).first()
        with pytest.raises(services.HourlyStateError):
            services.edit_entry(user(h.ann), entry.id, {"memo": "changed"}, now=monday)
        db.session.rollback()
        # Running again closes nothing more.
        assert tasks.run_due_in_tenant(monday)["weeks_closed"] == 0
        # The review period runs out: approved and billed automatically.
        assert tasks.run_due_in_tenant(monday + timedelta(days=4, hours=23))["timesheets_approved"] == 0
        assert tasks.run_due_in_tenant(monday + timedelta(days=5))["timesheets_approved"] == 1
        sheet = db.session.get(Timesheet, sheet.id)
        assert sheet.status == "billed" and sheet.approved_by is None
        order = db.session.get(Order, h.order_id)
        (m,) = order.milestones
        assert m.status == "paid" and m.amount_minor == 45_000 and order.status == "in_progress"
        balances = ledger.seller_balances(h.ann, order.currency)
        assert sum(balances.values()) == 45_000 - 4_500  # 10% commission
        ledger.verify()
        c = db.session.get(Contract, h.contract_id)
        assert c.status == "active" and c.paused_at is None


def test_the_client_approves_and_a_declined_card_pauses_until_paid(acme, hourly_in, in_tenant):
    from app.contracts.models import Contract
    from app.events.models import OutboxEvent
    from app.payments import billing
    from tenants.db import db

    h = hourly_in(acme, card="4000000000000002")  # declines
    services, Timesheet, _ = _models()
    with in_tenant(acme):
        _log(h, "2026-03-04", minutes=90)
        db.session.commit()
        sheet = services.close_week(h.contract_id, date(2026, 3, 2), now=at(7, 1))
        db.session.commit()
        with pytest.raises(Exception) as refused:
            services.approve(user(h.ann), sheet.id, now=at(7, 2))  # the freelancer cannot
        assert refused.value.status == 403
        db.session.rollback()
        sheet = services.approve(user(h.client), sheet.id, now=at(7, 2))
        db.session.commit()
        assert sheet.status == "payment_failed" and "declined" in sheet.failure_reason
        c = db.session.get(Contract, h.contract_id)
        assert c.paused_at is not None and c.pause_reason == "payment_failed"
        kinds = {e.name for e in db.session.scalars(sa.select(OutboxEvent))}
        assert {"timesheet.approved", "timesheet.payment_failed", "contract.paused"} <= kinds
        # No time while paused; resuming by hand is refused until it is paid.
        with pytest.raises(services.HourlyStateError):
            _log(h, "2026-03-09", minutes=30, now=at(7, 5))
        db.session.rollback()
        with pytest.raises(services.HourlyStateError):
            services.resume(user(h.client), h.contract_id, now=at(7, 5))
        db.session.rollback()
        # A new card, a retry: billed, the contract resumes.
        billing.save_sandbox_card(user(h.client), "4242 4242 4242 4242", "12/30", "123", today=at(7).date())
        sheet = services.retry_payment(user(h.client), sheet.id, now=at(7, 6))
        db.session.commit()
        assert sheet.status == "billed" and sheet.amount_minor == 6_750
        c = db.session.get(Contract, h.contract_id)
        assert c.paused_at is None
        # Paid once: a second retry is refused.
        with pytest.raises(services.HourlyStateError):
            services.retry_payment(user(h.client), sheet.id, now=at(7, 7))
        db.session.rollback()


def test_no_saved_card_fails_the_charge(acme, hourly_in, in_tenant):
    from tenants.db import db

    h = hourly_in(acme, card=None)
    services, *_ = _models()
    with in_tenant(acme):
        _log(h, "2026-03-04", minutes=60)
        sheet = services.close_week(h.contract_id, date(2026, 3, 2), now=at(7, 1))
        sheet = services.approve(user(h.client), sheet.id, now=at(7, 2))
        assert sheet.status == "payment_failed" and "No saved card" in sheet.failure_reason
        db.session.rollback()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"work_date": "2026-03-09", "minutes": 30}, "work_date"),  # tomorrow (the future)
        ({"work_date": "2026-03-08", "start": "22:00", "end": "23:59"}, "end"),  # later today
        ({"work_date": "2026-03-04", "minutes": 0}, "minutes"),
        ({"work_date": "2026-03-04", "minutes": -30}, "minutes"),
        ({"work_date": "2026-03-04", "minutes": 1441}, "minutes"),
        ({"work_date": "2026-03-04", "minutes": "25:00"}, "minutes"),
        ({"work_date": "2026-03-04", "start": "14:00", "end": "13:00"}, "end"),
        ({"work_date": "2026-03-04", "start": "9am", "end": "13:00"}, "start"),
        ({"work_date": "04/03/2026", "minutes": 30}, "work_date"),
        ({"work_date": "2026-03-01", "minutes": 30}, "work_date"),  # before the contract started
        ({"work_date": "2026-03-04", "minutes": 30, "memo": "x" * 501}, "memo"),
        ({"work_date": "2026-03-04", "minutes": 30, "milestone_id": 99999}, "milestone_id"),
        ({"work_date": "2026-03-04", "minutes": 30, "task_id": 99999}, "task_id"),
        ({"work_date": "2026-03-04"}, "minutes"),
    ],
)
def test_bad_entries_are_refused_and_store_nothing(acme, hourly_in, in_tenant, data, field):
    from tenants.db import db

    h = hourly_in(acme)
    services, _, TimeEntry = _models()
    with in_tenant(acme):
        with pytest.raises(services.HourlyError) as refused:
            services.log_time(user(h.ann), h.contract_id, data, now=datetime(2026, 3, 8, 20, tzinfo=UTC))
        assert field in refused.value.errors, refused.value.errors
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TimeEntry)) == 0


def test_overlaps_and_over_24_hours_in_a_day_are_refused(acme, hourly_in, in_tenant):
    from tenants.db import db

    h = hourly_in(acme)
    services, *_ = _models()
    with in_tenant(acme):
        _log(h, "2026-03-04", start="09:00", end="12:00")
        for start, end in (("11:00", "13:00"), ("08:00", "09:30"), ("09:00", "12:00"), ("10:00", "11:00")):
            with pytest.raises(services.HourlyError) as refused:
                _log(h, "2026-03-04", start=start, end=end)
            assert "overlaps" in refused.value.errors["start"]
        _log(h, "2026-03-04", start="12:00", end="13:00")  # touching is fine
        _log(h, "2026-03-04", minutes=20 * 60)  # 24 h exactly
        with pytest.raises(services.HourlyError):
            _log(h, "2026-03-04", minutes=1)
        db.session.rollback()


def test_only_the_freelancer_logs_and_only_on_a_live_contract(acme, hourly_in, in_tenant, make_user):
    from app.contracts import services as contracts
    from tenants.db import db

    h = hourly_in(acme)
    stranger = make_user(acme, email="eve@acme.test", display_name="Eve")
    services, *_ = _models()
    data = {"work_date": "2026-03-04", "minutes": 30}
    now = at(6)
    with in_tenant(acme):
        with pytest.raises(contracts.ContractForbidden):
            services.log_time(user(h.client), h.contract_id, data, now=now)
        db.session.rollback()
        with pytest.raises(contracts.ContractNotFound):
            services.log_time(user(stranger), h.contract_id, data, now=now)
        db.session.rollback()
        services.pause(user(h.client), h.contract_id, now=now)
        with pytest.raises(services.HourlyStateError):
            services.log_time(user(h.ann), h.contract_id, data, now=now)
        with pytest.raises(services.HourlyStateError):  # the client paused: Ann cannot resume
            services.resume(user(h.ann), h.contract_id, now=now)
        services.resume(user(h.client), h.contract_id, now=now)
        services.log_time(user(h.ann), h.contract_id, data, now=now)
        contracts.end_contract(user(h.client), h.contract_id, "Project done", now=now)
        with pytest.raises(services.HourlyStateError):
            services.log_time(user(h.ann), h.contract_id, {**data, "work_date": "2026-03-05"}, now=now)
        db.session.rollback()


def test_a_fixed_contract_takes_no_time(acme, contract_in, in_tenant):
    from tenants.db import db

    h, contract_id, _order_id, _ids = contract_in(acme)
    services, *_ = _models()
    with in_tenant(acme):
        with pytest.raises(services.HourlyStateError) as refused:
            services.log_time(user(h.ann), contract_id, {"work_date": "2026-03-04", "minutes": 30})
        assert "milestone" in refused.value.message
        db.session.rollback()


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"rate_minor": 0}, "rate_minor"),
        ({"rate_minor": -100}, "rate_minor"),
        ({"rate_minor": "45"}, "rate_minor"),
        ({"rate_minor": 10**12}, "rate_minor"),
        ({"weekly_cap_hours": 0}, "weekly_cap_hours"),
        ({"weekly_cap_hours": 81}, "weekly_cap_hours"),
        ({"weekly_cap_hours": 7.5}, "weekly_cap_hours"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"payment_model": "daily"}, "payment_model"),
    ],
)
def test_bad_hourly_terms_are_refused(acme, hiring, in_tenant, terms, field):
    from app.contracts import services as contracts
    from app.contracts.models import Contract
    from tenants.db import db

    h = hiring(acme)
    with in_tenant(acme):
        with pytest.raises(contracts.ContractError) as refused:
            contracts.direct_offer(user(h.client), h.ann, {**HOURLY, **terms}, now=T0)
        assert field in refused.value.errors
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 0


# --------------------------------------------------------------------------- rate, ending, tenants


def test_a_rate_change_applies_from_the_next_week(acme, hourly_in, in_tenant):
    from tenants.db import db

    h = hourly_in(acme)
    services, *_ = _models()
    with in_tenant(acme):
        with pytest.raises(services.HourlyError):
            services.propose_rate_change(user(h.ann), h.contract_id, {"rate_minor": 0}, now=at(2))
        change = services.propose_rate_change(
            user(h.ann), h.contract_id, {"rate_minor": 6_000, "note": "New skills"}, now=at(2)
        )
        with pytest.raises(services.HourlyStateError):
            services.answer_rate_change(user(h.ann), h.contract_id, True, now=at(2))  # not her own
        services.answer_rate_change(user(h.client), h.contract_id, True, now=at(3))
        assert change.status == "accepted" and change.effective_week == date(2026, 3, 9)
        _log(h, "2026-03-06", minutes=60, now=at(4))
        _log(h, "2026-03-10", minutes=60, now=at(9))
        first = services.close_week(h.contract_id, date(2026, 3, 2), now=at(7, 1))
        second = services.close_week(h.contract_id, date(2026, 3, 9), now=at(14, 1))
        assert (first.rate_minor, first.amount_minor) == (4_500, 4_500)
        assert (second.rate_minor, second.amount_minor) == (6_000, 6_000)
        db.session.rollback()


def test_ending_mid_week_closes_a_final_timesheet_and_the_engagement_after_billing(
    acme, hourly_in, in_tenant
):
    from app.contracts import services as contracts
    from app.contracts.models import Contract
    from app.events.models import OutboxEvent
    from app.orders.models import Order
    from tenants.db import db

    h = hourly_in(acme)
    services, Timesheet, _ = _models()
    with in_tenant(acme):
        _log(h, "2026-03-03", minutes=120, now=at(2))
        contracts.end_contract(user(h.ann), h.contract_id, "Moving on", now=at(2, 5))
        db.session.commit()
        assert db.session.get(Contract, h.contract_id).status == "completed"
        sheet = db.session.scalars(sa.select(Timesheet)).one()
        assert sheet.final and sheet.status == "submitted" and sheet.minutes_billable == 120
        assert db.session.get(Order, h.order_id).status == "in_progress"  # waits for the last week
        services.approve(user(h.client), sheet.id, now=at(3))
        db.session.commit()
        order = db.session.get(Order, h.order_id)
        assert order.status == "completed" and order.total_minor == 9_000
        assert "order.completed" in {e.name for e in db.session.scalars(sa.select(OutboxEvent))}


def test_ending_with_no_time_cancels_the_engagement(acme, hourly_in, in_tenant):
    from app.contracts import services as contracts
    from app.contracts.models import Contract
    from app.orders.models import Order
    from tenants.db import db

    h = hourly_in(acme)
    with in_tenant(acme):
        contracts.end_contract(user(h.client), h.contract_id, "Not needed after all", now=at(1))
        db.session.commit()
        assert db.session.get(Contract, h.contract_id).status == "cancelled"
        assert db.session.get(Order, h.order_id).status == "cancelled"


def test_tenants_never_see_each_others_time(acme, globex, hourly_in, in_tenant):
    """Equal ids in two tenants: acme's people reach nothing of globex's, and the other way."""
    from app.contracts import services as contracts
    from tenants.db import db

    a = hourly_in(acme)
    g = hourly_in(globex)
    services, Timesheet, TimeEntry = _models()
    assert (a.contract_id, a.ann) == (g.contract_id, g.ann)  # the same ids
    with in_tenant(acme):
        entry = _log(a, "2026-03-04", minutes=60)
        sheet = services.close_week(a.contract_id, date(2026, 3, 2), now=at(7, 1))
        db.session.commit()
        entry_id, sheet_id = entry.id, sheet.id
    with in_tenant(globex):
        assert db.session.get(TimeEntry, entry_id) is None
        assert db.session.get(Timesheet, sheet_id) is None
        with pytest.raises(services.HourlyNotFound):
            services.approve(user(g.client), sheet_id, now=at(7, 2))
        with pytest.raises(services.HourlyNotFound):
            services.edit_entry(user(g.ann), entry_id, {"memo": "x"}, now=at(6))
        db.session.rollback()
    with in_tenant(acme):
        assert db.session.get(Timesheet, sheet_id).status == "submitted"
        assert contracts.get_contract(user(a.client), a.contract_id).payment_model == "hourly"
