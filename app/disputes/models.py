"""Disputes: a disagreement about the money one milestone holds in escrow (a gig order's only
milestone, or one milestone of a contract or multi-milestone offer), its evidence, the
parties' and the mediator's proposals, its timeline, the tenant's ladder settings and the
experts an operator appoints.

The rules live in ``app/disputes/services.py`` (the ladder is data there: ``TRANSITIONS``);
the money moves only through the milestone engine (``app.orders.milestones.resolve_disputed``).
The CHECK constraints, the one-open-dispute-per-milestone index and the trigger that keeps
evidence append-only are the database's backstop. Design: docs/design/disputes-and-payouts.md.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

REASONS = ("not_delivered", "not_as_described", "late", "quality", "communication", "other")
REASON_LABELS = {
    "not_delivered": "Not delivered",
    "not_as_described": "Not as described",
    "late": "Late",
    "quality": "Quality",
    "communication": "Communication",
    "other": "Other",
}
STAGES = ("self_resolution", "mediation", "expert_review", "decision")
STATUSES = ("open", "resolved", "dismissed")
OUTCOMES = ("resolved_client", "resolved_freelancer", "resolved_split", "dismissed")
EVIDENCE_KINDS = ("message", "file", "link", "dod", "note", "pr", "ci")
PROPOSAL_STATUSES = ("open", "accepted", "declined", "withdrawn", "superseded")
STATEMENT_MAX = 5000
NOTE_MAX = 5000


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def _user_fk(ondelete: str = "CASCADE"):
    return sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete=ondelete)


class Dispute(TenantModel):
    """One dispute about one milestone's escrow.

    ``amount_minor`` is what the milestone held when the dispute opened (a resolution splits
    exactly that). ``stage`` is the ladder's rung while ``status`` is ``open``;
    ``stage_deadline_at`` is when the sweep acts on it (self-resolution ends, the silent side
    loses, mediation goes to an admin). ``awaiting_id`` is the party whose answer the deadline
    waits for (None: nobody's in particular). ``version`` bumps on every change (the API's ETag).
    """

    __tablename__ = "disputes"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("reason", REASONS), name="reason"),
        sa.CheckConstraint(_in("stage", STAGES), name="stage"),
        sa.CheckConstraint(_in("status", STATUSES), name="status"),
        sa.CheckConstraint(f"outcome is null or {_in('outcome', OUTCOMES)}", name="outcome"),
        sa.CheckConstraint("amount_minor > 0", name="amount"),
        sa.CheckConstraint(
            "status = 'open' or outcome = 'dismissed' or refund_minor + release_minor = amount_minor",
            name="split",
        ),
        sa.CheckConstraint("refund_minor >= 0 and release_minor >= 0", name="split_positive"),
        # One open dispute per milestone: a second one on the same money is refused here too.
        sa.Index(
            "uq_disputes_open_milestone",
            "milestone_id",
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
        ),
        sa.Index("ix_disputes_deadline", "stage_deadline_at", postgresql_where=sa.text("status = 'open'")),
        sa.Index("ix_disputes_opened_by", "opened_by"),
        sa.Index("ix_disputes_against_id", "against_id"),
        sa.Index("ix_disputes_status_stage", "status", "stage", "opened_at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.orders.id", ondelete="CASCADE"), index=True
    )
    milestone_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.order_milestones.id", ondelete="CASCADE")
    )
    buyer_id: Mapped[int] = mapped_column(_user_fk())
    seller_id: Mapped[int] = mapped_column(_user_fk())
    opened_by: Mapped[int] = mapped_column(_user_fk())
    against_id: Mapped[int] = mapped_column(_user_fk())
    reason: Mapped[str] = mapped_column(sa.String(24))
    statement: Mapped[str] = mapped_column(sa.Text)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    stage: Mapped[str] = mapped_column(
        sa.String(16), default="self_resolution", server_default="self_resolution"
    )
    status: Mapped[str] = mapped_column(sa.String(16), default="open", server_default="open")
    outcome: Mapped[str | None] = mapped_column(sa.String(24))
    refund_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    release_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    decided_by: Mapped[int | None] = mapped_column(_user_fk("SET NULL"))
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    mediator_id: Mapped[int | None] = mapped_column(_user_fk("SET NULL"), index=True)
    expert_id: Mapped[int | None] = mapped_column(_user_fk("SET NULL"))
    expert_question: Mapped[str | None] = mapped_column(sa.Text)
    expert_assessment: Mapped[str | None] = mapped_column(sa.Text)
    expert_requested_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    expert_answered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    awaiting_id: Mapped[int | None] = mapped_column(_user_fk("SET NULL"))
    stage_deadline_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    opened_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")

    @property
    def number(self) -> str:
        return f"D-{self.id:06d}"

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def party(self, user_id: int | None) -> str | None:
        if user_id == self.buyer_id:
            return "buyer"
        if user_id == self.seller_id:
            return "seller"
        return None

    def other_party(self, user_id: int) -> int:
        return self.seller_id if user_id == self.buyer_id else self.buyer_id


# The database's refusal of any change or removal of evidence (also created by migration t0026).
# A row may only go with its dispute (a cascade from an order's removal). The schema is the
# trigger's own table's (TG_TABLE_SCHEMA): spare schemas are renamed when a tenant takes one.
EVIDENCE_APPEND_ONLY_FUNCTION = """
CREATE FUNCTION {schema}.dispute_evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE still_there boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.disputes WHERE id = $1)', TG_TABLE_SCHEMA)
            INTO still_there USING OLD.dispute_id;
        IF NOT still_there THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'dispute evidence is append-only (% refused)', TG_OP USING ERRCODE = 'check_violation';
