"""Processes the observability tests run for real: gunicorn serving the suite's app (same
database and Redis, its own metrics directory), ``flask worker``, and Debian's Prometheus.

Debian's ``prometheus`` package provides /usr/bin/prometheus and /usr/bin/promtool
(scripts/ensure_packages.sh installs it). Without them the tests that need them are skipped with a
message saying so, except under CI (``CI`` or ``GIGFORGE_REQUIRE_PROMETHEUS`` set): they fail.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.mmap_dict import MmapedDict

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "observability"
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def require(binary: str) -> str:
    if Path(binary).exists():
        return binary
    message = f"{binary} is missing: install Debian's prometheus package (scripts/ensure_packages.sh)"
    if os.environ.get("CI") or os.environ.get("GIGFORGE_REQUIRE_PROMETHEUS"):
        pytest.fail(message)
    pytest.skip("SKIPPED LOUDLY: " + message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_environment(app, metrics_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a subprocess running the suite's app (same database and Redis)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GIGFORGE_SLOT"))}
    env.update(
        GIGFORGE_ENV="testing",
        TEST_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        TEST_REDIS_URL=app.config["REDIS_URL"],
        TEST_INSTANCE_DIR=app.config["INSTANCE_DIR"],
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class Process:
    """A subprocess in its own session, its output in a log file, stopped in a finalizer."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        self.handle = open(log, "wb")  # noqa: SIM115  (closed in stop)
        self.popen = subprocess.Popen(  # noqa: S603
            args, cwd=ROOT, env=env, stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self, limit: int | None = 4000) -> str:
        """The end of its output (``limit`` characters; None: all of it)."""
        text = self.log.read_text(errors="replace")
        return text if limit is None else text[-limit:]

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            pytest.fail(f"{self.log.name}: exited ({self.popen.returncode})\n{self.output()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        self.handle.close()


class Gunicorn(Process):
    def __init__(self, app, tmp_path: Path, workers: int = 2, **env: str):
        self.port = free_port()
        self.metrics_dir = tmp_path / "metrics"
        (self.metrics_dir / "stale").mkdir(parents=True)  # an earlier start's leftovers
        executable = Path(sys.executable).parent / "gunicorn"
        command = [str(executable)] if executable.exists() else [sys.executable, "-m", "gunicorn"]
        super().__init__(
            [
                *command,
                "-c",
                "python:app.core.gunicorn_conf",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--graceful-timeout",
                "5",
                "--timeout",
                "300",  # a loaded test machine boots the app slowly: not a hung worker
                "--no-control-socket",  # parallel test sessions would share ~/.gunicorn's
                "--bind",
                f"127.0.0.1:{self.port}",
                "wsgi:app",
            ],
            app_environment(app, self.metrics_dir, **env),
            tmp_path / "gunicorn.log",
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, host: str, **kwargs) -> requests.Response:
        headers = {"Host": host, "Connection": "close", **kwargs.pop("headers", {})}
        return requests.get(self.url(path), headers=headers, timeout=120, allow_redirects=False, **kwargs)

    def wait_ready(self) -> None:
        def answers():
            self.check_alive()
            try:
                return self.get("/healthz", "localhost").status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(answers, timeout=180, message=lambda: f"gunicorn did not answer\n{self.output()}")

    def worker_pids(self) -> set[int]:
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return {int(pid) for pid in children}

    def counts_by_pid(self, route: str) -> dict[int, float]:
        """``gigforge_http_requests_total{route=...}`` as each process wrote it in the directory."""
        counts: dict[int, float] = {}
        for path in self.metrics_dir.glob("counter_*.db"):
            pid = int(path.stem.removeprefix("counter_"))
            for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
                _metric, name, labels, _help = json.loads(key)
                if name == "gigforge_http_requests_total" and labels.get("route") == route:
                    counts[pid] = counts.get(pid, 0.0) + value
        return counts


class PrometheusServer(Process):
    def __init__(self, tmp_path: Path, target: str, token_file: Path):
        self.port = free_port()
        folder = tmp_path / "prometheus"
        folder.mkdir()
        shutil.copy(DEPLOY / "alerts.yml", folder / "alerts.yml")
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["alerts.yml"],
            "scrape_configs": [
                {
                    "job_name": "gigforge",
                    "metrics_path": "/metrics",
                    "scheme": "http",
                    "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
                    "static_configs": [{"targets": [target]}],
                }
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        super().__init__(
            [
                require(PROMETHEUS),
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            dict(os.environ),
            tmp_path / "prometheus.log",
        )

    def api(self, path: str, **params) -> dict:
        response = requests.get(f"http://127.0.0.1:{self.port}/api/v1/{path}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def wait_ready(self) -> None:
        def ready():
            self.check_alive()
            try:
                return requests.get(f"http://127.0.0.1:{self.port}/-/ready", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(ready, timeout=60, message=lambda: f"prometheus did not start\n{self.output()}")


def value_of(result: list[dict]) -> float | None:
    return float(result[0]["value"][1]) if result else None


def concurrently(fn, count: int, threads: int = 8) -> list:
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _i: fn(), range(count)))


def start_worker(app, server: Gunicorn, tmp_path: Path) -> Process:
    """``flask worker`` beside ``server``: same database and Redis, same metrics directory."""
    return Process(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "worker"],
        app_environment(app, server.metrics_dir),
        tmp_path / "worker.log",
    )


def write_token(tmp_path: Path, token: str) -> Path:
    """The file Prometheus reads the bearer token from."""
    path = tmp_path / "metrics-token"
    path.write_text(token + "\n")
    return path
