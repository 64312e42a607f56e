"""Custom domains of a tenant: add, verify, make primary, remove.

Every tenant has its default hostname ``<slug>.<BASE_DOMAIN>`` (verified at birth,
never removable). An operator may add custom hostnames: each starts ``pending`` with
a random ``verification_token`` that the operator publishes in DNS, as the TXT record
``_gigforge.<host>`` with the value ``gigforge-verification=<token>``. A verifier
checks it (``DOMAIN_VERIFIER``, an import path, so the check is pluggable: DNS by
default, a fixed table of records for development and tests). Only ``verified``
hostnames resolve (``tenants.resolver``), and only a verified one can become primary.

These functions take the tenant explicitly, change rows of ``public.tenant_domains``
through ``db.session`` and flush; the caller commits, then calls
``invalidate_resolver()`` so that this process forgets its cached resolutions (other
processes follow within ``TENANT_CACHE_TTL``).
"""

from __future__ import annotations

import importlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from tenants.db import db
from tenants.models import Tenant, TenantDomain, utcnow
from tenants.resolver import normalize_domain

TXT_PREFIX = "_gigforge"
TOKEN_PREFIX = "gigforge-verification="  # noqa: S105  (a label, not a secret)
# Special-use names (RFC 6761 / 6762 / 7686 and friends) never reach a public site.
RESERVED_SUFFIXES = ("localhost", "local", "invalid", "test", "example", "onion", "internal", "home.arpa")


class DomainError(ValueError):
    """A refused domain operation. ``status``: 422 bad input, 404 not found, 409 conflict."""

    def __init__(self, message: str, *, status: int = 422, field: str = "hostname"):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


class DomainCheckFailed(Exception):
    """The verifier did not find the token; ``str(exc)`` tells the operator what it saw."""


@dataclass(frozen=True)
class DnsRecord:
    """What the operator publishes to prove they own ``hostname``."""

    type: str
    name: str
    value: str


def txt_record(domain: TenantDomain) -> DnsRecord:
    return DnsRecord("TXT", f"{TXT_PREFIX}.{domain.hostname}", f"{TOKEN_PREFIX}{domain.verification_token}")


def default_hostname(tenant_slug: str) -> str:
    return f"{tenant_slug}.{current_app.config['BASE_DOMAIN']}"


def primary_hostname(tenant_id: int, tenant_slug: str) -> str:
    """The hostname a tenant's links are built on: its primary domain, else its default one."""
    host = db.session.execute(
        sa.select(TenantDomain.hostname).where(TenantDomain.tenant_id == tenant_id, TenantDomain.is_primary)
    ).scalar_one_or_none()
    return host or default_hostname(tenant_slug)


def is_default(domain: TenantDomain, tenant_slug: str) -> bool:
    return domain.hostname == default_hostname(tenant_slug)


# --------------------------------------------------------------------------- verifiers


class DomainVerifier:
    """Base of the pluggable checks: ``check(hostname, token)`` returns or raises DomainCheckFailed."""

    def __init__(self, config):
        self.config = config

    def check(self, hostname: str, token: str) -> None:
        raise NotImplementedError

    @staticmethod
    def _match(name: str, values: list[str], token: str) -> None:
        expected = TOKEN_PREFIX + token
        if not values:
            raise DomainCheckFailed(f"No TXT record found at {name}.")
        if any(value.strip() == expected for value in values):
            return
        shown = ", ".join(repr(v[:80]) for v in values[:3])
        raise DomainCheckFailed(f"The TXT record at {name} does not hold the token (found {shown}).")