END $$
"""
EVIDENCE_APPEND_ONLY_TRIGGER = (
    "CREATE TRIGGER dispute_evidence_append_only BEFORE UPDATE OR DELETE ON {schema}.dispute_evidence "
    "FOR EACH ROW EXECUTE FUNCTION {schema}.dispute_evidence_append_only()"
)


class DisputeEvidence(TenantModel):
    """One piece of evidence: a conversation message quoted (``message_id`` + its text as it
    was), a file, a link, the milestone's Definition-of-Done checklist (``data``), or a note.
    Append-only: the services never change or remove a row and a trigger (migration t0026)
    refuses UPDATE and DELETE."""

    __tablename__ = "dispute_evidence"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("kind", EVIDENCE_KINDS), name="kind"),
        sa.Index("ix_dispute_evidence_dispute_id_id", "dispute_id", "id"),
        info={
            "postgresql_after_create": [
                sql.format(schema=f'"{TENANT_SCHEMA}"').strip()
                for sql in (EVIDENCE_APPEND_ONLY_FUNCTION, EVIDENCE_APPEND_ONLY_TRIGGER)
            ]
        },
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.disputes.id", ondelete="CASCADE")
    )
    author_id: Mapped[int | None] = mapped_column(_user_fk("SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    message_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    text: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    url: Mapped[str | None] = mapped_column(sa.String(500))
    storage_key: Mapped[str | None] = mapped_column(sa.String(300))
    filename: Mapped[str | None] = mapped_column(sa.String(200))
    content_type: Mapped[str | None] = mapped_column(sa.String(100))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class DisputeProposal(TenantModel):
    """A way out offered inside the dispute: refund this much to the buyer, release the rest.

    By a party (the other party accepts or declines) or by the mediator (``by_mediator``: both
    parties must accept; ``buyer_answer`` / ``seller_answer`` record each). One open proposal
    per author; a new one supersedes it."""

    __tablename__ = "dispute_proposals"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("status", PROPOSAL_STATUSES), name="status"),
        sa.CheckConstraint("refund_minor >= 0 and release_minor >= 0", name="amounts"),
        sa.Index("ix_dispute_proposals_dispute_id", "dispute_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.disputes.id", ondelete="CASCADE")
    )
    author_id: Mapped[int | None] = mapped_column(_user_fk("SET NULL"))
    by_mediator: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    refund_minor: Mapped[int] = mapped_column(sa.BigInteger)
    release_minor: Mapped[int] = mapped_column(sa.BigInteger)
    message: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="open", server_default="open")
    buyer_answer: Mapped[str | None] = mapped_column(sa.String(16))
    seller_answer: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class DisputeEvent(TenantModel):
    """The dispute's timeline: every step (opened, evidence, proposals, escalation, messages of
    the parties and the mediator, the expert's assessment, the decision), with its actor
    (None: the marketplace's deadline)."""

    __tablename__ = "dispute_events"
    __table_args__ = tenant_table_args(sa.Index("ix_dispute_events_dispute_id_id", "dispute_id", "id"))

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.disputes.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(sa.String(32))
    actor_id: Mapped[int | None] = mapped_column(_user_fk("SET NULL"))
    body: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class DisputeSettings(TenantModel):
    """The tenant's ladder (one row, id 1): how long each rung lasts and whether mediators may
    ask an expert. ``expert_fee_rule`` is the tenant's own words on who pays the expert,
    shown to both parties when an expert is asked (the fee itself is settled outside escrow)."""

    __tablename__ = "dispute_settings"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("id = 1", name="singleton"),
        sa.CheckConstraint("self_resolution_days between 1 and 30", name="self_resolution_days"),
        sa.CheckConstraint("answer_days between 1 and 30", name="answer_days"),
        sa.CheckConstraint("mediation_days between 1 and 60", name="mediation_days"),
        sa.CheckConstraint("expert_days between 1 and 60", name="expert_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    self_resolution_days: Mapped[int] = mapped_column(sa.SmallInteger, default=3, server_default="3")
    answer_days: Mapped[int] = mapped_column(sa.SmallInteger, default=3, server_default="3")
    mediation_days: Mapped[int] = mapped_column(sa.SmallInteger, default=7, server_default="7")
    expert_days: Mapped[int] = mapped_column(sa.SmallInteger, default=5, server_default="5")
    expert_review_enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    expert_fee_rule: Mapped[str] = mapped_column(sa.Text, default="", server_default="")


class DisputeExpert(TenantModel):
    """A member the operator appointed as an expert reviewer (the ``expert`` role of disputes)."""

    __tablename__ = "dispute_experts"

    user_id: Mapped[int] = mapped_column(_user_fk(), primary_key=True)
    field: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    appointed_by: Mapped[int | None] = mapped_column(_user_fk("SET NULL"))
    appointed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
