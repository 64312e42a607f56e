"""Hourly contract web pages: "Time & timesheets" of a contract (the week by day with its
running total against the weekly limit, logging and changing time, the timesheets with the
client's approve / retry / dispute, pause and resume, rate changes), one timesheet's page,
and the contract page's hourly section.

Thin: parse the form, call one service, redirect; the request's unit of work commits. A
refusal is shown on the page again with its errors (the request rolled back); a stranger's
contract, entry or timesheet is a 404.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from app.accounts.models import User
from app.contracts import services as contracts
from app.contracts.models import Contract
from app.core import money, unit_of_work
from app.core.domain_errors import DomainError
from app.core.forms import Form
from app.core.idempotency import idempotent
from app.hourly import pages, services
from app.hourly.models import TimeEntry
from tenants.db import db

bp = Blueprint("hourly", __name__, template_folder="templates")


class CsrfForm(Form):
    """Only the CSRF token: the fields are read from the request and checked by the services."""


def _me() -> User:
    return current_user._get_current_object()


def _check_csrf() -> None:
    if not CsrfForm().validate_on_submit():
        abort(400)


@bp.record_once
def _helpers(state):
    state.app.jinja_env.globals.update(
        hm=pages.hm, hm_input=pages.hm_input, timesheet_status_label=services.status_label
    )


def _dispute_url(sheet_id: int) -> str | None:
    """The disputes domain's form for a timesheet, once it exists."""
    if "disputes.new_for_timesheet" in current_app.view_functions:
        return url_for("disputes.new_for_timesheet", timesheet_id=sheet_id)
    return None


def _contract(contract_id: int) -> Contract:
    try:
        return services.get_hourly_contract(_me(), contract_id)
    except DomainError as exc:
        if exc.status in (404, 409):  # a stranger's, or a fixed-price contract: no time page
            abort(404)
        raise


# --------------------------------------------------------------------------- the time page


def _time_page(contract_id: int, *, errors: dict | None = None, status: int = 200, values=None, edit_id=None):
    me = _me()
    contract = _contract(contract_id)
    now = datetime.now(UTC)
    week = pages.parse_week(contract, request.args.get("week"), now)
    current = services.current_week(contract, now)
    view = services.week_view(contract, week)
    party = contract.party(me.id)
    cap_minutes = view.terms.weekly_cap_hours * 60
    change = services.pending_rate_change(contract)
    next_monday = current + timedelta(days=7)
    return render_template(
        "hourly/time.html",
        contract=contract,
        party=party,
        people=contracts.users_by_id([contract.client_id, contract.freelancer_id]),
        week=week,
        current_week=current,
        prev_week=week - timedelta(days=7),
        next_week=week + timedelta(days=7) if week < current else None,
        view=view,
        days=pages.days_of(view),
        cap_minutes=cap_minutes,
        bar_percent=min(100, round(view.minutes_logged * 100 / cap_minutes)) if cap_minutes else 0,
        week_open=pages.week_open(contract, week, view, now),
        can_log=pages.can_log(contract, me),
        can_resume=pages.can_resume(contract, me),
        today=services.local_today(contract, now),
        span=lambda e: pages.local_span(contract, e),
        timesheets=services.timesheets_of(contract),
        change=change,
        next_monday=next_monday,
        next_terms=services.terms_for_week(contract, next_monday),
        card_ok=pages.client_card_ok(contract),
        dispute_url=_dispute_url,
        values=values or {},
        edit_id=edit_id,
        errors=errors or {},
        form=CsrfForm(),
    ), status


@bp.get("/contracts/<int:contract_id>/time")
@login_required
def time_page(contract_id: int):
    return _time_page(contract_id)


def _back(contract_id: int, week=None):
    return redirect(url_for("hourly.time_page", contract_id=contract_id, week=week), 303)


def _refused(contract_id: int, exc: DomainError, **kwargs):
    unit_of_work.abandon()
    if exc.status == 404:
        abort(404)
    return _time_page(contract_id, errors=exc.errors, status=exc.status, **kwargs)


