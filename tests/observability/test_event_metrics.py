"""Metrics of the event system: events committed, delivered (lag, outcome), RQ jobs, the relay,
and the scrape-time values (outbox backlog, queue depths, workers), read from ``/metrics``."""

from __future__ import annotations

import socket
import threading
import urllib.request

import pytest
import redis
import sqlalchemy as sa
from rq import Queue

from app.events import handles, publish, publish_many
from app.events import services as event_services
from app.events.cli import _serve_metrics
from app.events.models import OutboxEvent
from app.events.tasks import deliver_event, relay_outbox
from app.events.worker import Worker
from app.extensions import redis_store
from tenants.db import db
from tests.observability.sampling import Scrape, scrape

PUBLISHED = "gigforge_events_published_total"
HANDLED = "gigforge_events_handled_total"
LAG_COUNT = "gigforge_event_lag_seconds_count"
JOBS = "gigforge_jobs_total"
JOB_DURATION_COUNT = "gigforge_job_duration_seconds_count"


@handles("test.metrics.delivered")
def delivered(event):
    pass


@handles("test.metrics.failing")
def always_fails(event):
    raise RuntimeError("downstream is down")


def quick_job():
    return "done"


def failing_job():
    raise ValueError("nope")


@pytest.fixture
def fresh_backlog(app, monkeypatch):
    """The outbox backlog counted at every scrape (no cache) for the test."""
    monkeypatch.setitem(app.config, "METRICS_SCRAPE_CACHE_SECONDS", 0)


@pytest.fixture
def heard():
    """What a listener registered with ``register_commit_listener`` hears during the test."""
    events: list[tuple[str, dict]] = []

    def listener(committed):
        events.extend(committed)

    event_services.register_commit_listener(listener)
    yield events
    event_services._commit_listeners.remove(listener)


def _statuses(in_tenant, tenant) -> list[tuple[int, str]]:
    with in_tenant(tenant):
        return db.session.execute(
            sa.select(OutboxEvent.id, OutboxEvent.status).order_by(OutboxEvent.id)
        ).all()


def _publish(in_tenant, tenant, name, payload=None) -> int:
    with in_tenant(tenant):
        event_id = publish(name, payload).id
        db.session.commit()
    return event_id


# --- events committed -----------------------------------------------------------------------------


def test_committed_events_are_counted_by_name(acme, in_tenant, platform_client):
    before = scrape(platform_client)
    _publish(in_tenant, acme, "test.metrics.delivered")
    with in_tenant(acme):
        publish_many("test.metrics.batch", [{"n": n} for n in range(3)])
        db.session.commit()
    after = scrape(platform_client)
    assert after.delta(before, PUBLISHED, event="test.metrics.delivered") == 1
    assert after.delta(before, PUBLISHED, event="test.metrics.batch") == 3


def test_rolled_back_events_are_not_counted(acme, in_tenant, platform_client):
    before = scrape(platform_client)
    with in_tenant(acme):
        publish("test.metrics.rolled-back")
        publish_many("test.metrics.rolled-back", [{}, {}])
        db.session.rollback()
        db.session.commit()  # a later commit of the same session does not count them
    after = scrape(platform_client)
    assert after.delta(before, PUBLISHED, event="test.metrics.rolled-back") == 0


def test_savepoints_count_only_what_the_transaction_commits(acme, in_tenant, platform_client):
    before = scrape(platform_client)
    with in_tenant(acme):
        publish("test.metrics.outer")
        with db.session.begin_nested():  # released: counted with the outer commit, once
            publish("test.metrics.released")
        nested = db.session.begin_nested()
        publish_many("test.metrics.undone", [{}, {}])
        nested.rollback()  # its events are gone, the outer ones stay
        after_release = scrape(platform_client)
        db.session.commit()
    after = scrape(platform_client)
    assert after_release.delta(before, PUBLISHED, event="test.metrics.released") == 0
    assert after.delta(before, PUBLISHED, event="test.metrics.outer") == 1
    assert after.delta(before, PUBLISHED, event="test.metrics.released") == 1
    assert after.delta(before, PUBLISHED, event="test.metrics.undone") == 0


def test_commit_listener_hears_committed_events_only(acme, in_tenant, heard):
    with in_tenant(acme):
        publish("test.metrics.kept", {"order_id": 1})
        with db.session.begin_nested():
            publish("test.metrics.released", {"order_id": 2})
        nested = db.session.begin_nested()
        publish("test.metrics.undone", {"order_id": 3})
        nested.rollback()
        assert heard == []  # nothing before the commit
        db.session.commit()
        publish_many("test.metrics.many", [{"order_id": 4}, {"order_id": 5}])
        db.session.commit()
        publish("test.metrics.rolled-back", {"order_id": 6})
        db.session.rollback()
    assert heard == [
        ("test.metrics.kept", {"order_id": 1}),
        ("test.metrics.released", {"order_id": 2}),
        ("test.metrics.many", {"order_id": 4}),
        ("test.metrics.many", {"order_id": 5}),
    ]


