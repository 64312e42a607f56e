"""Catalog: the two-level category tree and gigs with their packages, extras, images and FAQ.

Money is integer minor units of the marketplace currency (``get_branding().currency``).
The rules live in ``app/gigs/services.py``; the CHECK constraints here are the
database's backstop for the same limits, never the first line.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.geo import country_name
from tenants.db import TENANT_SCHEMA, TenantModel, tenant_table_args

if TYPE_CHECKING:
    from app.accounts.models import User

GIG_STATUSES = ("draft", "pending_approval", "rejected", "active", "paused", "archived")
TIERS = ("basic", "standard", "premium")
MAX_PRICE_MINOR = 10_000_000
UNLIMITED_REVISIONS = -1


class Category(TenantModel):
    __tablename__ = "categories"
    __table_args__ = tenant_table_args(sa.UniqueConstraint("slug"))

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.categories.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(80))
    slug: Mapped[str] = mapped_column(sa.String(80))
    description: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    position: Mapped[int] = mapped_column(default=0, server_default="0")
    is_hidden: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    parent: Mapped[Category | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Category]] = relationship(
        back_populates="parent", order_by="Category.position", cascade="all, delete-orphan"
    )

    @property
    def is_visible(self) -> bool:
        return not self.is_hidden and (self.parent is None or not self.parent.is_hidden)

    def __repr__(self) -> str:
        return f"<Category {self.slug}>"


class Gig(TenantModel):
    """A seller's offer. ``version`` is an optimistic lock: every change bumps it.

    SQLAlchemy adds ``WHERE version = <loaded>`` to each UPDATE (``version_id_col``),
    so two concurrent edits of the same version cannot both win; the services set
    the new value themselves (``version_id_generator=False``) so that a change of
    a package, extra, FAQ entry or image also counts as a new version of the gig.
    """

    __tablename__ = "gigs"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("slug"),
        sa.CheckConstraint(
            "status in ('draft', 'pending_approval', 'rejected', 'active', 'paused', 'archived')",
            name="status",
        ),
        sa.CheckConstraint("char_length(title) between 15 and 100", name="title_length"),
        sa.CheckConstraint("cardinality(tags) <= 5", name="tag_count"),
        sa.Index("ix_gigs_status_category", "status", "category_id"),
        sa.Index("ix_gigs_seller_status", "seller_id", "status"),
        sa.CheckConstraint("delivery_mode in ('online', 'on_site')", name="delivery_mode"),
        # An on-site gig has its service area: a base point and a radius (app.core.geo).
        sa.CheckConstraint(
            "delivery_mode = 'online' OR (latitude IS NOT NULL AND longitude IS NOT NULL "
            "AND service_radius_km IS NOT NULL)",
            name="on_site_area",
        ),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude"),
        sa.CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude"),
        sa.CheckConstraint("service_radius_km BETWEEN 1 AND 500", name="service_radius"),
        # The home page's rows (app/discovery/home.py): best rated and newest active gigs read
        # from an index in order, with no sort over every active gig.
        sa.Index(
            "ix_gigs_active_best",
            sa.text("rating_count DESC"),
            sa.text("rating_avg DESC"),
            sa.text("published_at DESC NULLS LAST"),
            sa.text("id DESC"),
            postgresql_where=sa.text("(status)::text = 'active'::text"),
        ),
        sa.Index(
            "ix_gigs_active_newest",
            sa.text("published_at DESC NULLS LAST"),
            sa.text("id DESC"),
            postgresql_where=sa.text("(status)::text = 'active'::text"),
        ),
        # The PostgreSQL search backend's bounding-box prefilter (active on-site gigs only).
        sa.Index(
            "ix_gigs_service_area",
            "latitude",
            "longitude",
            postgresql_where=sa.text(
                "(status)::text = 'active'::text AND (delivery_mode)::text = 'on_site'::text"
            ),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.categories.id", ondelete="RESTRICT")
    )
    title: Mapped[str] = mapped_column(sa.String(100))
    slug: Mapped[str] = mapped_column(sa.String(100))
    # What the seller typed (Markdown) and its nh3-sanitised HTML rendering.
    description_source: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    description_html: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    status: Mapped[str] = mapped_column(sa.String(20), default="draft", server_default="draft")
    tags: Mapped[list[str]] = mapped_column(
        ARRAY(sa.String(20)), default=list, server_default=sa.text("'{}'")
    )
    # Denormalised from the packages, for the search filters and sorting.
    min_price_minor: Mapped[int | None] = mapped_column(sa.Integer)
    min_delivery_days: Mapped[int | None] = mapped_column(sa.SmallInteger)
    # Reviews arrive with the orders issue.
    rating_avg: Mapped[Decimal] = mapped_column(sa.Numeric(3, 2), default=0, server_default="0")
    rating_count: Mapped[int] = mapped_column(default=0, server_default="0")
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # Where the work happens (#18): "online" (anywhere) or "on_site" within the service area, a
    # circle of ``service_radius_km`` around the base (a gazetteer city or a point), stored as
    # degrees. ``location_name`` / ``location_country`` say it for people ("Berlin", "DE").
    delivery_mode: Mapped[str] = mapped_column(sa.String(10), default="online", server_default="online")
    location_name: Mapped[str | None] = mapped_column(sa.String(120))
    location_country: Mapped[str | None] = mapped_column(sa.String(2))
    latitude: Mapped[float | None] = mapped_column(sa.Double)
    longitude: Mapped[float | None] = mapped_column(sa.Double)
    service_radius_km: Mapped[int | None] = mapped_column(sa.SmallInteger)
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Moderation (app/gigs/moderation.py): the last decision, its reason (shown to the seller) and who.
    moderation_reason: Mapped[str | None] = mapped_column(sa.String(1000))
    moderated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    moderated_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    seller: Mapped[User] = relationship(lazy="joined", innerjoin=True, foreign_keys=[seller_id])
    category: Mapped[Category | None] = relationship(lazy="joined")
    packages: Mapped[list[GigPackage]] = relationship(
        back_populates="gig",
        cascade="all, delete-orphan",
        order_by="GigPackage.position",
        lazy="selectin",
    )
    extras: Mapped[list[GigExtra]] = relationship(
        back_populates="gig", cascade="all, delete-orphan", order_by="GigExtra.position", lazy="selectin"
    )
    images: Mapped[list[GigImage]] = relationship(
        back_populates="gig", cascade="all, delete-orphan", order_by="GigImage.position", lazy="selectin"
    )
    faqs: Mapped[list[GigFaq]] = relationship(
        back_populates="gig", cascade="all, delete-orphan", order_by="GigFaq.position", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    def package(self, tier: str) -> GigPackage | None:
        return next((p for p in self.packages if p.tier == tier), None)

    @property
    def cover(self) -> GigImage | None:
        return self.images[0] if self.images else None

    @property
    def is_on_site(self) -> bool:
        return self.delivery_mode == "on_site" and self.latitude is not None

    @property
    def location_label(self) -> str | None:
        """Where an on-site gig is based, for people: "Berlin, Germany" (the coordinates when the
        seller gave a point far from any known city); None for an online gig."""
        if not self.is_on_site:
            return None
        if self.location_name:
            country = country_name(self.location_country) if self.location_country else ""
            return f"{self.location_name}, {country}" if country else self.location_name
        lat, lng = self.latitude, self.longitude
        return f"{abs(lat):.2f}° {'N' if lat >= 0 else 'S'}, {abs(lng):.2f}° {'E' if lng >= 0 else 'W'}"

    @property
    def place(self) -> dict | None:
        """An on-site gig's base as the API shows it (None when online)."""
        if not self.is_on_site:
            return None
        return {
            "name": self.location_name,
            "country": self.location_country,
            "label": self.location_label,
            "latitude": self.latitude,
            "longitude": self.longitude,
        }

    def __repr__(self) -> str:
        return f"<Gig {self.id} {self.status} {self.slug}>"


