"""Per-tenant values every page reads and that rarely change (the branding, the category tree),
kept in each process's memory and validated on every request by a version stamp in Redis.

- **Keys carry the tenant**: a value is stored under ``(tenant id, tenant schema, name)``, and its
  stamp in Redis under ``t:<tenant id>:<schema>:stamp:<name>``. Two marketplaces never share an
  entry, not even with equal category ids or equal settings.
- **One Redis round trip per request**: the first ``cached()`` of a request reads the stamps of
  every registered name of the bound tenant in one MGET and keeps them for the request (``g``);
  a local entry is used only while its stamp equals Redis's.
- **Invalidation**: ``invalidate(name)`` writes a new random stamp now and again after commit (a
  reader between the two may have loaded the old rows under the first stamp) and drops this
  process's entry. Every process, on every node, sees the new stamp on its next request.
- **Stamps are random tokens**, never counters: a Redis flushed or restarted hands out new
  stamps, so no entry cached before can match one again.
- **Uncommitted changes are never cached**: after ``invalidate(name)`` and until the commit, the
  context that made the change loads ``name`` from its own transaction and keeps nothing (a
  rollback must not leave its rows in the layer under a current stamp).
- **Redis down**: the value is loaded from the database on every request (nothing is trusted
  without its stamp), as the pages did before this cache.

Values must be immutable (frozen dataclasses, tuples): they are shared by every request of the
process. ``clear_local()`` empties this process's layer (tests: "another process").
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any

import redis
from flask import g, has_app_context, has_request_context

from app.core.after_commit import on_commit
from app.extensions import redis_store
from tenants.db import TenantRef, current_tenant

log = logging.getLogger(__name__)

# The names the stamps of one MGET cover (registered by the domains at import).
_names: list[str] = []
_local: dict[tuple[int, str, str, str], tuple[bytes, Any]] = {}
_lock = threading.Lock()
_MEMO = "_tenant_cache_stamps"
_DIRTY = "_tenant_cache_dirty"  # invalidated in this context's open transaction
MAX_ENTRIES = 10_000  # a process serving many marketplaces: the layer is emptied past this


def register(name: str) -> str:
    """Declare a cached value ``name`` (its stamp joins the request's one MGET)."""
    if name not in _names:
        _names.append(name)
    return name


def stamp_key(tenant: TenantRef, name: str) -> str:
    return f"t:{tenant.id}:{tenant.schema}:stamp:{name}"


def stamp_keys(tenant: TenantRef) -> list[str]:
    """The Redis keys of the tenant's stamps, in the order ``remember_stamps`` takes them."""
    return [stamp_key(tenant, name) for name in _names]


def remember_stamps(tenant: TenantRef, values: list[bytes | str | None]) -> None:
    """Keep the stamps another round trip read (the API's rate-limit script: ``stamp_keys``'
    values, in order) as this request's, so no MGET of its own follows. A missing stamp is left
    to the next read, which creates it."""
    if not has_request_context() or len(values) != len(_names) or None in values:
        return
    stamps = {name: v.encode() if isinstance(v, str) else v for name, v in zip(_names, values, strict=True)}
    setattr(g, _MEMO, ((tenant.id, tenant.schema), stamps))


def _stamps(tenant: TenantRef) -> dict[str, bytes | None]:
    """The tenant's stamps, read once per request; a missing stamp is created (SET NX)."""
    memo = g.get(_MEMO) if has_request_context() else None
    if memo is not None and memo[0] == (tenant.id, tenant.schema):
        return memo[1]
    client = redis_store.client
    values = client.mget([stamp_key(tenant, name) for name in _names])
    stamps = dict(zip(_names, values, strict=True))
    missing = [name for name, value in stamps.items() if value is None]
    if missing:  # created where nobody did meanwhile, then read back: one round trip
        pipe = client.pipeline(transaction=False)
        for name in missing:
            pipe.set(stamp_key(tenant, name), secrets.token_hex(8), nx=True)
        pipe.mget([stamp_key(tenant, name) for name in missing])
        stamps.update(zip(missing, pipe.execute()[-1], strict=True))
    if has_request_context():
        setattr(g, _MEMO, ((tenant.id, tenant.schema), stamps))
    return stamps


def cached(name: str, load: Callable[[], Any], variant: str = "") -> Any:
    """The bound tenant's value ``name``: this process's copy while its stamp is current, else
    ``load()`` (stored under the current stamp). Redis down: ``load()`` every time. ``variant``
    names another shape of the same data under the same stamp (the category tree of the pages
    and of the API: one invalidation drops both)."""
    tenant = current_tenant()
    try:
        stamp = _stamps(tenant)[name]
    except redis.RedisError:
        log.warning("tenant cache: Redis unavailable, %s of %s loaded from the database", name, tenant.slug)
        return load()
    key = (tenant.id, tenant.schema, name, variant)
    if has_app_context() and key[:3] in g.get(_DIRTY, ()):
        # Changed in this transaction, not committed yet: what load() sees now may be rolled
        # back, so it is neither served from nor kept in the process's layer.
        return load()
    entry = _local.get(key)
    if entry is not None and entry[0] == stamp:
        return entry[1]
    value = load()
    if stamp is not None:
        with _lock:
            if len(_local) >= MAX_ENTRIES:
                _local.clear()
            _local[key] = (stamp, value)
    return value


def current_stamps() -> tuple[bytes, ...] | None:
    """Every registered value's stamp for the bound tenant (this request's one MGET), to key
    something derived from them all (the anonymous home page); None when Redis does not answer
    or a value changed in this context's open transaction (nothing may be kept then)."""
    tenant = current_tenant()
    try:
        stamps = _stamps(tenant)
    except redis.RedisError:
        return None
    dirty = g.get(_DIRTY, ()) if has_app_context() else ()
    if any(key[:2] == (tenant.id, tenant.schema) for key in dirty) or None in stamps.values():
        return None
    return tuple(stamps[name] for name in _names)


def stamp(name: str) -> str | None:
    """The bound tenant's current stamp of ``name`` (this request's one MGET) as text, to key
    something shared between processes by it (the home page's cached part in Redis); None when
    Redis does not answer."""
    try:
        value = _stamps(current_tenant())[name]
    except redis.RedisError:
        return None
    return value.decode() if isinstance(value, bytes) else value


def renew(name: str) -> None:
    """A new stamp for the bound tenant's ``name`` now, for a change already committed (an event
    handler, a commit listener): every process reloads it on its next request. Unlike
    ``invalidate`` nothing waits for a commit. Raises ``redis.RedisError``."""
    tenant = current_tenant()
    _bump(tenant, name)
    if has_request_context():
        g.pop(_MEMO, None)


def _bump(tenant: TenantRef, name: str) -> None:
    with _lock:
        for key in [k for k in _local if k[:3] == (tenant.id, tenant.schema, name)]:
            _local.pop(key, None)
    redis_store.client.set(stamp_key(tenant, name), secrets.token_hex(8))


def _bump_after_commit(tenant: TenantRef, name: str) -> None:
    if has_app_context():
        g.get(_DIRTY, set()).discard((tenant.id, tenant.schema, name))
    try:
        _bump(tenant, name)
    except redis.RedisError:  # committed already: the first stamp stands (readers reload on it)
        log.warning("tenant cache: could not renew the stamp of %s of %s", name, tenant.slug)


def invalidate(name: str) -> None:
    """Make every process reload the bound tenant's ``name``: a new stamp now and after commit.

    Raises ``redis.RedisError`` when the first stamp cannot be written: the change is then
    refused (rolled back) rather than left unseen by the other processes."""
    tenant = current_tenant()
    _bump(tenant, name)
    if has_app_context():
        g.setdefault(_DIRTY, set()).add((tenant.id, tenant.schema, name))
    on_commit(_bump_after_commit, tenant, name)
    if has_request_context():
        g.pop(_MEMO, None)


def clear_local() -> None:
    """Forget every value this process holds (the stamps in Redis stay)."""
    with _lock:
        _local.clear()
