"""RQ jobs of the accounts domain (IDs in, fresh rows loaded)."""

from app.accounts.services import send_admin_invitations
from app.core.jobs import tenant_job_context


def invite_tenant_admins(tenant_id: int) -> int:
    """Email the set-password invitation to a new tenant's admins; returns how many."""
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return 0
        return send_admin_invitations()
