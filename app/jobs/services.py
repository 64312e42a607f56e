"""Jobs: posting (blank or from a template), editing, publishing, closing; attachments;
browsing and keyword search; templates; invites.

Every function takes the acting user and, where time matters, ``now``; it flushes and never
commits (the request or job commits once). Refusals are ``JobError`` subclasses: 404 unknown
or not visible to you, 403 not yours, 409 not possible in the job's current status (``extra``
names ``current_status``), 422 field errors.

State machine (``JOB_TRANSITIONS``, consulted by ``_move``):

| from | to | who | event |
| --- | --- | --- | --- |
| draft | open | the client (``publish_job``) | ``job.posted`` ``{"job_id"}`` |
| draft, open | cancelled | the client (``close_job``) | ``job.closed`` (from open) |
| open | cancelled | an operator, with a reason (``operator_close_job``) | ``job.closed`` |
| open | in_progress | contracts (``hire_for_job``: an offer accepted) | ``job.filled`` |
| in_progress | open | contracts (``reopen_job``: the contract was called off before it started) | |
| in_progress | completed | contracts (``complete_job``: the contract ended) | |

Search: jobs use PostgreSQL full-text search (the generated ``jobs.search_document`` and a
GIN index limited to open jobs), not the per-tenant Whoosh index of gigs. Why: job search
filters mostly on structured columns (status, visibility, skills, budget, date) that the
database indexes already; jobs change state often (a post closes when hired), and a
second index would need its own event handlers and rebuilds to stay in step with every
transition. ``browse_jobs`` is the one query; a Whoosh backend can come behind it later.

Events (outbox, ``app.events.publish``), documented where published:

- ``job.posted`` ``{"job_id"}``: a job was published (draft -> open);
- ``job.invite_sent`` ``{"invite_id", "job_id", "freelancer_id"}``: a client invited a
  freelancer (``app.notifications.events`` tells the freelancer);
- ``job.updated`` ``{"job_id"}``: the client edited an open job (the home page and partners'
  webhooks follow it);
- ``job.closed`` ``{"job_id", "by_operator"}``: an open job was closed, by its client
  (``"by_operator": false``) or by an operator (``true``, with ``"reason"``:
  ``app.notifications.events`` tells the client, with the reason);
- ``job.filled`` ``{"job_id", "proposal_id"}``: a contract on the job was accepted.

Attachments (specs, mockups, datasets): the client adds and removes them while the job is a
draft or open; types, sizes, counts and download URLs are ``app.jobs.attachments``'.

Templates (the operator's, through the console): ``create_template``, ``update_template``,
``set_template_hidden``, ``move_template``; ``clean_template`` checks every field at once. A
hidden template is never offered to clients (``list_templates``, ``get_template``).
"""

from __future__ import annotations

import contextlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.accounts.models import SellerProfile, User
from app.accounts.services import require_verified, users_by_id  # noqa: F401  (users_by_id re-exported)
from app.core import pagination
from app.core.after_commit import on_commit
from app.core.domain_errors import Conflict, DomainError, Forbidden, NotFound
from app.core.text import strip_controls
from app.events import publish
from app.extensions import redis_store
from app.gigs.models import Category
from app.gigs.text import looks_like_markup, render_description
from app.jobs import attachments
from app.jobs.models import (
    BUDGET_TYPES,
    DURATIONS,
    EXPERIENCE_LEVELS,
    MAX_JOB_ATTACHMENTS,
    MAX_MILESTONES,
    MAX_QUESTIONS,
    MAX_SKILLS,
    TITLE_MAX,
    TITLE_MIN,
    VISIBILITIES,
    Job,
    JobAttachment,
    JobInvite,
    JobTemplate,
    Proposal,
)
from app.settings.services import get_branding
from app.storage.uploads import Upload
from tenants.db import current_tenant, db

DESCRIPTION_MAX = 10_000
QUESTION_MAX = 300
SKILL_MAX = 40
MAX_BUDGET_MINOR = 100_000_000_000  # a billion in a two-decimal currency: beyond any job
MAX_RATE_MINOR = 10_000_000
INVITE_DAYS = 14
INVITE_MESSAGE_MAX = 1000

DURATION_LABELS = {
    "under_1_week": "Less than a week",
    "1_to_4_weeks": "1 to 4 weeks",
    "1_to_3_months": "1 to 3 months",
    "3_to_6_months": "3 to 6 months",
    "over_6_months": "More than 6 months",
}
EXPERIENCE_LABELS = {"entry": "Entry", "intermediate": "Intermediate", "expert": "Expert"}
STATUS_LABELS = {
    "draft": "Draft",
    "open": "Open",
    "in_progress": "In progress",
    "completed": "Completed",
    "cancelled": "Closed",
}

# (from, to) -> who may take the step. Services consult it; a refused step is a 409.
JOB_TRANSITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("draft", "open"): ("client",),
    ("draft", "cancelled"): ("client",),
    ("open", "cancelled"): ("client", "operator"),
    ("open", "in_progress"): ("contracts",),
    ("in_progress", "open"): ("contracts",),
    ("in_progress", "completed"): ("contracts",),
    ("in_progress", "cancelled"): ("contracts",),
}
OPERATOR_ROLES = ("admin", "moderator")
CLOSE_REASON_MIN, CLOSE_REASON_MAX = 5, 1000  # jobs.closed_reason is varchar(1000)
EDITABLE_STATUSES = ("draft", "open")


