"""Console pages for branding, domains, settings, categories and payments (admins only).

Thin: parse the form, call one console action (``branding.py``, ``domains.py``,
``marketplace.py``: the domain rule plus the audit entry), redirect; the request's unit of
work commits. A refusal shows the page again with the message on its field (``refuse_form``:
422, or 409 for a conflict) and drops the request's work: bad input changes nothing. The
buttons without a form of their own (verify a domain, hide a category...) let a refusal
through to the central handler, which flashes it on the page the operator came from.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from wtforms import SelectChoice

from app.console.access import ADMIN, console_required, console_user
from app.console.blueprints import bp
from app.console.errors import ConsoleError, refuse_prefixed_form
from app.console.settings import branding as branding_actions
from app.console.settings import domains as domain_actions
from app.console.settings import marketplace as marketplace_actions
from app.core import money
from app.core.domain_errors import FORM, refuse_form
from app.core.urls import tenant_url
from app.gigs import categories
from app.payments.services import PaymentError
from app.settings import forms
from app.settings import services as settings
from tenants.db import current_tenant

# --------------------------------------------------------------------------- branding


def _branding_page(form=None, image_errors=None, status=200):
    row = settings.settings_row()
    snapshot = settings.branding_snapshot(row)
    if form is None:
        form = forms.BrandingForm(data=snapshot)
    primary = form.primary_color.data or row.primary_color
    accent = form.accent_color.data or row.accent_color
    return (
        render_template(
            "console/branding.html",
            form=form,
            logo_form=forms.BrandImageForm(prefix="logo"),
            favicon_form=forms.BrandImageForm(prefix="favicon"),
            remove_form=forms.ConfirmForm(),
            snapshot=snapshot,
            image_errors=image_errors or {},
            warnings=settings.contrast_warnings(row.primary_color, row.accent_color),
            preview={
                "primary": primary if settings.HEX_COLOR_RE.match(primary or "") else row.primary_color,
                "accent": accent if settings.HEX_COLOR_RE.match(accent or "") else row.accent_color,
            },
            max_mb=_max_image_mb(),
        ),
        status,
    )


def _max_image_mb() -> str:
    from flask import current_app

    return f"{current_app.config['BRANDING_IMAGE_MAX_BYTES'] / (1024 * 1024):g}"


@bp.get("/branding")
@console_required(ADMIN)
def branding():
    return _branding_page()


@bp.post("/branding")
@console_required(ADMIN)
def update_branding():
    form = forms.BrandingForm()
    if not form.validate_on_submit():
        return _branding_page(form, status=422)
    try:
        branding_actions.update_branding(
            console_user(),
            name=form.name.data,
            tagline=form.tagline.data or "",
            hero_text=form.hero_text.data or "",
            primary_color=form.primary_color.data,
            accent_color=form.accent_color.data,
        )
    except settings.SettingsError as exc:
        form.form_errors.extend(refuse_form(exc, form))
        return _branding_page(form, status=exc.status)
    flash("Branding saved. The whole site and every email now use it.", "success")
    return redirect(url_for("console.branding"))


def _kind(kind: str) -> str:
    if kind not in settings.BRAND_IMAGE_KINDS:
        abort(404)
    return kind


@bp.post("/branding/<kind>")
@console_required(ADMIN)
def upload_brand_image(kind: str):
    kind = _kind(kind)
    form = forms.BrandImageForm(prefix=kind)
    if not form.validate_on_submit():
        return _branding_page(image_errors={kind: "The form expired; try again."}, status=400)
    try:
        branding_actions.upload_brand_image(console_user(), kind, form.image.data)
    except settings.SettingsError as exc:
        return _branding_page(image_errors={kind: " ".join(refuse_form(exc, form))}, status=exc.status)
    flash(f"New {kind} saved.", "success")
    return redirect(url_for("console.branding"))


@bp.post("/branding/<kind>/remove")
@console_required(ADMIN)
def remove_brand_image(kind: str):
    kind = _kind(kind)
    forms.ConfirmForm().validate_on_submit() or abort(400)
    branding_actions.remove_brand_image(console_user(), kind)
    flash(f"The {kind} was removed.", "success")
    return redirect(url_for("console.branding"))


# --------------------------------------------------------------------------- domains


def _domains_page(form=None, status=200):
    return (
        render_template(
            "console/domains.html",
            domains=domain_actions.list_domains(),
            form=form or forms.DomainForm(),
            action_form=forms.ConfirmForm(),
        ),
        status,
    )


@bp.get("/domains")
@console_required(ADMIN)
def domains():
    return _domains_page()


@bp.post("/domains")
@console_required(ADMIN)
def add_domain():
    form = forms.DomainForm()
    if not form.validate_on_submit():
        return _domains_page(form, 422)
    try:
        domain = domain_actions.add_domain(console_user(), form.hostname.data)
    except ConsoleError as exc:
        refuse_form(exc, form, aliases={FORM: "hostname"})
        return _domains_page(form, exc.status)
    flash(f"{domain.hostname} added. Publish the DNS record below, then press Verify.", "success")
    return redirect(url_for("console.domains"))


@bp.post("/domains/<int:domain_id>/verify")
@console_required(ADMIN)
def verify_domain(domain_id: int):
    forms.ConfirmForm().validate_on_submit() or abort(400)
    # A failed check is an answer, not a refusal: it is recorded (when, and what was found).
    domain = domain_actions.verify_domain(console_user(), domain_id)
    if domain.status == "verified":
        flash(f"{domain.hostname} is verified and now reaches your marketplace.", "success")
    else:
        flash(f"{domain.hostname} is not verified yet: {domain.last_check_error}", "error")
    return redirect(url_for("console.domains"))


@bp.post("/domains/<int:domain_id>/primary")
@console_required(ADMIN)
def make_primary_domain(domain_id: int):
    forms.ConfirmForm().validate_on_submit() or abort(400)
    hostname = domain_actions.make_primary(console_user(), domain_id).hostname
    flash(f"{hostname} is now the primary domain: links in emails use it.", "success")
    return redirect(url_for("console.domains"))


@bp.post("/domains/<int:domain_id>/remove")
@console_required(ADMIN)
def remove_domain(domain_id: int):
    forms.ConfirmForm().validate_on_submit() or abort(400)
    hostname = domain_actions.remove_domain(console_user(), domain_id)["hostname"]
    flash(f"{hostname} was removed.", "success")
    return redirect(url_for("console.domains"))


# --------------------------------------------------------------------------- settings


def _settings_page(form=None, status=200, form_errors=()):
    row = settings.settings_row()
    if form is None:
        snapshot = settings.settings_snapshot(row)
        form = forms.SettingsForm(
            data={
                **snapshot,
                "commission_min_fee": money.input_value(row.commission_min_fee_minor, row.currency),
                "support_email": row.support_email or "",
            }
        )
    return (
        render_template(
            "console/settings.html",
            form=form,
            form_errors=list(form_errors),
            currency=row.currency,
            currency_locked=settings.currency_lock_reason(),
        ),
        status,
    )


@bp.get("/settings", endpoint="settings")
@console_required(ADMIN)
def settings_page():
    return _settings_page()


@bp.post("/settings")
@console_required(ADMIN)
def update_settings():
    form = forms.SettingsForm()
    if not form.validate_on_submit():
        return _settings_page(form, 422)
    currency = (form.currency.data or "").upper()
    fee_currency = currency if currency in settings.CURRENCIES else settings.settings_row().currency
    locale = money.known_locale(form.locale.data) or settings.settings_row().locale
    try:
        # A negative fee is the settings service's to refuse, with the API's message.
        fee = money.parse(form.commission_min_fee.data, fee_currency, locale=locale, allow_negative=True)
    except money.MoneyError as exc:
        refuse_form(ConsoleError({"commission_min_fee": exc.message}), form)
        return _settings_page(form, 422)
    try:
        marketplace_actions.update_settings(
            console_user(),
            currency=currency,
            **({"locale": form.locale.data} if form.locale.data else {}),
            commission_percent=form.commission_percent.data,
            commission_min_fee_minor=fee,
            auto_complete_days=form.auto_complete_days.data,
            clearance_days=form.clearance_days.data,
            cancellation_auto_resolve_days=form.cancellation_auto_resolve_days.data,
            timesheet_review_days=form.timesheet_review_days.data,
            payout_schedule=form.payout_schedule.data,
            gigs_require_approval=bool(form.gigs_require_approval.data),
            require_verified_email=bool(form.require_verified_email.data),
            support_email=form.support_email.data or None,
            location_enabled=bool(form.location_enabled.data),
            default_country=form.default_country.data or None,
            require_2fa_staff=bool(form.require_2fa_staff.data),
            **({"bot_protection": form.bot_protection.data} if form.bot_protection.data else {}),
        )
    except (settings.SettingsError, ConsoleError) as exc:
        leftovers = refuse_form(exc, form, aliases={"commission_min_fee_minor": "commission_min_fee"})
        return _settings_page(form, exc.status, leftovers)
    flash("Settings saved. They apply to what happens from now on.", "success")
    return redirect(url_for("console.settings"))


# --------------------------------------------------------------------------- categories


def _parent_choices() -> list[SelectChoice]:
    return [SelectChoice("", "(top level)")] + [SelectChoice(str(c.id), c.name) for c in categories.tree()]


def _categories_page(form=None, status=200, edit_forms=None):
    tree = categories.tree()
    form = form or forms.CategoryForm()
    form.parent_id.choices = _parent_choices()
    edit_forms = edit_forms or {}
    rows = []
    for parent in tree:
        for category in (parent, *parent.children):
            edit = edit_forms.get(category.id) or forms.CategoryEditForm(
                prefix=f"c{category.id}",
                formdata=None,
                data={"name": category.name, "slug": category.slug, "description": category.description},
            )
            rows.append((category, edit))
    return (
        render_template(
            "console/categories.html",
            rows=rows,
            form=form,
            action_form=forms.CategoryActionForm(),
            counts=categories.gig_counts(),
        ),
        status,
    )


@bp.get("/categories", endpoint="categories")
@console_required(ADMIN)
def categories_page():
    return _categories_page()


@bp.post("/categories")
@console_required(ADMIN)
def create_category():
    form = forms.CategoryForm()
    form.parent_id.choices = _parent_choices()
    if not form.validate_on_submit():
        return _categories_page(form, 422)
    parent = form.parent_id.data or None
    if parent is not None and not parent.isdigit():
        abort(400)
    try:
        category = marketplace_actions.create_category(
            console_user(),
            form.name.data,
            parent_id=int(parent) if parent else None,
            slug=form.slug.data or None,
            description=form.description.data or "",
        )
    except categories.CategoryError as exc:
        if exc.status == 404:  # the chosen parent is gone: a field of this form
            exc = ConsoleError({"parent_id": exc.errors.get("parent_id", "This category does not exist.")})
        leftovers = refuse_form(exc, form)  # the field errors land on their inputs
        form.name.errors = [*form.name.errors, *leftovers]
        return _categories_page(form, exc.status)
    flash(f"Category {category.name!r} created.", "success")
    return redirect(url_for("console.categories"))


@bp.post("/categories/<int:category_id>")
@console_required(ADMIN)
def update_category(category_id: int):
    form = forms.CategoryEditForm(prefix=f"c{category_id}")
    if not form.validate_on_submit():
        categories.get_category(category_id)  # an unknown category is a 404 page
        return _categories_page(status=422, edit_forms={category_id: form})
    try:
        category = marketplace_actions.update_category(
            console_user(),
            category_id,
            name=form.name.data,
            slug=(form.slug.data or "").strip(),
            description=form.description.data or "",
        )
    except categories.CategoryError as exc:
        if exc.status == 404:
            raise exc
        leftovers = refuse_prefixed_form(exc, form)  # the field errors land on their inputs
        form.name.errors = [*form.name.errors, *leftovers]
        return _categories_page(status=exc.status, edit_forms={category_id: form})
    flash(f"Category {category.name!r} saved.", "success")
    return redirect(url_for("console.categories"))


@bp.post("/categories/<int:category_id>/action")
@console_required(ADMIN)
def category_action(category_id: int):
    form = forms.CategoryActionForm()
    form.validate_on_submit() or abort(400)
    action = form.action.data
    category = categories.get_category(category_id)
    if action in ("hide", "show"):
        changes = {"is_hidden": action == "hide"}
    elif action in ("up", "down"):
        index = categories.sibling_index(category)
        changes = {"position": max(0, index - 1) if action == "up" else index + 1}
    else:
        abort(400)
    category = marketplace_actions.update_category(console_user(), category_id, **changes)
    done = {"hide": "hidden", "show": "shown again", "up": "moved up", "down": "moved down"}[action]
    flash(f"Category {category.name!r} {done}.", "success")
    return redirect(url_for("console.categories"))


# --------------------------------------------------------------------------- payments


def webhook_url() -> str:
    """The Stripe webhook endpoint of the bound tenant, on its primary host."""
    return tenant_url(current_tenant(), "payment_webhooks.stripe_webhook")


def _payments_page(form=None, status=200, form_errors=()):
    overview = settings.payment_overview()
    if form is None:
        form = forms.PaymentsForm(
            formdata=None,
            data={"provider": overview["provider"], "publishable_key": overview["publishable_key"] or ""},
        )
    return (
        render_template(
            "console/payments.html",
            form=form,
            overview=overview,
            webhook_url=webhook_url(),
            form_errors=list(form_errors),
        ),
        status,
    )


@bp.get("/payments", endpoint="payments")
@console_required(ADMIN)
def payments_page():
    return _payments_page()


@bp.post("/payments")
@console_required(ADMIN)
def update_payments():
    form = forms.PaymentsForm()
    if not form.validate_on_submit():
        return _payments_page(form, 422)
    try:
        marketplace_actions.configure_payments(
            console_user(),
            form.provider.data,
            publishable_key=form.publishable_key.data,
            secret_key=form.secret_key.data,
            webhook_secret=form.webhook_secret.data,
        )
    except (PaymentError, ConsoleError) as exc:
        return _payments_page(form, exc.status, refuse_form(exc, form))
    flash(
        "Payments now go through Stripe."
        if form.provider.data == "stripe"
        else "Payments use the sandbox (test mode).",
        "success",
    )
    return redirect(url_for("console.payments"))
