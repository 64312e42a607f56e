"""Domain events through a transactional outbox, delivered by RQ.

Publishing (``publish``) adds an ``OutboxEvent`` row to the current session:
it commits or rolls back with the change it describes. After the commit the
session enqueues ``deliver_event(tenant_id, event_id)``; if that enqueue is
lost (crash, Redis down) the relay (``relay_outbox``) finds the pending row
and enqueues it again. Handlers are registered with ``@handles(name)`` in each
domain's ``events.py`` and run once per event (``ProcessedEvent``).
"""

from app.events.registry import handles
from app.events.services import publish, publish_many, publish_with_row

__all__ = ["handles", "publish", "publish_many", "publish_with_row"]