def test_a_failing_commit_listener_leaves_the_delivery_alone(acme, in_tenant, heard, run_jobs):
    def broken(_committed):
        raise RuntimeError("listener bug")

    event_services.register_commit_listener(broken)
    try:
        event_id = _publish(in_tenant, acme, "test.metrics.delivered")
    finally:
        event_services._commit_listeners.remove(broken)
    assert heard == [("test.metrics.delivered", {})]
    run_jobs()
    assert _statuses(in_tenant, acme) == [(event_id, "dispatched")]


# --- delivery, jobs, relay ------------------------------------------------------------------------


def test_delivery_records_lag_outcome_and_job(app, acme, in_tenant, run_jobs, platform_client):
    before = scrape(platform_client)
    event_id = _publish(in_tenant, acme, "test.metrics.delivered")
    run_jobs()
    after = scrape(platform_client)
    assert after.delta(before, LAG_COUNT) == 1
    assert after.delta(before, HANDLED, event="test.metrics.delivered", outcome="dispatched") == 1
    assert after.delta(before, HANDLED, event="test.metrics.delivered", outcome="failed") == 0
    assert after.delta(before, JOBS, queue="events", outcome="success") == 1
    assert after.delta(before, JOB_DURATION_COUNT, queue="events") == 1

    # Delivered again (a duplicate job): "already dispatched" records nothing.
    with app.app_context():
        assert deliver_event(acme.id, event_id) == "already dispatched"
    again = scrape(platform_client)
    assert again.delta(after, LAG_COUNT) == 0
    assert again.delta(after, HANDLED, event="test.metrics.delivered", outcome="dispatched") == 0


def test_lag_is_measured_from_the_commit(app, acme, in_tenant, platform_client):
    event_id = _publish(in_tenant, acme, "test.metrics.delivered")
    with in_tenant(acme):  # published 42 s ago, as if the worker had been busy
        db.session.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.id == event_id)
            .values(created_at=sa.func.now() - sa.text("interval '42 seconds'"))
        )
        db.session.commit()
    before = scrape(platform_client)
    with app.app_context():
        assert deliver_event(acme.id, event_id) == "dispatched"
    after = scrape(platform_client)
    assert after.delta(before, LAG_COUNT) == 1
    assert after.delta(before, "gigforge_event_lag_seconds_sum") >= 42
    assert after.delta(before, "gigforge_event_lag_seconds_bucket", le="30.0") == 0
    assert after.delta(before, "gigforge_event_lag_seconds_bucket", le="60.0") == 1


def test_failing_handler_counts_failed_deliveries_and_retried_jobs(
    app, acme, in_tenant, run_jobs, platform_client
):
    retries = len(app.config["EVENT_RETRY_INTERVALS"])  # all 0 s in tests: retried in the same run
    before = scrape(platform_client)
    event_id = _publish(in_tenant, acme, "test.metrics.failing")
    run_jobs()
    after = scrape(platform_client)
    assert _statuses(in_tenant, acme) == [(event_id, "failed")]
    assert after.delta(before, HANDLED, event="test.metrics.failing", outcome="failed") == retries + 1
    assert after.delta(before, HANDLED, event="test.metrics.failing", outcome="dispatched") == 0
    assert after.delta(before, JOBS, queue="events", outcome="retry") == retries
    assert after.delta(before, JOBS, queue="events", outcome="failure") == 1
    assert after.delta(before, JOBS, queue="events", outcome="success") == 0
    assert after.delta(before, JOB_DURATION_COUNT, queue="events") == retries + 1
    # Only the first attempt measured the lag; the retries' wait is their backoff.
    assert after.delta(before, LAG_COUNT) == 1
    assert after.value("gigforge_rq_queue_jobs", queue="events", state="failed") == 1


def test_jobs_are_counted_per_queue(app, run_jobs, platform_client):
    before = scrape(platform_client)
    with app.app_context():
        queue = Queue("default", connection=redis_store.client)
        queue.enqueue(quick_job)
        queue.enqueue(quick_job)
        queue.enqueue(failing_job)
    run_jobs()
    after = scrape(platform_client)
    assert after.delta(before, JOBS, queue="default", outcome="success") == 2
    assert after.delta(before, JOBS, queue="default", outcome="failure") == 1
    assert after.delta(before, JOBS, queue="default", outcome="retry") == 0
    assert after.delta(before, JOBS, queue="events", outcome="success") == 0
    assert after.delta(before, JOB_DURATION_COUNT, queue="default") == 3


