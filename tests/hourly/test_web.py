"""Hourly pages: hiring on hourly terms (refusals on the form), Time & timesheets (log, edit,
remove, refusals), approving from the page (the balance moves), a declined card (banner, a
new card, retry), pause/resume, rate changes, the billing page, the contract page's section,
the dashboard and the contracts list, and tenants that never meet with equal ids.

The pages run on the real clock: contracts start 15 days ago, so last week and this week are
open for time and last week can be closed into a timesheet "now"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.contracts.conftest import user
from tests.helpers import form_tokens, login
from tests.hourly.conftest import HOURLY
from tests.payments.conftest import use_stripe  # noqa: F401  (fixture)


def _now():
    return datetime.now(UTC)


START = _now() - timedelta(days=15)


def _models():
    from app.contracts.models import Contract
    from app.hourly import services
    from app.hourly.models import RateChange, TimeEntry, Timesheet
    from tenants.db import db

    return services, db, Contract, TimeEntry, Timesheet, RateChange


def _yesterday(h, in_tenant, tenant):
    services, db, Contract, *_ = _models()
    with in_tenant(tenant):
        contract = db.session.get(Contract, h.contract_id)
        return services.local_today(contract, _now()) - timedelta(days=1)


def _last_week_sheet(h, in_tenant, tenant, minutes=(150, 90)):
    """Time logged on last week's Tuesday and Wednesday, closed into a submitted timesheet."""
    services, db, Contract, *_ = _models()
    now = _now()
    with in_tenant(tenant):
        contract = db.session.get(Contract, h.contract_id)
        last = services.current_week(contract, now) - timedelta(days=7)
        for i, m in enumerate(minutes):
            services.log_time(
                user(h.ann),
                h.contract_id,
                {"work_date": (last + timedelta(days=1 + i)).isoformat(), "minutes": m, "memo": f"Work {i}"},
                now=now,
            )
        sheet = services.close_week(h.contract_id, last, now=now)
        db.session.commit()
        return sheet.id


def _post(web, page, action, data=None):
    return web.post(action, data={**form_tokens(web, page), **(data or {})})


# --------------------------------------------------------------------------- hiring


def _hire(scope="Keep the booking tool healthy.", **fields):
    return {"scope": scope, "payment_model": "hourly", "ip_assignment": "on", "message": "Hi", **fields}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rate": "0", "weekly_cap_hours": "10", "timezone": "UTC"}, "above zero"),
        ({"rate": "-5", "weekly_cap_hours": "10", "timezone": "UTC"}, "above zero"),
        ({"rate": "ten", "weekly_cap_hours": "10", "timezone": "UTC"}, "Enter an amount like"),
        ({"rate": "", "weekly_cap_hours": "10", "timezone": "UTC"}, "Give the hourly rate"),
        ({"rate": "45", "weekly_cap_hours": "0", "timezone": "UTC"}, "1 to 80 hours"),
        ({"rate": "45", "weekly_cap_hours": "81", "timezone": "UTC"}, "1 to 80 hours"),
        ({"rate": "45", "weekly_cap_hours": "ten", "timezone": "UTC"}, "whole number of hours"),
        ({"rate": "45", "weekly_cap_hours": "10", "timezone": "Mars/Olympus"}, "not a known time zone"),
        ({"rate": "45", "weekly_cap_hours": "10", "timezone": "<script>"}, "such as Europe/Berlin"),
    ],
)
def test_hourly_hire_form_refuses_bad_terms_on_the_form(
    acme, hiring, tenant_client, in_tenant, fields, message
):
    h = hiring(acme)
    client = login(tenant_client("acme"), h.emails["client"])
    path = f"/proposals/{h.ann_proposal}/hire"
    r = client.post(path, data={**form_tokens(client, path), **_hire(**fields)})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert message in page and 'data-testid="form-errors"' in page
    assert 'value="hourly" checked' in page  # the choice is kept
    _, db, Contract, *_ = _models()
    with in_tenant(acme):
        assert db.session.query(Contract).count() == 0


