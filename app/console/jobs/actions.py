"""Console actions on jobs: each calls the jobs domain's rule and writes the audit entry in the
same transaction (the request's unit of work commits both, or rolls both back on a refusal).

The rules and every refusal live in ``app/jobs/services.py`` (templates, closing a job) and
``app/jobs/settings.py`` (matching weights); the web views and the API call only these
actions, so both are audited alike.

Audit actions (``changes`` is ``{"field": [old, new]}``):

- ``job_template.create``, ``job_template.update``, ``job_template.hide``,
  ``job_template.unhide``, ``job_template.move`` (target ``job_template``);
- ``jobs.matching_weights.update`` (target ``job_settings`` 1);
- ``job.close`` (target ``job``): the client is notified with the reason from the
  ``job.closed`` event the service publishes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.accounts.models import User
from app.console.audit import diff, record_audit
from app.jobs import services
from app.jobs import settings as job_settings
from app.jobs.models import Job, JobTemplate
from tenants.db import db

STATE_FIELDS = (*services.TEMPLATE_FIELDS, "hidden", "position")


def _state(template: JobTemplate) -> dict[str, Any]:
    """The template's fields as values (copies: the services replace lists in place of editing)."""
    return {
        field: list(value) if isinstance(value, list) else value
        for field, value in ((f, getattr(template, f)) for f in STATE_FIELDS)
    }


def create_template(actor: User, data: dict) -> JobTemplate:
    """Add a job template (``services.create_template``) and audit it."""
    template = services.create_template(data)
    record_audit(
        actor,
        "job_template.create",
        "job_template",
        template.id,
        f"Added the job template “{template.name}” ({template.key})"
        + (", hidden from clients" if template.hidden else ""),
        diff({}, _state(template)),
    )
    return template


def _action(changes: dict) -> tuple[str, str]:
    """The audit action and its verb for what changed (hide, unhide, move, or an edit)."""
    if set(changes) == {"hidden"}:
        return (
            ("job_template.hide", "Hid") if changes["hidden"][1] else ("job_template.unhide", "Offered again")
        )
    if set(changes) == {"position"}:
        return "job_template.move", "Moved"
    return "job_template.update", "Changed"


def update_template(actor: User, template_id: Any, data: dict) -> JobTemplate:
    """Change a template's fields, hide or offer it again (``hidden``) and move it
    (``position``), any of them at once, audited as one entry. Raises as the services do
    (TemplateNotFound 404, JobError 422); nothing is kept then."""
    template = services.get_any_template(template_id)
    before = _state(template)
    content = {field: data[field] for field in services.TEMPLATE_FIELDS if field in data}
    if content:
        services.update_template(template.id, content)
    if "hidden" in data:
        services.set_template_hidden(template.id, data["hidden"])
    if "position" in data:
        services.move_template(template.id, data["position"])
    changes = diff(before, _state(template))
    if changes:
        action, verb = _action(changes)
        detail = f" to position {template.position + 1}" if action == "job_template.move" else ""
        if action == "job_template.update":
            detail = ": " + ", ".join(sorted(changes))
        record_audit(
            actor,
            action,
            "job_template",
            template.id,
            f"{verb} the job template “{template.name}” ({template.key}){detail}",
            changes,
        )
    return template


def update_matching_weights(actor: User, data: dict) -> dict:
    """Save matching weights (``settings.update_matching_weights``), audited as
    ``jobs.matching_weights.update``. Raises JobError with field errors by term."""
    _weights, changes = job_settings.update_matching_weights(data)
    if changes:
        record_audit(
            actor,
            "jobs.matching_weights.update",
            "job_settings",
            1,
            "Matching weights changed: "
            + ", ".join(f"{key.split('.', 1)[1]} {old:g} → {new:g}" for key, (old, new) in changes.items()),
            changes,
        )
    return _weights


def _who(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return f"{user.display_name} <{user.email}>" if user is not None else "a deleted account"


def close_job(actor: User, job_id: Any, reason: Any, *, now: datetime) -> Job:
    """Close an open job with a reason (``services.operator_close_job``: the client is told)
    and audit it. Raises JobForbidden, JobError (reason), JobNotFound, JobStateError (409)."""
    job = services.operator_close_job(actor, job_id, reason, now=now)
    record_audit(
        actor,
        "job.close",
        "job",
        job.id,
        f"Closed job #{job.id} “{job.title}” of {_who(job.client_id)}: {job.closed_reason}",
        {"status": ["open", job.status], "closed_reason": [None, job.closed_reason]},
    )
    return job
