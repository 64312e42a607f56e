"""Tenant creation time as the population grows (target: < 0.5 s whatever the count).

The population is grown with ``create_tenant`` itself; every creation is timed.
At each checkpoint N, ``--samples`` creations are measured starting with N
existing tenants. The admin's argon2id hash is part of every creation (the
real configuration unless ``--argon2 cheap``); its cost alone is reported too.

    .venv/bin/python -m bench.tenant_create --reset --checkpoints 1,100,1000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench._common import (
    Services,
    add_service_args,
    create_bench_tenant,
    ensure_public_schema,
    environment,
    fill_tenants,
    make_app,
    next_bench_index,
    print_table,
    record,
    summarize,
    tenant_count,
)

TARGET_SECONDS = 0.5


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.tenant_create", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", default="1,100,1000", help="existing-tenant counts to measure at")
    parser.add_argument("--samples", type=int, default=20, help="creations measured at each checkpoint")
    add_service_args(parser)
    return parser.parse_args(argv)


def argon2_hash_seconds(repeat: int = 10) -> float:
    from app.accounts.services import hash_password

    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        hash_password("correct horse battery staple")
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def time_creations(first_index: int, count: int) -> list[float]:
    """Create ``count`` bench tenants from ``bench-<first_index>`` on, timing each (seconds)."""
    timings = []
    for i in range(count):
        started = time.perf_counter()
        create_bench_tenant(first_index + i)
        timings.append(time.perf_counter() - started)
    return timings


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    checkpoints = sorted(int(c) for c in args.checkpoints.split(","))
    services = Services(args)
    app = make_app(services, args.argon2)
    with app.app_context():
        ensure_public_schema()
        env = environment(services)
        hash_seconds = argon2_hash_seconds()
        cfg = app.config
        print(
            f"argon2id (t={cfg['ARGON2_TIME_COST']}, m={cfg['ARGON2_MEMORY_COST']} KiB, "
            f"p={cfg['ARGON2_PARALLELISM']}): {hash_seconds * 1000:.0f} ms per hash"
        )
        all_timings: list[float] = []
        rows, results = [], []
        for checkpoint in checkpoints:
            existing = tenant_count()
            if existing < checkpoint:
                print(f"growing the population from {existing} to {checkpoint} tenants", flush=True)
                all_timings += fill_tenants(checkpoint)
                existing = tenant_count()
            elif existing > checkpoint:
                print(f"note: {existing} tenants exist already; measuring at {existing}, not {checkpoint}")
            samples = time_creations(next_bench_index(), args.samples)
            all_timings += samples
            stats = summarize(samples)
            results.append({"checkpoint": checkpoint, "existing_at_start": existing, **stats})
            rows.append(
                [checkpoint, f"{existing}-{existing + args.samples - 1}", stats["n"]]
                + [stats[k] * 1000 for k in ("p50", "p95", "max")]
            )
        overall = summarize(all_timings)
        over = sum(t >= TARGET_SECONDS for t in all_timings)
        print()
        print_table(["checkpoint", "existing tenants", "n", "p50 ms", "p95 ms", "max ms"], rows)
        print(
            f"\nall {overall['n']} creations this run: p50 {overall['p50'] * 1000:.0f} ms, "
            f"p95 {overall['p95'] * 1000:.0f} ms, max {overall['max'] * 1000:.0f} ms; "
            f"{over} at or over the {TARGET_SECONDS} s target"
        )
        print(f"population now: {tenant_count()} tenants")
        path = record(
            "tenant_create",
            argv,
            {
                "environment": env,
                "argon2": {
                    "profile": args.argon2,
                    "time_cost": cfg["ARGON2_TIME_COST"],
                    "memory_cost_kib": cfg["ARGON2_MEMORY_COST"],
                    "parallelism": cfg["ARGON2_PARALLELISM"],
                    "hash_seconds_p50": hash_seconds,
                },
                "checkpoints": results,
                "all_creations": {**overall, "over_target": over},
                "target_seconds": TARGET_SECONDS,
            },
        )
        print(f"results appended to {path}")
    return 0 if over == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
