"""One-time codes for two-factor sign-in: TOTP (RFC 6238, pyotp), the enrolment QR code, and
single-use recovery codes. Shared by tenant users (app/accounts/two_factor.py) and platform
admins (app/platform), so the rules live once:

- a TOTP secret is 32 base32 characters (160 bits), stored encrypted (app/core/crypto.py);
- a code is 6 digits, accepted one 30-second step either side of now (clock drift), and a code
  is accepted once: ``verify_totp`` returns the step it matched, the caller stores it, and a
  later code of that step or an earlier one is refused (no replay within its window);
- recovery codes are 10 codes of 10 characters from an unambiguous alphabet, shown grouped
  ``xxxxx-xxxxx``, stored as SHA-256 of their normalized form (they carry 50 bits each and are
  single use, so a fast hash is enough), compared in constant time.

Time is injected (``now``) so tests move the clock instead of waiting.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

import pyotp
import segno

DIGITS = 6
INTERVAL = 30  # seconds per step
VALID_WINDOW = 1  # steps either side of now
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
_RECOVERY_LENGTH = 10
_SECRET_RE = re.compile(r"^[A-Z2-7]{16,64}$")
_CODE_RE = re.compile(r"^\d{6}$")


def new_secret() -> str:
    return pyotp.random_base32(32)


def valid_secret(secret: str | None) -> bool:
    return bool(secret) and bool(_SECRET_RE.match(secret or ""))


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an inline SVG document (no image file, no network)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#111", light="#fff")


def normalize_code(code: str | None) -> str:
    """Digits only: people type ``123 456`` or paste ``123-456``."""
    return re.sub(r"[\s-]", "", code or "")


def looks_like_totp(code: str | None) -> bool:
    return bool(_CODE_RE.match(normalize_code(code)))


def _step(moment: datetime) -> int:
    return int(moment.timestamp()) // INTERVAL


def verify_totp(
    secret: str, code: str | None, *, last_step: int | None = None, now: datetime | None = None
) -> int | None:
    """The step ``code`` matches (to store as the new ``last_step``), or None.

    None for a malformed code, a wrong one, one outside ±1 step, or one of a step already used
    (``<= last_step``): a code works once."""
    code = normalize_code(code)
    if not _CODE_RE.match(code) or not valid_secret(secret):
        return None
    now = now or datetime.now(UTC)
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    current = _step(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def current_code(secret: str, now: datetime | None = None) -> str:
    """The code an authenticator shows at ``now`` (tests and the demo use it)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).at(now or datetime.now(UTC))


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Fresh codes as shown to the person, ``xxxxx-xxxxx``."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalize_recovery_code(code: str | None) -> str:
    return re.sub(r"[\s-]", "", (code or "").lower())


def looks_like_recovery_code(code: str | None) -> bool:
    value = normalize_recovery_code(code)
    return len(value) == _RECOVERY_LENGTH and all(ch in _RECOVERY_ALPHABET for ch in value)


def hash_recovery_code(code: str) -> str:
    return hashlib.sha256(("gigforge-recovery:" + normalize_recovery_code(code)).encode()).hexdigest()


def match_recovery_code(code: str | None, hashes: list[str]) -> str | None:
    """The stored hash ``code`` matches, or None (every hash compared, constant time each)."""
    if not looks_like_recovery_code(code):
        return None
    candidate = hash_recovery_code(code or "")
    found = None
    for stored in hashes:
        if hmac.compare_digest(stored, candidate):
            found = stored
    return found
