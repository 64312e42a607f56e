"""Jobs, job templates, proposals, invites and attachments (issue #15, slices 2 and 3).

Money is integer minor units of the job's ``currency`` (the marketplace currency when the
job was posted). The rules live in ``app/jobs/services.py`` (jobs, templates, invites) and
``app/jobs/proposals.py``; the CHECK constraints here are the database's backstop.
Design: docs/design/jobs-and-contracts.md.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

JOB_STATUSES = ("draft", "open", "in_progress", "completed", "cancelled")
BUDGET_TYPES = ("fixed", "hourly")
EXPERIENCE_LEVELS = ("entry", "intermediate", "expert")
VISIBILITIES = ("public", "invite_only")
DURATIONS = ("under_1_week", "1_to_4_weeks", "1_to_3_months", "3_to_6_months", "over_6_months")
PROPOSAL_STATUSES = ("submitted", "shortlisted", "archived", "declined", "withdrawn", "hired")
# A live proposal blocks a second one of the same freelancer on the same job.
LIVE_PROPOSAL_STATUSES = ("submitted", "shortlisted", "archived", "hired")
INVITE_STATUSES = ("sent", "accepted", "declined", "expired")
# The terms of the matching score (app/jobs/matching.py), each with a weight per tenant (JobSettings).
MATCHING_TERMS = ("skill_match", "portfolio_fit", "reviews", "delivery_score", "availability")
MAX_SKILLS = 15
MAX_QUESTIONS = 5
MAX_MILESTONES = 10
MAX_JOB_ATTACHMENTS = 10
MAX_PROPOSAL_ATTACHMENTS = 5
TITLE_MIN, TITLE_MAX = 10, 120

# The keyword document of a job (the PostgreSQL search backend of jobs): a generated column,
# so the index and the query share one definition and nothing has to keep it in step.
JOB_SEARCH_DOCUMENT = (
    "(setweight(to_tsvector('english'::regconfig, (title)::text), 'A'::\"char\") || "
    "setweight(to_tsvector('english'::regconfig, description_source), 'C'::\"char\"))"
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


# The jobs anyone may browse and search (the partial indexes' predicate).
BROWSABLE = sa.text("status = 'open' AND visibility = 'public'")


class JobTemplate(TenantModel):
    """A starting point for a job post: scope text, suggested skills and milestones.

    ``milestones``: ``[{"title", "deliverable", "dod": [str, ...], "share_percent": int}]``,
    shares summing to 100. The brief's nine are seeded per tenant (``seed_job_templates``);
    the operator may edit or hide them (``hidden``) or add more.
    """

    __tablename__ = "job_templates"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("key"),
        sa.CheckConstraint(_in("budget_type", BUDGET_TYPES), name="budget_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(80))
    summary: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    scope: Mapped[str] = mapped_column(sa.Text)
    skills: Mapped[list[str]] = mapped_column(
        ARRAY(sa.String(40)), default=list, server_default=sa.text("'{}'")
    )
    milestones: Mapped[list] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    budget_type: Mapped[str] = mapped_column(sa.String(8), default="fixed", server_default="fixed")
    duration: Mapped[str | None] = mapped_column(sa.String(16))
    position: Mapped[int] = mapped_column(default=0, server_default="0")
    hidden: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )


class Job(TenantModel):
    """A client's job post. Fixed budgets are a range of totals; hourly ones a rate range
    with expected hours per week. ``skills`` are lower-case tags (matching compares them
    case-insensitively with sellers' skills)."""

    __tablename__ = "jobs"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("status", JOB_STATUSES), name="status"),
        sa.CheckConstraint(_in("budget_type", BUDGET_TYPES), name="budget_type"),
        sa.CheckConstraint(_in("experience_level", EXPERIENCE_LEVELS), name="experience_level"),
        sa.CheckConstraint(_in("visibility", VISIBILITIES), name="visibility"),
        sa.CheckConstraint(_in("duration", DURATIONS), name="duration"),
        sa.CheckConstraint(f"char_length(title) between {TITLE_MIN} and {TITLE_MAX}", name="title_length"),
        sa.CheckConstraint(f"cardinality(skills) <= {MAX_SKILLS}", name="skill_count"),
        sa.CheckConstraint(
            f"jsonb_array_length(screening_questions) <= {MAX_QUESTIONS}", name="question_count"
        ),
        sa.CheckConstraint(
            "(budget_type = 'fixed' and budget_min_minor > 0 and budget_max_minor >= budget_min_minor "
            "and rate_min_minor is null and rate_max_minor is null and hours_per_week is null) or "
            "(budget_type = 'hourly' and rate_min_minor > 0 and rate_max_minor >= rate_min_minor "
            "and hours_per_week between 1 and 80 and budget_min_minor is null and budget_max_minor is null)",
            name="budget",
        ),
        sa.Index("ix_jobs_status_published_at", "status", "published_at"),
        # Browsing (``browse_jobs``, ``jobs_for_skills``) reads open public jobs only: the newest
        # first from this index (and counted from it alone), those naming skills from the GIN one.
        sa.Index("ix_jobs_public_open_published_at", "published_at", "id", postgresql_where=BROWSABLE),
        sa.Index("ix_jobs_open_skills", "skills", postgresql_using="gin", postgresql_where=BROWSABLE),
        sa.Index(
            "ix_jobs_open_search",
            "search_document",
            postgresql_using="gin",
            postgresql_where=sa.text("status = 'open'"),
        ),
        sa.Index("ix_jobs_client_status", "client_id", "status"),
        # No parallel scans: a request reads jobs through the indexes above, and a parallel
        # sequential scan the planner prefers for a long list of skills (all the table's wide
        # rows, in three processes) was 5x slower than the bitmap scan (docs/benchmarks.md).
        postgresql_with={"parallel_workers": 0},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(TITLE_MAX))
    description_source: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    description_html: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    category_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.categories.id", ondelete="SET NULL"), index=True
    )
    skills: Mapped[list[str]] = mapped_column(
        ARRAY(sa.String(40)), default=list, server_default=sa.text("'{}'")
    )
    budget_type: Mapped[str] = mapped_column(sa.String(8))
    budget_min_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    budget_max_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    rate_min_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    rate_max_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    hours_per_week: Mapped[int | None] = mapped_column(sa.SmallInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    duration: Mapped[str] = mapped_column(sa.String(16))
    experience_level: Mapped[str] = mapped_column(sa.String(16))
    visibility: Mapped[str] = mapped_column(sa.String(16), default="public", server_default="public")
    nda_required: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    ip_assignment: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    screening_questions: Mapped[list] = mapped_column(
        JSONB, default=list, server_default=sa.text("'[]'::jsonb")
    )
    status: Mapped[str] = mapped_column(sa.String(16), default="draft", server_default="draft")
    template_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.job_templates.id", ondelete="SET NULL")
    )
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Set when the marketplace closed the job (``operator_close_job``): who and why (the client reads it).
    closed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    closed_reason: Mapped[str | None] = mapped_column(sa.String(1000))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )
    # Kept in the row (MAIN storage, compressed before anything else moves out) rather than in
    # the TOAST table: ranking a keyword search reads the document of every match.
    search_document = mapped_column(
        TSVECTOR,
        sa.Computed(JOB_SEARCH_DOCUMENT, persisted=True),
        deferred=True,
        info={"postgresql_storage": "main"},
    )

    # Loaded with the jobs of a list in one query; removing one deletes its row.
    attachments: Mapped[list[JobAttachment]] = relationship(
        primaryjoin="Job.id == JobAttachment.job_id",
        order_by="JobAttachment.id",
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.status}>"


