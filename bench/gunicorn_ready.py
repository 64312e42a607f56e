"""gunicorn configuration file of the benchmarks' servers (``-c bench/gunicorn_ready.py``, a path,
so the django-tenants peer's gunicorn reads it too): each worker, once its application is
loaded and just before it accepts, leaves a file named after its pid in ``$BENCH_READY_DIR``.

``bench.request_throughput.Server`` waits for one file per worker before it measures. Answering
``/healthz`` once was not enough: the first worker up answered it while the second was still
importing the app, the load generator's keep-alive connections were all accepted by the first,
and the whole first round ran on one process (``/healthz`` at 0.62-0.63x bare Flask, twice)."""

import os
from pathlib import Path


def post_worker_init(worker):
    folder = os.environ.get("BENCH_READY_DIR")
    if folder:
        Path(folder, str(worker.pid)).touch()
