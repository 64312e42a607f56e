"""The hourly REST API: time entries, the running week, timesheets (approve, retry with an
Idempotency-Key), pause/resume, rate changes, the saved card, hourly offers through the
contracts API; bad input (422 with field errors, nothing stored), 403/404/409, tenants apart.

The API runs on the real clock: the contract starts two weeks ago and time is logged on last
week's days (open until the week is closed), so the tests hold whatever day they run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.hourly.conftest import HOURLY

BERLIN = ZoneInfo("Europe/Berlin")


def _today():
    return datetime.now(UTC).astimezone(BERLIN).date()


def _monday(day):
    return day - timedelta(days=day.weekday())


LAST = _monday(_today()) - timedelta(days=7)  # last week's Monday in Berlin


def day(n: int) -> str:
    return (LAST + timedelta(days=n)).isoformat()


@pytest.fixture
def hourly(hourly_in, api_token):
    """An active hourly contract started two weeks ago, with API clients for everyone."""

    def make(tenant, card="4242424242424242"):
        h = hourly_in(tenant, card=card, now=datetime.now(UTC) - timedelta(days=14))
        for who in ("ann", "client", "bob"):
            client, headers = api_token(tenant, h.emails[who])
            setattr(h, f"{who}_api", client)
            setattr(h, f"{who}_h", headers)
        h.base = f"/api/v1/contracts/{h.contract_id}"
        return h

    return make


def _count(in_tenant, tenant, model_name):
    from app.hourly import models
    from tenants.db import db

    with in_tenant(tenant):
        return db.session.scalar(sa.select(sa.func.count()).select_from(getattr(models, model_name)))


def _close_last_week(in_tenant, h):
    from app.hourly import services
    from tenants.db import db

    with in_tenant(h.tenant):
        sheet = services.close_week(h.contract_id, LAST, now=datetime.now(UTC))
        db.session.commit()
        return sheet.id


def _field_errors(r):
    assert r.status_code == 422, r.json
    return r.json["errors"]["json"] if "json" in r.json["errors"] else r.json["errors"]["query"]


# --------------------------------------------------------------------------- happy paths


def test_time_entries_week_and_edits(acme, hourly):
    h = hourly(acme)
    ann, ah = h.ann_api, h.ann_h
    r = ann.post(
        f"{h.base}/time-entries",
        json={"work_date": day(0), "start": "09:00", "end": "12:30", "memo": "API"},
        headers=ah,
    )
    assert r.status_code == 201, r.json
    timed = r.json
    assert (timed["start"], timed["end"], timed["minutes"], timed["timesheet_id"]) == (
        "09:00",
        "12:30",
        210,
        None,
    )
    r = ann.post(f"{h.base}/time-entries", json={"work_date": day(1), "minutes": 450}, headers=ah)
    assert r.status_code == 201 and r.json["start"] is None
    plain = r.json

    listed = ann.get(f"{h.base}/time-entries?week={day(0)}", headers=ah)
    assert [e["id"] for e in listed.json] == [timed["id"], plain["id"]]
    ranged = h.client_api.get(f"{h.base}/time-entries?from={day(1)}&to={day(6)}", headers=h.client_h)
    assert [e["id"] for e in ranged.json] == [plain["id"]]  # the client reads them too
    assert ann.get(f"{h.base}/time-entries", headers=ah).json == []  # the running week: none yet

    week = ann.get(f"{h.base}/week?week={day(0)}", headers=ah).json
    assert week["minutes_logged"] == 660 and week["minutes_billable"] == 600  # cap 10 h
    assert week["over_cap"] is True and week["over_cap_minutes"] == 60
    assert week["amount_minor"] == 45_000 and week["terms"] == {"rate_minor": 4500, "weekly_cap_hours": 10}
    assert week["note"] == "Capped at 10 h: 1 h not billed." and week["timezone"] == "Europe/Berlin"
    running = ann.get(f"{h.base}/week", headers=ah).json
    assert running["week_start"] == (LAST + timedelta(days=7)).isoformat() and running["entries"] == []

    r = ann.patch(f"/api/v1/time-entries/{plain['id']}", json={"minutes": 120, "memo": "less"}, headers=ah)
    assert r.status_code == 200 and (r.json["minutes"], r.json["memo"]) == (120, "less")
    r = ann.patch(f"/api/v1/time-entries/{plain['id']}", json={"start": "13:00", "end": "14:00"}, headers=ah)
    assert r.status_code == 200 and r.json["minutes"] == 60 and r.json["start"] == "13:00"
    assert ann.delete(f"/api/v1/time-entries/{plain['id']}", headers=ah).status_code == 204
    assert ann.delete(f"/api/v1/time-entries/{plain['id']}", headers=ah).status_code == 404


def test_timesheet_approved_once_with_an_idempotency_key(acme, hourly, in_tenant):
    h = hourly(acme)
    h.ann_api.post(f"{h.base}/time-entries", json={"work_date": day(2), "minutes": 90}, headers=h.ann_h)
    # Before the week closes there is nothing to approve.
    assert h.client_api.get(f"{h.base}/timesheets", headers=h.client_h).json == []
    sid = _close_last_week(in_tenant, h)
    sheets = h.client_api.get(f"{h.base}/timesheets", headers=h.client_h).json
    assert [(s["id"], s["status"], s["amount_minor"]) for s in sheets] == [(sid, "submitted", 6750)]
    detail = h.ann_api.get(f"/api/v1/timesheets/{sid}", headers=h.ann_h).json
    assert [e["minutes"] for e in detail["entries"]] == [90] and detail["entries"][0]["timesheet_id"] == sid
    # Frozen: the entry can no longer change.
    eid = detail["entries"][0]["id"]
    r = h.ann_api.patch(f"/api/v1/time-entries/{eid}", json={"memo": "x"}, headers=h.ann_h)
    assert r.status_code == 409 and r.json["errors"]["current_status"] == "submitted"

    # The freelancer cannot approve.
    assert h.ann_api.post(f"/api/v1/timesheets/{sid}/approve", json={}, headers=h.ann_h).status_code == 403
    headers = {**h.client_h, "Idempotency-Key": "approve-week-1"}
    r = h.client_api.post(f"/api/v1/timesheets/{sid}/approve", json={}, headers=headers)
    assert r.status_code == 200, r.json
    assert (
        r.json["status"] == "billed"
        and r.json["approved_by"] == h.client
        and r.json["auto_approved"] is False
    )
    again = h.client_api.post(f"/api/v1/timesheets/{sid}/approve", json={}, headers=headers)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    r = h.client_api.post(f"/api/v1/timesheets/{sid}/approve", json={}, headers=h.client_h)
    assert r.status_code == 409 and r.json["errors"]["current_status"] == "billed"

    from app.ledger import services as ledger
    from app.payments.models import Payment
    from tenants.db import db

    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1  # charged once
        ledger.verify()


def test_a_declined_card_pauses_then_retry_after_a_new_card(acme, hourly, in_tenant):
    h = hourly(acme, card="4000000000000002")
    h.ann_api.post(f"{h.base}/time-entries", json={"work_date": day(2), "minutes": 60}, headers=h.ann_h)
    sid = _close_last_week(in_tenant, h)
    c, ch = h.client_api, h.client_h
    r = c.post(f"/api/v1/timesheets/{sid}/approve", json={}, headers=ch)
    assert (
        r.status_code == 200
        and r.json["status"] == "payment_failed"
        and "declined" in r.json["failure_reason"]
    )
    contract = c.get(h.base, headers=ch).json
    assert contract["pause_reason"] == "payment_failed" and contract["paused_at"]
    # No time while paused: 409 naming the status; resume by hand is refused.
    r = h.ann_api.post(f"{h.base}/time-entries", json={"work_date": day(3), "minutes": 30}, headers=h.ann_h)
    assert r.status_code == 409 and r.json["errors"]["current_status"] == "paused"
    r = c.post(f"{h.base}/resume", json={}, headers=ch)
    assert r.status_code == 409 and "pay that timesheet" in r.json["message"]
    # A good card, a retry: billed and resumed.
    r = c.put(
        "/api/v1/billing-method",
        json={"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123"},
        headers=ch,
    )
    assert r.status_code == 200 and r.json["last4"] == "4242"
    r = c.post(f"/api/v1/timesheets/{sid}/retry", json={}, headers={**ch, "Idempotency-Key": "retry-1"})
    assert r.status_code == 200 and r.json["status"] == "billed"
    assert c.get(h.base, headers=ch).json["paused_at"] is None
    r = c.post(f"/api/v1/timesheets/{sid}/retry", json={}, headers=ch)
    assert r.status_code == 409 and r.json["errors"]["current_status"] == "billed"


def test_pause_resume_and_rate_changes(acme, hourly):
    h = hourly(acme)
    a, ah, c, ch = h.ann_api, h.ann_h, h.client_api, h.client_h
    r = a.post(f"{h.base}/pause", json={}, headers=ah)
    assert r.status_code == 200 and r.json["pause_reason"] == "freelancer"
    r = a.post(f"{h.base}/pause", json={}, headers=ah)
    assert r.status_code == 409 and r.json["errors"]["current_status"] == "paused"
    assert c.post(f"{h.base}/resume", json={}, headers=ch).json["paused_at"] is None  # the client may
    r = c.post(f"{h.base}/resume", json={}, headers=ch)
    assert r.status_code == 409

    r = c.post(f"{h.base}/rate-changes", json={"rate_minor": 5000, "note": "More"}, headers=ch)
    assert r.status_code == 201 and (r.json["status"], r.json["weekly_cap_hours"]) == ("pending", 10)
    assert c.post(f"{h.base}/rate-changes", json={"weekly_cap_hours": 20}, headers=ch).status_code == 409
    assert c.post(f"{h.base}/rate-changes/answer", json={"accept": True}, headers=ch).status_code == 409
    r = a.post(f"{h.base}/rate-changes/answer", json={"accept": True}, headers=ah)
    assert r.status_code == 200 and r.json["status"] == "accepted"
    assert r.json["effective_week"] == (LAST + timedelta(days=14)).isoformat()
    assert [x["status"] for x in a.get(f"{h.base}/rate-changes", headers=ah).json] == ["accepted"]
    nxt = a.get(f"{h.base}/week?week={(LAST + timedelta(days=14)).isoformat()}", headers=ah).json
    assert nxt["terms"]["rate_minor"] == 5000
    assert a.get(f"{h.base}/week", headers=ah).json["terms"]["rate_minor"] == 4500
    terms = a.get(h.base, headers=ah).json["terms"]
    assert terms["rate_history"][0]["rate_minor"] == 5000 and terms["timezone"] == "Europe/Berlin"
    assert a.post(f"{h.base}/rate-changes/answer", json={"accept": False}, headers=ah).status_code == 409


def test_billing_method(acme, hourly):
    h = hourly(acme, card=None)
    c, ch = h.client_api, h.client_h
    assert c.get("/api/v1/billing-method", headers=ch).status_code == 404
    assert c.delete("/api/v1/billing-method", headers=ch).status_code == 404
    bad = c.put(
        "/api/v1/billing-method", json={"card_number": "1234", "expiry": "13/20", "cvc": "x"}, headers=ch
    )
    assert bad.status_code == 422 and {"card_number", "expiry", "cvc"} <= set(bad.json["errors"]["json"])
    assert c.get("/api/v1/billing-method", headers=ch).status_code == 404  # nothing stored
    r = c.put(
        "/api/v1/billing-method",
        json={"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"},
        headers=ch,
    )
    assert r.status_code == 200 and r.json["provider"] == "sandbox" and r.json["exp_year"] == 2039
    assert c.get("/api/v1/billing-method", headers=ch).json["last4"] == "4242"
    # The sandbox saves cards here: no Stripe setup.
    assert c.post("/api/v1/billing-method/stripe-setup", headers=ch).status_code == 409
    r = c.post("/api/v1/billing-method/stripe-complete", json={"setup_intent": "nope"}, headers=ch)
    assert r.status_code == 422
    assert c.delete("/api/v1/billing-method", headers=ch).status_code == 204
    assert c.get("/api/v1/billing-method", headers=ch).status_code == 404


def test_hourly_offers_through_the_contracts_api(acme, hiring, api_token, in_tenant):
    h = hiring(acme)
    c, ch = api_token(acme, h.emails["client"])
    offer = {k: v for k, v in HOURLY.items()} | {"freelancer_id": h.ann}
    r = c.post("/api/v1/contracts", json=offer, headers=ch)
    assert r.status_code == 201, r.json
    assert r.json["payment_model"] == "hourly" and r.json["total_minor"] == 45_000
    assert (r.json["terms"]["rate_minor"], r.json["terms"]["weekly_cap_hours"]) == (4500, 10)
    assert r.json["paused_at"] is None and r.json["pause_reason"] is None
    bad = c.post(
        "/api/v1/contracts",
        json=offer | {"rate_minor": 0, "weekly_cap_hours": 81, "timezone": "Mars/Olympus"},
        headers=ch,
    )
    errors = _field_errors(bad)
    assert {"rate_minor", "weekly_cap_hours", "timezone"} <= set(errors)
    assert "rate_minor" in _field_errors(
        c.post("/api/v1/contracts", json=offer | {"rate_minor": -5}, headers=ch)
    )
    assert "payment_model" in _field_errors(
        c.post("/api/v1/contracts", json=offer | {"payment_model": "daily"}, headers=ch)
    )
    r = c.post(
        f"/api/v1/proposals/{h.ann_proposal}/hire",
        json={k: v for k, v in offer.items() if k not in ("freelancer_id", "title")},
        headers=ch,
    )
    assert r.status_code == 201 and r.json["payment_model"] == "hourly", r.json

    from app.contracts.models import Contract
    from tenants.db import db

    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 2


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "body, field",
    [
        ({"work_date": "TOMORROW", "minutes": 30}, "work_date"),  # replaced below by tomorrow
        ({"work_date": "D0", "minutes": -5}, "minutes"),
        ({"work_date": "D0", "minutes": 0}, "minutes"),
        ({"work_date": "D0", "minutes": 1441}, "minutes"),
        ({"work_date": "D0", "minutes": 1.5}, "minutes"),
        ({"work_date": "D0", "minutes": "90"}, "minutes"),
        ({"work_date": "D0", "start": "10:00", "end": "09:00"}, "end"),
        ({"work_date": "D0", "start": "25:00", "end": "26:00"}, "start"),
        ({"work_date": "D0", "start": "10:30", "end": "11:30"}, "start"),  # overlaps 09:00-12:00
        ({"work_date": "D0", "minutes": 1300}, "minutes"),  # with the 180 logged: over 24 h that day
        ({"work_date": "2026-02-30", "minutes": 30}, "work_date"),
        ({"work_date": "D0", "minutes": 30, "colour": "red"}, "colour"),
        ({"work_date": "D0", "minutes": 30, "milestone_id": "one"}, "milestone_id"),
        ({"work_date": "D0", "minutes": 30, "milestone_id": 999999}, "milestone_id"),
        ({"work_date": "D0", "minutes": 30, "memo": "x" * 501}, "memo"),
        ({"work_date": "D0", "minutes": 30, "memo": "bad\x00"}, "memo"),
        ({"minutes": 30}, "work_date"),
        ({"work_date": "2000-01-03", "minutes": 30}, "work_date"),  # before the contract, and closed
    ],
)
def test_bad_entries_are_refused_and_nothing_is_stored(acme, hourly, in_tenant, body, field):
    h = hourly(acme)
    r = h.ann_api.post(
        f"{h.base}/time-entries",
        json={"work_date": day(0), "start": "09:00", "end": "12:00"},
        headers=h.ann_h,
    )
    assert r.status_code == 201
    tomorrow = (_today() + timedelta(days=1)).isoformat()
    body = {k: (day(0) if v == "D0" else tomorrow if v == "TOMORROW" else v) for k, v in body.items()}
    r = h.ann_api.post(f"{h.base}/time-entries", json=body, headers=h.ann_h)
    assert field in _field_errors(r)
    assert r.json["code"] == 422
    assert _count(in_tenant, acme, "TimeEntry") == 1


def test_bad_queries_and_rate_changes(acme, hourly, in_tenant):
    h = hourly(acme)
    a, ah = h.ann_api, h.ann_h
    assert "week" in _field_errors(a.get(f"{h.base}/time-entries?week={day(1)}", headers=ah))  # a Tuesday
    assert "to" in _field_errors(a.get(f"{h.base}/time-entries?from={day(3)}&to={day(1)}", headers=ah))
    assert "to" in _field_errors(a.get(f"{h.base}/time-entries?from={day(3)}", headers=ah))
    assert "week" in _field_errors(a.get(f"{h.base}/time-entries?week=soon", headers=ah))
    assert "week" in _field_errors(a.get(f"{h.base}/week?week={day(2)}", headers=ah))
    for body, field in (
        ({"rate_minor": 0}, "rate_minor"),
        ({"rate_minor": -100}, "rate_minor"),
        ({"rate_minor": "50"}, "rate_minor"),
        ({"weekly_cap_hours": 0}, "weekly_cap_hours"),
        ({"weekly_cap_hours": 81}, "weekly_cap_hours"),
        ({"rate_minor": 4500}, "rate_minor"),  # the current terms
        ({"rate_minor": 5000, "extra": 1}, "extra"),
    ):
        assert field in _field_errors(a.post(f"{h.base}/rate-changes", json=body, headers=ah)), body
    assert "accept" in _field_errors(
        a.post(f"{h.base}/rate-changes/answer", json={"accept": "maybe"}, headers=ah)
    )
    assert "accept" in _field_errors(a.post(f"{h.base}/rate-changes/answer", json={}, headers=ah))
    assert _count(in_tenant, acme, "RateChange") == 0
    # Ids that are not integers (or too large) name nothing.
    assert a.patch("/api/v1/time-entries/abc", json={}, headers=ah).status_code == 404
    assert a.get("/api/v1/timesheets/99999999999999999999", headers=ah).status_code == 404
    assert a.get("/api/v1/contracts/x/week", headers=ah).status_code == 404
    assert a.post("/api/v1/timesheets/12/approve", json={"x": 1}, headers=ah).status_code == 422


def test_strangers_the_client_and_other_contracts(acme, hourly, in_tenant):
    h = hourly(acme)
    eid = h.ann_api.post(
        f"{h.base}/time-entries", json={"work_date": day(0), "minutes": 60}, headers=h.ann_h
    ).json["id"]
    sid = _close_last_week(in_tenant, h)
    b, bh = h.bob_api, h.bob_h
    for method, path in (
        ("get", f"{h.base}/time-entries"),
        ("post", f"{h.base}/time-entries"),
        ("get", f"{h.base}/week"),
        ("get", f"{h.base}/timesheets"),
        ("get", f"/api/v1/timesheets/{sid}"),
        ("post", f"/api/v1/timesheets/{sid}/approve"),
        ("post", f"/api/v1/timesheets/{sid}/retry"),
        ("post", f"{h.base}/pause"),
        ("post", f"{h.base}/resume"),
        ("get", f"{h.base}/rate-changes"),
        ("patch", f"/api/v1/time-entries/{eid}"),
        ("delete", f"/api/v1/time-entries/{eid}"),
    ):
        kwargs = {
            "json": {"work_date": day(1), "minutes": 5} if "time-entries" in path and method == "post" else {}
        }
        if method in ("get", "delete"):
            kwargs = {}
        r = getattr(b, method)(path, headers=bh, **kwargs)
        assert r.status_code == 404, (method, path, r.status_code)
    # The client logs no time (403) and edits none of the freelancer's (404).
    r = h.client_api.post(
        f"{h.base}/time-entries", json={"work_date": day(1), "minutes": 5}, headers=h.client_h
    )
    assert r.status_code == 403
    assert (
        h.client_api.patch(f"/api/v1/time-entries/{eid}", json={"memo": "x"}, headers=h.client_h).status_code
        == 404
    )
    assert _count(in_tenant, acme, "TimeEntry") == 1


def test_ended_contracts_are_409(acme, hourly):
    h = hourly(acme)
    r = h.client_api.post(f"{h.base}/end", json={"reason": "Done"}, headers=h.client_h)
    assert r.status_code == 200, r.json
    r = h.ann_api.post(f"{h.base}/time-entries", json={"work_date": day(0), "minutes": 5}, headers=h.ann_h)
    assert r.status_code == 409 and r.json["errors"]["current_status"] in ("cancelled", "completed")
    assert h.ann_api.post(f"{h.base}/pause", json={}, headers=h.ann_h).status_code == 409


def test_tenants_apart(acme, globex, hourly, in_tenant):
    """Equal ids in both tenants: each token sees only its own tenant's contract and entries."""
    ha, hg = hourly(acme), hourly(globex)
    assert ha.contract_id == hg.contract_id  # same ids on both sides
    ea = ha.ann_api.post(
        f"{ha.base}/time-entries", json={"work_date": day(0), "minutes": 60}, headers=ha.ann_h
    ).json
    eg = hg.ann_api.post(
        f"{hg.base}/time-entries", json={"work_date": day(0), "minutes": 45}, headers=hg.ann_h
    ).json
    assert ea["id"] == eg["id"]
    assert [
        e["minutes"] for e in ha.ann_api.get(f"{ha.base}/time-entries?week={day(0)}", headers=ha.ann_h).json
    ] == [60]
    assert [
        e["minutes"] for e in hg.ann_api.get(f"{hg.base}/time-entries?week={day(0)}", headers=hg.ann_h).json
    ] == [45]
    # Acme's token on globex's host is refused outright.
    r = hg.ann_api.get(f"{hg.base}/time-entries", headers=ha.ann_h)
    assert r.status_code in (401, 404)
    assert hg.ann_api.delete(f"/api/v1/time-entries/{eg['id']}", headers=ha.ann_h).status_code in (401, 404)
    sa_id = _close_last_week(in_tenant, ha)
    assert hg.client_api.post(
        f"/api/v1/timesheets/{sa_id}/approve", json={}, headers=ha.client_h
    ).status_code in (401, 404)
    # Globex's week is untouched by acme's close.
    assert _count(in_tenant, globex, "Timesheet") == 0 and _count(in_tenant, globex, "TimeEntry") == 1


