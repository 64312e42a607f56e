"""Two-factor sign-in for tenant users: a TOTP authenticator plus single-use recovery codes.

The rules of the codes live in ``app/core/otp.py``; this module keeps them per user:

- enrolment: ``start_enrolment`` makes a secret (kept encrypted, ``confirmed_at`` NULL; starting
  again replaces an unconfirmed one); ``confirm_enrolment`` with a correct code turns it on and
  returns the ten recovery codes, the only time they are shown;
- sign-in: ``verify_login_code`` accepts a TOTP code once (``last_step``) or an unused recovery
  code (then used). A wrong code counts toward the same lockout as a wrong password
  (``failed_login_count`` / ``locked_until``, see ``services.authenticate``); the caller
  commits after catching the refusal (``unit_of_work.keep()``) so the failure counts;
- ``regenerate_recovery_codes`` (a fresh TOTP code), ``disable`` (the password and a fresh code),
  ``reset_two_factor`` (an operator, audited by the console caller; the user is emailed);
- the "remember this device" cookie (``device_cookie_name``, ``remember_device_token``,
  ``device_is_remembered``): signed with ``SECRET_KEY`` and a salt naming the tenant, it holds
  the tenant, the user, the enrolment time (a reset or a new enrolment voids it) and its expiry.

Every function flushes and never commits. Time is injected (``now``; ``clock()`` otherwise, which
web tests replace to move the clock).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app.accounts import services, sessions
from app.accounts.models import RecoveryCode, TwoFactor, User
from app.core import otp
from app.core.crypto import decrypt_secret, encrypt_secret
from app.settings.models import MarketplaceSettings
from app.settings.services import get_branding
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

REMEMBER_DEVICE_DAYS = 30
PENDING_LOGIN_MINUTES = 10
STAFF_ROLES = ("admin", "moderator")

MALFORMED = "Enter the 6-digit code from your authenticator app, or one of your recovery codes."
MALFORMED_TOTP = "Enter the 6-digit code from your authenticator app."
WRONG = "This code is not right or has expired. Enter the code your app shows now."
REUSED = "This code was already used. Wait for the next one in your app."
WRONG_RECOVERY = "This recovery code is not right or was already used."


def clock() -> datetime:
    """Now (UTC). Web tests replace it to move the clock; services also take ``now=``."""
    return datetime.now(UTC)


def _now(now: datetime | None) -> datetime:
    return now or clock()


class TwoFactorError(services.AccountError):
    """A refused two-factor step; ``errors`` names the field (``code``, ``password``)."""

    code = "two_factor_invalid"


class TwoFactorRequired(services.AccountError):
    """The account has two-factor sign-in: the second factor is missing (API: send ``otp``)."""

    status = 401
    code = "two_factor_required"


# --------------------------------------------------------------------------- status


def _row(user: User) -> TwoFactor | None:
    return db.session.get(TwoFactor, user.id)


def has_two_factor(user: User | None) -> bool:
    """True when ``user`` has a confirmed authenticator (an unconfirmed enrolment is not on)."""
    if user is None or getattr(user, "id", None) is None:
        return False
    return (
        db.session.scalar(sa.select(TwoFactor.confirmed_at.is_not(None)).where(TwoFactor.user_id == user.id))
        is True
    )


def confirmed_at(user: User) -> datetime | None:
    row = _row(user)
    return row.confirmed_at if row is not None else None


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


@dataclass(frozen=True)
class Status:
    enabled: bool
    confirmed_at: datetime | None
    recovery_codes_left: int


def status(user: User) -> Status:
    """What the account page and ``GET /me/two-factor`` show."""
    row = _row(user)
    enabled = row is not None and row.confirmed_at is not None
    return Status(
        enabled=enabled,
        confirmed_at=row.confirmed_at if enabled else None,
        recovery_codes_left=recovery_codes_left(user) if enabled else 0,
    )


def required_for_staff() -> bool:
    """The operator's setting "Require two-factor sign-in for admins and moderators"."""
    return bool(db.session.scalar(sa.select(MarketplaceSettings.require_2fa_staff)))


def staff_must_enrol(user: User | None) -> bool:
    """True when ``user`` is an admin or moderator without two-factor sign-in while the
    marketplace requires it of staff: the console refuses them until they enrol."""
    if user is None or getattr(user, "role", None) not in STAFF_ROLES:
        return False
    return required_for_staff() and not has_two_factor(user)


