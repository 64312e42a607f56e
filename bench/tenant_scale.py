"""10,000 tenants on one PostgreSQL: creation, catalog, migrate, page and backend memory.

The population is grown in steps (``--steps``, default 1, 10, 100, 1,000, 10,000). Between
checkpoints it is grown fast, by ``--fill-jobs`` forked processes each running the real
``create_tenant`` (cold provisioning in parallel); at each checkpoint:

- ``--samples`` creations are timed one after the other on the cold path (the schema built in
  the request) and ``--spare-samples`` on a spare built just before (what the worker's spares
  give), with ``bench.tenant_create`` / ``bench.tenant_create_spares``' helpers;
- the catalog is measured: ``pg_class`` and ``pg_attribute`` rows, the size of
  ``pg_catalog``'s relations, the database's size;
- ``pg_dump --schema-only`` of the whole database is timed (it takes a lock on every table in one
  transaction: past ``max_locks_per_transaction`` x connections it would fill the server's lock
  table and fail, so it is not started then, and the reason is recorded; ``--force-dump``), and
  of one tenant schema.

At the last checkpoint:

- no-op ``migrate_all`` runs over everything (``bench.migrate_noop.noop_runs``; target < 10 s),
  then again after ``ANALYZE`` of the catalogs and of ``public`` (this server may run without
  autovacuum);
- backend memory per pooled connection, in-process: an app whose pool holds one
  connection serves the tenant page of ``--spread`` different tenants (in-process test client),
  and the backend's own ``pg_backend_memory_contexts`` (total, and ``CacheMemoryContext``, where
  the relation cache lives) and its private memory (``RssAnon`` in ``/proc``) are read along the
  way, without recycling and with each ``DB_POOL_MAX_USES`` of ``--max-uses`` (each run in a
  forked child on an emptied Redis db, so no run inherits another's caches);
- the tenant page under gunicorn (``bench.request_throughput``'s server and load generator):
  requests to one tenant; the first visit of each of ``--spread`` tenants, each once (what a
  tenant's first page costs a server that has not served it); then requests spread over them
  (the server serving those tenants: ``--no-first-visits`` leaves their first pages in the
  measured window), without recycling and with each ``DB_POOL_MAX_USES`` (Redis emptied before
  each server); p50/p95 and the private memory of the server's backends after each run.
  ``--skip-memory`` leaves out the in-process memory runs (a second run on the same population).

``--skip-checkpoints`` measures only the end part on the population already there.

    .venv/bin/python -m bench.tenant_scale --steps 1,10,100,1000,10000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/gigforge_bench_scale \\
        --redis-url redis://127.0.0.1:6379/12
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time

import sqlalchemy as sa

from bench import _common as c
from bench.migrate_noop import _child_init, noop_runs
from bench.request_throughput import Server, drive
from bench.tenant_create import time_creations
from bench.tenant_create_spares import time_spare_creations

NOOP_TARGET_SECONDS = 10.0
APP_NAME = "gigforge-tenant-scale"


def parse_args(argv: list[str]) -> argparse.Namespace:
    from tenants.migrations import default_jobs

    parser = argparse.ArgumentParser(prog="bench.tenant_scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="1,10,100,1000,10000", help="population checkpoints")
    parser.add_argument("--samples", type=int, default=20, help="cold creations timed per checkpoint")
    parser.add_argument("--spare-samples", type=int, default=10, help="creations on a spare per checkpoint")
    parser.add_argument("--fill-jobs", type=int, default=2, help="processes growing the population")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="migrate_all worker processes")
    parser.add_argument("--migrate-repeat", type=int, default=3, help="no-op migrate runs")
    parser.add_argument("--spread", type=int, default=1000, help="tenants the page requests are spread over")
    parser.add_argument(
        "--max-uses", default="200,1000", help="DB_POOL_MAX_USES of the recycling runs (comma-separated)"
    )
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per page run")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each")
    parser.add_argument("--concurrency", type=int, default=8, help="load generator connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--dump-timeout", type=float, default=900.0, help="seconds before pg_dump is stopped")
    parser.add_argument("--skip-dump", action="store_true", help="no pg_dump")
    parser.add_argument(
        "--force-dump",
        action="store_true",
        help="dump the whole database even past the server's lock table (fails, and fails others' locks)",
    )
    parser.add_argument("--skip-page", action="store_true", help="no gunicorn page runs")
    parser.add_argument("--skip-memory", action="store_true", help="no in-process backend memory runs")
    parser.add_argument(
        "--no-first-visits",
        action="store_true",
        help="measure the spread run without first visiting each tenant once (cold pages in the window)",
    )
    parser.add_argument(
        "--skip-checkpoints", action="store_true", help="measure the existing population's end part only"
    )
    c.add_service_args(parser)
    return parser.parse_args(argv)


# ------------------------------------------------------------------ growing the population


def _create_one(index: int) -> tuple[float, str | None]:
    started = time.perf_counter()
    try:
        c.create_bench_tenant(index)
    except Exception as exc:  # reported, the others go on
        return time.perf_counter() - started, f"bench-{index:05d}: {type(exc).__name__}: {exc}"
    return time.perf_counter() - started, None


def grow(app, target: int, jobs: int) -> dict:
    """Create bench tenants in ``jobs`` forked processes until there are ``target``."""
    from tenants.db import db

    missing = target - c.tenant_count()
    if missing <= 0:
        return {"created": 0, "seconds": 0.0}
    first = c.next_bench_index()
    started = time.perf_counter()
    db.engine.dispose(close=False)
    timings, errors = [], []
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(max(1, jobs), initializer=_child_init, initargs=(app,)) as pool:
        for seconds, error in pool.imap_unordered(_create_one, range(first, first + missing), chunksize=4):
            timings.append(seconds)
            if error:
                errors.append(error)
            if len(timings) % 500 == 0:
                rate = len(timings) / (time.perf_counter() - started)
                print(f"  ... {len(timings)}/{missing} created ({rate:.1f}/s)", flush=True)
    elapsed = time.perf_counter() - started
    if errors:
        print(f"  {len(errors)} creations failed, first: {errors[0]}")
    return {
        "created": len(timings) - len(errors),
        "failed": len(errors),
        "errors": errors[:5],
        "seconds": elapsed,
        "per_second": len(timings) / elapsed,
        "creation_p50": statistics.median(timings),
    }


# ------------------------------------------------------------------ catalog and pg_dump


def catalog_size() -> dict:
    from tenants.db import db

    with db.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM pg_class), (SELECT count(*) FROM pg_attribute), "
                "(SELECT count(*) FROM pg_namespace), "
                "(SELECT sum(pg_total_relation_size(oid)) FROM pg_class "
                " WHERE relnamespace = 'pg_catalog'::regnamespace AND relkind = 'r'), "
                "pg_database_size(current_database())"
            )
        ).one()
        biggest = conn.execute(
            sa.text(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                "WHERE relnamespace = 'pg_catalog'::regnamespace AND relkind = 'r' ORDER BY 2 DESC LIMIT 5"
            )
        ).all()
    return {
        "pg_class_rows": row[0],
        "pg_attribute_rows": row[1],
        "schemas": row[2],
        "catalog_bytes": int(row[3]),
        "database_bytes": int(row[4]),
        "largest_catalogs": {name: int(size) for name, size in biggest},
    }


def _libpq_url(services) -> str:
    return services.database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def lock_capacity() -> dict:
    """The server's lock table (``max_locks_per_transaction`` x (connections + prepared
    transactions)) beside the tables ``pg_dump`` would lock in one transaction."""
    from tenants.db import db

    with db.engine.connect() as conn:
        per_xact, connections, prepared, tables = conn.execute(
            sa.text(
                "SELECT current_setting('max_locks_per_transaction')::int, "
                "current_setting('max_connections')::int, current_setting('max_prepared_transactions')::int, "
                "(SELECT count(*) FROM pg_class WHERE relkind IN ('r', 'p') "
                " AND relnamespace <> 'pg_catalog'::regnamespace "
                " AND relnamespace <> 'information_schema'::regnamespace)"
            )
        ).one()
    return {"capacity": per_xact * (connections + prepared), "tables": tables}


def time_dump(services, timeout: float, schema: str | None = None, force: bool = False) -> dict:
    """``pg_dump --schema-only`` of the database (or of one schema): seconds and bytes, or the error.

    A whole-database dump locks every table in one transaction; past the server's lock table it
    fails with "out of shared memory" once the table is full, and meanwhile every other session
    on the server that needs a lock fails too. It is not started then (unless ``force``)."""
    if schema is None and not force:
        locks = lock_capacity()
        if locks["tables"] > locks["capacity"]:
            return {
                "ok": False,
                "seconds": None,
                "error": f"not run: {locks['tables']} tables to lock, the server's lock table holds "
                f"{locks['capacity']} (max_locks_per_transaction x connections)",
                **locks,
            }
    cmd = ["pg_dump", "--schema-only", "--no-owner", "--dbname", _libpq_url(services)]
    if schema:
        cmd += ["--schema", schema]
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        try:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return {"ok": False, "seconds": timeout, "error": f"stopped after {timeout:.0f} s"}
        seconds = time.perf_counter() - started
        size = out.seek(0, os.SEEK_END)
    if proc.returncode:
        lines = proc.stderr.decode().splitlines()
        errors = [line[:300] for line in lines if "error" in line.lower() or "hint" in line.lower()]
        return {"ok": False, "seconds": seconds, "error": " / ".join(errors[:3]) or lines[-1][:300]}
    return {"ok": True, "seconds": seconds, "bytes": size}


# ------------------------------------------------------------------ backend memory


def _rss_anon_kib(pid: int) -> int | None:
    """A backend's private memory (what it allocated itself, not the shared buffers it touched)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


