"""The console's refusals, and (for now) the bridge from other domains' older error classes.

The console's own errors are ``DomainError`` subclasses: API methods let them through to the
central handler (``app.core.errors``: JSON ``{code, status, message, errors}``), web views
redisplay their form with ``refuse_form`` (``app.core.domain_errors``), and the request's
unit of work rolls back whatever the refused request had started.

Temporary (issue 11): the accounts, gigs, orders, payments, settings and tenant-domain
services still raise error classes of their own that do not derive from ``DomainError``
yet. ``as_domain_error`` converts one into a ``DomainError`` with the status, message and
field errors the console's API has always answered with, and ``register_legacy_handlers``
routes the ones no console view catches to the central handler. Once every domain's error
derives from ``DomainError``, delete ``_legacy_errors``, ``as_domain_error`` and
``register_legacy_handlers`` (and the ``as_domain_error(...)`` wrappers at the call sites).
"""

from __future__ import annotations

from flask import Blueprint

from app.core.domain_errors import FORM, DomainError, refuse_form


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


# --------------------------------------------------------------------------- temporary bridge


def _legacy_errors() -> tuple[type[Exception], ...]:
    from app.accounts.services import AccountError
    from app.gigs.categories import CategoryError
    from app.gigs.services import GigError
    from app.orders.services import OrderError
    from app.payments.services import PaymentError
    from app.settings.services import SettingsError
    from tenants.domains import DomainError as TenantDomainError

    return (AccountError, CategoryError, GigError, OrderError, PaymentError, SettingsError, TenantDomainError)


def _summary(errors: dict[str, str], fallback: str) -> str:
    """One message for a refusal made of field errors (settings and categories have no message)."""
    if len(errors) == 1:
        field, text = next(iter(errors.items()))
        return text if text[:1].isupper() or field == FORM else f"{field}: {text}"
    return fallback


def as_domain_error(exc: Exception, *, location: str | None = None) -> DomainError:
    """TEMPORARY (issue 11): ``exc``, a refusal of another domain, as a ``DomainError``.

    A ``DomainError`` already comes back as it is (``location``, when given, set on it): once the
    domains' errors derive from ``DomainError`` this is a no-op and its call sites can go.
    Field errors are kept for 409 and 422 (where they name what to fix); an order's 409 and 422
    also carry the order's ``code`` and ``current_status`` in the API's ``errors``.
    """
    from app.gigs.categories import CategoryError
    from app.orders.services import OrderError
    from app.settings.services import SettingsError
    from tenants.domains import DomainError as TenantDomainError

    if isinstance(exc, DomainError):
        if location:
            exc.location = location
        return exc
    status = getattr(exc, "status", 422)
    errors = dict(getattr(exc, "errors", None) or {})
    message = getattr(exc, "message", None) or str(exc)
    extra: dict = {}
    if isinstance(exc, SettingsError):
        message = _summary(errors, "Some settings are not valid.")
    elif isinstance(exc, CategoryError):
        message = _summary(errors, "Some fields are not valid.")
    elif isinstance(exc, TenantDomainError):
        errors = {exc.field: exc.message}
    elif isinstance(exc, OrderError) and status in (409, 422):
        extra = {"code": exc.code}
        if getattr(exc, "current_status", None) is not None:
            extra["current_status"] = exc.current_status
    converted = DomainError(
        message,
        errors if status in (409, 422) and errors else None,
        status=status,
        location=location,
        extra=extra,
    )
    converted.__cause__ = exc
    return converted


def register_legacy_handlers(*blueprints: Blueprint) -> None:
    """TEMPORARY (issue 11): another domain's refusal that leaves a console view or API method
    is answered like a ``DomainError`` (the central handler: JSON under /api/, else a flash and a
    redirect back, or the error page)."""
    from app.core.errors import handle_domain_error

    def handle(exc: Exception):
        return handle_domain_error(as_domain_error(exc))

    for blueprint in blueprints:
        for error_class in _legacy_errors():
            blueprint.register_error_handler(error_class, handle)
