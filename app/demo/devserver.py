"""`make run`: embedded services, migrations, demo tenants, web server and worker.

Environment: PORT (5000), HOST (127.0.0.1); DATABASE_URL / REDIS_URL to use
real servers instead of the embedded ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from app import create_app
from app.core.embedded import ensure_embedded
from app.demo.seed import DEMO_PASSWORD, DEMO_PLATFORM_ADMIN, DEMO_TENANTS, moderator_email, seed_demo
from app.extensions import socketio
from tenants.migrations import default_jobs, migrate_all


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


def main() -> int:
    os.environ.setdefault("GIGFORGE_ENV", "development")
    port = int(os.environ.get("PORT", "5000"))
    host = os.environ.get("HOST", "127.0.0.1")
    app = create_app()
    ensure_embedded(app)  # before the worker's environment takes their URLs
    env = dict(os.environ)
    env["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    env["REDIS_URL"] = app.config["REDIS_URL"]
    with app.app_context():
        report = migrate_all(jobs=default_jobs())
        print(f"migrations: public at {report.public_after}, {report.checked} tenant(s) at {report.head}")
        for line in seed_demo():
            print("demo:", line)
    worker = WorkerSupervisor([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], env=env)
    worker.start()
    base = app.config["BASE_DOMAIN"]
    print("\nGigforge is running:")
    print(f"  platform:  http://{base}:{port}/")
    print(f"  platform console: http://{base}:{port}/platform/   ({DEMO_PLATFORM_ADMIN})")
    for spec in DEMO_TENANTS:
        slug = spec["slug"]
        print(
            f"  {spec['name']:<18} http://{slug}.{base}:{port}/   "
            f"(admin@{slug}.test operator, {moderator_email(slug)} moderator; console at /console)"
        )
    print(f"  demo password: {DEMO_PASSWORD}")
    print(f"  API docs:  http://{base}:{port}/api/v1/docs")
    print(f"  worker:    RQ worker + outbox relay (pid {worker.pid}; restarted if it exits)\n")
    try:
        # Socket.IO in threading mode on werkzeug (websockets through simple-websocket);
        # production runs gunicorn's gthread worker instead (see Procfile).
        socketio.run(app, host=host, port=port, use_reloader=False, allow_unsafe_werkzeug=True)
    finally:
        worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
