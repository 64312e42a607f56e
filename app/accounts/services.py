"""Account rules: sign-up, login, verification, passwords, profiles, sellers, privacy.

Every function acts on the bound tenant, flushes and never commits: the view
(or API call, or job) commits once. A function that refuses raises
``AccountError`` before it changes anything, so the caller only has to roll
back (or not commit). One exception, documented on it: ``authenticate`` records
a failed attempt and raises; its caller commits so the failure counts.

Links in emails carry itsdangerous tokens signed with ``SECRET_KEY`` and a salt
naming the purpose and the tenant id, so a token issued by one marketplace is
worthless on another and a reset token cannot verify an email.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.accounts.models import AVAILABILITIES, ROLES, SELLER_LEVELS, PortfolioItem, SellerProfile, User
from app.accounts.sessions import end_all_sessions, end_other_sessions
from app.core.domain_errors import FORM, DomainError
from app.core.reference import COUNTRIES, LANGUAGES
from app.core.urls import tenant_url
from app.settings.models import MarketplaceSettings
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
HANDLE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{1,28}[a-z0-9])$")
RESERVED_HANDLES = frozenset(
    "admin administrator api account accounts login logout signup support help root staff "
    "moderator operator system null none me settings static u www mail billing security".split()
)
SKILL_RE = re.compile(r"^[\w][\w .+#/-]{0,38}[\w+#]?$", re.UNICODE)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MAX_LANGUAGES = 10
MAX_SKILLS = 20
MAX_PORTFOLIO_ITEMS = 30
PROFILE_FIELDS = ("display_name", "handle", "country", "timezone", "languages", "bio")
SELLER_FIELDS = ("headline", "description", "skills", "hourly_rate_minor", "availability")
MAX_HOURLY_RATE_MINOR = 100_000_00  # 100,000.00 in a two-decimal currency


class AccountError(DomainError):
    """A refused account operation: ``errors`` maps a field (or ``"form"``) to a message."""


# --------------------------------------------------------------------------- passwords


def password_hasher() -> PasswordHasher:
    hasher = current_app.extensions.get("password_hasher")
    if hasher is None:
        cfg = current_app.config
        hasher = PasswordHasher(
            time_cost=cfg["ARGON2_TIME_COST"],
            memory_cost=cfg["ARGON2_MEMORY_COST"],
            parallelism=cfg["ARGON2_PARALLELISM"],
        )
        # The dummy that unknown emails are checked against, made now rather than on the
        # first unknown email, which would otherwise take two hashes' time (see _burn_a_hash).
        current_app.extensions["password_hasher_dummy"] = hasher.hash(secrets.token_hex(16))
        current_app.extensions["password_hasher"] = hasher
    return hasher


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def check_password(user: User, password: str) -> bool:
    """True when ``password`` matches; rehashes when the parameters changed."""
    if not user.password_hash or not password:
        return False
    hasher = password_hasher()
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def _burn_a_hash(password: str) -> None:
    """Spend the time of a real verification, so a missing account is not faster to reject."""
    hasher = password_hasher()
    with contextlib.suppress(VerificationError, InvalidHashError):
        hasher.verify(current_app.extensions["password_hasher_dummy"], password or "-")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case)."""
    path = Path(__file__).with_name("common_passwords.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def validate_password(password: str, email: str | None = None) -> None:
    """Check a new password: 10+ characters, not the email, not a common password.

    Raises AccountError({"password": ...}).
    """
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError({"password": f"Use at least {MIN_PASSWORD_LENGTH} characters."})
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError({"password": f"Use at most {MAX_PASSWORD_LENGTH} characters."})
    lowered = password.lower()
    if email:
        email = email.strip().lower()
        local = email.partition("@")[0]
        if email in lowered or (len(local) >= 3 and local in lowered):
            raise AccountError({"password": "Do not use your email address in your password."})
    stripped = lowered.rstrip("0123456789!.?")
    if lowered in common_passwords() or (len(stripped) >= 6 and stripped in common_passwords()):
        raise AccountError({"password": "This password is too common. Choose one that is harder to guess."})
    if len(set(password)) < 4:
        raise AccountError({"password": "Use a password with more different characters."})


# --------------------------------------------------------------------------- lookups


def normalize_email(email: str) -> str:
    return (email or "").strip()


def validate_email_address(email: str, field: str = "email") -> str:
    """The trimmed address when its syntax is valid; raises AccountError({field: ...})."""
    email = normalize_email(email)
    if not email:
        raise AccountError({field: "Enter your email address."})
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise AccountError({field: "Enter a valid email address, like name@example.com."})
    return email


def users_by_id(ids) -> dict[int, User]:
    """``{id: User}`` of these ids (None and repeats skipped), in one query."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {user.id: user for user in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}


def get_user_by_email(email: str) -> User | None:
    """The user of the bound tenant with this email (case-insensitive), deleted ones excluded."""
    email = normalize_email(email)
    if not email:
        return None
    return db.session.execute(
        sa.select(User).where(sa.func.lower(User.email) == email.lower(), User.status != "deleted")
    ).scalar_one_or_none()


def get_user_by_handle(handle: str) -> User | None:
    """The active user with this public handle (case-insensitive), or None."""
    handle = (handle or "").strip().lower()
    if not HANDLE_RE.match(handle):
        return None
    return db.session.execute(
        sa.select(User).where(sa.func.lower(User.handle) == handle, User.status == "active")
    ).scalar_one_or_none()


def _email_taken(email: str, *, exclude_user_id: int | None = None) -> bool:
    query = sa.select(User.id).where(sa.func.lower(User.email) == email.lower())
    if exclude_user_id is not None:
        query = query.where(User.id != exclude_user_id)
    return db.session.execute(query.limit(1)).first() is not None


def _handle_taken(handle: str, *, exclude_user_id: int | None = None) -> bool:
    query = sa.select(User.id).where(sa.func.lower(User.handle) == handle.lower())
    if exclude_user_id is not None:
        query = query.where(User.id != exclude_user_id)
    return db.session.execute(query.limit(1)).first() is not None


def _validate_handle(handle: str, *, user_id: int | None = None) -> str:
    handle = (handle or "").strip().lower()
    if not HANDLE_RE.match(handle):
        raise AccountError(
            {
                "handle": "Use 3 to 30 lowercase letters, digits, '-' or '_', "
                "starting and ending with a letter or digit."
            }
        )
    if handle in RESERVED_HANDLES:
        raise AccountError({"handle": "This handle is reserved. Choose another one."})
    if _handle_taken(handle, exclude_user_id=user_id):
        raise AccountError({"handle": "This handle is already taken."})
    return handle


def _suggest_handle(display_name: str, email: str) -> str:
    """A free handle derived from the display name (never from the email)."""
    ascii_name = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:24].strip("-")
    if len(base) < 3 or base in RESERVED_HANDLES:
        base = "member"
    candidate = base
    for _ in range(20):
        if not _handle_taken(candidate):
            return candidate
        candidate = f"{base}-{secrets.randbelow(9000) + 1000}"
    return f"{base[:16]}-{secrets.token_hex(4)}"


def _clean_display_name(value: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise AccountError({"display_name": "Enter your name."})
    if len(value) > 80:
        raise AccountError({"display_name": "Use at most 80 characters."})
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise AccountError({"display_name": "Remove the control characters."})
    return value


# --------------------------------------------------------------------------- signed tokens


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    tenant = current_tenant()
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt=f"gigforge.accounts.{purpose}.tenant-{tenant.id}"
    )


def _fingerprint(value: str | None, purpose: str) -> str:
    return hashlib.sha256(f"{purpose}:{value or ''}".encode()).hexdigest()[:16]


def make_token(purpose: str, payload: dict) -> str:
    return _serializer(purpose).dumps(payload)


def _load_token(purpose: str, token: str, max_age_setting: str) -> dict:
    """The payload of a valid, unexpired token; raises AccountError({"token": ...})."""
    try:
        payload = _serializer(purpose).loads(token or "", max_age=current_app.config[max_age_setting])
    except SignatureExpired:
        raise AccountError({"token": "This link has expired. Please ask for a new one."}) from None
    except BadSignature:
        raise AccountError({"token": "This link is invalid. Please ask for a new one."}) from None
    if not isinstance(payload, dict):
        raise AccountError({"token": "This link is invalid. Please ask for a new one."})
    return payload


def _token_user(payload: dict) -> User:
    user_id = payload.get("u")
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.status == "deleted":
        raise AccountError({"token": "This link is invalid. Please ask for a new one."})
    return user


def _external_url(endpoint: str, **values) -> str:
    """An absolute URL on the bound tenant's public host, the same inside and outside a request."""
    return tenant_url(current_tenant(), endpoint, **values)


def _send(user_or_email, template: str, subject: str, context: dict, *, user_id: int | None = None):
    from app.mail.services import send_email

    to = user_or_email.email if isinstance(user_or_email, User) else user_or_email
    if isinstance(user_or_email, User):
        user_id = user_or_email.id
        context = {"display_name": user_or_email.display_name, **context}
    return send_email(to, template, subject, context, user_id=user_id)


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- sign-up, verification


def create_user(
    email: str, password: str | None, display_name: str, *, role: str = "member", session=None
) -> User:
    """Add a user to the bound tenant without any checks (seeds, fixtures); flushes, does not commit."""
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


def register_user(email: str, password: str, display_name: str, handle: str | None = None) -> User:
    """Sign a new member up and send the verification email.

    The email is unique per tenant (case-insensitive); ``handle`` is optional
    (one is derived from the display name when it is not given).
    Raises AccountError with field errors (email, password, display_name, handle).
    """
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for field, check in (
        ("email", lambda: validate_email_address(email)),
        ("display_name", lambda: _clean_display_name(display_name)),
        ("handle", lambda: _validate_handle(handle) if handle else None),
    ):
        try:
            clean[field] = check()
        except AccountError as exc:
            errors.update(exc.errors)
    if "email" in clean and _email_taken(clean["email"]):
        errors["email"] = "An account with this email already exists. Log in or reset your password."
    try:
        validate_password(password, clean.get("email") or email)
    except AccountError as exc:
        errors.update(exc.errors)
    if errors:
        raise AccountError(errors)

    user = User(
        email=clean["email"],
        password_hash=hash_password(password),
        display_name=clean["display_name"],
        handle=clean["handle"] or _suggest_handle(clean["display_name"], clean["email"]),
        role="member",
        status="active",
    )
    _insert_member(user, "account registered")
    return user


def _insert_member(user: User, what: str) -> None:
    """Add a new member (flushes), send the verification email unless the address is verified
    already, and emit ``user.registered`` (partners' webhooks, app/webhooks/catalogue.py)."""
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        # A concurrent sign-up took the email or handle between the check and the insert.
        raise AccountError({"email": "An account with this email or handle already exists."}) from None
    send_verification_email(user)
    _account_event("user.registered", user)
    log.info(what, extra={"user_id": user.id})


def register_external_user(
    email: str, display_name: str, *, handle_hint: str | None = None, email_verified: bool = False
) -> User:
    """Sign a new member up whose first factor is a provider (GitHub, Google): no password.

    The email is verified only when the provider says so (else the verification email goes out,
    as for any sign-up); the handle is ``handle_hint`` when it is valid and free, else one derived
    from the name. Emits ``user.registered`` like ``register_user``. Raises AccountError (email or
    display name unusable, or taken meanwhile).
    """
    clean_email = validate_email_address(email)
    if _email_taken(clean_email):
        raise AccountError({"email": "An account with this email already exists. Log in with your password."})
    try:
        name = _clean_display_name(display_name)
    except AccountError:
        name = _clean_display_name(clean_email.split("@", 1)[0])
    handle = None
    if handle_hint:
        try:
            handle = _validate_handle(handle_hint)
        except AccountError:
            handle = None
    user = User(
        email=clean_email,
        password_hash=None,
        display_name=name,
        handle=handle or _suggest_handle(name, clean_email),
        role="member",
        status="active",
        email_verified_at=_now() if email_verified else None,
    )
    _insert_member(user, "account registered through a provider")
    return user


def send_verification_email(user: User) -> None:
    """Email ``user`` a signed link that verifies their current address.

    Does nothing for a verified or inactive user; raises nothing.
    """
    if user.email_verified_at is not None or user.status != "active":
        return
    token = make_token("verify", {"u": user.id, "e": _fingerprint(user.email.lower(), "email")})
    _send(
        user,
        "verify_email",
        "Confirm your email address",
        {
            "verify_url": _external_url("accounts.verify_email", token=token),
            "hours": current_app.config["VERIFY_TOKEN_MAX_AGE"] // 3600,
        },
    )


def verify_email(token: str) -> User:
    """Mark the address in a verification link as verified; returns the user.

    Idempotent for an already verified address. Raises AccountError({"token": ...})
    for a forged, expired or outdated link (the address changed since).
    """
    payload = _load_token("verify", token, "VERIFY_TOKEN_MAX_AGE")
    user = _token_user(payload)
    if payload.get("e") != _fingerprint(user.email.lower(), "email"):
        raise AccountError({"token": "This link is for an address that is no longer on the account."})
    if user.email_verified_at is None:
        user.email_verified_at = _now()
        db.session.flush()
    return user


# --------------------------------------------------------------------------- the verified-email gate


class EmailUnverified(AccountError):
    """The action needs a verified email address (see ``require_verified``)."""

    status = 403
    code = "email_unverified"


def verification_required() -> bool:
    """Whether this marketplace gates ordering, publishing, offers and messages on a verified
    email (``MarketplaceSettings.require_verified_email``, on by default)."""
    value = db.session.scalar(sa.select(MarketplaceSettings.require_verified_email))
    return True if value is None else bool(value)


def needs_verification(user: User | None) -> bool:
    """True when ``user`` would be refused by ``require_verified`` (for banners and buttons)."""
    return bool(user is not None and user.email_verified_at is None and verification_required())


def require_verified(user: User) -> None:
    """The one rule: ordering, accepting an offer, publishing a gig, sending an offer and
    messaging need a verified email address, unless the operator turned the gate off.

    Raises EmailUnverified (403, code ``email_unverified``).
    """
    if needs_verification(user):
        raise EmailUnverified(
            "Please confirm your email address first: follow the link we emailed you "
            "(or ask for a new one from the banner at the top of the page).",
            extra={"code": EmailUnverified.code},  # API clients branch on errors.code
        )


def require_verified_id(user_id: int) -> None:
    """``require_verified`` for a user known by id (the chat socket's hot path): one query."""
    unverified = db.session.scalar(sa.select(User.email_verified_at.is_(None)).where(User.id == user_id))
    if unverified and verification_required():
        require_verified(db.session.get(User, user_id))


# --------------------------------------------------------------------------- login


LOGIN_FAILED = "The email or password is incorrect."
ACCOUNT_LOCKED = (
    "Too many failed attempts: this account is locked for a while. "
    "We emailed its owner a link to reset the password."
)


class LoginFailed(AccountError):
    """Unknown email, wrong password, or a locked account with a wrong password: one answer for all."""

    status = 401
    code = "login_failed"


class AccountLocked(AccountError):
    """The right password for an account locked after failed attempts (only its owner learns this)."""

    status = 423
    code = "locked"


class AccountSuspended(AccountError):
    """The right password for a suspended account."""

    status = 403
    code = "suspended"


def authenticate(email: str, password: str, *, ip: str | None = None) -> User:
    """The user with these credentials, if they may log in now.

    Raises LoginFailed (one generic message) for an unknown email, a wrong
    password, and a wrong password on a locked account alike, after the same
    work (one argon2 verification), so neither the answer nor its timing tells
    a stranger whether an address has an account. After LOGIN_LOCKOUT_THRESHOLD
    failures in a row the account is locked for LOGIN_LOCKOUT_SECONDS and its
    owner gets one email with a reset link (once per lockout: failures while
    locked neither count nor extend the lock). Only the right password learns
    of the lock (AccountLocked) or of a suspension (AccountSuspended); deleted
    accounts look unknown.

    Unlike the other services, a failure is recorded before raising: the caller
    must commit after catching AccountError, or the failure is not counted.
    """
    cfg = current_app.config
    user = get_user_by_email(email)
    if user is None or not user.password_hash or not password:
        _burn_a_hash(password)
        log.info("login failed: unknown email or no password", extra={"ip": ip})
        raise LoginFailed(LOGIN_FAILED)
    now = _now()
    locked = user.locked_until is not None and user.locked_until > now
    if not check_password(user, password):
        if locked:
            log.info("login failed while locked", extra={"user_id": user.id, "ip": ip})
            raise LoginFailed(LOGIN_FAILED)
        user.failed_login_count = (user.failed_login_count or 0) + 1
        if user.failed_login_count >= cfg["LOGIN_LOCKOUT_THRESHOLD"]:
            user.locked_until = now + timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"])
            user.failed_login_count = 0
            log.warning("account locked after failed logins", extra={"user_id": user.id, "ip": ip})
            _send_lockout_email(user)
        else:
            log.info("login failed: wrong password", extra={"user_id": user.id, "ip": ip})
        db.session.flush()
        raise LoginFailed(LOGIN_FAILED)
    if locked:
        log.info("login refused: locked", extra={"user_id": user.id, "ip": ip})
        raise AccountLocked(ACCOUNT_LOCKED)
    if user.status != "active":
        raise AccountSuspended("This account is suspended. Please contact the marketplace's support.")
    if not _has_second_factor(user):
        # With two-factor sign-in the count is cleared by the right code (two_factor.py): wrong
        # codes keep counting toward the lockout even between right passwords.
        user.failed_login_count = 0
        user.locked_until = None
    # Not a column: lets the login page greet a first visit ("Welcome", not "Welcome back").
    user.first_login = user.last_login_at is None
    user.last_login_at = now
    db.session.flush()
    return user


def _has_second_factor(user: User) -> bool:
    from app.accounts.two_factor import has_two_factor  # two_factor builds on this module

    return has_two_factor(user)


def _forget_second_factor(user: User) -> None:
    """A deleted account keeps no authenticator secret nor recovery codes (no email is sent)."""
    from app.accounts.two_factor import _delete

    _delete(user)


def _send_lockout_email(user: User) -> None:
    """Tell the owner their account was locked, with a reset link (the lock's one message)."""
    if user.status != "active":
        return
    _send(
        user,
        "account_locked",
        "Your account was locked after failed logins",
        {
            "reset_url": _reset_url(user),
            "lock_minutes": max(1, current_app.config["LOGIN_LOCKOUT_SECONDS"] // 60),
            "minutes": current_app.config["RESET_TOKEN_MAX_AGE"] // 60,
        },
    )


def _reset_url(user: User) -> str:
    token = make_token("reset", {"u": user.id, "p": _fingerprint(user.password_hash, "password")})
    return _external_url("accounts.reset_password", token=token)


# --------------------------------------------------------------------------- passwords by email


def request_password_reset(email: str) -> None:
    """Email a reset link when an active account has this address; otherwise do nothing.

    Returns None either way and raises nothing, so the answer is the same
    whether or not the account exists.
    """
    user = get_user_by_email(email) if EMAIL_RE.match(normalize_email(email)) else None
    if user is None or user.status != "active":
        log.info("password reset asked for an unknown or inactive address")
        return
    _send(
        user,
        "reset_password",
        "Reset your password",
        {
            "reset_url": _reset_url(user),
            "minutes": current_app.config["RESET_TOKEN_MAX_AGE"] // 60,
        },
    )


def check_reset_token(token: str) -> User:
    """The user a reset link is for, if it is still usable. Raises AccountError({"token": ...})."""
    payload = _load_token("reset", token, "RESET_TOKEN_MAX_AGE")
    user = _token_user(payload)
    # The fingerprint of the password hash makes the link single-use: once the
    # password changes (by this link or otherwise), every older link is dead.
    if payload.get("p") != _fingerprint(user.password_hash, "password") or user.status != "active":
        raise AccountError({"token": "This link has already been used. Please ask for a new one."})
    return user


def reset_password(token: str, new_password: str) -> User:
    """Set a new password from a reset link; unlocks the account and verifies its email.

    Raises AccountError({"token": ...}) for a forged, expired or used link and
    AccountError({"password": ...}) for a weak password.
    """
    user = check_reset_token(token)
    validate_password(new_password, user.email)
    user.password_hash = hash_password(new_password)
    user.failed_login_count = 0
    user.locked_until = None
    if user.email_verified_at is None:
        user.email_verified_at = _now()  # the link reached the inbox: the address works
    db.session.flush()
    end_all_sessions(user, "password_reset")  # the page logs this browser out too
    revoke_api_tokens(user)
    _account_event("account.password_changed", user)
    _send(
        user,
        "password_changed",
        "Your password was changed",
        {"reset_url": _external_url("accounts.forgot_password")},
    )
    return user


def revoke_api_tokens(user: User) -> None:
    """End every API token of ``user``: credentials changed, old tokens must not outlive them."""
    from app.accounts.tokens import revoke_all_for_user  # tokens imports models only; keep it lazy

    revoke_all_for_user(user)


def change_password(user: User, current: str, new: str) -> None:
    """Replace the password after checking the current one (other sessions end).

    Raises AccountError({"current_password": ...}) or ({"password": ...}).
    """
    if not check_password(user, current):
        raise AccountError({"current_password": "Your current password is incorrect."})
    validate_password(new, user.email)
    if current == new:
        raise AccountError({"password": "Choose a password different from the current one."})
    user.password_hash = hash_password(new)
    db.session.flush()
    end_other_sessions(user, "password_changed")  # this device goes on (views.change_password)
    revoke_api_tokens(user)
    _account_event("account.password_changed", user)
    _send(
        user,
        "password_changed",
        "Your password was changed",
        {"reset_url": _external_url("accounts.forgot_password")},
    )


# --------------------------------------------------------------------------- email change


def request_email_change(user: User, new_email: str, password: str) -> None:
    """Send a confirmation link to ``new_email``; the address changes when it is followed.

    The current address is told about the request. Raises AccountError for a
    wrong password ("password") or an invalid, unchanged or taken address ("new_email").
    """
    if not check_password(user, password):
        raise AccountError({"password": "Your password is incorrect."})
    new_email = validate_email_address(new_email, "new_email")
    if new_email.lower() == user.email.lower():
        raise AccountError({"new_email": "This is already your email address."})
    if _email_taken(new_email, exclude_user_id=user.id):
        raise AccountError({"new_email": "An account with this email already exists."})
    token = make_token(
        "email-change", {"u": user.id, "e": new_email, "o": _fingerprint(user.email.lower(), "email")}
    )
    _send(
        new_email,
        "confirm_email_change",
        "Confirm your new email address",
        {
            "display_name": user.display_name,
            "confirm_url": _external_url("accounts.confirm_email_change", token=token),
            "hours": current_app.config["EMAIL_CHANGE_TOKEN_MAX_AGE"] // 3600,
        },
        user_id=user.id,
    )
    _send(user, "email_change_requested", "Your email address is about to change", {"new_email": new_email})


def confirm_email_change(token: str) -> User:
    """Switch the account to the address in a confirmation link (verified by following it).

    Raises AccountError({"token": ...}) for a forged, expired or used link, or
    when the new address was taken in the meantime.
    """
    payload = _load_token("email-change", token, "EMAIL_CHANGE_TOKEN_MAX_AGE")
    user = _token_user(payload)
    new_email = payload.get("e")
    if not isinstance(new_email, str) or payload.get("o") != _fingerprint(user.email.lower(), "email"):
        raise AccountError({"token": "This link has already been used. Please ask for a new one."})
    if _email_taken(new_email, exclude_user_id=user.id):
        raise AccountError({"token": "Another account now uses this email address."})
    user.email = new_email
    user.email_verified_at = _now()
    db.session.flush()
    _account_event("account.email_changed", user)
    return user


def _account_event(name: str, user: User) -> None:
    """Publish an account event (the notifications domain shows it in the bell)."""
    from app.events import publish

    publish(name, {"user_id": user.id})


# --------------------------------------------------------------------------- profile


def _clean_profile_field(user: User, field: str, value: Any) -> Any:
    if field == "display_name":
        return _clean_display_name(value)
    if field == "handle":
        if not value:
            raise AccountError({"handle": "Choose a handle."})
        return _validate_handle(value, user_id=user.id)
    if field == "country":
        value = (value or "").strip().upper()
        if value and value not in COUNTRIES:
            raise AccountError({"country": "Choose a country from the list."})
        return value or None
    if field == "timezone":
        value = (value or "").strip()
        if value and value not in _timezones():
            raise AccountError({"timezone": "Choose a time zone from the list, like Europe/Paris."})
        return value or None
    if field == "languages":
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value) if part]
        if not isinstance(value, list | tuple):
            raise AccountError({"languages": "Give a list of language codes."})
        codes: list[str] = []
        for code in value:
            code = str(code).strip().lower()
            if code not in LANGUAGES:
                message = f"Unknown language code {code[:8]!r}; use codes like en, fr."
                raise AccountError({"languages": message})
            if code not in codes:
                codes.append(code)
        if len(codes) > MAX_LANGUAGES:
            raise AccountError({"languages": f"List at most {MAX_LANGUAGES} languages."})
        return codes
    if field == "bio":
        value = (value or "").strip()
        if len(value) > 500:
            raise AccountError({"bio": "Keep your bio under 500 characters."})
        return value
    raise AccountError({field: "This field cannot be changed."})


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_choices() -> list[str]:
    return sorted(_timezones())


