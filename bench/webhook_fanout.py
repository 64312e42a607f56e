"""Webhook fan-out lag: events committed at a steady rate reach 10 endpoints through ONE worker.

A bench tenant ``hookbench`` is rebuilt on every run with ``--endpoints`` endpoints (every
event type) at a fast local receiver (``http.server``, HTTP/1.1 keep-alive, answers 200 at
once). ``--events`` events (``user.registered``, the one member's id plus a sequence number in
the payload) are committed ``--batch`` at a time at ``--rate`` events per second. One
``flask worker`` process (queues ``events`` and ``webhooks``, nothing else) fans them out and
drains the endpoints. The lag of a delivery is its receipt time at the receiver minus the
commit time of its event (one clock: the same machine). Reported: p50 / p95 / max over every
(endpoint, event), and the run's wall time.

Then the same run with one more endpoint whose URL refuses connections (a dead partner): the
other endpoints' lag must not rise (its drain costs one refused connect per back-off step).

    .venv/bin/python -m bench.webhook_fanout [--events 1000] [--endpoints 10] [--rate 100]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench._common import (
    Services,
    add_service_args,
    ensure_public_schema,
    environment,
    make_app,
    percentile,
    print_table,
    record,
)

SLUG = "hookbench"
ROOT = Path(__file__).resolve().parent.parent


class Receiver:
    def __init__(self):
        self.received: dict[tuple[str, int], float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.time()
                seq = json.loads(body)["data"]["event"].get("bench_seq", -1)
                with receiver.lock:
                    receiver.received.setdefault((self.path, seq), at)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def count(self) -> int:
        with self.lock:
            return len(self.received)


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/dead"


def _rebuild_tenant(app, endpoints: list[str]):
    from app.accounts.models import User
    from app.webhooks import services
    from tenants.db import db, tenant_context
    from tenants.provisioning import create_tenant, drop_tenant
    from tenants.resolver import get_tenant_by_slug

    if get_tenant_by_slug(SLUG) is not None:
        drop_tenant(SLUG)
    tenant = create_tenant(SLUG, "Hook Bench", base_domain=app.config["BASE_DOMAIN"], options={}).tenant
    with tenant_context(tenant):
        admin = db.session.query(User).filter_by(role="admin").one()
        for url in endpoints:
            services.create_endpoint(admin, url=url, event_types=["*"])
        db.session.commit()
        return tenant, admin.id


def _worker(services: Services) -> subprocess.Popen:
    env = {
        **os.environ,
        "GIGFORGE_ENV": "development",
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "LOG_LEVEL": os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--no-relay", "events", "webhooks"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("BENCH_WORKER_LOG", os.devnull), "a"),  # noqa: SIM115
    )


def run_once(app, services, args, *, dead: bool) -> dict:
    from app.events import publish
    from app.extensions import redis_store
    from tenants.db import db, tenant_context

    receiver = Receiver()
    paths = [f"/e{i}" for i in range(args.endpoints)]
    urls = [receiver.url(p) for p in paths] + ([_dead_url()] if dead else [])
    with app.app_context():
        redis_store.client.flushdb()
        tenant, user_id = _rebuild_tenant(app, urls)
    worker = _worker(services)
    try:
        time.sleep(2.0)  # the worker process starts (imports, connections) before the clock runs
        committed: dict[int, float] = {}
        interval = args.batch / args.rate
        started = time.time()
        with app.app_context(), tenant_context(tenant):
            seq = 0
            next_at = time.monotonic()
            while seq < args.events:
                batch = []
                for _ in range(min(args.batch, args.events - seq)):
                    publish("user.registered", {"user_id": user_id, "bench_seq": seq})
                    batch.append(seq)
                    seq += 1
                db.session.commit()
                at = time.time()
                for n in batch:
                    committed[n] = at
                next_at += interval
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        published = time.time()
        expected = args.events * args.endpoints
        deadline = time.time() + args.timeout
        while receiver.count() < expected and time.time() < deadline:
            time.sleep(0.05)
        done = time.time()
    finally:
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
        receiver.server.shutdown()
    lags = [(at - committed[seq]) * 1000 for (path, seq), at in receiver.received.items() if path in paths]
    return {
        "dead_endpoint": dead,
        "events": args.events,
        "endpoints": args.endpoints,
        "rate_per_s": args.rate,
        "delivered": len(lags),
        "expected": args.events * args.endpoints,
        "publish_s": round(published - started, 2),
        "wall_s": round(done - started, 2),
        "lag_p50_ms": round(percentile(lags, 50), 1),
        "lag_p95_ms": round(percentile(lags, 95), 1),
        "lag_max_ms": round(max(lags), 1) if lags else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0, help="events committed per second")
    parser.add_argument("--batch", type=int, default=10, help="events per commit")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the last delivery")
    add_service_args(parser)
    args = parser.parse_args(argv)
    services = Services(args)
    app = make_app(services, "cheap", RATELIMIT_ENABLED=False)
    with app.app_context():
        ensure_public_schema()
        env = environment(services)
    results = [run_once(app, services, args, dead=False), run_once(app, services, args, dead=True)]
    print(f"load average before: {env.get('loadavg', os.getloadavg())}")
    print_table(
        ["run", "delivered", "publish s", "wall s", "lag p50 ms", "lag p95 ms", "lag max ms"],
        [
            [
                "+1 dead endpoint" if r["dead_endpoint"] else f"{r['endpoints']} endpoints",
                f"{r['delivered']}/{r['expected']}",
                r["publish_s"],
                r["wall_s"],
                r["lag_p50_ms"],
                r["lag_p95_ms"],
                r["lag_max_ms"],
            ]
            for r in results
        ],
    )
    print(f"load average after: {os.getloadavg()}")
    path = record("webhook_fanout", sys.argv[1:] if argv is None else argv, {"env": env, "results": results})
    print(f"recorded in {path}")
    ok = all(r["delivered"] == r["expected"] and r["lag_p95_ms"] < 2000 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
