"""Console page "Sign-in methods" (``/console/sign-in-methods``, admins): for GitHub and Google,
the client id, the client secret (write-only: a stored one shows masked, never in a form), on /
off, and the callback URL to register at the provider; save and remove.

Thin: parse the form, call one console action (``actions.py``), redirect; the request's unit of
work commits. A refused form answers 422 with its errors and stores nothing.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from wtforms import BooleanField, PasswordField, StringField

from app.accounts import oauth
from app.console.access import ADMIN, console_required, console_user
from app.console.blueprints import bp
from app.console.identity import actions
from app.core.confirm import Confirmation, confirmation_required
from app.core.domain_errors import DomainError, refuse_form
from app.core.forms import Form
from app.core.urls import tenant_url
from tenants.db import current_tenant

HELP = {
    "github": "At github.com → Settings → Developer settings → OAuth Apps → New OAuth App: "
    "set the homepage to your marketplace's address and the authorization callback URL below, "
    "then copy the client ID and generate a client secret.",
    "google": "At console.cloud.google.com → APIs & Services → Credentials → Create credentials → "
    "OAuth client ID (Web application): add the callback URL below to the authorized redirect URIs, "
    "then copy the client ID and secret. The consent screen needs the scopes openid, email and profile.",
}


class ProviderForm(Form):
    client_id = StringField("Client ID")
    client_secret = PasswordField(
        "Client secret", description="Write-only: leave empty to keep the stored secret."
    )
    enabled = BooleanField("Offer this sign-in method on the login and sign-up pages")


class ProviderActionForm(Form):
    """A button that only needs the CSRF token (remove)."""


def _known(provider: str) -> None:
    if provider not in oauth.PROVIDERS:
        abort(404)


def _page(forms: dict | None = None, errors: dict | None = None, status: int = 200):
    rows = oauth.provider_rows()
    cards = []
    for provider in oauth.PROVIDERS:
        row = rows.get(provider)
        form = (forms or {}).get(provider) or ProviderForm(
            formdata=None,
            prefix=provider,
            data={"client_id": row.client_id if row else "", "enabled": row.enabled if row else True},
        )
        cards.append(
            {
                "provider": provider,
                "label": oauth.label(provider),
                "row": row,
                "masked": oauth.stored_secret_mask(row) if row else None,
                "form": form,
                "form_errors": (errors or {}).get(provider, []),
                "callback_url": tenant_url(current_tenant(), "oauth.callback", provider=provider),
                "help": HELP[provider],
            }
        )
    return render_template(
        "console/identity_providers.html", cards=cards, action_form=ProviderActionForm()
    ), status


@bp.get("/sign-in-methods", endpoint="identity_providers")
@console_required(ADMIN)
def identity_providers():
    return _page()


@bp.post("/sign-in-methods/<provider>", endpoint="save_identity_provider")
@console_required(ADMIN)
def save_identity_provider(provider: str):
    _known(provider)
    form = ProviderForm(prefix=provider)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _page({provider: form}, status=422)
    try:
        actions.save_provider(
            console_user(),
            provider,
            client_id=form.client_id.data,
            client_secret=form.client_secret.data,
            enabled=bool(form.enabled.data),
        )
    except DomainError as exc:
        loose = refuse_form(exc, form)
        return _page({provider: form}, {provider: loose}, exc.status)
    flash(f"Sign in with {oauth.label(provider)} is saved.", "success")
    return redirect(url_for("console.identity_providers"), 303)


def _remove_confirmation(provider: str) -> Confirmation:
    _known(provider)
    return Confirmation(
        f"Remove sign in with {oauth.label(provider)}?",
        "Members who signed up with it can no longer sign in that way until you configure it again "
        "(those without a password can set one with “Forgot your password?”).",
        "Remove",
        cancel_url=url_for("console.identity_providers"),
    )


@bp.post("/sign-in-methods/<provider>/remove", endpoint="remove_identity_provider")
@console_required(ADMIN)
@confirmation_required(_remove_confirmation)
def remove_identity_provider(provider: str):
    _known(provider)
    actions.remove_provider(console_user(), provider)
    flash(f"Sign in with {oauth.label(provider)} is removed.", "success")
    return redirect(url_for("console.identity_providers"), 303)
