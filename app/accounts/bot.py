"""Bot protection of the public forms (sign-up, login, password reset request, checkout), with no
third-party service (docs/operator/bot-protection.md). Three layers:

1. a honeypot field (``homepage``): hidden from people (off screen, ``aria-hidden``, out of the tab
   order, no autocomplete), so only a form-filling bot puts something in it;
2. a minimum fill time: the page carries a signed timestamp (itsdangerous) of when it was
   rendered; a submission sooner than ``BOT_MIN_FILL_SECONDS`` or later than
   ``BOT_MAX_FORM_AGE_SECONDS`` (2 hours) is refused;
3. when the challenge is on, a proof of work: the page carries a signed challenge (random, tenant,
   form, difficulty, expiry); its script (static/js/bot_check.js) finds a ``nonce`` such that
   SHA-256(challenge + nonce) starts with ``bits`` zero bits; the server checks it with one hash
   and accepts each challenge once (Redis ``SET NX`` with a TTL, the key carries the tenant).

The challenge is on when the tenant's ``MarketplaceSettings.bot_protection`` is ``"always"``, or
``"auto"`` once one IP sent more than ``BOT_AUTO_THRESHOLD`` submissions of these forms within
``BOT_AUTO_WINDOW_SECONDS`` (a Redis counter per tenant and IP). ``"off"`` turns all three
layers off (nothing rendered, nothing checked).

A view calls ``refused(form, "signup")`` before validating its form: True means the submission
is refused (the message is on the form, so the view re-renders it with 422 and changes nothing).
The API is not behind this: it has its own rate limits and credentials.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass

from flask import current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer

from app.extensions import redis_store
from app.settings.services import current_settings
from tenants.db import current_tenant

log = logging.getLogger("app.accounts.bot")

FORMS = ("signup", "login", "forgot_password", "checkout")
HONEYPOT_FIELD = "homepage"
TIMESTAMP_FIELD = "bot_ts"
CHALLENGE_FIELD = "bot_challenge"
NONCE_FIELD = "bot_nonce"
_SALT = "gigforge-bot-protection"

WAIT_FOR_CHECK = "Please wait for the browser check to finish, then try again."
TOO_FAST = "That was quicker than a person fills this form. Please check it and submit it again."
EXPIRED = "This form expired. Please submit it again."
REUSED = "This browser check was already used. Please submit the form again."
HONEYPOT = "We could not accept this form. Please submit it again."


@dataclass(frozen=True)
class BotFields:
    """What the form macro renders: the signed timestamp and, when on, the challenge."""

    enabled: bool
    timestamp: str = ""
    challenge: str = ""
    bits: int = 0
    refusal: str | None = None


def _config(name: str, default):
    return type(default)(current_app.config.get(name, default))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _ip() -> str:
    return request.remote_addr or "-"


def _redis():
    return redis_store.client


def mode() -> str:
    """The bound tenant's setting: off, auto or always."""
    return current_settings().bot_protection or "auto"


def _volume_key(tenant_id: int, ip: str) -> str:
    return f"t:{tenant_id}:bot:volume:{ip}"


def _attempts(tenant_id: int, ip: str) -> int:
    try:
        return int(_redis().get(_volume_key(tenant_id, ip)) or 0)
    except Exception:  # noqa: BLE001  (Redis down: no volume known, the other layers still apply)
        log.warning("bot protection: Redis unavailable, volume unknown")
        return 0


def _count_attempt(tenant_id: int, ip: str) -> int:
    key = _volume_key(tenant_id, ip)
    try:
        # The window starts with the first attempt: SET NX EX, then INCR (EXPIRE ... NX needs
        # Redis 7; the embedded server is 6.2).
        pipe = _redis().pipeline()
        pipe.set(key, 0, ex=_config("BOT_AUTO_WINDOW_SECONDS", 3600), nx=True)
        pipe.incr(key)
        return int(pipe.execute()[1])
    except Exception:  # noqa: BLE001
        log.exception("bot protection: Redis unavailable, attempt not counted")
        return 0


def challenge_on(setting: str, attempts: int) -> bool:
    """Is the proof of work required, for this setting and this IP's attempts in the window?"""
    if setting == "always":
        return True
    return setting == "auto" and attempts > _config("BOT_AUTO_THRESHOLD", 20)


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def pow_digest(challenge: str, nonce: str) -> bytes:
    return hashlib.sha256((challenge + nonce).encode()).digest()


