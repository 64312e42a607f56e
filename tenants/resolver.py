"""Host header -> tenant resolution, with a short per-process cache.

Resolution never falls back to a default tenant: a host is the platform, one
exact tenant, or unknown. Only ``verified`` hostnames of ``public.tenant_domains``
resolve: a custom domain added in the console stays unknown until its DNS record
is checked (``tenants.domains``), so nobody can point a hostname they do not own
at a marketplace.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from tenants.db import TenantRef, db

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


class TenantResolver:
    def __init__(self, base_domain: str, platform_hosts: list[str], ttl: float):
        self.base_domain = base_domain
        self.platform_hosts = {base_domain, *platform_hosts}
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Resolution]] = {}
        self._lock = threading.Lock()
        # Told "hit" or "miss" of every cached lookup (the app's metrics; None: nobody listens).
        self.on_resolve: Callable[[str], None] | None = None

    def resolve(self, raw_host: str | None) -> Resolution:
        host = normalize_host(raw_host)
        if host is None:
            return Resolution(UNKNOWN)
        if host in self.platform_hosts:
            return Resolution(PLATFORM)
        if self.ttl > 0:
            hit = self._cache.get(host)
            if hit and hit[0] > time.monotonic():
                if self.on_resolve is not None:
                    self.on_resolve("hit")
                return hit[1]
        if self.on_resolve is not None:
            self.on_resolve("miss")
        resolution = self._lookup(host)
        if self.ttl > 0:
            with self._lock:
                if len(self._cache) > 10_000:  # unknown hosts must not grow it without bound
                    self._cache.clear()
                self._cache[host] = (time.monotonic() + self.ttl, resolution)
        return resolution

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

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