def test_relay_redeliveries_are_counted(app, acme, in_tenant, monkeypatch, platform_client):
    def redis_down(*_args):
        raise redis.ConnectionError("redis is down")

    with monkeypatch.context() as patch:  # the delivery's enqueue is lost
        patch.setattr(event_services, "enqueue_delivery", redis_down)
        event_id = _publish(in_tenant, acme, "test.metrics.delivered")
    with in_tenant(acme):  # its grace has passed
        db.session.execute(
            sa.update(OutboxEvent).where(OutboxEvent.id == event_id).values(next_attempt_at=sa.func.now())
        )
        db.session.commit()
    before = scrape(platform_client)
    with app.app_context():
        assert relay_outbox() == 1
    after = scrape(platform_client)
    assert after.delta(before, "gigforge_outbox_relay_redeliveries_total") == 1


# --- scrape time -----------------------------------------------------------------------------------


def test_outbox_backlog_sums_every_tenant_and_drops_after_delivery(
    acme, globex, in_tenant, run_jobs, platform_client, fresh_backlog
):
    before = scrape(platform_client)
    _publish(in_tenant, acme, "test.metrics.delivered")
    _publish(in_tenant, globex, "test.metrics.delivered")
    pending = scrape(platform_client)
    assert pending.delta(before, "gigforge_outbox_pending_events") == 2
    assert pending.has("gigforge_outbox_oldest_pending_age_seconds")
    run_jobs()
    delivered = scrape(platform_client)
    assert delivered.value("gigforge_outbox_pending_events", default=-1) == 0
    assert delivered.value("gigforge_outbox_oldest_pending_age_seconds", default=-1) == 0


def test_oldest_pending_age(acme, globex, in_tenant, platform_client, fresh_backlog):
    _publish(in_tenant, acme, "test.metrics.delivered")
    old_id = _publish(in_tenant, globex, "test.metrics.delivered")
    with in_tenant(globex):
        db.session.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.id == old_id)
            .values(created_at=sa.func.now() - sa.text("interval '1 hour'"))
        )
        db.session.commit()
    age = scrape(platform_client).value("gigforge_outbox_oldest_pending_age_seconds")
    assert 3600 <= age < 3600 + 60


def test_queue_gauges_show_waiting_jobs_per_queue(app, acme, in_tenant, platform_client):
    before = scrape(platform_client)
    for state in ("queued", "started", "scheduled", "deferred", "failed"):
        for queue in ("events", "default", "webhooks"):
            assert before.has("gigforge_rq_queue_jobs", queue=queue, state=state)
    _publish(in_tenant, acme, "test.metrics.delivered")
    _publish(in_tenant, acme, "test.metrics.delivered")
    with app.app_context():
        Queue("default", connection=redis_store.client).enqueue(quick_job)
    after = scrape(platform_client)
    assert after.delta(before, "gigforge_rq_queue_jobs", queue="events", state="queued") == 2
    assert after.delta(before, "gigforge_rq_queue_jobs", queue="default", state="queued") == 1


def test_worker_gauges(app, platform_client):
    idle = scrape(platform_client)
    assert idle.value("gigforge_rq_workers", default=-1) == 0
    assert not idle.has("gigforge_rq_worker_heartbeat_age_seconds")  # alert on its absence

    with app.app_context():
        worker = Worker(["events", "default"], connection=redis_store.client, stop=threading.Event())
        worker.register_birth()
        worker.heartbeat()
    try:
        working = scrape(platform_client)
    finally:
        with app.app_context():
            worker.register_death()
    assert working.value("gigforge_rq_workers") == 1
    assert 0 <= working.value("gigforge_rq_worker_heartbeat_age_seconds", default=-1) < 60


def test_redis_down_still_answers_with_the_database_values(app, platform_client, monkeypatch, fresh_backlog):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setitem(
        app.extensions, "redis", redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    )
    response = platform_client.get("/metrics")
    assert response.status_code == 200
    text = Scrape(response.get_data(as_text=True))
    assert text.has("gigforge_outbox_pending_events")  # PostgreSQL answered
    assert "gigforge_rq_queue_jobs" not in text.text  # Redis did not: left out, nothing broke
    assert "gigforge_rq_workers" not in text.text


def test_worker_serves_its_own_metrics_when_given_a_port(app, acme, in_tenant, run_jobs, monkeypatch):
    _publish(in_tenant, acme, "test.metrics.delivered")
    run_jobs()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setitem(app.config, "WORKER_METRICS_PORT", port)
    server = _serve_metrics(app)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = Scrape(response.read().decode())
    finally:
        server.shutdown()
    assert text.value(JOBS, queue="events", outcome="success") >= 1
    monkeypatch.setitem(app.config, "WORKER_METRICS_PORT", 0)
    assert _serve_metrics(app) is None
