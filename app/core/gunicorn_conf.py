"""Gunicorn settings module: ``gunicorn -c python:app.core.gunicorn_conf ...`` (see Procfile).

Only the hooks that keep the Prometheus multiprocess directory right (app/core/metrics.py,
docs/operations/monitoring.md); every other setting stays on the command line.

- At import, in the master, the directory is named (``PROMETHEUS_MULTIPROC_DIR``, else
  ``METRICS_DIR``, else ``<INSTANCE_DIR>/metrics``) before anything imports prometheus_client;
  the workers inherit the variable.
- ``on_starting``: the master empties it once, before any worker is forked, so the values of an
  earlier start are never added to this one's.
- ``child_exit``: a worker that exited (restarted, timed out, killed) has its live gauges
  dropped; its counters and histograms stay, so totals never go backwards.
"""

from __future__ import annotations

from app.core import metrics

metrics_directory = metrics.prepare_environment()


def on_starting(server) -> None:
    path = metrics.clean_directory()
    server.log.info("Prometheus multiprocess directory: %s (emptied)", path)


def child_exit(server, worker) -> None:
    metrics.mark_process_dead(worker.pid)
