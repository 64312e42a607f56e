"""Issue #20's "Done when", for real: gunicorn serving the app (its Procfile settings module),
``flask worker`` beside it sharing the metrics directory, and Debian's Prometheus scraping
``/metrics`` on the platform host with the bearer token.

A partner's script (docs/examples/order_and_pay.py) orders and pays twice over the API, the
buyer messages the seller; the worker delivers the events. Prometheus then answers request
latency by route, event lag and orders paid; and the web's log lines and the worker's log lines
of the jobs those requests caused carry the same trace ids.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from app.events.models import OutboxEvent
from tenants.db import db
from tests.helpers import wait_until
from tests.observability.servers import (
    PROMETHEUS,
    PrometheusServer,
    require,
    start_worker,
    value_of,
    write_token,
)
from tests.orders.conftest import PASSWORD, api_token, make_gig, market  # noqa: F401  (fixtures)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "order_and_pay.py"
TOKEN = "done-when-metrics-token"  # noqa: S105


def order_and_pay(port: int, email: str) -> None:
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(EXAMPLE)],
        env={
            "PATH": os.environ.get("PATH", ""),
            "GIGFORGE_URL": f"http://127.0.0.1:{port}",
            "GIGFORGE_HOST": f"acme.localhost:{port}",
            "GIGFORGE_EMAIL": email,
            "GIGFORGE_PASSWORD": PASSWORD,
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def traces_by_job(log: str, pattern: str) -> dict[str, str]:
    """``{job id: trace id}`` of the log lines matching ``pattern`` (with groups job, trace)."""
    return {m["job"]: m["trace"] for m in re.finditer(pattern, log)}


@pytest.mark.slow
def test_prometheus_answers_latency_event_lag_and_orders_paid_and_jobs_share_the_trace(
    app,
    acme,
    market,  # noqa: F811
    in_tenant,
    gunicorn,
    tmp_path,
):
    require(PROMETHEUS)
    m = market(acme)
    token_file = write_token(tmp_path, TOKEN)
    # DEBUG: the web logs each job it enqueues (app.extensions.TracedJob), with its trace id.
    server = gunicorn(
        workers=2, METRICS_TOKEN=TOKEN, METRICS_ALLOW_NETWORKS="10.255.255.255/32", LOG_LEVEL="DEBUG"
    )
    worker = start_worker(app, server, tmp_path)
    prometheus = PrometheusServer(tmp_path, f"localhost:{server.port}", token_file)
    try:
        prometheus.wait_ready()
        # A few orders and messages.
        order_and_pay(server.port, m.buyer_email)
        order_and_pay(server.port, m.buyer_email)
        base = f"http://127.0.0.1:{server.port}/api/v1"
        headers = {"Host": f"acme.localhost:{server.port}"}
        token = requests.post(
            f"{base}/auth/token",
            json={"email": m.buyer_email, "password": PASSWORD},
            headers=headers,
            timeout=60,
        ).json()["access_token"]
        headers["Authorization"] = f"Bearer {token}"
        conversation = requests.post(
            f"{base}/conversations", json={"gig_id": m.gig_id}, headers=headers, timeout=60
        )
        assert conversation.status_code in (200, 201), conversation.text
        for text in ("Hello! Two orders placed.", "Looking forward to it."):
            sent = requests.post(
                f"{base}/conversations/{conversation.json()['id']}/messages",
                json={"body": text},
                headers=headers,
                timeout=60,
            )
            assert sent.status_code == 201, sent.text

        def delivered():
            worker.check_alive()
            with in_tenant(acme):
                return not db.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(OutboxEvent)
                    .where(OutboxEvent.status != "dispatched")
                )

        wait_until(delivered, timeout=240, message=lambda: f"events not delivered\n{worker.output()}")

        # Prometheus: orders paid, request latency by route, event lag.
        wait_until(
            lambda: (value_of(prometheus.query('sum(gigforge_orders_total{state="paid"})')) or 0) >= 2,
            timeout=60,
            message=lambda: f"orders paid not seen\n{prometheus.api('targets')}",
        )
        # Latency by route since the start (a rate() needs the counter to move between scrapes).
        p95 = "histogram_quantile(0.95, sum by (le, route) (gigforge_http_request_duration_seconds_bucket))"
        wanted = {"/api/v1/orders", "/api/v1/conversations/<int:conversation_id>/messages"}
        latencies = wait_until(
            lambda: (
                found
                if wanted
                <= set(found := {r["metric"]["route"]: float(r["value"][1]) for r in prometheus.query(p95)})
                else None
            ),
            timeout=60,
            message=lambda: f"no latency for {wanted}: {prometheus.query(p95)}",
        )
        assert all(0 < latencies[route] < 60 for route in wanted), latencies
        with in_tenant(acme):
            events = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent))
        # Every delivery observed its lag (Prometheus sees it at its next scrape).
        wait_until(
            lambda: (value_of(prometheus.query("sum(gigforge_event_lag_seconds_count)")) or 0) >= events,
            timeout=60,
            message=lambda: (
                f"event lag observations: {prometheus.query('sum(gigforge_event_lag_seconds_count)')}"
            ),
        )
        # Since the start, as the latency above: a rate() is empty until two scrapes saw the
        # series, and every delivery may have landed before the first.
        lag_p95 = value_of(
            prometheus.query("histogram_quantile(0.95, sum by (le) (gigforge_event_lag_seconds_bucket))")
        )
        assert lag_p95 is not None and lag_p95 >= 0

        # One trace: each job the web enqueued ran in the worker under the request's trace id.
        enqueued = traces_by_job(
            server.output(limit=None),
            r"trace=(?P<trace>[0-9a-f]{32}) span=[0-9a-f]{16}\] app\.extensions: enqueued job (?P<job>\S+) ",
        )
        started = traces_by_job(
            worker.output(limit=None),
            r"trace=(?P<trace>[0-9a-f]{32}) span=[0-9a-f]{16}\] "
            r"app\.extensions: job (?P<job>\S+) \S+ started",
        )
        shared = {job for job in enqueued if started.get(job) == enqueued[job]}
        assert len(shared) >= 3, (enqueued, started)
        assert shared == set(enqueued) & set(started)
    finally:
        prometheus.stop()
        worker.stop()
