"""Marshmallow schemas of the hourly API (time entries, weeks, timesheets, rate changes).

Request schemas check shapes and types; the rules (the future, overlaps, 24 hours a day, a
closed week, who may do what) are the services' (``app.hourly.services``), refused with the
same 422 shape. Money is integer minor units of the contract's ``currency``; durations are
minutes; days are the contract's local days (``timezone``), ``YYYY-MM-DD``.
"""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from app.contracts.services import MAX_CAP_HOURS, MAX_RATE_MINOR
from app.core.schema import Schema
from app.hourly.models import RATE_CHANGE_STATUSES, TIMESHEET_STATUSES
from app.hourly.services import MEMO_MAX

MINOR = {"description": "Integer minor units (cents) of the contract's currency."}
CLOCK = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Give the time as HH:MM (24-hour clock).")


class TimeEntryInputSchema(Schema):
    work_date = fields.Date(
        required=True, metadata={"description": "The local day worked (YYYY-MM-DD).", "example": "2026-03-02"}
    )
    start = fields.Str(
        allow_none=True,
        validate=CLOCK,
        metadata={"description": "HH:MM local time, with `end` (or give `minutes`).", "example": "09:00"},
    )
    end = fields.Str(
        allow_none=True,
        validate=CLOCK,
        metadata={"description": "HH:MM local time, after `start` on the same day.", "example": "12:30"},
    )
    minutes = fields.Int(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=1440),
        metadata={"description": "The duration without a start and end (1 to 1440).", "example": 90},
    )
    memo = fields.Str(
        validate=validate.Length(max=MEMO_MAX), metadata={"example": "Booking API: pagination and tests"}
    )
    milestone_id = fields.Int(
        strict=True, allow_none=True, metadata={"description": "A milestone of the contract."}
    )
    task_id = fields.Int(
        strict=True, allow_none=True, metadata={"description": "A workroom task of the contract."}
    )


class TimeEntryPatchSchema(TimeEntryInputSchema):
    """Only the fields given change; a `minutes` replaces a start and end, and the other way."""

    work_date = fields.Date(metadata={"description": "The local day worked (YYYY-MM-DD)."})


class EntryFilterArgs(Schema):
    week = fields.Date(metadata={"description": "A Monday: that week's entries (default: the running week)."})
    from_ = fields.Date(data_key="from", metadata={"description": "First day (YYYY-MM-DD), with `to`."})
    to = fields.Date(metadata={"description": "Last day (YYYY-MM-DD), at most 366 days after `from`."})

    @validates_schema
    def _one_filter(self, data, **kwargs):
        if "week" in data and ("from_" in data or "to" in data):
            raise ValidationError("Give either a week or a from/to range, not both.", "week")
        if "week" in data and data["week"].weekday() != 0:
            raise ValidationError("A week starts on a Monday.", "week")
        if ("from_" in data) != ("to" in data):
            raise ValidationError("Give both from and to.", "to" if "from_" in data else "from")
        if "from_" in data:
            if data["to"] < data["from_"]:
                raise ValidationError("The range ends before it starts.", "to")
            if (data["to"] - data["from_"]).days > 366:
                raise ValidationError("Ask for at most 366 days at once.", "to")


class WeekArgs(Schema):
    week = fields.Date(metadata={"description": "A Monday (default: the running week)."})

    @validates_schema
    def _monday(self, data, **kwargs):
        if "week" in data and data["week"].weekday() != 0:
            raise ValidationError("A week starts on a Monday.", "week")


