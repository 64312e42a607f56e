"""Console actions for the marketplace's domains (rules in tenants/domains.py).

Each acts on the tenant bound to the request, writes the audit entry in the same
transaction and has this process's host-resolution cache dropped after commit (other
processes follow within TENANT_CACHE_TTL). The request's unit of work commits once.
"""

from __future__ import annotations

import functools

from app.console.audit import record_audit
from app.console.errors import ConsoleError
from app.core.after_commit import on_commit
from tenants import domains
from tenants.db import current_tenant

TARGET = "domain"


def _refusals_as_console_errors(action):
    """The tenancy engine cannot import the app's ``DomainError``: its refusals are translated
    here, at the one place the app calls it, with the field they concern."""

    @functools.wraps(action)
    def wrapper(*args, **kwargs):
        try:
            return action(*args, **kwargs)
        except domains.DomainError as exc:
            raise ConsoleError(exc.message, {exc.field: exc.message}, status=exc.status) from exc

    return wrapper


def _after_commit_invalidate() -> None:
    on_commit(domains.invalidate_resolver)


def list_domains() -> list[dict]:
    tenant = current_tenant()
    return [domains.as_dict(d, tenant.slug) for d in domains.list_domains(tenant.id)]


@_refusals_as_console_errors
def get_domain(domain_id):
    """One of the marketplace's domains; a 404 ConsoleError when it is not one of them."""
    return domains.get_domain(current_tenant().id, domain_id)


def domain_view(domain) -> dict:
    return domains.as_dict(domain, current_tenant().slug)


@_refusals_as_console_errors
def add_domain(actor, hostname):
    """Add a pending custom domain; audited as ``domain.add``. Raises DomainError."""
    domain = domains.add_custom_domain(current_tenant().id, hostname)
    record_audit(
        actor,
        "domain.add",
        TARGET,
        domain.id,
        f"Custom domain {domain.hostname} added (pending DNS verification)",
        {"hostname": [None, domain.hostname], "status": [None, domain.status]},
    )
    return domain


@_refusals_as_console_errors
def verify_domain(actor, domain_id):
    """Check the domain's DNS record now; audited as ``domain.verify`` (success) or
    ``domain.check_failed`` (the record was not found; the error is kept on the domain)."""
    before = domains.get_domain(current_tenant().id, domain_id).status
    domain = domains.verify_domain(current_tenant().id, domain_id)
    if before == "verified":
        return domain
    if domain.status == "verified":
        record_audit(
            actor,
            "domain.verify",
            TARGET,
            domain.id,
            f"{domain.hostname} verified",
            {"status": [before, domain.status]},
        )
        _after_commit_invalidate()
    else:
        record_audit(
            actor,
            "domain.check_failed",
            TARGET,
            domain.id,
            f"{domain.hostname} not verified: {domain.last_check_error}",
            {"last_check_error": domain.last_check_error},
        )
    return domain


@_refusals_as_console_errors
def make_primary(actor, domain_id):
    """Make a verified domain the primary hostname; audited as ``domain.primary``."""
    tenant = current_tenant()
    previous = next((d.hostname for d in domains.list_domains(tenant.id) if d.is_primary), None)
    domain = domains.make_primary(tenant.id, domain_id)
    if previous != domain.hostname:
        record_audit(
            actor,
            "domain.primary",
            TARGET,
            domain.id,
            f"{domain.hostname} is now the primary domain",
            {"primary": [previous, domain.hostname]},
        )
        _after_commit_invalidate()
    return domain


@_refusals_as_console_errors
def remove_domain(actor, domain_id) -> dict:
    """Detach a custom domain; audited as ``domain.remove``. Returns what it was (as a dict:
    the row is gone once the transaction commits)."""
    domain = domains.remove_domain(current_tenant().id, domain_id)
    gone = domain_view(domain)
    record_audit(
        actor,
        "domain.remove",
        TARGET,
        domain.id,
        f"Custom domain {domain.hostname} removed",
        {"hostname": [domain.hostname, None]},
    )
    _after_commit_invalidate()
    return gone