def test_hire_and_offer_on_hourly_terms(acme, hiring, tenant_client, in_tenant):
    h = hiring(acme)
    client = login(tenant_client("acme"), h.emails["client"])
    path = f"/proposals/{h.ann_proposal}/hire"
    form = client.get(path).get_data(as_text=True)
    assert 'data-testid="model-hourly"' in form and "Europe/Berlin" in form and "hire_terms.js" in form

    r = client.post(
        path,
        data={
            **form_tokens(client, path),
            **_hire(rate="45.50", weekly_cap_hours="20", timezone="America/New_York"),
        },
    )
    assert r.status_code == 303, r.get_data(as_text=True)[:800]
    _, db, Contract, *_ = _models()
    with in_tenant(acme):
        c = db.session.query(Contract).one()
        assert c.payment_model == "hourly"
        assert (c.terms["rate_minor"], c.terms["weekly_cap_hours"], c.terms["timezone"]) == (
            4550,
            20,
            "America/New_York",
        )
        assert c.total_minor == 4550 * 20
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="hourly-terms"' in page and "20 hours" in page and "America/New_York" in page
    assert 'data-testid="sow-hourly"' in page

    # A direct offer on hourly terms from the freelancer's offer form.
    direct = f"/contracts/new/{h.bob}"
    r = client.post(
        direct,
        data={
            **form_tokens(client, direct),
            **_hire(rate="30", weekly_cap_hours="5", timezone="UTC"),
            "title": "Weekly fixes for the booking tool",
        },
    )
    assert r.status_code == 303, r.get_data(as_text=True)[:800]
    with in_tenant(acme):
        bob = db.session.query(Contract).filter_by(freelancer_id=h.bob).one()
        assert bob.payment_model == "hourly" and bob.terms["rate_minor"] == 3000
    listing = client.get("/contracts?tab=offers").get_data(as_text=True)
    assert "Hourly · " in listing and "/h" in listing


# --------------------------------------------------------------------------- time


def test_log_edit_and_remove_time_on_the_page(acme, hourly_in, tenant_client, in_tenant):
    h = hourly_in(acme, now=START)
    ann = login(tenant_client("acme"), h.emails["ann"])
    page = f"/contracts/{h.contract_id}/time"
    day = _yesterday(h, in_tenant, acme).isoformat()
    assert 'data-testid="log-form"' in ann.get(page).get_data(as_text=True)

    r = _post(ann, page, page, {"work_date": day, "start": "09:00", "end": "11:30", "memo": "API review"})
    assert r.status_code == 303, r.get_data(as_text=True)[:800]
    services, db, Contract, TimeEntry, *_ = _models()
    with in_tenant(acme):
        entry = db.session.query(TimeEntry).one()
        assert entry.minutes == 150 and entry.memo == "API review"
        entry_id = entry.id
    shown = ann.get(r.headers["Location"]).get_data(as_text=True)
    assert "2 h 30 min" in shown and "09:00–11:30" in shown and "API review" in shown

    future = (_yesterday(h, in_tenant, acme) + timedelta(days=3)).isoformat()
    for data, message in (
        ({"work_date": future, "duration": "1"}, "in the future"),
        ({"work_date": day, "start": "10:00", "end": "12:00"}, "overlaps your entry of 09:00–11:30"),
        ({"work_date": day, "duration": "25"}, "at most 24 hours"),
        ({"work_date": day, "duration": "0"}, "above zero"),
        ({"work_date": day, "duration": "-2"}, "above zero"),
        ({"work_date": day, "duration": "soon"}, "H:MM or in hours"),
        ({"work_date": "yesterday", "duration": "1"}, "YYYY-MM-DD"),
        ({"work_date": day, "start": "12:00", "end": "11:00"}, "The end is before the start"),
        ({"work_date": day, "duration": "22"}, "more than 24 hours"),
    ):
        bad = _post(ann, page, page, {**data, "memo": "x"})
        assert bad.status_code == 422, (data, bad.status_code)
        assert message in bad.get_data(as_text=True), (data, message)
    with in_tenant(acme):
        assert db.session.query(TimeEntry).count() == 1

    edit = f"{page}/{entry_id}"
    r = _post(ann, page, edit, {"work_date": day, "duration": "1:15", "memo": "Shorter"})
    assert r.status_code == 303, r.get_data(as_text=True)[:800]
    with in_tenant(acme):
        entry = db.session.get(TimeEntry, entry_id)
        assert (entry.minutes, entry.started_at, entry.memo) == (75, None, "Shorter")
    bad_edit = _post(ann, page, edit, {"work_date": day, "duration": "30"})
    assert bad_edit.status_code == 422 and "24 hours" in bad_edit.get_data(as_text=True)

    # The client and strangers cannot touch the freelancer's time.
    client = login(tenant_client("acme"), h.emails["client"])
    assert 'data-testid="log-form"' not in client.get(page).get_data(as_text=True)
    refused = _post(client, page, page, {"work_date": day, "duration": "1"})
    assert refused.status_code == 403
    member = login(tenant_client("acme"), h.emails["member"])
    assert member.get(page).status_code == 404
    token = form_tokens(ann, page)
    assert member.post(page, data={**token, "work_date": day, "duration": "1"}).status_code in (400, 404)
    assert member.post(f"{edit}/delete", data=token).status_code in (400, 404)

    r = _post(ann, page, f"{edit}/delete")
    assert r.status_code == 303
    with in_tenant(acme):
        assert db.session.query(TimeEntry).count() == 0
    assert _post(ann, page, f"{page}/999999/delete").status_code == 404


