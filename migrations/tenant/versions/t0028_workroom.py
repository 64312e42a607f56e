"""workroom: kanban tasks, calendar events and their reminders, files of a contract

Revision ID: t0028
Revises: t0027
Create Date: 2026-12-05 10:00:00

``workroom_tasks``: the cards of a contract's board (todo / doing / done), ordered by a
fractional ``position`` within their column. ``workroom_events``: meetings and stand-ups (UTC
instants, the IANA timezone they repeat in, recurrence none / daily / weekdays / weekly until a
local date, minutes of notice for the reminder). ``workroom_reminders``: one row per reminded
occurrence (unique), so a reminder goes out once. ``workroom_files``: files uploaded to the
workroom with their SHA-256.
"""

from alembic import op
import sqlalchemy as sa

revision = "t0028"
down_revision = "t0027"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "workroom_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(length=8), server_default="todo", nullable=False),
        sa.Column("milestone_id", sa.BigInteger(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Double(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status in ('todo', 'doing', 'done')", name=op.f("ck_workroom_tasks_status")),
        sa.CheckConstraint("length(btrim(title)) > 0", name=op.f("ck_workroom_tasks_title_present")),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_workroom_tasks_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["milestone_id"],
            ["order_milestones.id"],
            name=op.f("fk_workroom_tasks_milestone_id_order_milestones"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_workroom_tasks_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_workroom_tasks_created_by_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workroom_tasks")),
    )
    op.create_index("ix_workroom_tasks_board", "workroom_tasks", ["contract_id", "status", "position"])

    op.create_table(
        "workroom_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), server_default="meeting", nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("recurrence", sa.String(length=8), server_default="none", nullable=False),
        sa.Column("repeat_until", sa.Date(), nullable=True),
        sa.Column("remind_minutes", sa.SmallInteger(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind in ('meeting', 'standup')", name=op.f("ck_workroom_events_kind")),
        sa.CheckConstraint(
            "recurrence in ('none', 'daily', 'weekdays', 'weekly')",
            name=op.f("ck_workroom_events_recurrence"),
        ),
        sa.CheckConstraint(
            "ends_at > starts_at and ends_at - starts_at <= interval '24 hours'",
            name=op.f("ck_workroom_events_duration"),
        ),
        sa.CheckConstraint(
            "remind_minutes is null or remind_minutes between 0 and 1440",
            name=op.f("ck_workroom_events_remind"),
        ),
        sa.CheckConstraint("length(btrim(title)) > 0", name=op.f("ck_workroom_events_title_present")),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_workroom_events_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_workroom_events_created_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workroom_events")),
    )
    op.create_index("ix_workroom_events_contract_id", "workroom_events", ["contract_id", "starts_at"])
    op.create_index(
        "ix_workroom_events_remind",
        "workroom_events",
        ["starts_at"],
        postgresql_where=sa.text("remind_minutes is not null"),
    )

    op.create_table(
        "workroom_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["workroom_events.id"],
            name=op.f("fk_workroom_reminders_event_id_workroom_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workroom_reminders")),
        sa.UniqueConstraint(
            "event_id", "occurrence_start", name=op.f("uq_workroom_reminders_event_id_occurrence_start")
        ),
    )

    op.create_table(
        "workroom_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("milestone_id", sa.BigInteger(), nullable=True),
        sa.Column("uploader_id", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("size > 0", name=op.f("ck_workroom_files_size")),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_workroom_files_sha256")),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_workroom_files_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["milestone_id"],
            ["order_milestones.id"],
            name=op.f("fk_workroom_files_milestone_id_order_milestones"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["users.id"],
            name=op.f("fk_workroom_files_uploader_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workroom_files")),
    )
    op.create_index("ix_workroom_files_contract_id", "workroom_files", ["contract_id", "id"])


def downgrade():
    op.drop_index("ix_workroom_files_contract_id", table_name="workroom_files")
    op.drop_table("workroom_files")
    op.drop_table("workroom_reminders")
    op.drop_index("ix_workroom_events_remind", table_name="workroom_events")
    op.drop_index("ix_workroom_events_contract_id", table_name="workroom_events")
    op.drop_table("workroom_events")
    op.drop_index("ix_workroom_tasks_board", table_name="workroom_tasks")
    op.drop_table("workroom_tasks")
