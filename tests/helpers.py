"""Waiting in tests without depending on the clock.

Tests never sleep to let something happen. A service that schedules or expires
takes ``now`` (or the test moves the module's clock); "nothing more arrived" is
proven by sending a later, known event through the same path and waiting for
*it* (see ``mail_settled`` in tests/conftest.py and the socket tests). Where a
real thread, process or server does the work, ``wait_until`` polls for the
condition the test needs: its timeout only bounds a failure, and no assertion
depends on how long the wait took. This module is the only place in the tests
that sleeps, in small steps, between two looks at a condition.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest
import sqlalchemy as sa

T = TypeVar("T")

POLL_STEP = 0.01


def wait_until(
    condition: Callable[[], T], timeout: float = 10.0, *, message: str | Callable[[], str] | None = None
) -> T:
    """Call ``condition()`` until it returns something truthy, and return that.

    Fails the test when ``timeout`` seconds pass first, with ``message`` (or what
    ``message()`` says then: e.g. a process's log). For conditions that a real
    thread, process or server makes true; not a way to let time pass.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            name = getattr(condition, "__name__", condition)
            if callable(message):
                message = message()
            pytest.fail(message or f"{name} not true within {timeout}s")
        time.sleep(POLL_STEP)


def backends_waiting_for_a_lock(app) -> int:
    """How many sessions of the test database are waiting for a lock (a row, a transaction) now."""
    from tenants.db import db

    with app.app_context(), db.engine.connect() as conn:
        return conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