def test_no_time_on_a_paused_or_ended_contract(acme, hourly_in, tenant_client, in_tenant):
    h = hourly_in(acme, now=START)
    ann = login(tenant_client("acme"), h.emails["ann"])
    client = login(tenant_client("acme"), h.emails["client"])
    page = f"/contracts/{h.contract_id}/time"
    day = _yesterday(h, in_tenant, acme).isoformat()

    assert _post(client, page, f"/contracts/{h.contract_id}/pause").status_code == 303
    shown = ann.get(page).get_data(as_text=True)
    assert 'data-testid="paused-banner"' in shown and 'data-testid="log-form"' not in shown
    r = _post(ann, page, page, {"work_date": day, "duration": "1"})
    assert r.status_code == 409 and "paused" in r.get_data(as_text=True)
    # Ann cannot resume the client's pause; the client can.
    assert 'data-testid="resume"' not in shown
    refused = _post(ann, page, f"/contracts/{h.contract_id}/resume")
    assert refused.status_code == 409 and "only the client" in refused.get_data(as_text=True)
    assert _post(client, page, f"/contracts/{h.contract_id}/resume").status_code == 303
    assert _post(ann, page, page, {"work_date": day, "duration": "1"}).status_code == 303

    from app.contracts import services as contracts

    _, db, *_ = _models()
    with in_tenant(acme):
        contracts.end_contract(user(h.client), h.contract_id, "Done")
        db.session.commit()
    ended = ann.get(page).get_data(as_text=True)
    assert 'data-testid="ended-banner"' in ended and 'data-testid="log-form"' not in ended
    r = _post(ann, page, page, {"work_date": day, "duration": "1"})
    assert r.status_code == 409


# --------------------------------------------------------------------------- timesheets and money


def test_approve_from_the_page_pays_the_freelancer(acme, hourly_in, tenant_client, in_tenant):
    h = hourly_in(acme, now=START)
    sheet_id = _last_week_sheet(h, in_tenant, acme)
    client = login(tenant_client("acme"), h.emails["client"])
    ann = login(tenant_client("acme"), h.emails["ann"])
    page = f"/contracts/{h.contract_id}/time"

    listing = client.get(page).get_data(as_text=True)
    assert f'data-testid="approve-{sheet_id}"' in listing and "review by" in listing
    assert f'data-testid="approve-{sheet_id}"' not in ann.get(page).get_data(as_text=True)
    sheet_page = f"/timesheets/{sheet_id}"
    shown = client.get(sheet_page).get_data(as_text=True)
    assert "4 h" in shown and "180.00" in shown.replace(",", "") and 'data-testid="frozen-entry"' in shown
    # The client may dispute the week instead (the freelancer may not).
    assert f'href="/timesheets/{sheet_id}/dispute" data-testid="dispute"' in shown
    assert 'data-testid="dispute"' not in ann.get(sheet_page).get_data(as_text=True)
    # Contract page section and dashboard card tell the client.
    contract_page = client.get(f"/contracts/{h.contract_id}").get_data(as_text=True)
    assert 'data-testid="hourly-section"' in contract_page and "1 timesheet to review" in contract_page
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="dashboard-timesheet"' in dashboard

    # The freelancer cannot approve.
    assert _post(ann, sheet_page, f"{sheet_page}/approve").status_code == 403
    r = _post(client, sheet_page, f"{sheet_page}/approve")
    assert r.status_code == 303, r.get_data(as_text=True)[:800]
    services, db, Contract, TimeEntry, Timesheet, _ = _models()
    from app.ledger import services as ledger

    with in_tenant(acme):
        sheet = db.session.get(Timesheet, sheet_id)
        assert sheet.status == "billed" and sheet.approved_by == h.client and sheet.amount_minor == 18000
        balance = ledger.seller_balances(h.ann, sheet.currency)
        assert 0 < balance["pending"] < sheet.amount_minor  # minus commission
    paid = client.get(sheet_page).get_data(as_text=True)
    assert (
        'data-status="billed"' in paid and "Cleo Client" in paid and 'data-testid="milestone-state"' in paid
    )
    # Approving again is refused on the page (nothing moves twice).
    again = _post(client, sheet_page, f"{sheet_page}/approve")
    assert again.status_code == 409 and "paid" in again.get_data(as_text=True).lower()