class JobError(DomainError):
    code = "job_invalid"


class JobNotFound(NotFound):
    code = "job_not_found"


class JobForbidden(Forbidden):
    code = "job_forbidden"


class JobStateError(Conflict):
    code = "job_state"


def _state_error(job: Job, action: str) -> JobStateError:
    return JobStateError(
        f"This job is {STATUS_LABELS[job.status].lower()}: it cannot be {action}.",
        extra={"current_status": job.status},
    )


def _move(job: Job, to: str, action: str, who: str = "client") -> None:
    if who not in JOB_TRANSITIONS.get((job.status, to), ()):
        raise _state_error(job, action)
    job.status = to


# --------------------------------------------------------------------------- templates


def list_templates(*, include_hidden: bool = False) -> list[JobTemplate]:
    """The marketplace's job templates in their order (hidden ones only for the operator)."""
    query = sa.select(JobTemplate).order_by(JobTemplate.position, JobTemplate.id)
    if not include_hidden:
        query = query.where(JobTemplate.hidden.is_(False))
    return list(db.session.scalars(query))


def get_template(template_id: Any) -> JobTemplate:
    """A visible template; raises JobError (field ``template_id``) for an unknown or hidden one."""
    template = db.session.get(JobTemplate, template_id) if _is_int(template_id) else None
    if template is None or template.hidden:
        raise JobError({"template_id": "Choose one of the templates offered."})
    return template


def template_prefill(template: JobTemplate) -> dict:
    """The job fields a template fills in: title, description (scope and milestones) and skills."""
    lines = [template.scope, "", "## Milestones", ""]
    for n, milestone in enumerate(template.milestones, 1):
        lines.append(
            f"{n}. **{milestone['title']}** ({milestone['share_percent']} %): {milestone['deliverable']}"
        )
        lines.extend(f"   - {item}" for item in milestone.get("dod", []))
    return {
        "title": f"{template.name} project",
        "description": "\n".join(lines),
        "skills": list(template.skills),
        "budget_type": template.budget_type,
        "duration": template.duration or "1_to_4_weeks",
    }


# --------------------------------------------------------------------------- cleaning input


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any, field: str, errors: dict, *, label: str, max_len: int, min_len: int = 0) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = f"{label} must be text."
        return ""
    value = strip_controls(value.replace("\r\n", "\n")).strip()
    if len(value) < min_len:
        errors[field] = (
            f"{label} is required." if not value else f"{label} needs at least {min_len} characters."
        )
    elif len(value) > max_len:
        errors[field] = f"{label} can be at most {max_len:,} characters."
    return value


