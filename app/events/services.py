"""Publishing events and enqueueing their delivery after commit."""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import JSONB

from app.core import metrics
from app.core.after_commit import in_savepoint, register_transaction_list
from app.events.models import OutboxEvent
from app.extensions import get_queue
from tenants.db import TenantSession, current_tenant, db

log = logging.getLogger(__name__)

_PENDING_KEY = "gigforge_outbox_pending"  # (tenant_id, event_id): deliveries to enqueue
_COMMITTED_KEY = "gigforge_outbox_committed"  # (name, payload), in step with _PENDING_KEY
# A rolled-back savepoint drops its own events only, from both lists.
register_transaction_list(_PENDING_KEY)
register_transaction_list(_COMMITTED_KEY)

_commit_listeners: list[Callable[[list[tuple[str, dict]]], None]] = []


def register_commit_listener(fn: Callable[[list[tuple[str, dict]]], None]) -> None:
    """Call ``fn(events)`` after each commit that published events, with their ``(name, payload)``
    in publishing order (never for a rolled-back transaction or savepoint, nor on a savepoint's
    release). It runs in the committing process after the commit, outside any transaction; an
    exception it raises is logged and ignored. Business metrics count orders and GMV this way."""
    if fn not in _commit_listeners:
        _commit_listeners.append(fn)


def publish(name: str, payload: dict | None = None) -> OutboxEvent:
    """Record event ``name`` in the outbox of the bound tenant, in the current transaction.

    The payload must be JSON-serialisable and should carry IDs, not objects.
    Raises TenantNotBound when no tenant is bound.
    """
    tenant = current_tenant()
    grace = current_app.config["OUTBOX_RELAY_GRACE_SECONDS"]
    event = OutboxEvent(name=name, payload=payload or {}, status="pending")
    event.next_attempt_at = db.func.now() + timedelta(seconds=grace)
    db.session.add(event)
    db.session.flush()
    _track(tenant.id, [(event.id, name, event.payload)])
    return event


def _track(tenant_id: int, events: list[tuple[int, str, dict]]) -> None:
    """Remember events ``(id, name, payload)`` written in this transaction: their delivery is
    enqueued after the commit, and the commit listeners are told of them."""
    db.session.info.setdefault(_PENDING_KEY, []).extend((tenant_id, event_id) for event_id, _, _ in events)
    db.session.info.setdefault(_COMMITTED_KEY, []).extend((name, payload) for _, name, payload in events)


def publish_with_row(
    row: sa.Insert, name: str, payload: dict, id_key: str, params: dict | None = None
) -> int:
    """``publish`` of an event about a row inserted by ``row``, in the same statement: ``row`` is
    an ``INSERT ... RETURNING id`` into a table of the bound tenant, built once with bind
    parameters (``params`` holds their values this time: the statement and its cache key are
    made once per ``row``); the new row's id goes into the payload as ``id_key`` (an order's
    timeline row and its ``order.<kind>`` event are one round trip instead of two flushes).
    Returns that id. Same transaction and delivery as ``publish``; the session is flushed
    first, so the row sees the unit of work's changes. Raises TenantNotBound."""
    tenant = current_tenant()
    grace = current_app.config["OUTBOX_RELAY_GRACE_SECONDS"]
    db.session.flush()
    event_id, stored = db.session.execute(
        _with_row_statement(row, id_key),
        {
            **(params or {}),
            "event_name": name,
            "event_payload": payload,
            "event_grace": timedelta(seconds=grace),
        },
    ).one()
    _track(tenant.id, [(event_id, name, stored)])
    return stored[id_key]


@functools.lru_cache(maxsize=32)
def _with_row_statement(row: sa.Insert, id_key: str) -> sa.Insert:
    """``WITH inserted_row AS (<row>) INSERT INTO outbox_events ... FROM inserted_row
    RETURNING id, payload``, the event's name, payload and relay grace as parameters
    (``event_name``, ``event_payload``, ``event_grace``)."""
    inserted = row.cte("inserted_row")
    table = OutboxEvent.__table__
    full_payload = sa.bindparam("event_payload", type_=JSONB).op("||", return_type=JSONB)(
        sa.func.jsonb_build_object(sa.literal(id_key), inserted.c.id)
    )
    return (
        sa.insert(table)
        .from_select(
            ["name", "payload", "status", "attempts", "next_attempt_at"],
            sa.select(
                sa.bindparam("event_name", type_=table.c.name.type),
                full_payload,
                sa.literal("pending", table.c.status.type),
                sa.literal(0, table.c.attempts.type),
                sa.func.now() + sa.bindparam("event_grace", type_=sa.Interval),
            ),
            include_defaults=False,
        )
        .returning(table.c.id, table.c.payload)
    )


def publish_many(name: str, payloads: list[dict]) -> int:
    """``publish`` for many events of one name at once, in one INSERT statement per batch instead
    of one flush per event (a daily job telling thousands of changes); returns how many.

    Same transaction and delivery as ``publish``: the rows commit or roll back with the change,
    and each event's delivery is enqueued after the commit. Raises TenantNotBound.
    """
    if not payloads:
        return 0
    tenant = current_tenant()
    grace = current_app.config["OUTBOX_RELAY_GRACE_SECONDS"]
    table = OutboxEvent.__table__
    statement = (
        sa.insert(table)
        .values(next_attempt_at=sa.func.now() + timedelta(seconds=grace))
        .returning(table.c.id, sort_by_parameter_order=True)
    )
    ids = db.session.execute(
        statement, [{"name": name, "payload": payload or {}, "status": "pending"} for payload in payloads]
    ).scalars()
    _track(
        tenant.id, [(event_id, name, payload or {}) for event_id, payload in zip(ids, payloads, strict=True)]
    )
    return len(payloads)


