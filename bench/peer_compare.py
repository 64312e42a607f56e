"""Gigforge beside django-tenants: tenant creation, no-op migration, a one-row request (#21).

One run, one PostgreSQL server, two databases (``--db-name``, default ``gigforge_bench_peer``,
and ``--peer-db-name``, default ``djt_bench_peer``). The peer is the Django project in
``bench/peer/django_tenants/`` (tenant schema of as many tables as Gigforge's, of the same
shape: see its ``marketplace/models.py``), run with its own venv (``make bench-peer`` builds
``bench/peer/.venv`` and runs this script).

1. Creation: ``--tenants`` tenants on each side, in alternating batches of ``--batch`` (so
   a change of load hits both). Gigforge: ``create_tenant`` in this process (no spare
   schemas: it builds the schema itself; ``--argon2 cheap`` by default, so its admin's
   password hash does not count, the peer has no users). django-tenants:
   ``Client.save()`` (``CREATE SCHEMA`` + ``migrate_schemas``), its domain and one row, in a
   ``manage.py`` process per batch; ``--peer-clone`` of them (spread over the run) with
   django-tenants' cloning option instead (``TENANT_BASE_SCHEMA`` + ``TENANT_CREATION_FAKES_MIGRATIONS``).
   Each creation is timed inside its process.
2. No-op migration over the population, ``--repeat`` times each: Gigforge's ``migrate_all``
   with ``--jobs`` processes (what ``flask tenants migrate`` runs), django-tenants'
   ``migrate_schemas`` with its standard executor and with its multiprocessing executor of
   ``--jobs`` processes; timed inside the process (the peer's ``manage.py`` start-up is
   reported apart).
3. Requests: both servers under gunicorn (gthread, ``--workers`` x ``--threads``; the peer's
   gunicorn from its venv), driven by ``bench.request_throughput``'s closed-loop load
   generator, ``--rounds`` rounds alternating between the servers: Gigforge's
   ``GET /api/v1/categories`` and the peer's ``GET /api/v1/category`` (one category row as
   JSON) on the first tenant's host, and each server's ``/healthz``.

    make bench-peer BENCH_PEER_ARGS="--reset"
    .venv/bin/python -m bench.peer_compare --reset --tenants 50 --peer-clone 10 --repeat 3
    .venv/bin/python -m bench.peer_compare --print-shapes   # Gigforge's tenant tables, for the peer
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from bench._common import (
    Services,
    _drop_database,
    _ensure_database,
    add_service_args,
    create_bench_tenant,
    ensure_public_schema,
    environment,
    make_app,
    next_bench_index,
    print_table,
    record,
    summarize,
    tenant_count,
)
from bench.request_throughput import LOOPBACK, Server, drive, free_port

BENCH_DIR = Path(__file__).resolve().parent
PEER_DIR = BENCH_DIR / "peer" / "django_tenants"
PEER_PYTHON = BENCH_DIR / "peer" / ".venv" / "bin" / "python"
PEER_BASE_SCHEMA = "peer_base"
GIGFORGE = "Gigforge"
PEER = "django-tenants"


def parse_args(argv: list[str]) -> argparse.Namespace:
    from tenants.migrations import default_jobs

    parser = argparse.ArgumentParser(prog="bench.peer_compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=50, help="tenants created on each side")
    parser.add_argument("--peer-clone", type=int, default=10, help="of which the peer clones the last N")
    parser.add_argument("--batch", type=int, default=5, help="creations per turn")
    parser.add_argument("--repeat", type=int, default=3, help="no-op migrations timed on each side")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="migration processes, both sides")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per endpoint and round"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    parser.add_argument("--rounds", type=int, default=2, help="request rounds, alternating the servers")
    parser.add_argument("--concurrency", type=int, default=16, help="load generator connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--peer-python", default=str(PEER_PYTHON), help="the peer venv's python")
    parser.add_argument("--peer-db-name", default="djt_bench_peer", help="the peer's database (same server)")
    parser.add_argument("--print-shapes", action="store_true", help="print Gigforge's tenant tables and stop")
    add_service_args(parser)
    parser.set_defaults(db_name="gigforge_bench_peer", argon2="cheap")
    return parser.parse_args(argv)


# --- the peer ----------------------------------------------------------------------


class Peer:
    """``manage.py`` of the django-tenants project, on the peer's database."""

    def __init__(self, python: str, database_url: str):
        url = sa.engine.make_url(database_url)
        socket_dir = url.query.get("host")
        self.python = python
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "peer_project.settings",
            "PEER_DB_NAME": url.database or "",
            "PEER_DB_HOST": url.host or (socket_dir if isinstance(socket_dir, str) else ""),
            "PEER_DB_PORT": str(url.port or ""),
            "PEER_DB_USER": url.username or "",
            "PEER_DB_PASSWORD": url.password or "",
        }

    def manage(self, *args: str, **env: str) -> tuple[dict | None, float]:
        """Run a command; returns its last stdout line as JSON (None if not JSON) and the wall seconds."""
        started = time.perf_counter()
        done = subprocess.run(
            [self.python, "manage.py", *args],
            cwd=PEER_DIR,
            env={**self.env, **env},
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"peer: manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        lines = done.stdout.strip().splitlines()
        try:
            return json.loads(lines[-1]) if lines else None, wall
        except json.JSONDecodeError:
            return None, wall


class PeerServer(Server):
    """The peer under gunicorn (from its venv), same settings as Gigforge's server."""

    def __init__(self, peer: Peer, args: argparse.Namespace):  # Server's helpers, not its command
        self.port = free_port()
        cmd = [
            peer.python,
            "-m",
            "gunicorn",
            "--worker-class",
            "gthread",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--bind",
            f"{LOOPBACK}:{self.port}",
            "--log-level",
            "warning",
            "peer_project.wsgi:application",
        ]
        self._launch(cmd, PEER_DIR, peer.env, args.workers)


# --- Gigforge's tenant schema ------------------------------------------------------


def schema_tables(schema: str) -> int:
    from tenants.db import db

    with db.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"), {"s": schema}
        ).scalar_one()