def update_profile(user: User, **fields) -> User:
    """Update any of display_name, handle, country, timezone, languages, bio.

    All fields are checked before any is changed. Raises AccountError with the
    errors of every bad field (an unknown field is an error too).
    """
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for field, value in fields.items():
        if field not in PROFILE_FIELDS:
            errors[field] = "This field cannot be changed."
            continue
        try:
            clean[field] = _clean_profile_field(user, field, value)
        except AccountError as exc:
            errors.update(exc.errors)
    if errors:
        raise AccountError(errors)
    changed = {field for field, value in clean.items() if getattr(user, field) != value}
    for field, value in clean.items():
        setattr(user, field, value)
    db.session.flush()
    # Search shows the seller's name and handle, and filters on their languages and country.
    if changed & {"display_name", "handle", "languages", "country"} and user.seller_profile is not None:
        _seller_updated(user)
    return user


def set_seller_reputation(
    user_id: int,
    *,
    level: str | None = None,
    rating: tuple[Any, int] | None = None,
    now: datetime | None = None,
) -> bool:
    """Store what the reviews domain computed of a seller: their ``level`` (one of
    ``SELLER_LEVELS``) and/or ``rating`` ``(average, count)``; flushes.

    A plain UPDATE (no ORM version check, nothing else of the profile is touched). Returns
    whether anything changed; a change tells search (``seller.updated``) so the seller's gigs
    are indexed with it. A user without a seller profile is left alone (returns False).
    """
    values: dict[str, Any] = {}
    profile = db.session.get(SellerProfile, user_id)
    if profile is None:
        return False
    if level is not None:
        if level not in SELLER_LEVELS:
            raise ValueError(f"unknown seller level {level!r}")
        if profile.level != level:
            values.update(level=level, level_since=now or datetime.now(UTC))
    if rating is not None:
        average, count = rating
        if profile.rating_count != count or float(profile.rating_avg or 0) != float(average or 0):
            values.update(rating_avg=average or 0, rating_count=count)
    if not values:
        return False
    db.session.execute(sa.update(SellerProfile).where(SellerProfile.user_id == user_id).values(**values))
    db.session.refresh(profile)
    from app.events import publish

    publish("seller.updated", {"user_id": user_id})
    return True