class TimeEntrySchema(Schema):
    id = fields.Int()
    contract_id = fields.Int()
    freelancer_id = fields.Int()
    work_date = fields.Date()
    start = fields.Str(allow_none=True, metadata={"description": "HH:MM in the contract's time zone."})
    end = fields.Str(allow_none=True, metadata={"description": "HH:MM in the contract's time zone."})
    started_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    minutes = fields.Int()
    memo = fields.Str()
    milestone_id = fields.Int(allow_none=True)
    task_id = fields.Int(allow_none=True)
    timesheet_id = fields.Int(
        allow_none=True, metadata={"description": "Set once the week is submitted: no longer editable."}
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WeekTermsSchema(Schema):
    rate_minor = fields.Int(metadata={**MINOR, "description": "An hour, in minor units."})
    weekly_cap_hours = fields.Int()


class WeekSchema(Schema):
    week_start = fields.Date(metadata={"description": "The Monday."})
    week_end = fields.Date(metadata={"description": "The Sunday."})
    timezone = fields.Str(metadata={"example": "Europe/Berlin"})
    currency = fields.Str(metadata={"example": "USD"})
    entries = fields.List(fields.Nested(TimeEntrySchema))
    minutes_logged = fields.Int()
    minutes_billable = fields.Int(metadata={"description": "Capped at the weekly limit."})
    over_cap = fields.Bool()
    over_cap_minutes = fields.Int(metadata={"description": "Logged but not billed (over the limit)."})
    amount_minor = fields.Int(metadata={**MINOR, "description": "round_half_even(billable × rate / 60)."})
    terms = fields.Nested(WeekTermsSchema)
    timesheet_id = fields.Int(allow_none=True, metadata={"description": "Once the week is closed."})
    note = fields.Str(allow_none=True, metadata={"example": "Capped at 10 h: 1 h 15 min not billed."})


class TimesheetSchema(Schema):
    id = fields.Int()
    contract_id = fields.Int()
    week_start = fields.Date()
    timezone = fields.Str()
    minutes_logged = fields.Int()
    minutes_billable = fields.Int()
    over_cap_minutes = fields.Int()
    rate_minor = fields.Int(metadata=MINOR)
    cap_hours = fields.Int()
    amount_minor = fields.Int(metadata=MINOR)
    currency = fields.Str()
    status = fields.Str(metadata={"description": "One of " + ", ".join(TIMESHEET_STATUSES) + "."})
    status_label = fields.Str()
    submitted_at = fields.DateTime()
    review_due_at = fields.DateTime(metadata={"description": "Approved automatically after this."})
    approved_at = fields.DateTime(allow_none=True)
    approved_by = fields.Int(allow_none=True, metadata={"description": "Null when approved automatically."})
    auto_approved = fields.Bool()
    billed_at = fields.DateTime(allow_none=True)
    milestone_id = fields.Int(allow_none=True, metadata={"description": "The engagement's milestone billed."})
    failure_reason = fields.Str(allow_none=True)
    final = fields.Bool(metadata={"description": "Closed early because the contract ended mid-week."})


class TimesheetDetailSchema(TimesheetSchema):
    entries = fields.List(fields.Nested(TimeEntrySchema))


class RateChangeInputSchema(Schema):
    rate_minor = fields.Int(
        strict=True,
        validate=validate.Range(min=1, max=MAX_RATE_MINOR, error="The hourly rate must be 1 to {max}."),
        metadata={**MINOR, "description": "The new rate an hour (default: unchanged).", "example": 5000},
    )
    weekly_cap_hours = fields.Int(
        strict=True,
        validate=validate.Range(min=1, max=MAX_CAP_HOURS, error="The weekly limit is 1 to {max} hours."),
        metadata={"description": "The new weekly limit (default: unchanged).", "example": 20},
    )
    note = fields.Str(validate=validate.Length(max=1000), metadata={"example": "More work from April."})


class RateAnswerSchema(Schema):
    accept = fields.Bool(
        required=True, metadata={"description": "true accepts; false declines (or withdraws your own)."}
    )


class RateChangeSchema(Schema):
    id = fields.Int()
    contract_id = fields.Int()
    proposed_by = fields.Int()
    rate_minor = fields.Int(metadata=MINOR)
    weekly_cap_hours = fields.Int()
    note = fields.Str()
    status = fields.Str(metadata={"description": "One of " + ", ".join(RATE_CHANGE_STATUSES) + "."})
    effective_week = fields.Date(allow_none=True, metadata={"description": "The Monday it applies from."})
    responded_by = fields.Int(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class HourlyStepSchema(Schema):
    """No fields: the step needs none (send `{}`)."""
