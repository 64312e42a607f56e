"""`make run` keeps a worker alive (finding 4): the dev server restarts a worker that exits."""

from __future__ import annotations

import itertools

from app.demo.devserver import WorkerSupervisor


class FakeProcess:
    pids = itertools.count(1000)

    def __init__(self, argv, env=None, cwd=None):
        self.argv = argv
        self.pid = next(self.pids)
        self.returncode = None
        self.terminated = False

    def poll(self):
        return self.returncode

    def terminate(self):
        self.terminated = True
        self.returncode = -15

    def wait(self, timeout=None):
        return self.returncode

    def kill(self):
        self.returncode = -9


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _supervisor(clock, lines):
    return WorkerSupervisor(["flask", "worker"], popen=FakeProcess, clock=clock, out=lines.append)


def test_an_exited_worker_is_started_again_after_a_pause():
    clock, lines = Clock(), []
    supervisor = _supervisor(clock, lines)
    supervisor.start(watch=False)
    first = supervisor.process
    supervisor.check()
    assert supervisor.process is first and not lines  # running: nothing to do

    first.returncode = 1  # it died
    supervisor.check()
    assert supervisor.process is first and "exited with 1; restarting in 1 s" in lines[-1]
    clock.now += 1
    supervisor.check()
    assert supervisor.process is not first and supervisor.restarts == 1
    assert lines[-1] == f"worker restarted (pid {supervisor.pid})"


def test_a_worker_that_keeps_failing_fast_waits_longer_each_time_and_a_stable_one_resets_it():
    clock, lines = Clock(), []
    supervisor = _supervisor(clock, lines)
    supervisor.start(watch=False)
    delays = []
    for _ in range(7):
        supervisor.process.returncode = 1
        supervisor.check()
        delays.append(float(lines[-1].split("restarting in ")[1].removesuffix(" s")))
        clock.now += delays[-1]
        supervisor.check()
    assert delays == [1, 2, 4, 8, 16, 30, 30]

    clock.now += WorkerSupervisor.STABLE_SECONDS  # this one ran a while before it died
    supervisor.process.returncode = 1
    supervisor.check()
    assert "restarting in 1 s" in lines[-1]


def test_stopping_terminates_the_worker_and_restarts_nothing():
    clock, lines = Clock(), []
    supervisor = _supervisor(clock, lines)
    supervisor.start(watch=False)
    process = supervisor.process
    supervisor.stop()
    assert process.terminated
    clock.now += 100
    supervisor.check()
    assert supervisor.process is process and supervisor.restarts == 0