class DnsTxtVerifier(DomainVerifier):
    """Looks up ``_gigforge.<host>`` TXT in DNS (dnspython), through ``DOMAIN_DNS_NAMESERVERS``
    when set (else the system's resolvers), within ``DOMAIN_DNS_TIMEOUT`` seconds."""

    def check(self, hostname: str, token: str) -> None:
        import dns.exception
        import dns.resolver

        name = f"{TXT_PREFIX}.{hostname}"
        servers = self.config.get("DOMAIN_DNS_NAMESERVERS") or []
        resolver = dns.resolver.Resolver(configure=not servers)
        if servers:
            resolver.nameservers = [s.rsplit(":", 1)[0] if s.count(":") == 1 else s for s in servers]
            ports = {int(s.rsplit(":", 1)[1]) for s in servers if s.count(":") == 1}
            if ports:
                resolver.port = ports.pop()
        resolver.lifetime = float(self.config.get("DOMAIN_DNS_TIMEOUT", 5))
        try:
            answer = resolver.resolve(name, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            raise DomainCheckFailed(f"No TXT record found at {name}.") from None
        except dns.exception.Timeout:
            raise DomainCheckFailed(f"The DNS lookup of {name} timed out; try again in a moment.") from None
        except dns.exception.DNSException as exc:
            raise DomainCheckFailed(f"The DNS lookup of {name} failed ({exc.__class__.__name__}).") from None
        values = [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]
        self._match(name, values, token)


class StaticTxtVerifier(DomainVerifier):
    """Reads TXT records from ``DOMAIN_VERIFIER_RECORDS`` (``{name: [value, ...]}``):
    for development machines without public DNS, and for tests."""

    def check(self, hostname: str, token: str) -> None:
        name = f"{TXT_PREFIX}.{hostname}"
        records = self.config.get("DOMAIN_VERIFIER_RECORDS") or {}
        values = records.get(name) or []
        self._match(name, [values] if isinstance(values, str) else list(values), token)


def get_verifier() -> DomainVerifier:
    """The verifier named by ``DOMAIN_VERIFIER`` (read at each call, so a test can switch it)."""
    path = current_app.config.get("DOMAIN_VERIFIER") or "tenants.domains.DnsTxtVerifier"
    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise RuntimeError(f"DOMAIN_VERIFIER {path!r} cannot be imported") from exc
    if not (isinstance(cls, type) and issubclass(cls, DomainVerifier)):
        raise RuntimeError(f"DOMAIN_VERIFIER {path!r} is not a DomainVerifier")
    return cls(current_app.config)


# --------------------------------------------------------------------------- rules


def _tenant(tenant_id: int) -> Tenant:
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        raise DomainError("This marketplace does not exist.", status=404)
    return tenant


def list_domains(tenant_id: int) -> list[TenantDomain]:
    """The tenant's hostnames: primary first, then the default one, then by age."""
    tenant = _tenant(tenant_id)
    default = default_hostname(tenant.slug)
    rows = db.session.scalars(sa.select(TenantDomain).where(TenantDomain.tenant_id == tenant_id)).all()
    return sorted(rows, key=lambda d: (not d.is_primary, d.hostname != default, d.id))


def get_domain(tenant_id: int, domain_id: int, *, lock: bool = False) -> TenantDomain:
    """The tenant's domain ``domain_id``; DomainError 404 when it belongs to no one or someone else."""
    if not isinstance(domain_id, int) or not 0 < domain_id < 2**31:
        raise DomainError("This domain does not exist.", status=404, field="domain_id")
    query = sa.select(TenantDomain).where(TenantDomain.id == domain_id, TenantDomain.tenant_id == tenant_id)
    if lock:
        query = query.with_for_update()
    domain = db.session.scalars(query).first()
    if domain is None:
        raise DomainError("This domain does not exist.", status=404, field="domain_id")
    return domain


def clean_hostname(raw) -> str:
    """A custom hostname, normalised (lower case, no trailing dot, IDN as punycode).

    Raises DomainError 422 when it is not a plain public hostname of two labels or more,
    or when it belongs to the platform (BASE_DOMAIN, its subdomains, PLATFORM_HOSTS).
    """
    text = (raw if isinstance(raw, str) else "").strip()
    if not text:
        raise DomainError("Enter a hostname, like shop.example.com.")
    if "://" in text or "/" in text or "@" in text or " " in text:
        raise DomainError("Enter only the hostname, like shop.example.com (no http://, path or port).")
    if any(ord(ch) > 127 for ch in text):
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            raise DomainError(f"{raw!r} is not a valid hostname.") from None
    host = normalize_domain(text)
    if host is None or ":" in text:
        raise DomainError(
            "Enter a valid hostname, like shop.example.com: letters, digits and hyphens, "
            "labels separated by dots, no port."
        )
    tld = host.rsplit(".", 1)[1]
    if tld.isdigit():
        raise DomainError("An IP address cannot be a marketplace domain; use a hostname.")
    base = current_app.config["BASE_DOMAIN"]
    platform_hosts = set(current_app.config.get("PLATFORM_HOSTS") or [])
    if host == base or host.endswith("." + base) or host in platform_hosts:
        raise DomainError(
            f"{host} belongs to the platform; your marketplace already answers on its own {base} address."
        )
    if any(host == s or host.endswith("." + s) for s in RESERVED_SUFFIXES):
        raise DomainError(f"{host} is a reserved name that cannot be reached on the internet.")
    return host


def add_custom_domain(tenant_id: int, hostname) -> TenantDomain:
    """Add a custom hostname to the tenant as ``pending`` with a fresh verification token; flushes.

    Raises DomainError 422 for a malformed or platform hostname or too many domains,
    409 when the hostname is already attached here or to another marketplace (a
    pending claim older than ``DOMAIN_PENDING_CLAIM_DAYS`` elsewhere is released instead).
    """
    tenant = _tenant(tenant_id)
    host = clean_hostname(hostname)
    existing = db.session.scalars(
        sa.select(TenantDomain).where(TenantDomain.hostname == host).with_for_update()
    ).first()
    if existing is not None:
        if existing.tenant_id == tenant_id:
            raise DomainError(f"{host} is already one of this marketplace's domains.", status=409)
        stale_before = utcnow() - timedelta(days=current_app.config["DOMAIN_PENDING_CLAIM_DAYS"])
        if existing.status == "pending" and existing.created_at < stale_before:
            db.session.delete(existing)  # an unproven claim must not block the owner for ever
            db.session.flush()
        else:
            raise DomainError(f"{host} is already used by another marketplace.", status=409)
    custom = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(TenantDomain)
        .where(TenantDomain.tenant_id == tenant_id, TenantDomain.hostname != default_hostname(tenant.slug))
    )
    limit = current_app.config["DOMAIN_MAX_PER_TENANT"]
    if custom >= limit:
        raise DomainError(f"A marketplace can have at most {limit} custom domains; remove one first.")
    domain = TenantDomain(
        tenant_id=tenant_id,
        hostname=host,
        is_primary=False,
        status="pending",
        verification_token=secrets.token_hex(16),
    )
    try:
        with db.session.begin_nested():  # a concurrent claim of the same host loses cleanly
            db.session.add(domain)
            db.session.flush()
    except sa.exc.IntegrityError:
        raise DomainError(f"{host} is already used by another marketplace.", status=409) from None
    return domain


