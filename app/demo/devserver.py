"""`make run`: embedded services, migrations, demo tenants, web server and worker.

Environment: PORT (5000), HOST (127.0.0.1); DATABASE_URL / REDIS_URL to use
real servers instead of the embedded ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import sqlalchemy as sa

from app import create_app
from app.core import metrics
from app.core.embedded import ensure_embedded
from app.core.startup import collector_paused
from app.core.urls import platform_url, tenant_url
from app.demo.seed import DEMO_PASSWORD, DEMO_PLATFORM_ADMIN, DEMO_TENANTS, moderator_email, seed_demo
from app.extensions import socketio
from tenants.db import db
from tenants.migrations import default_jobs, migrate_all
from tenants.models import Tenant


class WorkerSupervisor:
    """Keeps one worker process running for the dev server: a worker that exits (a crash, a
    kill) is started again, after a pause that doubles while it keeps failing fast."""

    MIN_DELAY = 1.0
    MAX_DELAY = 30.0
    STABLE_SECONDS = 60.0  # a worker that ran this long failed "slowly": back to MIN_DELAY

    def __init__(self, argv, *, env=None, popen=subprocess.Popen, clock=time.monotonic, out=print):
        self.argv = list(argv)
        self.env = env
        self._popen = popen
        self._clock = clock
        self._out = out
        self.process = None
        self.restarts = 0
        self._started_at = 0.0
        self._restart_at: float | None = None
        self._delay = self.MIN_DELAY
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def _spawn(self) -> None:
        self.process = self._popen(self.argv, env=self.env, cwd=os.getcwd())
        self._started_at = self._clock()

    def start(self, watch: bool = True) -> None:
        self._spawn()
        if watch:
            self._thread = threading.Thread(target=self._watch, daemon=True, name="worker-supervisor")
            self._thread.start()

    def _watch(self) -> None:
        while not self._stopped.wait(0.5):
            self.check()

    def check(self) -> None:
        """Notice an exited worker and start a new one once its pause is over."""
        if self._stopped.is_set() or self.process is None:
            return
        now = self._clock()
        if self._restart_at is None:
            code = self.process.poll()
            if code is None:
                return
            if now - self._started_at >= self.STABLE_SECONDS:
                self._delay = self.MIN_DELAY
            self._restart_at = now + self._delay
            self._out(f"worker (pid {self.process.pid}) exited with {code}; restarting in {self._delay:g} s")
            self._delay = min(self._delay * 2, self.MAX_DELAY)
        if now >= self._restart_at:
            self._restart_at = None
            self._spawn()
            self.restarts += 1
            self._out(f"worker restarted (pid {self.process.pid})")

    def stop(self, timeout: float = 10) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class SeedProgress:
    """Step-by-step progress lines of the demo seeding, one line per step and tenant each time a
    step advances by a tenth (the tenants are seeded side by side, so no redrawn bars)."""

    def __init__(self, out=print):
        self._out = out
        self._lock = threading.Lock()
        self._shown: dict[tuple[str, str], int] = {}

    def __call__(self, slug: str, step: str, done: int, total: int) -> None:
        total = max(total, 1)
        tenth = min(10, done * 10 // total)
        with self._lock:
            if self._shown.get((slug, step), -1) >= tenth:
                return
            self._shown[(slug, step)] = tenth
        if step in ("orders", "search index"):
            self._out(f"  {slug}: {step} {'done' if done >= total else '...'}")
        else:
            bar = "#" * tenth + "." * (10 - tenth)
            self._out(f"  {slug}: {step:<8} [{bar}] {done}/{total}")


@contextlib.contextmanager
def quiet_logs(*names: str, level: int = logging.WARNING):
    """Raise the level of these loggers for a while (the seeding's per-item INFO lines)."""
    loggers = [logging.getLogger(name) for name in names]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in zip(loggers, before, strict=True):
            logger.setLevel(old)


def summary_lines() -> list[str]:
    """Where everything is, read from the database on every start: every tenant that exists
    (demo or created later), its site and console, the logins known for demo tenants."""
    demo = {spec["slug"] for spec in DEMO_TENANTS}
    tenants = db.session.scalars(sa.select(Tenant).order_by(Tenant.id)).all()
    rows = []
    for tenant in tenants:
        site = tenant_url(tenant.ref(), "/")
        if tenant.slug in demo:
            logins = f"admin@{tenant.slug}.test (operator), {moderator_email(tenant.slug)} (moderator)"
        else:
            logins = "its admin, invited by email (see the mail outbox)"
        status = "" if tenant.status == "active" else f" [{tenant.status}]"
        rows.append((tenant.slug, f"{tenant.name}{status}", site, site + "console/", logins))
    db.session.remove()
    lines = ["Gigforge is running:", f"  platform:          {platform_url('/')}"]
    lines.append(f"  platform console:  {platform_url('/platform/')}   ({DEMO_PLATFORM_ADMIN})")
    lines.append(
        "                     two-factor sign-in is required: the first sign-in asks you to set up an"
        " authenticator app (QR code), then shows recovery codes once;"
        " reset with `flask platform reset-2fa EMAIL`"
    )
    lines.append(f"  API docs:          {platform_url('/api/v1/docs')}")
    lines.append(f"  {len(rows)} marketplace(s):")
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(SUMMARY_HEADER)]
    for row in [SUMMARY_HEADER, *rows]:
        lines.append(
            "    " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    lines.append(f"  demo password: {DEMO_PASSWORD} (demo tenants' staff, sellers and buyers)")
    return lines


SUMMARY_HEADER = ("slug", "name", "site", "console", "logins")


def main() -> int:
    os.environ.setdefault("GIGFORGE_ENV", "development")
    port = int(os.environ.get("PORT", "5000"))
    host = os.environ.get("HOST", "127.0.0.1")
    # This start's metrics only (the worker below writes to the same directory: /metrics adds up).
    metrics_dir = metrics.clean_directory(keep_pid=os.getpid())
    with collector_paused():
        app = create_app()
    # Links name this port, in pages and in the emails the worker sends (app/core/urls.py);
    # config.py was read at import, so the app gets it here and the worker through its env.
    app.config["PUBLIC_PORT"] = app.config["PUBLIC_PORT"] or str(port)
    ensure_embedded(app)  # before the worker's environment takes their URLs
    env = dict(os.environ)
    env["PUBLIC_PORT"] = app.config["PUBLIC_PORT"]
    env["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    env["REDIS_URL"] = app.config["REDIS_URL"]
    with app.app_context():
        print("[1/3] migrations ...")
        report = migrate_all(jobs=default_jobs())
        print(f"      public at {report.public_after}, {report.checked} tenant(s) at {report.head}")
        print("[2/3] demo data (only what is missing) ...")
        with quiet_logs("app", "tenants"):
            lines = seed_demo(progress=SeedProgress())
        for line in lines:
            print("      " + line)
        print("[3/3] worker and web server ...")
    worker = WorkerSupervisor([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], env=env)
    worker.start()
    with app.app_context():
        print("\n" + "\n".join(summary_lines()))
        print(f"  worker: RQ worker + outbox relay (pid {worker.pid}; restarted if it exits)")
        print(
            f"  metrics: {platform_url('/metrics')} (from this machine; web and worker add up in"
            f" {metrics_dir}); a local Prometheus: scripts/prometheus_dev.sh (docs/observability.md)\n"
        )
    # `kill` (SIGTERM) stops the worker too, as Ctrl-C does: SystemExit runs the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        # Socket.IO in threading mode on werkzeug (websockets through simple-websocket);
        # production runs gunicorn's gthread worker instead (see Procfile).
        socketio.run(app, host=host, port=port, use_reloader=False, allow_unsafe_werkzeug=True)
    finally:
        worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