class GigPackage(TenantModel):
    """One tier of a gig: basic (required to publish), standard, premium."""

    __tablename__ = "gig_packages"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("gig_id", "tier"),
        sa.CheckConstraint("tier in ('basic', 'standard', 'premium')", name="tier"),
        sa.CheckConstraint(f"price_minor > 0 and price_minor <= {MAX_PRICE_MINOR}", name="price"),
        sa.CheckConstraint("delivery_days between 1 and 90", name="delivery_days"),
        sa.CheckConstraint("revisions between -1 and 20", name="revisions"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gig_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.gigs.id", ondelete="CASCADE"))
    tier: Mapped[str] = mapped_column(sa.String(10))
    position: Mapped[int] = mapped_column(sa.SmallInteger)  # 0 basic, 1 standard, 2 premium
    title: Mapped[str] = mapped_column(sa.String(60))
    description: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    price_minor: Mapped[int] = mapped_column(sa.Integer)
    delivery_days: Mapped[int] = mapped_column(sa.SmallInteger)
    revisions: Mapped[int] = mapped_column(sa.SmallInteger)  # -1 = unlimited
    features: Mapped[list[str]] = mapped_column(
        ARRAY(sa.String(80)), default=list, server_default=sa.text("'{}'")
    )

    gig: Mapped[Gig] = relationship(back_populates="packages")

    @property
    def unlimited_revisions(self) -> bool:
        return self.revisions == UNLIMITED_REVISIONS


class GigExtra(TenantModel):
    """An optional add-on ordered with any package, e.g. fast delivery (negative extra_days)."""

    __tablename__ = "gig_extras"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(f"price_minor > 0 and price_minor <= {MAX_PRICE_MINOR}", name="price"),
        sa.CheckConstraint("extra_days between -89 and 90", name="extra_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gig_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.gigs.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    title: Mapped[str] = mapped_column(sa.String(60))
    description: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    price_minor: Mapped[int] = mapped_column(sa.Integer)
    extra_days: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")

    gig: Mapped[Gig] = relationship(back_populates="extras")


class GigImage(TenantModel):
    """A gallery image (re-encoded WebP) and its thumbnail; the first by position is the cover."""

    __tablename__ = "gig_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    gig_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.gigs.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    key: Mapped[str] = mapped_column(sa.String(300))  # app.storage keys
    thumb_key: Mapped[str] = mapped_column(sa.String(300))
    width: Mapped[int] = mapped_column(sa.SmallInteger)
    height: Mapped[int] = mapped_column(sa.SmallInteger)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    gig: Mapped[Gig] = relationship(back_populates="images")


class GigFaq(TenantModel):
    __tablename__ = "gig_faqs"

    id: Mapped[int] = mapped_column(primary_key=True)
    gig_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.gigs.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    question: Mapped[str] = mapped_column(sa.String(200))
    answer: Mapped[str] = mapped_column(sa.String(1000))

    gig: Mapped[Gig] = relationship(back_populates="faqs")
