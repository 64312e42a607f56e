"""The worker rides out a Redis restart (finding 4) and its scheduler dies with it (finding 5)."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from rq import Queue
from rq.exceptions import StopRequested

from app.events.worker import Worker
from tests.hardening.conftest import procfile, production_env
from tests.helpers import wait_until


def _run(queue: Queue, func: str, *args, timeout: float = 60, worker=None):
    job = queue.enqueue(func, *args)
    return _wait(job, timeout, worker)


def _wait(job, timeout: float, worker=None):
    deadline = time.monotonic() + timeout
    while True:
        status = job.get_status(refresh=True)
        if status == "finished":
            return job.return_value()
        assert status != "failed", job.latest_result()
        if worker is not None:
            assert worker.alive(), worker.output()[-4000:]
        assert time.monotonic() < deadline, f"job {status} after {timeout}s" + (
            "\n" + worker.output()[-4000:] if worker is not None else ""
        )
        time.sleep(0.1)


@pytest.fixture
def start_worker(app, processes, tmp_path, private_redis):
    """``start_worker()`` -> the Procfile's worker on the private Redis (production configuration)."""

    def start(**overrides):
        env = production_env(app, tmp_path / "instance", REDIS_URL=private_redis.url, **overrides)
        return processes.start(procfile()["worker"], env, "worker")

    return start


def test_the_worker_survives_a_redis_restart(private_redis, start_worker):
    worker = start_worker()
    queue = Queue("default", connection=private_redis.client())
    pid = _run(queue, "os.getpid", worker=worker)

    private_redis.restart()  # an empty Redis: the worker's registration and queues are gone

    queue = Queue("default", connection=private_redis.client())
    assert _run(queue, "os.getpid", worker=worker) == pid  # the same process, still working
    assert worker.alive()


def test_the_worker_survives_redis_going_away_while_it_runs_a_job(private_redis, start_worker):
    worker = start_worker()
    queue = Queue("default", connection=private_redis.client())
    pid = _run(queue, "os.getpid", worker=worker)
    job = queue.enqueue("time.sleep", 2)
    _wait_until(lambda: job.get_status(refresh=True) == "started", 30, "the job did not start")

    private_redis.stop()  # RQ cannot record the job's end: this used to end the worker process
    _wait_until(
        # Once the job ends, RQ's loop fails on recording it: the worker now waits for Redis.
        lambda: not worker.alive() or "worker: Redis is unavailable" in worker.output(),
        30,
        lambda: "the worker noticed nothing:\n" + worker.output()[-3000:],
    )
    assert worker.alive(), worker.output()[-4000:]
    private_redis.start()

    queue = Queue("default", connection=private_redis.client())
    assert _run(queue, "os.getpid", worker=worker) == pid
    assert "Redis answers again; starting a new worker" in worker.output()


def test_a_worker_started_before_redis_waits_for_it(private_redis, start_worker):
    private_redis.stop()
    worker = start_worker()
    worker.wait_for_output("worker: Redis is unavailable", 60)
    private_redis.start()
    queue = Queue("default", connection=private_redis.client())
    assert _run(queue, "os.getpid", worker=worker) == worker.pid


def _live_members(pgid: int) -> list[int]:
    """Processes of a process group that are still running (zombies excluded)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def _wait_until(predicate, timeout: float, message):
    """``tests.helpers.wait_until`` with the message as a positional argument, as these tests read."""
    wait_until(predicate, timeout, message=message)


def test_a_killed_workers_scheduler_dies_with_it_and_the_next_worker_schedules(private_redis, start_worker):
    connection = private_redis.client()
    first = start_worker()
    _wait_until(
        lambda: connection.exists("rq:scheduler-lock:default"),
        60,
        lambda: "the first worker took no scheduler lock:\n" + first.output()[-3000:],
    )

    os.kill(first.pid, signal.SIGKILL)  # the worker alone, as an OOM kill would
    first.popen.wait(timeout=10)
    _wait_until(
        lambda: not _live_members(first.pid),
        10,
        lambda: f"processes of the killed worker still run: {_live_members(first.pid)}",
    )

    second = start_worker()
    queue = Queue("default", connection=connection)
    job = queue.enqueue_in(timedelta(seconds=1), "os.getpid")
    # Well within the dead scheduler's lock lifetime (61 s): the new worker takes the stale lock over.
    assert _wait(job, 30, second) == second.pid
    assert connection.get("rq:scheduler-lock:default") is not None


def test_sigterm_stops_the_worker_and_frees_the_scheduler_lock(private_redis, start_worker):
    connection = private_redis.client()
    worker = start_worker()
    _wait_until(lambda: connection.exists("rq:scheduler-lock:default"), 60, "no scheduler lock taken")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker.output()[-3000:]
    assert not connection.exists("rq:scheduler-lock:default")
    assert not connection.exists("rq:scheduler-lock:events")


# The Procfile's worker (without the periodic loops, whose jobs would end its wait), with one
# more thread that sends SIGTERM to itself once the worker's main thread sleeps in its wait for
# a job (BLPOP): a process-directed signal may reach any
# thread that does not block it, and Python runs its handler only when the main thread comes
# back to Python. The thread waits for events, not for time: the main thread entering BLPOP,
# then the kernel reporting it asleep (state S in /proc).
SIGNAL_FROM_ANOTHER_THREAD = """
import signal, threading, sys
import redis
from flask.cli import main

