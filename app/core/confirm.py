"""A confirmation step for actions that move money or cannot be undone.

The rule is the server's: a form of such an action must carry ``confirm=yes``. Without it
(a browser without JavaScript, a hand-made POST) the view does nothing and answers with a
confirmation page that sends the same fields again with ``confirm=yes``. With JavaScript,
``static/js/confirm.js`` asks first in an accessible ``<dialog>`` (forms or buttons marked
``data-confirm``) and adds the field itself, so the page is skipped.

    @bp.post("/orders/<int:order_id>/complete")
    @login_required
    @confirmation_required(lambda order_id: Confirmation("Complete the order?", "...", "Complete"))
    @idempotent
    def complete(order_id): ...

Place it above ``@idempotent``: the unconfirmed first POST must not claim the form's key
(the confirmed one reuses it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import abort, current_app, render_template, request
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

FIELD = "confirm"


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page (and the dialog) says: a question, what happens, the button."""

    title: str
    message: str
    button: str
    cancel_url: str | None = None


def confirmed() -> bool:
    return request.form.get(FIELD) == "yes"


def ask(confirmation: Confirmation):
    """The confirmation page: the posted fields again, with ``confirm=yes`` (nothing is done)."""
    fields = [(k, v) for k, v in request.form.items(multi=True) if k != FIELD]
    return render_template(
        "confirm.html",
        confirmation=confirmation,
        action=request.full_path if request.query_string else request.path,
        fields=fields,
        cancel_url=confirmation.cancel_url or request.referrer or "/",
    )


def _check_csrf() -> None:
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        abort(400)


def confirmation_required(describe: Callable[..., Confirmation | None]):
    """Refuse to act on a POST without ``confirm=yes``: answer with the confirmation page.

    ``describe(**view_args)`` says what to ask, or None when this submission needs no
    confirmation (e.g. "Decline" on a form whose "Accept" moves money)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if request.method == "POST" and not confirmed():
                _check_csrf()  # a forged form gets the same 400 as before, not a page to confirm
                confirmation = describe(**kwargs)
                if confirmation is not None:
                    return ask(confirmation)
            return view(*args, **kwargs)

        return wrapper

    return decorator