@dataclass(frozen=True)
class SellerReputation:
    """One seller's reputation as the daily job computed it (``set_seller_reputations``).

    ``rating_seen``: the ``(average, count)`` the caller read from the profile before computing
    ``rating``; the rating is only replaced while the profile still holds it, so a review
    published (and stored by ``set_seller_reputation``) meanwhile is never overwritten by an
    older aggregate. None: leave the rating alone.
    """

    user_id: int
    level: str
    rating: tuple[Any, int] | None = None
    rating_seen: tuple[Any, int] | None = None


REPUTATION_CHUNK = 2000  # profiles per locking read and per UPDATE statement


def _same_rating(a: tuple[Any, int], b: tuple[Any, int]) -> bool:
    return int(a[1]) == int(b[1]) and float(a[0] or 0) == float(b[0] or 0)


def set_seller_reputations(
    updates: list[SellerReputation], *, now: datetime | None = None
) -> list[tuple[int, str, str]]:
    """``set_seller_reputation`` for many sellers at once (the reviews domain's daily job); flushes.

    Per chunk: one locking read of the profiles (``FOR UPDATE``: a concurrent
    ``set_seller_reputation`` finishes first, and its rating is then seen) and one UPDATE of
    those whose level or rating differs. Publishes ``seller.updated`` for each seller changed
    (search re-indexes their gigs). Returns ``[(user_id, old level, new level)]`` of the level
    changes. Users without a seller profile are skipped. Raises ValueError on an unknown level.
    """
    from app.events import publish_many

    now = now or datetime.now(UTC)
    changes: list[tuple[int, str, str]] = []
    for update in updates:
        if update.level not in SELLER_LEVELS:
            raise ValueError(f"unknown seller level {update.level!r}")
    ordered = sorted(updates, key=lambda u: u.user_id)  # one lock order for every caller
    for start in range(0, len(ordered), REPUTATION_CHUNK):
        chunk = {u.user_id: u for u in ordered[start : start + REPUTATION_CHUNK]}
        current = db.session.execute(
            sa.select(
                SellerProfile.user_id,
                SellerProfile.level,
                SellerProfile.level_since,
                SellerProfile.rating_avg,
                SellerProfile.rating_count,
            )
            .where(SellerProfile.user_id.in_(list(chunk)))
            .order_by(SellerProfile.user_id)
            .with_for_update()
        ).all()
        rows = []
        for user_id, level, level_since, average, count in current:
            update = chunk[user_id]
            rating = (average, count)
            if (
                update.rating is not None
                and update.rating_seen is not None
                and _same_rating(rating, update.rating_seen)
                and not _same_rating(rating, update.rating)
            ):
                rating = (update.rating[0] or 0, int(update.rating[1]))
            if update.level == level and rating == (average, count):
                continue
            if update.level != level:
                changes.append((user_id, level, update.level))
                level_since = now
            rows.append((user_id, update.level, level_since, rating[0], rating[1]))
        if not rows:
            continue
        values = sa.values(
            sa.column("user_id", sa.Integer),
            sa.column("level", sa.String),
            sa.column("level_since", sa.DateTime(timezone=True)),
            sa.column("rating_avg", sa.Numeric(3, 2)),
            sa.column("rating_count", sa.Integer),
            name="v",
        ).data(rows)
        db.session.execute(
            sa.update(SellerProfile)
            .where(SellerProfile.user_id == values.c.user_id)
            .values(
                level=values.c.level,
                # Cast: a VALUES column of NULLs only (no level changed) would be read as text.
                level_since=sa.cast(values.c.level_since, sa.DateTime(timezone=True)),
                rating_avg=sa.cast(values.c.rating_avg, sa.Numeric(3, 2)),
                rating_count=values.c.rating_count,
            )
            .execution_options(synchronize_session=False)
        )
        publish_many("seller.updated", [{"user_id": row[0]} for row in rows])
    # Profiles already in the session now hold old values: make the next access read again.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, SellerProfile):
            db.session.expire(obj)
    return changes


