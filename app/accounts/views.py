"""Account web pages. Thin: parse the form, call one service, render.

The request's unit of work commits (``app.core.unit_of_work``). A service refusal
(AccountError) is shown on the form with status 422 by ``refuse_form``, which rolls the
request back, so bad input changes nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, logout_user

from app.accounts import bot, services, sessions
from app.accounts.forms import (
    AVAILABILITY_LABELS,
    AvatarForm,
    ChangeEmailForm,
    ChangePasswordForm,
    ConfirmForm,
    DeleteAccountForm,
    ForgotPasswordForm,
    LoginForm,
    PortfolioItemForm,
    ProfileForm,
    ResetPasswordForm,
    SellerProfileForm,
    SignupForm,
)
from app.accounts.limits import account_key, configured, ip_key, login_limits
from app.accounts.models import SELLER_LEVELS
from app.accounts.services import AccountError
from app.accounts.signin import finish_login, landing_url, start_session
from app.core import money, unit_of_work
from app.core.domain_errors import apply_to_form, refuse_form
from app.core.reference import COUNTRIES, LANGUAGES
from app.extensions import limiter
from tenants.db import current_tenant

bp = Blueprint("accounts", __name__, template_folder="templates")

INVALID = 422  # the status of a page re-shown with errors on its form


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this host, else None (no open redirects).

    An absolute URL of this very host (Flask-Login's ``next`` is ``request.url``) counts
    as its path and query."""
    target = (target or "").strip()
    if target.lower().startswith(("http://", "https://")):
        parts = urlsplit(target)
        if parts.netloc.lower() != request.host.lower() or parts.username or parts.password:
            return None
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return None
    return target


def _render(template: str, status: int = 200, **context):
    return render_template(f"accounts/{template}", **context), status


@bp.app_context_processor
def _account_helpers():
    return {
        "avatar_url": services.avatar_url,
        "image_url": services.image_url,
        "logout_form": ConfirmForm,
        "needs_verification": services.needs_verification,
        "bot_fields_for": bot.fields_for,
    }


# --------------------------------------------------------------------------- sign-up and login


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    form = SignupForm()
    form_errors: list[str] = []
    if not bot.refused(form, "signup") and form.validate_on_submit():
        try:
            user = services.register_user(
                form.email.data, form.password.data, form.display_name.data, form.handle.data or None
            )
        except AccountError as exc:
            form_errors = refuse_form(exc, form)
        else:
            start_session(user, method="password")
            flash(f"Welcome! We sent a link to {user.email}: follow it to confirm your address.", "success")
            return redirect(url_for("accounts.profile"))
    status = INVALID if form.errors or form_errors else 200
    return _render("signup.html", status, form=form, form_errors=form_errors)


@bp.route("/login", methods=["GET", "POST"])
@login_limits  # one budget with POST /api/v1/auth/token
def login():
    target = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(target or landing_url())
    form = LoginForm(next=target or "")
    form_errors: list[str] = []
    if not bot.refused(form, "login") and form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data, ip=request.remote_addr)
        except AccountError as exc:
            unit_of_work.keep()  # the failed attempt counts toward the lockout (see authenticate)
            form_errors = apply_to_form(form, exc.errors)
        else:
            return finish_login(
                user, remember=bool(form.remember.data), method="password", next_url=safe_next(form.next.data)
            )
    status = INVALID if form.errors or form_errors else 200
    return _render("login.html", status, form=form, form_errors=form_errors)


@bp.post("/logout")
def logout():
    form = ConfirmForm()
    if form.validate_on_submit():
        sessions.end_current_session("logout")
        logout_user()
        session.clear()
        flash("You are logged out.", "info")
    return redirect(url_for("home.home"))


@bp.get("/verify/<token>")
def verify_email(token: str):
    try:
        services.verify_email(token)
    except AccountError as exc:
        return _render("link_problem.html", 400, message=exc.errors.get("token", exc.message))
    flash("Your email address is confirmed. Thank you!", "success")
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    return redirect(url_for("accounts.login"))


def _user_key(scope: str):
    def key() -> str:
        who = current_user.id if current_user and current_user.is_authenticated else "-"
        return f"t{current_tenant().id}:{scope}:user:{who}"

    return key


@bp.post("/account/verify/resend")
@login_required
@limiter.limit(configured("RATELIMIT_VERIFY_RESEND"), key_func=_user_key("verify-resend"))
def resend_verification():
    """The banner's "Send the link again" (one email per click, a few per hour)."""
    if ConfirmForm().validate_on_submit():
        services.send_verification_email(current_user)
        flash(f"We sent a new confirmation link to {current_user.email}.", "info")
    back = safe_next(request.form.get("next")) or url_for("accounts.profile")
    return redirect(back, 303)


