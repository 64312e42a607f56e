"""A process builds its app without the cyclic garbage collector and then freezes what it built
(``app.core.startup``; ``wsgi.py``): the collector walked the app's objects over and over while
they piled up (1.6 s of the whole app's 3.5 s start, 5 December 2026)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.startup import collector_paused
from tests.helpers import child_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def collector_on():
    """The collector as a process has it, restored after the test (it may be off here)."""
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def frozen(obj: object) -> bool:
    """``obj`` (a tracked container) is in the frozen generation: the collector's generations no
    longer list it. Not told by ``gc.get_freeze_count()``: frozen objects that die (the session's
    other objects, any time) leave that count, so it can shrink while a block runs (CI,
    5 December 2026: 970,659 → 970,415 across a block that froze nothing)."""
    assert gc.is_tracked(obj)
    return not any(o is obj for o in gc.get_objects())


def test_the_collector_is_off_inside_and_on_after_with_what_was_built_frozen(collector_on):
    gc.collect()  # what this block freezes for the rest of the session is alive anyway
    with collector_paused():
        assert not gc.isenabled()
        built = [[n] for n in range(1000)]  # tracked containers, alive after the block
        assert not frozen(built) and not frozen(built[-1])
    assert gc.isenabled()
    assert frozen(built) and frozen(built[-1])


def test_without_freeze_the_collector_is_only_paused(collector_on):
    with collector_paused(freeze=False):
        assert not gc.isenabled()
        built = [[n] for n in range(1000)]
    assert gc.isenabled()
    assert not frozen(built) and not frozen(built[-1])


def test_nested_or_with_the_collector_off_it_changes_nothing(collector_on):
    with collector_paused(freeze=False):
        with collector_paused():  # nested: the outer block decides
            assert not gc.isenabled()
            built = [[n] for n in range(1000)]
        assert not gc.isenabled()
        assert not frozen(built)
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
        built_off = [[n] for n in range(1000)]
    assert not gc.isenabled() and not frozen(built_off)


def test_an_error_inside_still_turns_the_collector_back_on(collector_on):
    with pytest.raises(RuntimeError), collector_paused(freeze=False):
        raise RuntimeError("the app failed to build")
    assert gc.isenabled()


@pytest.mark.slow
def test_importing_wsgi_runs_no_collection_and_leaves_the_app_frozen(app, tmp_path):
    """What gunicorn and the ``flask`` program import: no collection while the whole app is
    built, the collector on afterwards, the app's objects in the frozen generation."""
    probe = """
import gc, json, sys

def building():  # our code imported, wsgi's app not built yet (finding wsgi.py comes before)
    return "app" in sys.modules and getattr(sys.modules.get("wsgi"), "app", None) is None

collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and building() and collections.append(info))
import wsgi
state = {"collections": len(collections), "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
print(json.dumps(state))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=child_env(app, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["collections"] == 0
    assert state["enabled"] is True
    assert state["frozen"] > 100_000  # the whole app: modules, classes, mappers, schemas