def _seller_updated(user: User) -> None:
    """Tell other domains (search) that what buyers see of a seller changed."""
    from app.events import publish

    publish("seller.updated", {"user_id": user.id})


def _process_upload(file, field: str, *, max_bytes: int, max_side: int, square: bool):
    from app.storage.images import ImageError, process_image

    try:
        return process_image(file, max_bytes=max_bytes, max_side=max_side, square=square)
    except ImageError as exc:
        raise AccountError({field: str(exc)}) from None


def _delete_file_after_commit(key: str | None) -> None:
    from app.storage import delete_after_commit

    delete_after_commit(key)


def set_avatar(user: User, file) -> str:
    """Validate, square-crop and store an uploaded image as the user's avatar; returns its key.

    ``file`` is bytes or a werkzeug FileStorage. The previous avatar is deleted
    after commit. Raises AccountError({"avatar": ...}) for a missing, oversized,
    non-image or malformed upload.
    """
    from app.storage import storage

    if file is None or (hasattr(file, "filename") and not file.filename):
        raise AccountError({"avatar": "Choose an image to upload."})
    data, content_type = _process_upload(
        file, "avatar", max_bytes=current_app.config["AVATAR_MAX_BYTES"], max_side=512, square=True
    )
    key = storage.save(data, namespace="avatars", filename="avatar", content_type=content_type)
    _delete_file_after_commit(user.avatar_key)
    user.avatar_key = key
    db.session.flush()
    return key


