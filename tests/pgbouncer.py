"""PgBouncer in transaction mode in front of the suite's database (``GIGFORGE_TEST_PGBOUNCER=1``).

`make test` runs the isolation suite and the order flow a second time through it, proving
that nothing leaks between tenants through pooled server connections and that nothing
relies on session state: no ``search_path``, no prepared statements (psycopg's are off,
``DB_PREPARED_STATEMENTS=0``, as PgBouncer before 1.21 cannot carry them), no advisory
lock held across transactions. Debian's ``pgbouncer`` is installed by
``scripts/ensure_packages.sh``; PgBouncer refuses to run as root, so it runs as the owner of the
embedded server's socket folder (or ``nobody`` for a TCP server).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import sqlalchemy as sa

from tests.helpers import wait_until

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def enabled() -> bool:
    return os.environ.get("GIGFORGE_TEST_PGBOUNCER") == "1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(direct_url: str) -> tuple[str, subprocess.Popen]:
    """Start PgBouncer (transaction pooling) in front of ``direct_url``; returns its URL and process."""
    if not Path(BINARY).exists():
        raise RuntimeError("pgbouncer is not installed: run scripts/ensure_packages.sh (Debian's pgbouncer)")
    url = sa.engine.make_url(direct_url)
    host = url.host or url.query.get("host") or "127.0.0.1"
    target = f"host={host}" + (f" port={url.port}" if url.port else "")
    workdir = Path(tempfile.mkdtemp(prefix="gigforge-pgbouncer-"))
    workdir.chmod(0o777)  # the unprivileged PgBouncer writes its log and pid here
    port = _free_port()
    user = url.username or "postgres"
    (workdir / "users.txt").write_text(f'"{user}" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = {target}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {workdir / 'users.txt'}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 500\n"
        "default_pool_size = 20\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {workdir / 'pgbouncer.log'}\n"
    )
    for name in ("users.txt", "pgbouncer.ini"):
        (workdir / name).chmod(0o644)
    command = [BINARY, str(workdir / "pgbouncer.ini")]
    if os.geteuid() == 0:
        # Not root: the owner of the Unix socket's folder (embedded PostgreSQL's user), or nobody.
        owner = pwd.getpwuid(Path(host).stat().st_uid).pw_name if host.startswith("/") else "nobody"
        command[1:1] = ["-u", owner]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603

    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {process.stderr.read().decode()[-500:]}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(listening, 10, message="pgbouncer did not start listening within 10 s")
    except BaseException:
        process.kill()
        raise
    pooled = url.set(host="127.0.0.1", port=port, query={})
    return pooled.render_as_string(hide_password=False), process


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