MEMORY_SQL = sa.text(
    "SELECT pg_backend_pid(), sum(total_bytes), "
    "sum(total_bytes) FILTER (WHERE name = 'CacheMemoryContext' OR parent = 'CacheMemoryContext'), "
    "count(*) FILTER (WHERE parent = 'CacheMemoryContext') "
    "FROM pg_backend_memory_contexts"
)


def own_backend_memory(engine) -> dict:
    with engine.connect() as conn:
        pid, total, cache, children = conn.execute(MEMORY_SQL).one()
    return {
        "pid": pid,
        "total_bytes": int(total),
        "cache_bytes": int(cache or 0),
        "cache_children": children,
        "rss_anon_kib": _rss_anon_kib(pid),
    }


def flush_redis(services) -> None:
    """Empty the benchmark's Redis database: the home page's per-tenant sections cached there by
    one run would spare the next its queries (and its backends their relation cache)."""
    import redis

    redis.Redis.from_url(services.redis_url).flushdb()


def memory_in_child(services, argon2: str, slugs: list[str], max_uses: int) -> dict:
    """``memory_in_process`` in a forked child, on an empty Redis: no process cache of an
    earlier run (branding, categories, host resolution) is shared with it."""
    flush_redis(services)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        return pool.apply(memory_in_process, (services, argon2, slugs, max_uses))


