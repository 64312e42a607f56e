"""Workroom REST API: a contract's tasks (kanban), calendar events (+ the private .ics feed's
URL) and files.

Thin: parse with a schema, call one service, serialize; the request's unit of work commits.
Refusals: 404 not a party (or the workroom not open yet), 409 the contract has ended (read-only,
``errors.current_status``), 412 a stale ``version``, 422 field errors.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import g
from flask.views import MethodView

from app.accounts import tokens
from app.core.api import Blueprint
from app.core.http import LOCATION, created
from app.storage.uploads import Upload
from app.workroom import board, calendar, files, schemas, services
from app.workroom.services import WorkroomError

blp = Blueprint(
    "workroom_api",
    __name__,
    url_prefix="/api/v1",
    description="The contract workroom: a kanban board of tasks (todo / doing / done), the calendar "
    "(meetings, stand-ups, the milestones' due dates, a private .ics feed) and the files shared "
    "in the contract. For the contract's two parties once both signed; read-only after it ends.",
)

CONTRACT = "/contracts/<int(max=2147483647):contract_id>"
DESCRIPTIONS = {
    403: "Not yours to do (a file someone else uploaded)",
    404: "Not found (or not a party of the contract)",
    409: "The contract has ended: the workroom is read-only (errors.current_status)",
    412: "The task changed since the version you sent",
    422: "Invalid fields (errors.json.<field>)",
}


auth_required = tokens.api_auth(blp, DESCRIPTIONS)


# --------------------------------------------------------------------------- tasks


@blp.route(f"{CONTRACT}/tasks")
class Tasks(MethodView):
    @auth_required(404)
    @blp.response(200, schemas.TaskSchema(many=True))
    @blp.paginate_list()
    def get(self, contract_id):
        """The board: every task, column by column (todo, doing, done), each column in order."""
        return board.list_tasks(g.api_user, contract_id)

    @auth_required(404, 409, 422)
    @blp.arguments(schemas.TaskInputSchema, example={"title": "Wireframes", "status": "todo"})
    @blp.response(201, schemas.TaskSchema, headers=LOCATION)
    def post(self, body, contract_id):
        """Add a task at the end of its column. Publishes `task.updated`; the other party's
        open workroom gets it live."""
        task = board.create_task(g.api_user, contract_id, body)
        return created(task, "workroom_api.Task", contract_id=contract_id, task_id=task.id)


@blp.route(f"{CONTRACT}/tasks/<int(max=2147483647):task_id>")
class Task(MethodView):
    @auth_required(404, 409, 412, 422)
    @blp.arguments(schemas.TaskPatchSchema, example={"title": "Wireframes v2", "version": 1})
    @blp.response(200, schemas.TaskSchema)
    def patch(self, body, contract_id, task_id):
        """Edit a task (only the fields sent; `version` guards against overwriting a change)."""
        return board.update_task(g.api_user, contract_id, task_id, body)

    @auth_required(404, 409)
    @blp.response(204)
    def delete(self, contract_id, task_id):
        """Delete a task."""
        board.delete_task(g.api_user, contract_id, task_id)


@blp.route(f"{CONTRACT}/tasks/<int(max=2147483647):task_id>/move")
class TaskMove(MethodView):
    @auth_required(404, 409, 422)
    @blp.arguments(schemas.TaskMoveSchema, example={"status": "doing", "after_id": 3})
    @blp.response(200, schemas.TaskSchema)
    def post(self, body, contract_id, task_id):
        """Move a task to a column, after or before another task or at an index (none: at the
        end). Moves by both parties are applied one after the other to the current order."""
        return board.move_task(
            g.api_user,
            contract_id,
            task_id,
            body["status"],
            after_id=body["after_id"],
            before_id=body["before_id"],
            index=body["index"],
        )


# --------------------------------------------------------------------------- calendar

MAX_WINDOW = timedelta(days=366)


@blp.route(f"{CONTRACT}/events")
class Events(MethodView):
    @auth_required(404, 422)
    @blp.arguments(schemas.CalendarArgs, location="query")
    @blp.response(200, schemas.CalendarSchema)
    def get(self, args, contract_id):
        """The meetings and stand-ups, and the calendar's entries in [from, to): each event's
        occurrences and the milestones' due dates."""
        start = args["start"] or datetime.now(UTC)
        end = args["end"] or start + timedelta(days=60)
        if end <= start or end - start > MAX_WINDOW:
            raise WorkroomError({"to": "`to` is after `from`, at most 366 days later."}, location="query")
        events = calendar.list_events(g.api_user, contract_id)
        _contract, entries = calendar.upcoming(g.api_user, contract_id, start, end)
        return {"events": events, "entries": entries}

    @auth_required(404, 409, 422)
    @blp.arguments(
        schemas.EventInputSchema,
        example={
            "title": "Daily stand-up",
            "kind": "standup",
            "starts_at": "2027-03-01T09:30",
            "ends_at": "2027-03-01T09:45",
            "timezone": "Europe/Paris",
            "recurrence": "weekdays",
            "remind_minutes": 10,
        },
    )
    @blp.response(201, schemas.EventSchema, headers=LOCATION)
    def post(self, body, contract_id):
        """Add a meeting or stand-up (at most 24 hours long; recurring daily, on weekdays or
        weekly at the same wall-clock time in its timezone)."""
        event = calendar.create_event(g.api_user, contract_id, body)
        return created(event, "workroom_api.Event", contract_id=contract_id, event_id=event.id)


