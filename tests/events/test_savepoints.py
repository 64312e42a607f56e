"""Savepoints (``begin_nested``) are not commits: after-commit work waits for the real commit,
and a savepoint that rolls back takes only its own events and callbacks with it."""

from __future__ import annotations

from app.core.after_commit import on_commit
from app.events.services import publish
from tenants.db import db


def test_events_are_enqueued_at_the_commit_not_when_a_savepoint_is_released(acme, in_tenant, events_queue):
    with in_tenant(acme):
        publish("test.savepoint.before")
        with db.session.begin_nested():  # what every ledger posting does
            publish("test.savepoint.inside")
        assert events_queue.count == 0
        db.session.commit()
    assert events_queue.count == 2


def test_a_rolled_back_savepoint_drops_only_its_own_events(acme, in_tenant, events_queue, outbox):
    with in_tenant(acme):
        kept = publish("test.savepoint.kept").id
        savepoint = db.session.begin_nested()
        publish("test.savepoint.undone")
        savepoint.rollback()
        db.session.commit()
    assert events_queue.count == 1
    assert [job.args for job in events_queue.jobs] == [(acme.id, kept)]
    assert [row.name for row in outbox(acme)] == ["test.savepoint.kept"]


def test_after_commit_callbacks_wait_for_the_commit_and_skip_rolled_back_savepoints(acme, in_tenant):
    ran = []
    with in_tenant(acme):
        db.session.execute(db.text("SELECT 1"))
        on_commit(ran.append, "before")
        with db.session.begin_nested():
            on_commit(ran.append, "released savepoint")
        savepoint = db.session.begin_nested()
        on_commit(ran.append, "rolled-back savepoint")
        savepoint.rollback()
        assert ran == []
        db.session.commit()
    assert ran == ["before", "released savepoint"]


def test_a_rollback_of_the_transaction_drops_everything(acme, in_tenant, events_queue):
    ran = []
    with in_tenant(acme):
        publish("test.savepoint.rolled_back")
        on_commit(ran.append, "never")
        with db.session.begin_nested():
            on_commit(ran.append, "never either")
        db.session.rollback()
        db.session.commit()
    assert ran == [] and events_queue.count == 0
