"""The worker process (``flask worker``): an RQ worker that outlives Redis outages, with the
RQ scheduler as one of its threads.

Redis: RQ retries a lost connection only while it waits for a job; anywhere else (finishing
a job, its maintenance, its heartbeat) the error ends ``Worker.work()`` ("found an unhandled
exception, quitting") and the process with it. ``run_worker`` instead waits for Redis with
backoff, logging each attempt, and starts a fresh RQ worker when it answers again. A job that
was running when Redis went away is finished or retried by RQ's own rules (its started-job
registry), as after any crash.

Scheduler: RQ's ``with_scheduler`` forks a child process that survives a ``kill -9`` of its
worker and keeps the scheduler lock. Here the scheduler is a thread, so it dies with the
worker; a new worker takes over a lock whose owner process on this host is gone at once, and
one from another host when it expires (RQ's lock lives the scheduler interval + 60 s).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from contextlib import suppress

import redis
from rq import SimpleWorker
from rq.exceptions import StopRequested
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock

from app.core import metrics
from app.extensions import TracedJob

log = logging.getLogger(__name__)

REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError)
FIRST_RETRY_DELAY = 0.5  # seconds; doubled after each failed attempt
MAX_RETRY_DELAY = 30.0
STABLE_SECONDS = 60.0  # a worker that ran this long before failing restarts without a pause
LOCK_RETRY_SECONDS = 5.0  # how often a worker without the scheduler lock tries to get it
# The longest single wait for a job (RQ's own is its worker TTL - 15 s, 405 s): see
# ``Worker.dequeue_timeout``.
DEQUEUE_WAIT_SECONDS = 5


class Worker(SimpleWorker):
    """SimpleWorker (jobs run in this process) that honours a stop asked for before its own
    signal handlers were installed (a SIGTERM while it was starting), and counts its jobs.

    Metrics: each ``perform_job`` counts one ``gigforge_jobs_total{queue,outcome}`` and one
    ``gigforge_job_duration_seconds{queue}`` observation, whatever happens in it. The outcome is
    set by RQ's handler that finished the job: ``handle_job_success`` -> success;
    ``handle_job_failure`` -> retry when RQ will run it again (retries left, not stopped), else
    failure; ``handle_job_retry`` (the job returned a ``Retry``) -> retry, or failure once its
    retries are used up. A job whose success handling itself raised goes through
    ``handle_job_failure`` next, which has the last word.
    """

    def __init__(self, *args, stop: threading.Event, **kwargs):
        super().__init__(*args, **kwargs)
        self._stop_event = stop
        self._job_outcome: str | None = None

    def perform_job(self, job, queue, execution) -> bool:
        self._job_outcome = None
        started = time.perf_counter()
        try:
            return super().perform_job(job, queue, execution)
        finally:
            metrics.job_duration.labels(queue.name).observe(time.perf_counter() - started)
            metrics.jobs.labels(queue.name, self._job_outcome or "failure").inc()
            self._job_outcome = None

    def handle_job_success(self, job, queue, started_job_registry, execution):
        self._job_outcome = "success"
        return super().handle_job_success(job, queue, started_job_registry, execution)

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string="", execution=None):
        # RQ's own test (BaseWorker.handle_job_failure): retried unless stopped on request.
        retried = job.should_retry and self._stopped_job_id != job.id
        self._job_outcome = "retry" if retried else "failure"
        return super().handle_job_failure(
            job, queue, started_job_registry=started_job_registry, exc_string=exc_string, execution=execution
        )

    def handle_job_retry(self, job, queue, retry, started_job_registry, execution):
        exhausted = bool(job.number_of_retries and job.number_of_retries >= retry.max)
        self._job_outcome = "failure" if exhausted else "retry"
        return super().handle_job_retry(job, queue, retry, started_job_registry, execution)

    @property
    def dequeue_timeout(self) -> int:
        """Wait for a job ``DEQUEUE_WAIT_SECONDS`` at a time (then RQ heartbeats and waits again).

        A SIGTERM meant for the process may be delivered to any of its threads (the relay, the
        periodic loops, the scheduler, RQ's pub/sub listener); Python runs the handler only
        when the main thread next runs Python code, and a main thread blocked in RQ's 405 s
        BLPOP would not: the worker ignored the stop that long. With short waits it stops
        within seconds, whichever thread the signal reached. Cost: a BLPOP and a heartbeat
        every few seconds while idle. It also makes RQ's socket timeout for this client
        ``dequeue_timeout + 10`` s instead of 415 s."""
        return min(super().dequeue_timeout, DEQUEUE_WAIT_SECONDS)

    def _install_signal_handlers(self):
        super()._install_signal_handlers()
        if self._stop_event.is_set():
            self._stop_requested = True

    def request_stop(self, signum, frame):
        """RQ's SIGTERM/SIGINT handler, with the stop remembered before RQ acts on it.

        An idle RQ worker stops by raising ``StopRequested`` from the handler, wherever its main
        thread happens to be, and sets nothing else; it also turns the next SIGTERM into a cold
        shutdown. Where that code swallows exceptions (logging's ``emit`` does, and the worker
        logs in its loop) the stop was lost for good and the worker idled on. Remembered here,
        it is honoured at the loop's next check (``work`` checks ``_stop_requested`` before each
        wait for a job, ``dequeue_job_and_maintain_ttl`` between two waits)."""
        self._stop_requested = True
        self._stop_event.set()
        super().request_stop(signum, frame)

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """RQ's wait for a job (heartbeat, maintenance, BLPOP), one ``timeout`` at a time, with
        a check for a requested stop between two waits: RQ's own loop waits again and again
        without looking at it. Burst mode (no timeout) and ``max_idle_time`` go to RQ as they are.
        """
        if timeout is None or max_idle_time is not None:
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while not self._stop_requested:
            # With the wait as its idle limit RQ returns None after one empty wait.
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time=timeout)
            if result is not None:
                return result
        raise StopRequested()

    @property
    def stopped_on_request(self) -> bool:
        return self._stop_requested or getattr(self, "_shutdown_requested_date", None) is not None


def _sleep(stop: threading.Event, seconds: float) -> None:
    """Sleep in small steps (a signal handler sets ``stop`` in this same thread)."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def wait_for_redis(connection: redis.Redis, stop: threading.Event) -> bool:
    """Block until Redis answers (True) or a stop is asked for (False), with backoff."""
    delay = FIRST_RETRY_DELAY
    while not stop.is_set():
        try:
            connection.ping()
            return True
        except REDIS_ERRORS as exc:
            log.warning("worker: Redis is unavailable (%s); retrying in %.1f s", exc, delay)
        _sleep(stop, delay)
        delay = min(delay * 2, MAX_RETRY_DELAY)
    return False


