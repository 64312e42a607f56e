"""Benchmarks (never run by the test suite). See docs/benchmarks.md.

Each module runs as ``.venv/bin/python -m bench.<name> [options]``, prints a
small table and appends its results to ``bench/results/<name>.jsonl``.
By default everything runs against a dedicated embedded PostgreSQL and Redis
under ``instance/bench`` (database ``gigforge_bench``), never the dev or test
databases; ``--database-url`` / ``--redis-url`` (or ``BENCH_DATABASE_URL`` /
``BENCH_REDIS_URL``) point them at other servers.
"""