def clean_skills(value: Any, errors: dict, field: str = "skills") -> list[str]:
    """Skills as lower-case tags, without duplicates; a list or a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        errors[field] = "Skills must be a list of words."
        return []
    skills: list[str] = []
    for raw in value:
        skill = re.sub(r"\s+", " ", strip_controls(raw)).strip().lower()
        if not skill or skill in skills:
            continue
        if len(skill) > SKILL_MAX or looks_like_markup(skill):
            errors[field] = f"Each skill is plain text of at most {SKILL_MAX} characters."
            return []
        skills.append(skill)
    if len(skills) > MAX_SKILLS:
        errors[field] = f"Name at most {MAX_SKILLS} skills."
    return skills


def _amount(value: Any, field: str, errors: dict, *, label: str, maximum: int) -> int | None:
    if value is None:
        errors[field] = f"{label} is required."
        return None
    if not _is_int(value):
        errors[field] = f"{label} must be a whole number of minor units."
        return None
    if value <= 0:
        errors[field] = f"{label} must be more than zero."
        return None
    if value > maximum:
        errors[field] = f"{label} is too large."
        return None
    return value


def _choice(value: Any, field: str, errors: dict, choices: Iterable[str], label: str) -> str | None:
    if value not in tuple(choices):
        errors[field] = f"Choose a {label}."
        return None
    return value


def _bool(value: Any, field: str, errors: dict) -> bool:
    if not isinstance(value, bool):
        errors[field] = "Must be true or false."
        return False
    return value


def _category(value: Any, errors: dict) -> int | None:
    if value is None:
        return None
    category = db.session.get(Category, value) if _is_int(value) else None
    if category is None or not category.is_visible:
        errors["category_id"] = "Choose one of the categories offered."
        return None
    return category.id


def _questions(value: Any, errors: dict) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors["screening_questions"] = "Screening questions must be a list."
        return []
    questions = []
    for i, raw in enumerate(value):
        text = _text(raw, f"screening_questions.{i}", errors, label="A question", max_len=QUESTION_MAX)
        if text:
            questions.append(text)
    if len(questions) > MAX_QUESTIONS:
        errors["screening_questions"] = f"Ask at most {MAX_QUESTIONS} screening questions."
    return questions


DEFAULTS = {
    "description": "",
    "category_id": None,
    "skills": [],
    "visibility": "public",
    "nda_required": False,
    "ip_assignment": True,
    "screening_questions": [],
}


def clean_job(data: dict) -> dict:
    """The job fields of ``data`` checked and cleaned; raises JobError with every field error.

    Budgets: ``fixed`` needs ``budget_min_minor`` <= ``budget_max_minor``, both > 0;
    ``hourly`` needs ``rate_min_minor`` <= ``rate_max_minor`` (> 0) and ``hours_per_week``
    (1-80). The other type's amounts must be absent.
    """
    data = {**DEFAULTS, **{k: v for k, v in data.items() if v is not None or k in ("category_id",)}}
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    clean["title"] = _text(
        data.get("title"), "title", errors, label="The title", max_len=TITLE_MAX, min_len=TITLE_MIN
    )
    if clean["title"] and looks_like_markup(clean["title"]):
        errors["title"] = "The title is plain text: no HTML tags or entities."
    clean["description_source"] = _text(
        data.get("description"),
        "description",
        errors,
        label="The description",
        max_len=DESCRIPTION_MAX,
        min_len=30,
    )
    clean["category_id"] = _category(data.get("category_id"), errors)
    clean["skills"] = clean_skills(data.get("skills"), errors)
    clean["budget_type"] = _choice(
        data.get("budget_type"), "budget_type", errors, BUDGET_TYPES, "budget type"
    )
    clean["duration"] = _choice(data.get("duration"), "duration", errors, DURATIONS, "duration")
    clean["experience_level"] = _choice(
        data.get("experience_level"), "experience_level", errors, EXPERIENCE_LEVELS, "level of experience"
    )
    clean["visibility"] = _choice(data.get("visibility"), "visibility", errors, VISIBILITIES, "visibility")
    clean["nda_required"] = _bool(data.get("nda_required"), "nda_required", errors)
    clean["ip_assignment"] = _bool(data.get("ip_assignment"), "ip_assignment", errors)
    clean["screening_questions"] = _questions(data.get("screening_questions"), errors)
    for field in (
        "budget_min_minor",
        "budget_max_minor",
        "rate_min_minor",
        "rate_max_minor",
        "hours_per_week",
    ):
        clean[field] = None
    if clean["budget_type"] == "fixed":
        low = _amount(
            data.get("budget_min_minor"),
            "budget_min_minor",
            errors,
            label="The lowest budget",
            maximum=MAX_BUDGET_MINOR,
        )
        high = _amount(
            data.get("budget_max_minor"),
            "budget_max_minor",
            errors,
            label="The highest budget",
            maximum=MAX_BUDGET_MINOR,
        )
        if low and high and high < low:
            errors["budget_max_minor"] = "The highest budget cannot be below the lowest."
        clean.update(budget_min_minor=low, budget_max_minor=high)
        for field in ("rate_min_minor", "rate_max_minor", "hours_per_week"):
            if data.get(field) is not None:
                errors[field] = "A fixed-price job has no hourly rate or hours."
    elif clean["budget_type"] == "hourly":
        low = _amount(
            data.get("rate_min_minor"),
            "rate_min_minor",
            errors,
            label="The lowest rate",
            maximum=MAX_RATE_MINOR,
        )
        high = _amount(
            data.get("rate_max_minor"),
            "rate_max_minor",
            errors,
            label="The highest rate",
            maximum=MAX_RATE_MINOR,
        )
        if low and high and high < low:
            errors["rate_max_minor"] = "The highest rate cannot be below the lowest."
        hours = data.get("hours_per_week")
        if not _is_int(hours) or not 1 <= hours <= 80:
            errors["hours_per_week"] = "Expected hours per week: a whole number from 1 to 80."
            hours = None
        clean.update(rate_min_minor=low, rate_max_minor=high, hours_per_week=hours)
        for field in ("budget_min_minor", "budget_max_minor"):
            if data.get(field) is not None:
                errors[field] = "An hourly job has a rate range, not a fixed budget."
    if errors:
        raise JobError(errors)
    clean["description_html"] = render_description(clean["description_source"])
    return clean


# --------------------------------------------------------------------------- posting


def post_job(
    client: User,
    data: dict,
    *,
    template_id: int | None = None,
    publish_now: bool = False,
    now: datetime,
    files: Sequence[Upload] = (),
) -> Job:
    """Create a job as a draft (or open it at once with ``publish_now``), with its ``files``.

    With ``template_id`` the template's fields fill whatever ``data`` leaves out (title,
    description, skills, budget type, duration). Raises JobError (422) for bad fields or an
    unknown template, and for refused files (field ``files``, together with the other fields'
    errors; see ``app.jobs.attachments``), EmailUnverified (403) for an unverified client.
    Nothing is stored when it raises.
    """
    require_verified(client)
    file_error = None
    checked: list[Upload] = []
    try:
        checked = attachments.check_files(files, existing=0, limit=MAX_JOB_ATTACHMENTS)
    except attachments.AttachmentError as exc:
        file_error = exc
    try:
        if template_id is not None:
            template = get_template(template_id)
            data = {
                **template_prefill(template),
                **{k: v for k, v in data.items() if v not in (None, "", [])},
            }
        clean = clean_job(data)
    except JobError as exc:
        if file_error is None:
            raise
        raise JobError({**exc.errors, **file_error.errors}) from None
    if file_error is not None:
        raise file_error
    job = Job(
        client_id=client.id,
        currency=get_branding().currency,
        status="draft",
        template_id=template_id,
        attachments=[],
        **clean,
    )
    db.session.add(job)
    db.session.flush()
    job.attachments.extend(attachments.store(checked, owner="job", uploader_id=client.id, now=now))
    db.session.flush()
    if publish_now:
        _publish(job, now)
    return job


def get_own_job(client: User, job_id: int) -> Job:
    """The client's own job; JobNotFound (404) unknown, JobForbidden (403) someone else's."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise JobNotFound("This job does not exist.")
    if client is None or job.client_id != client.id:
        raise JobForbidden("This is not your job.")
    return job


