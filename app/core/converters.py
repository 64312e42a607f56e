"""URL converters: ``<int:...>`` path segments stay within PostgreSQL ``integer``.

An id beyond the column's range is a 404 like any id that does not exist, not a database
error; the OpenAPI spec shows the maximum. Routes over ``bigint`` ids say so:
``<int(max=9223372036854775807):event_id>``.
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

INT32_MAX = 2**31 - 1


class BoundedIntegerConverter(IntegerConverter):
    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002  (werkzeug's names)
        super().__init__(
            map, fixed_digits=fixed_digits, min=min, max=INT32_MAX if max is None else max, signed=signed
        )


def init_app(app) -> None:
    """Before any blueprint is registered: rules bind their converters when added."""
    app.url_map.converters["int"] = BoundedIntegerConverter