def remove_avatar(user: User) -> None:
    """Drop the user's avatar (the file goes after commit). Raises nothing."""
    _delete_file_after_commit(user.avatar_key)
    user.avatar_key = None
    db.session.flush()


def avatar_url(user: User, expires_in: int = 3600) -> str | None:
    """A signed, expiring URL of the user's avatar, or None."""
    from app.storage import storage

    return storage.url(user.avatar_key, expires_in=expires_in) if user.avatar_key else None


# --------------------------------------------------------------------------- sellers


def marketplace_currency() -> str:
    from app.settings.services import get_branding

    return get_branding().currency


def _clean_seller_fields(fields: dict, *, creating: bool) -> dict:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for field in fields:
        if field not in SELLER_FIELDS:
            errors[field] = "This field cannot be changed."
    if creating and not (fields.get("headline") or "").strip():
        errors["headline"] = "Write a headline, like 'Logo designer with 10 years of experience'."
    if "headline" in fields:
        headline = " ".join((fields["headline"] or "").split())
        if not headline:
            errors["headline"] = "Write a headline."
        elif len(headline) > 120:
            errors["headline"] = "Keep the headline under 120 characters."
        clean["headline"] = headline
    if "description" in fields:
        description = (fields["description"] or "").strip()
        if len(description) > 5000:
            errors["description"] = "Keep the description under 5,000 characters."
        clean["description"] = description
    if "skills" in fields:
        skills = fields["skills"] or []
        if isinstance(skills, str):
            skills = skills.split(",")
        if not isinstance(skills, list | tuple):
            errors["skills"] = "Give a list of skills."
        else:
            tags: list[str] = []
            for raw in skills:
                tag = " ".join(str(raw).split()).lower()
                if not tag:
                    continue
                if len(tag) > 40 or not SKILL_RE.match(tag):
                    errors["skills"] = f"{tag[:40]!r} is not a valid skill (letters, digits, up to 40)."
                    break
                if tag not in tags:
                    tags.append(tag)
            if len(tags) > MAX_SKILLS:
                errors["skills"] = f"List at most {MAX_SKILLS} skills."
            clean["skills"] = tags
    if "hourly_rate_minor" in fields:
        rate = fields["hourly_rate_minor"]
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int)):
            errors["hourly_rate_minor"] = "The hourly rate must be a whole number of minor units."
        elif rate is not None and not 0 <= rate <= MAX_HOURLY_RATE_MINOR:
            errors["hourly_rate_minor"] = "The hourly rate must be between 0 and 100,000."
        clean["hourly_rate_minor"] = rate
    if "availability" in fields:
        availability = fields["availability"] or "full_time"
        if availability not in AVAILABILITIES:
            errors["availability"] = "Choose full time, part time, occasional or unavailable."
        clean["availability"] = availability
    if errors:
        raise AccountError(errors)
    return clean