def edit_job(client: User, job_id: int, data: dict, *, now: datetime) -> Job:
    """Change a draft or open job (all fields at once). Raises as ``clean_job``; 409 once hired or closed."""
    job = get_own_job(client, job_id)
    if job.status not in EDITABLE_STATUSES:
        raise _state_error(job, "edited")
    for field, value in clean_job(data).items():
        setattr(job, field, value)
    job.updated_at = now
    db.session.flush()
    if job.status == "open":
        publish("job.updated", {"job_id": job.id})
        forget_skill_vocabulary()
    return job


def _publish(job: Job, now: datetime) -> None:
    _move(job, "open", "published")
    job.published_at = now
    db.session.flush()
    publish("job.posted", {"job_id": job.id})
    forget_skill_vocabulary()


VOCABULARY_SECONDS = 300


def _vocabulary_key() -> str:
    return f"t:{current_tenant().id}:jobs:skill-vocabulary"


def skill_vocabulary() -> list[str]:
    """Every skill an open public job names (lower-case): what "jobs matching my skills" looks
    for in a freelancer's portfolio. Kept in Redis per tenant for ``VOCABULARY_SECONDS`` and
    forgotten when a job opens or is edited; a Redis outage only costs the cache."""
    key = _vocabulary_key()
    try:
        raw = redis_store.client.get(key)
    except redis.RedisError:
        raw = None
    if raw is not None:
        with contextlib.suppress(ValueError, TypeError):
            return [str(s) for s in json.loads(raw)]
    skill = sa.func.unnest(Job.skills)
    vocabulary = sorted(
        db.session.scalars(
            sa.select(skill).where(Job.status == "open", Job.visibility == "public").distinct()
        )
    )
    with contextlib.suppress(redis.RedisError):
        redis_store.client.set(key, json.dumps(vocabulary), ex=VOCABULARY_SECONDS)
    return vocabulary


def forget_skill_vocabulary() -> None:
    """After the commit: the next "jobs matching my skills" reads the vocabulary afresh."""
    key = _vocabulary_key()

    def forget() -> None:
        with contextlib.suppress(redis.RedisError):
            redis_store.client.delete(key)

    on_commit(forget)


def publish_job(client: User, job_id: int, *, now: datetime) -> Job:
    """Open a draft to proposals (``job.posted``). 409 unless it is a draft."""
    require_verified(client)
    job = get_own_job(client, job_id)
    _publish(job, now)
    return job


def close_job(client: User, job_id: int, *, now: datetime) -> Job:
    """Close (cancel) a draft or open job: no more proposals. 409 once hired, completed or closed."""
    job = get_own_job(client, job_id)
    was_open = job.status == "open"
    _move(job, "cancelled", "closed")
    job.closed_at = now
    db.session.flush()
    if was_open:  # a draft was never public: nobody was told of it
        publish("job.closed", {"job_id": job.id, "by_operator": False})
    return job


def _lock_own_job(client: User, job_id: int) -> Job:
    job = get_own_job(client, job_id)
    db.session.refresh(job, with_for_update=True)  # concurrent uploads count one after the other
    return job


def add_job_attachments(
    client: User, job_id: int, files: Sequence[Upload], *, now: datetime
) -> list[JobAttachment]:
    """Attach files to the client's draft or open job; returns the new attachments.

    Raises JobNotFound (404), JobForbidden (403) not the client, JobStateError (409) once hired
    or closed, AttachmentError (422: no file, a forbidden type or content that is not what its
    type claims, an empty or too large file, more than MAX_JOB_ATTACHMENTS in all). Nothing is
    stored when it raises.
    """
    job = _lock_own_job(client, job_id)
    if job.status not in EDITABLE_STATUSES:
        raise _state_error(job, "edited")
    if not files:
        raise attachments.AttachmentError("Choose a file to attach.", code="no_file")
    checked = attachments.check_files(files, existing=len(job.attachments), limit=MAX_JOB_ATTACHMENTS)
    added = attachments.store(checked, owner="job", uploader_id=client.id, now=now)
    job.attachments.extend(added)
    job.updated_at = now
    db.session.flush()
    return added


def remove_job_attachment(client: User, job_id: int, attachment_id: int, *, now: datetime) -> Job:
    """Remove a file from the client's draft or open job (the stored file is deleted after the
    commit). Raises JobNotFound / NotFound (404, code ``attachment_not_found``), JobForbidden
    (403), JobStateError (409)."""
    job = _lock_own_job(client, job_id)
    attachment = attachments.find(job.attachments, attachment_id)
    if attachment is None:
        raise NotFound("This attachment does not exist.", code="attachment_not_found")
    if job.status not in EDITABLE_STATUSES:
        raise _state_error(job, "edited")
    job.attachments.remove(attachment)
    attachments.forget(attachment)
    job.updated_at = now
    db.session.flush()
    return job


