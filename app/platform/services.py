"""Platform console rules: platform admins, the tenants overview, a tenant's health, and
the platform actions (create, suspend, resume, set the plan), which call the tenancy engine
(``tenants.provisioning``) exactly as ``flask tenants ...`` does.

Reads across tenants use raw SQL on schemas named by ``public.tenants`` (checked
against the schema-name pattern and quoted by the dialect, never formatted from
request input), one query per page for sizes and one ``UNION ALL`` query per page
for activity, so the list costs the same few round trips for 5 or 50 tenants.

A function that refuses raises ``PlatformError`` (``errors`` maps a field, or
``"form"``, to a message) before it changes anything. Admin functions flush and
never commit; the tenant actions go through the engine, which commits its own
transaction (creation is one transaction of its own; suspend and resume commit the
request's session), then drop this process's host-resolution cache at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_request_context, request

from app.accounts.services import (
    AccountError,
    password_hasher,
    validate_email_address,
    validate_password,
)
from app.core import otp
from app.core.crypto import SecretUnavailable, decrypt_secret, encrypt_secret
from app.core.domain_errors import FORM, DomainError
from app.platform.models import PlatformAdmin
from tenants import provisioning
from tenants.db import SLUG_RE, TenantRef, db
from tenants.migrations import current_stamp_head, tenant_versions
from tenants.models import TENANT_PLANS, Tenant, TenantDomain

log = logging.getLogger("app.platform")
audit_log = logging.getLogger("app.platform.audit")

PER_PAGE = 25
MAX_QUERY = 100
MAX_REASON = 500
STATUS_FILTERS = ("all", "active", "suspended")
SORTS = ("name", "newest")
# Outbox rows pending longer than this mean delivery is stuck (worker down, Redis lost...).
OUTBOX_STALE_AFTER = timedelta(minutes=10)
_SCHEMA_RE = re.compile(r"^tenant_[a-z][a-z0-9_]{1,30}\Z")
_ACTIVITY_TABLES = ("users", "gigs", "orders")


class PlatformError(DomainError):
    """A refused platform operation: ``errors`` maps a field (or ``"form"``) to a message."""


class TenantNotFound(LookupError):
    """No tenant has this slug (the views answer 404)."""


def _now() -> datetime:
    return datetime.now(UTC)


def log_action(action: str, actor: PlatformAdmin | None, **details: Any) -> None:
    """One JSON log line per platform action: who, what, on which tenant, from where."""
    entry = {
        "event": "platform_action",
        "action": action,
        "actor_id": actor.id if actor is not None else None,
        "actor_email": actor.email if actor is not None else None,
        "via": "web" if has_request_context() else "cli",
        "ip": request.remote_addr if has_request_context() else None,
        "at": _now().isoformat(),
        **details,
    }
    audit_log.info(json.dumps(entry, sort_keys=True, default=str))


# --------------------------------------------------------------------------- platform admins


def _clean_display_name(value: str | None) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise PlatformError({"display_name": "Enter a name."})
    if len(name) > 80:
        raise PlatformError({"display_name": "Use at most 80 characters."})
    return name


def _clean_email(email: str | None) -> str:
    try:
        return validate_email_address(email or "")
    except AccountError as exc:
        raise PlatformError({"email": exc.errors["email"]}) from None


def get_admin_by_email(email: str) -> PlatformAdmin | None:
    email = (email or "").strip()
    if not email:
        return None
    return db.session.execute(
        sa.select(PlatformAdmin).where(sa.func.lower(PlatformAdmin.email) == email.lower())
    ).scalar_one_or_none()


def create_platform_admin(email: str, display_name: str, password: str) -> PlatformAdmin:
    """Add a platform admin (flushes). Raises PlatformError for a bad or taken email,
    an empty name or a weak password (the tenant users' password rules apply)."""
    errors: dict[str, str] = {}
    try:
        email = _clean_email(email)
    except PlatformError as exc:
        errors.update(exc.errors)
    try:
        display_name = _clean_display_name(display_name)
    except PlatformError as exc:
        errors.update(exc.errors)
    try:
        validate_password(password, email if "email" not in errors else None)
    except AccountError as exc:
        errors.update(exc.errors)
    if "email" not in errors and get_admin_by_email(email) is not None:
        errors["email"] = "A platform admin with this email already exists."
    if errors:
        raise PlatformError(errors)
    admin = PlatformAdmin(
        email=email, display_name=display_name, password_hash=password_hasher().hash(password)
    )
    db.session.add(admin)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        raise PlatformError({"email": "A platform admin with this email already exists."}) from None
    log_action("admin.created", None, admin_id=admin.id, admin_email=admin.email)
    return admin


def set_platform_admin_password(email: str, password: str) -> PlatformAdmin:
    """Give a platform admin a new password (flushes); their open sessions end.
    Raises PlatformError for an unknown admin or a weak password."""
    admin = get_admin_by_email(email)
    if admin is None:
        raise PlatformError({"email": f"No platform admin has the email {email!r}."})
    try:
        validate_password(password, admin.email)
    except AccountError as exc:
        raise PlatformError(exc.errors) from None
    admin.password_hash = password_hasher().hash(password)
    db.session.flush()
    log_action("admin.password_set", None, admin_id=admin.id, admin_email=admin.email)
    return admin


def set_platform_admin_status(email: str, status: str) -> PlatformAdmin:
    """Disable (their sessions end at once) or re-enable a platform admin (flushes)."""
    if status not in ("active", "disabled"):
        raise PlatformError({"status": "Status must be active or disabled."})
    admin = get_admin_by_email(email)
    if admin is None:
        raise PlatformError({"email": f"No platform admin has the email {email!r}."})
    if admin.status == status:
        raise PlatformError({"status": f"{admin.email} is already {status}."})
    admin.status = status
    db.session.flush()
    log_action(f"admin.{'enabled' if status == 'active' else 'disabled'}", None, admin_id=admin.id)
    return admin


def list_platform_admins() -> list[PlatformAdmin]:
    return list(db.session.scalars(sa.select(PlatformAdmin).order_by(PlatformAdmin.id)))


def _burn_a_hash(password: str) -> None:
    """Spend the time of a real verification, so an unknown email is not faster to reject."""
    hasher = password_hasher()
    dummy = current_app.extensions.get("platform_password_dummy")
    if dummy is None:
        dummy = current_app.extensions["platform_password_dummy"] = hasher.hash(os.urandom(16).hex())
    with contextlib.suppress(VerificationError, InvalidHashError):
        hasher.verify(dummy, password or "-")


def authenticate(email: str, password: str) -> PlatformAdmin:
    """The active platform admin with these credentials (flushes ``last_login_at``).

    Raises PlatformError({"form": ...}) with one generic message for an unknown email
    or a wrong password; a disabled admin is told so only after the password matched.
    Brute force is bounded by the login view's rate limits (per IP and per account).
    """
    generic = PlatformError("The email or password is incorrect.")
    admin = get_admin_by_email(email)
    if admin is None or not password:
        _burn_a_hash(password)
        log.info("platform login failed: unknown email")
        raise generic
    hasher = password_hasher()
    try:
        hasher.verify(admin.password_hash, password)
    except (VerificationError, InvalidHashError):
        log.info("platform login failed: wrong password (admin %s)", admin.id)
        raise generic from None
    if admin.status != "active":
        raise PlatformError("This platform account is disabled.")
    if hasher.check_needs_rehash(admin.password_hash):
        admin.password_hash = hasher.hash(password)
    admin.last_login_at = _now()
    db.session.flush()
    return admin


def password_stamp(admin: PlatformAdmin) -> str:
    """Changes when the password changes: a pending sign-in (password given, code not yet) ends."""
    return hashlib.sha256(("platform:" + admin.password_hash).encode()).hexdigest()[:16]


def session_stamp(admin: PlatformAdmin) -> str:
    """Changes when the password changes or two-factor is reset, which ends the admin's sessions."""
    enrolled = admin.totp_confirmed_at.isoformat() if admin.totp_confirmed_at else "-"
    return hashlib.sha256(f"platform:{admin.password_hash}:{enrolled}".encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- two-factor sign-in
# Platform admins always need it (docs/design/identity-and-uploads.md): the first sign-in goes
# through enrolment, every later one through a code. The rules of codes are app/core/otp.py's.

TOTP_ISSUER = "Gigforge platform"
WRONG_CODE = "That code is not right. Enter the 6-digit code your app shows now, or a recovery code."


def begin_enrolment(admin: PlatformAdmin) -> str:
    """The TOTP secret to show an admin who has not confirmed two-factor yet (flushes).

    The secret is kept encrypted but unconfirmed; the same one is shown again until a code
    confirms it (a reload does not invalidate what the app already scanned). Raises
    PlatformError when the admin is already enrolled."""
    if admin.totp_confirmed_at is not None:
        raise PlatformError("Two-factor sign-in is already set up for this account.")
    secret = None
    with contextlib.suppress(SecretUnavailable):
        secret = decrypt_secret(admin.totp_secret_encrypted)
    if not otp.valid_secret(secret):
        secret = otp.new_secret()
        admin.totp_secret_encrypted = encrypt_secret(secret)
        admin.totp_last_step = None
        db.session.flush()
    return secret


def enrolment_qr(admin: PlatformAdmin, secret: str) -> str:
    return otp.qr_svg(otp.provisioning_uri(secret, account=admin.email, issuer=TOTP_ISSUER))


def confirm_enrolment(admin: PlatformAdmin, code: str | None, *, now: datetime | None = None) -> list[str]:
    """Confirm the admin's pending secret with a code from the app (flushes); returns the ten
    recovery codes, to show once (only their hashes are kept). Raises PlatformError({"code"})
    for a wrong code, and when the admin is already enrolled or has no pending secret."""
    if admin.totp_confirmed_at is not None:
        raise PlatformError("Two-factor sign-in is already set up for this account.")
    secret = None
    with contextlib.suppress(SecretUnavailable):
        secret = decrypt_secret(admin.totp_secret_encrypted)
    if not otp.valid_secret(secret):
        raise PlatformError("Start again: the enrolment expired.")
    step = otp.verify_totp(secret, code, last_step=admin.totp_last_step, now=now)
    if step is None:
        log.info("platform 2fa enrolment: wrong code (admin %s)", admin.id)
        raise PlatformError({"code": "That code is not right. Enter the 6-digit code your app shows now."})
    codes = otp.new_recovery_codes()
    admin.totp_last_step = step
    admin.totp_confirmed_at = now or _now()
    admin.recovery_code_hashes = [otp.hash_recovery_code(c) for c in codes]
    db.session.flush()
    log_action("admin.2fa_enrolled", admin)
    return codes


def verify_second_factor(admin: PlatformAdmin, code: str | None, *, now: datetime | None = None) -> str:
    """Check the second factor of an enrolled admin's sign-in (flushes): a TOTP code (each works
    once: ``totp_last_step``) or a recovery code (single use: its hash is removed). Returns
    ``"totp"`` or ``"recovery"``; raises PlatformError({"code"}) for anything else."""
    if admin.totp_confirmed_at is None:
        raise PlatformError("Set up two-factor sign-in first.")
    if otp.looks_like_totp(code):
        secret = None
        with contextlib.suppress(SecretUnavailable):
            secret = decrypt_secret(admin.totp_secret_encrypted)
        step = otp.verify_totp(secret or "", code, last_step=admin.totp_last_step, now=now)
        if step is not None:
            admin.totp_last_step = step
            db.session.flush()
            return "totp"
    else:
        stored = otp.match_recovery_code(code, list(admin.recovery_code_hashes or []))
        if stored is not None:
            admin.recovery_code_hashes = [h for h in admin.recovery_code_hashes if h != stored]
            db.session.flush()
            log_action("admin.recovery_code_used", admin, remaining=len(admin.recovery_code_hashes))
            return "recovery"
    log.info("platform login failed: wrong code (admin %s)", admin.id)
    raise PlatformError({"code": WRONG_CODE})


def reset_two_factor(email: str) -> PlatformAdmin:
    """Forget an admin's two-factor enrolment (flushes): their sessions end and their next
    sign-in goes through enrolment again. Raises PlatformError for an unknown admin."""
    admin = get_admin_by_email(email)
    if admin is None:
        raise PlatformError({"email": f"No platform admin has the email {email!r}."})
    admin.totp_secret_encrypted = None
    admin.totp_confirmed_at = None
    admin.totp_last_step = None
    admin.recovery_code_hashes = []
    db.session.flush()
    log_action("admin.2fa_reset", None, admin_id=admin.id, admin_email=admin.email)
    return admin


# --------------------------------------------------------------------------- reads across tenants


def _quote(schema: str) -> str:
    """A tenant schema name as a quoted identifier; refuses anything else."""
    if not _SCHEMA_RE.match(schema or ""):
        raise ValueError(f"not a tenant schema name: {schema!r}")
    return db.engine.dialect.identifier_preparer.quote_identifier(schema)


@dataclass
class SchemaStats:
    """Size and activity of one tenant schema (None where the schema could not be read)."""

    size_bytes: int | None = None
    tables: frozenset[str] = frozenset()
    users: int | None = None
    active_gigs: int | None = None
    orders: int | None = None
    last_order_at: datetime | None = None
    last_login_at: datetime | None = None

    @property
    def last_activity_at(self) -> datetime | None:
        moments = [m for m in (self.last_order_at, self.last_login_at) if m is not None]
        return max(moments) if moments else None


def schema_stats(schemas: list[str]) -> dict[str, SchemaStats]:
    """Size (sum of ``pg_total_relation_size`` over each schema's tables, one query) and
    activity (users, active gigs, orders, last order, last login: one UNION ALL query)."""
    stats = {s: SchemaStats() for s in schemas}
    if not schemas:
        return stats
    for schema in schemas:
        _quote(schema)  # every name is checked before any SQL is built
    rows = db.session.execute(
        sa.text(
            "SELECT n.nspname, coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint, "
            "array_agg(c.relname::text) "
            "FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'm') "
            "WHERE n.nspname = ANY(:schemas) GROUP BY n.nspname"
        ),
        {"schemas": schemas},
    ).all()
    for schema, size, tables in rows:
        stats[schema].size_bytes = int(size)
        stats[schema].tables = frozenset(tables or ())
    readable = [s for s in schemas if set(_ACTIVITY_TABLES) <= stats[s].tables]
    if readable:
        parts, params = [], {}
        for i, schema in enumerate(readable):
            q = _quote(schema)
            params[f"s{i}"] = schema
            parts.append(
                f"SELECT CAST(:s{i} AS text) AS schema, "
                f"(SELECT count(*) FROM {q}.users WHERE status <> 'deleted') AS users, "
                f"(SELECT count(*) FROM {q}.gigs WHERE status = 'active') AS active_gigs, "
                f"(SELECT count(*) FROM {q}.orders) AS orders, "
                f"(SELECT max(created_at) FROM {q}.orders) AS last_order_at, "
                f"(SELECT max(last_login_at) FROM {q}.users) AS last_login_at"
            )
        for row in db.session.execute(sa.text(" UNION ALL ".join(parts)), params):
            entry = stats[row.schema]
            entry.users, entry.active_gigs, entry.orders = row.users, row.active_gigs, row.orders
            entry.last_order_at, entry.last_login_at = row.last_order_at, row.last_login_at
    return stats


@dataclass
class DomainInfo:
    hostname: str
    is_primary: bool
    status: str


@dataclass
class TenantRow:
    id: int
    slug: str
    name: str
    status: str
    suspended_reason: str | None
    created_at: datetime
    schema: str
    domains: list[DomainInfo]
    stats: SchemaStats
    plan: str = "standard"  # the price plan: sets the API's rate limits

    @property
    def primary_host(self) -> str | None:
        primary = next((d for d in self.domains if d.is_primary), None) or next(iter(self.domains), None)
        return primary.hostname if primary else None


@dataclass
class TenantOverview:
    rows: list[TenantRow]
    page: int
    per_page: int
    total: int  # tenants matching the filters
    q: str
    status: str
    sort: str
    counts: dict[str, int] = field(default_factory=dict)  # all tenants by status, and "all"
    total_size_bytes: int = 0  # every tenant schema

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def check_overview_args(page: Any, q: Any, status: Any, sort: Any) -> tuple[int, str, str, str]:
    """Normalized (page, q, status, sort); raises PlatformError naming each bad field."""
    errors: dict[str, str] = {}
    try:
        page = int(page if page not in (None, "") else 1)
        if page < 1 or page > 1_000_000:
            raise ValueError
    except (TypeError, ValueError):
        errors["page"] = "Page must be a whole number from 1."
    q = " ".join(str(q or "").split())
    if len(q) > MAX_QUERY:
        errors["q"] = f"Search for at most {MAX_QUERY} characters."
    elif any(ord(ch) < 32 for ch in q):
        errors["q"] = "The search contains control characters."
    status = status or "all"
    if status not in STATUS_FILTERS:
        errors["status"] = "Status must be all, active or suspended."
    sort = sort or "name"
    if sort not in SORTS:
        errors["sort"] = "Sort by name or newest."
    if errors:
        raise PlatformError(errors)
    return page, q, status, sort


def _domains_of(tenant_ids: list[int]) -> dict[int, list[DomainInfo]]:
    out: dict[int, list[DomainInfo]] = {i: [] for i in tenant_ids}
    if not tenant_ids:
        return out
    rows = db.session.execute(
        sa.select(TenantDomain.tenant_id, TenantDomain.hostname, TenantDomain.is_primary, TenantDomain.status)
        .where(TenantDomain.tenant_id.in_(tenant_ids))
        .order_by(TenantDomain.tenant_id, TenantDomain.is_primary.desc(), TenantDomain.hostname)
    ).all()
    for tenant_id, hostname, is_primary, status in rows:
        out[tenant_id].append(DomainInfo(hostname, is_primary, status))
    return out


def tenant_overview(page: Any = 1, q: Any = "", status: Any = "all", sort: Any = "name") -> TenantOverview:
    """One page of tenants with their domains, size and activity, plus platform totals.

    ``q`` matches the slug, the name or any hostname (case-insensitive, literally:
    ``%`` and ``_`` are not wildcards). Raises PlatformError for bad arguments.
    """
    page, q, status, sort = check_overview_args(page, q, status, sort)
    where = []
    if q:
        host_match = sa.exists().where(
            TenantDomain.tenant_id == Tenant.id, TenantDomain.hostname.icontains(q, autoescape=True)
        )
        where.append(
            sa.or_(
                Tenant.slug.icontains(q, autoescape=True),
                Tenant.name.icontains(q, autoescape=True),
                host_match,
            )
        )
    if status != "all":
        where.append(Tenant.status == status)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Tenant).where(*where)) or 0
    order = (
        [sa.func.lower(Tenant.name), Tenant.slug]
        if sort == "name"
        else [Tenant.created_at.desc(), Tenant.id.desc()]
    )
    tenants = db.session.execute(
        sa.select(
            Tenant.id,
            Tenant.slug,
            Tenant.name,
            Tenant.status,
            Tenant.suspended_reason,
            Tenant.created_at,
            Tenant.schema_name,
            Tenant.plan,
        )
        .where(*where)
        .order_by(*order)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    domains = _domains_of([t.id for t in tenants])
    stats = schema_stats([t.schema_name for t in tenants])
    rows = [
        TenantRow(
            id=t.id,
            slug=t.slug,
            name=t.name,
            status=t.status,
            suspended_reason=t.suspended_reason,
            created_at=t.created_at,
            schema=t.schema_name,
            domains=domains[t.id],
            stats=stats[t.schema_name],
            plan=t.plan,
        )
        for t in tenants
    ]
    counts = dict(db.session.execute(sa.select(Tenant.status, sa.func.count()).group_by(Tenant.status)).all())
    counts = {"active": counts.get("active", 0), "suspended": counts.get("suspended", 0)}
    counts["all"] = counts["active"] + counts["suspended"]
    total_size = db.session.scalar(
        sa.text(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace AND c.relkind IN ('r', 'm') "
            "JOIN public.tenants t ON t.schema_name = n.nspname"
        )
    )
    return TenantOverview(rows, page, PER_PAGE, total, q, status, sort, counts, int(total_size or 0))


# --------------------------------------------------------------------------- one tenant


def get_tenant(slug: str) -> Tenant:
    """The tenant with this slug; raises TenantNotFound (also for a malformed slug)."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise TenantNotFound(slug)
    tenant = db.session.execute(sa.select(Tenant).where(Tenant.slug == slug)).scalar_one_or_none()
    if tenant is None:
        raise TenantNotFound(slug)
    return tenant


@dataclass
class HealthCheck:
    name: str
    state: str  # ok | warn | bad
    detail: str


@dataclass
class TenantHealth:
    tenant: Tenant
    row: TenantRow
    checks: list[HealthCheck]
    migration_version: str | None
    migration_head: str | None
    outbox_pending: int | None
    outbox_failed: int | None
    oldest_pending_at: datetime | None
    last_event_at: datetime | None
    search_index: str  # present | missing | database | unknown

    @property
    def state(self) -> str:
        states = {c.state for c in self.checks}
        return "bad" if "bad" in states else "warn" if "warn" in states else "ok"

    @property
    def last_activity_at(self) -> datetime | None:
        moments = [m for m in (self.row.stats.last_activity_at, self.last_event_at) if m is not None]
        return max(moments) if moments else None


def _search_index_state(tenant_id: int) -> str:
    """``present`` / ``missing`` / ``outdated`` for the search index on this node's disk;
    ``database`` for the PostgreSQL backend (the table is the index); ``unknown`` otherwise."""
    from app.search.backend import get_backend

    backend = get_backend()
    if getattr(backend, "name", None) == "postgres":
        return "database"
    index_state = getattr(backend, "index_state", None)
    if index_state is not None:
        state = index_state(tenant_id)
        return {"ok": "present"}.get(state, state if state in ("missing", "outdated") else "unknown")
    index_dir = getattr(backend, "index_dir", None)
    if index_dir is None:
        return "unknown"
    from whoosh import index as whoosh_index

    real = os.path.realpath(index_dir(tenant_id))
    return "present" if os.path.isdir(real) and whoosh_index.exists_in(real) else "missing"


def tenant_health(slug: str) -> TenantHealth:
    """Everything an operator checks first about one tenant: schema, migration version
    against this code's head, settings row, outbox backlog and failures, search index,
    size and last activity. Raises TenantNotFound."""
    tenant = get_tenant(slug)
    schema = tenant.schema_name
    q = _quote(schema)
    stats = schema_stats([schema])[schema]
    row = TenantRow(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        status=tenant.status,
        suspended_reason=tenant.suspended_reason,
        created_at=tenant.created_at,
        schema=schema,
        domains=_domains_of([tenant.id])[tenant.id],
        stats=stats,
        plan=tenant.plan,
    )
    checks: list[HealthCheck] = []
    if tenant.status == "suspended":
        reason = f": {tenant.suspended_reason}" if tenant.suspended_reason else ""
        checks.append(HealthCheck("Status", "warn", f"Suspended{reason}. Its sites answer 503."))
    else:
        checks.append(HealthCheck("Status", "ok", "Active."))

    head = current_stamp_head()
    version = None
    pending = failed = None
    oldest_pending = last_event = None
    if stats.size_bytes is None:
        checks.append(HealthCheck("Schema", "bad", f"Schema {schema} does not exist."))
    else:
        checks.append(HealthCheck("Schema", "ok", f"{schema}, {len(stats.tables)} tables."))
        version = tenant_versions(db.session.connection(), [schema]).get(schema)
        if version is None:
            checks.append(HealthCheck("Migrations", "bad", "No migration version is recorded."))
        elif version != head:
            checks.append(
                HealthCheck(
                    "Migrations",
                    "warn",
                    f"At {version}, this code expects {head}: run `flask tenants migrate`.",
                )
            )
        else:
            checks.append(HealthCheck("Migrations", "ok", f"At head ({head})."))

        if "marketplace_settings" in stats.tables:
            has_settings = db.session.scalar(sa.text(f"SELECT count(*) FROM {q}.marketplace_settings")) > 0
            checks.append(
                HealthCheck("Settings", "ok", "Settings row present.")
                if has_settings
                else HealthCheck("Settings", "bad", "The settings row is missing: branding cannot load.")
            )
        else:
            checks.append(HealthCheck("Settings", "bad", "The settings table is missing."))

        if "outbox_events" in stats.tables:
            outbox = db.session.execute(
                sa.text(
                    "SELECT count(*) FILTER (WHERE status = 'pending'), "
                    "count(*) FILTER (WHERE status = 'failed'), "
                    "min(created_at) FILTER (WHERE status = 'pending'), max(created_at) "
                    f"FROM {q}.outbox_events"
                )
            ).one()
            pending, failed, oldest_pending, last_event = outbox
            if failed:
                checks.append(
                    HealthCheck(
                        "Events",
                        "bad",
                        f"{failed} failed event(s): see `flask events retry`; {pending} pending.",
                    )
                )
            elif pending and oldest_pending is not None and _now() - oldest_pending > OUTBOX_STALE_AFTER:
                minutes = int((_now() - oldest_pending).total_seconds() // 60)
                checks.append(
                    HealthCheck(
                        "Events",
                        "warn",
                        f"{pending} pending, the oldest for {minutes} min: is the worker running?",
                    )
                )
            else:
                checks.append(HealthCheck("Events", "ok", f"{pending} pending, none failed."))
        else:
            checks.append(HealthCheck("Events", "bad", "The outbox table is missing."))

    search = _search_index_state(tenant.id)
    if search == "present":
        checks.append(HealthCheck("Search", "ok", "Search index present."))
    elif search == "database":
        checks.append(HealthCheck("Search", "ok", "PostgreSQL full-text search (no separate index)."))
    elif search == "missing" and stats.active_gigs:
        checks.append(
            HealthCheck(
                "Search",
                "warn",
                f"No search index on this node for {stats.active_gigs} active gig(s): "
                f"run `flask search reindex --tenant {tenant.slug}`.",
            )
        )
    elif search == "missing":
        checks.append(HealthCheck("Search", "ok", "No index yet (no active gigs)."))
    elif search == "outdated":
        checks.append(
            HealthCheck(
                "Search",
                "warn",
                "The search index on this node has an older format (searches fall back to the database): "
                f"run `flask search reindex --tenant {tenant.slug}`.",
            )
        )
    else:
        checks.append(HealthCheck("Search", "warn", "The search backend cannot be inspected."))

    pending_domains = [d.hostname for d in row.domains if d.status != "verified"]
    if pending_domains:
        checks.append(
            HealthCheck(
                "Domains", "warn", f"Not verified yet (do not resolve): {', '.join(pending_domains)}."
            )
        )
    else:
        checks.append(HealthCheck("Domains", "ok", f"{len(row.domains)} hostname(s), all verified."))

    return TenantHealth(
        tenant=tenant,
        row=row,
        checks=checks,
        migration_version=version,
        migration_head=head,
        outbox_pending=pending,
        outbox_failed=failed,
        oldest_pending_at=oldest_pending,
        last_event_at=last_event,
        search_index=search,
    )


# --------------------------------------------------------------------------- platform actions


def _invalidate_resolution() -> None:
    """This process forgets its cached host resolutions now (others within TENANT_CACHE_TTL)."""
    current_app.extensions["tenants"].invalidate()


def check_slug(slug: str | None) -> str:
    """A new tenant's slug, trimmed: valid syntax, not reserved, not taken. Raises PlatformError."""
    slug = (slug or "").strip()
    try:
        slug = provisioning.validate_slug(slug)
    except provisioning.ProvisioningError as exc:
        raise PlatformError({"slug": _sentence(exc.message)}) from None
    if db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise PlatformError({"slug": f"A tenant with the slug {slug!r} already exists."})
    return slug


def check_tenant_name(name: str | None) -> str:
    """A tenant's display name, whitespace collapsed: 1-120 characters. Raises PlatformError."""
    name = " ".join((name or "").split())
    if not name:
        raise PlatformError({"name": "Enter the marketplace's name."})
    if len(name) > 120:
        raise PlatformError({"name": "Use at most 120 characters."})
    return name


def check_admin_email(email: str | None) -> str:
    """The first admin's email, trimmed, when its syntax is valid. Raises PlatformError."""
    try:
        return validate_email_address(email or "", field="admin_email")
    except AccountError as exc:
        raise PlatformError(exc.errors) from None


def check_new_tenant(slug: str, name: str, admin_email: str) -> tuple[str, str, str]:
    """The cleaned (slug, name, admin email); raises PlatformError naming every bad field."""
    errors: dict[str, str] = {}
    cleaned = []
    for check, value in ((check_slug, slug), (check_tenant_name, name), (check_admin_email, admin_email)):
        try:
            cleaned.append(check(value))
        except PlatformError as exc:
            errors.update(exc.errors)
    if errors:
        raise PlatformError(errors)
    return cleaned[0], cleaned[1], cleaned[2]


def _sentence(message: str) -> str:
    """An engine message ("slug must ...") as a sentence for a form ("Slug must ....")."""
    message = message[:1].upper() + message[1:]
    return message if message.endswith(".") else message + "."


def create_tenant_from_console(
    slug: str, name: str, admin_email: str, *, actor: PlatformAdmin | None
) -> provisioning.ProvisionResult:
    """Create a tenant with the tenancy engine (its own transaction: schema, tables, seeds,
    first admin without a password); the admin gets the set-password invitation email.

    Raises PlatformError (fields ``slug``, ``name``, ``admin_email``) for bad input or a
    slug or hostname already taken (also when a concurrent creation wins the race);
    nothing is left behind.
    """
    slug, name, admin_email = check_new_tenant(slug, name, admin_email)
    try:
        result = provisioning.create_tenant(
            slug,
            name,
            base_domain=current_app.config["BASE_DOMAIN"],
            options={"admin_email": admin_email},
        )
    except provisioning.ProvisioningError as exc:
        field_name = exc.field if exc.field in ("slug", "name") else FORM
        raise PlatformError({field_name: _sentence(exc.message)}) from None
    _invalidate_resolution()
    log_action(
        "tenant.created",
        actor,
        tenant_id=result.tenant.id,
        slug=result.tenant.slug,
        admin_email=admin_email,
        hostnames=result.hostnames,
        ms=round(result.seconds * 1000),
    )
    return result


def _clean_reason(reason: str | None) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise PlatformError({"reason": "Say why the tenant is suspended (it is kept with the tenant)."})
    if len(reason) > MAX_REASON:
        raise PlatformError({"reason": f"Use at most {MAX_REASON} characters."})
    return reason


def _locked_tenant(slug: str) -> Tenant:
    """The tenant row, locked until the commit, with fresh attributes (raises TenantNotFound)."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise TenantNotFound(slug)
    tenant = db.session.execute(
        sa.select(Tenant)
        .where(Tenant.slug == slug)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if tenant is None:
        raise TenantNotFound(slug)
    return tenant


def suspend_tenant(slug: str, reason: str, *, actor: PlatformAdmin | None) -> TenantRef:
    """Suspend a tenant: from the commit on, its hosts answer 503 (this process at once,
    the others within TENANT_CACHE_TTL). Commits (through the engine).

    Raises TenantNotFound, or PlatformError for a missing reason or a tenant that is
    already suspended (nothing changes).
    """
    reason = _clean_reason(reason)
    tenant = _locked_tenant(slug)
    if tenant.status == "suspended":
        raise PlatformError({FORM: f"{tenant.name} is already suspended."})
    ref = provisioning.set_status(slug, "suspended", reason)
    _invalidate_resolution()
    log_action("tenant.suspended", actor, tenant_id=ref.id, slug=slug, reason=reason)
    return ref


def resume_tenant(slug: str, *, actor: PlatformAdmin | None) -> TenantRef:
    """Resume a suspended tenant (commits through the engine; hosts serve again at once here).

    Raises TenantNotFound, or PlatformError when the tenant is not suspended.
    """
    tenant = _locked_tenant(slug)
    if tenant.status != "suspended":
        raise PlatformError({FORM: f"{tenant.name} is not suspended."})
    ref = provisioning.set_status(slug, "active")
    _invalidate_resolution()
    log_action("tenant.resumed", actor, tenant_id=ref.id, slug=slug)
    return ref


def set_tenant_plan(slug: str, plan: str | None, *, actor: PlatformAdmin | None) -> TenantRef:
    """Put a tenant on another price plan: its API rate limits (``RATELIMIT_API_PLANS``) follow
    from the next request (this process at once, the others within TENANT_CACHE_TTL). Commits
    (through the engine) and writes an audit line.

    Raises TenantNotFound, or PlatformError (field ``plan``) for an unknown plan or the plan
    the tenant is already on (nothing changes).
    """
    plan = (plan or "").strip().lower()
    if plan not in TENANT_PLANS:
        raise PlatformError({"plan": f"Choose one of the plans: {', '.join(TENANT_PLANS)}."})
    tenant = _locked_tenant(slug)
    if tenant.plan == plan:
        raise PlatformError({"plan": f"{tenant.name} is already on the {plan} plan."})
    previous = tenant.plan
    ref = provisioning.set_plan(slug, plan)
    _invalidate_resolution()
    log_action("tenant.plan_changed", actor, tenant_id=ref.id, slug=slug, plan=plan, previous_plan=previous)
    return ref


def plan_limits() -> dict[str, dict[str, str]]:
    """The API rate limits each plan gives (``RATELIMIT_API_PLANS``), for the tenant page."""
    plans = current_app.config["RATELIMIT_API_PLANS"]
    return {plan: dict(plans.get(plan, {})) for plan in TENANT_PLANS}
