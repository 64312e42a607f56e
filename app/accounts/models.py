"""People of a tenant. Every account belongs to exactly one tenant's schema."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import TenantModel, tenant_table_args

ROLES = ("member", "moderator", "admin")
USER_STATUSES = ("active", "suspended", "deleted")


class User(UserMixin, TenantModel):
    __tablename__ = "users"
    __table_args__ = tenant_table_args(
        sa.Index("ux_users_email_lower", sa.func.lower(sa.text("email")), unique=True),
        sa.CheckConstraint("role in ('member', 'moderator', 'admin')", name="role"),
        sa.CheckConstraint("status in ('active', 'suspended', 'deleted')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    display_name: Mapped[str] = mapped_column(sa.String(80))
    role: Mapped[str] = mapped_column(sa.String(16), default="member", server_default="member")
    status: Mapped[str] = mapped_column(sa.String(16), default="active", server_default="active")
    email_verified_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_active(self) -> bool:  # Flask-Login: suspended accounts cannot log in
        return self.status == "active"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"
