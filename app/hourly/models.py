"""Time entries, weekly timesheets and agreed rate changes of hourly contracts (issue #17).

A ``TimeEntry`` is the freelancer's logged time on one local day of the contract's time zone:
a start and an end (``minutes`` follows) or a duration alone. Entries of one contract never
overlap: every write locks the contract row first and checks (``services``). Entries stay editable until
their week closes into a ``Timesheet`` (``timesheet_id`` set). A ``Timesheet`` is one week
(Monday to Sunday in the contract's time zone) with its figures frozen when it closed: the
minutes logged, the minutes billable (capped at the weekly limit), the rate and the amount.
A ``RateChange`` is a proposed new rate or weekly limit; accepted, it applies from the week
after the answer.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

TIMESHEET_STATUSES = (
    "submitted",  # closed on Monday, waiting for the client
    "approved",  # the client (or the review period) approved it: being charged
    "billed",  # charged, held in escrow and released to the freelancer
    "payment_failed",  # the charge failed: the contract is paused until it is paid
    "disputed",  # the client disputed it: charged into escrow, the resolution centre decides
    "resolved",  # the dispute decided (the money as the milestone says)
)
OPEN_TIMESHEET_STATUSES = ("submitted", "approved", "payment_failed", "disputed")
RATE_CHANGE_STATUSES = ("pending", "accepted", "declined", "withdrawn")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class TimeEntry(TenantModel):
    __tablename__ = "time_entries"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("minutes between 1 and 1440", name="minutes"),
        sa.CheckConstraint(
            "(started_at is null) = (ended_at is null) and (started_at is null or ended_at > started_at)",
            name="span",
        ),
        sa.Index("ix_time_entries_contract_day", "contract_id", "work_date", "id"),
        sa.Index("ix_time_entries_timesheet", "timesheet_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.contracts.id", ondelete="CASCADE")
    )
    freelancer_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="RESTRICT")
    )
    work_date: Mapped[date] = mapped_column(sa.Date)  # the local day in the contract's time zone
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    minutes: Mapped[int] = mapped_column(sa.Integer)
    memo: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    milestone_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.order_milestones.id", ondelete="SET NULL")
    )
    task_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.workroom_tasks.id", ondelete="SET NULL")
    )
    timesheet_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.timesheets.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )


class Timesheet(TenantModel):
    __tablename__ = "timesheets"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("contract_id", "week_start"),
        sa.CheckConstraint(_in("status", TIMESHEET_STATUSES), name="status"),
        sa.CheckConstraint("extract(isodow from week_start) = 1", name="monday"),
        sa.CheckConstraint(
            "minutes_billable >= 0 and minutes_billable <= minutes_logged and amount_minor >= 0",
            name="figures",
        ),
        sa.Index(
            "ix_timesheets_review_due",
            "review_due_at",
            postgresql_where=sa.text("status = 'submitted'"),
        ),
        sa.Index("ix_timesheets_milestone", "milestone_id", unique=True),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.contracts.id", ondelete="CASCADE")
    )
    week_start: Mapped[date] = mapped_column(sa.Date)
    timezone: Mapped[str] = mapped_column(sa.String(64))
    minutes_logged: Mapped[int] = mapped_column(sa.Integer)
    minutes_billable: Mapped[int] = mapped_column(sa.Integer)
    rate_minor: Mapped[int] = mapped_column(sa.BigInteger)
    cap_hours: Mapped[int] = mapped_column(sa.SmallInteger)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(16), default="submitted", server_default="submitted")
    submitted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    review_due_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    approved_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # None with approved_at set: approved by the review period running out.
    approved_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    billed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # The engagement's milestone that carries this week's money (once approved or disputed).
    milestone_id: Mapped[int | None] = mapped_column(
        sa.BigInteger, sa.ForeignKey(f"{TENANT_SCHEMA}.order_milestones.id", ondelete="RESTRICT")
    )
    failure_reason: Mapped[str | None] = mapped_column(sa.String(255))
    last_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    dispute_reason: Mapped[str | None] = mapped_column(sa.Text)
    # Closed early because the contract ended mid-week.
    final: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    @property
    def over_cap_minutes(self) -> int:
        return self.minutes_logged - self.minutes_billable


class RateChange(TenantModel):
    __tablename__ = "hourly_rate_changes"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("status", RATE_CHANGE_STATUSES), name="status"),
        sa.CheckConstraint("rate_minor > 0 and weekly_cap_hours between 1 and 80", name="terms"),
        sa.Index(
            "uq_hourly_rate_changes_pending",
            "contract_id",
            unique=True,
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.Index("ix_hourly_rate_changes_contract", "contract_id", "id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.contracts.id", ondelete="CASCADE")
    )
    proposed_by: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="RESTRICT"))
    rate_minor: Mapped[int] = mapped_column(sa.BigInteger)
    weekly_cap_hours: Mapped[int] = mapped_column(sa.SmallInteger)
    note: Mapped[str] = mapped_column(sa.String(1000), default="", server_default="")
    status: Mapped[str] = mapped_column(sa.String(12), default="pending", server_default="pending")
    effective_week: Mapped[date | None] = mapped_column(sa.Date)  # the Monday it applies from
    responded_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    responded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