def list_my_jobs(
    client: User,
    *,
    status: str | None = None,
    page: int = 1,
    per_page: int = 20,
    window: pagination.Window | None = None,
) -> tuple[list[Job], int]:
    """The client's jobs, newest first, with their total (from the API, from its cursor and
    inside its created range)."""
    in_window = pagination.where(window, Job.created_at, Job.id, created=Job.created_at)
    query = sa.select(Job).where(Job.client_id == client.id, *in_window)
    if status:
        query = query.where(Job.status == status)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    jobs = db.session.scalars(
        query.order_by(Job.created_at.desc(), Job.id.desc()).limit(per_page).offset((page - 1) * per_page)
    )
    return list(jobs), total


def proposal_counts(job_ids: list[int]) -> dict[int, int]:
    """Live proposals per job (for lists)."""
    if not job_ids:
        return {}
    rows = db.session.execute(
        sa.select(Proposal.job_id, sa.func.count())
        .where(Proposal.job_id.in_(job_ids), Proposal.status.in_(("submitted", "shortlisted", "hired")))
        .group_by(Proposal.job_id)
    )
    return dict(rows.all())


def can_view(viewer: User | None, job: Job) -> bool:
    """Who sees a job: its client always; others an open or filled public job, and an invite-only
    one only with an invite or a proposal of theirs."""
    if viewer is not None and viewer.id == job.client_id:
        return True
    if job.status == "draft":
        return False
    if job.visibility == "public":
        return True
    if viewer is None:
        return False
    invited = db.session.scalar(
        sa.select(sa.func.count()).where(JobInvite.job_id == job.id, JobInvite.freelancer_id == viewer.id)
    )
    proposed = db.session.scalar(
        sa.select(sa.func.count()).where(Proposal.job_id == job.id, Proposal.freelancer_id == viewer.id)
    )
    return bool(invited or proposed)


def get_job(viewer: User | None, job_id: int) -> Job:
    """A job the viewer may see; JobNotFound (404) otherwise (a draft or an invite-only job
    stays invisible rather than forbidden, so its existence is not told)."""
    job = db.session.get(Job, job_id)
    if job is None or not can_view(viewer, job):
        raise JobNotFound("This job does not exist.")
    return job


# --------------------------------------------------------------------------- what contracts do to jobs


def lock_job(job_id: int) -> Job:
    """The job, locked FOR UPDATE (contracts hire one freelancer at a time). JobNotFound."""
    job = db.session.scalar(
        sa.select(Job).where(Job.id == job_id).with_for_update().execution_options(populate_existing=True)
    )
    if job is None:
        raise JobNotFound("This job does not exist.")
    return job


def hire_for_job(job_id: int, proposal_id: int | None, *, now: datetime) -> Job:
    """A contract on the job was accepted: open -> in progress; publishes ``job.filled``
    (``app.notifications.events`` tells the other live proposals). 409 when not open."""
    job = lock_job(job_id)
    _move(job, "in_progress", "filled", who="contracts")
    job.updated_at = now
    db.session.flush()
    publish("job.filled", {"job_id": job.id, "proposal_id": proposal_id})
    return job


def reopen_job(job_id: int, *, now: datetime) -> Job:
    """The job's contract was called off before it started: in progress -> open again."""
    job = lock_job(job_id)
    if job.status == "in_progress":
        _move(job, "open", "reopened", who="contracts")
        job.updated_at = now
        db.session.flush()
    return job


def complete_job(job_id: int, *, now: datetime) -> Job:
    """The job's contract ended: in progress -> completed (idempotent)."""
    job = lock_job(job_id)
    if job.status == "in_progress":
        _move(job, "completed", "completed", who="contracts")
        job.closed_at = now
        db.session.flush()
    return job


# --------------------------------------------------------------------------- browsing


def _open_public_conditions() -> list:
    return [Job.status == "open", Job.visibility == "public"]


def page_by_ids(
    ids_query: sa.Select, count_query: sa.Select, *, page: int, per_page: int
) -> tuple[list[Job], list[Any], int]:
    """A page of jobs from a query of ``Job.id``, a sort value and the sort's own
    ``count() over ()`` as ``total``: one pass over the matches gives the page's ids and the
    total (a query that must read every match to order them, read once rather than once more
    to count them); then the page's jobs. Returns the jobs in order, each row's sort value and
    the total (``count_query`` only for a page past the end, which returns no row to read it from).
    """
    rows = db.session.execute(ids_query.limit(per_page).offset((page - 1) * per_page)).all()
    if rows:
        total = rows[0].total
    elif page > 1:
        total = db.session.scalar(count_query)
    else:
        total = 0
    jobs = jobs_by_id(row.id for row in rows)
    return [jobs[row.id] for row in rows], [row.value for row in rows], total


