"""Platform-host pages: ``/platform/...``. Thin: parse the form, call one service, render.

Only the bare platform host serves this blueprint (``PLATFORM_BLUEPRINTS``); everything
but ``/about`` and the sign-in pages (password, then the two-factor enrolment or code)
needs a signed-in platform admin (``app.platform.auth``).
A refused action is shown on its form with status 422 and changes nothing (``refuse_form``
rolls the request back; a successful one is committed by the request's unit of work).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup

from app.accounts.views import safe_next
from app.core.domain_errors import apply_to_form, refuse_form
from app.core.urls import public_origin
from app.platform import services
from app.platform.auth import (
    clear_pending,
    current_platform_admin,
    end_session,
    login_limits,
    pending_admin,
    pending_next,
    platform_admin_required,
    start_pending,
    start_session,
)
from app.platform.forms import (
    CodeForm,
    ConfirmForm,
    ContinueForm,
    EnrolForm,
    LoginForm,
    NewTenantForm,
    PlanForm,
    ResumeForm,
    SuspendForm,
    TenantFilterForm,
)
from app.platform.services import PlatformError, TenantNotFound

bp = Blueprint("platform", __name__, url_prefix="/platform", template_folder="templates")

INVALID = 422  # a page re-shown with errors on its form


def marketplace_url(hostname: str) -> str:
    """A link to a tenant's site, on the public scheme and port (app/core/urls.py)."""
    return public_origin(hostname) + "/"


@bp.context_processor
def _platform_context():
    return {
        "platform_admin": current_platform_admin(),
        "platform_logout_form": ConfirmForm,
        "marketplace_url": marketplace_url,
    }


@bp.app_template_filter("platform_utc")
def platform_utc(value: datetime) -> str:
    """An aware datetime as ``YYYY-MM-DD HH:MM UTC`` (the platform console speaks UTC)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@bp.get("/about")
def about():
    return render_template("platform/home.html")


# --------------------------------------------------------------------------- sign in


def _console_next(value: str | None) -> str | None:
    """``value`` if it is a safe page of this console, else None."""
    target = safe_next(value)
    return target if target and target.startswith(bp.url_prefix + "/") else None


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    target = _console_next(request.values.get("next"))
    if current_platform_admin() is not None:
        return redirect(target or url_for("platform.tenants"))
    form = LoginForm(next=target or "")
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            admin = services.authenticate(form.email.data, form.password.data)
        except PlatformError as exc:
            form_errors = refuse_form(exc, form)
        else:
            # The password only opens a pending sign-in: the second factor (or, the first
            # time, the enrolment) comes before any platform page.
            start_pending(admin, _console_next(form.next.data))
            if admin.totp_confirmed_at is None:
                return redirect(url_for("platform.login_enrol"))
            return redirect(url_for("platform.login_code"))
    status = INVALID if form.errors or form_errors else 200
    return render_template("platform/login.html", form=form, form_errors=form_errors), status


def _pending_or_restart():
    """The pending sign-in's admin, or a redirect back to the password form."""
    admin = pending_admin()
    if admin is None:
        clear_pending()
        flash("Your sign-in expired. Please log in again.", "info")
        return None, redirect(url_for("platform.login"))
    return admin, None


def _signed_in(admin, method: str):
    next_page = _console_next(pending_next())
    start_session(admin)
    services.log_action("admin.login", admin, second_factor=method)
    return next_page or url_for("platform.tenants")


@bp.route("/login/code", methods=["GET", "POST"])
@login_limits(only_refusals=True)
def login_code():
    admin, restart = _pending_or_restart()
    if restart is not None:
        return restart
    if admin.totp_confirmed_at is None:
        return redirect(url_for("platform.login_enrol"))
    form = CodeForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            method = services.verify_second_factor(admin, form.code.data)
        except PlatformError as exc:
            form_errors = refuse_form(exc, form)
        else:
            target = _signed_in(admin, method)
            if method == "recovery":
                left = len(admin.recovery_code_hashes)
                flash(
                    f"You used a recovery code: {left} left. When few are left, ask another platform "
                    "admin to run `flask platform reset-2fa` for you and enrol again.",
                    "info",
                )
            return redirect(target)
    status = INVALID if form.errors or form_errors else 200
    return render_template("platform/login_code.html", form=form, form_errors=form_errors), status


@bp.route("/login/enrol", methods=["GET", "POST"])
@login_limits(only_refusals=True)
def login_enrol():
    admin, restart = _pending_or_restart()
    if restart is not None:
        return restart
    if admin.totp_confirmed_at is not None:
        return redirect(url_for("platform.login_code"))
    form = EnrolForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            codes = services.confirm_enrolment(admin, form.code.data)
        except PlatformError as exc:
            form_errors = refuse_form(exc, form)
        else:
            target = _signed_in(admin, "enrolment")
            # Shown in this response only: the session never holds them, the database keeps hashes.
            return render_template(
                "platform/login_recovery_codes.html", codes=codes, form=ContinueForm(next=target)
            )
    secret = services.begin_enrolment(admin)
    status = INVALID if form.errors or form_errors else 200
    return render_template(
        "platform/login_enrol.html",
        form=form,
        form_errors=form_errors,
        admin=admin,
        secret=secret,
        qr=Markup(services.enrolment_qr(admin, secret)),  # noqa: S704  (segno's SVG of our own URI)
    ), status