def _discard(worker: Worker) -> None:
    """Stop what a worker that ended on an error may have left running (its pub/sub thread)."""
    thread = getattr(worker, "pubsub_thread", None)
    if thread is not None:
        with suppress(Exception):
            thread.stop()
            thread.join(timeout=1)


def run_worker(
    queues: list[str],
    connection: redis.Redis,
    *,
    burst: bool = False,
    logging_level: str = "INFO",
    stop: threading.Event | None = None,
) -> None:
    """Work the queues until asked to stop (SIGTERM/SIGINT), or until they are empty (``burst``).

    Redis going away never ends it: it waits for Redis and starts a new RQ worker. Outside
    ``burst`` the scheduler runs as a thread of this process (``SchedulerThread``).
    """
    stop = stop or threading.Event()
    scheduler = None
    if not burst:
        scheduler = SchedulerThread(queues, connection, stop)
        scheduler.start()
    try:
        _install_stop_handlers(stop)
        ended = None  # the RQ worker that ended on an error
        restart_delay = 0.0
        while wait_for_redis(connection, stop):
            if ended is not None:
                with suppress(*REDIS_ERRORS):
                    ended.register_death()  # it could not say so itself
                log.warning("worker: Redis answers again; starting a new worker")
            worker = None
            started_at = time.monotonic()
            try:
                worker = Worker(queues, connection=connection, stop=stop, job_class=TracedJob)
                # In burst mode RQ moves due scheduled jobs once, in this process, and returns.
                worker.work(burst=burst, with_scheduler=burst, logging_level=logging_level)
                if burst or worker.stopped_on_request:
                    return
                log.error("worker %s: its loop ended on an error", worker.name)
            except REDIS_ERRORS as exc:
                log.error("worker: lost Redis (%s)", exc)
            finally:
                if worker is not None:
                    _discard(worker)
            if worker is not None and worker.stopped_on_request:
                return
            ended = worker
            # RQ's signal handlers belonged to the worker that ended: a signal now stops the wait.
            _install_stop_handlers(stop)
            # An error that is not Redis being away (Redis answers at once) must not spin.
            if time.monotonic() - started_at < STABLE_SECONDS:
                restart_delay = min(max(restart_delay * 2, FIRST_RETRY_DELAY), MAX_RETRY_DELAY)
                _sleep(stop, restart_delay)
            else:
                restart_delay = 0.0
    except StopRequested:
        return  # a signal reached the ended worker's handler before ours was installed
    finally:
        stop.set()
        if scheduler is not None:
            scheduler.join(timeout=5)


