"""The cost of metrics and tracing: the same requests with both on (no trace exporter) and both off.

Two gunicorn servers (gthread) run side by side against the same PostgreSQL and Redis, one with
``METRICS_ENABLED=1 TRACING_ENABLED=1`` (Prometheus multiprocess files, OpenTelemetry spans that
record nothing and export nowhere, trace ids in the logs), one with both ``0``. Rounds alternate
between them (order flipped each round) so drift of the machine hits both alike; each round
drives one endpoint for ``--duration`` seconds after ``--warmup``:

- ``GET /`` on the tenant (host resolution, branding, the home page's queries and template);
- ``GET /api/v1/categories`` on the tenant (a JSON API call).

The result is the median req/s per server and endpoint over the rounds, the ratio of those
medians, and the median of each round's on/off ratio (a round's two runs are back to back, so a
shared machine's drift between rounds cancels). Target: on within 5 % of off, i.e. the paired
ratio >= 0.95.

    .venv/bin/python -m bench.observability_overhead --rounds 5 --duration 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from bench._common import (
    Services,
    add_service_args,
    ensure_public_schema,
    environment,
    make_app,
    print_table,
    record,
)
from bench.request_throughput import Server, drive, ensure_tenant

SETTINGS = {
    "on": {"METRICS_ENABLED": "1", "TRACING_ENABLED": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": ""},
    "off": {"METRICS_ENABLED": "0", "TRACING_ENABLED": "0", "OTEL_EXPORTER_OTLP_ENDPOINT": ""},
}
# Both servers: the API's per-IP rate limit out of the way (one load generator, one address).
COMMON = {
    f"RATELIMIT_API_STANDARD_{name}": "100000000/minute"
    for name in ("CREDENTIAL_READ", "CREDENTIAL_WRITE", "IP_READ", "IP_WRITE")
}
ENDPOINTS = (("tenant page", "/"), ("JSON API", "/api/v1/categories"))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench.observability_overhead", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per endpoint")
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per round")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each round")
    parser.add_argument("--concurrency", type=int, default=8, help="load generator connections")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers per server")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--tenant", default="acme", help="tenant slug (a demo tenant is seeded when missing)")
    add_service_args(parser)
    return parser.parse_args(argv)


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
    host = f"{args.tenant}.localhost"
    servers = {}
    try:
        for label, overrides in SETTINGS.items():
            metrics_dir = tempfile.mkdtemp(prefix=f"gigforge-bench-metrics-{label}-")
            servers[label] = Server(
                services, args, PROMETHEUS_MULTIPROC_DIR=metrics_dir, **COMMON, **overrides
            )
            for _name, path in ENDPOINTS:
                status, _body = servers[label].get(path, host)
                if status != 200:
                    raise RuntimeError(f"[{label}] GET {path} on {host} answered {status}")
            print(f"[{label}] {servers[label].command} on port {servers[label].port} {overrides}", flush=True)
        rps: dict[tuple[str, str], list[float]] = {}
        for round_no in range(args.rounds):
            order = list(SETTINGS) if round_no % 2 == 0 else list(reversed(SETTINGS))
            for name, path in ENDPOINTS:
                for label in order:
                    result = drive(
                        servers[label].port,
                        path,
                        host,
                        concurrency=args.concurrency,
                        warmup=args.warmup,
                        duration=args.duration,
                    )
                    if result["errors"]:
                        raise RuntimeError(f"[{label}] {result['errors']} failed requests on {path}")
                    rps.setdefault((name, label), []).append(result["rps"])
                    print(
                        f"  round {round_no + 1} {name:<12} {label:<3} {result['rps']:.0f} req/s", flush=True
                    )
    finally:
        for server in servers.values():
            server.stop()
    rows, results = [], []
    for name, path in ENDPOINTS:
        on = statistics.median(rps[(name, "on")])
        off = statistics.median(rps[(name, "off")])
        # A round's two runs are back to back: their ratio cancels the machine's drift between
        # rounds (a shared VM's neighbours), which moves both servers alike.
        paired = statistics.median(a / b for a, b in zip(rps[(name, "on")], rps[(name, "off")], strict=True))
        verdict = "yes" if paired >= 0.95 else "NO"
        rows.append([name, path, round(off), round(on), f"{on / off:.3f}", f"{paired:.3f}", verdict])
        results.append(
            {
                "endpoint": name,
                "path": path,
                "rps_off": off,
                "rps_on": on,
                "ratio_of_medians": on / off,
                "median_paired_ratio": paired,
                "rounds_on": rps[(name, "on")],
                "rounds_off": rps[(name, "off")],
            }
        )
    print()
    print_table(["endpoint", "path", "off req/s", "on req/s", "on/off", "paired on/off", "within 5 %"], rows)
    path = record("observability_overhead", argv, {"environment": env, "results": results})
    print(f"\nrecorded in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
