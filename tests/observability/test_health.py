"""/readyz per dependency (app/core/health.py, app/events/health.py) and ``flask doctor``
(app/core/doctor.py), against the real PostgreSQL and Redis of the suite, and against servers
that are down (nothing listens) or hung (a socket that never answers).

A dependency is taken down for one test by pointing the session app at a dead server
(``monkeypatch`` swaps its engine or its Redis client back afterwards). A second app from
``create_app`` would do it too, but it rebinds the process-wide extensions (Socket.IO's server,
the rate limiter's storage) to the dead server for every later test of this process.
"""

from __future__ import annotations

import json
import socket
import time

import pytest
import sqlalchemy as sa
from rq import Worker

from app.core import health
from app.events.services import publish_many
from app.extensions import connect_redis, redis_store
from tenants.db import db

DEAD_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/x"  # nothing listens on port 1
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _fresh_backlog(app, monkeypatch):
    """The outbox backlog is counted at each probe (its per-process cache would carry another
    test's count)."""
    monkeypatch.setitem(app.config, "METRICS_SCRAPE_CACHE_SECONDS", 0)


@pytest.fixture
def database_down(app, monkeypatch):
    dead = sa.create_engine(DEAD_DATABASE)
    with app.app_context():
        monkeypatch.setitem(db.engines, None, dead)
    yield
    dead.dispose()


@pytest.fixture
def redis_down(app, monkeypatch):
    monkeypatch.setitem(app.extensions, "redis", connect_redis(DEAD_REDIS))


