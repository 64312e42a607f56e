"""The test suite. Importing this package (before any conftest) names the metrics' multiprocess
directory of this test process (app/core/metrics.py): one per xdist worker and slot, emptied at
its start, set before anything imports prometheus_client."""

import os
import shutil
from pathlib import Path

_METRICS_DIR = (
    Path(__file__).resolve().parent.parent
    / "instance"
    / "test"
    / "metrics"
    / f"s{os.environ.get('GIGFORGE_TEST_SLOT', '')}{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
)
if os.environ.get("PROMETHEUS_MULTIPROC_DIR") != str(_METRICS_DIR):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_METRICS_DIR)
    shutil.rmtree(_METRICS_DIR, ignore_errors=True)
    _METRICS_DIR.mkdir(parents=True, exist_ok=True)