@bp.post("/login/continue")
@platform_admin_required
def login_continue():
    """Leave the recovery codes page for the page the sign-in was for."""
    form = ContinueForm()
    target = _console_next(form.next.data) if form.validate_on_submit() else None
    return redirect(target or url_for("platform.tenants"))


@bp.post("/logout")
def logout():
    if ConfirmForm().validate_on_submit():
        admin = current_platform_admin()
        if admin is not None:
            services.log_action("admin.logout", admin)
        end_session()
        flash("You are logged out of the platform console.", "info")
    return redirect(url_for("platform.login"))


# --------------------------------------------------------------------------- tenants


@bp.get("/")
@platform_admin_required
def tenants():
    form = TenantFilterForm(request.args)
    form_errors: list[str] = []
    status = 200
    try:
        overview = services.tenant_overview(
            request.args.get("page"), form.q.data, form.status.data, form.sort.data
        )
    except PlatformError as exc:  # bad filters: shown on the form, the unfiltered list below
        form_errors = apply_to_form(form, exc.errors)
        overview = services.tenant_overview()
        status = INVALID
    return render_template(
        "platform/tenants.html", form=form, form_errors=form_errors, overview=overview
    ), status


@bp.route("/tenants/new", methods=["GET", "POST"])
@platform_admin_required
def new_tenant():
    form = NewTenantForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            result = services.create_tenant_from_console(
                form.slug.data, form.name.data, form.admin_email.data, actor=g.platform_admin
            )
        except PlatformError as exc:
            form_errors = refuse_form(exc, form)
        else:
            flash(
                f"Created {result.tenant.name} at {result.hostnames[-1]} in "
                f"{result.seconds * 1000:.0f} ms. {form.admin_email.data.strip()} gets an email "
                "to set their admin password.",
                "success",
            )
            return redirect(url_for("platform.tenant_detail", slug=result.tenant.slug))
    status = INVALID if form.errors or form_errors else 200
    return render_template("platform/tenant_new.html", form=form, form_errors=form_errors), status


def _detail(slug: str, status: int = 200, **forms):
    try:
        health = services.tenant_health(slug)
    except TenantNotFound:
        abort(404)
    context = {
        "suspend_form": SuspendForm(formdata=None),
        "resume_form": ResumeForm(formdata=None),
        "plan_form": PlanForm(formdata=None, plan=health.row.plan),
        "plan_limits": services.plan_limits(),
    }
    context.update(forms)
    return render_template("platform/tenant.html", health=health, **context), status


@bp.get("/tenants/<slug>")
@platform_admin_required
def tenant_detail(slug: str):
    return _detail(slug)


@bp.post("/tenants/<slug>/suspend")
@platform_admin_required
def suspend_tenant(slug: str):
    form = SuspendForm()
    return _tenant_action(
        slug,
        form,
        "suspend",
        lambda: services.suspend_tenant(slug, form.reason.data, actor=g.platform_admin),
        "{name} is suspended: its sites answer 503 until you resume it.",
    )


@bp.post("/tenants/<slug>/resume")
@platform_admin_required
def resume_tenant(slug: str):
    form = ResumeForm()
    return _tenant_action(
        slug,
        form,
        "resume",
        lambda: services.resume_tenant(slug, actor=g.platform_admin),
        "{name} is active again.",
    )


@bp.post("/tenants/<slug>/plan")
@platform_admin_required
def set_tenant_plan(slug: str):
    form = PlanForm()
    return _tenant_action(
        slug,
        form,
        "plan",
        lambda: services.set_tenant_plan(slug, form.plan.data, actor=g.platform_admin),
        "{name} is on the {plan} plan: its API rate limits changed at once.",
    )


def _tenant_action(slug: str, form, name: str, change, done: str):
    """Submit a tenant page's ``form`` through ``change()`` (-> the tenant); on success flash
    ``done`` (``{name}``: the tenant's) and go back to the tenant's page, else show it with
    the form's errors (as ``<name>_form`` / ``<name>_errors``)."""
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            ref = change()
        except TenantNotFound:
            abort(404)
        except PlatformError as exc:
            form_errors = refuse_form(exc, form)
        else:
            flash(done.format(name=ref.name, plan=ref.plan), "success")
            return redirect(url_for("platform.tenant_detail", slug=slug))
    return _detail(slug, INVALID, **{f"{name}_form": form, f"{name}_errors": form_errors})
