"""The base of every web form: text and numbers the database would refuse get a message.

Every form derives from ``Form`` (a ``FlaskForm``, so CSRF as before). On top of each
field's own validators, once here for all forms: text fields refuse NUL and the other
control characters (tab, newline and carriage return are fine), and integer fields stay
within PostgreSQL's ``integer`` (ids) or ``bigint`` range — the message shows on the field,
like any validation error, and the view stores nothing.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.fields import FieldList, FormField, IntegerField

from app.core.schema import CONTROL_CHARACTERS, INT32, INT64, is_id_name

CONTROL_MESSAGE = "Remove the control characters (such as NUL) from this text."


def _leaf_fields(fields):
    for field in fields:
        if isinstance(field, FormField):
            yield from _leaf_fields(field.form)
        elif isinstance(field, FieldList):
            yield from _leaf_fields(field.entries)
        else:
            yield field


def edge_errors(field: Field) -> str | None:
    """The message for a value no column can hold, or None."""
    if isinstance(field, IntegerField) and isinstance(field.data, int):
        low, high = INT32 if is_id_name(field.short_name) else INT64
        if not low <= field.data <= high:
            return f"Enter a number between {low} and {high}."
    values = field.data if isinstance(field.data, list) else [field.data]
    if any(isinstance(v, str) and not CONTROL_CHARACTERS.isdisjoint(v) for v in values):
        return CONTROL_MESSAGE
    raw = getattr(field, "raw_data", None) or []
    if any(isinstance(v, str) and "\x00" in v for v in raw):
        return CONTROL_MESSAGE
    return None


class Form(FlaskForm):
    """Base of the web forms (see the module docstring)."""

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in _leaf_fields(self):
            message = edge_errors(field)
            if message and message not in field.errors:
                if not isinstance(field.errors, list):
                    field.errors = list(field.errors)
                field.errors.append(message)
                valid = False
        return valid
