"""A disputed hourly week: charged into escrow and held, then the resolution centre decides;
withdrawn, the week is paid; a declined card opens nothing; tenants apart."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from tests.contracts.conftest import user
from tests.hourly.conftest import T0
from tests.hourly.test_hourly import _log, at


@pytest.fixture
def submitted(hourly_in, in_tenant):
    """``submitted(tenant, card=...)`` -> (people, timesheet id): 3 h logged, the week closed."""
    from app.hourly import services
    from tenants.db import db

    def make(tenant, card="4242424242424242"):
        h = hourly_in(tenant, card=card)
        with in_tenant(tenant):
            _log(h, "2026-03-04", minutes=180)
            sheet = services.close_week(h.contract_id, date(2026, 3, 2), now=at(7, 1))
            db.session.commit()
            return h, sheet.id

    return make


def _sheet(sheet_id):
    from app.hourly.models import Timesheet
    from tenants.db import db

    return db.session.get(Timesheet, sheet_id)


def test_a_disputed_week_is_held_then_split_by_the_decision(acme, submitted, in_tenant, run_jobs):
    from app.disputes import services as disputes
    from app.ledger import services as ledger
    from app.orders.models import Milestone
    from tenants.db import db
    from tests.disputes.conftest import admin_id

    h, sheet_id = submitted(acme)
    with in_tenant(acme):
        d = disputes.open_timesheet_dispute(
            user(h.client), sheet_id, "not_as_described", "Nobody worked on Wednesday.", now=at(7, 2)
        )
        db.session.commit()
        sheet = _sheet(sheet_id)
        m = db.session.get(Milestone, sheet.milestone_id)
        assert sheet.status == "disputed" and m.status == "disputed"
        assert d.amount_minor == 13_500 and d.milestone_id == m.id
        assert sum(ledger.seller_balances(h.ann, "USD").values()) == 0  # held, not paid
        admin = user(admin_id())
        disputes.escalate(user(h.client), d.id, "We cannot agree.")
        disputes.hand_to_decision(admin, d.id, "Straight to a decision.")
        disputes.decide(admin, d.id, 3_500, 10_000, "Two of three hours are shown in the repo.")
        db.session.commit()
        run_jobs()
        m = db.session.get(Milestone, sheet.milestone_id)
        assert m.status == "partially_refunded" and m.refunded_minor == 3_500
        assert _sheet(sheet_id).status == "resolved"
        ledger.verify()


def test_a_withdrawn_dispute_pays_the_week(acme, submitted, in_tenant, run_jobs):
    from app.disputes import services as disputes
    from app.ledger import services as ledger
    from tenants.db import db

    h, sheet_id = submitted(acme)
    with in_tenant(acme):
        d = disputes.open_timesheet_dispute(user(h.client), sheet_id, "not_as_described", "Too many hours.")
        db.session.commit()
        disputes.withdraw(user(h.client), d.id)
        db.session.commit()
        run_jobs()
        assert _sheet(sheet_id).status == "billed"
        assert sum(ledger.seller_balances(h.ann, "USD").values()) == 13_500 - 1_350
        ledger.verify()


def test_a_declined_card_opens_no_dispute_and_records_nothing(acme, submitted, in_tenant):
    from app.disputes import services as disputes
    from app.disputes.models import Dispute
    from app.payments.models import Payment
    from tenants.db import db

    h, sheet_id = submitted(acme, card="4000000000000002")
    with in_tenant(acme):
        with pytest.raises(disputes.DisputeStateError) as refused:
            disputes.open_timesheet_dispute(user(h.client), sheet_id, "not_as_described", "Too many.")
        assert refused.value.code == "payment_failed"
        db.session.rollback()
        assert _sheet(sheet_id).status == "submitted" and _sheet(sheet_id).milestone_id is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Dispute)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_only_the_client_disputes_a_submitted_week(acme, submitted, in_tenant):
    from app.disputes import services as disputes
    from app.hourly import services
    from tenants.db import db

    h, sheet_id = submitted(acme)
    with in_tenant(acme):
        with pytest.raises(disputes.DisputeNotFound):
            disputes.open_timesheet_dispute(user(h.ann), sheet_id, "not_as_described", "Mine.")
        db.session.rollback()
        with pytest.raises(disputes.DisputeError) as refused:
            disputes.open_timesheet_dispute(user(h.client), sheet_id, "because", "")
        assert set(refused.value.errors) == {"reason", "statement"}
        db.session.rollback()
        services.approve(user(h.client), sheet_id, now=at(7, 3))
        db.session.commit()
        with pytest.raises(disputes.DisputeStateError):
            disputes.open_timesheet_dispute(user(h.client), sheet_id, "not_as_described", "Late.")
        db.session.rollback()


def test_the_web_form_and_the_api(acme, globex, submitted, in_tenant, tenant_client, api_token):
    from tests.helpers import csrf_token, login

    h, sheet_id = submitted(acme)
    g, g_sheet_id = submitted(globex)
    assert sheet_id == g_sheet_id
    web = tenant_client(acme.slug)
    login(web, h.emails["client"])
    page = web.get(f"/timesheets/{sheet_id}/dispute")
    assert page.status_code == 200 and b"held in escrow" in page.data
    token = csrf_token(web, f"/timesheets/{sheet_id}/dispute")
    bad = web.post(
        f"/timesheets/{sheet_id}/dispute", data={"csrf_token": token, "reason": "", "statement": ""}
    )
    assert bad.status_code == 422 and b"Choose a reason" in bad.data
    with in_tenant(acme):
        assert _sheet(sheet_id).status == "submitted"
    # The freelancer and another tenant's client get 404.
    ann = tenant_client(acme.slug)
    login(ann, h.emails["ann"])
    assert ann.get(f"/timesheets/{sheet_id}/dispute").status_code == 404
    # The API.
    client, headers = api_token(acme, h.emails["client"])
    _g_client, g_headers = api_token(globex, g.emails["client"])
    body = {"reason": "not_as_described", "statement": "Hours I cannot see in the repo."}
    refused = client.post(f"/api/v1/timesheets/{sheet_id}/dispute", json=body, headers=g_headers)
    assert refused.status_code == 401  # globex's token is worthless on acme
    bad = client.post(f"/api/v1/timesheets/{sheet_id}/dispute", json={"reason": "x"}, headers=headers)
    assert bad.status_code == 422 and "statement" in str(bad.json)
    ok = client.post(
        f"/api/v1/timesheets/{sheet_id}/dispute",
        json=body,
        headers={**headers, "Idempotency-Key": "ts-dispute-1"},
    )
    assert ok.status_code == 201, ok.json
    assert ok.json["amount_minor"] == 13_500
    with in_tenant(globex):
        assert _sheet(g_sheet_id).status == "submitted"  # globex's equal id untouched
    assert T0  # the kit's clock
