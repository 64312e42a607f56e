"""A real clamd for the antivirus tests (tests/conftest.py offers both fixtures to every test).

``clamd`` (session) starts ``/usr/sbin/clamd --foreground`` with a unix socket in a tmp folder and a
database of one ``.hdb`` line (the MD5 of the 68-byte EICAR test string), and waits until it
answers PING. Without clamd the tests that use it are skipped with a message saying so, except
under CI (``CI`` or ``GIGFORGE_REQUIRE_CLAMD`` set, as .ci/run does), where a missing clamd
fails them (scripts/ensure_packages.sh installs clamav-daemon). ``scanning`` points this test's
uploads at it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
from pathlib import Path

import pytest

from app.storage.scanning import ClamdScanner
from tests.helpers import wait_until

CLAMD = "/usr/sbin/clamd"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@pytest.fixture(scope="session")
def clamd(tmp_path_factory):
    """The socket path of a running clamd that knows only the EICAR signature."""
    if not Path(CLAMD).exists():
        message = (
            f"{CLAMD} is missing: install clamav-daemon (scripts/ensure_packages.sh) "
            "to run the antivirus tests"
        )
        if os.environ.get("CI") or os.environ.get("GIGFORGE_REQUIRE_CLAMD"):
            pytest.fail(message)
        pytest.skip("SKIPPED LOUDLY: " + message)
    folder = tmp_path_factory.mktemp("clamd")
    database = folder / "db"
    database.mkdir()
    assert len(EICAR) == 68
    (database / "eicar.hdb").write_text(f"{hashlib.md5(EICAR).hexdigest()}:68:Eicar-Test-Signature\n")  # noqa: S324
    sock = folder / "clamd.sock"
    conf = folder / "clamd.conf"
    conf.write_text(
        f"LocalSocket {sock}\nDatabaseDirectory {database}\nLogFile {folder / 'clamd.log'}\n"
        f"PidFile {folder / 'clamd.pid'}\nForeground yes\nStreamMaxLength 1M\n"
    )
    process = subprocess.Popen(  # noqa: S603
        [CLAMD, "--foreground", f"--config-file={conf}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    scanner = ClamdScanner(socket_path=str(sock), timeout=5)
    try:

        def answers() -> bool:
            if process.poll() is not None:
                pytest.fail(f"clamd exited ({process.returncode}): {process.stderr.read().decode()[-2000:]}")
            return scanner.ping()

        wait_until(answers, timeout=60, message="clamd did not answer PING within 60 s")
        log = (folder / "clamd.log").read_text()
        assert "Loaded 1 signature" in log, log[-2000:]
        yield str(sock)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def scanning(app, clamd, monkeypatch):
    """This test's uploads are scanned by the session's clamd."""
    monkeypatch.setitem(app.config, "UPLOAD_SCANNER", "clamd")
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", clamd)
    monkeypatch.setitem(app.config, "CLAMD_TIMEOUT", 5.0)
    return clamd