def fields_for(form_name: str, *, now: float | None = None) -> BotFields:
    """The hidden fields of ``form_name``'s page for this request (the macro's input)."""
    setting = mode()
    if setting == "off":
        return BotFields(enabled=False)
    tenant_id = current_tenant().id
    now = time.time() if now is None else now
    serializer = _serializer()
    stamp = serializer.dumps({"t": tenant_id, "f": form_name, "at": now})
    challenge = ""
    bits = _config("BOT_POW_BITS", 18)
    # The next submission is this IP's (attempts + 1)th: challenge it if that one will need it.
    if challenge_on(setting, _attempts(tenant_id, _ip()) + 1):
        challenge = serializer.dumps(
            {
                "c": secrets.token_hex(16),
                "t": tenant_id,
                "f": form_name,
                "b": bits,
                "exp": int(now + _config("BOT_MAX_FORM_AGE_SECONDS", 7200)),
            }
        )
    return BotFields(
        enabled=True, timestamp=stamp, challenge=challenge, bits=bits, refusal=g.get("bot_refusal")
    )


def _refuse(form, form_name: str, reason: str, message: str, tenant_id: int) -> bool:
    g.bot_refusal = message
    form.form_errors.append(message)
    log.info("bot check refused %s: %s (tenant %s, ip %s)", form_name, reason, tenant_id, _ip())
    try:
        day = time.strftime("%Y-%m-%d", time.gmtime())
        key = f"t:{tenant_id}:bot:refusals:{day}"
        pipe = _redis().pipeline()
        pipe.hincrby(key, f"{form_name}:{reason}", 1)
        pipe.expire(key, 8 * 86400)
        pipe.execute()
    except Exception:  # noqa: BLE001  (counting is best effort)
        log.warning("bot protection: Redis unavailable, refusal not counted")
    return True


def refusal_counts(day: str | None = None) -> dict[str, int]:
    """The bound tenant's refusals of ``day`` (UTC, ``YYYY-MM-DD``) by ``form:reason``."""
    day = day or time.strftime("%Y-%m-%d", time.gmtime())
    raw = _redis().hgetall(f"t:{current_tenant().id}:bot:refusals:{day}")
    return {k.decode(): int(v) for k, v in raw.items()}


def refused(form, form_name: str, *, now: float | None = None) -> bool:
    """Check a POST of ``form_name`` against the three layers. True (and the message put on
    ``form.form_errors`` and shown by the macro) when it is refused; False on a GET, when the
    setting is off, or when it passes. Every POST counts toward the IP's volume ("auto")."""
    if request.method != "POST":
        return False
    setting = mode()
    if setting == "off":
        return False
    tenant_id = current_tenant().id
    attempts = _count_attempt(tenant_id, _ip())
    now = time.time() if now is None else now
    data = request.form

    if data.get(HONEYPOT_FIELD):
        return _refuse(form, form_name, "honeypot", HONEYPOT, tenant_id)

    serializer = _serializer()
    min_fill = _config("BOT_MIN_FILL_SECONDS", 2.0)
    if min_fill > 0:  # 0 (the test suite's default) turns the timing layer off
        try:
            stamp = serializer.loads(data.get(TIMESTAMP_FIELD, ""))
            issued = float(stamp["at"])
            valid = stamp.get("t") == tenant_id and stamp.get("f") == form_name
        except (BadSignature, KeyError, TypeError, ValueError):
            valid, issued = False, 0.0
        if not valid or now - issued > _config("BOT_MAX_FORM_AGE_SECONDS", 7200):
            return _refuse(form, form_name, "expired", EXPIRED, tenant_id)
        if now - issued < min_fill:
            return _refuse(form, form_name, "too_fast", TOO_FAST, tenant_id)

    if challenge_on(setting, attempts):
        return _check_pow(form, form_name, tenant_id, data, serializer, now)
    return False


def _check_pow(form, form_name, tenant_id, data, serializer, now) -> bool:
    token = data.get(CHALLENGE_FIELD, "")
    nonce = data.get(NONCE_FIELD, "")
    try:
        challenge = serializer.loads(token)
        valid = (
            challenge.get("t") == tenant_id
            and challenge.get("f") == form_name
            and int(challenge["exp"]) >= now
            and isinstance(challenge.get("c"), str)
        )
        bits = int(challenge["b"])
    except (BadSignature, KeyError, TypeError, ValueError):
        valid, bits = False, 0
    if not valid or not nonce or len(nonce) > 32 or bits < 1:
        return _refuse(form, form_name, "pow_missing", WAIT_FOR_CHECK, tenant_id)
    if leading_zero_bits(pow_digest(token, nonce)) < bits:
        return _refuse(form, form_name, "pow_wrong", WAIT_FOR_CHECK, tenant_id)
    ttl = max(1, int(challenge["exp"] - now) + 60)
    try:
        fresh = _redis().set(f"t:{tenant_id}:bot:pow:{challenge['c']}", b"1", nx=True, ex=ttl)
    except Exception:  # noqa: BLE001  (Redis down: the hash was right; a replay cannot be told)
        log.warning("bot protection: Redis unavailable, challenge reuse not checked")
        fresh = True
    if not fresh:
        return _refuse(form, form_name, "pow_reused", REUSED, tenant_id)
    return False