waiting_for_a_job = threading.Event()
blpop = redis.Redis.blpop

def noted_blpop(self, *args, **kwargs):
    if threading.current_thread() is threading.main_thread():
        waiting_for_a_job.set()
    return blpop(self, *args, **kwargs)

redis.Redis.blpop = noted_blpop

def main_thread_asleep():
    with open(f"/proc/self/task/{threading.main_thread().native_id}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "S"

def signal_from_here():
    waiting_for_a_job.wait()
    while not main_thread_asleep():
        waiting_for_a_job.wait(0.01)  # a poll of the kernel's view (the event is already set)
    print("SIGTERM to a thread that is not the main one", flush=True)
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

threading.Thread(target=signal_from_here, daemon=True).start()
sys.argv = ["flask", "--app", "wsgi", "worker", "--no-relay"]  # no periodic jobs to wake it
main()
"""


def test_a_sigterm_that_reaches_another_thread_still_stops_an_idle_worker(
    app, processes, tmp_path, private_redis
):
    """The worker waits for a job at most ``DEQUEUE_WAIT_SECONDS`` at a time, so its main thread
    comes back to Python, runs the signal's handler and stops: RQ's own wait (405 s) left a
    worker that got SIGTERM on another thread waiting that long."""
    worker = _signalled_worker(
        app,
        processes,
        tmp_path,
        private_redis,
        SIGNAL_FROM_ANOTHER_THREAD,
        "SIGTERM to a thread that is not the main one",
    )
    assert "warm shut down requested" in worker.output()


def _signalled_worker(app, processes, tmp_path, private_redis, script_text: str, signalled: str):
    """Run ``script_text`` (a worker that signals itself and prints ``signalled``) on the private
    Redis; returns it once it stopped, within 20 s of the signal, with exit code 0."""
    env = production_env(app, tmp_path / "instance", REDIS_URL=private_redis.url)
    script = tmp_path / "signalled_worker.py"
    script.write_text(script_text)
    worker = processes.start(f"python {script}", env, "worker")
    worker.wait_for_output(signalled, 60)
    assert worker.wait(timeout=20) == 0, worker.output()[-3000:]
    return worker


# The Procfile's worker with logging's formatter wrapped: the first time RQ logs "cleaning
# registries" from the main thread (its maintenance, run once its signal handlers are in place),
# the process sends itself SIGTERM there. Python runs the handler at once, inside logging's
# ``emit``, which catches what the handler raises ("--- Logging error ---") and carries on.
SIGNAL_INSIDE_A_LOG_CALL = """
import logging, signal, sys, threading
from flask.cli import main

fired = threading.Event()
format_record = logging.Handler.format

def format_and_signal(self, record):
    if (
        not fired.is_set()
        and threading.current_thread() is threading.main_thread()
        and "cleaning registries" in record.getMessage()
    ):
        fired.set()
        print("SIGTERM inside a log call", flush=True)
        signal.raise_signal(signal.SIGTERM)
    return format_record(self, record)

logging.Handler.format = format_and_signal
sys.argv = ["flask", "--app", "wsgi", "worker", "--no-relay"]
main()
"""


def test_a_sigterm_whose_handler_runs_inside_a_log_call_still_stops_the_worker(
    app, processes, tmp_path, private_redis
):
    """RQ stops an idle worker by raising from its signal handler; logging swallowed that when
    the signal came during a log call, and the worker idled on (a flaky CI run of the SIGTERM
    test above). The worker now remembers the stop before RQ raises it."""
    worker = _signalled_worker(
        app, processes, tmp_path, private_redis, SIGNAL_INSIDE_A_LOG_CALL, "SIGTERM inside a log call"
    )
    output = worker.output()
    assert "Logging error" in output  # the handler's exception was swallowed, as in the flaky run
    assert "warm shut down requested" in output
    assert not private_redis.client().exists("rq:scheduler-lock:default")


def test_the_idle_wait_checks_for_a_requested_stop_between_two_waits(private_redis):
    """RQ's idle loop waits again and again without looking at ``_stop_requested``; ours looks
    between two waits, so a stop whose ``StopRequested`` was lost ends the wait."""
    worker = Worker(["stop-check"], connection=private_redis.client(), stop=threading.Event())
    worker.register_birth()
    ended = []

    def wait_for_a_job():
        try:
            worker.dequeue_job_and_maintain_ttl(1)
        except StopRequested:
            ended.append("stopped")

    waiting = threading.Thread(target=wait_for_a_job, daemon=True)
    waiting.start()
    worker._stop_requested = True  # what ``request_stop`` sets before RQ raises
    waiting.join(timeout=15)
    assert ended == ["stopped"]