class Proposal(TenantModel):
    """A freelancer's application to a job.

    Fixed price: ``total_minor`` split into ``milestones`` ``[{"title", "amount_minor",
    "due_in_days"}]`` summing to it; hourly: ``rate_minor`` (and no milestones).
    ``answers`` follow the job's screening questions, in order.
    """

    __tablename__ = "proposals"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("status", PROPOSAL_STATUSES), name="status"),
        sa.CheckConstraint(_in("payment_type", BUDGET_TYPES), name="payment_type"),
        sa.CheckConstraint(
            "(payment_type = 'fixed' and total_minor > 0 and rate_minor is null) or "
            "(payment_type = 'hourly' and rate_minor > 0 and total_minor is null)",
            name="price",
        ),
        sa.CheckConstraint("delivery_days between 1 and 365", name="delivery_days"),
        sa.Index(
            "uq_proposals_live",
            "job_id",
            "freelancer_id",
            unique=True,
            postgresql_where=sa.text(f"{_in('status', LIVE_PROPOSAL_STATUSES)}"),
        ),
        sa.Index("ix_proposals_job_status", "job_id", "status"),
        sa.Index("ix_proposals_freelancer_id", "freelancer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.jobs.id", ondelete="CASCADE"))
    freelancer_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    cover_letter: Mapped[str] = mapped_column(sa.Text)
    answers: Mapped[list] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    payment_type: Mapped[str] = mapped_column(sa.String(8))
    total_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    milestones: Mapped[list] = mapped_column(JSONB, default=list, server_default=sa.text("'[]'::jsonb"))
    rate_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    delivery_days: Mapped[int] = mapped_column(sa.SmallInteger)
    portfolio_item_ids: Mapped[list[int]] = mapped_column(
        ARRAY(sa.Integer), default=list, server_default=sa.text("'{}'")
    )
    status: Mapped[str] = mapped_column(sa.String(16), default="submitted", server_default="submitted")
    decline_message: Mapped[str | None] = mapped_column(sa.String(1000))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    attachments: Mapped[list[JobAttachment]] = relationship(
        primaryjoin="Proposal.id == JobAttachment.proposal_id",
        order_by="JobAttachment.id",
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def __repr__(self) -> str:
        return f"<Proposal {self.id} {self.status}>"


class JobInvite(TenantModel):
    """A client's invitation to a freelancer to apply to a job (one per job and freelancer).

    ``sent`` past ``expires_at`` reads as expired (``effective_status``); the services refuse
    to answer it.
    """

    __tablename__ = "job_invites"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("job_id", "freelancer_id"),
        sa.CheckConstraint(_in("status", INVITE_STATUSES), name="status"),
        sa.Index("ix_job_invites_freelancer_id", "freelancer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.jobs.id", ondelete="CASCADE"))
    freelancer_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(sa.String(1000), default="", server_default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="sent", server_default="sent")
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    def effective_status(self, now: datetime) -> str:
        return "expired" if self.status == "sent" and now >= self.expires_at else self.status


