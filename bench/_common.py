"""Shared plumbing of the benchmarks: services, app, statistics, output."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from config import BASE_DIR, DevelopmentConfig

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_INSTANCE_DIR = BASE_DIR / "instance" / "bench"
DEFAULT_DB_NAME = "gigforge_bench"
FORBIDDEN_DB_NAMES = ("gigforge", "gigforge_test")
BENCH_SLUG_PREFIX = "bench-"

# argon2-cffi's cheap parameters (what the test suite uses), for comparison runs only.
CHEAP_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}


def add_service_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("services (default: embedded, under instance/bench)")
    group.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="PostgreSQL URL of a dedicated database (created if missing); env BENCH_DATABASE_URL",
    )
    group.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL"), help="env BENCH_REDIS_URL")
    group.add_argument("--instance-dir", default=str(DEFAULT_INSTANCE_DIR), help="embedded servers' home")
    group.add_argument("--db-name", default=DEFAULT_DB_NAME, help="embedded database name")
    group.add_argument("--reset", action="store_true", help="drop and recreate the benchmark database first")
    group.add_argument(
        "--argon2",
        choices=("production", "cheap"),
        default="production",
        help="password hashing parameters for created admins (default: the real config)",
    )


class Services:
    """The PostgreSQL and Redis URLs a benchmark uses, started when embedded."""

    def __init__(self, args: argparse.Namespace):
        self.embedded_postgres = not args.database_url
        self.embedded_redis = not args.redis_url
        self.instance_dir = Path(args.instance_dir).resolve()
        if self.embedded_postgres:
            from app.core.embedded import start_postgres

            self._refuse(args.db_name)
            if getattr(args, "reset", False):
                _drop_database(start_postgres(self.instance_dir, "postgres"), args.db_name)
            self.database_url = start_postgres(self.instance_dir, args.db_name)
        else:
            url = _psycopg_url(args.database_url)
            if getattr(args, "reset", False):
                _drop_database(url, sa.engine.make_url(url).database)
            self.database_url = _ensure_database(url)
        if self.embedded_redis:
            from app.core.embedded import start_redis

            self.redis_url = start_redis(self.instance_dir)
            if getattr(args, "reset", False):  # stale branding caches of the dropped tenants
                import redis

                redis.Redis.from_url(self.redis_url).flushdb()
        else:
            self.redis_url = args.redis_url

    @staticmethod
    def _refuse(name: str) -> None:
        if name in FORBIDDEN_DB_NAMES or name.startswith("gigforge_test"):
            sys.exit(f"refusing to benchmark against {name!r}: pick a dedicated database")


def _psycopg_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _drop_database(url: str, name: str) -> None:
    Services._refuse(name)
    admin = sa.create_engine(sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def _ensure_database(url: str) -> str:
    """Create the database of ``url`` when it does not exist yet."""
    parsed = sa.engine.make_url(url)
    Services._refuse(parsed.database or "")
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": parsed.database}
            ).first()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    finally:
        admin.dispose()
    return url


def make_app(services: Services, argon2: str = "production", **overrides):
    """A development-config app bound to the benchmark's services."""
    from app import create_app

    attrs = {
        "SQLALCHEMY_DATABASE_URI": services.database_url,
        "REDIS_URL": services.redis_url,
        "INSTANCE_DIR": str(services.instance_dir),
        "LOG_LEVEL": "WARNING",
        **(CHEAP_ARGON2 if argon2 == "cheap" else {}),
        **overrides,
    }
    config_class = type("BenchConfig", (DevelopmentConfig,), attrs)
    from app.core.startup import collector_paused

    with collector_paused():  # as wsgi.py builds a served worker's app
        return create_app(config_class)


def ensure_public_schema() -> None:
    """Bring ``public`` to head (tenants are then created at the tenant head)."""
    from tenants.migrations import upgrade_public

    upgrade_public()


def tenant_count() -> int:
    from tenants.db import db

    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM public.tenants")).scalar_one()


def next_bench_index() -> int:
    """1 + the highest number used in a ``bench-NNNNN`` slug."""
    from tenants.db import db

    with db.engine.connect() as conn:
        last = conn.execute(
            sa.text("SELECT max(slug) FROM public.tenants WHERE slug LIKE :p"),
            {"p": BENCH_SLUG_PREFIX + "%"},
        ).scalar_one()
    return int(last[len(BENCH_SLUG_PREFIX) :]) + 1 if last else 1


