"""Run every benchmark in order (``make bench``); see docs/benchmarks.md.

Options after ``--`` go to every benchmark (e.g. ``-- --database-url URL``).
The population grown by ``tenant_create`` (1,000+ tenants) is reused by
``migrate_noop``; ``request_throughput`` adds the demo tenant ``acme``; ``search_bench`` adds
``searchbench`` with 50,000 gigs; ``search_near`` adds ``nearbench`` (50,000 gigs, half on site
around real cities: location search on both backends); ``order_flow`` rebuilds ``orderbench`` (200 sellers,
400 buyers) on every run; ``reviews`` adds ``reviewbench`` (10,000 sellers, 151,000 orders);
``jobs_bench`` adds ``jobbench`` (60,000 jobs, 10,000 freelancers); ``milestone_flow`` rebuilds
``milestonebench`` (as ``orderbench``) on every run and measures the order flow beside it;
``hourly_flow`` rebuilds ``hourlybench`` (300 hourly contracts) on every run: log time, close the
week, approve and bill, the Monday sweep's cross-tenant scan; ``home_page`` adds ``homebench``
(50,000 gigs) and times the home page, warm and cold; ``signed_in_pages`` rebuilds
``pagebench`` (40 sellers) and times single requests in-process (token API, signed-in pages,
search); ``observability_overhead`` compares two servers, metrics and tracing on and off, on
``acme``.

    .venv/bin/python -m bench.run_all [--reset] [-- SERVICE OPTIONS]
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import (
    home_page,
    hourly_flow,
    jobs_bench,
    migrate_noop,
    milestone_flow,
    observability_overhead,
    order_flow,
    request_throughput,
    reviews,
    search_bench,
    search_near,
    signed_in_pages,
    tenant_create,
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own, shared = argv, []
    if "--" in argv:
        own, shared = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    parser = argparse.ArgumentParser(prog="bench.run_all", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reset", action="store_true", help="start from an empty benchmark database")
    args = parser.parse_args(own)
    steps = [
        ("tenant_create", tenant_create.main, [*(["--reset"] if args.reset else []), *shared]),
        ("migrate_noop", migrate_noop.main, ["--real", *shared]),
        ("request_throughput", request_throughput.main, shared),
        ("search_bench", search_bench.main, shared),
        ("search_near", search_near.main, shared),
        ("order_flow", order_flow.main, shared),
        ("reviews", reviews.main, shared),
        ("jobs_bench", jobs_bench.main, shared),
        ("milestone_flow", milestone_flow.main, shared),
        ("hourly_flow", hourly_flow.main, shared),
        ("home_page", home_page.main, shared),
        ("signed_in_pages", signed_in_pages.main, shared),
        ("observability_overhead", observability_overhead.main, shared),
    ]
    failed = []
    for name, run, step_argv in steps:
        print(f"\n=== bench.{name} {' '.join(step_argv)}", flush=True)
        started = time.perf_counter()
        code = run(step_argv)
        print(f"=== bench.{name}: exit {code} in {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print("missed targets or errors in: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
