"""Tenant creation with and without a spare schema ready.

    .venv/bin/python -m bench.tenant_create_spares [--samples 10] [service options]

Grows nothing: run ``bench.tenant_create`` first for a large population. Each
"warm" creation is preceded by ``ensure_spares(1)`` (what the worker does in
the background); "cold" creations build the schema in the request.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import _common as c
from bench.tenant_create import time_creations


def time_spare_creations(first_index: int, count: int) -> list[float]:
    """Create ``count`` bench tenants, each on a spare built just before it (untimed), as the
    worker keeps them; returns each creation's seconds."""
    from tenants.spares import ensure_spares

    timings = []
    for k in range(count):
        ensure_spares(1)
        started = time.perf_counter()
        c.create_bench_tenant(first_index + k)
        timings.append(time.perf_counter() - started)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    c.add_service_args(parser)
    args = parser.parse_args(argv)
    app = c.make_app(c.Services(args))
    with app.app_context():
        from tenants.migrations import migrate_all
        from tenants.spares import drop_all_spares

        c.ensure_public_schema()
        migrate_all(jobs=2)
        drop_all_spares()
        index = c.next_bench_index()
        existing = c.tenant_count()
        cold = time_creations(index, args.samples)
        warm = time_spare_creations(index + args.samples, args.samples)
        rows = []
        for label, values in (("spare renamed", warm), ("cold (built in request)", cold)):
            summary = c.summarize(values)
            rows.append([label, len(values)] + [round(summary[k] * 1000) for k in ("p50", "p95", "max")])
        print(f"existing tenants at start: {existing}")
        c.print_table(["path", "n", "p50 ms", "p95 ms", "max ms"], rows)
        c.record(
            "tenant_create_spares",
            sys.argv if argv is None else argv,
            {"existing": existing, "warm": c.summarize(warm), "cold": c.summarize(cold)},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
