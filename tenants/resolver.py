"""Host header -> tenant resolution, with a per-process cache.

Resolution never falls back to a default tenant: a host is the platform, one
exact tenant, or unknown. Only ``verified`` hostnames of ``public.tenant_domains``
resolve: a custom domain added in the console stays unknown until its DNS record
is checked (``tenants.domains``), so nobody can point a hostname they do not own
at a marketplace.

The cache: a resolution is kept ``ttl`` seconds (``TENANT_CACHE_TTL``). With a shared
generation (``SharedGeneration``: a token in Redis, set by the app), a tenant's resolution is
kept up to ``max_age`` (``TENANT_CACHE_MAX_AGE``) instead, as long as the process reads the
generation unchanged at least every ``ttl`` seconds: every change of a tenant or a domain
renews it after its commit (``invalidate()``), and a process that reads a new generation forgets
everything it resolved. So a change still reaches every process within ``ttl``, and a server
serving many marketplaces in turn stops looking each one up again every ``ttl`` seconds (one
GET of the generation per process per ``ttl`` instead). A resolution looked up under an older
generation than the one read since, an unknown host, or any resolution while the generation
cannot be read, lives ``ttl`` as before.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from tenants.db import TenantRef, db

log = logging.getLogger(__name__)

# \Z, not $: "$" also matches before a trailing newline.
_HOST_RE = re.compile(
    r"^(?=.{1,253}\Z)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\Z"
)
_IPV4_RE = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{1,3}){3}\Z")
_PORT_RE = re.compile(r"^[0-9]{1,5}\Z")

PLATFORM = "platform"
TENANT = "tenant"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Resolution:
    kind: str
    tenant: TenantRef | None = None


def normalize_host(raw: str | None) -> str | None:
    """Lower-case hostname without port or trailing dot; None when malformed."""
    if not raw:
        return None
    host = raw.strip().lower()
    if host.startswith("["):  # IPv6 literal: only ever a platform host
        end = host.find("]")
        rest = host[end + 1 :]
        if end < 0 or (rest and not (rest[0] == ":" and _PORT_RE.match(rest[1:]))):
            return None
        try:
            ipaddress.IPv6Address(host[1:end])
        except ValueError:
            return None
        return host[: end + 1]
    if host.count(":") == 1:
        host, port = host.split(":")
        if not _PORT_RE.match(port):
            return None
    host = host.removesuffix(".")  # one trailing dot is the FQDN form; "a.b.." is malformed
    if _HOST_RE.match(host) or _IPV4_RE.match(host):
        return host
    return None


def normalize_domain(raw: str) -> str | None:
    """A hostname fit to be stored as a tenant domain (no port, no IP), or None."""
    host = (raw or "").strip().lower().removesuffix(".")
    if not _HOST_RE.match(host) or _IPV4_RE.match(host) or "." not in host:
        return None
    return host


_TENANT_COLUMNS = "t.id, t.slug, t.schema_name, t.name, t.status, t.plan"  # TenantRef's fields, in order


class SharedGeneration:
    """The resolutions' generation shared by every process (a Redis key): ``read()`` the current
    token, ``renew()`` it after a committed change. ``client`` returns the Redis client; either
    call raises what Redis raises."""

    KEY = "platform:resolution:generation"  # a random token, no tenant's data

    def __init__(self, client: Callable[[], object]):
        self._client = client

    def read(self) -> bytes:
        client = self._client()
        value = client.get(self.KEY)
        if value is None:  # first use, or Redis emptied: a new generation for everyone
            client.set(self.KEY, secrets.token_hex(8), nx=True)
            value = client.get(self.KEY)
        return value

    def renew(self) -> None:
        self._client().set(self.KEY, secrets.token_hex(8))


class TenantResolver:
    def __init__(self, base_domain: str, platform_hosts: list[str], ttl: float, max_age: float | None = None):
        self.base_domain = base_domain
        self.platform_hosts = {base_domain, *platform_hosts}
        self.ttl = ttl
        self.max_age = max(ttl, max_age or 0.0)
        # host -> (looked up at, the generation it was looked up under, resolution)
        self._cache: dict[str, tuple[float, object, Resolution]] = {}
        self._lock = threading.Lock()
        # Told "hit" or "miss" of every cached lookup (the app's metrics; None: nobody listens).
        self.on_resolve: Callable[[str], None] | None = None
        self.shared: SharedGeneration | None = None  # set by the app (Redis)
        self._generation: object = None  # last read; None: not read, or unreadable
        self._read_at = -math.inf
        self.clock: Callable[[], float] = time.monotonic  # tests move it

    def resolve(self, raw_host: str | None) -> Resolution:
        host = normalize_host(raw_host)
        if host is None:
            return Resolution(UNKNOWN)
        if host in self.platform_hosts:
            return Resolution(PLATFORM)
        generation = None
        if self.ttl > 0:
            now = self.clock()
            generation = self._current_generation(now)
            hit = self._cache.get(host)
            if hit is not None and self._fresh(hit, now, generation):
                if self.on_resolve is not None:
                    self.on_resolve("hit")
                return hit[2]
        if self.on_resolve is not None:
            self.on_resolve("miss")
        resolution = self._lookup(host)
        if self.ttl > 0:
            with self._lock:
                if len(self._cache) > 10_000:  # unknown hosts must not grow it without bound
                    self._cache.clear()
                self._cache[host] = (self.clock(), generation, resolution)
        return resolution

    def _fresh(self, hit: tuple[float, object, Resolution], now: float, generation: object) -> bool:
        looked_up_at, looked_up_under, resolution = hit
        age = now - looked_up_at
        if age < self.ttl:
            return True
        return (
            age < self.max_age
            and generation is not None
            and looked_up_under == generation
            and resolution.kind == TENANT
        )

    def _current_generation(self, now: float) -> object:
        """The shared generation, read at most every ``ttl`` seconds (None: none, or Redis did not
        answer: every resolution then lives ``ttl``). A new one drops every cached resolution."""
        if self.shared is None or self.max_age <= self.ttl:
            return None
        if now - self._read_at < self.ttl:
            return self._generation
        try:
            generation = self.shared.read()
        except Exception:  # noqa: BLE001  (Redis down: resolve as without it)
            log.warning("tenant resolution: the shared generation cannot be read; caching %ss", self.ttl)
            generation = None
        with self._lock:
            if generation is None or generation != self._generation:
                self._cache.clear()
            self._generation, self._read_at = generation, now
        return generation

    def invalidate(self) -> None:
        """Forget this process's resolutions, and (after a committed change) renew the shared
        generation so that every other process forgets theirs within ``ttl``."""
        with self._lock:
            self._cache.clear()
        if self.shared is not None:
            try:
                self.shared.renew()
            except Exception:  # noqa: BLE001  (the others follow within max_age)
                log.warning("tenant resolution: the shared generation could not be renewed")

    def _lookup(self, host: str) -> Resolution:
        suffix = "." + self.base_domain
        slug = host[: -len(suffix)] if host.endswith(suffix) else None
        with db.engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    f"SELECT {_TENANT_COLUMNS} FROM public.tenant_domains d "
                    "JOIN public.tenants t ON t.id = d.tenant_id "
                    # A custom domain resolves only once its owner proved it (tenants/domains.py).
                    "WHERE d.hostname = :host AND d.status = 'verified'"
                ),
                {"host": host},
            ).first()
            if row is None and slug and "." not in slug:
                row = conn.execute(
                    sa.text(f"SELECT {_TENANT_COLUMNS} FROM public.tenants t WHERE t.slug = :slug"),
                    {"slug": slug},
                ).first()
        if row is None:
            return Resolution(UNKNOWN)
        return Resolution(TENANT, TenantRef(*row))


def get_tenant_by_slug(slug: str) -> TenantRef | None:
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.text(f"SELECT {_TENANT_COLUMNS} FROM public.tenants t WHERE t.slug = :slug"),
            {"slug": slug},
        ).first()
    return TenantRef(*row) if row else None


def get_tenant_by_id(tenant_id: int) -> TenantRef | None:
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.text(f"SELECT {_TENANT_COLUMNS} FROM public.tenants t WHERE t.id = :id"),
            {"id": tenant_id},
        ).first()
    return TenantRef(*row) if row else None
