"""One base class for refusals of every domain: ``DomainError``.

A service refuses by raising a subclass (``GigError``, ``OrderStateError`` ...). The
class says the HTTP status and a stable ``code``; the instance carries a message safe
to show and field errors (``{"title": "Too long", "packages.0.price_minor": "..."}``;
the key ``"form"`` is for messages that belong to no field).

Nobody catches these to build a response by hand:
- under ``/api/`` the error handler answers JSON in the house shape
  ``{code, status, message, errors: {<location>: {field: [msg]}}}`` (``register``);
- on the web, a view that redisplays a form catches the error and calls
  ``refuse_form(exc, form)``; any other web view lets it through and the handler flashes
  the message and sends the browser back to the page it came from (or shows the error page);
- either way the unit of work (``app.core.unit_of_work``) rolls the request back.
"""

from __future__ import annotations

from typing import Any

FORM = "form"


class DomainError(Exception):
    """A refused operation. Subclasses set ``status`` (HTTP) and ``code`` (stable, for clients).

    ``DomainError("Not possible")`` or ``DomainError({"title": "Required"})`` or
    ``DomainError("Check the amounts", {"amount": "Too large"})``. ``location`` is where the
    fields live in the request (``json``, ``query``, ``form``), for the API's error shape.
    ``extra`` goes into the API's ``errors`` as is (e.g. ``current_status`` of a 409).
    """

    status = 422
    code = "invalid"
    location = "json"

    def __init__(
        self,
        errors: dict[str, str] | str,
        field_errors: dict[str, str] | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        location: str | None = None,
        extra: dict[str, Any] | None = None,
    ):
        if isinstance(errors, str):
            message = self.summary = errors
            self.errors: dict[str, str] = dict(field_errors) if field_errors else {FORM: errors}
        else:
            self.errors = dict(errors)
            message = "; ".join(self.errors.values())
            self.summary = self.errors.get(FORM)
        if code:
            self.code = code
        if status:
            self.status = status
        if location:
            self.location = location
        self.extra = dict(extra or {})
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self)

    @property
    def field_errors(self) -> dict[str, str]:
        """The errors that name a field (without the form-wide one)."""
        return {field: message for field, message in self.errors.items() if field != FORM}


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    """Not possible in the resource's current state; ``extra`` may name ``current_status``."""

    status = 409
    code = "conflict"


class CodedError(DomainError):
    """A refusal whose stable ``code`` also goes into the API's ``errors.code`` when it is a 409
    or a 422 (clients branch on it). The base of the domains' error families."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.status in (409, 422):
            self.extra.setdefault("code", self.code)


class StateConflict(CodedError, Conflict):
    """A step the resource's current state does not allow (409); ``current_status`` names that
    state (also in the API's ``errors.current_status``)."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, current_status: str, *, code: str | None = None):
        super().__init__(message, code=code, extra={"current_status": current_status})
        self.current_status = current_status


class PreconditionFailed(DomainError):
    """The resource changed since the version the client read (If-Match, ``version`` fields)."""

    status = 412
    code = "precondition_failed"


def nest_errors(errors: dict[str, str]) -> dict:
    """``{"a.b.c": msg}`` -> ``{"a": {"b": {"c": [msg]}}}`` (``form`` becomes marshmallow's ``_schema``)."""
    nested: dict = {}
    for field, message in errors.items():
        parts = ["_schema"] if field == FORM else field.split(".")
        node = nested
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # a message already sits there: keep both
                child = node[part] = {"_schema": child}
            node = child
        leaf = node.get(parts[-1])
        if isinstance(leaf, dict):
            leaf.setdefault("_schema", []).append(message)
        else:
            node.setdefault(parts[-1], []).append(message)
    return nested


def _one_line(errors: dict[str, str]) -> str:
    """The message of a refusal made only of field errors: the one error itself, or a summary."""
    if len(errors) == 1:
        field, text = next(iter(errors.items()))
        return text if text[:1].isupper() or field == FORM else f"{field}: {text}"
    return "The request has invalid fields."


def api_payload(exc: DomainError) -> dict:
    """The ``data`` flask-smorest's error handler turns into ``{code, status, message, errors}``."""
    data: dict[str, Any] = {"message": exc.message}
    errors: dict[str, Any] = {}
    if exc.field_errors:
        errors[exc.location] = nest_errors(exc.errors)
        data["message"] = exc.summary or _one_line(exc.errors)
    errors.update(exc.extra)
    if errors:
        data["errors"] = errors
    return data


def apply_to_form(form, errors: dict[str, str], aliases: dict[str, str] | None = None) -> list[str]:
    """Put field errors on the form's inputs (nested FormField/FieldList included, by input id);
    returns the messages that fit no input, for the top of the form."""
    by_id = {}

    def walk(fields):
        for field in fields:
            if hasattr(field, "form") and hasattr(field.form, "_fields"):  # FormField
                walk(field.form._fields.values())
            elif hasattr(field, "entries"):  # FieldList
                walk(field.entries)
            else:
                by_id[field.id] = field
                by_id.setdefault(field.name, field)

    walk(form._fields.values())
    leftovers = []
    for key, message in errors.items():
        target = by_id.get((aliases or {}).get(key, key))
        if target is None or target.id == "csrf_token":
            leftovers.append(message)
        elif isinstance(target.errors, list):
            target.errors.append(message)
        else:
            target.errors = [message]
    return leftovers


def refuse_form(exc: DomainError, form, aliases: dict[str, str] | None = None) -> list[str]:
    """The web's flash-and-redisplay: drop the request's work, put the errors on the form.

    Returns the messages for the top of the form. ``form.refused`` is set so the view can
    answer with ``exc.status`` (wtforms caches ``form.errors``).
    """
    from app.core import unit_of_work

    unit_of_work.abandon()
    leftovers = apply_to_form(form, exc.errors, aliases)
    form.refused = True
    return leftovers
