"""Whole-process start-up of the tenant commands (target: ``flask --app wsgi tenants create``
< 0.7 s as a whole process).

Every round runs these as separate processes, one after the other, so that all of them share
the machine's load of that moment (the ratios between them are what a loaded machine keeps):

- ``python -c pass``: the interpreter alone;
- the libraries' floor: ``python -c "import flask, flask_sqlalchemy, sqlalchemy.orm, psycopg"``
  (what any tenant command needs before our code: below it only by not using Flask; a
  creation imports neither redis-py nor RQ since 5 December 2026);
- ``python -c "import wsgi"``: the whole app, as gunicorn loads it;
- ``flask --app wsgi tenants --help``: the lean app of the tenant commands, no database;
- ``flask --app wsgi tenants create <slug>``: the lean app, a spare schema ready;
- ``flask --app "app:create_app()" tenants create <slug>``: the same command on the whole
  app (what ``flask --app wsgi tenants create`` ran before the lean app).

The bytecode cache is warmed first (one untimed round, ``PYTHONDONTWRITEBYTECODE`` removed from
the children's environment: the sessions' shells set it, which makes every import compile from
source). ``--spares`` (default) builds a spare schema for every creation first
(``tenants spares``); ``--no-spares`` times creations that build their schema. The created
tenants, and the admin invitations a creation on the whole app queued, are removed at the end. With
``--importtime`` one more lean creation runs under ``python -X importtime`` and the imports it
still pays for are listed (by top-level package, and the slowest modules).

    .venv/bin/python -m bench.cli_startup --database-url postgresql://postgres@127.0.0.1/gf_bench \\
        --redis-url redis://127.0.0.1:6379/14 --runs 15 --importtime
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench import _common as c
from config import BASE_DIR

TARGET_SECONDS = 0.7
SLUG_PREFIX = "clibench-"
PYTHON = sys.executable
FLASK = str(Path(sys.executable).parent / "flask")
FLOOR_IMPORTS = "import flask, flask_sqlalchemy, sqlalchemy.orm, psycopg"
WHOLE_APP = "python -c 'import wsgi' (the whole app)"
CREATED_RE = re.compile(r"Created tenant \S+ .* in (\d+) ms")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.cli_startup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument(
        "--spares",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a spare schema ready for every creation (default; --no-spares: build each schema)",
    )
    parser.add_argument("--no-full", action="store_true", help="skip the whole app's `tenants create`")
    parser.add_argument("--importtime", action="store_true", help="list what a lean creation still imports")
    c.add_service_args(parser)
    return parser.parse_args(argv)


def child_env(services: c.Services) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIGFORGE_", "PYTEST", "TEST_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode, as a deployed process has it
    env.update(
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        INSTANCE_DIR=str(services.instance_dir),
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(BASE_DIR),
    )
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of one process; a failure stops the benchmark.

    The CPU time (user + system, of the process and its children) moves far less with the
    neighbours' load than the wall time does: on a busy machine it is the steadier figure."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-3000:]}")
    return elapsed, cpu, result.stdout


def commands(slug_of, full: bool) -> list[tuple[str, callable]]:
    """(label, round -> argv) of every measured command."""
    create_args = ["tenants", "create"]
    rows = [
        ("python -c pass", lambda i: [PYTHON, "-c", "pass"]),
        (
            "libraries' floor (import flask, SQLAlchemy, psycopg)",
            lambda i: [PYTHON, "-c", FLOOR_IMPORTS],
        ),
        (WHOLE_APP, lambda i: [PYTHON, "-c", "import wsgi"]),
        ("flask --app wsgi tenants --help", lambda i: [FLASK, "--app", "wsgi", "tenants", "--help"]),
        (
            "flask --app wsgi tenants create (lean)",
            lambda i: [FLASK, "--app", "wsgi", *create_args, slug_of("l", i), "--name", "CLI bench"],
        ),
    ]
    if full:
        rows.append(
            (
                "flask --app 'app:create_app()' tenants create (whole app)",
                lambda i: [
                    FLASK,
                    "--app",
                    "app:create_app()",
                    *create_args,
                    slug_of("f", i),
                    "--name",
                    "CLI bench",
                ],
            )
        )
    return rows


def importtime_report(argv: list[str], env: dict[str, str], top: int = 25) -> dict:
    """One run under ``-X importtime``: self time by top-level package, then the slowest modules."""
    result = subprocess.run(
        [PYTHON, "-X", "importtime", *argv],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        sys.exit(f"importtime run failed:\n{result.stderr[-3000:]}")
    by_package: dict[str, int] = defaultdict(int)
    modules: list[tuple[int, int, str]] = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        module = name.strip()
        by_package[module.split(".")[0]] += int(own)
        modules.append((int(cumulative), int(own), module))
    total = sum(by_package.values())
    print(f"\n-X importtime of one lean creation: {total / 1e6:.3f} s of imports, {len(modules)} modules")
    rows = [
        [pkg, us / 1e6, f"{100 * us / total:.0f}%"]
        for pkg, us in sorted(by_package.items(), key=lambda kv: -kv[1])
    ]
    c.print_table(["package (self time)", "s", "share"], rows[:top])
    print()
    slowest = sorted(modules, key=lambda m: -m[1])[:top]
    c.print_table(
        ["module (slowest own time)", "self s", "cumulative s"],
        [[m, o / 1e6, cu / 1e6] for cu, o, m in slowest],
    )
    return {
        "total_seconds": total / 1e6,
        "modules": len(modules),
        "by_package_seconds": {pkg: seconds for pkg, seconds, _share in rows[:top]},
    }


def cleanup(env: dict[str, str]) -> str:
    """Drop the bench's tenants (and the admin invitations queued by their creation on the whole
    app; a lean creation leaves its invitation to the worker's relay)."""
    code = f"""
import sqlalchemy as sa
from app import create_cli_app
from app.extensions import get_queue
from tenants import provisioning
from tenants.db import db

app = create_cli_app()
with app.app_context():
    rows = db.session.execute(
        sa.text("SELECT id, slug FROM public.tenants WHERE slug LIKE :p"), {{"p": "{SLUG_PREFIX}%"}}
    ).all()
    db.session.rollback()
    for _id, slug in rows:
        provisioning.drop_tenant(slug)
    # Their admins' invitations: the deliveries of their `tenant.created` events.
    dropped, queue, removed = {{tenant_id for tenant_id, _slug in rows}}, get_queue(), 0
    for job in queue.get_jobs():
        if job.func_name == "app.events.tasks.deliver_event" and job.args and job.args[0] in dropped:
            job.delete()
            removed += 1
    print(f"dropped {{len(rows)}} tenant(s), removed {{removed}} queued invitation(s)")
"""
    return run([PYTHON, "-c", code], env)[2].strip()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    services = c.Services(args)
    env = child_env(services)
    app = c.make_app(services)
    with app.app_context():
        c.ensure_public_schema()
        environment = c.environment(services)
    run_id = f"{os.getpid():x}{int(time.time()) % 100000:05d}"

    def slug_of(kind: str, index: int) -> str:
        return f"{SLUG_PREFIX}{run_id}-{kind}{index}"

    measured = commands(slug_of, full=not args.no_full)
    creations_per_round = sum(1 for label, _ in measured if "create" in label)
    if args.spares:
        spares = (args.runs + 1) * creations_per_round + (1 if args.importtime else 0)
        run([FLASK, "--app", "wsgi", "tenants", "spares", "--count", str(spares)], env)
        print(f"{spares} spare schemas ready")

    print(f"warming the bytecode cache (one untimed round), then {args.runs} rounds; load {os.getloadavg()}")
    for _label, make in measured:
        run(make(0), env)
    timings: dict[str, list[float]] = defaultdict(list)
    cpu_times: dict[str, list[float]] = defaultdict(list)
    in_process: dict[str, list[float]] = defaultdict(list)
    loads = [os.getloadavg()[0]]
    try:
        for i in range(1, args.runs + 1):
            for label, make in measured:
                seconds, cpu, out = run(make(i), env)
                timings[label].append(seconds)
                cpu_times[label].append(cpu)
                if match := CREATED_RE.search(out):
                    in_process[label].append(int(match.group(1)) / 1000)
            loads.append(os.getloadavg()[0])
        importtime = None
        if args.importtime:
            lean = next(make for label, make in measured if "(lean)" in label)
            importtime = importtime_report(lean(args.runs + 1), env)
    finally:
        print(cleanup(env))

    print(f"\nwhole process, {args.runs} rounds; load average (1 min) {min(loads):.2f}-{max(loads):.2f}")
    rows = []
    wsgi = statistics.median(timings[WHOLE_APP])
    wsgi_cpu = statistics.median(cpu_times[WHOLE_APP])
    for label, values in timings.items():
        summary = c.summarize(values)
        cpu = statistics.median(cpu_times[label])
        inside = statistics.median(in_process[label]) if in_process.get(label) else None
        rows.append(
            [
                label,
                summary["p50"],
                summary["p95"],
                summary["min"],
                f"{summary['p50'] / wsgi:.2f}",
                cpu,
                f"{cpu / wsgi_cpu:.2f}",
                "-" if inside is None else inside,
            ]
        )
    c.print_table(
        ["command", "p50 s", "p95 s", "min s", "/ wsgi", "CPU p50 s", "/ wsgi", "creation in-process p50 s"],
        rows,
    )
    lean_p50 = statistics.median(timings["flask --app wsgi tenants create (lean)"])
    verdict = "met" if lean_p50 < TARGET_SECONDS else "not met"
    print(f"\ntarget: whole-process `tenants create` < {TARGET_SECONDS} s: {verdict} (p50 {lean_p50:.3f} s)")
    c.record(
        "cli_startup",
        argv,
        {
            "environment": environment,
            "runs": args.runs,
            "spares": args.spares,
            "loadavg_1m": [round(x, 2) for x in loads],
            "whole_process": {label: c.summarize(values) for label, values in timings.items()},
            "cpu": {label: c.summarize(values) for label, values in cpu_times.items()},
            "creation_in_process": {label: c.summarize(values) for label, values in in_process.items()},
            "importtime": importtime,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
