"""People of a tenant. Every account belongs to exactly one tenant's schema.

Roles within a tenant: every active user can buy; a user with a seller profile
is a seller; ``role`` adds moderator / operator admin on top. The platform admin
lives in ``public`` and is not a User.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.db import TENANT_SCHEMA, TenantModel, current_tenant, tenant_table_args

ROLES = ("member", "moderator", "admin")
USER_STATUSES = ("active", "suspended", "deleted")
AVAILABILITIES = ("full_time", "part_time", "occasional", "unavailable")


# Seller levels, assigned by the reviews domain's daily reputation job (app.reviews.reputation).
SELLER_LEVELS = {"new": "New seller", "level_1": "Level 1", "level_2": "Level 2", "top_rated": "Top Rated"}


class User(UserMixin, TenantModel):
    __tablename__ = "users"
    __table_args__ = tenant_table_args(
        sa.Index("ux_users_email_lower", sa.func.lower(sa.text("email")), unique=True),
        sa.Index("ux_users_handle_lower", sa.func.lower(sa.text("handle")), unique=True),
        sa.Index("ix_users_created_at", "created_at"),  # new users per period (console dashboard)
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

    # Public profile
    handle: Mapped[str | None] = mapped_column(sa.String(30))
    country: Mapped[str | None] = mapped_column(sa.String(2))  # ISO 3166-1 alpha-2
    timezone: Mapped[str | None] = mapped_column(sa.String(64))  # IANA zone name
    languages: Mapped[list[str]] = mapped_column(
        ARRAY(sa.String(8)), default=list, server_default=sa.text("'{}'")
    )
    bio: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    avatar_key: Mapped[str | None] = mapped_column(sa.String(300))  # app.storage key

    # Login protection
    failed_login_count: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Set by the operator console (app/accounts/moderation.py); the user is told the reason.
    suspended_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    suspended_reason: Mapped[str | None] = mapped_column(sa.String(500))

    seller_profile: Mapped[SellerProfile | None] = relationship(
        back_populates="user", uselist=False, lazy="select"
    )
    portfolio_items: Mapped[list[PortfolioItem]] = relationship(
        back_populates="user", order_by="PortfolioItem.id", lazy="select"
    )

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_active(self) -> bool:  # Flask-Login: suspended accounts cannot log in
        return self.status == "active"

    @property
    def is_seller(self) -> bool:
        return self.seller_profile is not None

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    def get_id(self) -> str:
        """Flask-Login's session / remember-cookie id: ``<tenant id>:<user id>:<stamp>:<sid>``.

        The tenant id makes a cookie from one marketplace worthless on another;
        the stamp (derived from the password hash) ends every other session and
        remember cookie when the password changes; the session id (``session["sid"]``, set
        by ``app.accounts.sessions.open_web_session``) ties the remember cookie to its
        ``user_sessions`` row, so ending the row ends the cookie too.
        """
        from flask import has_request_context, session

        from app.accounts.auth import session_stamp

        sid = session.get("sid", "") if has_request_context() else ""
        return f"{current_tenant().id}:{self.id}:{session_stamp(self)}:{sid}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class SellerProfile(TenantModel):
    """What makes a user a seller. One per user; the row's existence is the seller role."""

    __tablename__ = "seller_profiles"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint(
            "availability in ('full_time', 'part_time', 'occasional', 'unavailable')", name="availability"
        ),
        sa.CheckConstraint("hourly_rate_minor is null or hourly_rate_minor >= 0", name="hourly_rate"),
        sa.CheckConstraint("level in ('new', 'level_1', 'level_2', 'top_rated')", name="level"),
        sa.Index("ix_seller_profiles_level", "level"),
    )

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"), primary_key=True
    )
    headline: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    skills: Mapped[list[str]] = mapped_column(
        ARRAY(sa.String(40)), default=list, server_default=sa.text("'{}'")
    )
    hourly_rate_minor: Mapped[int | None] = mapped_column(sa.Integer)  # minor units of `currency`
    currency: Mapped[str] = mapped_column(sa.String(3))
    availability: Mapped[str] = mapped_column(sa.String(16), default="full_time", server_default="full_time")
    # Reputation, kept by the reviews domain (``set_seller_reputation``): the level the daily
    # job assigned and the average of the seller's published reviews (what cards and search show).
    level: Mapped[str] = mapped_column(sa.String(16), default="new", server_default="new")
    level_since: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    rating_avg: Mapped[Decimal] = mapped_column(sa.Numeric(3, 2), default=0, server_default="0")
    rating_count: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    user: Mapped[User] = relationship(back_populates="seller_profile")

    def __repr__(self) -> str:
        return f"<SellerProfile {self.user_id} {self.headline!r}>"


class PortfolioItem(TenantModel):
    """A piece of a seller's past work: an image, a link, or both."""

    __tablename__ = "portfolio_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.String(1000), default="", server_default="")
    link: Mapped[str | None] = mapped_column(sa.String(500))
    image_key: Mapped[str | None] = mapped_column(sa.String(300))  # app.storage key
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())

    user: Mapped[User] = relationship(back_populates="portfolio_items")

    def __repr__(self) -> str:
        return f"<PortfolioItem {self.id} {self.title!r}>"


