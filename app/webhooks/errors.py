"""The webhooks' refusals: ``DomainError`` subclasses (the API answers them as JSON with field
errors, the console's forms show them; the request's unit of work rolls back, nothing stored)."""

from __future__ import annotations

from app.core.domain_errors import CodedError, Conflict, DomainError, Forbidden, NotFound


class WebhookError(CodedError):
    """Bad input for an endpoint (422): ``WebhookError({"url": "...", "event_types": "..."})``."""

    status = 422
    code = "invalid_webhook"


class WebhookNotFound(NotFound):
    """No such endpoint or delivery in this marketplace."""

    code = "webhook_not_found"


class WebhookForbidden(Forbidden):
    """Only the marketplace's admins manage webhooks."""

    code = "webhook_forbidden"


class WebhookLimit(CodedError, Conflict):
    """The marketplace has as many endpoints as it may have."""

    status = 409
    code = "webhook_endpoint_limit"


__all__ = ["DomainError", "WebhookError", "WebhookForbidden", "WebhookLimit", "WebhookNotFound"]