@blp.route(f"{CONTRACT}/events/<int(max=2147483647):event_id>")
class Event(MethodView):
    @auth_required(404, 409, 422)
    @blp.arguments(schemas.EventPatchSchema, example={"title": "Sprint review"})
    @blp.response(200, schemas.EventSchema)
    def patch(self, body, contract_id, event_id):
        """Change an event (only the fields sent)."""
        return calendar.update_event(g.api_user, contract_id, event_id, body)

    @auth_required(404, 409)
    @blp.response(204)
    def delete(self, contract_id, event_id):
        """Delete an event."""
        calendar.delete_event(g.api_user, contract_id, event_id)


@blp.route(f"{CONTRACT}/calendar-feed")
class CalendarFeed(MethodView):
    @auth_required(404)
    @blp.response(200, schemas.FeedSchema)
    def get(self, contract_id):
        """Your private `.ics` feed URL for this contract's calendar (events with RRULE and
        VTIMEZONE, milestone due dates). It works without a login until you are no longer a party."""
        return {"url": calendar.feed_url(g.api_user, contract_id)}


# --------------------------------------------------------------------------- files


@blp.route(f"{CONTRACT}/files")
class Files(MethodView):
    @auth_required(404)
    @blp.response(200, schemas.SharedFileSchema(many=True))
    @blp.paginate_list()
    def get(self, contract_id):
        """Everything shared in the contract: workroom uploads, the conversation's attachments
        and milestone submissions, newest first, with signed download URLs."""
        return files.list_files(g.api_user, contract_id)

    @auth_required(404, 409, 422)
    @blp.arguments(schemas.FileUploadSchema, location="files")
    @blp.arguments(schemas.FileFormSchema, location="form")
    @blp.response(201, schemas.SharedFileSchema, headers=LOCATION)
    def post(self, uploaded, form, contract_id):
        """Upload a file (multipart `file`, optional `milestone_id`): PDF, images, ZIP, text,
        CSV, Markdown, Word and Excel, checked by content, up to WORKROOM_FILE_MAX_BYTES (25 MB
        by default). Its SHA-256 is computed and listed."""
        part = uploaded["file"]
        data = part.read(files.max_bytes() + 1) if hasattr(part, "read") else b""
        row = files.upload_file(
            g.api_user,
            contract_id,
            Upload(getattr(part, "filename", "") or "", getattr(part, "mimetype", "") or "", data),
            milestone_id=form.get("milestone_id"),
        )
        contract = services.open_workroom(g.api_user, contract_id)
        shared = next(f for f in files.shared_files(contract) if f.file_id == row.id)
        return created(shared, "workroom_api.File", contract_id=contract_id, file_id=row.id)


@blp.route(f"{CONTRACT}/files/<int(max=2147483647):file_id>")
class File(MethodView):
    @auth_required(403, 404, 409)
    @blp.response(204)
    def delete(self, contract_id, file_id):
        """Delete a file you uploaded to the workroom."""
        files.delete_file(g.api_user, contract_id, file_id)