@pytest.fixture
def redis_hung(app, monkeypatch):
    """A Redis that accepts the connection (the kernel does, from the backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    monkeypatch.setattr(health, "PROBE_TIMEOUT_SECONDS", 0.3)
    monkeypatch.setitem(app.extensions, "redis", connect_redis(f"redis://127.0.0.1:{port}/0"))
    yield
    listener.close()


@pytest.fixture
def running_worker(app):
    """An RQ worker registered in Redis with a fresh heartbeat, as ``flask worker`` keeps it."""
    with app.app_context():
        worker = Worker(["events"], connection=redis_store.client)
        worker.register_birth()
        worker.heartbeat()
    yield worker
    with app.app_context():
        worker.register_death()


def _publish_waiting(in_tenant, tenant, count: int) -> None:
    """Commit ``count`` events that nothing delivers (no worker runs the queued jobs)."""
    with in_tenant(tenant):
        publish_many("test.health.waiting", [{"n": n} for n in range(count)])
        db.session.commit()


# --- /readyz ----------------------------------------------------------------------------------


def test_readyz_reports_every_check_and_is_degraded_without_a_worker(platform_client):
    response = platform_client.get("/readyz")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["status"] == "degraded"
    checks = body["checks"]
    assert set(checks) == {"database", "redis", "worker", "outbox"}
    assert checks["database"]["status"] == "ok" and checks["database"]["latency_ms"] >= 0
    assert checks["redis"]["status"] == "ok" and checks["redis"]["latency_ms"] >= 0
    assert checks["worker"] == {
        "status": "fail",
        "workers": 0,
        "reason": "no worker registered",
        "latency_ms": checks["worker"]["latency_ms"],
    }
    assert checks["outbox"]["status"] == "ok"
    assert checks["outbox"]["pending"] == 0 and checks["outbox"]["oldest_age_seconds"] == 0


def test_readyz_is_ok_with_a_worker_heartbeat(app, platform_client, running_worker):
    body = platform_client.get("/readyz").json

    assert body["status"] == "ok"
    worker = body["checks"]["worker"]
    assert worker["status"] == "ok"
    assert worker["workers"] == 1
    assert 0 <= worker["youngest_heartbeat_age_seconds"] <= app.config["READY_WORKER_HEARTBEAT_SECONDS"]
    assert worker["max_heartbeat_age_seconds"] == app.config["READY_WORKER_HEARTBEAT_SECONDS"]


def test_a_worker_heartbeat_older_than_the_limit_fails(app, platform_client, running_worker, monkeypatch):
    monkeypatch.setitem(app.config, "READY_WORKER_HEARTBEAT_SECONDS", 0)  # any age is too old

    response = platform_client.get("/readyz")

    assert response.status_code == 200
    assert response.json["status"] == "degraded"
    assert response.json["checks"]["worker"]["status"] == "fail"
    assert response.json["checks"]["worker"]["workers"] == 1


def test_readyz_answers_on_tenant_platform_and_unknown_hosts(tenant_client, platform_client, running_worker):
    for client in (
        tenant_client("acme"),
        platform_client,
        tenant_client("nobody"),
        tenant_client("10.1.2.3"),
    ):
        response = client.get("/readyz")
        assert response.status_code == 200, client
        assert response.json["status"] == "ok"
        assert set(response.json["checks"]) == {"database", "redis", "worker", "outbox"}


def test_database_down_is_unavailable(platform_client, running_worker, database_down):
    response = platform_client.get("/readyz")

    assert response.status_code == 503
    body = response.json
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "fail"
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["outbox"]["status"] == "fail"  # counted in the database
    assert "127.0.0.1:1" not in response.get_data(as_text=True)  # no URL in the answer


def test_redis_down_is_unavailable(platform_client, redis_down):
    response = platform_client.get("/readyz")

    assert response.status_code == 503
    body = response.json
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"] == {
        "status": "fail",
        "error": "ConnectionError",
        "latency_ms": body["checks"]["redis"]["latency_ms"],
    }
    assert body["checks"]["worker"]["status"] == "fail"
    assert body["checks"]["database"]["status"] == "ok"


def test_a_hung_redis_fails_within_the_probe_timeout(platform_client, redis_hung):
    started = time.monotonic()
    response = platform_client.get("/readyz")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json["checks"]["redis"]["error"] == "TimeoutError"
    assert response.json["checks"]["worker"]["error"] == "TimeoutError"
    assert elapsed < 5  # two probes of 0.3 s each, not a wait for ever


def test_outbox_backlog_over_the_threshold_is_reported_across_tenants(
    app, acme, globex, in_tenant, platform_client, running_worker, monkeypatch
):
    _publish_waiting(in_tenant, acme, 3)
    _publish_waiting(in_tenant, globex, 2)
    monkeypatch.setitem(app.config, "READY_OUTBOX_MAX_PENDING", 4)

    response = platform_client.get("/readyz")

    assert response.status_code == 200  # not critical: the node stays in rotation
    assert response.json["status"] == "degraded"
    outbox = response.json["checks"]["outbox"]
    assert outbox["status"] == "fail"
    assert outbox["pending"] == 5
    assert outbox["max_pending"] == 4
    assert outbox["oldest_age_seconds"] >= 0

    monkeypatch.setitem(app.config, "READY_OUTBOX_MAX_PENDING", 5)
    assert platform_client.get("/readyz").json["checks"]["outbox"]["status"] == "ok"


def test_an_old_pending_event_fails_the_outbox_check(app, acme, in_tenant, platform_client, monkeypatch):
    _publish_waiting(in_tenant, acme, 1)
    monkeypatch.setitem(app.config, "READY_OUTBOX_MAX_AGE_SECONDS", 0)  # any pending event is too old

    outbox = platform_client.get("/readyz").json["checks"]["outbox"]

    assert outbox["status"] == "fail"  # counted after the commit: older than 0 s
    assert outbox["pending"] == 1


def test_a_check_that_raises_fails_by_its_exception_class(platform_client, running_worker, monkeypatch):
    monkeypatch.setattr(health, "_checks", dict(health._checks))

    def broken():
        raise KeyError("secret-value")

    health.register_check("optional", broken, critical=False)
    response = platform_client.get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "degraded"
    assert response.json["checks"]["optional"]["status"] == "fail"
    assert response.json["checks"]["optional"]["error"] == "KeyError"
    assert "secret-value" not in response.get_data(as_text=True)

    health.register_check("essential", lambda: {"status": "maybe"}, critical=True)
    response = platform_client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["checks"]["essential"]["error"] == "InvalidCheckResult"


# --- flask doctor -----------------------------------------------------------------------------


def test_doctor_prints_checks_and_findings_and_exits_0_when_healthy(app, running_worker):
    result = app.test_cli_runner().invoke(args=["doctor"])

    assert result.exit_code == 0, result.output
    output = result.output
    assert "Readiness checks" in output and "Configuration" in output
    for name in ("database", "redis", "worker *", "outbox *"):
        assert name in output
    for finding in ("environment", "secret key", "metrics directory", "tracing", "sentry", "upload scanner"):
        assert finding in output
    assert "/metrics: from 127.0.0.1/32, ::1/128 (no token)" in output
    assert output.strip().splitlines()[-1].startswith("OK: readiness ok")
    assert "\x1b[" not in output  # not a terminal: no colours
    assert "postgresql://" not in output and "redis://" not in output


def test_doctor_json_has_the_same_checks_and_findings(app):
    result = app.test_cli_runner().invoke(args=["doctor", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["status"] == "degraded"  # no worker
    assert report["exit_code"] == 0
    assert report["checks"]["database"]["status"] == "ok" and report["checks"]["database"]["critical"] is True
    assert report["checks"]["worker"]["status"] == "fail" and report["checks"]["worker"]["critical"] is False
    findings = {f["name"]: f for f in report["findings"]}
    assert findings["metrics directory"]["level"] == "ok"
    assert findings["environment"]["level"] == "ok"
    assert {f["level"] for f in report["findings"]} <= {"ok", "warn"}


def test_doctor_warns_when_metrics_cannot_be_scraped_but_still_exits_0(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")
    monkeypatch.setitem(app.config, "METRICS_ALLOW_NETWORKS", [])

    result = app.test_cli_runner().invoke(args=["doctor", "--json"])

    assert result.exit_code == 0
    metrics = next(f for f in json.loads(result.output)["findings"] if f["name"] == "metrics")
    assert metrics["level"] == "warn"
    assert "unreachable" in metrics["detail"]


def test_doctor_never_prints_the_metrics_token(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cr3t-metrics-token")

    result = app.test_cli_runner().invoke(args=["doctor"])

    assert "/metrics: bearer token, or from 127.0.0.1/32" in result.output
    assert "s3cr3t-metrics-token" not in result.output


def test_doctor_fails_when_the_metrics_directory_is_missing(app, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "gone"))

    result = app.test_cli_runner().invoke(args=["doctor"])

    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert result.output.strip().splitlines()[-1].startswith("FAIL:")


def test_doctor_exits_1_when_the_database_is_down(app, database_down):
    result = app.test_cli_runner().invoke(args=["doctor"])

    assert result.exit_code == 1
    assert "OperationalError" in result.output
    assert result.output.strip().splitlines()[-1].startswith("FAIL: readiness unavailable (database, ")

    report = json.loads(app.test_cli_runner().invoke(args=["doctor", "--json"]).output)
    assert report["exit_code"] == 1 and report["checks"]["database"]["status"] == "fail"