def memory_in_process(services, argon2: str, slugs: list[str], max_uses: int) -> dict:
    """One pooled connection serving the tenant page of every slug in turn (test client)."""
    from tenants.db import db

    app = c.make_app(
        services,
        argon2,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 10, "pool_recycle": -1},
        DB_POOL_MAX_USES=max_uses,
        TENANT_CACHE_TTL=5.0,
    )
    client = app.test_client()
    samples = []
    errors = 0
    checkouts = [0]
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "checkout", lambda *_: checkouts.__setitem__(0, checkouts[0] + 1))

    def page(slug: str) -> None:
        nonlocal errors
        if client.get("/", headers={"Host": f"{slug}.localhost"}).status_code != 200:
            errors += 1

    page(slugs[0])
    with app.app_context():
        samples.append({"tenants_touched": 1, **own_backend_memory(engine)})
    started = time.perf_counter()
    checkpoints = {10, 100, 250, 500, len(slugs)}
    for n, slug in enumerate(slugs, start=1):
        page(slug)
        if n in checkpoints:
            with app.app_context():
                samples.append({"tenants_touched": n, **own_backend_memory(engine)})
    seconds = time.perf_counter() - started
    with app.app_context():
        engine.dispose()
    return {
        "max_uses": max_uses,
        "requests": len(slugs) + 1,
        "errors": errors,
        "seconds": seconds,
        "samples": samples,
        "backends_used": len({s["pid"] for s in samples}),
        "checkouts": checkouts[0],
    }


