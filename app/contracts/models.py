"""Contracts, their Statements of Work and the signatures on them (issue #15, slice 4).

A ``Contract`` starts as the client's offer (``terms``: scope and milestones, checked by
``app.contracts.services``); the freelancer accepts it, a ``StatementOfWork`` is generated
from the terms, both parties sign it (``SowSignature``: typed name, time, IP), and the
contract becomes active with its engagement (``order_id``: an ``orders.Order`` of kind
``contract`` whose milestones carry the money). The SoW is never updated: its
``content_sha256`` is checked whenever it is read.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

CONTRACT_STATUSES = (
    "offered",  # the client's offer, waiting for the freelancer
    "declined",  # the freelancer said no
    "withdrawn",  # the client took the offer back (or another offer on the job was accepted)
    "awaiting_signatures",  # accepted: the SoW waits for both signatures
    "active",  # signed by both: milestones are funded, worked and paid
    "completed",  # ended with work paid
    "cancelled",  # ended with nothing paid
)
LIVE_STATUSES = ("awaiting_signatures", "active")
PAYMENT_MODELS = ("fixed", "hourly")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class Contract(TenantModel):
    """``terms``: ``{"scope", "milestones": [{"title", "description", "amount_minor",
    "due_date" (ISO date), "dod": [str]}], "nda", "ip_assignment", "commission_bps",
    "commission_min_fee_minor"}``; an hourly contract's: ``{"scope", "rate_minor",
    "weekly_cap_hours", "timezone", "nda", "ip_assignment", "rate_history": [{"week",
    "rate_minor", "weekly_cap_hours"}]}`` (``total_minor``: the most one week can cost)."""

    __tablename__ = "contracts"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("status", CONTRACT_STATUSES), name="status"),
        sa.CheckConstraint(_in("payment_model", PAYMENT_MODELS), name="payment_model"),
        sa.CheckConstraint("client_id <> freelancer_id", name="distinct_parties"),
        sa.CheckConstraint("total_minor > 0", name="total"),
        # One live contract per job (the brief's "1 active contract per job").
        sa.Index(
            "uq_contracts_live_job",
            "job_id",
            unique=True,
            postgresql_where=sa.text(f"{_in('status', LIVE_STATUSES)} and job_id is not null"),
        ),
        sa.Index(
            "uq_contracts_proposal",
            "proposal_id",
            unique=True,
            postgresql_where=sa.text("proposal_id is not null and status not in ('declined', 'withdrawn')"),
        ),
        sa.Index("uq_contracts_order", "order_id", unique=True),
        sa.Index("ix_contracts_client_status", "client_id", "status", "id"),
        sa.Index("ix_contracts_freelancer_status", "freelancer_id", "status", "id"),
        sa.Index("ix_contracts_job_id", "job_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.jobs.id", ondelete="SET NULL"))
    proposal_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.proposals.id", ondelete="SET NULL")
    )
    order_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.orders.id", ondelete="RESTRICT")
    )
    client_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="RESTRICT"))
    freelancer_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="RESTRICT")
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    payment_model: Mapped[str] = mapped_column(sa.String(8), default="fixed", server_default="fixed")
    currency: Mapped[str] = mapped_column(sa.String(3))
    total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    terms: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))
    message: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    status: Mapped[str] = mapped_column(sa.String(24), default="offered", server_default="offered")
    offer_expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    decline_reason: Mapped[str | None] = mapped_column(sa.String(1000))
    responded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # An hourly contract on hold (``app.hourly``): no time is logged while paused. ``pause_reason``:
    # ``client`` / ``freelancer`` (paused by that party) or ``payment_failed`` (a weekly charge failed).
    paused_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    pause_reason: Mapped[str | None] = mapped_column(sa.String(16))
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    ended_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    end_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    def party(self, user_id: int) -> str | None:
        if user_id == self.client_id:
            return "client"
        if user_id == self.freelancer_id:
            return "freelancer"
        return None

    @property
    def number(self) -> str:
        return f"C-{self.id}"

    def __repr__(self) -> str:
        return f"<Contract {self.id} {self.status}>"


class StatementOfWork(TenantModel):
    """The generated, immutable text both parties sign (one per contract)."""

    __tablename__ = "statements_of_work"
    __table_args__ = tenant_table_args(sa.UniqueConstraint("contract_id", "version"))

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.contracts.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(sa.SmallInteger, default=1, server_default="1")
    body: Mapped[str] = mapped_column(sa.Text)
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class SowSignature(TenantModel):
    """A party's typed-name signature of a SoW, with when and from where."""

    __tablename__ = "sow_signatures"
    __table_args__ = tenant_table_args(sa.UniqueConstraint("sow_id", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    sow_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.statements_of_work.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="RESTRICT"))
    role: Mapped[str] = mapped_column(sa.String(12))
    typed_name: Mapped[str] = mapped_column(sa.String(120))
    content_sha256: Mapped[str] = mapped_column(sa.String(64))  # what was signed
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))
    signed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


CHANGE_ACTIONS = ("add", "edit", "remove")
CHANGE_STATUSES = ("pending", "accepted", "declined", "withdrawn")


class ContractChange(TenantModel):
    """A change to an active contract's milestones one party proposes and the other accepts:
    add a milestone, edit or remove one not funded yet. ``data``: the milestone's fields
    (``title``, ``description``, ``amount_minor``, ``due_date``, ``dod``) for add and edit.
    The SoW stays as signed; the accepted changes are its amendments."""

    __tablename__ = "contract_changes"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("action", CHANGE_ACTIONS), name="action"),
        sa.CheckConstraint(_in("status", CHANGE_STATUSES), name="status"),
        # One proposal at a time per contract: the other party answers it first.
        sa.Index(
            "uq_contract_changes_pending",
            "contract_id",
            unique=True,
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.Index("ix_contract_changes_contract_id", "contract_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.contracts.id", ondelete="CASCADE")
    )
    proposed_by: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(sa.String(8))
    milestone_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=sa.text("'{}'::jsonb"))
    note: Mapped[str] = mapped_column(sa.String(1000), default="", server_default="")
    status: Mapped[str] = mapped_column(sa.String(12), default="pending", server_default="pending")
    responded_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    responded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
