"""RQ jobs of messaging. Jobs carry IDs; each binds its tenant and loads fresh rows."""

from __future__ import annotations

from app.core.jobs import tenant_job_context
from app.messaging import services


def post_system_message_job(tenant_id: int, conversation_id: int, body: str) -> int | None:
    """Post a system message (e.g. an order event) into a conversation; returns its id.

    Not idempotent by itself: callers that may run twice should pass a body
    they can recognise or check first (order events will key on the event id).
    """
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return None
        message = services.post_system_message(conversation_id, body)
        return message.id
