"""Shared rows in the ``public`` schema: tenants and their hostnames."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.db import TenantRef, db, public_table_args

TENANT_STATUSES = ("active", "suspended")
# The platform's price plans: each sets the tenant's API rate limits (config RATELIMIT_API_PLANS).
TENANT_PLANS = ("standard", "growth", "scale")
# A custom domain resolves only once verified; the default <slug>.<BASE_DOMAIN> is verified at birth.
DOMAIN_STATUSES = ("pending", "verified")


def utcnow() -> datetime:
    return datetime.now().astimezone()


class Tenant(db.Model):
    __tablename__ = "tenants"
    __table_args__ = public_table_args(
        sa.CheckConstraint("status in ('active', 'suspended')", name="status"),
        sa.CheckConstraint("plan in ('standard', 'growth', 'scale')", name="plan"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(31), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    schema_name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="active", server_default="active")
    suspended_reason: Mapped[str | None] = mapped_column(sa.Text)
    plan: Mapped[str] = mapped_column(sa.String(16), default="standard", server_default="standard")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    domains: Mapped[list[TenantDomain]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", order_by="TenantDomain.id"
    )

    def ref(self) -> TenantRef:
        return TenantRef(
            id=self.id,
            slug=self.slug,
            schema=self.schema_name,
            name=self.name,
            status=self.status,
            plan=self.plan,
        )

    @property
    def primary_domain(self) -> TenantDomain | None:
        return next((d for d in self.domains if d.is_primary), None)

    def __repr__(self) -> str:
        return f"<Tenant {self.slug}>"


class TenantDomain(db.Model):
    """A hostname that resolves to a tenant. Exactly one per tenant is primary."""

    __tablename__ = "tenant_domains"
    __table_args__ = public_table_args(
        sa.Index(
            "ux_tenant_domains_one_primary",
            "tenant_id",
            unique=True,
            postgresql_where=sa.text("is_primary"),
        ),
        sa.CheckConstraint("status in ('pending', 'verified')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("public.tenants.id", ondelete="CASCADE"), index=True)
    hostname: Mapped[str] = mapped_column(sa.String(253), unique=True)
    is_primary: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Custom domains: the operator publishes ``verification_token`` in a DNS TXT record
    # (see tenants/domains.py); until the check passes the hostname does not resolve.
    status: Mapped[str] = mapped_column(sa.String(16), default="verified", server_default="verified")
    verification_token: Mapped[str | None] = mapped_column(sa.String(64))
    verified_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_checked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_check_error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    tenant: Mapped[Tenant] = relationship(back_populates="domains")

    def __repr__(self) -> str:
        return f"<TenantDomain {self.hostname}>"


class TenantSpareSchema(db.Model):
    """A schema built ahead of time (tables + migration stamp), waiting to become a tenant.

    Provisioning renames one (``ALTER SCHEMA ... RENAME``, constant time) instead of
    running the DDL of every table while the operator waits. Only spares stamped
    at the provisioning process's tenant head are used.
    """

    __tablename__ = "tenant_spare_schemas"
    __table_args__ = {"schema": "public"}

    schema_name: Mapped[str] = mapped_column(sa.String(63), primary_key=True)
    head: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