def shapes(schema: str) -> list[tuple[str, int, list[str], int]]:
    """Per table of ``schema`` (but alembic_version): columns, foreign-key targets, further indexes."""
    from tenants.db import db

    out = []
    with db.engine.connect() as conn:
        tables = (
            conn.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = :s AND table_name <> 'alembic_version' ORDER BY 1"
                ),
                {"s": schema},
            )
            .scalars()
            .all()
        )
        for table in tables:
            params = {"s": schema, "t": table}
            columns = conn.execute(
                sa.text(
                    "SELECT count(*) FROM information_schema.columns "
                    "WHERE table_schema = :s AND table_name = :t"
                ),
                params,
            ).scalar_one()
            targets = (
                conn.execute(
                    sa.text(
                        "SELECT ccu.table_name FROM information_schema.table_constraints tc "
                        "JOIN information_schema.constraint_column_usage ccu "
                        "ON ccu.constraint_name = tc.constraint_name "
                        "AND ccu.constraint_schema = tc.constraint_schema "
                        "WHERE tc.table_schema = :s AND tc.table_name = :t "
                        "AND tc.constraint_type = 'FOREIGN KEY' ORDER BY tc.constraint_name"
                    ),
                    params,
                )
                .scalars()
                .all()
            )
            indexes = conn.execute(
                sa.text("SELECT count(*) FROM pg_indexes WHERE schemaname = :s AND tablename = :t"), params
            ).scalar_one()
            out.append((table, columns, list(targets), max(0, indexes - 1 - len(targets))))
    return out


def spare_count() -> int:
    from tenants.db import db

    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM public.tenant_spare_schemas")).scalar_one()


# --- the three measures ------------------------------------------------------------


def create_both(args, peer: Peer) -> dict:
    """Alternating batches; returns the timings of each side and what was created."""
    gigforge: list[float] = []
    peer_runs: dict[str, list[float]] = {"migrations": [], "clone": []}
    first = None
    peer_info: dict = {}
    index = next_bench_index()
    # The peer's clones spread evenly over the run (not all at its end, where the load differs).
    clones = [
        (j + 1) * args.peer_clone // args.tenants > j * args.peer_clone // args.tenants
        for j in range(args.tenants)
    ]
    made = 0
    while made < args.tenants:
        size = min(args.batch, args.tenants - made)
        for _ in range(size):
            started = time.perf_counter()
            result = create_bench_tenant(index)
            gigforge.append(time.perf_counter() - started)
            first = first or result
            index += 1
        # The peer's batch: one manage.py process per run of creations of one mode.
        for clone, group in itertools.groupby(clones[made : made + size]):
            extra = {"PEER_BASE_SCHEMA": PEER_BASE_SCHEMA} if clone else {}
            out, _ = peer.manage(
                "peer_create_tenants",
                "--count",
                str(len(list(group))),
                *(["--clone"] if clone else []),
                **extra,
            )
            peer_runs[out["mode"]] += out["seconds"]
            peer_info.setdefault("tables", out["tables"])
            peer_info.setdefault("first_host", f"bench-{out['first']:05d}.localhost")
            peer_info.update(versions=out["versions"], tenants=out["tenants"])
        made += size
        print(f"  ... {made}/{args.tenants} tenants on each side", flush=True)
    return {
        "gigforge": gigforge,
        "gigforge_first": first,
        "peer": peer_runs,
        "peer_info": peer_info,
    }