def create_bench_tenant(index: int):
    """Create tenant ``bench-NNNNN`` through the real provisioning path."""
    from flask import current_app

    from tenants.provisioning import create_tenant

    slug = f"{BENCH_SLUG_PREFIX}{index:05d}"
    return create_tenant(
        slug,
        f"Bench Marketplace {index}",
        base_domain=current_app.config["BASE_DOMAIN"],
        options={"admin_email": f"admin@{slug}.test"},
    )


def fill_tenants(target: int, *, progress_every: int = 100) -> list[float]:
    """Create bench tenants until there are ``target`` tenants; returns each creation's seconds."""
    timings = []
    index = next_bench_index()
    count = tenant_count()
    while count < target:
        started = time.perf_counter()
        create_bench_tenant(index)
        timings.append(time.perf_counter() - started)
        index += 1
        count += 1
        if progress_every and count % progress_every == 0:
            print(f"  ... {count} tenants", flush=True)
    return timings


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: a reported value was measured)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarize(values: list[float]) -> dict:
    return {
        "n": len(values),
        "min": min(values),
        "p50": statistics.median(values),
        "p95": percentile(values, 95),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def print_table(headers: list[str], rows: list[list]) -> None:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        padded = (c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        print("  ".join(padded))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 100 else f"{value:.0f}"
    return str(value)


def _yardstick_work() -> int:
    """A fixed slice of the kind of work a request does in Python: dicts, calls, f-strings, a
    sort. Never changed: its time is only comparable with itself."""
    counts: dict[str, int] = {}
    total = 0
    for i in range(20_000):
        key = f"k{i % 97}:{i % 7}"
        counts[key] = counts.get(key, 0) + i
        total += len(key)
    return total + len(sorted(counts.items(), key=lambda kv: (kv[1], kv[0])))


def python_yardstick_ms(repeat: int = 7) -> float:
    """How fast this machine runs Python now: the best of ``repeat`` timings of a fixed
    workload, in ms (lower is faster). The same code took 2.2-3x the CPU per order on one
    machine of this kind as on another the same day (5 December 2026, docs/benchmarks.md,
    "Eighth sitting"): numbers from different sittings compare only beside their yardsticks."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        _yardstick_work()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 2)


def interpreter() -> str:
    """The Python that runs the benchmark: its executable and whether it calls the interpreter
    through a shared libpython (a default pyenv build; Debian's /usr/bin/python3.11 is linked
    statically, with PGO and LTO: the yardstick runs ~24 % faster on it, an order -> paid with
    13 % fewer instructions; docs/design/performance.md, "The interpreter"). Yardsticks of
    different builds do not compare."""
    executable = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    shared = False
    try:
        with open("/proc/self/maps") as fh:
            shared = any("libpython" in line for line in fh)
    except OSError:  # not Linux: unknown, say so
        return f"{executable} {platform.python_version()}"
    return f"{executable} {platform.python_version()} ({'shared' if shared else 'static'} libpython)"


def environment(services: Services) -> dict:
    """What the numbers were measured on."""
    from tenants.db import db
    from tenants.migrations import tenant_head, tenant_tables

    with db.engine.connect() as conn:
        pg_version = conn.execute(sa.text("SHOW server_version")).scalar_one()
        fsync = conn.execute(sa.text("SHOW fsync")).scalar_one()
    mem_gib = None
    try:
        with open("/proc/meminfo") as fh:
            mem_gib = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "mem_gib": mem_gib,
        "python": platform.python_version(),
        "python_interpreter": interpreter(),
        "postgresql": pg_version,
        "postgresql_fsync": fsync,
        "postgresql_embedded": services.embedded_postgres,
        "redis_embedded": services.embedded_redis,
        "tenant_head": tenant_head(),
        "tenant_tables": len(tenant_tables()),
        # Other work on the machine skews everything: keep the load next to the numbers.
        "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
        # ... and the machine's own speed (machines of one kind differ: ``python_yardstick_ms``).
        "python_yardstick_ms": python_yardstick_ms(),
    }


def record(name: str, argv: list[str], payload: dict) -> Path:
    """Append one run to ``bench/results/<name>.jsonl``; returns the path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.jsonl"
    entry = {
        "benchmark": name,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "-m", f"bench.{name}", *argv]),
        **payload,
    }
    with open(path, "a") as fh:
        fh.write(json.dumps(entry) + "\n")
    env = payload.get("environment") or {}
    if "python_yardstick_ms" in env:  # to copy beside the numbers into docs/benchmarks.md
        print(
            f"machine: Python yardstick {env['python_yardstick_ms']} ms (lower is faster), "
            f"load {env.get('loadavg_1m_at_start')} at start, {os.getloadavg()[0]:.2f} now; "
            f"{env.get('python_interpreter') or interpreter()}"
        )
    return path