def server_backends(services) -> list[dict]:
    engine = sa.create_engine(services.database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        pids = (
            conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"), {"a": APP_NAME}
            )
            .scalars()
            .all()
        )
    return [{"pid": pid, "rss_anon_kib": _rss_anon_kib(pid)} for pid in pids]


def first_visits(port: int, path: str, hosts: list[str], concurrency: int) -> dict:
    """Each host requested once (``concurrency`` connections): what a tenant's first page costs a
    server that has not served it yet (nothing of it kept: no resolution, no cached values, no
    kept page; its backend has not touched the schema)."""
    import http.client
    from concurrent.futures import ThreadPoolExecutor

    from bench.request_throughput import LOOPBACK, fetch

    queue = iter(hosts)

    def worker() -> tuple[list[float], int]:
        latencies, errors = [], 0
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
        for host in queue:
            t0 = time.perf_counter()
            conn, ok = fetch(conn, port, path, host, timeout=30)
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1
        conn.close()
        return latencies, errors

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda _: worker(), range(concurrency)))
    seconds = time.perf_counter() - started
    latencies = [x for lat, _ in results for x in lat]
    return {
        "path": path,
        "host": f"{len(hosts)} hosts, each once",
        "requests": len(latencies),
        "errors": sum(e for _, e in results),
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": c.percentile(latencies, 50) * 1000,
        "p95_ms": c.percentile(latencies, 95) * 1000,
        "p99_ms": c.percentile(latencies, 99) * 1000,
    }


def page_runs(services, args, slugs: list[str], max_uses: int) -> list[dict]:
    """The tenant page under gunicorn: one tenant, then ``slugs`` in turn, on one server."""
    sep = "&" if "?" in services.database_url else "?"
    server = Server(
        services,
        args,
        DATABASE_URL=f"{services.database_url}{sep}application_name={APP_NAME}",
        DB_POOL_MAX_USES=str(max_uses),
        DB_POOL_RECYCLE="-1",
    )
    flush_redis(services)
    label = f"max uses {max_uses}" if max_uses else "no recycling"
    rows = []
    try:
        status, _ = server.get("/", f"{slugs[0]}.localhost")
        if status != 200:
            raise RuntimeError(f"GET / on {slugs[0]}.localhost answered {status}")
        spread = [f"{s}.localhost" for s in slugs]
        runs = [("one tenant", f"{slugs[0]}.localhost")]
        if not args.no_first_visits:
            # The spread run measures a server serving these tenants, not its first pages: those
            # are measured apart, each tenant once, before it.
            runs.append((f"first visit of {len(slugs)}", None))
        runs.append((f"{len(slugs)} tenants", spread))
        for name, hosts in runs:
            if hosts is None:
                result = first_visits(server.port, "/", spread, args.concurrency)
            else:
                result = drive(
                    server.port,
                    "/",
                    hosts,
                    concurrency=args.concurrency,
                    warmup=args.warmup,
                    duration=args.duration,
                )
            backends = server_backends(services)
            rss = [b["rss_anon_kib"] for b in backends if b["rss_anon_kib"] is not None]
            result.update(
                server=label,
                spread=name,
                backends=len(backends),
                backend_rss_anon_kib_max=max(rss) if rss else None,
                backend_rss_anon_kib_sum=sum(rss) if rss else None,
            )
            rows.append(result)
            print(
                f"  [{label}] {name}: {result['rps']:.0f} req/s, p95 {result['p95_ms']:.0f} ms, "
                f"{len(backends)} backends, largest {result['backend_rss_anon_kib_max']} KiB private",
                flush=True,
            )
    finally:
        server.stop()
    return rows


