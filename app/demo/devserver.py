"""`make run`: embedded services, migrations, demo tenants, web server and worker.

Environment: PORT (5000), HOST (127.0.0.1); DATABASE_URL / REDIS_URL to use
real servers instead of the embedded ones.
"""

from __future__ import annotations

import os
import subprocess
import sys

from app import create_app
from app.demo.seed import DEMO_PASSWORD, DEMO_PLATFORM_ADMIN, DEMO_TENANTS, moderator_email, seed_demo
from app.extensions import socketio
from tenants.migrations import default_jobs, migrate_all


def main() -> int:
    os.environ.setdefault("GIGFORGE_ENV", "development")
    port = int(os.environ.get("PORT", "5000"))
    host = os.environ.get("HOST", "127.0.0.1")
    app = create_app()
    env = dict(os.environ)
    env["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    env["REDIS_URL"] = app.config["REDIS_URL"]
    with app.app_context():
        report = migrate_all(jobs=default_jobs())
        print(f"migrations: public at {report.public_after}, {report.checked} tenant(s) at {report.head}")
        for line in seed_demo():
            print("demo:", line)
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker"], env=env, cwd=os.getcwd()
    )
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
    print(f"  worker:    RQ worker + outbox relay (pid {worker.pid})\n")
    try:
        # Socket.IO in threading mode on werkzeug (websockets through simple-websocket);
        # production runs gunicorn's gthread worker instead (see Procfile).
        socketio.run(app, host=host, port=port, use_reloader=False, allow_unsafe_werkzeug=True)
    finally:
        worker.terminate()
        worker.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