def browse_jobs(
    *,
    q: str | None = None,
    category_id: int | None = None,
    skills: list[str] | None = None,
    budget_type: str | None = None,
    budget_min_minor: int | None = None,
    budget_max_minor: int | None = None,
    posted_within_days: int | None = None,
    page: int = 1,
    per_page: int = 20,
    now: datetime,
) -> tuple[list[Job], int]:
    """Open public jobs matching the filters, best keyword match first (newest without a keyword).

    ``skills``: jobs naming any of them; budget range: a fixed job's range (or an hourly job's
    rate range) overlaps [min, max]; ``category_id`` includes its subcategories.

    Plans (docs/benchmarks.md, jobs at 50,000): without a keyword the page walks
    ``ix_jobs_public_open_published_at`` newest first and the total is counted apart (from that
    index alone when there is no other filter); with one, the matches (GIN ``ix_jobs_open_search``)
    are ranked and counted in the same pass and the page's jobs loaded by id.
    """
    conditions = _open_public_conditions()
    if category_id is not None:
        children = sa.select(Category.id).where(Category.parent_id == category_id)
        conditions.append(sa.or_(Job.category_id == category_id, Job.category_id.in_(children)))
    wanted = clean_skills(skills or [], {})
    if wanted:
        conditions.append(Job.skills.overlap(sa.cast(wanted, Job.skills.type)))
    if budget_type:
        conditions.append(Job.budget_type == budget_type)
    low_col = sa.func.coalesce(Job.budget_min_minor, Job.rate_min_minor)
    high_col = sa.func.coalesce(Job.budget_max_minor, Job.rate_max_minor)
    if budget_min_minor is not None:
        conditions.append(high_col >= budget_min_minor)
    if budget_max_minor is not None:
        conditions.append(low_col <= budget_max_minor)
    if posted_within_days:
        conditions.append(Job.published_at >= now - timedelta(days=posted_within_days))
    text = strip_controls(q or "").strip()[:200]
    if text:
        tsquery = sa.func.websearch_to_tsquery(sa.literal_column("'english'::regconfig"), text)
        conditions.append(Job.search_document.op("@@")(tsquery))
    count_query = sa.select(sa.func.count()).select_from(Job).where(*conditions)
    if not text:
        total = db.session.scalar(count_query)
        jobs = db.session.scalars(
            sa.select(Job)
            .where(*conditions)
            .order_by(Job.published_at.desc(), Job.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        return list(jobs), total
    rank = sa.func.ts_rank(Job.search_document, tsquery)
    ids_query = (
        sa.select(Job.id, rank.label("value"), sa.func.count().over().label("total"))
        .where(*conditions)
        .order_by(rank.desc(), Job.published_at.desc(), Job.id.desc())
    )
    jobs, _ranks, total = page_by_ids(ids_query, count_query, page=page, per_page=per_page)
    return jobs, total


def freelancer_skills(user: User) -> list[str]:
    profile = db.session.get(SellerProfile, user.id) if user is not None else None
    return clean_skills(list(profile.skills), {}) if profile is not None else []


# --------------------------------------------------------------------------- invites


class InviteStateError(Conflict):
    code = "invite_state"


def send_invite(
    client: User, job_id: int, freelancer_id: Any, message: str = "", *, now: datetime
) -> JobInvite:
    """Invite a seller to apply to the client's open (or draft-to-be-open) job.

    Publishes ``job.invite_sent``. Raises JobError (422) for someone who is not an active
    seller or the client themself, a second invite of the same person (409), a job not open (409).
    """
    require_verified(client)
    job = get_own_job(client, job_id)
    if job.status != "open":
        raise _state_error(job, "offered to freelancers")
    freelancer = db.session.get(User, freelancer_id) if _is_int(freelancer_id) else None
    if freelancer is None or not freelancer.is_active or not freelancer.is_seller:
        raise JobError({"freelancer_id": "Invite a freelancer of this marketplace."})
    if freelancer.id == client.id:
        raise JobError({"freelancer_id": "You cannot invite yourself."})
    errors: dict[str, str] = {}
    text = _text(message, "message", errors, label="The message", max_len=INVITE_MESSAGE_MAX)
    if errors:
        raise JobError(errors)
    exists = db.session.scalar(
        sa.select(JobInvite).where(JobInvite.job_id == job.id, JobInvite.freelancer_id == freelancer.id)
    )
    if exists is not None:
        raise InviteStateError(
            "This freelancer was already invited to this job.",
            extra={"current_status": exists.effective_status(now)},
        )
    invite = JobInvite(
        job_id=job.id,
        freelancer_id=freelancer.id,
        message=text,
        status="sent",
        expires_at=now + timedelta(days=INVITE_DAYS),
    )
    db.session.add(invite)
    db.session.flush()
    publish("job.invite_sent", {"invite_id": invite.id, "job_id": job.id, "freelancer_id": freelancer.id})
    return invite


def get_invite(user: User, invite_id: int) -> JobInvite:
    """An invite the user sent (as the job's client) or received; 404 otherwise."""
    invite = db.session.get(JobInvite, invite_id)
    if invite is None or user is None:
        raise NotFound("This invite does not exist.", code="invite_not_found")
    job = db.session.get(Job, invite.job_id)
    if user.id not in (invite.freelancer_id, job.client_id):
        raise NotFound("This invite does not exist.", code="invite_not_found")
    return invite


def respond_to_invite(freelancer: User, invite_id: int, *, accept: bool, now: datetime) -> JobInvite:
    """The invited freelancer accepts (then applies with a proposal) or declines.

    409 (``current_status``) once answered or expired, or when the job is no longer open;
    403 for the job's client.
    """
    invite = get_invite(freelancer, invite_id)
    if invite.freelancer_id != freelancer.id:
        raise Forbidden("Only the invited freelancer answers an invite.", code="invite_forbidden")
    status = invite.effective_status(now)
    if status != "sent":
        raise InviteStateError(
            f"This invite is {status}: it cannot be answered.", extra={"current_status": status}
        )
    job = db.session.get(Job, invite.job_id)
    if accept and job.status != "open":
        raise _state_error(job, "applied to")
    invite.status = "accepted" if accept else "declined"
    invite.responded_at = now
    db.session.flush()
    return invite


def list_invites(user: User, *, job_id: int | None = None) -> list[JobInvite]:
    """Invites the user received, or those of one of the user's jobs (``job_id``), newest first."""
    if job_id is not None:
        job = get_own_job(user, job_id)
        query = sa.select(JobInvite).where(JobInvite.job_id == job.id)
    else:
        query = sa.select(JobInvite).where(JobInvite.freelancer_id == user.id)
    return list(db.session.scalars(query.order_by(JobInvite.created_at.desc(), JobInvite.id.desc())))


def jobs_by_id(ids: Iterable[int]) -> dict[int, Job]:
    ids = list(set(ids))
    if not ids:
        return {}
    return {job.id: job for job in db.session.scalars(sa.select(Job).where(Job.id.in_(ids)))}


# --------------------------------------------------------------------------- templates: the operator's

TEMPLATE_NAME_MIN, TEMPLATE_NAME_MAX = 2, 80
TEMPLATE_SUMMARY_MAX = 300
TEMPLATE_SCOPE_MIN, TEMPLATE_SCOPE_MAX = 20, 3000
TEMPLATE_MILESTONE_TITLE_MAX = 80
TEMPLATE_DELIVERABLE_MAX = 200
TEMPLATE_DOD_ITEMS, TEMPLATE_DOD_ITEM_MAX = 10, 150
TEMPLATE_KEY_MAX = 40
TEMPLATE_FIELDS = ("name", "summary", "scope", "skills", "budget_type", "duration", "milestones")


class TemplateNotFound(NotFound):
    code = "job_template_not_found"


class TemplateConflict(Conflict):
    code = "job_template_conflict"


def get_any_template(template_id: Any) -> JobTemplate:
    """A template of this marketplace, hidden or not (the operator's view); TemplateNotFound (404)."""
    template = db.session.get(JobTemplate, template_id) if _is_int(template_id) else None
    if template is None:
        raise TemplateNotFound("This job template does not exist.")
    return template


def _dod(value: Any, field: str, errors: dict) -> list[str]:
    """A Definition-of-Done checklist: a list of items, or text with one item per line."""
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list):
        errors[field] = "The Definition of Done is a list of items."
        return []
    items: list[str] = []
    for raw in value:
        item = _text(raw, field, errors, label="A Definition-of-Done item", max_len=TEMPLATE_DOD_ITEM_MAX)
        if item:
            items.append(item)
    if not items and field not in errors:
        errors[field] = "Give at least one Definition-of-Done item: how the client checks the milestone."
    elif len(items) > TEMPLATE_DOD_ITEMS:
        errors[field] = f"At most {TEMPLATE_DOD_ITEMS} Definition-of-Done items per milestone."
    return items


def _template_milestones(value: Any, errors: dict) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        errors["milestones"] = "Milestones are a list of {title, deliverable, dod, share_percent}."
        return []
    if not value:
        errors["milestones"] = "Give at least one milestone."
        return []
    if len(value) > MAX_MILESTONES:
        errors["milestones"] = f"At most {MAX_MILESTONES} milestones."
        return []
    milestones = []
    for i, raw in enumerate(value):
        title = _text(
            raw.get("title"),
            f"milestones.{i}.title",
            errors,
            label="The milestone's title",
            max_len=TEMPLATE_MILESTONE_TITLE_MAX,
            min_len=1,
        )
        deliverable = _text(
            raw.get("deliverable"),
            f"milestones.{i}.deliverable",
            errors,
            label="The deliverable",
            max_len=TEMPLATE_DELIVERABLE_MAX,
            min_len=1,
        )
        dod = _dod(raw.get("dod"), f"milestones.{i}.dod", errors)
        share = raw.get("share_percent")
        if not _is_int(share) or not 1 <= share <= 100:
            errors[f"milestones.{i}.share_percent"] = "The share is a whole percent from 1 to 100."
            share = None
        milestones.append({"title": title, "deliverable": deliverable, "dod": dod, "share_percent": share})
    shares = [m["share_percent"] for m in milestones]
    if None not in shares and sum(shares) != 100:
        errors["milestones"] = (
            f"The milestones' shares must add up to 100 % (they add up to {sum(shares)} %)."
        )
    return milestones


def clean_template(data: dict) -> dict:
    """The template fields of ``data`` (all of ``TEMPLATE_FIELDS``) checked and cleaned; raises
    JobError with every field error at once (``milestones.1.share_percent`` ...).

    Name 2-80 characters of plain text; summary up to 300; scope 20-3,000; skills as for jobs;
    budget type fixed or hourly; duration one of ``DURATIONS`` or none; 1-10 milestones, each
    with a title, a deliverable, 1-10 Definition-of-Done items and a whole-percent share, the
    shares adding up to 100. The job description a template fills in must fit a job.
    """
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    clean["name"] = _text(
        data.get("name"),
        "name",
        errors,
        label="The name",
        max_len=TEMPLATE_NAME_MAX,
        min_len=TEMPLATE_NAME_MIN,
    )
    if clean["name"] and looks_like_markup(clean["name"]):
        errors["name"] = "The name is plain text: no HTML tags or entities."
    clean["summary"] = _text(
        data.get("summary"), "summary", errors, label="The summary", max_len=TEMPLATE_SUMMARY_MAX
    )
    clean["scope"] = _text(
        data.get("scope"),
        "scope",
        errors,
        label="The scope",
        max_len=TEMPLATE_SCOPE_MAX,
        min_len=TEMPLATE_SCOPE_MIN,
    )
    clean["skills"] = clean_skills(data.get("skills"), errors)
    clean["budget_type"] = _choice(
        data.get("budget_type"), "budget_type", errors, BUDGET_TYPES, "budget type"
    )
    duration = data.get("duration") or None
    clean["duration"] = _choice(duration, "duration", errors, DURATIONS, "duration") if duration else None
    clean["milestones"] = _template_milestones(data.get("milestones"), errors)
    if not errors:
        description = template_prefill(JobTemplate(**clean))["description"]
        if len(description) > DESCRIPTION_MAX:
            errors["scope"] = (
                f"The scope and the milestones fill a job description of {len(description):,} characters; "
                f"a job takes at most {DESCRIPTION_MAX:,}. Shorten them."
            )
    if errors:
        raise JobError(errors)
    return clean


def _template_key(name: str) -> str:
    """A key from the name (``"Shopify app"`` -> ``shopify-app``), unique among the templates."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[: TEMPLATE_KEY_MAX - 4].strip("-")
    base = base or "template"
    taken = set(db.session.scalars(sa.select(JobTemplate.key).where(JobTemplate.key.startswith(base))))
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    return key


def create_template(data: dict) -> JobTemplate:
    """Add a template (shown to clients unless ``hidden``), last in the order; its ``key`` is
    derived from the name and unique. Raises JobError (422) for bad fields, TemplateConflict
    (409) when another template took the same key at the same moment."""
    clean = clean_template(data)
    hidden = data.get("hidden", False)
    if not isinstance(hidden, bool):
        raise JobError({"hidden": "Must be true or false."})
    last = db.session.scalar(sa.select(sa.func.max(JobTemplate.position)))
    template = JobTemplate(
        key=_template_key(clean["name"]),
        position=(last + 1) if last is not None else 0,
        hidden=hidden,
        **clean,
    )
    db.session.add(template)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:  # a concurrent creation took the key
        raise TemplateConflict("Another template with this name was just added: try again.") from None
    return template


def update_template(template_id: Any, data: dict) -> JobTemplate:
    """Change any of a template's ``TEMPLATE_FIELDS`` (the others keep their values; the key
    never changes). Raises TemplateNotFound (404), JobError (422) as ``clean_template``."""
    template = get_any_template(template_id)
    current = {field: getattr(template, field) for field in TEMPLATE_FIELDS}
    given = {field: data[field] for field in TEMPLATE_FIELDS if field in data}
    for field, value in clean_template({**current, **given}).items():
        if getattr(template, field) != value:
            setattr(template, field, value)
    db.session.flush()
    return template


def set_template_hidden(template_id: Any, hidden: Any) -> JobTemplate:
    """Hide a template from clients posting jobs (``hidden`` true) or offer it again. Jobs
    already posted from it keep their text. Raises TemplateNotFound, JobError."""
    if not isinstance(hidden, bool):
        raise JobError({"hidden": "Must be true or false."})
    template = get_any_template(template_id)
    template.hidden = hidden
    db.session.flush()
    return template


def move_template(template_id: Any, position: Any) -> JobTemplate:
    """Put a template at ``position`` (0 first) among all templates, hidden ones included; the
    others shift and the positions become 0..n-1. Raises TemplateNotFound, JobError
    (``position`` out of range)."""
    template = get_any_template(template_id)
    ordered = list(
        db.session.scalars(
            sa.select(JobTemplate).order_by(JobTemplate.position, JobTemplate.id).with_for_update()
        )
    )
    if not _is_int(position) or not 0 <= position < len(ordered):
        raise JobError({"position": f"The position is a whole number from 0 (first) to {len(ordered) - 1}."})
    ordered.remove(template)
    ordered.insert(position, template)
    for index, item in enumerate(ordered):
        if item.position != index:
            item.position = index
    db.session.flush()
    return template


# --------------------------------------------------------------------------- the operator closes a job


def operator_close_job(actor: User, job_id: Any, reason: Any, *, now: datetime) -> Job:
    """An operator closes an open job (abuse, spam, off-platform payment ...) with a reason the
    client reads; no more proposals or invite answers. Publishes ``job.closed`` (the client is
    notified). Raises JobForbidden (403) for anyone but an admin or moderator, JobError (422)
    for a reason of under 5 or over 1,000 characters, JobNotFound (404), JobStateError (409,
    ``current_status``) unless the job is open.
    """
    if actor is None or not actor.is_active or actor.role not in OPERATOR_ROLES:
        raise JobForbidden("Only the marketplace's admins and moderators close jobs.")
    errors: dict[str, str] = {}
    text = _text(
        reason, "reason", errors, label="The reason", max_len=CLOSE_REASON_MAX, min_len=CLOSE_REASON_MIN
    )
    if errors:
        raise JobError(errors)
    job = db.session.get(Job, job_id, with_for_update=True) if _is_int(job_id) else None
    if job is None:
        raise JobNotFound("This job does not exist.")
    if job.status != "open":
        raise JobStateError(
            f"This job is {STATUS_LABELS[job.status].lower()}: only an open job can be closed here.",
            extra={"current_status": job.status},
        )
    _move(job, "cancelled", "closed", who="operator")
    job.closed_at = now
    job.closed_by_id = actor.id
    job.closed_reason = text
    db.session.flush()
    publish("job.closed", {"job_id": job.id, "by_operator": True, "reason": text})
    return job
