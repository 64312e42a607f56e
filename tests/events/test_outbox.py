"""The transactional outbox: publish, deliver after commit, retry, relay, fail visibly.

Everything runs against the real PostgreSQL and Redis: jobs go on the real
"events" queue and ``run_jobs()`` executes them with an RQ worker.
"""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import sqlalchemy as sa

from app.events import handles, publish
from app.events import services as event_services
from app.events.models import OutboxEvent, ProcessedEvent
from app.events.services import enqueue_delivery
from app.events.tasks import deliver_event, relay_outbox
from app.extensions import redis_store
from app.gigs.models import Category
from tenants import provisioning
from tenants.db import current_tenant, db
from tenants.resolver import get_tenant_by_slug

# --- test-only handlers (event names start with "test.") --------------------


def record(label: str, event, **extra) -> None:
    """Append what a handler saw to a Redis list of the bound tenant (read by ``seen``)."""
    tenant = current_tenant()
    entry = {"tenant": tenant.slug, "event_id": event.id, "payload": event.payload, **extra}
    redis_store.client.rpush(f"t:{tenant.id}:test:{label}", json.dumps(entry))


@handles("test.outbox.recorded")
def record_delivery(event):
    record("recorded", event, bound=current_tenant().slug)


@handles("test.outbox.counted")
def count_delivery(event):
    redis_store.client.incr(f"t:{current_tenant().id}:test:counted:{event.id}")


_concurrent_barrier = threading.Barrier(2, timeout=10)


@handles("test.outbox.concurrent")
def create_category_while_another_delivery_runs(event):
    db.session.add(Category(name="From a concurrent delivery", slug=f"concurrent-{uuid.uuid4().hex[:8]}"))
    db.session.flush()
    _concurrent_barrier.wait()  # both deliveries are inside the handler, neither committed


@handles("test.outbox.pair")
def pair_first(event):
    redis_store.client.incr(f"t:{current_tenant().id}:test:pair-first")


@handles("test.outbox.pair")
def pair_second_fails_once(event):
    if redis_store.client.incr(f"t:{current_tenant().id}:test:pair-second") == 1:
        raise RuntimeError("flaky downstream")


@handles("test.outbox.poison")
def poison(event):
    if not redis_store.client.exists(f"t:{current_tenant().id}:test:cured"):
        raise ValueError("poison pill")


@handles("test.outbox.duplicate-slug")
def create_category_with_taken_slug(event):
    db.session.add(Category(name="Clash", slug=event.payload["slug"]))
    db.session.flush()


# --- helpers ------------------------------------------------------------------


def _publish_committed(in_tenant, tenant, name, payload=None) -> int:
    with in_tenant(tenant):
        event_id = publish(name, payload).id
        db.session.commit()
    return event_id


def _publish_with_lost_enqueue(in_tenant, tenant, name, monkeypatch, payload=None) -> int:
    """Publish and commit while Redis refuses the enqueue (a crash right after commit)."""

    def redis_down(*_args):
        raise ConnectionError("redis is down")

    with monkeypatch.context() as patch:
        patch.setattr(event_services, "enqueue_delivery", redis_down)
        return _publish_committed(in_tenant, tenant, name, payload)


def _job_args(queue) -> list[tuple]:
    return [tuple(job.args) for job in queue.get_jobs()]


# --- publishing -----------------------------------------------------------------


def test_committed_event_is_delivered_with_its_tenant_bound(
    app, acme, in_tenant, events_queue, run_jobs, seen, outbox
):
    with in_tenant(acme):
        event_id = publish("test.outbox.recorded", {"order_id": 7}).id
        assert events_queue.count == 0  # nothing leaves before the commit
        db.session.commit()

    assert _job_args(events_queue) == [(acme.id, event_id)]
    run_jobs()

    assert seen(acme, "recorded") == [
        {"tenant": "acme", "bound": "acme", "event_id": event_id, "payload": {"order_id": 7}}
    ]
    assert [(r.id, r.status, r.attempts) for r in outbox(acme)] == [(event_id, "dispatched", 1)]


def test_rolled_back_event_leaves_no_row_and_no_job(acme, in_tenant, events_queue, outbox):
    with in_tenant(acme):
        publish("test.outbox.recorded")
        db.session.rollback()
        db.session.commit()  # a later commit in the same session must not enqueue the dead event

    assert outbox(acme) == []
    assert events_queue.count == 0


