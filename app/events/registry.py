"""Which handlers run for which event name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Handler:
    key: str  # stable name recorded in processed_events: "<module>.<function>"
    fn: Callable


_handlers: dict[str, list[Handler]] = defaultdict(list)


def handles(event_name: str):
    """Register ``fn(event)`` to run, with the event's tenant bound, for ``event_name``.

    The handler's database changes and its processed-mark commit together, so it
    runs at most once per event even when the event is delivered twice.
    """

    def decorator(fn):
        handler = Handler(f"{fn.__module__}.{fn.__qualname__}", fn)
        if handler not in _handlers[event_name]:
            _handlers[event_name].append(handler)
        return fn

    return decorator


def handlers_for(event_name: str) -> list[Handler]:
    return list(_handlers.get(event_name, ()))