def verify_domain(tenant_id: int, domain_id: int, verifier: DomainVerifier | None = None) -> TenantDomain:
    """Run the verifier for a pending domain and record the outcome; flushes.

    On success the domain becomes ``verified`` (``verified_at`` set); on failure it stays
    ``pending`` with ``last_check_error``. Either way ``last_checked_at`` is set and the
    domain is returned (check ``status``). A verified domain is returned unchanged.
    Raises DomainError 404 for a domain of no one or of another tenant.
    """
    domain = get_domain(tenant_id, domain_id, lock=True)
    if domain.status == "verified":
        return domain
    return _check(domain, verifier or get_verifier())


def _check(domain: TenantDomain, verifier: DomainVerifier) -> TenantDomain:
    now = utcnow()
    domain.last_checked_at = now
    try:
        verifier.check(domain.hostname, domain.verification_token or "")
    except DomainCheckFailed as exc:
        domain.last_check_error = str(exc)[:300]
    else:
        domain.status = "verified"
        domain.verified_at = now
        domain.last_check_error = None
    db.session.flush()
    return domain


def make_primary(tenant_id: int, domain_id: int) -> TenantDomain:
    """Make a verified domain the tenant's primary hostname (links in emails use it); flushes.

    Raises DomainError 404 (not this tenant's), 409 (not verified yet).
    """
    domain = get_domain(tenant_id, domain_id, lock=True)
    if domain.status != "verified":
        raise DomainError(
            f"{domain.hostname} is not verified yet; publish its DNS record and verify it first.",
            status=409,
        )
    if domain.is_primary:
        return domain
    others = db.session.scalars(
        sa.select(TenantDomain)
        .where(TenantDomain.tenant_id == tenant_id, TenantDomain.id != domain.id)
        .with_for_update()
    ).all()
    for other in others:
        other.is_primary = False
    db.session.flush()  # the partial unique index allows one primary at a time
    domain.is_primary = True
    db.session.flush()
    return domain


