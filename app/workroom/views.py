"""The workroom page ``/contracts/<id>/workroom`` (tabs ``?tab=messages|files|tasks|calendar``,
server-rendered with real links, so it works without JavaScript), its forms, the JSON move of
the board's drag and drop, and the private ``.ics`` feed.

The Messages tab embeds messaging's live conversation (``messaging/_conversation.html``: its
no-JavaScript form posts to messaging and comes back here through ``next``). The side panel
shows, on every tab, the milestones, the linked repositories (``code.services.repo_summary``)
and the cards higher domains register (``services.register_side_panel``: hourly's week).

Thin: parse the form, call one service, redirect back to the tab; the request's unit of work
commits. A refused form is flashed on the tab (the request rolled back).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from app.code import services as code
from app.core import unit_of_work
from app.core.domain_errors import DomainError
from app.core.forms import Form
from app.messaging import services as messaging
from app.messaging.views import conversation_context
from app.storage.uploads import read_uploads
from app.workroom import board, calendar, files, services
from app.workroom.models import TASK_STATUSES

bp = Blueprint("workroom", __name__, template_folder="templates")
TABS = ("messages", "files", "tasks", "calendar")
CALENDAR_DAYS = 60


class CsrfForm(Form):
    """Only the CSRF token: the fields are read from the request and checked by the services."""


def _me():
    return current_user._get_current_object()


def _check_csrf() -> None:
    if not CsrfForm().validate_on_submit():
        abort(400)


def _back(contract_id: int, tab: str, anchor: str = ""):
    return redirect(url_for("workroom.page", contract_id=contract_id, tab=tab) + anchor)


def _do(contract_id: int, tab: str, call, done: str | None = None):
    """Run a form's service call; flash its refusal (rolled back) or ``done``; back to the tab."""
    _check_csrf()
    try:
        call(_me())
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        unit_of_work.abandon()
        flash(exc.message, "error")
        return _back(contract_id, tab)
    if done:
        flash(done, "success")
    return _back(contract_id, tab)


def _viewer_zone(contract_tz: str) -> str:
    """The viewer's timezone: ``?tz=`` (the page's script sets it from the browser), else the
    contract's events' most common one, else UTC."""
    asked = request.args.get("tz")
    return asked if calendar.zone(asked) else contract_tz


def _contract_zone(events) -> str:
    counts: dict[str, int] = {}
    for e in events:
        counts[e.timezone] = counts.get(e.timezone, 0) + 1
    return max(counts, key=counts.get) if counts else "UTC"


@bp.get("/contracts/<int:contract_id>/workroom")
@login_required
def page(contract_id: int):
    me = _me()
    contract = services.open_workroom(me, contract_id)
    tab = request.args.get("tab", "tasks")
    tab = tab if tab in TABS else "tasks"
    now = datetime.now(UTC)
    people = services.parties(contract)
    milestones = services.milestones_of(contract)
    context = {
        "contract": contract,
        "tab": tab,
        "tabs": TABS,
        "people": people,
        "milestones": milestones,
        "writable": services.is_writable(contract),
        "form": CsrfForm(),
        "statuses": TASK_STATUSES,
        "status_labels": board.STATUS_LABELS,
        "repos": code.repo_summary(contract.id),
        "can_link_repo": contract.status in code.LINKABLE_STATUSES,
        "provider_labels": code.PROVIDER_LABELS,
        "side_panels": services.side_panels(contract, me),
    }
    if tab == "tasks":
        context["columns"] = board.board(contract)
    elif tab == "files":
        context["groups"] = files.files_by_milestone(contract)
        context["file_hint"] = files.hint()
        context["file_accept"] = files.accept()
    elif tab == "calendar":
        events = calendar.list_events(me, contract.id)
        contract_tz = _contract_zone(events)
        viewer_tz = _viewer_zone(contract_tz)
        entries = calendar.calendar_entries(
            contract, now - timedelta(hours=12), now + timedelta(days=CALENDAR_DAYS)
        )
        days: dict = {}
        vz = calendar.zone(viewer_tz)
        for entry in entries:
            key = entry.starts_at.date() if entry.all_day else entry.starts_at.astimezone(vz).date()
            days.setdefault(key, []).append(entry)
        context.update(
            days=sorted(days.items()),
            events=events,
            viewer_tz=viewer_tz,
            contract_tz=contract_tz,
            zone=calendar.zone,
            feed_url=calendar.feed_url(me, contract.id),
            timezones=calendar.timezone_names(),
            kind_labels=calendar.KIND_LABELS,
            recurrence_labels=calendar.RECURRENCE_LABELS,
        )
    else:
        conversation = messaging.order_conversation_of(me, contract.order_id)
        context["conversation"] = conversation
        if conversation is not None:
            summary = messaging.conversation_summary(me, conversation.id)
            messages, has_more = messaging.history(me, conversation.id)
            here = url_for("workroom.page", contract_id=contract.id, tab="messages")
            context.update(conversation_context(summary, messages, has_more, embedded=True, next_url=here))
    return render_template("workroom/page.html", **context)


# --------------------------------------------------------------------------- messages


@bp.post("/contracts/<int:contract_id>/workroom/messages")
@login_required
def post_message(contract_id: int):
    """A plain post to the contract's conversation (the embedded chat's own form posts to
    messaging; this one stays for forms and links made before it)."""

    def call(me):
        contract = services.open_workroom(me, contract_id)
        conversation = messaging.order_conversation_of(me, contract.order_id)
        if conversation is None:
            abort(404)
        messaging.post_message(
            me,
            conversation.id,
            request.form.get("body", ""),
            reply_to_id=request.form.get("reply_to_id") or None,
        )

    return _do(contract_id, "messages", call)


