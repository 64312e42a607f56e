"""Account rules: creating users and hashing passwords (argon2id)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from app.accounts.models import ROLES, User
from tenants.db import db


def password_hasher() -> PasswordHasher:
    hasher = current_app.extensions.get("password_hasher")
    if hasher is None:
        cfg = current_app.config
        hasher = PasswordHasher(
            time_cost=cfg["ARGON2_TIME_COST"],
            memory_cost=cfg["ARGON2_MEMORY_COST"],
            parallelism=cfg["ARGON2_PARALLELISM"],
        )
        current_app.extensions["password_hasher"] = hasher
    return hasher


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def check_password(user: User, password: str) -> bool:
    """True when ``password`` matches; rehashes when the parameters changed."""
    if not user.password_hash:
        return False
    hasher = password_hasher()
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def normalize_email(email: str) -> str:
    return (email or "").strip()


def create_user(
    email: str, password: str | None, display_name: str, *, role: str = "member", session=None
) -> User:
    """Add a user to the bound tenant (flushes, does not commit)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    session = session or db.session
    user = User(
        email=normalize_email(email),
        password_hash=hash_password(password) if password else None,
        display_name=display_name,
        role=role,
    )
    session.add(user)
    session.flush()
    return user


def seed_admin(_sender, *, session, tenant, options) -> list[str]:
    """tenant_seed receiver: the tenant's first operator admin."""
    email = options.get("admin_email") or f"admin@{tenant.slug}.{current_app.config['BASE_DOMAIN']}"
    password = options.get("admin_password")
    generated = password is None
    if generated:
        password = secrets.token_urlsafe(12)
    user = create_user(email, password, "Marketplace admin", role="admin", session=session)
    user.email_verified_at = db.func.now()
    note = f"admin: {email}"
    if generated:
        note += f" / password {password} (shown once)"
    return [note]
