"""Delivering: real HTTP to a local receiver; retries with back-off and the delivery log under an
injected clock; receivers that are down, slow or answer 500 don't hold up the others; replay;
auto-disable with an email; at least once across a sender killed mid-delivery; tenants apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.events import publish
from app.extensions import get_queue, redis_store
from app.mail.models import EmailMessage
from app.webhooks import delivery, services, signing
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tenants.db import db
from tests.webhooks.conftest import admin_of

SCHEDULE = [1, 5, 30, 120, 300, 600, 600, 720, 720, 720]


def _publish(in_tenant, tenant, name="user.registered", payload=None) -> None:
    with in_tenant(tenant):
        publish(name, payload if payload is not None else {"user_id": admin_of(tenant).id})
        db.session.commit()


def _deliveries(in_tenant, tenant, endpoint_id) -> list[WebhookDelivery]:
    with in_tenant(tenant):
        rows = db.session.scalars(
            sa.select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id)
        ).all()
        db.session.expunge_all()
        return rows


def _attempts(in_tenant, tenant, delivery_id) -> list[WebhookAttempt]:
    with in_tenant(tenant):
        rows = db.session.scalars(
            sa.select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        ).all()
        db.session.expunge_all()
        return rows


def _endpoint(in_tenant, tenant, endpoint_id) -> WebhookEndpoint:
    with in_tenant(tenant):
        row = db.session.get(WebhookEndpoint, endpoint_id)
        db.session.expunge(row)
        return row


def test_an_event_arrives_signed_with_the_documented_body_and_headers(
    acme, in_tenant, receiver, make_endpoint, deliver
):
    r = receiver()
    endpoint_id, secret = make_endpoint(acme, r.url, ["user.registered"])
    _publish(in_tenant, acme)
    deliver()
    [got] = r.received
    signing.verify(got.body, got.headers["Gigforge-Signature"], secret)
    body = got.json
    assert body["id"].startswith("evt_") and body["type"] == "user.registered"
    assert body["tenant"] == "acme" and body["api_version"] == "v1" and body["created"].endswith("Z")
    assert body["data"]["object"]["object"] == "user" and body["data"]["event"]["user_id"] >= 1
    assert "email" not in body["data"]["object"]
    assert got.headers["User-Agent"] == "Gigforge-Webhooks/1"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Gigforge-Event-Id"] == body["id"]
    assert got.headers["Gigforge-Event-Type"] == "user.registered"
    assert got.headers["Gigforge-Delivery-Attempt"] == "1"
    [row] = _deliveries(in_tenant, acme, endpoint_id)
    assert (row.status, row.attempts, row.last_status_code) == ("succeeded", 1, 200)
    assert _endpoint(in_tenant, acme, endpoint_id).last_success_at is not None


def test_unsubscribed_and_disabled_endpoints_get_nothing(acme, in_tenant, receiver, make_endpoint, deliver):
    wanted, other, off = receiver(), receiver(), receiver()
    make_endpoint(acme, wanted.url, ["user.registered"])
    make_endpoint(acme, other.url, ["order.paid"])
    make_endpoint(acme, off.url, ["*"], enabled=False)
    _publish(in_tenant, acme)
    _publish(in_tenant, acme, "branding.changed", {})  # internal: never sent
    deliver()
    assert [b["type"] for b in wanted.bodies()] == ["user.registered"]
    assert other.received == [] and off.received == []


def test_retries_follow_the_back_off_then_fail_and_the_log_keeps_every_attempt(
    acme, in_tenant, make_endpoint, dead_url, run_jobs
):
    endpoint_id, _ = make_endpoint(acme, dead_url, ["user.registered"])
    _publish(in_tenant, acme)
    run_jobs(("events",))  # the fan-out; the drains below run under the test's clock
    [row] = _deliveries(in_tenant, acme, endpoint_id)
    t = datetime.now(UTC) + timedelta(seconds=1)
    times = []
    for step in [*SCHEDULE, None]:
        result = delivery.run_drain(acme.id, endpoint_id, now=t)
        assert result.sent == 1 and result.failed == 1
        times.append(t)
        # Before the next step: the endpoint is blocked, nothing is sent.
        if step is not None:
            assert (
                delivery.run_drain(
                    acme.id, endpoint_id, now=t + timedelta(minutes=step) - timedelta(seconds=1)
                ).sent
                == 0
            )
            t += timedelta(minutes=step)
    [row] = _deliveries(in_tenant, acme, endpoint_id)
    assert (row.status, row.attempts) == ("failed", 11)
    attempts = _attempts(in_tenant, acme, row.id)
    assert [a.attempt for a in attempts] == list(range(1, 12))
    assert [a.attempted_at for a in attempts] == times
    assert all(a.response_status is None and a.error.startswith("connection failed") for a in attempts)
    assert [a.request_headers["Gigforge-Delivery-Attempt"] for a in attempts] == [
        str(n) for n in range(1, 12)
    ]
    assert times[-1] - times[0] == timedelta(minutes=sum(SCHEDULE))  # about 3 days
    endpoint = _endpoint(in_tenant, acme, endpoint_id)
    assert endpoint.consecutive_failures == 11 and endpoint.failing_since == times[0]
    assert endpoint.status == "enabled"  # failing for 3,816 minutes: not yet 3 days


def test_an_endpoint_failing_for_three_days_is_disabled_and_its_admins_are_told(
    acme, in_tenant, make_endpoint, dead_url, run_jobs
):
    endpoint_id, _ = make_endpoint(acme, dead_url, ["user.registered"])
    _publish(in_tenant, acme)
    run_jobs(("events",))
    t0 = datetime.now(UTC) + timedelta(seconds=1)
    delivery.run_drain(acme.id, endpoint_id, now=t0)
    assert _endpoint(in_tenant, acme, endpoint_id).status == "enabled"
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailMessage)) == 0
    _publish(in_tenant, acme)
    run_jobs(("events",))
    delivery.run_drain(acme.id, endpoint_id, now=t0 + timedelta(days=3, minutes=1))
    endpoint = _endpoint(in_tenant, acme, endpoint_id)
    assert (endpoint.status, endpoint.disabled_reason) == ("disabled", "failing")
    with in_tenant(acme):
        [mail] = db.session.scalars(sa.select(EmailMessage)).all()
        assert mail.to == "admin@acme.test" and mail.template == "notice"
        assert dead_url in " ".join(mail.context["paragraphs"])
        assert f"/console/webhooks/{endpoint_id}" in mail.context["action_url"]
    # Disabled: no more attempts, whatever the clock says; new events are not queued for it.
    assert delivery.run_drain(acme.id, endpoint_id, now=t0 + timedelta(days=10)).sent == 0
    before = len(_deliveries(in_tenant, acme, endpoint_id))
    _publish(in_tenant, acme)
    run_jobs(("events",))
    assert len(_deliveries(in_tenant, acme, endpoint_id)) == before


@pytest.fixture
def short_timeouts(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_READ_TIMEOUT", 0.3)
    monkeypatch.setitem(app.config, "WEBHOOK_CONNECT_TIMEOUT", 0.5)


def test_down_slow_and_failing_receivers_hold_up_no_other_endpoint_or_tenant(
    acme, globex, in_tenant, receiver, make_endpoint, dead_url, deliver, short_timeouts
):
    good, slow, broken, theirs = receiver(), receiver(), receiver(500), receiver()
    slow.hold.clear()  # answers only at teardown: beyond the read timeout
    ids = {
        "down": make_endpoint(acme, dead_url)[0],
        "slow": make_endpoint(acme, slow.url)[0],
        "500": make_endpoint(acme, broken.url)[0],
        "good": make_endpoint(acme, good.url)[0],
    }
    make_endpoint(globex, theirs.url)
    for _ in range(3):
        _publish(in_tenant, acme)
        _publish(in_tenant, globex)
    deliver()
    assert len(good.received) == 3 and len(theirs.received) == 3
    assert len(broken.received) == 1  # one attempt, then the endpoint waits for its back-off
    errors = {}
    for name in ("down", "slow", "500"):
        rows = _deliveries(in_tenant, acme, ids[name])
        assert [r.status for r in rows] == ["pending"] * 3
        assert [r.attempts for r in rows] == [1, 0, 0]  # the others wait without a request
        errors[name] = rows[0].last_error
        endpoint = _endpoint(in_tenant, acme, ids[name])
        assert endpoint.blocked_until is not None and endpoint.consecutive_failures == 1
    assert errors == {
        "down": "connection failed: connection refused",
        "slow": "read timeout",
        "500": "HTTP 500",
    }
    [attempt] = _attempts(in_tenant, acme, _deliveries(in_tenant, acme, ids["500"])[0].id)
    assert attempt.response_status == 500 and attempt.response_body == '{"ok": true}'


def test_a_recovered_receiver_gets_the_waiting_deliveries_in_order(
    acme, in_tenant, receiver, make_endpoint, run_jobs
):
    r = receiver(500)
    endpoint_id, _ = make_endpoint(acme, r.url, ["user.registered"])
    for _ in range(3):
        _publish(in_tenant, acme)
    run_jobs(("events",))
    t = datetime.now(UTC) + timedelta(seconds=1)
    assert delivery.run_drain(acme.id, endpoint_id, now=t).failed == 1
    r.status = 200
    result = delivery.run_drain(acme.id, endpoint_id, now=t + timedelta(minutes=1))
    assert (result.sent, result.succeeded) == (3, 3)
    ids = [b["id"] for b in r.bodies()]
    assert ids[0] == ids[1] and ids[1:] == sorted(ids[1:], key=lambda i: int(i[4:]))
    endpoint = _endpoint(in_tenant, acme, endpoint_id)
    assert (endpoint.consecutive_failures, endpoint.failing_since, endpoint.blocked_until) == (0, None, None)


def test_replay_sends_the_same_body_again_and_marks_the_attempt(
    acme, in_tenant, receiver, make_endpoint, deliver
):
    r = receiver()
    endpoint_id, secret = make_endpoint(acme, r.url)
    _publish(in_tenant, acme)
    deliver()
    [row] = _deliveries(in_tenant, acme, endpoint_id)
    with in_tenant(acme):
        services.replay_delivery(admin_of(acme), row.id)
        db.session.commit()
    deliver()
    first, second = r.received
    assert first.body == second.body
    assert second.headers["Gigforge-Delivery-Attempt"] == "2"
    signing.verify(second.body, second.headers["Gigforge-Signature"], secret)
    attempts = _attempts(in_tenant, acme, row.id)
    assert [a.replay for a in attempts] == [False, True]
    assert _deliveries(in_tenant, acme, endpoint_id)[0].status == "succeeded"


def test_a_test_ping_goes_to_one_endpoint_only(acme, in_tenant, receiver, make_endpoint, deliver):
    pinged, other = receiver(), receiver()
    endpoint_id, _ = make_endpoint(acme, pinged.url)
    make_endpoint(acme, other.url)
    with in_tenant(acme):
        services.send_test_ping(admin_of(acme), endpoint_id)
        db.session.commit()
    deliver()
    [body] = pinged.bodies()
    assert body["type"] == "ping" and body["data"]["object"]["id"] == endpoint_id
    assert other.received == []


def test_a_sender_killed_mid_delivery_leaves_it_for_the_sweep(
    acme, in_tenant, receiver, make_endpoint, run_jobs, app
):
    r = receiver()
    endpoint_id, _ = make_endpoint(acme, r.url)
    _publish(in_tenant, acme)
    run_jobs(("events",))
    # The sender claimed the delivery (its lease is committed) and died before the request;
    # its job is gone from Redis with it.
    with app.app_context():
        get_queue("webhooks").empty()
        redis_store.client.delete(f"t:{acme.id}:wh:queued")  # the tenant drain's key
    lease = app.config["WEBHOOK_LEASE_SECONDS"]
    with in_tenant(acme):
        [claimed] = delivery.claim(endpoint_id, datetime.now(UTC))
    assert delivery.sweep() == 0  # leased: not due yet
    with in_tenant(acme):  # ... until the lease runs out (the sender is not coming back)
        db.session.execute(
            sa.update(WebhookDelivery).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    assert delivery.sweep(now=datetime.now(UTC)) == 1
    run_jobs(("webhooks",))
    assert [b["type"] for b in r.bodies()] == ["user.registered"]
    assert _deliveries(in_tenant, acme, endpoint_id)[0].status == "succeeded"
    assert lease > 0 and claimed.attempts == 0


def test_a_delivery_sent_but_not_recorded_is_sent_again(acme, in_tenant, receiver, make_endpoint, run_jobs):
    """At least once: the request went out, the sender died before recording it."""
    r = receiver()
    endpoint_id, _ = make_endpoint(acme, r.url)
    _publish(in_tenant, acme)
    run_jobs(("events",))
    t = datetime.now(UTC)
    with in_tenant(acme):
        [item] = delivery.claim(endpoint_id, t)
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        delivery._post(
            delivery._session(acme.id, endpoint_id),
            endpoint.url,
            item,
            services.live_secrets(endpoint),
            t,
            False,
        )
    assert len(r.received) == 1  # ... and nothing recorded
    with in_tenant(acme):
        lease_end = db.session.scalar(sa.select(WebhookDelivery.next_attempt_at))
    result = delivery.run_drain(acme.id, endpoint_id, now=lease_end + timedelta(seconds=1))
    assert result.succeeded == 1 and len(r.received) == 2
    assert r.received[0].body == r.received[1].body


def test_old_events_are_purged_with_their_deliveries(acme, in_tenant, receiver, make_endpoint, deliver):
    r = receiver()
    endpoint_id, _ = make_endpoint(acme, r.url)
    _publish(in_tenant, acme)
    deliver()
    assert delivery.purge(datetime.now(UTC) + timedelta(days=29)) == 0
    assert delivery.purge(datetime.now(UTC) + timedelta(days=31)) == 1
    assert _deliveries(in_tenant, acme, endpoint_id) == []


def test_a_tenant_never_receives_another_tenants_events_even_with_equal_ids(
    acme, globex, in_tenant, receiver, make_endpoint, deliver
):
    ours, theirs = receiver(), receiver()
    acme_endpoint, acme_secret = make_endpoint(acme, ours.url)
    globex_endpoint, globex_secret = make_endpoint(globex, theirs.url)
    assert acme_endpoint == globex_endpoint  # the same id in both schemas
    _publish(in_tenant, acme)
    deliver()
    assert len(ours.received) == 1 and theirs.received == []
    _publish(in_tenant, globex)
    deliver()
    assert len(ours.received) == 1 and len(theirs.received) == 1
    assert ours.bodies()[0]["id"] == theirs.bodies()[0]["id"] == "evt_1"
    assert ours.bodies()[0]["tenant"] == "acme" and theirs.bodies()[0]["tenant"] == "globex"
    signing.verify(theirs.received[0].body, theirs.received[0].headers["Gigforge-Signature"], globex_secret)
    with pytest.raises(signing.SignatureError):
        signing.verify(theirs.received[0].body, theirs.received[0].headers["Gigforge-Signature"], acme_secret)


def test_a_host_that_later_resolves_inside_is_refused_before_the_request(
    acme, in_tenant, make_endpoint, run_jobs, app, monkeypatch
):
    """DNS rebinding: registered while public, resolving to loopback at send time."""
    from app.webhooks import urls

    answers = {"hooks.example.com": "93.184.216.34"}
    real = urls.socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [(2, 1, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)  # our database and Redis

    monkeypatch.setattr(urls.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setitem(app.config, "WEBHOOK_BLOCK_PRIVATE", True)
    endpoint_id, _ = make_endpoint(acme, "https://hooks.example.com/in")
    answers["hooks.example.com"] = "127.0.0.1"
    _publish(in_tenant, acme)
    run_jobs(("events",))
    result = delivery.run_drain(acme.id, endpoint_id, now=datetime.now(UTC) + timedelta(seconds=1))
    assert result.failed == 1
    [row] = _deliveries(in_tenant, acme, endpoint_id)
    assert row.last_error.startswith("refused: The host hooks.example.com resolves to 127.0.0.1")
    assert _attempts(in_tenant, acme, row.id)[0].response_status is None


def test_stats_count_successes_and_failures_per_hour(acme, in_tenant, receiver, make_endpoint, run_jobs):
    r = receiver(500)
    endpoint_id, _ = make_endpoint(acme, r.url)
    _publish(in_tenant, acme)
    run_jobs(("events",))
    t = datetime.now(UTC) + timedelta(seconds=1)
    delivery.run_drain(acme.id, endpoint_id, now=t)
    r.status = 200
    delivery.run_drain(acme.id, endpoint_id, now=t + timedelta(minutes=60))
    with in_tenant(acme):
        # asked at the second attempt's time: its hour is always the one after t's
        # (t + 61 min, say, is two hours on when t is past hh:59)
        stats = services.endpoint_stats(endpoint_id, now=t + timedelta(minutes=60))
    assert len(stats) == 24
    assert stats[-2]["hour"] == t.replace(minute=0, second=0, microsecond=0)
    assert [(s["succeeded"], s["failed"]) for s in stats[-2:]] == [(0, 1), (1, 0)]
    assert sum(s["succeeded"] + s["failed"] for s in stats) == 2


def test_a_fan_out_while_the_tenants_drain_runs_is_sent_by_it_not_queued_again(
    acme, in_tenant, receiver, make_endpoint, run_jobs, app
):
    """One drain job per tenant: a fan-out that finds it queued or running flags ``more``, and
    the running drain looks again for due endpoints (here: two, sent side by side)."""
    first, second = receiver(), receiver()
    make_endpoint(acme, first.url)
    make_endpoint(acme, second.url)
    with app.app_context():
        redis_store.client.set(f"t:{acme.id}:wh:queued", b"1", ex=60)  # as while a drain runs
    _publish(in_tenant, acme)
    run_jobs(("events",))
    with app.app_context():
        assert get_queue("webhooks").count == 0  # not queued a second time ...
        assert redis_store.client.get(f"t:{acme.id}:wh:more") == b"1"  # ... but told
        result = delivery.drain_tenant(acme.id)  # the running drain's look
        assert (result.sent, result.succeeded) == (2, 2)
        assert redis_store.client.get(f"t:{acme.id}:wh:queued") is None  # ended: the next one queues
        assert get_queue("webhooks").count == 0  # nothing left to wake it for
    assert len(first.received) == 1 and len(second.received) == 1
    assert first.received[0].body == second.received[0].body