# --------------------------------------------------------------------------- enrolment


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret (for typing it in), its URI and QR code."""

    secret: str
    uri: str
    qr_svg: str

    @property
    def grouped_secret(self) -> str:
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def _enrolment_of(user: User, secret: str) -> Enrolment:
    uri = otp.provisioning_uri(secret, account=user.email, issuer=get_branding().name)
    return Enrolment(secret=secret, uri=uri, qr_svg=otp.qr_svg(uri))


def start_enrolment(user: User, *, now: datetime | None = None) -> Enrolment:
    """A new secret for ``user``, kept encrypted and unconfirmed (replacing an unconfirmed one).

    Raises TwoFactorError (409) when two-factor sign-in is already on: disable it first."""
    row = _row(user)
    if row is not None and row.confirmed_at is not None:
        raise TwoFactorError("Two-factor sign-in is already on.", status=409)
    secret = otp.new_secret()
    if row is None:
        row = TwoFactor(user_id=user.id, secret_encrypted=encrypt_secret(secret), created_at=_now(now))
        db.session.add(row)
    else:
        row.secret_encrypted = encrypt_secret(secret)
        row.last_step = None
        row.created_at = _now(now)
    db.session.flush()
    return _enrolment_of(user, secret)


def pending_enrolment(user: User) -> Enrolment | None:
    """The unconfirmed enrolment of ``user`` (to show its QR code again), or None."""
    row = _row(user)
    if row is None or row.confirmed_at is not None:
        return None
    return _enrolment_of(user, decrypt_secret(row.secret_encrypted))


def _check_totp(row: TwoFactor, code: str | None, now: datetime) -> int:
    """The step a fresh TOTP ``code`` matches; raises TwoFactorError({"code": ...}) otherwise."""
    if not otp.looks_like_totp(code):
        raise TwoFactorError({"code": MALFORMED_TOTP})
    secret = decrypt_secret(row.secret_encrypted)
    step = otp.verify_totp(secret, code, last_step=row.last_step, now=now)
    if step is None:
        reused = row.last_step is not None and otp.verify_totp(secret, code, now=now) is not None
        raise TwoFactorError({"code": REUSED if reused else WRONG})
    return step


def _new_recovery_codes(user: User, now: datetime) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = otp.new_recovery_codes()
    db.session.add_all(
        RecoveryCode(user_id=user.id, code_hash=otp.hash_recovery_code(code), created_at=now)
        for code in codes
    )
    db.session.flush()
    return codes


def confirm_enrolment(user: User, code: str | None, *, now: datetime | None = None) -> list[str]:
    """Turn two-factor sign-in on with a code from the scanned QR; returns the ten recovery codes
    (shown once: only their hashes are kept).

    Raises TwoFactorError: no enrolment started (409), already on (409), or a wrong, reused or
    malformed code (422, field ``code``); nothing changes then."""
    now = _now(now)
    row = _row(user)
    if row is None:
        raise TwoFactorError("Start the set-up first: scan a new QR code.", status=409)
    if row.confirmed_at is not None:
        raise TwoFactorError("Two-factor sign-in is already on.", status=409)
    row.last_step = _check_totp(row, code, now)
    row.confirmed_at = now
    codes = _new_recovery_codes(user, now)
    _after_enable(user)
    log.info("two-factor sign-in enabled", extra={"user_id": user.id})
    return codes


def _after_enable(user: User) -> None:
    """Enabling two-factor sign-in ends the user's other sessions."""
    sessions.end_other_sessions(user, "two_factor_enabled")


# --------------------------------------------------------------------------- sign-in


def _count_failure(user: User, now: datetime, ip: str | None) -> None:
    """A wrong code counts like a wrong password (see ``services.authenticate``)."""
    cfg = current_app.config
    user.failed_login_count = (user.failed_login_count or 0) + 1
    if user.failed_login_count >= cfg["LOGIN_LOCKOUT_THRESHOLD"]:
        user.locked_until = now + timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"])
        user.failed_login_count = 0
        log.warning("account locked after wrong two-factor codes", extra={"user_id": user.id, "ip": ip})
        services._send_lockout_email(user)
    else:
        log.info("login failed: wrong two-factor code", extra={"user_id": user.id, "ip": ip})
    db.session.flush()


