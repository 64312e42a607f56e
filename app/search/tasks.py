"""RQ jobs of the search domain. They carry ids only and are idempotent."""

from __future__ import annotations

from app.core.jobs import tenant_job_context
from app.extensions import redis_store


def reindex_gigs(tenant_id: int, gig_ids: list[int]) -> str:
    """Bring these gigs' index entries in line with the database (upsert or delete)."""
    from app.search.services import index_gigs

    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return "tenant gone"
        index_gigs([int(i) for i in gig_ids])
        return "indexed"


def rebuild_index(tenant_id: int) -> str:
    """Rebuild the tenant's index from the database (queued when it is missing or outdated)."""
    from app.search.services import rebuild_flag, reindex_tenant

    with tenant_job_context(tenant_id) as tenant:
        # Cleared first: a change of state while this job runs may queue the next one.
        redis_store.client.delete(rebuild_flag(tenant_id))
        if tenant is None:
            return "tenant gone"
        return f"{reindex_tenant()} gig(s) indexed"


def merge_index(tenant_id: int) -> str:
    """Merge the small segments that incremental writes left in the tenant's index."""
    from app.search.backend import IndexUnavailable
    from app.search.services import SearchBusy, merge_flag
    from app.search.services import merge_index as merge

    with tenant_job_context(tenant_id) as tenant:
        redis_store.client.delete(merge_flag(tenant_id))
        if tenant is None:
            return "tenant gone"
        try:
            return f"{merge(tenant_id)} segment(s)"
        except (SearchBusy, IndexUnavailable) as exc:
            return f"skipped: {exc}"  # the next write that finds too many segments queues another
