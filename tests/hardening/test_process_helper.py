"""The hardening tests' process helper: a process that outlives its wait shows where it hangs."""

from __future__ import annotations

import os
import sys

import pytest

from tests.hardening.conftest import production_env

HANGS = """
import threading, time
threading.Thread(target=time.sleep, args=(60,), name="sleeper", daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def test_a_process_that_outlives_its_wait_shows_every_threads_stack(app, processes, tmp_path):
    env = production_env(app, tmp_path / "instance")
    hung = processes.start(f"exec {sys.executable} -c '{HANGS}'", env, "hung")
    hung.wait_for_output("ready", 30)
    with pytest.raises(AssertionError, match="still running after 1s") as failure:
        hung.wait(timeout=1)
    message = str(failure.value)
    assert "Fatal Python error: Aborted" in message, message
    assert "Current thread" in message or "Thread 0x" in message, message
    assert message.count("Thread 0x") + message.count("Current thread") >= 2  # both threads
    assert not hung.alive() and not os.path.exists(f"/proc/{hung.pid}/status")