def test_declined_card_pauses_until_a_new_card_pays(acme, hourly_in, tenant_client, in_tenant):
    h = hourly_in(acme, card="4000000000000002", now=START)
    sheet_id = _last_week_sheet(h, in_tenant, acme)
    client = login(tenant_client("acme"), h.emails["client"])
    sheet_page = f"/timesheets/{sheet_id}"
    r = _post(client, sheet_page, f"{sheet_page}/approve")
    assert r.status_code == 303
    shown = client.get(sheet_page).get_data(as_text=True)
    assert 'data-testid="payment-failed"' in shown and "declined" in shown and 'data-testid="retry"' in shown
    time_page = client.get(f"/contracts/{h.contract_id}/time").get_data(as_text=True)
    assert 'data-testid="paused-banner"' in time_page and "payment failed" in time_page
    assert "Payment failed: update your card" in client.get(f"/contracts/{h.contract_id}").get_data(
        as_text=True
    )

    # Retrying with the same card fails again; a new card on the billing page pays and resumes.
    again = _post(client, sheet_page, f"{sheet_page}/retry")
    assert again.status_code == 303
    services, db, Contract, TimeEntry, Timesheet, _ = _models()
    with in_tenant(acme):
        assert db.session.get(Timesheet, sheet_id).status == "payment_failed"
    saved = _post(
        client,
        "/account/billing",
        "/account/billing/card",
        {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123", "next": sheet_page},
    )
    assert saved.status_code == 303 and saved.headers["Location"].endswith(sheet_page)
    r = _post(client, sheet_page, f"{sheet_page}/retry")
    assert r.status_code == 303
    with in_tenant(acme):
        assert db.session.get(Timesheet, sheet_id).status == "billed"
        assert db.session.get(Contract, h.contract_id).paused_at is None


def test_rate_change_proposed_and_accepted_on_the_page(acme, hourly_in, tenant_client, in_tenant):
    h = hourly_in(acme, now=START)
    ann = login(tenant_client("acme"), h.emails["ann"])
    client = login(tenant_client("acme"), h.emails["client"])
    page = f"/contracts/{h.contract_id}/time"
    action = f"/contracts/{h.contract_id}/rate-change"
    bad = _post(ann, page, action, {"rate": "0", "weekly_cap_hours": "10"})
    assert bad.status_code == 422 and "above zero" in bad.get_data(as_text=True)
    bad = _post(ann, page, action, {"rate": "50", "weekly_cap_hours": "99"})
    assert bad.status_code == 422 and "1 to 80" in bad.get_data(as_text=True)
    assert (
        _post(ann, page, action, {"rate": "50", "weekly_cap_hours": "12", "note": "More work"}).status_code
        == 303
    )
    services, db, Contract, TimeEntry, Timesheet, RateChange = _models()
    with in_tenant(acme):
        contract = db.session.get(Contract, h.contract_id)
        monday = services.current_week(contract, _now()) + timedelta(days=7)
    shown = client.get(page).get_data(as_text=True)
    assert 'data-testid="accept-rate"' in shown and f"applies from Monday {monday:%d %b %Y}" in shown
    assert 'data-testid="withdraw-rate"' in ann.get(page).get_data(as_text=True)
    assert _post(client, page, f"{action}/answer", {"accept": "1"}).status_code == 303
    with in_tenant(acme):
        contract = db.session.get(Contract, h.contract_id)
        assert contract.terms["rate_history"] == [
            {"week": monday.isoformat(), "rate_minor": 5000, "weekly_cap_hours": 12}
        ]
    after = client.get(page).get_data(as_text=True)
    assert f"from {monday:%a %d %b}:" in after and "50.00" in after and "an hour, 12 hours." in after


# --------------------------------------------------------------------------- billing page


def test_billing_page_saves_and_removes_a_sandbox_card(acme, hourly_in, tenant_client, in_tenant):
    h = hourly_in(acme, card=None, now=START)
    client = login(tenant_client("acme"), h.emails["client"])
    assert 'data-testid="no-card"' in client.get(f"/contracts/{h.contract_id}/time").get_data(as_text=True)
    page = client.get("/account/billing").get_data(as_text=True)
    assert 'data-testid="no-saved-card"' in page and "4000 0000 0000 0002" in page and "TEST MODE" in page
    assert 'href="/account/billing"' in page  # the account tabs link it
    for number, expiry, message in (
        ("1234 5678 9012 3456", "12/39", "test card"),
        ("4242 4242 4242 4242", "01/20", "expired"),
        ("", "12/39", "Enter the card number"),
    ):
        r = _post(
            client,
            "/account/billing",
            "/account/billing/card",
            {"card_number": number, "expiry": expiry, "cvc": "123"},
        )
        assert r.status_code == 422, (number, r.status_code)
        assert message.lower() in r.get_data(as_text=True).lower(), (number, message)
    r = _post(
        client,
        "/account/billing",
        "/account/billing/card",
        {"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"},
    )
    assert r.status_code == 303
    page = client.get("/account/billing").get_data(as_text=True)
    assert "ending 4242" in page and 'data-testid="remove-card"' in page
    # Off-site "next" is ignored.
    r = _post(
        client,
        "/account/billing",
        "/account/billing/card",
        {"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123", "next": "//evil.test/x"},
    )
    assert r.headers["Location"].endswith("/account/billing")
    assert _post(client, "/account/billing", "/account/billing/remove").status_code == 303
    assert 'data-testid="no-saved-card"' in client.get("/account/billing").get_data(as_text=True)
    # Stripe's pages are for Stripe marketplaces: the sandbox's redirect back, no 500.
    assert client.get("/account/billing/stripe").status_code == 303
    assert client.get("/account/billing/stripe-return?setup_intent=seti_x").status_code == 409
    assert client.get("/account/billing/stripe-return").status_code == 422


# --------------------------------------------------------------------------- lists and dashboard


def test_dashboard_and_lists_show_hourly_work(acme, hourly_in, tenant_client, in_tenant):
    h = hourly_in(acme, now=START)
    ann = login(tenant_client("acme"), h.emails["ann"])
    page = f"/contracts/{h.contract_id}/time"
    day = _yesterday(h, in_tenant, acme)
    services, db, Contract, *_ = _models()
    with in_tenant(acme):
        this_week = services.current_week(db.session.get(Contract, h.contract_id), _now())
    data = {"work_date": day.isoformat(), "duration": "2:30"}
    assert _post(ann, page, page, data).status_code == 303
    dashboard = ann.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="dashboard-week"' in dashboard
    expected = "2 h 30 min" if day >= this_week else "0 min"
    assert f'data-testid="dashboard-week-hours">{expected}<' in dashboard
    assert "Hourly · " in ann.get("/contracts?tab=active").get_data(as_text=True)
    section = ann.get(f"/contracts/{h.contract_id}").get_data(as_text=True)
    assert 'data-testid="hourly-section"' in section and 'data-testid="time-link"' in section
    # A fixed-price contract has no time page.
    assert ann.get("/contracts/999999/time").status_code == 404


# --------------------------------------------------------------------------- tenants


def test_tenants_never_meet_with_equal_ids(acme, globex, hourly_in, tenant_client, in_tenant):
    made = {}
    for tenant in (acme, globex):
        made[tenant.slug] = hourly_in(
            tenant, terms={**HOURLY, "title": f"{tenant.slug} hourly work"}, now=START
        )
    assert made["acme"].contract_id == made["globex"].contract_id
    acme_sheet = _last_week_sheet(made["acme"], in_tenant, acme)
    cid = made["acme"].contract_id

    globex_client = login(tenant_client("globex"), made["globex"].emails["client"])
    page = globex_client.get(f"/contracts/{cid}/time").get_data(as_text=True)
    assert "globex hourly work" in page and "acme hourly work" not in page
    assert 'data-testid="timesheet-' not in page  # acme's timesheet is not globex's
    assert globex_client.get(f"/timesheets/{acme_sheet}").status_code == 404
    r = _post(globex_client, f"/contracts/{cid}/time", f"/timesheets/{acme_sheet}/approve")
    assert r.status_code == 404
    globex_member = login(tenant_client("globex"), made["globex"].emails["member"])
    assert globex_member.get(f"/contracts/{cid}/time").status_code == 404
    # acme's session means nothing on globex's host.
    acme_client = login(tenant_client("acme"), made["acme"].emails["client"])
    assert acme_client.get(f"/timesheets/{acme_sheet}").status_code == 200
    _, db, _, _, Timesheet, _ = _models()
    with in_tenant(acme):
        assert db.session.get(Timesheet, acme_sheet).status == "submitted"
    with in_tenant(globex):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Timesheet)) == 0


