"""Hourly contracts REST API: time entries, the running week, timesheets (approve, retry a
failed charge), pause and resume, rate and weekly-limit changes.

Thin: parse with a schema, call one service of ``app.hourly.services``, serialize; the
request's unit of work commits. ``approve`` and ``retry`` move money: they honour an
``Idempotency-Key`` header (``app.core.idempotency``: the same key and body replay the first
answer). Refusals: 403 the other party's step (the client logging time, the freelancer
approving), 404 unknown or not yours, 409 not possible now (a paused or ended contract, a
timesheet already approved; ``errors.current_status`` names the status), 422 field errors
(the future, overlapping, zero or over 24 hours, a closed week, a bad rate or limit).
The saved card the weeks are charged to is the payments API's (``/api/v1/billing-method``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import g
from flask.views import MethodView

from app.accounts import tokens
from app.contracts.models import Contract
from app.contracts.schemas import ContractSchema
from app.core.api import Blueprint
from app.core.http import LOCATION, created
from app.hourly import schemas, services
from tenants.db import db

blp = Blueprint(
    "hourly_api",
    __name__,
    url_prefix="/api/v1",
    description="Hourly contracts: the freelancer logs time, each week (Monday to Sunday in the "
    "contract's time zone) closes into a timesheet the client approves (or it is approved "
    "after the review period) and is charged to the client's saved card. Amounts are integer "
    "minor units; durations minutes.",
)

CONTRACT_ID = "/contracts/<int(max=2147483647):contract_id>"
ENTRY_ID = "/time-entries/<int(max=9223372036854775807):entry_id>"
SHEET_ID = "/timesheets/<int(max=9223372036854775807):sheet_id>"
DESCRIPTIONS = {
    403: "The other party's step",
    404: "Not found (or not yours)",
    409: "Not possible in the current status (named in the message and errors.current_status)",
    422: "Invalid fields (errors.json.<field>)",
}

auth_required = tokens.api_auth(blp, DESCRIPTIONS)


def _entry(contract, entry):
    """Add the local start and end (HH:MM in the contract's time zone) for the schema."""
    local = services.zone(contract)
    entry.start = entry.started_at.astimezone(local).strftime("%H:%M") if entry.started_at else None
    entry.end = entry.ended_at.astimezone(local).strftime("%H:%M") if entry.ended_at else None
    return entry


def _entries(contract, rows):
    return [_entry(contract, e) for e in rows]


def _duration(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    return f"{hours} h {mins:02d} min" if mins else f"{hours} h"


def _week(contract, week_start):
    view = services.week_view(contract, week_start)
    over = view.over_cap_minutes
    return {
        "week_start": view.week_start,
        "week_end": view.week_start + timedelta(days=6),
        "timezone": view.timesheet.timezone if view.timesheet else services.zone(contract).key,
        "currency": contract.currency,
        "entries": _entries(contract, view.entries),
        "minutes_logged": view.minutes_logged,
        "minutes_billable": view.minutes_billable,
        "over_cap": over > 0,
        "over_cap_minutes": over,
        "amount_minor": view.amount_minor,
        "terms": view.terms,
        "timesheet_id": view.timesheet.id if view.timesheet else None,
        "note": (
            f"Capped at {view.terms.weekly_cap_hours} h: {_duration(over)} not billed." if over > 0 else None
        ),
    }


def _sheet(sheet, contract=None):
    sheet.status_label = services.status_label(sheet.status)
    sheet.auto_approved = sheet.approved_at is not None and sheet.approved_by is None
    if contract is not None:
        sheet.entries = _entries(contract, services.entries_of_timesheet(sheet))
    return sheet


def _now():
    return datetime.now(UTC)


# --------------------------------------------------------------------------- time entries


@blp.route(f"{CONTRACT_ID}/time-entries")
class TimeEntries(MethodView):
    @auth_required(404, 409, 422)
    @blp.arguments(schemas.EntryFilterArgs, location="query")
    @blp.response(200, schemas.TimeEntrySchema(many=True))
    @blp.paginate_list()
    def get(self, args, contract_id):
        """The contract's time entries (both parties): `week` (a Monday), or `from` and `to`
        (local days, at most 366 days); by default the running week."""
        contract = services.get_hourly_contract(g.api_user, contract_id)
        if "from_" in args:
            first, last = args["from_"], args["to"]
        else:
            first = args.get("week") or services.current_week(contract, _now())
            last = first + timedelta(days=6)
        return _entries(contract, services.entries_between(contract, first, last))

    @auth_required(403, 404, 409, 422)
    @blp.arguments(
        schemas.TimeEntryInputSchema,
        example={"work_date": "2026-03-02", "start": "09:00", "end": "12:30", "memo": "Booking API"},
    )
    @blp.response(201, schemas.TimeEntrySchema, headers=LOCATION)
    def post(self, body, contract_id):
        """The freelancer logs time: `work_date` (the local day) with `start` and `end`, or
        `minutes`. Refused: in the future, overlapping another entry, more than 24 hours on a
        day, a week already submitted (422); the client (403); a paused or ended contract (409)."""
        body["work_date"] = body["work_date"].isoformat()
        entry = services.log_time(g.api_user, contract_id, body)
        body = _entry(entry_contract(entry), entry)
        return created(body, "hourly_api.TimeEntryResource", entry_id=entry.id)


def entry_contract(entry):
    return db.session.get(Contract, entry.contract_id)


@blp.route(ENTRY_ID)
class TimeEntryResource(MethodView):
    @auth_required(404, 409, 422)
    @blp.arguments(schemas.TimeEntryPatchSchema, example={"memo": "Booking API: tests", "minutes": 120})
    @blp.response(200, schemas.TimeEntrySchema)
    def patch(self, body, entry_id):
        """Change your entry while its week is not submitted (the fields given; `minutes`
        replaces a start and end, `start`/`end` replace a duration). 409 once submitted."""
        if "work_date" in body:
            body["work_date"] = body["work_date"].isoformat()
        entry = services.edit_entry(g.api_user, entry_id, body)
        return _entry(entry_contract(entry), entry)

    @auth_required(404, 409, 422)
    @blp.response(204)
    def delete(self, entry_id):
        """Remove your entry while its week is not submitted."""
        services.delete_entry(g.api_user, entry_id)


@blp.route(f"{CONTRACT_ID}/week")
class Week(MethodView):
    @auth_required(404, 409, 422)
    @blp.arguments(schemas.WeekArgs, location="query")
    @blp.response(200, schemas.WeekSchema)
    def get(self, args, contract_id):
        """The running week (or `week`, a Monday): its entries, the minutes logged and
        billable (capped at the weekly limit, with a note when over), the amount so far and
        the rate and limit in force for it."""
        contract = services.get_hourly_contract(g.api_user, contract_id)
        return _week(contract, args.get("week") or services.current_week(contract, _now()))


# --------------------------------------------------------------------------- timesheets


@blp.route(f"{CONTRACT_ID}/timesheets")
class Timesheets(MethodView):
    @auth_required(404, 409)
    @blp.response(200, schemas.TimesheetSchema(many=True))
    @blp.paginate_list()
    def get(self, contract_id):
        """The contract's timesheets, newest week first (at most 60)."""
        contract = services.get_hourly_contract(g.api_user, contract_id)
        return [_sheet(s) for s in services.timesheets_of(contract)]


@blp.route(SHEET_ID)
class TimesheetResource(MethodView):
    @auth_required(404)
    @blp.response(200, schemas.TimesheetDetailSchema)
    def get(self, sheet_id):
        """A timesheet of your contract with its entries."""
        contract, sheet = services.get_timesheet(g.api_user, sheet_id)
        return _sheet(sheet, contract)


@blp.route(f"{SHEET_ID}/approve")
class TimesheetApprove(MethodView):
    # Refusals are raised (a declined card is a kept answer): no view savepoint, nor the
    # ledger's (four statements).
    @auth_required(403, 404, 409, 422, mutating=True, view_savepoint=False)
    @blp.arguments(schemas.HourlyStepSchema, example={})
    @blp.response(200, schemas.TimesheetDetailSchema)
    def post(self, body, sheet_id):
        """The client approves a submitted timesheet: it is charged to their saved card and
        paid to the freelancer (`billed`), or the charge fails (`payment_failed`, the contract
        pauses until it is paid). 409 when not submitted (approved twice)."""
        sheet = services.approve(g.api_user, sheet_id)
        return _sheet(sheet, entry_contract(sheet))


@blp.route(f"{SHEET_ID}/retry")
class TimesheetRetry(MethodView):
    @auth_required(403, 404, 409, 422, mutating=True, view_savepoint=False)  # as ``approve``'s
    @blp.arguments(schemas.HourlyStepSchema, example={})
    @blp.response(200, schemas.TimesheetDetailSchema)
    def post(self, body, sheet_id):
        """The client pays a timesheet whose charge failed, after updating the card
        (`/billing-method`): billed (the contract resumes) or failed again."""
        sheet = services.retry_payment(g.api_user, sheet_id)
        return _sheet(sheet, entry_contract(sheet))


# --------------------------------------------------------------------------- pause, resume, rate


@blp.route(f"{CONTRACT_ID}/pause")
class Pause(MethodView):
    @auth_required(404, 409, 422)
    @blp.arguments(schemas.HourlyStepSchema, example={})
    @blp.response(200, ContractSchema)
    def post(self, body, contract_id):
        """Either party pauses the contract: no time is logged until it resumes."""
        return services.pause(g.api_user, contract_id)


@blp.route(f"{CONTRACT_ID}/resume")
class Resume(MethodView):
    @auth_required(404, 409, 422)
    @blp.arguments(schemas.HourlyStepSchema, example={})
    @blp.response(200, ContractSchema)
    def post(self, body, contract_id):
        """Resume: the party who paused, or the client. After a failed payment only by paying
        the timesheet (`/timesheets/{id}/retry`), 409 `payment_failed` here."""
        return services.resume(g.api_user, contract_id)


@blp.route(f"{CONTRACT_ID}/rate-changes")
class RateChanges(MethodView):
    @auth_required(404, 409)
    @blp.response(200, schemas.RateChangeSchema(many=True))
    @blp.paginate_list()
    def get(self, contract_id):
        """Proposed rate and weekly-limit changes, newest first."""
        contract = services.get_hourly_contract(g.api_user, contract_id)
        return services.rate_changes_of(contract)

    @auth_required(404, 409, 422)
    @blp.arguments(schemas.RateChangeInputSchema, example={"rate_minor": 5000, "weekly_cap_hours": 20})
    @blp.response(201, schemas.RateChangeSchema, headers=LOCATION)
    def post(self, body, contract_id):
        """Propose a new rate and/or weekly limit; once the other party accepts, it applies
        from the next Monday. One at a time (409 while one waits)."""
        change = services.propose_rate_change(g.api_user, contract_id, body)
        return created(change, "hourly_api.RateChanges", contract_id=contract_id)  # the list of changes


@blp.route(f"{CONTRACT_ID}/rate-changes/answer")
class RateChangeAnswer(MethodView):
    @auth_required(404, 409, 422)
    @blp.arguments(schemas.RateAnswerSchema, example={"accept": True})
    @blp.response(200, schemas.RateChangeSchema)
    def post(self, body, contract_id):
        """Accept (from next Monday) or decline the other party's pending change; its proposer
        withdraws it with `accept: false`. 409 when none waits."""
        return services.answer_rate_change(g.api_user, contract_id, body["accept"])
