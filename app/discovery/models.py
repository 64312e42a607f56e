"""Discovery's tables: a buyer's saved lists and the gigs in them, the gigs a user viewed
last, and the gigs the operator features on the home page.

Every row lives in the tenant's schema (a list can only ever hold the tenant's own gigs: the
foreign keys point into the same schema). The unique indexes are the backstop for what the
services already refuse (a second list of the same name, one gig twice in a list, two default
lists).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

LIST_NAME_MAX = 60
LISTS_PER_USER = 50
GIGS_PER_LIST = 500
RECENTLY_VIEWED_KEPT = 30
FEATURED_MAX = 24


def _fk(table: str, ondelete: str = "CASCADE"):
    return sa.ForeignKey(f"{TENANT_SCHEMA}.{table}.id", ondelete=ondelete)


class SavedList(TenantModel):
    """A buyer's named list of gigs ("Saved" is the default one, made on the first save)."""

    __tablename__ = "saved_lists"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("length(btrim(name)) > 0", name="name_present"),
        sa.Index("uq_saved_lists_user_name", "user_id", sa.text("lower(name)"), unique=True),
        sa.Index(
            "uq_saved_lists_user_default", "user_id", unique=True, postgresql_where=sa.text("is_default")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(_fk("users"))
    name: Mapped[str] = mapped_column(sa.String(LIST_NAME_MAX))
    is_default: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class SavedGig(TenantModel):
    """One gig in one list. ``user_id`` repeats the list's owner: "saved by N buyers" counts
    distinct users per gig without a join, and "is it saved?" for a page of cards is one query."""

    __tablename__ = "saved_gigs"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("list_id", "gig_id"),
        sa.Index("ix_saved_gigs_gig_user", "gig_id", "user_id"),
        sa.Index("ix_saved_gigs_user_gig", "user_id", "gig_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(_fk("saved_lists"))
    user_id: Mapped[int] = mapped_column(_fk("users"))
    gig_id: Mapped[int] = mapped_column(_fk("gigs"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class GigView(TenantModel):
    """The last time a signed-in user opened a gig's page (one row per user and gig; the
    ``RECENTLY_VIEWED_KEPT`` most recent are kept)."""

    __tablename__ = "gig_views"
    __table_args__ = tenant_table_args(sa.Index("ix_gig_views_recent", "user_id", sa.text("viewed_at DESC")))

    user_id: Mapped[int] = mapped_column(_fk("users"), primary_key=True)
    gig_id: Mapped[int] = mapped_column(_fk("gigs"), primary_key=True)
    viewed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class FeaturedGig(TenantModel):
    """A gig the operator features on the home page, in ``position`` order."""

    __tablename__ = "featured_gigs"
    __table_args__ = tenant_table_args(sa.Index("ix_featured_gigs_position", "position"))

    gig_id: Mapped[int] = mapped_column(_fk("gigs"), primary_key=True)
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    added_by_id: Mapped[int | None] = mapped_column(_fk("users", "SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
