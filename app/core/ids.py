"""Ids from untrusted input (JSON values, query strings, socket payloads)."""

from __future__ import annotations

from typing import Any

INT32_MAX = 2**31 - 1  # the largest id of an INTEGER key (users, gigs, orders...)
INT64_MAX = 2**63 - 1  # of a BIGINT key (messages, audit entries, events)


def parse_id(value: Any, *, maximum: int = INT64_MAX) -> int | None:
    """A positive id (an int, or a string of digits) no larger than ``maximum``, else None:
    a value no key can hold names nothing, and never reaches the database."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isdigit() and len(value) < 20:
        number = int(value)
    else:
        return None
    return number if 0 < number <= maximum else None
