"""Console reads of the jobs area: every job (filters, search), one job with its proposals,
invites and the console's decisions, the templates with their use, and the matching weights
as the page shows them.

The list's filters are checked here for web and API alike (``ConsoleInputError`` with field
errors ``status``, ``q``, ``from``, ``to``). Everything is read in the bound tenant: an id of
another marketplace is simply not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.console.filters import ListFilters, list_filters
from app.console.models import AuditEntry
from app.core.text import escape_like
from app.gigs.models import Category
from app.jobs import matching, proposals, services
from app.jobs import settings as job_settings
from app.jobs.models import JOB_STATUSES, MATCHING_TERMS, Job, JobInvite, JobTemplate, Proposal
from tenants.db import db

JOB_PAGE_SIZE = 25
MAX_QUERY = 120
_NUMBER_RE = re.compile(r"^#?\s*(\d{1,10})\Z")
STATUS_BADGES = {
    "draft": "",
    "open": "badge-ok",
    "in_progress": "badge-warn",
    "completed": "badge-ok",
    "cancelled": "badge-bad",
}
PROPOSAL_BADGES = {
    "submitted": "",
    "shortlisted": "badge-ok",
    "archived": "",
    "declined": "badge-bad",
    "withdrawn": "",
    "hired": "badge-ok",
}
INVITE_BADGES = {"sent": "", "accepted": "badge-ok", "declined": "badge-bad", "expired": "badge-warn"}


def status_label(status: str) -> str:
    return services.STATUS_LABELS.get(status, status)


# --------------------------------------------------------------------------- every job


JobFilters = ListFilters  # status, search text and a range of days


def job_filters(status: Any = None, q: Any = None, date_from: Any = None, date_to: Any = None) -> JobFilters:
    """Checked filters of the job list: a status, words of the title (or a job id) and a range
    of UTC days the job was posted (published) in. Raises ConsoleInputError."""
    return list_filters(JOB_STATUSES, status, q, date_from, date_to, max_query=MAX_QUERY)


def _conditions(filters: JobFilters) -> list:
    conditions = []
    if filters.status:
        conditions.append(Job.status == filters.status)
    if filters.since is not None:
        conditions.append(Job.published_at >= filters.since)
    if filters.until is not None:
        conditions.append(Job.published_at < filters.until)
    if filters.q:
        matches = [Job.title.ilike("%" + escape_like(filters.q) + "%")]
        number = _NUMBER_RE.match(filters.q)
        if number and int(number[1]) < 2**31:
            matches.append(Job.id == int(number[1]))
        conditions.append(sa.or_(*matches))
    return conditions


@dataclass(frozen=True)
class JobRow:
    job: Job
    client: User | None
    proposals: int

    def __getattr__(self, name: str):
        # The job's own fields (id, title, status ...) read straight through, for the API.
        if name.startswith("__") or name == "job":
            raise AttributeError(name)
        return getattr(self.job, name)


def search_jobs(filters: JobFilters | None = None, page: int = 1, per_page: int = JOB_PAGE_SIZE):
    """Jobs of the marketplace in any status matching ``filters``, newest first, with their
    client and live proposals; and the total."""
    filters = filters or JobFilters()
    page = page if isinstance(page, int) and 1 <= page <= 10_000 else 1
    per_page = max(1, min(100, int(per_page)))
    conditions = _conditions(filters)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Job).where(*conditions))
    jobs = list(
        db.session.scalars(
            sa.select(Job)
            .where(*conditions)
            .order_by(Job.created_at.desc(), Job.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    clients = services.users_by_id(j.client_id for j in jobs)
    counts = services.proposal_counts([j.id for j in jobs])
    rows = [JobRow(j, clients.get(j.client_id), counts.get(j.id, 0)) for j in jobs]
    return rows, int(total or 0)


def status_counts() -> dict[str, int]:
    """How many jobs are in each status (for the filter's choices)."""
    counts = dict(db.session.execute(sa.select(Job.status, sa.func.count()).group_by(Job.status)).all())
    return {status: int(counts.get(status, 0)) for status in JOB_STATUSES}


# --------------------------------------------------------------------------- one job


@dataclass(frozen=True)
class ProposalItem:
    proposal: Proposal
    freelancer: User | None

    @property
    def status_label(self) -> str:
        return proposals.STATUS_LABELS.get(self.proposal.status, self.proposal.status)

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "proposal":
            raise AttributeError(name)
        return getattr(self.proposal, name)


@dataclass(frozen=True)
class InviteItem:
    invite: JobInvite
    freelancer: User | None
    status: str  # as of the read: ``sent`` past ``expires_at`` is ``expired``

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "invite":
            raise AttributeError(name)
        return getattr(self.invite, name)


@dataclass
class JobDetail:
    job: Job
    client: User | None
    category: Category | None
    template: JobTemplate | None
    closed_by: User | None
    proposals: list[ProposalItem] = field(default_factory=list)
    invites: list[InviteItem] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("job", "proposals", "invites", "audit"):
            raise AttributeError(name)
        return getattr(self.job, name)


def get_job(job_id: Any) -> Job:
    """Any job of this marketplace, whatever its status; JobNotFound (404) otherwise."""
    job = db.session.get(Job, job_id) if isinstance(job_id, int) and not isinstance(job_id, bool) else None
    if job is None:
        raise services.JobNotFound("This job does not exist.")
    return job


def job_audit(job_id: int, limit: int = 50) -> list[AuditEntry]:
    """The console's decisions about a job, newest first."""
    return list(
        db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.target_type == "job", AuditEntry.target_id == str(job_id))
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )


def job_detail(job_id: Any, *, now: datetime) -> JobDetail:
    """A job with its client, every proposal (withdrawn ones too; status and price), every
    invite (its status as of ``now``) and the console's decisions. Raises JobNotFound."""
    job = get_job(job_id)
    items = list(
        db.session.scalars(
            sa.select(Proposal).where(Proposal.job_id == job.id).order_by(Proposal.created_at, Proposal.id)
        )
    )
    invites = list(
        db.session.scalars(
            sa.select(JobInvite)
            .where(JobInvite.job_id == job.id)
            .order_by(JobInvite.created_at, JobInvite.id)
        )
    )
    people = services.users_by_id(
        [job.client_id, *(p.freelancer_id for p in items), *(i.freelancer_id for i in invites)]
        + ([job.closed_by_id] if job.closed_by_id else [])
    )
    return JobDetail(
        job=job,
        client=people.get(job.client_id),
        category=db.session.get(Category, job.category_id) if job.category_id else None,
        template=db.session.get(JobTemplate, job.template_id) if job.template_id else None,
        closed_by=people.get(job.closed_by_id) if job.closed_by_id else None,
        proposals=[ProposalItem(p, people.get(p.freelancer_id)) for p in items],
        invites=[InviteItem(i, people.get(i.freelancer_id), i.effective_status(now)) for i in invites],
        audit=job_audit(job.id),
    )


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class TemplateItem:
    template: JobTemplate
    jobs_posted: int

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "template":
            raise AttributeError(name)
        return getattr(self.template, name)


def templates() -> list[TemplateItem]:
    """Every template, hidden ones too, in the clients' order, with how many jobs used each."""
    rows = services.list_templates(include_hidden=True)
    used = dict(
        db.session.execute(
            sa.select(Job.template_id, sa.func.count())
            .where(Job.template_id.is_not(None))
            .group_by(Job.template_id)
        ).all()
    )
    return [TemplateItem(t, int(used.get(t.id, 0))) for t in rows]


def template_item(template_id: Any) -> TemplateItem:
    """One template (hidden or not) with its use; TemplateNotFound (404)."""
    template = services.get_any_template(template_id)
    used = db.session.scalar(
        sa.select(sa.func.count()).select_from(Job).where(Job.template_id == template.id)
    )
    return TemplateItem(template, int(used or 0))


# --------------------------------------------------------------------------- matching weights


FORMULA = "score = " + " + ".join(f"{job_settings.TERMS[term][1]}·{term}" for term in MATCHING_TERMS)


def matching_settings() -> dict:
    """The weights as saved, the defaults, the proportions matching uses, the formula and each
    term's definition."""
    weights = job_settings.matching_weights()
    effective = matching.tenant_weights()
    return {
        "formula": FORMULA,
        "weights": weights,
        "default_weights": dict(matching.DEFAULT_WEIGHTS),
        "effective_weights": {term: round(value, 4) for term, value in effective.items()},
        "terms": [
            {
                "term": term,
                "symbol": job_settings.TERMS[term][1],
                "label": job_settings.TERMS[term][0],
                "definition": job_settings.TERMS[term][2],
                "weight": weights[term],
                "default": matching.DEFAULT_WEIGHTS[term],
                "effective": round(effective[term], 4),
            }
            for term in MATCHING_TERMS
        ],
    }
