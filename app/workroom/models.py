"""The workroom's tables: kanban tasks, calendar events (and the reminders sent for their
occurrences) and files uploaded to a contract.

Every row belongs to one contract (``contract_id``); who may read or change it is the
services' rule (the two parties; ``app.workroom.services.open_workroom``). The CHECK
constraints are the database's backstop for what the services already refuse.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

TASK_STATUSES = ("todo", "doing", "done")
EVENT_KINDS = ("meeting", "standup")
RECURRENCES = ("none", "daily", "weekdays", "weekly")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def _fk(table: str, ondelete: str):
    return sa.ForeignKey(f"{TENANT_SCHEMA}.{table}.id", ondelete=ondelete)


class WorkroomTask(TenantModel):
    """A card of the contract's kanban board. ``position`` orders the cards of one column
    (fractional: a move puts the card between its neighbours; the column is renumbered when
    the gap gets too small). ``version`` bumps on every change (stale edits are refused)."""

    __tablename__ = "workroom_tasks"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("status", TASK_STATUSES), name="status"),
        sa.CheckConstraint("length(btrim(title)) > 0", name="title_present"),
        sa.Index("ix_workroom_tasks_board", "contract_id", "status", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(_fk("contracts", "CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(200))
    notes: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    status: Mapped[str] = mapped_column(sa.String(8), default="todo", server_default="todo")
    milestone_id: Mapped[int | None] = mapped_column(sa.BigInteger, _fk("order_milestones", "SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(_fk("users", "SET NULL"))
    position: Mapped[float] = mapped_column(sa.Double)
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_by: Mapped[int] = mapped_column(_fk("users", "RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class WorkroomEvent(TenantModel):
    """A meeting or stand-up of the contract. ``starts_at`` / ``ends_at`` are instants (UTC);
    ``timezone`` (IANA) is the wall clock the event repeats in (a daily 09:00 stays at 09:00
    across a DST change). ``repeat_until`` is the last local date of a recurring event (None:
    no end). ``remind_minutes``: both parties are told that long before each occurrence."""

    __tablename__ = "workroom_events"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
        sa.CheckConstraint(_in("recurrence", RECURRENCES), name="recurrence"),
        sa.CheckConstraint(
            "ends_at > starts_at and ends_at - starts_at <= interval '24 hours'", name="duration"
        ),
        sa.CheckConstraint("remind_minutes is null or remind_minutes between 0 and 1440", name="remind"),
        sa.CheckConstraint("length(btrim(title)) > 0", name="title_present"),
        sa.Index("ix_workroom_events_contract_id", "contract_id", "starts_at"),
        # The reminder sweep's scan.
        sa.Index(
            "ix_workroom_events_remind",
            "starts_at",
            postgresql_where=sa.text("remind_minutes is not null"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(_fk("contracts", "CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(8), default="meeting", server_default="meeting")
    title: Mapped[str] = mapped_column(sa.String(200))
    starts_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(sa.String(64))
    recurrence: Mapped[str] = mapped_column(sa.String(8), default="none", server_default="none")
    repeat_until: Mapped[date | None] = mapped_column(sa.Date)
    remind_minutes: Mapped[int | None] = mapped_column(sa.SmallInteger)
    created_by: Mapped[int] = mapped_column(_fk("users", "RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class WorkroomReminder(TenantModel):
    """One reminder sent for one occurrence of an event: the sweep inserts it first (the unique
    key makes a second sweep of the same occurrence a no-op), then publishes the reminder."""

    __tablename__ = "workroom_reminders"
    __table_args__ = tenant_table_args(sa.UniqueConstraint("event_id", "occurrence_start"))

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(_fk("workroom_events", "CASCADE"))
    occurrence_start: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    sent_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class WorkroomFile(TenantModel):
    """A file a party uploaded to the workroom (optionally about one milestone)."""

    __tablename__ = "workroom_files"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("size > 0", name="size"),
        sa.CheckConstraint("length(sha256) = 64", name="sha256"),
        sa.Index("ix_workroom_files_contract_id", "contract_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(_fk("contracts", "CASCADE"))
    milestone_id: Mapped[int | None] = mapped_column(sa.BigInteger, _fk("order_milestones", "SET NULL"))
    uploader_id: Mapped[int] = mapped_column(_fk("users", "RESTRICT"))
    storage_key: Mapped[str] = mapped_column(sa.String(300))
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