def test_outbox_row_commits_with_the_business_change(acme, in_tenant, events_queue, outbox):
    with in_tenant(acme):
        db.session.add(Category(name="Robotics", slug="robotics"))
        publish("test.outbox.recorded", {"slug": "robotics"})
        db.session.commit()
    with in_tenant(acme):
        assert db.session.scalar(sa.select(Category.name).where(Category.slug == "robotics")) == "Robotics"
    assert [r.name for r in outbox(acme)] == ["test.outbox.recorded"]


def test_outbox_row_rolls_back_with_a_failed_business_change(acme, in_tenant, events_queue, outbox):
    with in_tenant(acme):
        taken = db.session.scalar(sa.select(Category.slug).limit(1))
        publish("test.outbox.recorded", {"slug": taken})
        db.session.add(Category(name="Duplicate", slug=taken))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()

    assert outbox(acme) == []
    assert events_queue.count == 0


# --- idempotent delivery --------------------------------------------------------


def test_event_delivered_twice_runs_its_handler_once(app, acme, in_tenant, events_queue, run_jobs):
    event_id = _publish_committed(in_tenant, acme, "test.outbox.counted")
    with app.app_context():
        enqueue_delivery(acme.id, event_id)  # a second, duplicate job
    assert events_queue.count == 2
    run_jobs()
    with app.app_context():
        assert deliver_event(acme.id, event_id) == "already dispatched"
        assert deliver_event(acme.id, event_id) == "already dispatched"

    assert app.extensions["redis"].get(f"t:{acme.id}:test:counted:{event_id}") == b"1"


def test_concurrent_deliveries_apply_the_handler_once(app, acme, in_tenant, outbox):
    event_id = _publish_committed(in_tenant, acme, "test.outbox.concurrent")
    _concurrent_barrier.reset()
    results, errors = [], []

    def deliver():
        try:
            with app.app_context():
                results.append(deliver_event(acme.id, event_id))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)

    assert errors == []
    assert results == ["dispatched", "dispatched"]
    with in_tenant(acme):
        created = db.session.scalars(sa.select(Category.slug).where(Category.slug.like("concurrent-%"))).all()
        processed = db.session.scalars(sa.select(ProcessedEvent.handler)).all()
    assert len(created) == 1  # the loser's work was rolled back with its ProcessedEvent insert
    assert len(processed) == 1
    assert outbox(acme)[0].status == "dispatched"


def test_handler_that_succeeded_is_not_rerun_when_a_later_handler_is_retried(
    app, acme, in_tenant, run_jobs, failed_registry, outbox
):
    event_id = _publish_committed(in_tenant, acme, "test.outbox.pair")
    run_jobs()  # first attempt: pair_second fails; RQ retries the job at once (interval 0)

    redis = app.extensions["redis"]
    assert redis.get(f"t:{acme.id}:test:pair-first") == b"1"
    assert redis.get(f"t:{acme.id}:test:pair-second") == b"2"
    [row] = outbox(acme)
    assert (row.id, row.status, row.attempts) == (event_id, "dispatched", 2)
    assert "pair_second_fails_once: RuntimeError: flaky downstream" in row.last_error
    assert failed_registry.count == 0
    with in_tenant(acme):
        handlers = set(db.session.scalars(sa.select(ProcessedEvent.handler)))
    assert {h.rsplit(".", 1)[-1] for h in handlers} == {"pair_first", "pair_second_fails_once"}


def test_handler_integrity_error_is_a_failure_not_a_duplicate_delivery(app, acme, in_tenant, outbox):
    with in_tenant(acme):
        taken = db.session.scalar(sa.select(Category.slug).limit(1))
    event_id = _publish_committed(in_tenant, acme, "test.outbox.duplicate-slug", {"slug": taken})

    with app.app_context(), pytest.raises(sa.exc.IntegrityError):
        deliver_event(acme.id, event_id)  # no RQ job: this is the last attempt

    [row] = outbox(acme)
    assert row.status == "failed"
    assert "create_category_with_taken_slug: IntegrityError" in row.last_error


# --- the relay --------------------------------------------------------------------


def test_event_whose_enqueue_was_lost_is_delivered_by_the_relay(
    app, acme, in_tenant, events_queue, run_jobs, seen, outbox, monkeypatch
):
    event_id = _publish_with_lost_enqueue(in_tenant, acme, "test.outbox.recorded", monkeypatch)
    assert events_queue.count == 0
    assert [(r.id, r.status) for r in outbox(acme)] == [(event_id, "pending")]

    with app.app_context():
        assert relay_outbox() == 1
    assert _job_args(events_queue) == [(acme.id, event_id)]
    run_jobs()

    assert [e["event_id"] for e in seen(acme, "recorded")] == [event_id]
    assert outbox(acme)[0].status == "dispatched"
    with app.app_context():
        assert relay_outbox() == 0


