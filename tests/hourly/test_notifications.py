"""Notifications of hourly contracts: a timesheet to review, approved (by the client or
automatically), billed and failed charges, pauses and resumes, rate changes; each told to the
right party once, linked to the contract's pages, and not told when no longer true."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from tests.contracts.conftest import user
from tests.hourly.conftest import T0


def at(days=0, hours=0):
    return T0 + timedelta(days=days, hours=hours)


def _bells(in_tenant, tenant, user_id):
    from app.notifications.kinds import KINDS
    from app.notifications.models import Notification
    from tenants.db import db

    with in_tenant(tenant):
        rows = db.session.scalars(
            sa.select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
        )
        return [(n.kind, n.data["text"], n.url) for n in rows if KINDS[n.kind].category == "hourly"]


def _week(in_tenant, h, minutes=90, approve=False, now=None):
    from app.hourly import services
    from tenants.db import db

    with in_tenant(h.tenant):
        services.log_time(
            user(h.ann), h.contract_id, {"work_date": "2026-03-04", "minutes": minutes}, now=at(3)
        )
        sheet = services.close_week(h.contract_id, date(2026, 3, 2), now=at(7, 1))
        db.session.commit()
        return sheet.id


def test_a_week_submitted_auto_approved_and_billed(acme, hourly_in, in_tenant, run_jobs):
    from app.hourly import services
    from tenants.db import db

    h = hourly_in(acme)
    run_jobs()
    base = {k: len(_bells(in_tenant, acme, uid)) for k, uid in (("c", h.client), ("a", h.ann))}
    sid = _week(in_tenant, h)
    run_jobs()
    (submitted,) = _bells(in_tenant, acme, h.client)[base["c"] :]
    kind, text, url = submitted
    assert kind == "timesheet_submitted"
    assert text.startswith("Ann Dev's timesheet for the week of 2 Mar: 1 h 30 min, ") and "67.50" in text
    assert "review by 14 Mar" in text and "approved automatically" in text
    assert url.startswith(f"/contracts/{h.contract_id}") or url == f"/timesheets/{sid}"
    with in_tenant(acme):
        services.auto_approve(sid, now=at(7 + 5, 2))
        db.session.commit()
    run_jobs()
    ann = [b[:2] for b in _bells(in_tenant, acme, h.ann)[base["a"] :]]
    assert [k for k, _ in ann] == ["timesheet_approved", "timesheet_billed"]
    assert "approved automatically" in ann[0][1] and "is paid to you" in ann[1][1]
    client = _bells(in_tenant, acme, h.client)[base["c"] :]
    assert [k for k, *_ in client] == ["timesheet_submitted", "timesheet_billed"]
    assert "was charged to your card" in client[1][1]

    # Handlers run twice (a retried job) tell once.
    from app.events.models import OutboxEvent
    from app.notifications import events as handlers

    with in_tenant(acme):
        for event in db.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.name.like("timesheet.%"))):
            {
                "timesheet.submitted": handlers.notify_timesheet_submitted,
                "timesheet.approved": handlers.notify_timesheet_approved,
                "timesheet.billed": handlers.notify_timesheet_billed,
            }[event.name](event)
        db.session.commit()
    assert len(_bells(in_tenant, acme, h.ann)) == base["a"] + 2
    assert len(_bells(in_tenant, acme, h.client)) == base["c"] + 2


def test_approved_by_the_client_is_said_so(acme, hourly_in, in_tenant, run_jobs):
    from app.hourly import services
    from tenants.db import db

    h = hourly_in(acme)
    sid = _week(in_tenant, h)
    with in_tenant(acme):
        services.approve(user(h.client), sid, now=at(8))
        db.session.commit()
    run_jobs()
    approved = [t for k, t, _ in _bells(in_tenant, acme, h.ann) if k == "timesheet_approved"]
    assert approved and "approved by Cleo Client" in approved[0]
    # Approved before the worker ran: the client is not asked to review it any more.
    assert not [k for k, *_ in _bells(in_tenant, acme, h.client) if k == "timesheet_submitted"]


def test_a_failed_charge_tells_both_and_the_payment_resumes(acme, hourly_in, in_tenant, run_jobs):
    from app.hourly import services
    from app.payments import billing
    from tenants.db import db

    h = hourly_in(acme, card="4000000000000002")
    sid = _week(in_tenant, h)
    with in_tenant(acme):
        services.approve(user(h.client), sid, now=at(8))
        db.session.commit()
    run_jobs()
    client = {k: t for k, t, _ in _bells(in_tenant, acme, h.client)}
    ann = {k: t for k, t, _ in _bells(in_tenant, acme, h.ann)}
    assert "update your card" in client["timesheet_payment_failed"]
    assert "paused until the client pays" in ann["timesheet_payment_failed"]
    assert "a weekly payment failed" in client["contract_paused"] and "contract_paused" in ann
    with in_tenant(acme):
        billing.save_sandbox_card(user(h.client), "4242424242424242", "12/30", "123", today=at(8).date())
        services.retry_payment(user(h.client), sid, now=at(8, 1))
        db.session.commit()
    run_jobs()
    for uid in (h.client, h.ann):
        kinds = [k for k, *_ in _bells(in_tenant, acme, uid)]
        assert "contract_resumed" in kinds and "timesheet_billed" in kinds
    resumed = [t for k, t, _ in _bells(in_tenant, acme, h.ann) if k == "contract_resumed"]
    assert "the failed payment was made" in resumed[0]


def test_pause_resume_and_rate_changes_tell_the_other_party(acme, hourly_in, in_tenant, run_jobs):
    from app.hourly import services
    from tenants.db import db

    h = hourly_in(acme)
    run_jobs()
    before = {uid: len(_bells(in_tenant, acme, uid)) for uid in (h.client, h.ann)}
    with in_tenant(acme):
        services.pause(user(h.ann), h.contract_id, now=at(1))
        services.resume(user(h.ann), h.contract_id, now=at(1, 1))
        db.session.commit()
        services.pause(user(h.client), h.contract_id, now=at(1, 2))
        db.session.commit()
    run_jobs()
    client = _bells(in_tenant, acme, h.client)[before[h.client] :]
    ann = _bells(in_tenant, acme, h.ann)[before[h.ann] :]
    # Ann's pause was lifted and the client paused before the worker ran: neither her pause nor
    # her resume is still true, so only the client's pause is told (to Ann).
    assert [k for k, *_ in client] == []
    assert [k for k, *_ in ann] == ["contract_paused"]
    assert ann[0][1] == (
        f"Cleo Client paused contract C-{h.contract_id} (“Backend work on the booking tool”): "
        "no time is logged until it resumes."
    )
    with in_tenant(acme):
        services.resume(user(h.client), h.contract_id, now=at(1, 3))
        services.propose_rate_change(user(h.ann), h.contract_id, {"rate_minor": 5000}, now=at(2))
        db.session.commit()
        services.answer_rate_change(user(h.client), h.contract_id, True, now=at(2, 1))
        db.session.commit()
    run_jobs()
    client = _bells(in_tenant, acme, h.client)[before[h.client] :]
    ann = _bells(in_tenant, acme, h.ann)[before[h.ann] + 1 :]
    # The proposal was answered before the worker ran: only the answer is told.
    assert [k for k, *_ in client] == []
    assert [k for k, *_ in ann] == ["contract_resumed", "contract_rate_change_answered"]
    assert "accepted the new terms" in ann[1][1] and "from the week of 9 Mar" in ann[1][1]
    with in_tenant(acme):
        services.propose_rate_change(user(h.client), h.contract_id, {"weekly_cap_hours": 20}, now=at(3))
        db.session.commit()
    run_jobs()
    (proposed,) = [t for k, t, _ in _bells(in_tenant, acme, h.ann) if k == "contract_rate_change_proposed"]
    assert "at most 20 h a week" in proposed and "50.00" in proposed


def test_every_hourly_kind_has_a_preference_and_renders(acme):
    from app.notifications.kinds import CATEGORIES, KINDS

    names = [
        "timesheet_submitted",
        "timesheet_approved",
        "timesheet_billed",
        "timesheet_payment_failed",
        "contract_paused",
        "contract_resumed",
        "contract_rate_change_proposed",
        "contract_rate_change_answered",
    ]
    assert ("hourly", "Hourly contracts and timesheets") in CATEGORIES
    for name in names:
        spec = KINDS[name]
        assert spec.category == "hourly" and spec.action_label and spec.default_email
        assert spec.render({"contract_id": 3}).strip()
