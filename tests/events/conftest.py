"""Helpers for the event tests: the real RQ queue, outbox rows and what handlers recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from rq import Queue
from rq.registry import FailedJobRegistry

from app.events.models import OutboxEvent
from tenants.db import TenantRef, db


@pytest.fixture
def seen(app):
    """``seen(acme, "label")`` -> the entries handlers recorded for that tenant."""

    def read(tenant: TenantRef, label: str) -> list[dict]:
        raw = app.extensions["redis"].lrange(f"t:{tenant.id}:test:{label}", 0, -1)
        return [json.loads(item) for item in raw]

    return read


@pytest.fixture
def events_queue(app) -> Queue:
    return Queue(app.config["EVENT_QUEUE"], connection=app.extensions["redis"])


@pytest.fixture
def failed_registry(events_queue) -> FailedJobRegistry:
    return FailedJobRegistry(queue=events_queue)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    name: str
    status: str
    attempts: int
    last_error: str | None


@pytest.fixture
def outbox(in_tenant):
    """``outbox(acme)`` -> the tenant's outbox rows, read fresh, ordered by id."""

    def rows(tenant: TenantRef) -> list[OutboxRow]:
        with in_tenant(tenant):
            return [
                OutboxRow(e.id, e.name, e.status, e.attempts, e.last_error)
                for e in db.session.query(OutboxEvent).order_by(OutboxEvent.id)
            ]

    return rows
