"""``publish_many``: many events of one name in one statement, delivered like ``publish``'s (the
deliveries of a big commit are enqueued through a Redis pipeline)."""

from __future__ import annotations

from app.events import publish, publish_many
from app.events import services as event_services
from tenants.db import db
from tests.events.test_outbox import record_delivery  # noqa: F401  (registers test.outbox.recorded)


def test_many_events_commit_together_and_are_each_delivered_once(
    app, acme, in_tenant, events_queue, run_jobs, seen, outbox
):
    assert event_services.BATCH_ENQUEUE_FROM <= 30
    with in_tenant(acme):
        assert publish_many("test.outbox.recorded", [{"n": n} for n in range(30)]) == 30
        publish("test.outbox.recorded", {"n": 30})  # mixed with a single publish
        assert events_queue.count == 0  # nothing leaves before the commit
        db.session.commit()
    rows = outbox(acme)
    assert [r.name for r in rows] == ["test.outbox.recorded"] * 31
    jobs = events_queue.get_jobs()
    assert sorted(tuple(job.args) for job in jobs) == [(acme.id, r.id) for r in rows]
    assert all(isinstance(job.retry_intervals, list) and job.retries_left for job in jobs)  # retried like one
    run_jobs()
    assert sorted(entry["payload"]["n"] for entry in seen(acme, "recorded")) == list(range(31))
    assert {r.status for r in outbox(acme)} == {"dispatched"}


def test_rolled_back_events_leave_no_row_and_no_job(acme, in_tenant, events_queue, outbox):
    with in_tenant(acme):
        publish_many("test.outbox.recorded", [{"n": n} for n in range(25)])
        db.session.rollback()
        db.session.commit()
        assert publish_many("test.outbox.recorded", []) == 0
    assert outbox(acme) == [] and events_queue.count == 0


def test_a_failed_batch_enqueue_is_left_to_the_relay(app, acme, in_tenant, events_queue, outbox, monkeypatch):
    def broken(pending):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(event_services, "enqueue_deliveries", broken)
    with in_tenant(acme):
        publish_many("test.outbox.recorded", [{"n": n} for n in range(25)])
        db.session.commit()  # the commit stands; the rows wait for the relay
    assert len(outbox(acme)) == 25 and {r.status for r in outbox(acme)} == {"pending"}
    assert events_queue.count == 0
