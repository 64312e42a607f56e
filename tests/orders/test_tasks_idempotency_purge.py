"""Expired idempotency keys are purged per tenant on a schedule: the orders tick enqueues
``purge_idempotency_keys(tenant_id)`` once per period, the job deletes only the tenant's
keys older than the TTL (in batches), and a purged key is a new attempt again."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.core.idempotency import IdempotencyKey, purge_expired_keys
from app.extensions import get_queue
from app.orders import tasks
from tenants.db import db
from tests.helpers import wait_until

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


def add_keys(in_tenant, tenant, ages_hours: list[float], now: datetime = NOW) -> None:
    """Key rows created ``age`` hours before ``now``, as ``@idempotent`` leaves them."""
    with in_tenant(tenant):
        for n, age in enumerate(ages_hours):
            db.session.add(
                IdempotencyKey(
                    key=f"k-{tenant.slug}-{n}",
                    user_id=1,
                    method_path="POST /api/v1/orders",
                    request_hash="0" * 64,
                    response_status=201,
                    response_body=b"{}",
                    response_headers={},
                    created_at=now - timedelta(hours=age),
                )
            )
        db.session.commit()


def keys_of(in_tenant, tenant) -> list[str]:
    with in_tenant(tenant):
        return sorted(db.session.scalars(sa.select(IdempotencyKey.key)))


def test_purge_job_deletes_only_the_tenants_expired_keys_and_can_run_twice(app, acme, globex, in_tenant):
    add_keys(in_tenant, acme, [48, 25, 23, 1])  # TTL 24 h: the first two are expired
    add_keys(in_tenant, globex, [48, 1])
    assert tasks.purge_idempotency_keys(acme.id, NOW) == 2
    assert keys_of(in_tenant, acme) == ["k-acme-2", "k-acme-3"]
    assert keys_of(in_tenant, globex) == ["k-globex-0", "k-globex-1"]  # another tenant: untouched
    assert tasks.purge_idempotency_keys(acme.id, NOW) == 0  # a second run finds nothing
    assert keys_of(in_tenant, acme) == ["k-acme-2", "k-acme-3"]


def test_purge_job_works_through_a_backlog_in_batches(app, acme, in_tenant, monkeypatch):
    add_keys(in_tenant, acme, [30 + n for n in range(7)] + [2])
    monkeypatch.setattr(tasks, "PURGE_BATCH", 3)
    assert tasks.purge_idempotency_keys(acme.id, NOW) == 7
    assert keys_of(in_tenant, acme) == ["k-acme-7"]


def test_purge_respects_the_configured_ttl_and_a_limit(app, acme, in_tenant, monkeypatch):
    add_keys(in_tenant, acme, [10, 5, 1])
    monkeypatch.setitem(app.config, "IDEMPOTENCY_TTL_HOURS", 4)
    with in_tenant(acme):
        assert purge_expired_keys(NOW, limit=1) == 1  # the oldest first
        db.session.commit()
    assert keys_of(in_tenant, acme) == ["k-acme-1", "k-acme-2"]
    assert tasks.purge_idempotency_keys(acme.id, NOW) == 1
    assert keys_of(in_tenant, acme) == ["k-acme-2"]


def test_purge_job_of_a_dropped_tenant_does_nothing(app):
    assert tasks.purge_idempotency_keys(987654, NOW) == 0


def test_purge_tick_enqueues_once_per_tenant_and_period(app, acme, globex, in_tenant, run_jobs):
    # The queued jobs purge as of the clock when they run: keys aged against the real time.
    real_now = datetime.now(UTC)
    add_keys(in_tenant, acme, [48, 1], now=real_now)
    add_keys(in_tenant, globex, [48, 1], now=real_now)
    with app.app_context():
        assert tasks.purge_tick(NOW) == 2  # acme and globex
        assert tasks.purge_tick(NOW + timedelta(minutes=30)) == 0  # the same hour
        queued = get_queue("default").get_jobs()
        assert sorted((job.func_name, job.args) for job in queued) == [
            ("app.orders.tasks.purge_idempotency_keys", (acme.id,)),
            ("app.orders.tasks.purge_idempotency_keys", (globex.id,)),
        ]
    run_jobs()
    assert keys_of(in_tenant, acme) == ["k-acme-1"]
    assert keys_of(in_tenant, globex) == ["k-globex-1"]
    with app.app_context():
        assert tasks.purge_tick(NOW + timedelta(hours=1)) == 2  # the next hour


def test_purge_tick_skips_a_suspended_tenant(app, acme, globex):
    from tenants import provisioning

    with app.app_context():
        provisioning.set_status("globex", "suspended")
        app.extensions["tenants"].invalidate()
        assert tasks.purge_tick(NOW) == 1
        assert [job.args for job in get_queue("default").get_jobs()] == [(acme.id,)]


def test_worker_loop_purges_expired_keys(app, acme, globex, in_tenant, run_jobs, monkeypatch):
    real_now = datetime.now(UTC)
    add_keys(in_tenant, acme, [30, 2], now=real_now)
    monkeypatch.setitem(app.config, "ORDER_TICK_SECONDS", 0.05)
    stop = threading.Event()
    loop = threading.Thread(target=tasks.run_tick_loop, args=(app, stop), daemon=True)
    loop.start()

    def purge_queued() -> bool:
        with app.app_context():
            queued = get_queue("default").get_jobs()
            return any(job.func_name.endswith("purge_idempotency_keys") for job in queued)

    wait_until(purge_queued, timeout=10, message="the loop never queued the purge")
    stop.set()
    loop.join(5)
    assert not loop.is_alive()
    run_jobs()
    assert keys_of(in_tenant, acme) == ["k-acme-1"]


def test_a_purged_key_is_a_new_attempt(acme, market, api_token, in_tenant):
    """Within the TTL the key replays; once purged, the same key places a new order."""
    m = market(acme)
    buyer, headers = api_token(acme, m.buyer_email)
    body = {"gig_id": m.gig_id, "tier": "basic"}
    keyed = {**headers, "Idempotency-Key": "order-attempt-1"}
    first = buyer.post("/api/v1/orders", json=body, headers=keyed)
    replay = buyer.post("/api/v1/orders", json=body, headers=keyed)
    assert first.status_code == replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json["id"] == first.json["id"]
    assert tasks.purge_idempotency_keys(acme.id) == 0  # fresh: kept
    with in_tenant(acme):
        db.session.execute(sa.update(IdempotencyKey).values(created_at=sa.func.now() - timedelta(hours=25)))
        db.session.commit()
    assert tasks.purge_idempotency_keys(acme.id) == 1
    again = buyer.post("/api/v1/orders", json=body, headers=keyed)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") is None
    assert again.json["id"] != first.json["id"]


def test_claiming_a_key_keeps_the_transactions_lock_timeout_and_takes_over_an_expired_one(acme, in_tenant):
    from app.core.idempotency import _claim

    add_keys(in_tenant, acme, [30], now=datetime.now(UTC))  # "k-acme-0" of user 1, expired
    with in_tenant(acme):
        old_id = db.session.scalar(sa.select(IdempotencyKey.id))
        db.session.execute(sa.text("SELECT set_config('lock_timeout', '3s', true)"))
        claimed, row = _claim("k-acme-0", 1, "POST /api/v1/payouts", "f" * 64)
        assert claimed is not None and claimed != old_id and row is None
        # The view that runs after the claim waits for locks as the transaction said, not 10 s.
        assert db.session.scalar(sa.text("SELECT current_setting('lock_timeout')")) == "3s"
        # The same key again, now live: found, not claimed.
        again, live = _claim("k-acme-0", 1, "POST /api/v1/payouts", "f" * 64)
        assert again is None and live.id == claimed
        db.session.commit()
    assert keys_of(in_tenant, acme) == ["k-acme-0"]