def migrate_both(args, peer: Peer) -> dict:
    from tenants.migrations import migrate_all

    runs: dict[str, list[float]] = {GIGFORGE: [], "standard": [], "multiprocessing": []}
    walls: dict[str, list[float]] = {"standard": [], "multiprocessing": []}
    checked = schemas = 0
    for _ in range(args.repeat):
        report = migrate_all(jobs=args.jobs)
        if report.upgraded or report.failed:
            print(f"note: Gigforge's run was not a no-op ({len(report.upgraded)} upgraded)")
        runs[GIGFORGE].append(report.seconds)
        checked = report.checked
        for executor in ("standard", "multiprocessing"):
            out, wall = peer.manage(
                "peer_migrate_noop", "--executor", executor, PEER_MIGRATION_PROCESSES=str(args.jobs)
            )
            runs[executor].append(out["seconds"])
            walls[executor].append(wall)
            schemas = out["schemas"]
    startup = statistics.median(peer.manage("check")[1] for _ in range(3))
    return {
        "seconds": runs,
        "peer_walls": walls,
        "gigforge_tenants": checked,
        "peer_schemas": schemas,
        "peer_startup": startup,
    }


def serve_both(services, args, peer: Peer, gigforge_host: str, peer_host: str) -> list[dict]:
    # The anonymous reads' budgets raised out of the way, as bench.request_throughput does.
    unlimited = {
        f"RATELIMIT_API_{plan}_{limit}": "10000000/minute"
        for plan in ("STANDARD", "GROWTH", "SCALE")
        for limit in ("CREDENTIAL_READ", "IP_READ")
    }
    gigforge = Server(services, args, "wsgi:app", TENANT_CACHE_TTL="5", **unlimited)
    try:
        djt = PeerServer(peer, args)
    except Exception:
        gigforge.stop()
        raise
    endpoints = [
        (GIGFORGE, gigforge, "/api/v1/categories", gigforge_host),
        (PEER, djt, "/api/v1/category", peer_host),
        (GIGFORGE, gigforge, "/healthz", LOOPBACK),
        (PEER, djt, "/healthz", LOOPBACK),
    ]
    try:
        for label, server, path, host in endpoints:
            status, body = server.get(path, host)
            if status != 200:
                raise RuntimeError(f"{label}: GET {path} on {host} answered {status}: {body[:200]!r}")
        print(f"[{GIGFORGE}] {gigforge.command}\n[{PEER}] {djt.command}", flush=True)
        results = []
        for round_no in range(1, args.rounds + 1):
            order = endpoints if round_no % 2 else [*endpoints[1::-1], *endpoints[:1:-1]]
            for label, server, path, host in order:
                result = drive(
                    server.port,
                    path,
                    host,
                    concurrency=args.concurrency,
                    warmup=args.warmup,
                    duration=args.duration,
                )
                result.update(server=label, round=round_no)
                results.append(result)
                print(f"  round {round_no} {label} {host}{path}: {result['rps']:.0f} req/s", flush=True)
        return results
    finally:
        djt.stop()
        gigforge.stop()


# --- the run -----------------------------------------------------------------------


