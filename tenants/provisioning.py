"""Create, suspend, resume and drop tenants.

Creation is one PostgreSQL transaction: the public rows, ``CREATE SCHEMA``
(or the rename of a spare schema built ahead of time, see ``tenants.spares``),
the tables (from the models, not by replaying migrations), the Alembic stamp
of the tenant head, and the seeds. Any failure rolls all of it back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tenants import signals
from tenants.db import (
    SLUG_RE,
    TENANT_SCHEMA,
    TenantRef,
    _current_tenant,
    db,
    schema_for_slug,
)
from tenants.migrations import create_tenant_tables, stamp_tenant_schema
from tenants.models import TENANT_PLANS, TENANT_STATUSES, Tenant, TenantDomain
from tenants.resolver import get_tenant_by_slug, normalize_domain
from tenants.spares import take_spare

RESERVED_SLUGS = frozenset(
    """www api admin static platform app apps assets cdn media files mail email smtp ftp
    docs help support status blog dev test staging localhost root console dashboard auth
    login logout signup register billing tenant tenants public system internal healthz readyz
    metrics socket socketio ws""".split()
)


class ProvisioningError(ValueError):
    """Invalid input for a tenant operation. ``field`` names the offending input."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
        self.message = message


def validate_slug(slug: str) -> str:
    slug = (slug or "").strip()
    if not SLUG_RE.match(slug):
        raise ProvisioningError(
            "slug must be 2-31 characters: a lower-case letter, then letters, digits or hyphens",
            "slug",
        )
    if slug.endswith("-"):
        # "<slug>.<BASE_DOMAIN>" must be a valid hostname, and a label cannot end with "-".
        raise ProvisioningError("slug must not end with a hyphen", "slug")
    if slug in RESERVED_SLUGS:
        raise ProvisioningError(f"slug {slug!r} is reserved", "slug")
    return slug


def _subdomain(slug: str, base_domain: str) -> str:
    return f"{slug}.{base_domain}"


@dataclass
class ProvisionResult:
    tenant: TenantRef
    hostnames: list[str]
    notes: list[str] = field(default_factory=list)  # what seed receivers want the operator told
    seconds: float = 0.0


def create_tenant(
    slug: str,
    name: str,
    *,
    base_domain: str,
    domain: str | None = None,
    options: dict | None = None,
) -> ProvisionResult:
    """Create a tenant with its schema, tables, migration stamp and seeds.

    ``domain`` is an optional custom hostname; it becomes the primary one.
    ``options`` is passed to ``tenant_seed`` receivers (e.g. admin_email).
    Raises ProvisioningError for bad or conflicting input; nothing is left behind.
    """
    started = time.perf_counter()
    slug = validate_slug(slug)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ProvisioningError("name is required (at most 120 characters)", "name")
    hostnames = [_subdomain(slug, base_domain)]
    if domain is not None:
        custom = normalize_domain(domain)
        if custom is None:
            raise ProvisioningError(f"{domain!r} is not a valid hostname", "domain")
        if custom == base_domain or custom.endswith("." + base_domain):
            raise ProvisioningError(
                f"{custom!r} is under the platform domain; use the slug instead", "domain"
            )
        hostnames.append(custom)

    schema = schema_for_slug(slug)
    if get_tenant_by_slug(slug) is not None:
        raise ProvisioningError(f"a tenant with slug {slug!r} already exists", "slug")
    try:
        with db.engine.begin() as conn:
            taken = (
                conn.execute(sa.select(TenantDomain.hostname).where(TenantDomain.hostname.in_(hostnames)))
                .scalars()
                .all()
            )
            if taken:
                raise ProvisioningError(f"hostname {taken[0]!r} is already in use", "domain")
            tenant_id = conn.execute(
                sa.insert(Tenant).values(slug=slug, name=name, schema_name=schema).returning(Tenant.id)
            ).scalar_one()
            conn.execute(
                sa.insert(TenantDomain),
                [
                    {"tenant_id": tenant_id, "hostname": h, "is_primary": h == hostnames[-1]}
                    for h in hostnames
                ],
            )
            if not take_spare(conn, schema):
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
                create_tenant_tables(conn, schema)
                stamp_tenant_schema(conn, schema)
            conn.execution_options(schema_translate_map={TENANT_SCHEMA: schema})
            ref = TenantRef(
                id=tenant_id, slug=slug, schema=schema, name=name, status="active", plan="standard"
            )
            notes = _seed(conn, ref, options or {})
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError) as exc:
        # A concurrent creation won the race for the slug, a hostname or the schema.
        if "already exists" not in str(exc) and "duplicate" not in str(exc):
            raise
        raise ProvisioningError(f"tenant {slug!r} or one of its hostnames already exists", "slug") from exc
    elapsed = time.perf_counter() - started
    for _receiver, result in signals.tenant_created.send(None, tenant=ref):
        notes.extend(result or [])
    return ProvisionResult(ref, hostnames, notes, elapsed)