# ------------------------------------------------------------------ the run


def analyze_catalogs() -> float:
    from tenants.db import db

    started = time.perf_counter()
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "ANALYZE pg_catalog.pg_class, pg_catalog.pg_namespace, pg_catalog.pg_attribute, "
            "pg_catalog.pg_index, pg_catalog.pg_depend, pg_catalog.pg_type, pg_catalog.pg_constraint, "
            "public.tenants, public.tenant_domains"
        )
    return time.perf_counter() - started


def checkpoint(services, args, step: int, grown: dict) -> dict:
    from tenants.spares import drop_all_spares

    existing = c.tenant_count()
    cold = time_creations(c.next_bench_index(), args.samples)
    spare = time_spare_creations(c.next_bench_index(), args.spare_samples) if args.spare_samples else []
    drop_all_spares()
    result = {
        "step": step,
        "existing_at_start": existing,
        "grown": grown,
        "cold": c.summarize(cold),
        "spare": c.summarize(spare) if spare else None,
        "catalog": {"tenants": c.tenant_count(), **catalog_size()},
    }
    if not args.skip_dump:
        result["dump_all"] = time_dump(services, args.dump_timeout, force=args.force_dump)
        result["dump_one_schema"] = time_dump(services, args.dump_timeout, schema="tenant_bench_00001")
    cat = result["catalog"]
    dump = result.get("dump_all") or {}
    print(
        f"step {step}: {existing} tenants; cold p50 {result['cold']['p50'] * 1000:.0f} ms "
        f"p95 {result['cold']['p95'] * 1000:.0f} ms; spare p50 "
        f"{(result['spare'] or {}).get('p50', float('nan')) * 1000:.0f} ms; pg_class {cat['pg_class_rows']}, "
        f"catalog {cat['catalog_bytes'] / 2**20:.0f} MiB; pg_dump "
        + (f"{dump['seconds']:.1f} s" if dump.get("ok") else f"failed: {dump.get('error', 'skipped')[:200]}")
        + (
            f"; one schema {result['dump_one_schema']['seconds']:.1f} s"
            if result.get("dump_one_schema", {}).get("ok")
            else ""
        ),
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    steps = sorted(int(s) for s in args.steps.split(","))
    services = c.Services(args)
    app = c.make_app(services, args.argon2)
    run_started = time.perf_counter()
    results: dict = {"steps": []}
    with app.app_context():
        from tenants.db import db
        from tenants.spares import drop_all_spares

        c.ensure_public_schema()
        drop_all_spares()
        env = c.environment(services)
        for step in [] if args.skip_checkpoints else steps:
            print(f"growing to {step} tenants ({args.fill_jobs} processes)", flush=True)
            grown = grow(app, step, args.fill_jobs)
            results["steps"].append(checkpoint(services, args, step, grown))
            print(f"  ({time.perf_counter() - run_started:.0f} s so far)", flush=True)
        population = c.tenant_count()
        runs = noop_runs(args.jobs, args.migrate_repeat)
        analyze_seconds = analyze_catalogs()
        after = noop_runs(args.jobs, args.migrate_repeat)
        results["migrate"] = {
            "tenants": population,
            "jobs": args.jobs,
            "noop_seconds": [r.seconds for r in runs],
            "noop_seconds_after_analyze": [r.seconds for r in after],
            "analyze_catalogs_seconds": analyze_seconds,
            "upgraded": [len(r.upgraded) for r in runs + after],
        }
        print(
            f"no-op migrate over {population} tenants: {', '.join(f'{r.seconds:.2f}' for r in runs)} s; "
            f"after ANALYZE of the catalogs ({analyze_seconds:.1f} s): "
            f"{', '.join(f'{r.seconds:.2f}' for r in after)} s",
            flush=True,
        )
        with db.engine.connect() as conn:
            slugs = (
                conn.execute(
                    sa.text("SELECT slug FROM public.tenants WHERE slug LIKE 'bench-%' ORDER BY id LIMIT :n"),
                    {"n": args.spread},
                )
                .scalars()
                .all()
            )
        db.engine.dispose()
    memory = []
    bounds = [0] + [int(n) for n in args.max_uses.split(",") if n.strip()]
    for max_uses in [] if args.skip_memory else bounds:
        run = memory_in_child(services, args.argon2, slugs, max_uses)
        memory.append(run)
        first, last = run["samples"][0], max(run["samples"], key=lambda sample: sample["total_bytes"])
        print(
            f"backend memory, max uses {max_uses or 'none'}: "
            f"{first['total_bytes'] / 2**20:.1f} MiB after 1 tenant "
            f"-> at most {last['total_bytes'] / 2**20:.1f} MiB (after {last['tenants_touched']}) "
            f"(relation cache {first['cache_bytes'] / 2**20:.1f} -> {last['cache_bytes'] / 2**20:.1f} MiB; "
            f"RssAnon {first['rss_anon_kib']} -> {last['rss_anon_kib']} KiB); "
            f"{run['backends_used']} backends, "
            f"{run['seconds']:.0f} s, {run['checkouts']} checkouts, {run['errors']} errors",
            flush=True,
        )
    results["memory"] = memory
    pages = []
    if not args.skip_page:
        for max_uses in bounds:
            pages += page_runs(services, args, slugs, max_uses)
        c.print_table(
            ["server", "requests to", "requests", "errors", "req/s", "p50 ms", "p95 ms", "backends"]
            + ["max KiB"],
            [
                [
                    r["server"],
                    r["spread"],
                    r["requests"],
                    r["errors"],
                    r["rps"],
                    r["p50_ms"],
                    r["p95_ms"],
                    r["backends"],
                    r["backend_rss_anon_kib_max"],
                ]
                for r in pages
            ],
        )
    results["pages"] = pages
    print()
    c.print_table(
        ["step", "tenants", "cold p50 ms", "cold p95 ms", "spare p50 ms", "pg_class", "catalog MiB"]
        + ["pg_dump s"],
        [
            [
                s["step"],
                s["existing_at_start"],
                s["cold"]["p50"] * 1000,
                s["cold"]["p95"] * 1000,
                s["spare"]["p50"] * 1000 if s["spare"] else "",
                s["catalog"]["pg_class_rows"],
                s["catalog"]["catalog_bytes"] / 2**20,
                (f"{s['dump_all']['seconds']:.1f}" if s["dump_all"]["ok"] else "not run / failed")
                if "dump_all" in s
                else "",
            ]
            for s in results["steps"]
        ],
    )
    noop = statistics.median(results["migrate"]["noop_seconds"])
    results["wall_seconds"] = time.perf_counter() - run_started
    results["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    path = c.record("tenant_scale", argv, {"environment": env, **results})
    print(f"\nwall time {results['wall_seconds']:.0f} s; results appended to {path}")
    return 0 if noop < NOOP_TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
