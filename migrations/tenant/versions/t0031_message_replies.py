"""messaging: threads (a message may reply to another message of its conversation)

Revision ID: t0031
Revises: t0030
Create Date: 2026-12-10 10:00:00

``messages.reply_to_id``: the message a reply answers (nullable; ON DELETE SET NULL, so a
reply outlives its parent as a plain message). That the parent is a user message of the
same conversation is checked by the messaging services, not by the database.
"""

from alembic import op
import sqlalchemy as sa

revision = "t0031"
down_revision = "t0030"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("messages", sa.Column("reply_to_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_messages_reply_to_id_messages"),
        "messages",
        "messages",
        ["reply_to_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(
        "ix_messages_reply_to_id",
        "messages",
        ["reply_to_id"],
        unique=False,
        postgresql_where=sa.text("reply_to_id IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_messages_reply_to_id", table_name="messages")
    op.drop_constraint(op.f("fk_messages_reply_to_id_messages"), "messages", type_="foreignkey")
    op.drop_column("messages", "reply_to_id")