def ms(values: list[float], key: str) -> float:
    return summarize(values)[key] * 1000 if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.peer_clone > args.tenants:
        sys.exit("--peer-clone cannot exceed --tenants")
    if not args.print_shapes and not Path(args.peer_python).exists():
        sys.exit(f"no {args.peer_python}: `make bench-peer` builds the peer's venv")
    services = Services(args)
    app = make_app(services, args.argon2)
    with app.app_context():
        ensure_public_schema()
        if args.print_shapes:
            from tenants.db import db

            if tenant_count() == 0:
                create_bench_tenant(next_bench_index())
            with db.engine.connect() as conn:
                schema = conn.execute(sa.text("SELECT min(schema_name) FROM public.tenants")).scalar_one()
            for shape in shapes(schema):
                print(f"    {shape!r},")
            return 0
        env = environment(services)
        peer_url = (
            sa.engine.make_url(services.database_url)
            .set(database=args.peer_db_name)
            .render_as_string(hide_password=False)
        )
        if args.reset:
            _drop_database(peer_url, args.peer_db_name)
        _ensure_database(peer_url)
        peer = Peer(args.peer_python, peer_url)
        peer.manage("migrate_schemas", "--shared", "--verbosity", "0")
        spares = spare_count()
        print(
            f"creating {args.tenants} tenants on each side "
            f"(Gigforge: {tenant_count()} exist, {spares} spares)",
            flush=True,
        )
        created = create_both(args, peer)
        first = created["gigforge_first"]
        gigforge_tables = schema_tables(first.tenant.schema)
        peer_info = created["peer_info"]
        if gigforge_tables != peer_info["tables"]:
            print(
                f"!!! the tenant schemas differ: Gigforge {gigforge_tables} tables, the peer "
                f"{peer_info['tables']}: regenerate the peer's SHAPES (--print-shapes) !!!"
            )
        print(f"no-op migrations, {args.repeat} on each side", flush=True)
        migrations = migrate_both(args, peer)
        from tenants.db import db

        db.engine.dispose()
    requests = serve_both(services, args, peer, first.hostnames[0], peer_info["first_host"])

    rps = {
        (label, kind): statistics.fmean(
            r["rps"]
            for r in requests
            if r["server"] == label and (r["path"] == "/healthz") == (kind == "healthz")
        )
        for label in (GIGFORGE, PEER)
        for kind in ("read", "healthz")
    }
    creation = {
        GIGFORGE: created["gigforge"],
        f"{PEER} (migrations)": created["peer"]["migrations"],
        f"{PEER} (clone)": created["peer"]["clone"],
    }
    noop = migrations["seconds"]
    gig_create = ms(creation[GIGFORGE], "p50")
    gig_noop = statistics.median(noop[GIGFORGE])
    rows = [
        ["tenant creation p50 ms", "Gigforge", len(creation[GIGFORGE]), gig_create, ""],
        ["tenant creation p95 ms", "Gigforge", len(creation[GIGFORGE]), ms(creation[GIGFORGE], "p95"), ""],
    ]
    for label in (f"{PEER} (migrations)", f"{PEER} (clone)"):
        if creation[label]:
            rows += [
                ["tenant creation p50 ms", label, len(creation[label]), ms(creation[label], "p50"),
                 f"{ms(creation[label], 'p50') / gig_create:.1f}"],
                ["tenant creation p95 ms", label, len(creation[label]), ms(creation[label], "p95"),
                 f"{ms(creation[label], 'p95') / ms(creation[GIGFORGE], 'p95'):.1f}"],
            ]  # fmt: skip
    rows.append(
        [
            "no-op migration s (median)",
            f"Gigforge, {args.jobs} jobs",
            migrations["gigforge_tenants"],
            gig_noop,
            "",
        ]
    )
    for executor, label in (("standard", "standard"), ("multiprocessing", f"multiprocessing, {args.jobs}")):
        seconds = statistics.median(noop[executor])
        rows.append(
            ["no-op migration s (median)", f"{PEER}, {label}", migrations["peer_schemas"] - 1, seconds,
             f"{seconds / gig_noop:.1f}"]
        )  # fmt: skip
    for kind, name in (("read", "one-row read req/s"), ("healthz", "/healthz req/s")):
        rows += [
            [name, GIGFORGE, "", rps[GIGFORGE, kind], ""],
            [name, PEER, "", rps[PEER, kind], f"{rps[GIGFORGE, kind] / rps[PEER, kind]:.2f}"],
        ]
    print()
    print_table(["measure", "side", "n / tenants", "value", "Gigforge ×"], rows)
    print(
        "\nGigforge × = how many times better Gigforge is (peer time / Gigforge time, Gigforge req/s / "
        f"peer req/s). Tenant tables: Gigforge {gigforge_tables}, peer {peer_info['tables']}; "
        f"the peer's manage.py start-up (not in its times): {migrations['peer_startup']:.2f} s"
    )
    path = record(
        "peer_compare",
        argv,
        {
            "environment": {**env, "peer_versions": peer_info["versions"], "spares_at_start": spares},
            "tenant_tables": {GIGFORGE: gigforge_tables, PEER: peer_info["tables"]},
            "creation_seconds": creation,
            "creation": {label: summarize(v) for label, v in creation.items() if v},
            "noop_migration": migrations,
            "requests": requests,
            "rps_mean": {f"{label} {kind}": value for (label, kind), value in rps.items()},
            "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
        },
    )
    print(f"results appended to {path}")
    return 0 if all(r["errors"] == 0 for r in requests) else 1


if __name__ == "__main__":
    sys.exit(main())
