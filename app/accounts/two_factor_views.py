"""Two-factor web pages, on the accounts blueprint: the code step of a sign-in (``/login/2fa``)
and the account's Security page (``/account/security``: enrol, recovery codes, turn off).

Thin: parse the form, call one service of ``app/accounts/two_factor.py``, render. Recovery
codes are rendered (never redirected to): they exist in clear only in that one response, which
is marked ``no-store``.
"""

from __future__ import annotations

from flask import current_app, flash, make_response, redirect, url_for
from flask_login import current_user, login_required

from app.accounts import two_factor
from app.accounts.forms import ConfirmForm, TwoFactorCodeForm, TwoFactorDisableForm, TwoFactorLoginForm
from app.accounts.limits import login_limits
from app.accounts.services import AccountError
from app.accounts.signin import complete_login, drop_pending_login, pending_login
from app.accounts.views import INVALID, _render, bp
from app.core import unit_of_work
from app.core.domain_errors import refuse_form

EXPIRED = "Your sign-in took too long or is no longer valid. Please log in again."


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- the code step


@bp.route("/login/2fa", methods=["GET", "POST"])
@login_limits  # the same budgets as the password: guesses through either step count once
def login_two_factor():
    found = pending_login()
    if found is None:
        drop_pending_login()
        flash(EXPIRED, "info")
        return redirect(url_for("accounts.login"))
    user, pending = found
    form = TwoFactorLoginForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            two_factor.verify_login_code(user, form.code.data)
        except AccountError as exc:
            unit_of_work.keep()  # a wrong code counts toward the lockout (see verify_login_code)
            if isinstance(exc, two_factor.TwoFactorError) and exc.status == 422:
                form.code.errors = [exc.errors.get("code", exc.message)]
            else:  # locked meanwhile: start again from the password (which says so)
                drop_pending_login()
                flash(exc.message, "error")
                return redirect(url_for("accounts.login"))
        else:
            remember_device = bool(form.remember_device.data)
            response = make_response(complete_login(user, pending))
            if remember_device:
                response.set_cookie(
                    two_factor.device_cookie_name(),
                    two_factor.remember_device_token(user),
                    max_age=two_factor.REMEMBER_DEVICE_DAYS * 24 * 3600,
                    httponly=True,
                    secure=current_app.config["SESSION_COOKIE_SECURE"],
                    samesite="Lax",
                )
            return response
    status = INVALID if form.errors or form_errors else 200
    return _render("login_two_factor.html", status, form=form, form_errors=form_errors)


# --------------------------------------------------------------------------- the Security page


def _me():
    return current_user._get_current_object()


def _prefixed(form) -> dict[str, str]:
    """The services name ``code`` and ``password``; this page's inputs carry a prefix."""
    return {name: field.id for name, field in form._fields.items()}


def _security_page(status: int = 200, **forms):
    user = _me()
    return _render(
        "security.html",
        status,
        two_factor_status=two_factor.status(user),
        pending=two_factor.pending_enrolment(user) is not None,
        start_form=ConfirmForm(),
        regenerate_form=forms.get("regenerate_form") or TwoFactorCodeForm(prefix="regen", formdata=None),
        disable_form=forms.get("disable_form") or TwoFactorDisableForm(prefix="off", formdata=None),
    )


@bp.get("/account/security")
@login_required
def security():
    return _security_page()


@bp.post("/account/security/2fa")
@login_required
def start_two_factor():
    if ConfirmForm().validate_on_submit():
        two_factor.start_enrolment(_me())  # already on: a 409 flashed by the central handler
    return redirect(url_for("accounts.enrol_two_factor"), 303)


def _enrol_page(enrolment, form, status=200):
    return _no_store(make_response(_render("two_factor_enrol.html", status, enrolment=enrolment, form=form)))


@bp.get("/account/security/2fa")
@login_required
def enrol_two_factor():
    enrolment = two_factor.pending_enrolment(_me())
    if enrolment is None:
        return redirect(url_for("accounts.security"))
    return _enrol_page(enrolment, TwoFactorCodeForm())


def _codes_page(codes: list[str], *, new_set: bool):
    return _no_store(make_response(_render("recovery_codes.html", codes=codes, new_set=new_set)))


@bp.post("/account/security/2fa/confirm")
@login_required
def confirm_two_factor():
    user = _me()
    enrolment = two_factor.pending_enrolment(user)
    if enrolment is None:
        return redirect(url_for("accounts.security"), 303)
    form = TwoFactorCodeForm()
    if form.validate_on_submit():
        try:
            codes = two_factor.confirm_enrolment(user, form.code.data)
        except AccountError as exc:
            refuse_form(exc, form)
            return _enrol_page(enrolment, form, exc.status)
        return _codes_page(codes, new_set=False)
    return _enrol_page(enrolment, form, INVALID)


@bp.post("/account/security/2fa/recovery-codes")
@login_required
def regenerate_recovery_codes():
    form = TwoFactorCodeForm(prefix="regen")
    if form.validate_on_submit():
        try:
            codes = two_factor.regenerate_recovery_codes(_me(), form.code.data)
        except AccountError as exc:
            refuse_form(exc, form, _prefixed(form))
            return _security_page(exc.status, regenerate_form=form)
        return _codes_page(codes, new_set=True)
    return _security_page(INVALID, regenerate_form=form)


@bp.post("/account/security/2fa/disable")
@login_required
def disable_two_factor():
    form = TwoFactorDisableForm(prefix="off")
    if form.validate_on_submit():
        try:
            two_factor.disable(_me(), form.password.data, form.code.data)
        except AccountError as exc:
            refuse_form(exc, form, _prefixed(form))
            return _security_page(exc.status, disable_form=form)
        flash("Two-factor sign-in is off. Your password alone now signs you in.", "info")
        return redirect(url_for("accounts.security"), 303)
    return _security_page(INVALID, disable_form=form)