def upsert_seller_profile(user: User, **fields) -> SellerProfile:
    """Create the user's seller profile (they become a seller) or update it.

    Fields: headline (required to create), description, skills (list of tags),
    hourly_rate_minor (int in minor units of the marketplace currency, or None),
    availability (full_time / part_time / occasional / unavailable).
    Raises AccountError with field errors; nothing changes then.
    """
    if user.status != "active":
        raise AccountError({FORM: "This account cannot sell."})
    profile = user.seller_profile
    clean = _clean_seller_fields(fields, creating=profile is None)
    if profile is None:
        if not user.handle:  # a seller needs a public page
            user.handle = _suggest_handle(user.display_name, user.email)
        profile = SellerProfile(user=user, currency=marketplace_currency(), availability="full_time")
        db.session.add(profile)
        log.info("user became a seller", extra={"user_id": user.id})
    for field, value in clean.items():
        setattr(profile, field, value)
    if "hourly_rate_minor" in clean:
        profile.currency = marketplace_currency()
    db.session.flush()
    _seller_updated(user)
    return profile


def _clean_link(link: str | None) -> str | None:
    link = (link or "").strip()
    if not link:
        return None
    if len(link) > 500 or not re.match(r"^https?://[^\s/$.?#][^\s]*$", link, re.IGNORECASE):
        raise AccountError({"link": "Enter a full web address starting with https://"})
    return link