class JobAttachment(TenantModel):
    """A file attached to a job (by its client) or to a proposal (by its freelancer): exactly
    one of ``job_id`` and ``proposal_id``. The bytes live in the tenant's storage
    (``app.storage``) under ``storage_key``; ``filename`` is the uploader's name for the file,
    shown and offered as the download name, never part of a path. Rules, types and limits:
    ``app/jobs/attachments.py``."""

    __tablename__ = "job_attachments"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("(job_id is null) <> (proposal_id is null)", name="one_owner"),
        sa.CheckConstraint("size > 0", name="size"),
        sa.Index("ix_job_attachments_job_id", "job_id", postgresql_where=sa.text("job_id is not null")),
        sa.Index(
            "ix_job_attachments_proposal_id",
            "proposal_id",
            postgresql_where=sa.text("proposal_id is not null"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.jobs.id", ondelete="CASCADE"))
    proposal_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.proposals.id", ondelete="CASCADE")
    )
    uploader_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(sa.String(300))
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    def __repr__(self) -> str:
        return f"<JobAttachment {self.id} {self.filename!r}>"


def _weight_column(term: str) -> str:
    return f"{term}_weight"


class JobSettings(TenantModel):
    """The operator's jobs settings (one row per tenant, created when first saved): the weight of
    each matching term (``MATCHING_TERMS``), each 0..1 with at least one above 0.

    Until the row exists the defaults of ``app.jobs.matching.DEFAULT_WEIGHTS`` apply (read through
    ``matching.tenant_weights()``; saved through ``app.jobs.settings.update_matching_weights``).
    Three decimals are enough for a weight and keep what the operator typed exactly.
    """

    __tablename__ = "job_settings"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("id = 1", name="singleton"),
        *(
            sa.CheckConstraint(f"{_weight_column(term)} between 0 and 1", name=_weight_column(term))
            for term in MATCHING_TERMS
        ),
        sa.CheckConstraint(
            " + ".join(_weight_column(term) for term in MATCHING_TERMS) + " > 0", name="some_weight"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    skill_match_weight: Mapped[float] = mapped_column(sa.Numeric(4, 3, asdecimal=False))
    portfolio_fit_weight: Mapped[float] = mapped_column(sa.Numeric(4, 3, asdecimal=False))
    reviews_weight: Mapped[float] = mapped_column(sa.Numeric(4, 3, asdecimal=False))
    delivery_score_weight: Mapped[float] = mapped_column(sa.Numeric(4, 3, asdecimal=False))
    availability_weight: Mapped[float] = mapped_column(sa.Numeric(4, 3, asdecimal=False))
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    def weights(self) -> dict[str, float]:
        """``{term: weight}`` as saved."""
        return {term: float(getattr(self, _weight_column(term))) for term in MATCHING_TERMS}