# --------------------------------------------------------------------------- forgotten password


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(configured("RATELIMIT_RESET_PER_IP"), key_func=ip_key("reset"), methods=["POST"])
@limiter.limit(configured("RATELIMIT_RESET_PER_ACCOUNT"), key_func=account_key("reset"), methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if not bot.refused(form, "forgot_password") and form.validate_on_submit():
        services.request_password_reset(form.email.data)
        # The same answer whether or not the account exists.
        return _render("forgot_password_sent.html", email=form.email.data)
    return _render("forgot_password.html", INVALID if form.errors else 200, form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(configured("RATELIMIT_RESET_PER_IP"), key_func=ip_key("reset-set"), methods=["POST"])
def reset_password(token: str):
    try:
        services.check_reset_token(token)
    except AccountError as exc:
        return _render("link_problem.html", 400, message=exc.errors.get("token", exc.message))
    form = ResetPasswordForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except AccountError as exc:
            form_errors = refuse_form(exc, form, {"token": "csrf_token"})
        else:
            logout_user()
            session.clear()
            flash("Your password is changed. Log in with the new one.", "success")
            return redirect(url_for("accounts.login"))
    status = INVALID if form.errors or form_errors else 200
    return _render("reset_password.html", status, form=form, form_errors=form_errors)


# --------------------------------------------------------------------------- the account pages


@bp.route("/account", methods=["GET", "POST"])
@login_required
def profile():
    user = current_user._get_current_object()
    form = ProfileForm(obj=user if request.method == "GET" else None)
    if request.method == "GET":
        form.languages.data = ", ".join(user.languages or [])
        form.country.data = user.country or ""
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.update_profile(
                user,
                display_name=form.display_name.data,
                handle=form.handle.data,
                country=form.country.data,
                timezone=form.timezone.data,
                languages=form.languages.data or "",
                bio=form.bio.data,
            )
        except AccountError as exc:
            form_errors = refuse_form(exc, form)
        else:
            flash("Your profile is saved.", "success")
            return redirect(url_for("accounts.profile"))
    status = INVALID if form.errors or form_errors else 200
    return _render(
        "profile.html",
        status,
        form=form,
        avatar_form=AvatarForm(),
        form_errors=form_errors,
        timezones=services.timezone_choices(),
    )


@bp.post("/account/avatar")
@login_required
def upload_avatar():
    user = current_user._get_current_object()
    avatar_form = AvatarForm()
    if avatar_form.validate_on_submit():
        try:
            services.set_avatar(user, avatar_form.avatar.data)
        except AccountError as exc:
            form_errors = refuse_form(exc, avatar_form)
        else:
            flash("Your profile picture is updated.", "success")
            return redirect(url_for("accounts.profile"))
    else:
        form_errors = []
    form = ProfileForm(formdata=None, obj=user)
    form.languages.data = ", ".join(user.languages or [])
    return _render(
        "profile.html",
        INVALID,
        form=form,
        avatar_form=avatar_form,
        form_errors=form_errors,
        timezones=services.timezone_choices(),
    )


@bp.post("/account/avatar/remove")
@login_required
def remove_avatar():
    if ConfirmForm().validate_on_submit():
        services.remove_avatar(current_user._get_current_object())
        flash("Your profile picture is removed.", "info")
    return redirect(url_for("accounts.profile"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.change_password(user, form.current_password.data, form.password.data)
        except AccountError as exc:
            form_errors = refuse_form(exc, form)
        else:
            start_session(user)  # other sessions end with the old password; this one goes on
            flash("Your password is changed.", "success")
            return redirect(url_for("accounts.profile"))
    status = INVALID if form.errors or form_errors else 200
    return _render("change_password.html", status, form=form, form_errors=form_errors)


@bp.get("/account/sessions")
@login_required
def sessions_page():
    """Where you are signed in: this device, other browsers, API clients."""
    now = datetime.now(UTC)
    entries = sessions.list_sessions(current_user._get_current_object(), now=now)
    return _render(
        "sessions.html",
        entries=entries,
        ago=lambda when: sessions.ago(when, now),
        others=sum(1 for e in entries if e.active and not e.current),
        end_form=ConfirmForm(),
    )


@bp.post("/account/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            entry = sessions.end_session(current_user._get_current_object(), session_id, "ended")
        except sessions.SessionNotFound:
            abort(404)
        flash(f"{entry.device or 'The device'} is signed out.", "info")
    return redirect(url_for("accounts.sessions_page"), 303)


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions():
    if ConfirmForm().validate_on_submit():
        count = sessions.end_other_sessions(current_user._get_current_object(), "ended")
        flash(
            f"Signed out of {count} other device{'s' if count != 1 else ''}."
            if count
            else "No other device was signed in.",
            "info",
        )
    return redirect(url_for("accounts.sessions_page"), 303)


@bp.route("/account/email", methods=["GET", "POST"])
@login_required
def change_email():
    user = current_user._get_current_object()
    form = ChangeEmailForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.request_email_change(user, form.new_email.data, form.password.data)
        except AccountError as exc:
            form_errors = refuse_form(exc, form)
        else:
            flash(f"We sent a confirmation link to {form.new_email.data.strip()}.", "info")
            return redirect(url_for("accounts.profile"))
    status = INVALID if form.errors or form_errors else 200
    return _render("change_email.html", status, form=form, form_errors=form_errors)


@bp.get("/account/email/confirm/<token>")
def confirm_email_change(token: str):
    try:
        user = services.confirm_email_change(token)
    except AccountError as exc:
        return _render("link_problem.html", 400, message=exc.errors.get("token", exc.message))
    email = user.email
    flash(f"Your email address is now {email}.", "success")
    return redirect(url_for("accounts.profile" if current_user.is_authenticated else "accounts.login"))


@bp.route("/account/seller", methods=["GET", "POST"])
@login_required
def seller_profile():
    user = current_user._get_current_object()
    existing = user.seller_profile
    currency = services.marketplace_currency()
    form = SellerProfileForm(obj=existing if request.method == "GET" else None)
    if request.method == "GET" and existing is not None:
        form.skills.data = ", ".join(existing.skills or [])
        form.hourly_rate.data = money.input_value(existing.hourly_rate_minor, existing.currency)
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            try:
                rate = form.hourly_rate_minor(currency)
            except money.MoneyError as exc:
                raise AccountError({"hourly_rate_minor": str(exc)}) from None
            services.upsert_seller_profile(
                user,
                headline=form.headline.data,
                description=form.description.data or "",
                skills=form.skills.data or "",
                hourly_rate_minor=rate,
                availability=form.availability.data,
            )
        except AccountError as exc:
            form_errors = refuse_form(exc, form, {"hourly_rate_minor": "hourly_rate"})
        else:
            flash(
                "Your seller profile is saved." if existing else "You are now a seller. Welcome aboard!",
                "success",
            )
            return redirect(url_for("accounts.seller_profile"))
    status = INVALID if form.errors or form_errors else 200
    return _render(
        "seller_profile.html",
        status,
        form=form,
        form_errors=form_errors,
        currency=currency,
        is_seller=existing is not None,
    )


@bp.route("/account/portfolio", methods=["GET", "POST"])
@login_required
def portfolio():
    user = current_user._get_current_object()
    form = PortfolioItemForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.add_portfolio_item(
                user,
                form.title.data,
                form.description.data or "",
                link=form.link.data or None,
                image=form.image.data,
            )
        except AccountError as exc:
            form_errors = refuse_form(exc, form)
        else:
            flash("The item is added to your portfolio.", "success")
            return redirect(url_for("accounts.portfolio"))
    status = INVALID if form.errors or form_errors else 200
    return _render(
        "portfolio.html",
        status,
        form=form,
        form_errors=form_errors,
        items=user.portfolio_items,
        delete_form=ConfirmForm(),
        is_seller=user.is_seller,
    )


@bp.post("/account/portfolio/<int:item_id>/delete")
@login_required
def delete_portfolio_item(item_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            services.delete_portfolio_item(current_user._get_current_object(), item_id)
        except AccountError:
            abort(404)
        flash("The item is removed from your portfolio.", "info")
    return redirect(url_for("accounts.portfolio"))


@bp.route("/account/privacy", methods=["GET"])
@login_required
def privacy():
    return _render("privacy.html", delete_form=DeleteAccountForm(), form_errors=[])


@bp.get("/account/privacy/export.json")
@login_required
def export_data():
    data = services.export_user_data(current_user._get_current_object())
    filename = f"{current_tenant().slug}-account-{current_user.id}.json"
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@bp.post("/account/delete")
@login_required
def delete_account():
    form = DeleteAccountForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            services.delete_account(current_user._get_current_object(), form.password.data)
        except AccountError as exc:
            form_errors = refuse_form(exc, form)
        else:
            logout_user()
            session.clear()
            flash("Your account is deleted. Goodbye!", "info")
            return redirect(url_for("home.home"))
    return _render("privacy.html", INVALID, delete_form=form, form_errors=form_errors)


# --------------------------------------------------------------------------- public profile


@bp.get("/u/<handle>")
def public_profile(handle: str):
    user = services.get_user_by_handle(handle)
    if user is None:
        abort(404)
    if user.handle != handle:
        return redirect(url_for("accounts.public_profile", handle=user.handle), 301)
    seller = user.seller_profile
    return _render(
        "public_profile.html",
        person=user,
        seller=seller,
        items=user.portfolio_items if seller else [],
        country=COUNTRIES.get(user.country or ""),
        languages=[LANGUAGES.get(code, code) for code in user.languages or []],
        availability=AVAILABILITY_LABELS.get(seller.availability) if seller else None,
        rate=money.format(seller.hourly_rate_minor, seller.currency)
        if seller and seller.hourly_rate_minor is not None
        else "",
        is_owner=current_user.is_authenticated and current_user.id == user.id,
        gigs=services.seller_listing(user) if seller else [],
        sections=services.profile_sections(user, current_user),
        level_label=SELLER_LEVELS.get(seller.level) if seller else None,
    )


from app.accounts import two_factor_views  # noqa: E402, F401  (its routes are on ``bp``)