def add_portfolio_item(
    user: User, title: str, description: str = "", link: str | None = None, image=None
) -> PortfolioItem:
    """Add a piece of work to the seller's portfolio: a title plus an image, a link or both.

    Raises AccountError ("title", "description", "link", "image", "form" when
    the user is not a seller or has too many items).
    """
    errors: dict[str, str] = {}
    if not user.is_seller:
        raise AccountError({FORM: "Create your seller profile first."})
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(PortfolioItem).where(PortfolioItem.user_id == user.id)
    )
    if count >= MAX_PORTFOLIO_ITEMS:
        raise AccountError({FORM: f"A portfolio holds at most {MAX_PORTFOLIO_ITEMS} items."})
    title = " ".join((title or "").split())
    if not title:
        errors["title"] = "Give the item a title."
    elif len(title) > 120:
        errors["title"] = "Keep the title under 120 characters."
    description = (description or "").strip()
    if len(description) > 1000:
        errors["description"] = "Keep the description under 1,000 characters."
    try:
        link = _clean_link(link)
    except AccountError as exc:
        errors.update(exc.errors)
    has_image = image is not None and not (hasattr(image, "filename") and not image.filename)
    if not has_image and not link and "link" not in errors:
        errors["image"] = "Add an image or a link."
    if errors:
        raise AccountError(errors)
    image_key = None
    if has_image:
        from app.storage import storage

        data, content_type = _process_upload(
            image,
            "image",
            max_bytes=current_app.config["PORTFOLIO_IMAGE_MAX_BYTES"],
            max_side=1600,
            square=False,
        )
        image_key = storage.save(data, namespace="portfolio", filename="work", content_type=content_type)
    item = PortfolioItem(
        user_id=user.id, title=title, description=description, link=link, image_key=image_key
    )
    db.session.add(item)
    db.session.flush()
    return item


def delete_portfolio_item(user: User, item_id: int) -> None:
    """Remove one of the user's own portfolio items (its image goes after commit).

    Raises AccountError (status 404) when the item is not theirs or does not exist.
    """
    item = db.session.get(PortfolioItem, item_id) if isinstance(item_id, int) else None
    if item is None or item.user_id != user.id:
        raise AccountError("This portfolio item does not exist.", status=404)
    _delete_file_after_commit(item.image_key)
    db.session.delete(item)
    db.session.flush()


def image_url(key: str | None, expires_in: int = 3600) -> str | None:
    from app.storage import storage

    return storage.url(key, expires_in=expires_in) if key else None


# --------------------------------------------------------------------------- privacy


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_user_data(user: User) -> dict:
    """Everything the marketplace holds about the user, as a JSON-ready dict. Raises nothing."""
    tenant = current_tenant()
    profile = user.seller_profile
    return {
        "marketplace": {"slug": tenant.slug, "name": tenant.name},
        "exported_at": _now().isoformat(),
        "account": {
            "id": user.id,
            "email": user.email,
            "email_verified_at": _iso(user.email_verified_at),
            "display_name": user.display_name,
            "role": user.role,
            "status": user.status,
            "created_at": _iso(user.created_at),
            "last_login_at": _iso(user.last_login_at),
        },
        "profile": {
            "handle": user.handle,
            "country": user.country,
            "timezone": user.timezone,
            "languages": list(user.languages or []),
            "bio": user.bio,
            "avatar_url": avatar_url(user),
        },
        "seller_profile": (
            {
                "headline": profile.headline,
                "description": profile.description,
                "skills": list(profile.skills or []),
                "hourly_rate_minor": profile.hourly_rate_minor,
                "currency": profile.currency,
                "availability": profile.availability,
                "created_at": _iso(profile.created_at),
            }
            if profile
            else None
        ),
        "portfolio": [
            {
                "id": item.id,
                "title": item.title,
                "description": item.description,
                "link": item.link,
                "image_url": image_url(item.image_key),
                "created_at": _iso(item.created_at),
            }
            for item in user.portfolio_items
        ],
    }


