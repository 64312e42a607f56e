"""Console page "API keys" (``/console/api-keys``): the keys (name, prefix, scopes, acting member,
created, expiry, last use, status), a form to create one (name, scopes, acting member by handle,
expiry) whose answer shows the secret once with a copy button, a key's page with its recent calls,
and revoke (asked to confirm).

Thin: parse the form, call one console action (``actions.py``), render or redirect; the request's
unit of work commits. The created key's page is the answer to the POST itself (never a redirect:
the secret must not pass through the session cookie), with ``Cache-Control: no-store``. Admins only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from wtforms import DateField, StringField
from wtforms.validators import Optional

from app.accounts import api_keys
from app.console.access import ADMIN, console_required, console_user
from app.console.api_keys import actions
from app.console.blueprints import bp
from app.core.confirm import Confirmation, confirmation_required
from app.core.domain_errors import DomainError, refuse_form
from app.core.forms import Form

KEY_ID = "int(max=2147483647)"


class ApiKeyForm(Form):
    name = StringField("Name", description="What uses the key, e.g. “Order sync” or “Acme ERP”.")
    user_handle = StringField(
        "Acts as (member handle)",
        description="The member whose account the key uses. Leave empty to act as yourself.",
    )
    expires_on = DateField(
        "Valid until (optional)",
        validators=[Optional()],
        description="The key stops working at the end of this day (UTC). Empty: it never expires.",
    )


class KeyActionForm(Form):
    """A button that only needs the CSRF token (revoke)."""


def _expiry(day: date | None) -> datetime | None:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC) if day else None


def _list_page(form: ApiKeyForm | None = None, form_errors=(), chosen=(), status: int = 200):
    return render_template(
        "console/api_keys.html",
        keys=actions.describe(api_keys.list_keys()),
        form=form or ApiKeyForm(formdata=None),
        form_errors=list(form_errors),
        scopes=api_keys.SCOPES,
        chosen=set(chosen),
        action_form=KeyActionForm(),
    ), status


@bp.get("/api-keys", endpoint="api_keys")
@console_required(ADMIN)
def api_keys_page():
    return _list_page()


@bp.post("/api-keys", endpoint="create_api_key")
@console_required(ADMIN)
def create_api_key():
    form = ApiKeyForm()
    chosen = request.form.getlist("scopes")
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _list_page(form, chosen=chosen, status=422)
    try:
        key, secret = actions.create_key(
            console_user(),
            name=form.name.data,
            scopes=chosen,
            user_handle=form.user_handle.data,
            expires_at=_expiry(form.expires_on.data),
        )
    except DomainError as exc:
        loose = refuse_form(exc, form, aliases={"expires_at": "expires_on"})
        return _list_page(form, loose, chosen, exc.status)
    page = render_template(
        "console/api_key_created.html", key=actions.describe([key])[0], secret=secret, scopes=api_keys.SCOPES
    )
    return page, 201, {"Cache-Control": "no-store"}


@bp.get(f"/api-keys/<{KEY_ID}:key_id>", endpoint="api_key")
@console_required(ADMIN)
def api_key_page(key_id: int):
    key = api_keys.get_key(key_id)
    return render_template(
        "console/api_key.html",
        key=actions.describe([key])[0],
        calls=api_keys.recent_calls(key.id, 100),
        scopes=api_keys.SCOPES,
        action_form=KeyActionForm(),
    )


def _revoke_confirmation(key_id: int) -> Confirmation:
    return Confirmation(
        "Revoke this API key?",
        "Every integration using it stops working at once. This cannot be undone: make a new key instead.",
        "Revoke the key",
        cancel_url=url_for("console.api_key", key_id=key_id),
    )


@bp.post(f"/api-keys/<{KEY_ID}:key_id>/revoke", endpoint="revoke_api_key")
@console_required(ADMIN)
@confirmation_required(_revoke_confirmation)
def revoke_api_key(key_id: int):
    KeyActionForm().validate_on_submit() or abort(400)
    key = actions.revoke_key(console_user(), key_id)
    flash(f"The API key “{key.name}” is revoked.", "success")
    return redirect(url_for("console.api_key", key_id=key.id), 303)