def _install_stop_handlers(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _process_gone(pid: int) -> bool:
    """True when no live process has this pid on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


class SchedulerThread(threading.Thread):
    """RQ's scheduler loop (due scheduled jobs and retries -> their queues) as a daemon thread.

    Every ``interval`` seconds: refresh the locks it holds (RQ's heartbeat) and enqueue due
    jobs; without a lock, every ``LOCK_RETRY_SECONDS`` release locks held by a dead process of
    this host and try to acquire them. Redis errors are logged and retried, never fatal.
    """

    def __init__(self, queues, connection: redis.Redis, stop: threading.Event, interval: int = 1):
        super().__init__(name="rq-scheduler", daemon=True)
        self.scheduler = RQScheduler(queues, connection=connection, interval=interval)
        self.stop_event = stop
        self.interval = interval
        self._next_lock_attempt = 0.0

    def run(self) -> None:
        scheduler = self.scheduler
        delay = self.interval
        while not self.stop_event.is_set():
            try:
                if scheduler.acquired_locks:
                    scheduler.heartbeat()  # refreshes (or re-takes) its locks, drops lost ones
                    scheduler.save()  # the whole metadata (pid, host), also into an emptied Redis
                if self._wants_locks() and time.monotonic() >= self._next_lock_attempt:
                    self._next_lock_attempt = time.monotonic() + LOCK_RETRY_SECONDS
                    self._acquire()
                if scheduler.acquired_locks:
                    scheduler.enqueue_scheduled_jobs()
                delay = self.interval
            except REDIS_ERRORS as exc:
                log.warning("scheduler: Redis is unavailable (%s); retrying in %.1f s", exc, delay)
                delay = min(delay * 2, MAX_RETRY_DELAY)
                self._next_lock_attempt = 0.0
            except Exception:
                log.exception("scheduler pass failed")
            self.stop_event.wait(delay)
        with suppress(*REDIS_ERRORS):
            if scheduler.acquired_locks:
                scheduler.release_locks()
            scheduler.register_death()

    def _wants_locks(self) -> bool:
        return self.scheduler.acquired_locks != self.scheduler._queue_names

    def _acquire(self) -> None:
        self._release_stale_locks()
        # The metadata (this host and pid) is written BEFORE the lock is taken: a worker killed
        # right after taking it must leave a lock the next worker can tell is stale (written
        # after, a kill in between left a lock nobody could claim until it expired).
        self.scheduler.register_birth()
        if self.scheduler.acquire_locks():
            self.scheduler.save()  # now with the locks it holds

    def _release_stale_locks(self) -> None:
        scheduler = self.scheduler
        connection = scheduler.connection
        hostname = socket.gethostname()
        for name in scheduler._queue_names - scheduler.acquired_locks:
            key = scheduler.get_locking_key(name)
            owner = connection.get(key)
            if owner is None or owner.decode() == scheduler.name:
                continue
            info = connection.hgetall(SCHEDULER_KEY_TEMPLATE % owner.decode())
            owner_host = info.get(b"hostname", b"").decode()
            owner_pid = int(info.get(b"pid", b"0") or 0)
            stale = owner_host == hostname and owner_pid > 0 and _process_gone(owner_pid)
            # Compare-and-delete: a lock that changed hands meanwhile is left alone.
            if stale and release_lock(connection, key, owner.decode()):
                log.warning(
                    "scheduler: took over the lock of %s from scheduler %s (pid %d, gone)",
                    name,
                    owner.decode(),
                    owner_pid,
                )
