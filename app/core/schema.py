"""The base of every API schema: input the database would refuse is refused at the edge.

Every ``Schema`` of the API derives from this one (``from app.core.schema import Schema``),
so each field gets its guard once, here, not per endpoint:

- integers stay within what their column holds: ids (``id``, ``*_id``, ``*_ids``) within
  PostgreSQL ``integer``, every other integer within ``bigint`` unless the field already
  declares a ``Range`` with both ends;
- text carries no NUL and no other control character but tab, newline and carriage return
  (PostgreSQL refuses NUL in text; the others break headers, logs and CSV files).

A refused value is a 422 with the field named, like any other validation error.
"""

from __future__ import annotations

import functools

from marshmallow import Schema as _MarshmallowSchema
from marshmallow import ValidationError, fields, validate

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
RANGE_ERROR = "Must be between {min} and {max}."
# C0 controls and DEL, except tab, newline and carriage return.
CONTROL_CHARACTERS = frozenset(chr(c) for c in (*range(0, 32), 127)) - {"\t", "\n", "\r"}


def is_id_name(name: str | None) -> bool:
    return bool(name) and (name in ("id", "ids") or name.endswith(("_id", "_ids")))


def refuse_control_characters(value) -> None:
    if isinstance(value, str) and not CONTROL_CHARACTERS.isdisjoint(value):
        raise ValidationError("Remove the control characters (such as NUL) from this text.")


def _has_range(field: fields.Field) -> bool:
    """A ``Range`` with both ends already keeps the value within a column (``Range(min=0)`` does not)."""
    return any(
        isinstance(v, validate.Range) and v.min is not None and v.max is not None for v in field.validators
    )


def guard_field(name: str | None, field: fields.Field) -> None:
    """Add the range or text guard to ``field`` (and to the items of a list or dict)."""
    if isinstance(field, fields.List):
        guard_field(name, field.inner)
    elif isinstance(field, fields.Tuple):
        for inner in field.tuple_fields:
            guard_field(name, inner)
    elif isinstance(field, fields.Dict):
        for inner in (field.key_field, field.value_field):
            if inner is not None:
                guard_field(None, inner)
    elif isinstance(field, fields.Integer) and not _has_range(field):
        low, high = INT32 if is_id_name(name) else INT64
        # A new list: the declared field's own list is shared by every instance of the schema.
        field.validators = [*field.validators, validate.Range(min=low, max=high, error=RANGE_ERROR)]
    elif isinstance(field, fields.String) and refuse_control_characters not in field.validators:
        field.validators = [*field.validators, refuse_control_characters]


class Schema(_MarshmallowSchema):
    """Base of the API's schemas (see the module docstring)."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        super().on_bind_field(field_name, field_obj)
        guard_field(field_obj.data_key or field_name, field_obj)

    @classmethod
    def shared(cls, *, many: bool = False) -> Schema:
        """The one instance of this schema (per ``many``), built on first use, for code that
        dumps or loads inside a request or job: an instance costs a copy and a guard of every
        declared field, which per request is more than the dump itself. Dumping and loading
        leave an instance as it was (marshmallow 4 keeps no context on it), so every thread
        shares it, as flask-smorest shares its response schemas."""
        return _shared_instance(cls, many)


@functools.cache
def _shared_instance(schema: type[Schema], many: bool) -> Schema:
    return schema(many=many)
