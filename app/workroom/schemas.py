"""Marshmallow schemas of the workroom API (tasks, calendar events, files).

Request schemas check shapes and types; the rules (a milestone of the contract, an assignee
who is a party, an event's length and timezone ...) are the services', refused with the same
422 shape.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.core.schema import Schema
from app.workroom.models import EVENT_KINDS, RECURRENCES, TASK_STATUSES

STATUS = validate.OneOf(TASK_STATUSES)


class TaskInputSchema(Schema):
    title = fields.Str(required=True, validate=validate.Length(max=200), metadata={"example": "Wireframes"})
    notes = fields.Str(load_default="", validate=validate.Length(max=5000))
    status = fields.Str(load_default="todo", validate=STATUS)
    milestone_id = fields.Int(strict=True, allow_none=True, load_default=None)
    assignee_id = fields.Int(
        strict=True,
        allow_none=True,
        load_default=None,
        metadata={"description": "The client or the freelancer."},
    )


class TaskPatchSchema(Schema):
    title = fields.Str(validate=validate.Length(max=200))
    notes = fields.Str(validate=validate.Length(max=5000))
    status = fields.Str(
        validate=STATUS, metadata={"description": "Moves the task to the end of that column."}
    )
    milestone_id = fields.Int(strict=True, allow_none=True)
    assignee_id = fields.Int(strict=True, allow_none=True)
    version = fields.Int(
        strict=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "The version you read: 412 when the task changed since."},
    )


class TaskMoveSchema(Schema):
    status = fields.Str(required=True, validate=STATUS)
    after_id = fields.Int(
        strict=True,
        allow_none=True,
        load_default=None,
        metadata={"description": "Put it right after this task."},
    )
    before_id = fields.Int(
        strict=True, allow_none=True, load_default=None, metadata={"description": "Or right before this one."}
    )
    index = fields.Int(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=0, max=10_000),
        metadata={"description": "Or at this place in the column (0: first). None of the three: at the end."},
    )


class TaskSchema(Schema):
    id = fields.Int()
    contract_id = fields.Int()
    title = fields.Str()
    notes = fields.Str()
    status = fields.Str(metadata={"enum": list(TASK_STATUSES)})
    milestone_id = fields.Int(allow_none=True)
    assignee_id = fields.Int(allow_none=True)
    position = fields.Float(metadata={"description": "Orders the tasks of one column (ascending)."})
    version = fields.Int()
    created_by = fields.Int()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


EVENT_TIME = {
    "description": "ISO 8601. Without an offset: the wall-clock time in `timezone`.",
    "example": "2027-03-01T09:30",
}


class EventInputSchema(Schema):
    title = fields.Str(required=True, validate=validate.Length(max=200), metadata={"example": "Weekly sync"})
    kind = fields.Str(load_default="meeting", validate=validate.OneOf(EVENT_KINDS))
    starts_at = fields.Str(required=True, validate=validate.Length(max=40), metadata=EVENT_TIME)
    ends_at = fields.Str(required=True, validate=validate.Length(max=40), metadata=EVENT_TIME)
    timezone = fields.Str(
        required=True, validate=validate.Length(max=64), metadata={"example": "Europe/Paris"}
    )
    recurrence = fields.Str(load_default="none", validate=validate.OneOf(RECURRENCES))
    repeat_until = fields.Date(
        allow_none=True, load_default=None, metadata={"description": "Last local date (inclusive)."}
    )
    remind_minutes = fields.Int(
        strict=True, allow_none=True, load_default=None, validate=validate.Range(min=0, max=1440)
    )


class EventPatchSchema(Schema):
    title = fields.Str(validate=validate.Length(max=200))
    kind = fields.Str(validate=validate.OneOf(EVENT_KINDS))
    starts_at = fields.Str(validate=validate.Length(max=40), metadata=EVENT_TIME)
    ends_at = fields.Str(validate=validate.Length(max=40), metadata=EVENT_TIME)
    timezone = fields.Str(validate=validate.Length(max=64))
    recurrence = fields.Str(validate=validate.OneOf(RECURRENCES))
    repeat_until = fields.Date(allow_none=True)
    remind_minutes = fields.Int(strict=True, allow_none=True, validate=validate.Range(min=0, max=1440))


class EventSchema(Schema):
    id = fields.Int()
    contract_id = fields.Int()
    kind = fields.Str(metadata={"enum": list(EVENT_KINDS)})
    title = fields.Str()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    timezone = fields.Str()
    recurrence = fields.Str(metadata={"enum": list(RECURRENCES)})
    repeat_until = fields.Date(allow_none=True)
    remind_minutes = fields.Int(allow_none=True)
    created_by = fields.Int()
    created_at = fields.DateTime()


class CalendarArgs(Schema):
    start = fields.AwareDateTime(
        data_key="from", load_default=None, metadata={"description": "ISO 8601 with offset; default now."}
    )
    end = fields.AwareDateTime(
        data_key="to",
        load_default=None,
        metadata={"description": "ISO 8601 with offset; default from + 60 days (at most 366)."},
    )


class CalendarEntrySchema(Schema):
    kind = fields.Str(metadata={"enum": [*EVENT_KINDS, "milestone"]})
    title = fields.Str()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    timezone = fields.Str()
    all_day = fields.Bool()
    recurrence = fields.Str()
    event_id = fields.Int(allow_none=True)
    milestone_id = fields.Int(allow_none=True)


class CalendarSchema(Schema):
    events = fields.List(
        fields.Nested(EventSchema), metadata={"description": "The meetings and stand-ups as set."}
    )
    entries = fields.List(
        fields.Nested(CalendarEntrySchema),
        metadata={"description": "Occurrences in [from, to) with the milestones' due dates, in time order."},
    )


class FeedSchema(Schema):
    url = fields.Str(
        metadata={"description": "Your private .ics feed of this contract (no login needed; keep it secret)."}
    )


class FileUploadSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class FileFormSchema(Schema):
    milestone_id = fields.Int(allow_none=True, load_default=None)


class SharedFileSchema(Schema):
    id = fields.Str(metadata={"description": "`<source>-<id>`: unique in the list."})
    source = fields.Str(metadata={"enum": ["workroom", "message", "submission"]})
    file_id = fields.Int(
        allow_none=True, metadata={"description": "A workroom file's id (DELETE /files/{file_id})."}
    )
    filename = fields.Str()
    content_type = fields.Str()
    size = fields.Int()
    sha256 = fields.Str(allow_none=True, metadata={"description": "Known for workroom uploads."})
    uploader_id = fields.Int(allow_none=True)
    milestone_id = fields.Int(allow_none=True)
    created_at = fields.DateTime(allow_none=True)
    url = fields.Str(metadata={"description": "Signed download URL (one hour, this marketplace's host)."})