def verify_login_code(
    user: User, code: str | None, *, ip: str | None = None, now: datetime | None = None
) -> str:
    """Check the second factor of a sign-in whose password (or provider) succeeded.

    Accepts a TOTP code once, or an unused recovery code (marked used). Returns ``"totp"`` or
    ``"recovery"``. Raises TwoFactorError({"code": ...}) for a malformed, wrong, expired or reused
    code, after counting it toward the lockout (the caller must commit: ``unit_of_work.keep()``);
    AccountLocked (423) while the account is locked; TwoFactorError (409) when the account has no
    two-factor sign-in. Like ``authenticate``, success clears the failure count."""
    now = _now(now)
    row = _row(user)
    if row is None or row.confirmed_at is None:
        raise TwoFactorError("Two-factor sign-in is not on for this account.", status=409)
    if user.locked_until is not None and user.locked_until > now:
        raise services.AccountLocked(services.ACCOUNT_LOCKED)
    method = None
    error = MALFORMED
    if otp.looks_like_totp(code):
        try:
            row.last_step = _check_totp(row, code, now)
            method = "totp"
        except TwoFactorError as exc:
            error = exc.errors["code"]
    elif otp.looks_like_recovery_code(code):
        unused = db.session.scalars(
            sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
        found = otp.match_recovery_code(code, [r.code_hash for r in unused])
        if found is not None:
            next(r for r in unused if r.code_hash == found).used_at = now
            method = "recovery"
        else:
            error = WRONG_RECOVERY
    if method is None:
        _count_failure(user, now, ip)
        raise TwoFactorError({"code": error})
    user.failed_login_count = 0
    user.locked_until = None
    db.session.flush()
    return method


# --------------------------------------------------------------------------- managing it


def _confirmed_row(user: User) -> TwoFactor:
    row = _row(user)
    if row is None or row.confirmed_at is None:
        raise TwoFactorError("Two-factor sign-in is not on for this account.", status=409)
    return row


def regenerate_recovery_codes(user: User, code: str | None, *, now: datetime | None = None) -> list[str]:
    """Ten new recovery codes (the old ones stop working), for a fresh TOTP code.

    Raises TwoFactorError (409 when two-factor sign-in is off; 422 field ``code``)."""
    now = _now(now)
    row = _confirmed_row(user)
    row.last_step = _check_totp(row, code, now)
    return _new_recovery_codes(user, now)


def _delete(user: User) -> bool:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    deleted = db.session.execute(sa.delete(TwoFactor).where(TwoFactor.user_id == user.id)).rowcount
    db.session.flush()
    return bool(deleted)


def disable(user: User, password: str | None, code: str | None, *, now: datetime | None = None) -> None:
    """Turn two-factor sign-in off: needs the password and a fresh TOTP code (or an unused
    recovery code, for someone who lost their phone). The user is emailed.

    Raises TwoFactorError (409 when off; 422 with field ``password`` or ``code``)."""
    now = _now(now)
    row = _confirmed_row(user)
    if not services.check_password(user, password or ""):
        raise TwoFactorError({"password": "Your password is incorrect."})
    if otp.looks_like_recovery_code(code) and not otp.looks_like_totp(code):
        hashes = db.session.scalars(
            sa.select(RecoveryCode.code_hash).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
        if otp.match_recovery_code(code, list(hashes)) is None:
            raise TwoFactorError({"code": WRONG_RECOVERY})
    else:
        if not otp.looks_like_totp(code):
            raise TwoFactorError({"code": MALFORMED})
        _check_totp(row, code, now)
    _delete(user)
    log.info("two-factor sign-in disabled", extra={"user_id": user.id})
    _send_off_email(user, by_operator=False)


def reset_two_factor(user: User) -> bool:
    """An operator's reset: the authenticator and recovery codes are deleted (remembered devices
    stop counting) and the user is emailed. Returns False (nothing done, no email) when the user
    had none. The console action records the audit entry."""
    if not _delete(user):
        return False
    log.info("two-factor sign-in reset by an operator", extra={"user_id": user.id})
    _send_off_email(user, by_operator=True)
    return True


def _send_off_email(user: User, *, by_operator: bool) -> None:
    if user.status == "deleted":
        return
    services._send(
        user,
        "two_factor_off",
        "Two-factor sign-in was reset" if by_operator else "Two-factor sign-in was turned off",
        {
            "by_operator": by_operator,
            "security_url": services._external_url("accounts.security"),
            "reset_url": services._external_url("accounts.forgot_password"),
        },
    )


# --------------------------------------------------------------------------- remembered devices


def device_cookie_name() -> str:
    return f"gf_2fa_{current_tenant().id}"


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(
        current_app.config["SECRET_KEY"],
        salt=f"gigforge.accounts.2fa-device.tenant-{current_tenant().id}",
    )


def remember_device_token(user: User, *, now: datetime | None = None) -> str:
    """The signed value of the "remember this device" cookie: tenant, user, enrolment time, expiry."""
    now = _now(now)
    row = _confirmed_row(user)
    return _device_serializer().dumps(
        {
            "t": current_tenant().id,
            "u": user.id,
            "c": row.confirmed_at.timestamp(),
            "e": int((now + timedelta(days=REMEMBER_DEVICE_DAYS)).timestamp()),
        }
    )


def device_is_remembered(user: User, token: str | None, *, now: datetime | None = None) -> bool:
    """True when ``token`` (the cookie) was issued on this tenant, for ``user``, for their current
    enrolment, and has not expired."""
    if not token:
        return False
    try:
        payload = _device_serializer().loads(token)
    except BadSignature:
        return False
    if not isinstance(payload, dict):
        return False
    row = _row(user)
    if row is None or row.confirmed_at is None:
        return False
    expires = payload.get("e")
    return (
        payload.get("t") == current_tenant().id
        and payload.get("u") == user.id
        and payload.get("c") == row.confirmed_at.timestamp()
        and isinstance(expires, int)
        and expires > _now(now).timestamp()
    )
