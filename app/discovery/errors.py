"""Discovery's refusals (one family for saved lists, views and featured gigs)."""

from __future__ import annotations

from app.core.domain_errors import CodedError


class DiscoveryError(CodedError):
    """A save, list or featured-gig operation that cannot be done (422, field errors; the stable
    ``code`` also goes into the API's ``errors.code``)."""

    code = "discovery_invalid"


class DiscoveryNotFound(DiscoveryError):
    """A list or gig that does not exist for this user (another user's list is "not found" too:
    its id tells nothing)."""

    status = 404
    code = "not_found"
