"""Throughput of the tenant-resolved, DB-backed home page against a bare endpoint.

A real server (gunicorn, gthread workers) is started on a free loopback port
against the benchmark's PostgreSQL and Redis; this process drives it with a
closed-loop load generator (``--concurrency`` threads, each with one keep-alive
``http.client`` connection), ``--warmup`` seconds unmeasured, then
``--duration`` seconds measured per endpoint:

- ``GET /healthz``: the liveness probe (answered by the outermost WSGI layer);
- ``GET /`` with ``Host: acme.localhost``: an anonymous visitor's home page: host
  resolution (per-process TTL cache), tenant binding, the tenant cache's stamps
  (one Redis MGET) and the page the process keeps (docs/design/performance.md).

- ``GET /static/css/app.css``: a static file (any host);
- ``GET /api/v1/categories`` with ``Host: acme.localhost``: an anonymous API read
  (resolution, rate limit, the category tree as JSON).

All run against the same server in the same run, so their ratios are
meaningful; a bare Flask application (``bench/bare_flask.py``, one JSON route)
on the same gunicorn settings is measured first and again last as the yardstick,
and the faster of its two rounds is the ceiling every ratio is taken against (a
round slowed by something else on the machine, as seen right after a benchmark
that filled a database, would otherwise flatter every ratio; the stricter ceiling can
only lower them). The page is
then measured again on a server with the resolution cache disabled
(``TENANT_CACHE_TTL=0``). Note: the load generator shares the machine's cores
with the server.

    .venv/bin/python -m bench.request_throughput --duration 10 --warmup 2
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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
from config import BASE_DIR

LOOPBACK = "127.0.0.1"
READY_CONFIG = Path(__file__).resolve().parent / "gunicorn_ready.py"
BARE = "bare Flask"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.request_throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    parser.add_argument("--concurrency", type=int, default=16, help="load generator connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--tenant", default="acme", help="tenant slug whose home page is measured")
    parser.add_argument("--skip-nocache", action="store_true", help="skip the TENANT_CACHE_TTL=0 server")
    parser.add_argument("--skip-bare", action="store_true", help="skip the bare Flask yardstick")
    add_service_args(parser)
    return parser.parse_args(argv)


def ensure_tenant(slug: str) -> None:
    from app.demo.seed import DEMO_TENANTS, seed_demo
    from tenants.resolver import get_tenant_by_slug

    if get_tenant_by_slug(slug) is not None:
        return
    if slug not in {spec["slug"] for spec in DEMO_TENANTS}:
        sys.exit(f"tenant {slug!r} does not exist (only the demo tenants are created on demand)")
    for line in seed_demo():
        print("demo:", line)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving wsgi:app on a free loopback port."""

    def __init__(
        self,
        services: Services,
        args: argparse.Namespace,
        wsgi: str = "wsgi:app",
        worker_args: tuple[str, ...] | None = None,
        **env_overrides: str,
    ):
        self.port = free_port()
        env = {
            **os.environ,
            "GIGFORGE_ENV": "development",
            "DATABASE_URL": services.database_url,
            "REDIS_URL": services.redis_url,
            "INSTANCE_DIR": str(services.instance_dir),
            "LOG_LEVEL": "WARNING",
            **env_overrides,
        }
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            *(worker_args or ("--worker-class", "gthread", "--threads", str(args.threads))),
            "--workers",
            str(args.workers),
            "--bind",
            f"{LOOPBACK}:{self.port}",
            "--log-level",
            "warning",
            wsgi,
        ]
        self._launch(cmd, BASE_DIR, env, args.workers)

    def _launch(self, cmd: list[str], cwd, env: dict, workers: int) -> None:
        """Start gunicorn (``cmd``: ``python -m gunicorn ...``) with the readiness hook, and
        return when every one of its ``workers`` has loaded the app and answers."""
        python, gunicorn_args = cmd[:3], cmd[3:]
        self.command = " ".join(["gunicorn", "-c", "bench/gunicorn_ready.py", *gunicorn_args])
        self.ready_dir = tempfile.mkdtemp(prefix="bench-ready-")
        self.process = subprocess.Popen(
            [*python, "-c", str(READY_CONFIG), *gunicorn_args],
            cwd=cwd,
            env={**env, "BENCH_READY_DIR": self.ready_dir},
        )
        self._wait_ready(workers)

    def _wait_ready(self, workers: int, timeout: float = 60.0) -> None:
        """Until each worker has said it is up (``bench/gunicorn_ready.py``) and ``/healthz``
        answers: connections opened before a worker is up all go to the others for good."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            if len(os.listdir(self.ready_dir)) < workers:
                time.sleep(0.1)
                continue
            try:
                conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not become ready")

    def get(self, path: str, host: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=10)
        try:
            conn.request("GET", path, headers={"Host": host})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.ready_dir, ignore_errors=True)


def fetch(
    conn: http.client.HTTPConnection, port: int, path: str, host: str, timeout: float = 10.0
) -> tuple[http.client.HTTPConnection, bool]:
    """GET ``path`` with ``Host: host`` on the keep-alive ``conn``: the connection to use next (a
    new one after a failure) and whether it answered 200."""
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        resp.read()
        return conn, resp.status == 200
    except (OSError, http.client.HTTPException):
        conn.close()
        return http.client.HTTPConnection(LOOPBACK, port, timeout=timeout), False


def drive(
    port: int, path: str, host: str | list[str], *, concurrency: int, warmup: float, duration: float
) -> dict:
    """Closed-loop load: each thread sends its next request when the last one is answered.

    ``host`` may be a list: the requests then go to its hosts in turn (``bench.tenant_scale``
    spreads them over 1,000 tenants)."""
    hosts = [host] if isinstance(host, str) else list(host)
    turn = itertools.count()
    start = time.perf_counter()
    measure_from = start + warmup
    end = measure_from + duration
    go = threading.Barrier(concurrency)

    def worker() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
        go.wait()
        while True:
            t0 = time.perf_counter()
            if t0 >= end:
                break
            conn, ok = fetch(conn, port, path, hosts[next(turn) % len(hosts)])
            t1 = time.perf_counter()
            if t0 >= measure_from:
                if ok:
                    latencies.append(t1 - t0)
                else:
                    errors += 1
        conn.close()
        return latencies, errors

    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda _: worker(), range(concurrency)))
    latencies = [x for lat, _ in results for x in lat]
    errors = sum(e for _, e in results)
    return {
        "path": path,
        "host": host if isinstance(host, str) else f"{len(hosts)} hosts in turn",
        "requests": len(latencies),
        "errors": errors,
        "seconds": duration,
        "rps": len(latencies) / duration,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def measure_server(services, args, label: str, **env_overrides: str) -> tuple[str, list[dict]]:
    tenant_host = f"{args.tenant}.localhost"
    bare = label.startswith(BARE)
    server = Server(services, args, "bench.bare_flask:app" if bare else "wsgi:app", **env_overrides)
    try:
        if not bare:
            status, body = server.get("/", tenant_host)
            if status != 200:
                raise RuntimeError(f"GET / on {tenant_host} answered {status}")
        print(f"[{label}] {server.command} on port {server.port}", flush=True)
        rows = []
        endpoints = [("/healthz", LOOPBACK)]
        if not bare:
            endpoints += [
                ("/static/css/app.css", LOOPBACK),
                ("/", tenant_host),
                ("/api/v1/categories", tenant_host),
            ]
        for path, host in endpoints:
            result = drive(
                server.port,
                path,
                host,
                concurrency=args.concurrency,
                warmup=args.warmup,
                duration=args.duration,
            )
            result["server"] = label
            rows.append(result)
            print(f"  {host}{path}: {result['rps']:.0f} req/s", flush=True)
        return server.command, rows
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    services = Services(args)
    app = make_app(services, args.argon2)
    with app.app_context():
        ensure_public_schema()
        ensure_tenant(args.tenant)
        env = environment(services)
        from tenants.db import db

        db.engine.dispose()
    servers = [] if args.skip_bare else [(f"{BARE}, first", {})]
    # The anonymous reads' budgets raised out of the way (still checked, never spent): a 429
    # would measure the limit, not the request path.
    unlimited = {
        f"RATELIMIT_API_{plan}_{limit}": "10000000/minute"
        for plan in ("STANDARD", "GROWTH", "SCALE")
        for limit in ("CREDENTIAL_READ", "IP_READ")
    }
    servers.append(("cache TTL 5 s", {"TENANT_CACHE_TTL": "5", **unlimited}))
    if not args.skip_nocache:
        servers.append(("cache off (TTL 0)", {"TENANT_CACHE_TTL": "0", **unlimited}))
    if not args.skip_bare:
        servers.append((f"{BARE}, last", {}))
    results, commands = [], []
    for label, overrides in servers:
        command, rows = measure_server(services, args, label, **overrides)
        commands.append(command)
        results += rows
    ratios = {}
    bare_rounds = [r["rps"] for r in results if r["server"].startswith(BARE)]
    yardstick = max(bare_rounds, default=None)
    for label, _ in servers:
        if label.startswith(BARE):
            continue
        rows = [r for r in results if r["server"] == label]
        healthz = rows[0]["rps"]
        for r in rows:
            if r["path"] == "/":
                r["ratio_to_healthz"] = r["rps"] / healthz
                ratios[label] = r["ratio_to_healthz"]
            if yardstick:
                r["ratio_to_bare_flask"] = r["rps"] / yardstick
    print()
    print_table(
        [
            "server",
            "endpoint",
            "requests",
            "errors",
            "req/s",
            "p50 ms",
            "p99 ms",
            "page/healthz",
            "/bare Flask",
        ],
        [
            [
                r["server"],
                f"{r['host']}{r['path']}",
                r["requests"],
                r["errors"],
                r["rps"],
                r["p50_ms"],
                r["p99_ms"],
                f"{r['ratio_to_healthz']:.2f}" if "ratio_to_healthz" in r else "",
                f"{r['ratio_to_bare_flask']:.2f}" if "ratio_to_bare_flask" in r else "",
            ]
            for r in results
        ],
    )
    if bare_rounds:
        rounds = " and ".join(f"{rps:.0f}" for rps in bare_rounds)
        print(f"\nbare Flask: {rounds} req/s (first and last round); the ratios use {yardstick:.0f}")
    pages = [r for r in results if r["path"] == "/"]
    if len(pages) == 2:
        print(f"\nresolution cache: page throughput x{pages[0]['rps'] / pages[1]['rps']:.2f} with vs without")
    path = record(
        "request_throughput",
        argv,
        {
            "environment": env,
            "server_commands": commands,
            "concurrency": args.concurrency,
            "warmup_seconds": args.warmup,
            "results": results,
            "page_to_healthz_ratio": ratios,
            "bare_flask_rps": yardstick,
            "bare_flask_rounds_rps": bare_rounds,
        },
    )
    print(f"results appended to {path}")
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