def delete_account(user: User, password: str) -> None:
    """Delete the account after checking the password: personal data is anonymised.

    The row stays (orders and ledger entries will point at it) with email
    ``deleted-<id>@invalid``, no password, name, handle, profile, avatar or
    portfolio, and status "deleted"; stored files go after commit.
    Raises AccountError({"password": ...}); an admin cannot delete themself.
    """
    if not check_password(user, password):
        raise AccountError({"password": "Your password is incorrect."})
    if user.role == "admin":
        raise AccountError({FORM: "An operator admin cannot delete their account. Ask another admin."})
    for item in list(user.portfolio_items):
        _delete_file_after_commit(item.image_key)
        db.session.delete(item)
    was_seller = user.seller_profile is not None
    if was_seller:
        db.session.delete(user.seller_profile)
    _delete_file_after_commit(user.avatar_key)
    user.email = f"deleted-{user.id}@invalid"
    user.password_hash = None
    user.display_name = "Deleted user"
    user.handle = None
    user.country = None
    user.timezone = None
    user.languages = []
    user.bio = ""
    user.avatar_key = None
    user.email_verified_at = None
    user.locked_until = None
    user.failed_login_count = 0
    user.status = "deleted"
    user.deleted_at = _now()
    db.session.flush()
    _forget_second_factor(user)
    end_all_sessions(user, "account_deleted")
    revoke_api_tokens(user)
    if was_seller:
        _seller_updated(user)  # their gigs leave search
    _account_event("user.deleted", user)  # partners' webhooks (app/webhooks/catalogue.py)
    log.info("account deleted", extra={"user_id": user.id})


# --------------------------------------------------------------------------- seeds


def seed_admin(_sender, *, session, tenant, options) -> list[str]:
    """tenant_seed receiver: the tenant's first operator admin.

    With ``admin_password`` the account gets it (demo and scripted setups).
    Without one the account has no password yet: the new tenant's outbox gets a
    ``tenant.created`` event, committed with the tenant, and its handler
    (``app.accounts.events``) emails a set-password link; that also keeps the
    costly argon2 hash out of tenant creation.
    """
    from app.events.services import publish_in_seed

    email = options.get("admin_email") or f"admin@{tenant.slug}.{current_app.config['BASE_DOMAIN']}"
    password = options.get("admin_password")
    user = create_user(email, password, "Marketplace admin", role="admin", session=session)
    user.email_verified_at = db.func.now()
    user.handle = "marketplace-admin"
    if password:
        return [f"admin: {email}"]
    publish_in_seed(session, "tenant.created", {"slug": tenant.slug})
    return [f"admin: {email} (invited: a set-password link is emailed)"]


def invite_admin(_sender, *, tenant) -> list[str]:
    """tenant_created receiver: hand the new tenant's outbox (its ``tenant.created`` event: the
    admin's invitation) to the worker now. Redis out of reach is no failure of the creation,
    which has committed: the worker's relay enqueues the event once it can."""
    from app.events.services import relay_tenant

    try:
        relay_tenant(tenant.id, tenant.schema)
    except Exception as exc:  # noqa: BLE001  (the relay delivers it later)
        log.warning("tenant %s: its outbox was not queued (%s); left to the relay", tenant.slug, exc)
        return ["invitation: the queue is out of reach; the worker's relay sends it once it is back"]
    return []


def send_admin_invitations() -> int:
    """Email each password-less active admin of the bound tenant a set-password link (flushes).

    Idempotent: an admin who already has an invitation is not sent another
    (a new link comes from "Forgot password").
    """
    from app.mail.services import has_email

    tenant = current_tenant()
    admins = db.session.scalars(
        sa.select(User).where(User.role == "admin", User.password_hash.is_(None), User.status == "active")
    ).all()
    admins = [user for user in admins if not has_email("admin_invite", user.id)]
    for user in admins:
        token = make_token("reset", {"u": user.id, "p": _fingerprint(user.password_hash, "password")})
        _send(
            user,
            "admin_invite",
            f"Set up your {tenant.name} admin account",
            {
                "reset_url": _external_url("accounts.reset_password", token=token),
                "hours": max(1, current_app.config["RESET_TOKEN_MAX_AGE"] // 3600),
                "marketplace": tenant.name,
            },
        )
    return len(admins)


# --- what other domains add to a person's public page ----------------------------------

# A seller's public profile lists their live gigs. The gigs domain sits above accounts in the
# domain graph, so it registers ``listing(user) -> gigs`` here at app setup
# (``app._register_domain_hooks``).
_seller_listing: Callable[[User], list] | None = None


def register_seller_listing(listing: Callable[[User], list]) -> None:
    global _seller_listing
    _seller_listing = listing


def seller_listing(user: User) -> list:
    """What the seller offers, for their public profile (empty when nothing is registered)."""
    return _seller_listing(user) if _seller_listing else []


# Sections higher domains add to a public profile (reviews: reputation and reviews), in the
# order registered: ``section(person, viewer) -> Markup | None`` (None: nothing to show).
_profile_sections: list[Callable[[User, Any], Any]] = []


def register_profile_section(section: Callable[[User, Any], Any]) -> None:
    if section not in _profile_sections:
        _profile_sections.append(section)


def profile_sections(person: User, viewer: Any) -> list:
    """The rendered sections of ``person``'s public profile as ``viewer`` sees it."""
    return [html for html in (section(person, viewer) for section in _profile_sections) if html]