def test_hire_form_prefills_hourly_terms_from_an_hourly_job(acme, people, tenant_client, in_tenant):
    from app.jobs import proposals
    from app.jobs import services as jobs
    from tests.jobs.conftest import JOB, PROPOSAL

    p = people(acme)
    _, db, *_ = _models()
    hourly_job = {
        **JOB,
        "budget_type": "hourly",
        "budget_min_minor": None,
        "budget_max_minor": None,
        "rate_min_minor": 3000,
        "rate_max_minor": 6000,
        "hours_per_week": 25,
    }
    with in_tenant(acme):
        job = jobs.post_job(user(p.client), hourly_job, publish_now=True, now=_now())
        proposal = proposals.submit_proposal(
            user(p.ann),
            job.id,
            {**PROPOSAL, "total_minor": None, "milestones": [], "rate_minor": 5250},
            now=_now(),
        )
        db.session.commit()
        pid = proposal.id
    client = login(tenant_client("acme"), p.emails["client"])
    form = client.get(f"/proposals/{pid}/hire").get_data(as_text=True)
    assert 'value="hourly" checked' in form and 'value="52.50"' in form and 'value="25"' in form
    assert "an hour</strong>" in form


def test_billing_with_stripe_confirms_a_setup_intent(
    acme,
    people,
    tenant_client,
    in_tenant,
    monkeypatch,
    use_stripe,  # noqa: F811
):
    """Stripe's card form: Stripe.js as on the checkout page (its CSP), then the return saves
    the card; Stripe's refusals are shown on the billing page (Stripe itself is stubbed here)."""
    from types import SimpleNamespace

    from app.payments import billing
    from app.payments.services import PaymentError

    p = people(acme)
    use_stripe(acme)
    client = login(tenant_client("acme"), p.emails["client"])
    page = client.get("/account/billing").get_data(as_text=True)
    assert 'data-testid="stripe-add-card"' in page and 'data-testid="card-form"' not in page
    # The sandbox's form is refused with Stripe (no 500).
    r = _post(
        client,
        "/account/billing",
        "/account/billing/card",
        {"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"},
    )
    assert r.status_code == 409 and "Stripe" in r.get_data(as_text=True)

    monkeypatch.setattr(billing, "start_stripe_setup", lambda user: ("seti_1_secret_abc", "pk_test_123"))
    r = client.get("/account/billing/stripe?next=/contracts")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'data-client-secret="seti_1_secret_abc"' in html and "https://js.stripe.com/v3/" in html
    assert "confirmSetup" in html and "/account/billing/stripe-return?next=" in html and "contracts" in html
    assert "https://js.stripe.com" in r.headers["Content-Security-Policy"]

    saved = []
    monkeypatch.setattr(
        billing,
        "complete_stripe_setup",
        lambda user, ref: saved.append(ref) or SimpleNamespace(last4="4242"),
    )
    r = client.get("/account/billing/stripe-return?setup_intent=seti_1&next=/contracts")
    assert r.status_code == 303 and r.headers["Location"].endswith("/contracts") and saved == ["seti_1"]

    def refused(user, ref):
        raise PaymentError(409, "The card was not saved: try again.")

    monkeypatch.setattr(billing, "complete_stripe_setup", refused)
    r = client.get("/account/billing/stripe-return?setup_intent=seti_2")
    assert r.status_code == 409 and "The card was not saved" in r.get_data(as_text=True)

    def down(user):
        raise PaymentError(503, "Stripe could not start saving the card: down.")

    monkeypatch.setattr(billing, "start_stripe_setup", down)
    r = client.get("/account/billing/stripe")
    assert r.status_code == 503 and "could not start" in r.get_data(as_text=True)
