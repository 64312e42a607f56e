"""RQ jobs of the search domain. They carry ids only and are idempotent."""

from __future__ import annotations

from app.jobs import tenant_job_context


def reindex_gigs(tenant_id: int, gig_ids: list[int]) -> str:
    """Bring these gigs' index entries in line with the database (upsert or delete)."""
    from app.search.services import index_gigs

    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return "tenant gone"
        index_gigs([int(i) for i in gig_ids])
        return "indexed"
