"""The contract workroom in headless Chromium: the client opens its four tabs at 390 and 1366 px
(nothing wider than the phone), drags a task from "To do" to "Doing" with the pointer, and
Ann, the freelancer, sees the card move live on her open board (Socket.IO); on the Messages
tab (the embedded live chat) Cleo's message reaches Ann's phone live and Ann's reply, quoting
it, reaches Cleo's desktop. Set GIGFORGE_SCREENSHOTS=<folder> to keep screenshots of each tab
at both widths."""

from __future__ import annotations

import os
import time

import pytest

from app.contracts.models import Contract
from app.storage.uploads import Upload
from app.workroom import board, calendar, files
from tenants.db import db
from tests.code.conftest import check_run_event, pr_event, send_github
from tests.contracts.conftest import contract_in, hiring  # noqa: F401  (fixtures)
from tests.jobs.conftest import people  # noqa: F401  (fixture)
from tests.messaging.conftest import session_cookie  # noqa: F401  (fixture)
from tests.workroom.conftest import room, user  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
FRAMES = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


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


def _until(page, expression: str, timeout: float = 10) -> None:
    """Poll ``expression`` (an arrow function: the CSP forbids evaluating plain strings)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        page.wait_for_timeout(100)


def _signed_in(browser, socket_server, cookie, viewport):
    context = browser.new_context(viewport=viewport)
    context.add_cookies([{"name": "session", "value": cookie, "url": socket_server.url("acme")}])
    return context, context.new_page()


def test_four_tabs_and_a_live_drag(
    browser,
    socket_server,
    acme,
    room,  # noqa: F811
    in_tenant,
    session_cookie,  # noqa: F811
    tenant_client,
):
    from app.code import services as code

    r = room(acme)
    with in_tenant(acme):
        _link, secret = code.link_repo(user(r.ann), r.contract_id, "github", "Ann-Dev/booking-tool")
        db.session.commit()
    hook = tenant_client("acme")
    send_github(hook, "pull_request", pr_event("opened", title="Add booking API"), secret)
    send_github(hook, "check_run", check_run_event("lint", conclusion="failure"), secret)
    with in_tenant(acme):
        cleo, ann = user(r.client), user(r.ann)
        for title, status in (
            ("Wireframes", "todo"),
            ("Data model", "todo"),
            ("Set up CI", "doing"),
            ("Kick-off", "done"),
        ):
            board.create_task(cleo, r.contract_id, {"title": title, "status": status, "assignee_id": r.ann})
        calendar.create_event(
            ann,
            r.contract_id,
            {
                "title": "Daily stand-up",
                "kind": "standup",
                "starts_at": "2027-01-04T09:30",
                "ends_at": "2027-01-04T09:45",
                "timezone": "Europe/Paris",
                "recurrence": "weekdays",
                "remind_minutes": 10,
            },
        )
        files.upload_file(
            ann,
            r.contract_id,
            Upload("brief.pdf", "application/pdf", b"%PDF-1.7\n"),
            milestone_id=r.milestone_ids[0],
        )
        db.session.commit()
    page_url = socket_server.url("acme", f"/contracts/{r.contract_id}/workroom")
    cleo_context, cleo_page = _signed_in(
        browser, socket_server, session_cookie(acme, r.emails["client"]), DESKTOP
    )
    ann_context, ann_page = _signed_in(browser, socket_server, session_cookie(acme, r.emails["ann"]), PHONE)
    try:
        for tab in ("messages", "files", "calendar", "tasks"):
            cleo_page.goto(f"{page_url}?tab={tab}")
            cleo_page.wait_for_load_state("networkidle")
            assert cleo_page.get_by_test_id(f"workroom-{tab}").is_visible()
            _shot(cleo_page, f"workroom-{tab}")
        ann_page.goto(f"{page_url}?tab=tasks")
        for p in (cleo_page, ann_page):
            _until(p, "() => document.querySelector('[data-testid=workroom]').dataset.live === 'joined'")

        card = cleo_page.locator("[data-testid=task]", has_text="Data model")
        target = cleo_page.locator("[data-testid=column-doing] .kanban-cards")
        box, goal = card.bounding_box(), target.bounding_box()
        cleo_page.mouse.move(box["x"] + 20, box["y"] + 10)
        cleo_page.mouse.down()
        cleo_page.mouse.move(box["x"] + 40, box["y"] + 30, steps=4)
        cleo_page.mouse.move(goal["x"] + 30, goal["y"] + goal["height"] - 5, steps=12)
        cleo_page.mouse.up()
        _until(cleo_page, "() => !!document.querySelector('[data-testid=workroom]').dataset.lastMove")
        # Ann's phone shows the card in "Doing", after "Set up CI", without reloading.
        _until(
            ann_page,
            "() => Array.from(document.querySelectorAll("
            "'[data-testid=column-doing] [data-testid=task] .kanban-title'))"
            ".map(n => n.textContent).join('|') === 'Set up CI|Data model'",
        )
        _shot(ann_page, "workroom-live-move")
        with in_tenant(acme):
            doing = [t.title for t in board.board(db.session.get(Contract, r.contract_id))["doing"]]
        assert doing == ["Set up CI", "Data model"]
    finally:
        cleo_context.close()
        ann_context.close()


def test_messages_tab_is_live_both_ways(browser, socket_server, acme, room, in_tenant, session_cookie):  # noqa: F811
    r = room(acme)
    with in_tenant(acme):
        ann_handle = user(r.ann).handle
    page_url = socket_server.url("acme", f"/contracts/{r.contract_id}/workroom?tab=messages")
    cleo_context, cleo_page = _signed_in(
        browser, socket_server, session_cookie(acme, r.emails["client"]), DESKTOP
    )
    ann_context, ann_page = _signed_in(browser, socket_server, session_cookie(acme, r.emails["ann"]), PHONE)
    errors: list[str] = []
    for p in (cleo_page, ann_page):
        p.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        for p in (cleo_page, ann_page):
            p.goto(page_url)
            _until(p, "() => document.querySelector('[data-testid=chat]').dataset.joined === '1'")
        # Cleo mentions Ann through the @ autocomplete and sends; Ann's phone shows it live.
        box = cleo_page.get_by_test_id("chat-input")
        box.click()
        box.type("Can we meet at ten? @" + ann_handle[:2])
        cleo_page.get_by_test_id("mention-option").first.wait_for()
        box.press("Enter")  # picks the mention
        box.press("Enter")  # sends
        _until(
            ann_page,
            "() => Array.from(document.querySelectorAll('[data-testid=message] .chat-body'))"
            ".some(n => n.textContent.includes('Can we meet at ten?') && n.querySelector('.mention'))",
        )
        # Ann replies to it from her phone; Cleo sees the reply, quoting her message, live.
        ann_page.locator("[data-testid=message]", has_text="Can we meet at ten?").get_by_test_id(
            "reply"
        ).click()
        assert ann_page.get_by_test_id("replying").is_visible()
        ann_page.get_by_test_id("chat-input").fill("Ten works for me")
        ann_page.get_by_test_id("chat-send").click()
        _until(
            cleo_page,
            "() => Array.from(document.querySelectorAll('[data-testid=message]'))"
            ".some(n => n.textContent.includes('Ten works for me')"
            " && n.querySelector('[data-testid=message-quote]'))",
        )
        _shot(ann_page, "workroom-messages-live-ann")
        _shot(cleo_page, "workroom-messages-live-cleo")
        # One Socket.IO client on the page; the board's script stays out of the chat's way.
        assert (
            cleo_page.evaluate("() => document.querySelectorAll('script[src*=\"socket.io.min.js\"]').length")
            == 1
        )
        assert errors == []
    finally:
        cleo_context.close()
        ann_context.close()