# --------------------------------------------------------------------------- tasks


def _task_fields() -> dict:
    data = {}
    for name in ("title", "notes", "status", "milestone_id", "assignee_id"):
        if name in request.form:
            data[name] = request.form.get(name)
    return data


@bp.post("/contracts/<int:contract_id>/workroom/tasks")
@login_required
def add_task(contract_id: int):
    return _do(
        contract_id, "tasks", lambda me: board.create_task(me, contract_id, _task_fields()), "Task added."
    )


@bp.post("/contracts/<int:contract_id>/workroom/tasks/<int:task_id>/edit")
@login_required
def edit_task(contract_id: int, task_id: int):
    return _do(
        contract_id,
        "tasks",
        lambda me: board.update_task(me, contract_id, task_id, _task_fields()),
        "Task saved.",
    )


@bp.post("/contracts/<int:contract_id>/workroom/tasks/<int:task_id>/delete")
@login_required
def delete_task(contract_id: int, task_id: int):
    return _do(contract_id, "tasks", lambda me: board.delete_task(me, contract_id, task_id), "Task deleted.")


@bp.post("/contracts/<int:contract_id>/workroom/tasks/<int:task_id>/step")
@login_required
def step_task(contract_id: int, task_id: int):
    """The move buttons (no JavaScript needed): up, down, left, right."""
    return _do(
        contract_id,
        "tasks",
        lambda me: board.step_task(me, contract_id, task_id, request.form.get("direction", "")),
    )


@bp.post("/contracts/<int:contract_id>/workroom/tasks/<int:task_id>/move")
@login_required
def move_task(contract_id: int, task_id: int):
    """The board's drag and drop: JSON ``{"status", "after_id"?, "before_id"?}`` with the CSRF
    token in ``X-CSRFToken``; answers the moved task and the columns' order, or the error."""
    _check_csrf()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"code": "invalid", "message": "Send the move as a JSON object."}), 422
    try:
        task = board.move_task(
            _me(),
            contract_id,
            task_id,
            body.get("status"),
            after_id=body.get("after_id"),
            before_id=body.get("before_id"),
        )
    except DomainError as exc:
        unit_of_work.abandon()
        return jsonify({"code": exc.code, "message": exc.message, "errors": exc.errors}), exc.status
    return jsonify({"task": board.serialize(task)})


# --------------------------------------------------------------------------- calendar


def _event_fields() -> dict:
    form = request.form
    start = f"{form.get('date', '')}T{form.get('start_time', '')}"
    end = f"{form.get('date', '')}T{form.get('end_time', '')}"
    return {
        "title": form.get("title"),
        "kind": form.get("kind") or "meeting",
        "timezone": form.get("timezone"),
        "starts_at": start,
        "ends_at": end,
        "recurrence": form.get("recurrence") or "none",
        "repeat_until": form.get("repeat_until") or None,
        "remind_minutes": form.get("remind_minutes") or None,
    }


@bp.post("/contracts/<int:contract_id>/workroom/events")
@login_required
def add_event(contract_id: int):
    def call(me):
        data = _event_fields()
        # An end before the start on the same date: the event runs past midnight.
        try:
            start, end = datetime.fromisoformat(data["starts_at"]), datetime.fromisoformat(data["ends_at"])
            if end <= start:
                data["ends_at"] = (end + timedelta(days=1)).isoformat()
        except ValueError:
            pass
        calendar.create_event(me, contract_id, data)

    return _do(contract_id, "calendar", call, "Event added.")


@bp.post("/contracts/<int:contract_id>/workroom/events/<int:event_id>/delete")
@login_required
def delete_event(contract_id: int, event_id: int):
    return _do(
        contract_id, "calendar", lambda me: calendar.delete_event(me, contract_id, event_id), "Event deleted."
    )


@bp.get("/calendar/<token>.ics")
def ics_feed(token: str):
    """The private calendar feed (no session: the signed token is the key)."""
    found = calendar.read_feed_token(token)
    if found is None:
        abort(404)
    _user, contract = found
    body = calendar.ics_feed(contract, host=request.host.split(":")[0])
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="contract-{contract.id}.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


# --------------------------------------------------------------------------- files


@bp.post("/contracts/<int:contract_id>/workroom/files")
@login_required
def upload_file(contract_id: int):
    def call(me):
        uploads = read_uploads(request.files.getlist("file"), files.max_bytes())
        files.upload_file(
            me, contract_id, uploads[0] if uploads else None, milestone_id=request.form.get("milestone_id")
        )

    return _do(contract_id, "files", call, "File uploaded.")


@bp.post("/contracts/<int:contract_id>/workroom/files/<int:file_id>/delete")
@login_required
def delete_file(contract_id: int, file_id: int):
    return _do(contract_id, "files", lambda me: files.delete_file(me, contract_id, file_id), "File deleted.")


# --------------------------------------------------------------------------- hooks


def contract_section(contract, viewer) -> Markup | None:
    """The contract page's workroom card (registered with contracts)."""
    if contract.order_id is None or contract.party(viewer.id) is None:
        return None
    columns = board.board(contract)
    return Markup(  # noqa: S704  (a rendered, autoescaped template)
        render_template(
            "workroom/_contract_section.html",
            contract=contract,
            counts={status: len(columns[status]) for status in TASK_STATUSES},
            status_labels=board.STATUS_LABELS,
        )
    )