def publish_in_seed(session, name: str, payload: dict | None = None) -> None:
    """Record event ``name`` in a new tenant's outbox through ``session``, the seeding session of
    its creation (``tenant_seed`` receivers): it commits with the tenant, or nothing does.

    That session is not ``db.session``, so no delivery is enqueued after its commit: the event is
    due for the relay at once. The web's and the worker's app hand it over with
    ``relay_tenant`` (the ``tenant_created`` receivers); a tenant command, or a hand-over that
    cannot reach Redis, leaves it to the worker's relay, which enqueues it on its next pass
    (``OUTBOX_RELAY_INTERVAL_SECONDS``)."""
    session.add(
        OutboxEvent(name=name, payload=payload or {}, status="pending", next_attempt_at=sa.func.now())
    )


def relay_tenant(tenant_id: int, schema: str, limit: int = 500) -> int:
    """Enqueue the delivery of the tenant's pending events that are due (``next_attempt_at``
    passed), at most ``limit``; returns how many. Claims them first by pushing their
    ``next_attempt_at`` one relay grace forward (its own transaction), so two relays never
    enqueue one row twice; an enqueue lost after the claim is retried once the grace passes.
    Raises what Redis raises."""
    grace = int(current_app.config["OUTBOX_RELAY_GRACE_SECONDS"])
    with db.engine.begin() as conn:
        ids = (
            conn.exec_driver_sql(
                f'UPDATE "{schema}".outbox_events '
                f"SET next_attempt_at = now() + interval '{grace} seconds' "
                f'WHERE id IN (SELECT id FROM "{schema}".outbox_events '
                "WHERE status = 'pending' AND next_attempt_at <= now() ORDER BY id "
                f"LIMIT {int(limit)} FOR UPDATE SKIP LOCKED) RETURNING id"
            )
            .scalars()
            .all()
        )
    for event_id in sorted(ids):
        enqueue_delivery(tenant_id, event_id)
    return len(ids)


BATCH_ENQUEUE_FROM = 20  # events committed at once: enqueued through one Redis pipeline per batch
BATCH_ENQUEUE_SIZE = 500


def _delivery_options(tenant_id: int, event_id: int) -> dict:
    from rq import Retry  # RQ on first use: a tenant command that queues nothing never imports it

    intervals = current_app.config["EVENT_RETRY_INTERVALS"]
    return {
        "retry": Retry(max=len(intervals), interval=intervals),
        "job_timeout": 300,
        "description": f"deliver event {event_id} of tenant {tenant_id}",
    }


def enqueue_deliveries(pending: list[tuple[int, int]]) -> None:
    """``enqueue_delivery`` for many events, a Redis pipeline per batch (one round trip instead of
    several per event). Raises what Redis raises; the caller leaves the rest to the relay."""
    from rq import Queue

    from app.events.tasks import deliver_event

    queue = get_queue()
    for start in range(0, len(pending), BATCH_ENQUEUE_SIZE):
        datas = []
        for tenant_id, event_id in pending[start : start + BATCH_ENQUEUE_SIZE]:
            options = _delivery_options(tenant_id, event_id)
            datas.append(
                Queue.prepare_data(
                    deliver_event,
                    args=(tenant_id, event_id),
                    timeout=options["job_timeout"],
                    retry=options["retry"],
                    description=options["description"],
                )
            )
        with queue.connection.pipeline() as pipe:
            queue.enqueue_many(datas, pipeline=pipe)
            pipe.execute()


def enqueue_delivery(tenant_id: int, event_id: int) -> None:
    """Put ``deliver_event`` for one event on the events queue (with retries). Through
    ``enqueue_deliveries``' pipeline when the queue is asynchronous: a chat message's one
    event is the hottest commit there is, and the pipeline is cheaper than RQ's own enqueue."""
    if current_app.config["RQ_ASYNC"]:
        enqueue_deliveries([(tenant_id, event_id)])
        return
    from app.events.tasks import deliver_event

    get_queue().enqueue(deliver_event, tenant_id, event_id, **_delivery_options(tenant_id, event_id))


@sa_event.listens_for(TenantSession, "after_commit")
def _enqueue_after_commit(session):
    if in_savepoint(session):
        return  # a savepoint was released, not the transaction committed
    committed = session.info.pop(_COMMITTED_KEY, None)
    if committed:
        _count_committed(committed)
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    if len(pending) >= BATCH_ENQUEUE_FROM and current_app.config["RQ_ASYNC"]:
        try:
            enqueue_deliveries(pending)
        except Exception:  # the relay will pick the rows up
            log.exception("could not enqueue %s events; left to the relay", len(pending))
        return
    for tenant_id, event_id in pending:
        try:
            enqueue_delivery(tenant_id, event_id)
        except Exception:  # the relay will pick the row up
            log.exception("could not enqueue event %s of tenant %s; left to the relay", event_id, tenant_id)


def _count_committed(committed: list[tuple[str, dict]]) -> None:
    for name, n in Counter(name for name, _payload in committed).items():
        metrics.events_published.labels(name).inc(n)
    for listener in _commit_listeners:
        try:
            listener(committed)
        except Exception:
            log.exception("commit listener %r failed", listener)


@sa_event.listens_for(TenantSession, "after_rollback")
def _forget_after_rollback(session):
    if not in_savepoint(session):  # a savepoint's own events are dropped by app.core.after_commit
        session.info.pop(_PENDING_KEY, None)
        session.info.pop(_COMMITTED_KEY, None)
