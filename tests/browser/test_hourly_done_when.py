"""Issue #17's "Done when", in two browsers: on an hourly contract the freelancer logs time on
"Time & timesheets" and moves a task on the workroom's board; the client, watching the board
on a phone, sees the card move live; the week closes (the Monday job, run here on the real
clock: the time was logged on last week's days); the client approves the timesheet and the
freelancer's balance moves by the week's amount minus commission."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from app.contracts.models import Contract
from app.hourly import services, tasks
from app.hourly.models import Timesheet
from app.ledger import services as ledger
from app.orders.services import commission_for
from app.workroom import board
from tenants.db import db
from tests.contracts.conftest import hiring, user  # noqa: F401  (fixtures)
from tests.hourly.conftest import hourly_in  # noqa: F401  (fixture)
from tests.jobs.conftest import people  # noqa: F401  (fixture)
from tests.messaging.conftest import session_cookie  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def _until(page, expression: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        page.wait_for_timeout(100)


def _signed_in(browser, socket_server, cookie, viewport):
    context = browser.new_context(viewport=viewport)
    context.add_cookies([{"name": "session", "value": cookie, "url": socket_server.url("acme")}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def test_time_logged_task_moved_live_week_approved_and_paid(
    browser,
    socket_server,
    acme,
    hourly_in,  # noqa: F811
    in_tenant,
    session_cookie,  # noqa: F811
):
    now = datetime.now(UTC)
    h = hourly_in(acme, now=now - timedelta(days=15))
    with in_tenant(acme):
        contract = db.session.get(Contract, h.contract_id)
        last_monday = services.current_week(contract, now) - timedelta(days=7)
        board.create_task(user(h.client), h.contract_id, {"title": "Availability endpoint", "status": "todo"})
        board.create_task(user(h.client), h.contract_id, {"title": "Set up CI", "status": "doing"})
        db.session.commit()
        before = sum(ledger.seller_balances(h.ann, contract.currency).values())
    ann_context, ann = _signed_in(browser, socket_server, session_cookie(acme, h.emails["ann"]), DESKTOP)
    cleo_context, cleo = _signed_in(browser, socket_server, session_cookie(acme, h.emails["client"]), PHONE)
    try:
        # The freelancer logs 2 h 30 min on last Tuesday.
        ann.goto(socket_server.url("acme", f"/contracts/{h.contract_id}/time?week={last_monday.isoformat()}"))
        form = ann.get_by_test_id("log-form")
        form.locator("input[name=work_date]").fill((last_monday + timedelta(days=1)).isoformat())
        form.locator("input[name=start]").fill("09:00")
        form.locator("input[name=end]").fill("11:30")
        form.locator("input[name=memo]").fill("Availability endpoint and its tests")
        ann.get_by_test_id("log-button").click()
        ann.wait_for_load_state()
        assert ann.get_by_test_id("form-errors").count() == 0, ann.content()[:3000]
        assert "Availability endpoint and its tests" in ann.content()

        # Both open the board; the freelancer drags the task to "Doing", the client sees it live.
        workroom = socket_server.url("acme", f"/contracts/{h.contract_id}/workroom?tab=tasks")
        ann.goto(workroom)
        cleo.goto(workroom)
        for page in (ann, cleo):
            _until(page, "() => document.querySelector('[data-testid=workroom]').dataset.live === 'joined'")
        card = ann.locator("[data-testid=task]", has_text="Availability endpoint")
        target = ann.locator("[data-testid=column-doing] .kanban-cards")
        box, goal = card.bounding_box(), target.bounding_box()
        ann.mouse.move(box["x"] + 20, box["y"] + 10)
        ann.mouse.down()
        ann.mouse.move(box["x"] + 40, box["y"] + 30, steps=4)
        ann.mouse.move(goal["x"] + 30, goal["y"] + goal["height"] - 5, steps=12)
        ann.mouse.up()
        _until(
            cleo,
            "() => Array.from(document.querySelectorAll("
            "'[data-testid=column-doing] [data-testid=task] .kanban-title'))"
            ".map(n => n.textContent).join('|') === 'Set up CI|Availability endpoint'",
        )

        # Monday's job closes last week into a timesheet for the client.
        with in_tenant(acme):
            assert tasks.run_due_in_tenant(datetime.now(UTC))["weeks_closed"] == 1
            db.session.commit()
            sheet = db.session.query(Timesheet).one()
            sheet_id, amount = sheet.id, sheet.amount_minor
        assert amount == 11_250  # 2.5 h at 45.00

        cleo.goto(socket_server.url("acme", f"/timesheets/{sheet_id}"))
        cleo.get_by_test_id("approve").click()
        confirm = cleo.get_by_role("button", name="Approve", exact=True)
        if confirm.count():
            confirm.click()
        cleo.wait_for_selector('[data-testid="timesheet"][data-status="billed"]')
    finally:
        ann_context.close()
        cleo_context.close()
    with in_tenant(acme):
        after = sum(ledger.seller_balances(h.ann, "USD").values())
        assert after - before == amount - commission_for(amount)
        ledger.verify()
