"""The console's refusals.

The console's own errors are ``DomainError`` subclasses: API methods let them through to the
central handler (``app.core.errors``: JSON ``{code, status, message, errors}``), web views
redisplay their form with ``refuse_form`` (``app.core.domain_errors``), and the request's
unit of work rolls back whatever the refused request had started.
"""

from __future__ import annotations

from app.core.domain_errors import DomainError, refuse_form


class ConsoleError(DomainError):
    """A refusal of the console itself: ``ConsoleError({"refund": "Enter an amount"})``."""


class ConsoleInputError(ConsoleError):
    """Bad filters of a console list (``errors`` maps ``status``, ``q``, ``from``, ``to``, ... to
    a message). The filters are query arguments: the API reports them under ``errors.query``."""

    location = "query"

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()), errors)


def refuse_prefixed_form(exc: DomainError, form) -> list[str]:
    """``refuse_form`` for a form with a prefix (the gig review page's ``reject-``, a category
    row's ``c12-``): services name the field ``reason``, the form's input is ``reject-reason``."""
    return refuse_form(exc, form, {name: field.id for name, field in form._fields.items()})