def _entry_data() -> dict:
    """The time entry form: a day, then a start and an end, or a duration; a memo."""
    data = {"work_date": request.form.get("work_date", ""), "memo": request.form.get("memo", "")}
    start, end = (request.form.get("start") or "").strip(), (request.form.get("end") or "").strip()
    if start or end:
        data |= {"start": start, "end": end}
    else:
        data["minutes"] = (request.form.get("duration") or "").strip()
    return data


def _week_of(raw: str):
    try:
        return services.monday(datetime.strptime(raw[:10], "%Y-%m-%d").date()).isoformat()
    except (TypeError, ValueError):
        return None


@bp.post("/contracts/<int:contract_id>/time")
@login_required
def log_time(contract_id: int):
    _check_csrf()
    _contract(contract_id)
    data = _entry_data()
    try:
        entry = services.log_time(_me(), contract_id, data)
    except DomainError as exc:
        return _refused(contract_id, exc, values=dict(request.form))
    flash(f"{pages.hm(entry.minutes)} logged on {entry.work_date:%a %d %b}.", "success")
    return _back(contract_id, _week_of(entry.work_date.isoformat()))


def _entry_contract(contract_id: int, entry_id: int) -> None:
    """404 unless the entry is one of this contract's (the services check the person)."""
    _contract(contract_id)
    entry = db.session.get(TimeEntry, entry_id)
    if entry is None or entry.contract_id != contract_id:
        abort(404)


@bp.post("/contracts/<int:contract_id>/time/<int:entry_id>")
@login_required
def edit_entry(contract_id: int, entry_id: int):
    _check_csrf()
    _entry_contract(contract_id, entry_id)
    try:
        entry = services.edit_entry(_me(), entry_id, _entry_data())
    except DomainError as exc:
        return _refused(contract_id, exc, values=dict(request.form), edit_id=entry_id)
    flash("The entry is changed.", "success")
    return _back(contract_id, _week_of(entry.work_date.isoformat()))


@bp.post("/contracts/<int:contract_id>/time/<int:entry_id>/delete")
@login_required
def delete_entry(contract_id: int, entry_id: int):
    _check_csrf()
    _entry_contract(contract_id, entry_id)
    week = _week_of(db.session.get(TimeEntry, entry_id).work_date.isoformat())
    try:
        services.delete_entry(_me(), entry_id)
    except DomainError as exc:
        return _refused(contract_id, exc)
    flash("The entry is removed.", "success")
    return _back(contract_id, week)


def _step(contract_id: int, call, done: str, **kwargs):
    _check_csrf()
    _contract(contract_id)
    try:
        call(_me())
    except DomainError as exc:
        return _refused(contract_id, exc, **kwargs)
    flash(done, "success")
    return _back(contract_id)


@bp.post("/contracts/<int:contract_id>/pause")
@login_required
def pause(contract_id: int):
    return _step(
        contract_id,
        lambda me: services.pause(me, contract_id),
        "The contract is paused: no time is logged until it resumes.",
    )


@bp.post("/contracts/<int:contract_id>/resume")
@login_required
def resume(contract_id: int):
    return _step(contract_id, lambda me: services.resume(me, contract_id), "The contract is running again.")


@bp.post("/contracts/<int:contract_id>/rate-change")
@login_required
def propose_rate_change(contract_id: int):
    contract = _contract(contract_id)

    def call(me):
        data: dict = {"note": request.form.get("note", "")}
        errors: dict[str, str] = {}
        try:
            rate = money.parse_optional(request.form.get("rate"), contract.currency, allow_negative=True)
        except money.MoneyError as exc:
            errors["rate_minor"] = str(exc)
            rate = None
        if rate is not None:
            data["rate_minor"] = rate
        raw_cap = (request.form.get("weekly_cap_hours") or "").strip()
        if raw_cap:
            if raw_cap.lstrip("-").isdigit() and len(raw_cap) <= 6:
                data["weekly_cap_hours"] = int(raw_cap)
            else:
                errors["weekly_cap_hours"] = "Give the weekly limit as a whole number of hours (1 to 80)."
        if errors:
            raise services.HourlyError(errors)
        services.propose_rate_change(me, contract_id, data)

    return _step(
        contract_id,
        call,
        "Your change is proposed: the other party accepts or declines it.",
        values=dict(request.form),
    )