def remove_domain(tenant_id: int, domain_id: int) -> TenantDomain:
    """Detach a custom domain; the default hostname becomes primary again if it was primary.

    Returns the deleted row (detached). Raises DomainError 404 (not this tenant's), 409
    (the default ``<slug>.<BASE_DOMAIN>`` hostname, which is never removed).
    """
    tenant = _tenant(tenant_id)
    domain = get_domain(tenant_id, domain_id, lock=True)
    default = default_hostname(tenant.slug)
    if domain.hostname == default:
        raise DomainError(f"{default} is the marketplace's own address and cannot be removed.", status=409)
    was_primary = domain.is_primary
    db.session.delete(domain)
    db.session.flush()
    if was_primary:
        fallback = db.session.scalars(
            sa.select(TenantDomain).where(
                TenantDomain.tenant_id == tenant_id, TenantDomain.hostname == default
            )
        ).first()
        if fallback is None:  # the default row is missing (hand-edited database): put it back
            fallback = TenantDomain(tenant_id=tenant_id, hostname=default, status="verified")
            db.session.add(fallback)
        fallback.is_primary = True
        db.session.flush()
    return domain


def pending_domains(tenant_id: int | None = None) -> list[TenantDomain]:
    query = sa.select(TenantDomain).where(TenantDomain.status == "pending").order_by(TenantDomain.id)
    if tenant_id is not None:
        query = query.where(TenantDomain.tenant_id == tenant_id)
    return list(db.session.scalars(query))


def verify_pending(tenant_id: int | None = None, verifier: DomainVerifier | None = None):
    """Check every pending domain (of one tenant, or all), committing after each.

    Yields ``(domain_id, hostname, tenant_id, verified, error)`` per domain, for the CLI.
    """
    verifier = verifier or get_verifier()
    ids = [(d.id, d.tenant_id) for d in pending_domains(tenant_id)]
    db.session.rollback()
    for domain_id, owner_id in ids:
        try:
            domain = verify_domain(owner_id, domain_id, verifier)
        except DomainError:  # removed meanwhile
            db.session.rollback()
            continue
        result = (domain.id, domain.hostname, owner_id, domain.status == "verified", domain.last_check_error)
        db.session.commit()
        yield result


def invalidate_resolver() -> None:
    """Forget this process's cached host resolutions (call after committing a domain change)."""
    resolver = current_app.extensions.get("tenants")
    if resolver is not None:
        resolver.invalidate()


def as_dict(domain: TenantDomain, tenant_slug: str) -> dict:
    """The domain as the console shows it (with the DNS record while pending)."""
    record = txt_record(domain) if domain.status == "pending" and domain.verification_token else None
    return {
        "id": domain.id,
        "hostname": domain.hostname,
        "status": domain.status,
        "is_primary": domain.is_primary,
        "is_default": is_default(domain, tenant_slug),
        "verified_at": domain.verified_at,
        "last_checked_at": domain.last_checked_at,
        "last_check_error": domain.last_check_error,
        "created_at": domain.created_at,
        "dns_record": None
        if record is None
        else {"type": record.type, "name": record.name, "value": record.value},
        "cname_target": default_hostname(tenant_slug),
    }
