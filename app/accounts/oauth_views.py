"""Sign in with GitHub / Google (web): start, callback, "confirm your password to link", and the
account's "Sign-in methods" page (app/accounts/oauth.py does the protocol and the rules).

- ``GET /login/oauth/<provider>`` sends the browser to the provider (``POST`` with ``link=1``
  from the account page links a provider to the signed-in account instead);
- ``GET /login/oauth/<provider>/callback`` signs in a known identity through
  ``signin.finish_login`` (so two-factor applies), links for a signed-in member, asks the
  password of an account with the provider's verified email, or creates an account;
- any refusal shows the login page with the reason (status 4xx) and stores nothing.
"""

from __future__ import annotations

import contextlib

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import PasswordField
from wtforms.validators import DataRequired

from app.accounts import oauth, services
from app.accounts.forms import ConfirmForm, LoginForm
from app.accounts.limits import configured, ip_key
from app.accounts.services import AccountError
from app.accounts.signin import finish_login, landing_url
from app.core import unit_of_work
from app.core.domain_errors import apply_to_form
from app.core.forms import Form
from app.extensions import limiter
from tenants.db import current_tenant_or_none

bp = Blueprint("oauth", __name__, template_folder="templates")

SETTINGS = "oauth.sign_in_methods"


class ConfirmLinkForm(Form):
    password = PasswordField(
        "Your password on this marketplace", validators=[DataRequired("Enter your password.")]
    )


@bp.app_context_processor
def _oauth_helpers():
    def sign_in_providers() -> list[tuple[str, str]]:
        """(provider, label) of the providers offered on the login and sign-up pages."""
        if current_tenant_or_none() is None:
            return []
        return [(p, oauth.label(p)) for p in oauth.enabled_providers()]

    return {"sign_in_providers": sign_in_providers, "github_login_of": oauth.github_login}


def _safe_next(target):
    from app.accounts.views import safe_next

    return safe_next(target)


def _refuse(message: str, status: int = 400):
    """Stop the sign-in: nothing of this request is stored; the login page tells why (or, for a
    signed-in member linking, the account page)."""
    unit_of_work.abandon()
    if current_user.is_authenticated:
        flash(message, "error")
        return redirect(url_for(SETTINGS), 303)
    return render_template(
        "accounts/login.html", form=LoginForm(formdata=None), form_errors=[message]
    ), status


def _known(provider: str) -> None:
    if provider not in oauth.PROVIDERS:
        abort(404)


@bp.route("/login/oauth/<provider>", methods=["GET", "POST"])
def start(provider: str):
    _known(provider)
    linking = request.method == "POST" and request.args.get("link") == "1"
    if request.method == "POST" and not (linking and ConfirmForm().validate_on_submit()):
        abort(400)
    if linking and not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    if not linking and current_user.is_authenticated:
        return redirect(landing_url())
    try:
        url = oauth.begin(
            provider,
            url_for("oauth.callback", provider=provider, _external=True),
            link_user_id=current_user.id if linking else None,
            next_url=None if linking else _safe_next(request.args.get("next")),
        )
    except oauth.OAuthError as exc:
        return _refuse(exc.message, exc.status)
    return redirect(url, 303 if linking else 302)


@bp.get("/login/oauth/<provider>/callback")
def callback(provider: str):
    _known(provider)
    if request.args.get("error"):
        with contextlib.suppress(oauth.OAuthError):  # the flow is spent either way
            oauth.take_flow(provider, request.args.get("state"))
        if request.args.get("error") == "access_denied":
            return _refuse(f"You did not allow {oauth.label(provider)} to sign you in.")
        return _refuse(f"{oauth.label(provider)} could not sign you in. Please try again.")
    try:
        flow = oauth.take_flow(provider, request.args.get("state"))
        profile = oauth.fetch_profile(provider, flow, request.args.get("code"))
        if flow.get("link") is not None:
            if not current_user.is_authenticated or current_user.id != flow["link"]:
                raise oauth.OAuthError("Sign in to the account you want to link, then try again.")
            oauth.link_identity(current_user._get_current_object(), profile)
            flash(f"{oauth.label(provider)} is linked: you can now sign in with it.", "success")
            return redirect(url_for(SETTINGS), 303)
        user = oauth.user_of_identity(profile)
        if user is not None:
            return finish_login(user, remember=False, method=provider, next_url=flow.get("next"))
        outcome, user = oauth.account_for_new_identity(profile)
    except oauth.OAuthError as exc:
        return _refuse(exc.message, exc.status)
    if outcome == "confirm":
        oauth.remember_pending_link(user, profile, next_url=flow.get("next"))
        return redirect(url_for("oauth.confirm_link"), 303)
    return finish_login(user, remember=False, method=provider, next_url=flow.get("next"))


@bp.route("/login/oauth/link", methods=["GET", "POST"])
@limiter.shared_limit(
    configured("RATELIMIT_LOGIN_PER_IP"), scope="login-ip", key_func=ip_key("login"), methods=["POST"]
)
def confirm_link():
    pending = oauth.pending_link()
    if pending is None:
        flash("This link request has expired. Please sign in again.", "info")
        return redirect(url_for("accounts.login"))
    user, profile, next_url = pending
    form = ConfirmLinkForm()
    form_errors: list[str] = []
    if request.form.get("cancel") and ConfirmForm().validate_on_submit():
        oauth.drop_pending_link()
        flash("Nothing was linked. You can sign in with your password.", "info")
        return redirect(url_for("accounts.login"))
    if form.validate_on_submit():
        try:
            confirmed = services.authenticate(user.email, form.password.data, ip=request.remote_addr)
        except AccountError as exc:
            unit_of_work.keep()  # a wrong password counts toward the lockout, as on the login page
            form_errors = apply_to_form(form, {"password": exc.message} if exc.status == 401 else exc.errors)
        else:
            try:
                oauth.link_identity(confirmed, profile)
            except oauth.OAuthError as exc:
                oauth.drop_pending_link()
                return _refuse(exc.message, exc.status)
            oauth.drop_pending_link()
            flash(f"{oauth.label(profile.provider)} is linked to your account.", "success")
            return finish_login(confirmed, remember=False, method=profile.provider, next_url=next_url)
    status = 422 if form.errors or form_errors else 200
    return render_template(
        "accounts/oauth_confirm_link.html",
        form=form,
        form_errors=form_errors,
        cancel_form=ConfirmForm(),
        provider_label=oauth.label(profile.provider),
        profile=profile,
        email=user.email,
    ), status


@bp.get("/account/sign-in")
@login_required
def sign_in_methods():
    user = current_user._get_current_object()
    linked = oauth.identities_of(user)
    offered = oauth.enabled_providers()
    rows = [
        {"provider": p, "label": oauth.label(p), "identity": linked.get(p), "offered": p in offered}
        for p in oauth.PROVIDERS
        if p in linked or p in offered
    ]
    return render_template(
        "accounts/sign_in_methods.html",
        rows=rows,
        has_password=bool(user.password_hash),
        ways=len(linked) + (1 if user.password_hash else 0),
        action_form=ConfirmForm(),
    )


@bp.post("/account/sign-in/<provider>/unlink")
@login_required
def unlink(provider: str):
    _known(provider)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        oauth.unlink_identity(current_user._get_current_object(), provider)
    except AccountError as exc:
        unit_of_work.abandon()
        flash(exc.message, "error")
        return redirect(url_for(SETTINGS), 303)
    flash(f"{oauth.label(provider)} is unlinked from your account.", "success")
    return redirect(url_for(SETTINGS), 303)