@bp.post("/contracts/<int:contract_id>/rate-change/answer")
@login_required
def answer_rate_change(contract_id: int):
    accept = request.form.get("accept") == "1"
    return _step(
        contract_id,
        lambda me: services.answer_rate_change(me, contract_id, accept),
        "The new terms apply from next Monday." if accept else "The change is closed.",
    )


# --------------------------------------------------------------------------- a timesheet


def _sheet(sheet_id: int):
    try:
        contract, sheet = services.get_timesheet(_me(), sheet_id)
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        raise
    return contract, sheet


def _timesheet_page(sheet_id: int, *, errors: dict | None = None, status: int = 200):
    me = _me()
    contract, sheet = _sheet(sheet_id)
    milestone, payment = pages.payment_of(sheet)
    people = contracts.users_by_id(
        [contract.client_id, contract.freelancer_id] + ([sheet.approved_by] if sheet.approved_by else [])
    )
    return render_template(
        "hourly/timesheet.html",
        contract=contract,
        sheet=sheet,
        party=contract.party(me.id),
        people=people,
        entries=services.entries_of_timesheet(sheet),
        span=lambda e: pages.local_span(contract, e),
        milestone=milestone,
        payment=payment,
        card_ok=pages.client_card_ok(contract),
        dispute_url=_dispute_url(sheet.id),
        errors=errors or {},
        form=CsrfForm(),
    ), status


@bp.get("/timesheets/<int:sheet_id>")
@login_required
def timesheet_page(sheet_id: int):
    return _timesheet_page(sheet_id)


def _sheet_step(sheet_id: int, call, done):
    _check_csrf()
    _sheet(sheet_id)
    try:
        sheet = call(_me())
    except DomainError as exc:
        unit_of_work.abandon()
        if exc.status == 404:
            abort(404)
        return _timesheet_page(sheet_id, errors=exc.errors, status=exc.status)
    if sheet.status == "payment_failed":
        flash(f"The charge failed: {sheet.failure_reason}", "error")
    else:
        flash(done, "success")
    return redirect(url_for("hourly.timesheet_page", sheet_id=sheet_id), 303)


@bp.post("/timesheets/<int:sheet_id>/approve")
@login_required
@idempotent
def approve(sheet_id: int):
    return _sheet_step(
        sheet_id,
        lambda me: services.approve(me, sheet_id),
        "Approved: the week is charged to your card and paid to the freelancer.",
    )


@bp.post("/timesheets/<int:sheet_id>/retry")
@login_required
@idempotent
def retry_payment(sheet_id: int):
    return _sheet_step(
        sheet_id,
        lambda me: services.retry_payment(me, sheet_id),
        "Paid: the week is charged to your card and the contract runs again.",
    )


# --------------------------------------------------------------------------- the contract page


def contract_section(contract: Contract, viewer: User) -> Markup | None:
    """The contract page's hourly part (registered with ``contracts.register_contract_section``):
    this week against the limit, the latest timesheet, what to do, links, the paused banner."""
    if contract.payment_model != "hourly" or contract.order_id is None:
        return None
    now = datetime.now(UTC)
    week = services.current_week(contract, now)
    view = services.week_view(contract, week)
    cap_minutes = view.terms.weekly_cap_hours * 60
    party = contract.party(viewer.id)
    return Markup(  # noqa: S704  (a rendered, autoescaped template)
        render_template(
            "hourly/_contract_section.html",
            contract=contract,
            party=party,
            view=view,
            cap_minutes=cap_minutes,
            bar_percent=min(100, round(view.minutes_logged * 100 / cap_minutes)) if cap_minutes else 0,
            latest=pages.latest_timesheet(contract),
            todo=pages.todo_of(contract).lines(party),
            card_ok=pages.client_card_ok(contract),
        )
    )
