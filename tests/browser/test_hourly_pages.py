"""Hourly pages in headless Chromium: the hire form switches to hourly terms; the freelancer
logs time on "Time & timesheets" and sees it against the weekly limit; the client opens last
week's (over the limit) timesheet, approves it through the confirmation and it is paid; the
billing page. Every page fits a 390 px phone; GIGFORGE_SCREENSHOTS=<folder> keeps screenshots
at 390 and 1366 px."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from app.contracts.models import Contract
from app.hourly import services
from app.hourly.models import Timesheet
from tenants.db import db
from tests.contracts.conftest import hiring, user  # noqa: F401  (fixture)
from tests.gigs.conftest import PASSWORD
from tests.hourly.conftest import hourly_in  # noqa: F401  (fixture)
from tests.jobs.conftest import JOB, PROPOSAL, people  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
FRAMES = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


def _log_in(page, live_server, email):
    page.goto(live_server.url("acme.localhost", "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:2000]


def _shot(page, name: str) -> None:
    folder = os.environ.get("GIGFORGE_SCREENSHOTS")
    size = page.viewport_size
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        page.evaluate(FRAMES)
        if viewport is PHONE:
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= PHONE["width"], f"{name} is {wide} px wide at 390 px"
        if folder:
            os.makedirs(folder, exist_ok=True)
            page.screenshot(path=os.path.join(folder, f"{name}-{viewport['width']}.png"), full_page=True)
    page.set_viewport_size(size)


def test_hourly_pages_on_phone_and_desktop(browser, live_server, acme, hourly_in, in_tenant):  # noqa: F811
    now = datetime.now(UTC)
    h = hourly_in(acme, now=now - timedelta(days=15))
    with in_tenant(acme):
        contract = db.session.get(Contract, h.contract_id)
        this_week = services.current_week(contract, now)
        last = this_week - timedelta(days=7)
        # Last week: 11 h 15 min against a 10 h limit, closed into a timesheet.
        for i, (start, end, memo) in enumerate(
            (
                ("08:00", "12:00", "Booking API: availability endpoint and its tests"),
                ("13:00", "17:15", "Calendar sync with Google; retries on rate limits"),
                ("09:00", "12:00", "Code review and a fix for the reminder e-mails"),
            )
        ):
            services.log_time(
                user(h.ann),
                h.contract_id,
                {
                    "work_date": (last + timedelta(days=i)).isoformat(),
                    "start": start,
                    "end": end,
                    "memo": memo,
                },
                now=now,
            )
        sheet = services.close_week(h.contract_id, last, now=now)
        # This week: a duration on Monday (unless today is Monday: then nothing yet).
        today = services.local_today(contract, now)
        if today > this_week:
            services.log_time(
                user(h.ann),
                h.contract_id,
                {"work_date": this_week.isoformat(), "minutes": "2:30", "memo": "Planning the sprint"},
                now=now,
            )
        db.session.commit()
        sheet_id = sheet.id

    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _log_in(page, live_server, h.emails["ann"])
        page.goto(live_server.url("acme.localhost", f"/contracts/{h.contract_id}/time"))
        form = page.get_by_test_id("log-form")
        form.locator("input[name=start]").fill("06:00")
        form.locator("input[name=end]").fill("07:15")
        form.locator("input[name=memo]").fill("Early fix for the payment webhook")
        day = today - timedelta(days=1) if today > this_week else today
        form.locator("input[name=work_date]").fill(day.isoformat())
        if day == today and now.astimezone(services.zone(contract)).hour < 8:
            form.locator("input[name=start]").fill("")
            form.locator("input[name=end]").fill("")
            form.locator("input[name=duration]").fill("0:05")
        page.get_by_test_id("log-button").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("form-errors").count() == 0, page.content()[:3000]
        assert "Early fix for the payment webhook" in page.content()
        _shot(page, "hourly-time-freelancer")
        page.locator("details.time-entry-edit summary").last.click()
        assert page.locator("details.time-entry-edit[open] form").first.is_visible()
        _shot(page, "hourly-time-edit-open")
        page.goto(
            live_server.url("acme.localhost", f"/contracts/{h.contract_id}/time?week={last.isoformat()}")
        )
        assert page.get_by_test_id("over-cap").is_visible()
        _shot(page, "hourly-time-last-week")
    finally:
        context.close()

    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _log_in(page, live_server, h.emails["client"])
        page.goto(live_server.url("acme.localhost", f"/contracts/{h.contract_id}"))
        assert page.get_by_test_id("hourly-section").is_visible()
        _shot(page, "hourly-contract-section")
        page.goto(live_server.url("acme.localhost", f"/timesheets/{sheet_id}"))
        assert page.get_by_test_id("timesheet-status").inner_text().strip() == "Waiting for the client"
        _shot(page, "hourly-timesheet-submitted")
        page.get_by_test_id("approve").click()
        confirm = page.get_by_role("button", name="Approve", exact=True)
        if confirm.count():
            confirm.click()
        page.wait_for_load_state()
        page.wait_for_selector('[data-testid="timesheet"][data-status="billed"]')
        _shot(page, "hourly-timesheet-billed")
        page.goto(live_server.url("acme.localhost", f"/contracts/{h.contract_id}/time"))
        _shot(page, "hourly-time-client")
        page.goto(live_server.url("acme.localhost", "/account/billing"))
        _shot(page, "hourly-billing")
        # The hire form: choosing "Hourly" shows the hourly terms instead of the milestones.
        page.goto(live_server.url("acme.localhost", f"/proposals/{h.bob_proposal}/hire"))
        assert not page.get_by_test_id("hourly-terms").is_visible()
        page.get_by_test_id("model-hourly").check()
        assert page.get_by_test_id("hourly-terms").is_visible()
        assert not page.get_by_test_id("milestone-row-0").is_visible()
        assert page.get_by_test_id("hourly-timezone").input_value()  # the browser's zone or UTC
        _shot(page, "hourly-hire-form")
    finally:
        context.close()
    with in_tenant(acme):
        assert db.session.get(Timesheet, sheet_id).status == "billed"
