"""``migrate_all`` over N tenants (default 1,000): no-op runs, and optionally a real one.

Target: a no-op run over 1,000 tenants takes seconds, not minutes. Tenants are
created (with ``create_tenant``) up to ``--tenants`` when missing.

``--real`` also times a real migration: a throwaway Alembic revision (add a
nullable column and an index to one tenant table) is written into a temporary
copy of ``migrations/`` and ``migrate_all`` applies it to every tenant schema
with ``--jobs`` processes. The benchmark then downgrades every schema back to
the repository head (timed too) and checks a no-op run is clean again.

    .venv/bin/python -m bench.migrate_noop --tenants 1000 --repeat 5 --real
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench._common import (
    Services,
    add_service_args,
    ensure_public_schema,
    environment,
    fill_tenants,
    make_app,
    print_table,
    record,
    tenant_count,
)

BENCH_REVISION = "bench_real_0001"
REVISION_TEMPLATE = '''"""bench only: a real schema change applied to every tenant schema"""

from alembic import op
import sqlalchemy as sa

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade():
    op.add_column({table!r}, sa.Column("bench_note", sa.String(40), nullable=True))
    op.create_index("ix_{table}_bench_note", {table!r}, ["bench_note"])


def downgrade():
    op.drop_index("ix_{table}_bench_note", table_name={table!r})
    op.drop_column({table!r}, "bench_note")
'''


def parse_args(argv: list[str]) -> argparse.Namespace:
    from tenants.migrations import default_jobs

    parser = argparse.ArgumentParser(prog="bench.migrate_noop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000, help="tenant population to migrate")
    parser.add_argument("--repeat", type=int, default=5, help="no-op runs to time")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="migrate_all worker processes")
    parser.add_argument("--real", action="store_true", help="also time a real migration (and revert it)")
    add_service_args(parser)
    return parser.parse_args(argv)


@contextmanager
def migrations_with_bench_revision(app):
    """A temporary copy of migrations/ whose tenant head is BENCH_REVISION."""
    from tenants.migrations import tenant_head, tenant_tables

    head = tenant_head()
    names = [t.name for t in tenant_tables()]
    table = "users" if "users" in names else names[0]
    with tempfile.TemporaryDirectory(prefix="gigforge-bench-migrations-") as tmp:
        directory = Path(tmp) / "migrations"
        shutil.copytree(app.config["MIGRATIONS_DIR"], directory, ignore=shutil.ignore_patterns("__pycache__"))
        (directory / "tenant" / "versions" / f"{BENCH_REVISION}.py").write_text(
            REVISION_TEMPLATE.format(revision=BENCH_REVISION, down_revision=head, table=table)
        )
        yield str(directory), head, table


@contextmanager
def migrations_dir(app, directory: str):
    original = app.config["MIGRATIONS_DIR"]
    app.config["MIGRATIONS_DIR"] = directory
    try:
        yield
    finally:
        app.config["MIGRATIONS_DIR"] = original


def _downgrade(job: tuple[str, str]) -> str | None:
    from alembic import command

    from tenants.db import db
    from tenants.migrations import alembic_config

    schema, revision = job
    cfg = alembic_config("tenant")
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
            cfg.attributes["connection"] = conn
            cfg.attributes["schema"] = schema
            command.downgrade(cfg, revision)
    except Exception as exc:
        return f"{schema}: {type(exc).__name__}: {exc}"
    return None


def _child_init(app):
    from tenants.db import db

    db.engine.dispose(close=False)
    app.app_context().push()


def revert_bench_revision(app, head: str, jobs: int) -> tuple[int, float, list[str]]:
    """Downgrade every schema still at BENCH_REVISION back to ``head``."""
    import sqlalchemy as sa

    from tenants.db import db
    from tenants.migrations import read_tenant_versions

    started = time.perf_counter()
    with db.engine.connect() as conn:
        schemas = conn.execute(sa.text("SELECT schema_name FROM public.tenants")).scalars().all()
    versions = read_tenant_versions(list(schemas))
    todo = [(s, head) for s, v in versions.items() if v == BENCH_REVISION]
    if not todo:
        return 0, 0.0, []
    db.engine.dispose(close=False)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(max(1, min(jobs, len(todo))), initializer=_child_init, initargs=(app,)) as pool:
        errors = [e for e in pool.map(_downgrade, todo, chunksize=8) if e]
    return len(todo), time.perf_counter() - started, errors


def real_migration(app, jobs: int) -> dict:
    from tenants.migrations import migrate_all

    with migrations_with_bench_revision(app) as (directory, head, table), migrations_dir(app, directory):
        reverted, _, errors = revert_bench_revision(app, head, jobs)  # leftovers of an aborted run
        if errors:
            raise RuntimeError(f"could not revert an earlier bench revision: {errors[:3]}")
        report = migrate_all(jobs=jobs)
        print(
            f"real migration ({table}: add column + index): {len(report.upgraded)} upgraded, "
            f"{len(report.failed)} failed, {report.seconds:.2f} s with {jobs} jobs"
        )
        reverted, revert_seconds, errors = revert_bench_revision(app, head, jobs)
        print(f"reverted {reverted} schemas to {head} in {revert_seconds:.2f} s ({len(errors)} errors)")
    return {
        "change": f"add nullable column + index on {table}",
        "jobs": jobs,
        "seconds": report.seconds,
        "upgraded": len(report.upgraded),
        "failed": len(report.failed),
        "per_tenant_ms": report.seconds / max(1, len(report.upgraded)) * 1000,
        "revert_seconds": revert_seconds,
        "revert_errors": errors[:5],
    }


def noop_runs(jobs: int, repeat: int) -> list:
    """``repeat`` runs of ``migrate_all`` (no-op when every schema is at head); their reports."""
    from tenants.migrations import migrate_all

    runs = []
    for _ in range(repeat):
        report = migrate_all(jobs=jobs)
        if report.upgraded or report.failed:
            print(f"note: this run was not a no-op ({len(report.upgraded)} upgraded)")
        runs.append(report)
    return runs


def main(argv: list[str] | None = None) -> int:
    from tenants.migrations import migrate_all

    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    services = Services(args)
    app = make_app(services, args.argon2)
    with app.app_context():
        ensure_public_schema()
        env = environment(services)
        if tenant_count() < args.tenants:
            print(f"creating tenants up to {args.tenants} (a few minutes for 1,000)", flush=True)
            fill_tenants(args.tenants)
        population = tenant_count()
        runs = noop_runs(args.jobs, args.repeat)
        seconds = [r.seconds for r in runs]
        print()
        print_table(
            ["run", "tenants checked", "upgraded", "failed", "seconds"],
            [[i + 1, r.checked, len(r.upgraded), len(r.failed), r.seconds] for i, r in enumerate(runs)],
        )
        print(
            f"\nno-op migrate_all over {population} tenants: median {statistics.median(seconds):.3f} s, "
            f"max {max(seconds):.3f} s"
        )
        real = real_migration(app, args.jobs) if args.real else None
        if real:
            after = migrate_all(jobs=args.jobs)
            print(f"no-op check after revert: {len(after.upgraded)} upgraded, {len(after.failed)} failed")
            real["clean_after_revert"] = not after.upgraded and not after.failed
        path = record(
            "migrate_noop",
            argv,
            {
                "environment": env,
                "tenants": population,
                "jobs": args.jobs,
                "noop_seconds": seconds,
                "noop_median_seconds": statistics.median(seconds),
                "noop_upgraded": [len(r.upgraded) for r in runs],
                "real_migration": real,
            },
        )
        print(f"results appended to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
