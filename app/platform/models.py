"""Platform administrators: the people who run Gigforge itself (``public`` schema).

They are not tenant users: they sign in on the bare platform host only, with
their own session key (app/platform/auth.py), and never appear in any tenant.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import db, public_table_args


class PlatformAdmin(db.Model):
    __tablename__ = "platform_admins"
    __table_args__ = public_table_args(
        sa.Index("ux_platform_admins_email_lower", sa.func.lower(sa.text("email")), unique=True),
        sa.CheckConstraint("status in ('active', 'disabled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    display_name: Mapped[str] = mapped_column(sa.String(80))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(16), default="active", server_default="active")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Two-factor sign-in, always required of platform admins (app/core/otp.py): the secret is
    # encrypted (app/core/crypto.py); ``totp_last_step`` makes each code single use; the
    # recovery codes are SHA-256 hashes, removed as they are used.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    recovery_code_hashes: Mapped[list[str]] = mapped_column(
        ARRAY(sa.String(64)), default=list, server_default=sa.text("'{}'")
    )

    def __repr__(self) -> str:
        return f"<PlatformAdmin {self.id} {self.email}>"