# Measured here 37 (the bench counts 36: the test tenant adds its host look-up); 41 before the
# engagement order, once locked, was kept for the transaction (the charge's confirmation and the
# release each read it and its milestones again); 54 before the approval stopped locking the
# contract twice, writing the sheet's attempt apart, re-reading the order it had just locked to
# add the week's milestone, locking the contract again to release it, and taking savepoints (the
# view's, the confirmation's and the ledger's two) although every refusal of the approval is
# raised (docs/design/performance.md, "The money path").
APPROVE_CEILING = 38


def test_approve_and_bill_stays_under_its_statement_ceiling(acme, hourly, in_tenant, app):
    from tests.helpers import counting_statements, statement_listing

    h = hourly(acme)
    h.ann_api.post(f"{h.base}/time-entries", json={"work_date": day(2), "minutes": 90}, headers=h.ann_h)
    sid = _close_last_week(in_tenant, h)
    with counting_statements(app) as statements:
        r = h.client_api.post(
            f"/api/v1/timesheets/{sid}/approve", json={}, headers={**h.client_h, "Idempotency-Key": "ceiling"}
        )
    assert r.status_code == 200 and r.json["status"] == "billed", r.json
    assert len(statements) <= APPROVE_CEILING, statement_listing(statements)
    # Its refusals are raised: no savepoint is paid for (view, confirmation or ledger).
    assert not any("SAVEPOINT" in s for s in statements), statement_listing(statements)
    # The contract is locked once (before, twice by the approval and again by the release).
    contract_reads = [s for s in statements if s.startswith("SELECT") and ".contracts.id," in s]
    assert len(contract_reads) == 2, statement_listing(statements)  # the lock, and the answer's read
    # The engagement order is read once: the week's milestone added, funded and released on it.
    order_reads = [s for s in statements if s.startswith("SELECT") and ".orders.id," in s]
    assert len(order_reads) == 1, statement_listing(statements)