def _seed(conn, ref: TenantRef, options: dict) -> list[str]:
    """Run the seed receivers; each may return a list of notes for the operator."""
    # Set the context variable directly: bind_tenant() checks db.session's open
    # transaction, which is not the one seeding (the caller, e.g. a platform
    # request that already read public rows, may well have one open).
    token = _current_tenant.set(ref)
    notes: list[str] = []
    try:
        with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
            for _receiver, result in signals.tenant_seed.send(
                None, session=session, tenant=ref, options=options
            ):
                notes.extend(result or [])
            # Releases the savepoint; the outer provisioning transaction commits it all.
            session.commit()
    finally:
        _current_tenant.reset(token)
    return notes


def _get_tenant(slug: str) -> Tenant:
    tenant = db.session.execute(sa.select(Tenant).where(Tenant.slug == slug)).scalar_one_or_none()
    if tenant is None:
        raise ProvisioningError(f"no tenant with slug {slug!r}", "slug")
    return tenant


def set_status(slug: str, status: str, reason: str | None = None) -> TenantRef:
    """Suspend (status='suspended') or resume (status='active') a tenant; commits."""
    if status not in TENANT_STATUSES:
        raise ProvisioningError(f"status must be one of {', '.join(TENANT_STATUSES)}", "status")
    tenant = _get_tenant(slug)
    tenant.status = status
    tenant.suspended_reason = reason if status == "suspended" else None
    ref = tenant.ref()  # before commit: reading expired attributes after it would begin a new transaction
    db.session.commit()
    signals.tenant_status_changed.send(None, tenant=ref)
    return ref


def set_plan(slug: str, plan: str) -> TenantRef:
    """Put a tenant on another price plan (its API rate limits follow it); commits.

    The caller drops its host-resolution cache: requests read the plan from the resolved
    ``TenantRef``."""
    if plan not in TENANT_PLANS:
        raise ProvisioningError(f"plan must be one of {', '.join(TENANT_PLANS)}", "plan")
    tenant = _get_tenant(slug)
    tenant.plan = plan
    ref = tenant.ref()  # before commit, as in set_status
    db.session.commit()
    return ref


def drop_tenant(slug: str) -> TenantRef:
    """Drop a tenant's schema and public rows in one transaction."""
    ref = get_tenant_by_slug(slug)
    if ref is None:
        raise ProvisioningError(f"no tenant with slug {slug!r}", "slug")
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{ref.schema}" CASCADE')
        conn.execute(sa.delete(Tenant).where(Tenant.id == ref.id))
    signals.tenant_dropped.send(None, tenant=ref)
    return ref


def add_domain(slug: str, hostname: str, *, base_domain: str, primary: bool = False) -> TenantDomain:
    """Attach a custom hostname to a tenant; commits."""
    tenant = _get_tenant(slug)
    host = normalize_domain(hostname)
    if host is None:
        raise ProvisioningError(f"{hostname!r} is not a valid hostname", "domain")
    if host == base_domain or host.endswith("." + base_domain):
        raise ProvisioningError(f"{host!r} is under the platform domain", "domain")
    exists = db.session.execute(sa.select(TenantDomain.id).where(TenantDomain.hostname == host)).first()
    if exists:
        raise ProvisioningError(f"hostname {host!r} is already in use", "domain")
    if primary:
        for d in tenant.domains:
            d.is_primary = False
        db.session.flush()
    domain = TenantDomain(tenant=tenant, hostname=host, is_primary=primary)
    db.session.add(domain)
    db.session.commit()
    return domain