def test_event_lost_before_commit_hook_is_delivered_by_the_relay(
    app, acme, in_tenant, events_queue, run_jobs, seen
):
    with in_tenant(acme):
        event_id = publish("test.outbox.recorded").id
        db.session.info.pop(event_services._PENDING_KEY)  # the process dies before the after-commit hook
        db.session.commit()
    assert events_queue.count == 0

    with app.app_context():
        assert relay_outbox() == 1
    run_jobs()
    assert [e["event_id"] for e in seen(acme, "recorded")] == [event_id]


def test_concurrent_relays_enqueue_each_lost_event_once(
    app, acme, globex, in_tenant, events_queue, monkeypatch
):
    lost = {
        (tenant.id, _publish_with_lost_enqueue(in_tenant, tenant, "test.outbox.counted", monkeypatch))
        for tenant in (acme, globex)
        for _ in range(15)
    }
    # The claim pushes next_attempt_at forward by the grace period; with the
    # test default of 0 a later relay may legitimately enqueue a row again.
    monkeypatch.setitem(app.config, "OUTBOX_RELAY_GRACE_SECONDS", 60)
    barrier = threading.Barrier(4, timeout=10)
    counts, errors = [], []

    def relay():
        try:
            with app.app_context():
                barrier.wait()
                counts.append(relay_outbox())
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=relay) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)

    assert errors == []
    assert sum(counts) == len(lost) == 30
    enqueued = _job_args(events_queue)
    assert len(enqueued) == 30 and set(enqueued) == lost
    with app.app_context():
        assert relay_outbox() == 0  # claimed rows are not due again within the grace period


# --- failures ----------------------------------------------------------------------


def test_poison_event_ends_failed_and_visible_then_retry_redelivers_it(
    app, acme, in_tenant, events_queue, failed_registry, run_jobs, outbox
):
    event_id = _publish_committed(in_tenant, acme, "test.outbox.poison")
    [job_id] = events_queue.get_job_ids()
    run_jobs()

    retries = len(app.config["EVENT_RETRY_INTERVALS"])
    assert failed_registry.get_job_ids() == [job_id]
    [row] = outbox(acme)
    assert (row.status, row.attempts) == ("failed", 1 + retries)
    assert "poison: ValueError: poison pill" in row.last_error
    with app.app_context():
        assert relay_outbox() == 0  # failed rows are left alone until an operator acts

    listed = app.test_cli_runner().invoke(args=["events", "list", "--tenant", "acme", "--status", "failed"])
    assert f"{event_id}" in listed.output and "poison pill" in listed.output

    app.extensions["redis"].set(f"t:{acme.id}:test:cured", 1)
    result = app.test_cli_runner().invoke(args=["events", "retry", "--tenant", "acme", str(event_id)])
    assert result.exit_code == 0, result.output
    assert outbox(acme)[0].status == "pending"
    assert _job_args(events_queue) == [(acme.id, event_id)]
    run_jobs()
    assert outbox(acme)[0].status == "dispatched"


def test_retry_of_unknown_event_is_a_clear_error(app):
    result = app.test_cli_runner().invoke(args=["events", "retry", "--tenant", "acme", "999"])
    assert result.exit_code != 0
    assert "no event 999 in acme" in result.output


def test_job_for_a_dropped_tenant_is_a_no_op(app, in_tenant, events_queue, failed_registry, run_jobs):
    with app.app_context():
        provisioning.create_tenant("initech", "Initech", base_domain=app.config["BASE_DOMAIN"])
        initech = get_tenant_by_slug("initech")
    run_jobs()  # its own `tenant.created` (the admin's invitation)
    _publish_committed(in_tenant, initech, "test.outbox.recorded")
    [job] = events_queue.get_jobs()
    with app.app_context():
        provisioning.drop_tenant("initech")

    run_jobs()

    assert job.get_status() == "finished"
    assert job.return_value() == "tenant gone"
    assert failed_registry.count == 0
    with app.app_context():
        assert relay_outbox() == 0


def test_delivery_jobs_carry_only_integer_ids(app, acme, in_tenant, events_queue):
    with in_tenant(acme):
        db.session.add(Category(name="Payload", slug="payload"))
        event = publish("test.outbox.recorded", {"category_slug": "payload"})
        assert isinstance(event, OutboxEvent)
        db.session.commit()

    [job] = events_queue.get_jobs()
    assert job.func_name == "app.events.tasks.deliver_event"
    assert job.kwargs == {}
    assert len(job.args) == 2 and all(type(arg) is int for arg in job.args)
