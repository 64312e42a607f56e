"""A process's start-up without the cyclic garbage collector.

Building the app creates a few hundred thousand objects that live as long as the process:
modules, classes, SQLAlchemy's tables and mappers, marshmallow schemas, the API's document.
None of them is garbage, but while they pile up the collector walks them again and again
(each older generation's collection walks everything that survived so far): measured on
5 December 2026, 1.6 s of the whole app's 3.5 s start (``python -c "import wsgi"``) and
~0.1 s of ``flask --app wsgi tenants --help``'s 0.8 s.

So a process's entry point (``wsgi.py``, the worker's app, the development server, the
benchmarks' app, the test session's app) builds its app inside ``collector_paused()``: the
collector is off while it builds and, at the end, what was built is frozen (``gc.freeze()``:
moved to a generation no collection walks, so a web worker's later collections skip the app's
own objects), as the Python documentation advises for a server's start-up. Freezing keeps
whatever is alive then for good, garbage included: it belongs at a process's start, not
around an app built in the middle of its work. ``freeze=False`` only pauses (the tenant
commands' receivers, declared when the first signal comes).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused(*, freeze: bool = True) -> Iterator[None]:
    """No cyclic collection inside; then (``freeze``) everything alive is frozen and the
    collector is on again. Nested, or with the collector already off, it changes nothing."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        gc.enable()
