"""Rate limits of the API (per credential and per IP, by the tenant's plan) and of messages
(per user), counted by Flask-Limiter's limiter on the app's Redis.

**API.** Every operation of a blueprint built on ``app.core.api.Blueprint`` (all of
``/api/v1``, the console's API included; not the docs, health, static files or the platform
host) is checked before its view by ``check_api_request``, which the Blueprint installs itself,
so a new API module is covered with no decoration. A request spends one hit of two budgets,
both chosen from ``RATELIMIT_API_PLANS[<tenant's plan>]`` at request time:

- per credential, key ``t:<tenant>:cred:<credential>``: the API key (``key:<id>``), else the
  bearer token's family (``family:<id>``: a refreshed pair keeps its budget), else, for a
  request without a known credential, ``anon:<ip>`` (one anonymous client cannot spend the
  budget of every other anonymous client of the marketplace);
- per IP, key ``t:<tenant>:ip:<ip>``.

Reads (GET, HEAD, OPTIONS) and writes have budgets of their own (``credential_read``,
``credential_write``, ``ip_read``, ``ip_write``). The tenant is part of every key, so two
marketplaces never share a counter, not even for the same user id or IP.

The credential is known before the view runs: ``g.api_key`` / ``g.api_token`` when an
authentication step already set them, else the resolver the accounts domain registers
(``register_credential_resolver``: it looks the bearer up by hash; it does not authenticate,
the view's own auth still does).

**Headers** (IETF draft "RateLimit header fields for HTTP"): every checked response carries
``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds until the window
resets, a delta, not a date) of the budget closest to running out. Flask-Limiter's own header
injection is left off: it writes the reset as a Unix time. A spent budget answers 429 in the
API's JSON error shape with ``Retry-After`` (seconds).

**Messages.** ``hit_messages(tenant_id, user_id)`` spends one message of the user's
``RATELIMIT_MESSAGES`` budget (key ``t:<tenant>:user:<id>``); the messaging services call it
before storing a user's message, so the web form, the API, Socket.IO and the workroom share it.

Cost: with the Redis storage (not a cluster) both budgets are spent in one script call (every
window's INCR and TTL, stopping at the first spent one) instead of three round trips per window
through ``limits``' own calls; the keys and windows are ``limits``' fixed windows, so both paths
count on the same counters. When the limiter counts on the app's own Redis, the same call also
reads the bound tenant's cache stamps (``app.core.tenant_cache``), so a cached API read makes
one round trip to Redis in all.

Time: fixed windows whose expiry Redis keeps; tests set small limits and spend them, never
sleep (the suite flushes its Redis database between tests).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, g, has_request_context, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import RedisClusterStorage, RedisStorage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from app.core import tenant_cache
from app.extensions import limiter, limiter_storage_uri
from tenants.db import current_tenant_or_none

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER_LIMIT = "RateLimit-Limit"
HEADER_REMAINING = "RateLimit-Remaining"
HEADER_RESET = "RateLimit-Reset"
API_MESSAGE = "Too many requests: this rate limit is spent. Retry after the number of seconds in Retry-After."

_resolver: Callable[[], str | None] | None = None


@dataclass(frozen=True)
class Verdict:
    """One budget after a hit: its size, what is left, seconds until it resets, spent or not."""

    limit: int
    remaining: int
    reset: int
    breached: bool


def register_credential_resolver(resolve: Callable[[], str | None]) -> None:
    """``resolve()`` -> the credential the current request's bearer names (``key:<id>``,
    ``family:<id>``) or None. Registered by the composition root (the accounts domain owns
    keys and tokens; core may not import it)."""
    global _resolver
    _resolver = resolve


@functools.lru_cache(maxsize=256)
def _parsed(value: str) -> tuple[RateLimitItem, ...]:
    return tuple(sorted(parse_many(value)))


def _limits(value: str) -> list[RateLimitItem]:
    return list(_parsed(value))


# One round trip for a whole budget: for each counter in order, INCR (the window starts with
# its first hit: EXPIRE then) and TTL; stop after the first counter over its limit. The same
# keys and fixed windows as limits' FixedWindowRateLimiter (hit, then get + ttl: three round
# trips per counter). KEYS past the counters (one per ARGV pair) are read with one MGET in the
# same call (the tenant cache's stamps: an API request's only other round trip), whatever the
# counters said. Returns {counts and TTLs, values read}.
_HIT_SCRIPT = """
local counters = #ARGV / 2
local out = {}
for i = 1, counters do
  local key = KEYS[i]
  local expiry = tonumber(ARGV[2 * i - 1])
  local limit = tonumber(ARGV[2 * i])
  local current = redis.call("incrby", key, 1)
  if current == 1 then
    redis.call("expire", key, expiry)
  end
  out[#out + 1] = current
  out[#out + 1] = redis.call("ttl", key)
  if current > limit then
    break
  end
end
local reads = {}
if #KEYS > counters then
  reads = redis.call("mget", unpack(KEYS, counters + 1, #KEYS))
end
return {out, reads}
"""


def _one_trip_storage(strategy):
    """The limiter's Redis storage when a budget can be spent in one script call, else None
    (another strategy or storage, or a cluster whose keys may sit on different nodes)."""
    storage = strategy.storage
    if not isinstance(strategy, FixedWindowRateLimiter) or not isinstance(storage, RedisStorage):
        return None
    if isinstance(storage, RedisClusterStorage):
        return None
    return storage


def _hit(items: list[RateLimitItem], key: str, scope: str) -> list[Verdict]:
    """Spend one hit of each limit of ``key`` in ``scope``; stops at the first that is spent."""
    return _hit_budgets([(items, key, scope)])[0]


def _shares_app_redis() -> bool:
    """Whether the limiter counts on the app's own Redis (same server and database), so a read
    of the app's keys may ride on the budget's script call."""
    config = current_app.config
    return config.get("RATELIMIT_STORAGE_URI") == limiter_storage_uri(config["REDIS_URL"])


def _hit_budgets(
    budgets: list[tuple[list[RateLimitItem], str, str]], reads: list[str] | None = None
) -> tuple[list[Verdict], list[bytes | None] | None]:
    """Spend one hit of each limit of each budget ``(items, key, scope)`` in turn; stops at the
    first limit that is spent (a later budget is then left untouched). One script call for all
    of them when the storage allows it; the app's Redis keys ``reads`` are then read in the same
    call when the limiter counts on the app's Redis (their values, else None: not read)."""
    strategy = limiter.limiter
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "gigforge:rl"
    plan = [(item, key, scope) for items, key, scope in budgets for item in sorted(items)]
    storage = _one_trip_storage(strategy)
    if storage is not None and plan:
        script = getattr(storage, "_gigforge_hit_script", None)
        if script is None:
            script = storage._gigforge_hit_script = storage.get_connection().register_script(_HIT_SCRIPT)
        keys = [storage.prefixed_key(item.key_for(prefix, key, scope)) for item, key, scope in plan]
        args = [value for item, _key, _scope in plan for value in (item.get_expiry(), item.amount)]
        reads = reads if reads and _shares_app_redis() else []
        out, values = script(keys + reads, args)
        verdicts = []
        for (item, _key, _scope), (current, ttl) in zip(
            plan, zip(out[::2], out[1::2], strict=True), strict=False
        ):
            current, ttl = int(current), int(ttl)
            reset = min(item.get_expiry(), max(1, ttl))
            verdicts.append(Verdict(item.amount, max(0, item.amount - current), reset, current > item.amount))
        return verdicts, (values if reads else None)
    verdicts = []
    for item, key, scope in plan:
        allowed = strategy.hit(item, prefix, key, scope)
        stats = strategy.get_window_stats(item, prefix, key, scope)
        # Whole seconds, at least 1 and at most the window (Redis's TTL is whole seconds).
        reset = min(item.get_expiry(), max(1, math.ceil(stats.reset_time - time.time())))
        verdicts.append(Verdict(item.amount, stats.remaining, reset, not allowed))
        if not allowed:
            break
    return verdicts, None


def _headline(verdicts: list[Verdict]) -> Verdict | None:
    """The budget to report: a spent one, else the one closest to running out."""
    if not verdicts:
        return None
    spent = [v for v in verdicts if v.breached]
    if spent:
        return max(spent, key=lambda v: v.reset)
    return min(verdicts, key=lambda v: (v.remaining, -v.reset))


def _record(verdict: Verdict | None) -> None:
    """Keep the request's reported budget (the most pressing one seen) for the headers."""
    if verdict is None or not has_request_context():
        return
    seen = g.get("_rate_limit")
    g._rate_limit = _headline([v for v in (seen, verdict) if v is not None])


def credential() -> str | None:
    """The request's credential for the per-credential budget, or None (anonymous)."""
    api_key = getattr(g, "api_key", None)
    if api_key is not None:
        return f"key:{api_key.id}"
    api_token = getattr(g, "api_token", None)
    if api_token is not None:
        return f"family:{api_token.family_id}"
    return _resolver() if _resolver is not None else None


def plan_limits(plan: str) -> dict[str, str]:
    """The configured API limits of ``plan`` (an unknown plan gets the standard ones)."""
    plans = current_app.config["RATELIMIT_API_PLANS"]
    return plans.get(plan) or plans["standard"]


def check_api_request() -> None:
    """Before an API view: spend the request's credential and IP budgets; 429 when one is
    spent. Installed on every ``app.core.api.Blueprint`` (once per request when nested)."""
    if g.get("_api_rate_checked"):
        return
    g._api_rate_checked = True
    tenant = current_tenant_or_none()
    if tenant is None or not limiter.enabled:
        return  # the platform host has no API; a disabled limiter limits nothing
    kind = "read" if request.method in READ_METHODS else "write"
    limits = plan_limits(tenant.plan)
    ip = get_remote_address()
    who = credential() or f"anon:{ip}"
    # The credential's budget, then the IP's (untouched when the credential's is spent), and the
    # tenant cache's stamps the view will ask for: one round trip for the three.
    verdicts, stamps = _hit_budgets(
        [
            (_limits(limits[f"credential_{kind}"]), f"t:{tenant.id}:cred:{who}", f"api-{kind}"),
            (_limits(limits[f"ip_{kind}"]), f"t:{tenant.id}:ip:{ip}", f"api-{kind}"),
        ],
        reads=tenant_cache.stamp_keys(tenant),
    )
    if stamps is not None:
        tenant_cache.remember_stamps(tenant, stamps)
    headline = _headline(verdicts)
    _record(headline)
    if headline is not None and headline.breached:
        raise rate_limited(API_MESSAGE, headline)


def rate_limited(message: str, verdict: Verdict) -> TooManyRequests:
    """The 429 for the API's error handler: ``{code, status, message, errors}`` + Retry-After."""
    exc = TooManyRequests()
    exc.data = {
        "message": message,
        "errors": {"code": "rate_limited"},  # the stable code, where messaging's refusals put it
        "headers": {"Retry-After": str(verdict.reset)},
    }
    return exc


def hit_messages(tenant_id: int, user_id: int) -> Verdict | None:
    """Spend one message of the user's ``RATELIMIT_MESSAGES`` budget; the spent budget's
    verdict (``reset``: seconds to wait) when it is over, else None."""
    if not limiter.enabled:
        return None
    limits = _limits(current_app.config["RATELIMIT_MESSAGES"])
    verdicts = _hit(limits, f"t:{tenant_id}:user:{user_id}", "messages")
    spent = next((v for v in verdicts if v.breached), None)
    if spent is not None:
        _record(spent)
    return spent


def _add_headers(response):
    verdict = g.get("_rate_limit")
    if verdict is not None:
        response.headers[HEADER_LIMIT] = str(verdict.limit)
        response.headers[HEADER_REMAINING] = str(verdict.remaining)
        response.headers[HEADER_RESET] = str(verdict.reset)
        if response.status_code == 429:
            response.headers["Retry-After"] = str(verdict.reset)
    return response


def init_app(app: Flask) -> None:
    """Write the RateLimit-* headers of the request's checked budget on its response."""
    app.after_request(_add_headers)


# --------------------------------------------------------------------------- OpenAPI

_COUNT = {"type": "string", "pattern": "^[0-9]+$"}
HEADERS_DOC = {
    HEADER_LIMIT: {"description": "Requests allowed in the current window of this budget.", "schema": _COUNT},
    HEADER_REMAINING: {"description": "Requests left in the current window.", "schema": _COUNT},
    HEADER_RESET: {"description": "Seconds until the window resets.", "schema": _COUNT},
}
RATE_LIMITED_RESPONSE = "RATE_LIMITED"


def register_spec(api) -> None:
    """The shared 429 response (JSON error, Retry-After, RateLimit-*) in the spec's components."""
    from flask_smorest.utils import prepare_response

    response = {
        "description": "Too many requests: a rate limit of the credential, the IP or (posting a "
        "message) the user is spent. Retry after `Retry-After` seconds.",
        "schema": api.ERROR_SCHEMA,
        "headers": {
            "Retry-After": {"description": "Seconds to wait before retrying.", "schema": _COUNT},
            **HEADERS_DOC,
        },
    }
    prepare_response(response, api.spec, api.DEFAULT_RESPONSE_CONTENT_TYPE)
    api.spec.components.response(RATE_LIMITED_RESPONSE, response, lazy=True)


def document_operation(doc: dict, doc_info: dict, **kwargs) -> dict:
    """A doc callback of ``app.core.api.Blueprint``: every operation may answer the shared 429,
    and its own responses document the RateLimit-* headers."""
    responses = doc.setdefault("responses", {})
    for status, response in responses.items():
        if isinstance(response, dict) and str(status) != "default":
            headers = response.setdefault("headers", {})
            for name, header in HEADERS_DOC.items():
                headers.setdefault(name, dict(header))
    responses.setdefault(429, RATE_LIMITED_RESPONSE)
    return doc