TOKEN_KINDS = ("access", "refresh")


class ApiToken(TenantModel):
    """An API bearer token (app/accounts/tokens.py issues and checks them).

    Only the SHA-256 of the secret is stored. Refresh tokens rotate: each use
    revokes the presented token and issues a new pair in the same ``family_id``;
    presenting a revoked refresh token again revokes the whole family.
    """

    __tablename__ = "api_tokens"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("kind in ('access', 'refresh')", name="kind"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    family_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))
    ip: Mapped[str | None] = mapped_column(sa.String(45))

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.kind} user={self.user_id}>"


API_KEY_NAME_MAX = 80
API_KEYS_PER_TENANT = 50


class ApiKey(TenantModel):
    """A partner's API key: made by an operator, acting as ``user_id`` within ``scopes``.

    Only the SHA-256 of the secret is stored (shown once, at creation); ``prefix`` is its first
    characters, to recognise it in lists. A key lives in the tenant's schema, so on any other
    host its hash is simply not there. ``app.accounts.api_keys`` issues and checks keys.
    """

    __tablename__ = "api_keys"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("length(btrim(name)) > 0", name="name_present"),
        sa.CheckConstraint("cardinality(scopes) > 0", name="scopes_present"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(API_KEY_NAME_MAX))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(sa.String(40)))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_used_ip: Mapped[str | None] = mapped_column(sa.String(45))


class ApiKeyCall(TenantModel):
    """Every call made with a key (the key's audit trail), written with the request's commit, or
    apart when the request rolls back, so refused calls are kept too; purged after 30 days."""

    __tablename__ = "api_key_calls"
    __table_args__ = tenant_table_args(
        sa.Index("ix_api_key_calls_key_at", "key_id", "at"),
        sa.Index("ix_api_key_calls_at", "at"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    key_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.api_keys.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    method: Mapped[str] = mapped_column(sa.String(8))
    route: Mapped[str] = mapped_column(sa.String(200))  # the URL rule, never the raw path
    status: Mapped[int] = mapped_column(sa.SmallInteger)
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    request_id: Mapped[str | None] = mapped_column(sa.String(64))


# --------------------------------------------------------------------------- identity (#22)


class TwoFactor(TenantModel):
    """A user's TOTP authenticator (app/accounts/two_factor.py). On once ``confirmed_at`` is set
    (the person typed a code from the scanned QR); ``last_step`` is the 30-second step of the
    last accepted code, so a code works once. The secret is encrypted (app/core/crypto.py)."""

    __tablename__ = "user_two_factor"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class RecoveryCode(TenantModel):
    """One single-use recovery code (SHA-256 of it, app/core/otp.py); ten per enrolment."""

    __tablename__ = "user_recovery_codes"
    __table_args__ = tenant_table_args(
        sa.UniqueConstraint("user_id", "code_hash", name="ux_user_recovery_codes")
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


SESSION_KINDS = ("web", "api")


class UserSession(TenantModel):
    """A signed-in device: a web login (its secret id lives in the signed session cookie, the
    hash here) or an API token family (``secret_hash`` = the family id's hash). Ending a session
    (``revoked_at``) signs that device out at its next request (app/accounts/sessions.py)."""

    __tablename__ = "user_sessions"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("kind in ('web', 'api')", name="kind"),
        sa.Index(
            "ix_user_sessions_user_live",
            "user_id",
            "last_seen_at",
            postgresql_where=sa.text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(8))
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    method: Mapped[str] = mapped_column(sa.String(16), default="password", server_default="password")
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))
    device: Mapped[str | None] = mapped_column(sa.String(120))  # "Firefox on Windows"
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    last_seen_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(32))


IDENTITY_PROVIDERS = ("github", "google")


class IdentityProvider(TenantModel):
    """A sign-in provider the operator configured for this marketplace (console "Sign-in").
    The client secret is encrypted at rest like the Stripe keys (app/core/crypto.py)."""

    __tablename__ = "identity_providers"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("provider in ('github', 'google')", name="provider"),
        sa.CheckConstraint("length(btrim(client_id)) > 0", name="client_id_present"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(16), unique=True)
    client_id: Mapped[str] = mapped_column(sa.String(255))
    client_secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )


class UserIdentity(TenantModel):
    """An account at a provider linked to a user: ``subject`` is the provider's stable id (OIDC
    ``sub``, GitHub's numeric id); ``login`` is the GitHub username shown on profiles."""

    __tablename__ = "user_identities"
    __table_args__ = tenant_table_args(
        sa.CheckConstraint("provider in ('github', 'google')", name="provider"),
        sa.UniqueConstraint("provider", "subject", name="ux_user_identities_subject"),
        sa.UniqueConstraint("user_id", "provider", name="ux_user_identities_user_provider"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{TENANT_SCHEMA}.users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(sa.String(16))
    subject: Mapped[str] = mapped_column(sa.String(255))
    login: Mapped[str | None] = mapped_column(sa.String(100))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    email_verified: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
