"""Gig web pages: the seller's pages (list, new, edit, images, publish / pause / archive)
and the public pages (``/gigs/<slug>``, ``/c/<category-slug>``).

Thin: parse the form, call one service, render; the request's unit of work commits. A
service refusal is shown on the form (status 422) by ``refuse_form``, which rolls the
request back, so bad input changes nothing; someone else's gig is a 403 page, an unknown
one a 404.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts.forms import ConfirmForm
from app.core import geo, unit_of_work
from app.core.domain_errors import refuse_form
from app.gigs import services
from app.gigs.forms import GigDetailsForm, GigEditForm, ImageForm
from app.gigs.models import TIERS
from app.settings.services import get_branding, location_settings

bp = Blueprint("gigs", __name__, template_folder="templates")

INVALID = 422
CATEGORY_PAGE_SIZE = 24
STATUS_LABELS = {
    "draft": "Draft",
    "pending_approval": "Pending approval",
    "rejected": "Rejected",
    "active": "Live",
    "paused": "Paused",
    "archived": "Archived",
}


def _currency() -> str:
    return get_branding().currency


@bp.record_once
def _gig_helpers(state):
    # Jinja globals, not a context processor: imported macros (the gig card used
    # by search, category and profile pages) do not see the render context.
    state.app.jinja_env.globals.update(
        gig_image_url=services.image_url, gig_status_label=STATUS_LABELS.get, tiers=TIERS
    )


def _me():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _own_gig_or_abort(gig_id: int):
    try:
        return services.get_gig_for_owner(_me(), gig_id)
    except services.GigError as exc:
        abort(exc.status)


# --------------------------------------------------------------------------- seller pages


@bp.get("/seller/gigs")
@login_required
def seller_gigs():
    gigs, _total = services.list_seller_gigs(_me(), include_drafts=True, per_page=200)
    return render_template(
        "gigs/seller_gigs.html", gigs=gigs, is_seller=_me().is_seller, action_form=ConfirmForm()
    )


@bp.route("/seller/gigs/new", methods=["GET", "POST"])
@login_required
def new_gig():
    user = _me()
    if not user.is_seller:
        return render_template("gigs/not_a_seller.html"), 403
    form = GigDetailsForm(categories=services.category_choices())
    form_errors: list[str] = []
    location = location_settings()
    if form.validate_on_submit():
        data = form.details_data()
        if location.enabled:
            data.update(form.location_data())
        try:
            gig = services.create_gig(user, data)
        except services.GigError as exc:
            form_errors = refuse_form(exc, form)
        else:
            flash("Your draft is saved. Add packages and images, then publish it.", "success")
            return redirect(url_for("gigs.edit_gig", gig_id=gig.id))
    status = INVALID if form.errors or form_errors or getattr(form, "refused", False) else 200
    return render_template(
        "gigs/new.html", form=form, form_errors=form_errors, location_enabled=location.enabled
    ), status


@bp.route("/seller/gigs/<int:gig_id>/edit", methods=["GET", "POST"])
@login_required
def edit_gig(gig_id: int):
    gig = _own_gig_or_abort(gig_id)
    if gig.status == "archived":
        flash("This gig is archived and can no longer be changed.", "info")
        return redirect(url_for("gigs.seller_gigs"))
    currency = _currency()
    form = GigEditForm(categories=services.category_choices())
    form_errors: list[str] = []
    location = location_settings()
    if request.method == "GET":
        form.fill(gig, currency)
    elif form.validate_on_submit():
        data, parse_errors, aliases = form.to_data(currency)
        if location.enabled:
            data.update(form.location_data(gig))
        version = services.parse_version(form.version.data)
        try:
            if parse_errors:
                raise services.GigError(parse_errors)
            services.update_gig(_me(), gig, data, expected_version=version)
        except services.GigError as exc:
            form_errors = refuse_form(exc, form, aliases)
            gig = services.get_gig_for_owner(_me(), gig_id)  # reload after the rollback
        else:
            flash("Your changes are saved.", "success")
            return redirect(url_for("gigs.edit_gig", gig_id=gig.id))
    status = INVALID if form.errors or form_errors or getattr(form, "refused", False) else 200
    return render_template(
        "gigs/edit.html",
        gig=gig,
        form=form,
        form_errors=form_errors,
        image_form=ImageForm(),
        action_form=ConfirmForm(),
        currency=currency,
        missing=services.completeness_errors(gig) if gig.status == "draft" else {},
        location_enabled=location.enabled,
    ), status


@bp.post("/seller/gigs/<int:gig_id>/images")
@login_required
def upload_image(gig_id: int):
    gig = _own_gig_or_abort(gig_id)
    form = ImageForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.add_gig_image(_me(), gig, form.image.data)
    except services.GigError as exc:
        unit_of_work.abandon()  # the answer is a redirect, which would otherwise commit
        flash(exc.message, "error")
        return redirect(url_for("gigs.edit_gig", gig_id=gig_id), 303)
    flash("The image is added.", "success")
    return redirect(url_for("gigs.edit_gig", gig_id=gig_id), 303)


@bp.post("/seller/gigs/<int:gig_id>/images/<int:image_id>/delete")
@login_required
def delete_image(gig_id: int, image_id: int):
    gig = _own_gig_or_abort(gig_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.remove_gig_image(_me(), gig, image_id)
    except services.GigError as exc:
        abort(exc.status)
    flash("The image is removed.", "info")
    return redirect(url_for("gigs.edit_gig", gig_id=gig_id), 303)


ACTIONS = {
    "publish": (services.publish_gig, "Your gig is live."),
    "pause": (services.pause_gig, "Your gig is paused: buyers no longer find it."),
    "archive": (services.archive_gig, "Your gig is archived."),
}


@bp.post("/seller/gigs/<int:gig_id>/<any(publish, pause, archive):action>")
@login_required
def change_status(gig_id: int, action: str):
    gig = _own_gig_or_abort(gig_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    service, done = ACTIONS[action]
    try:
        service(_me(), gig)
    except services.GigError as exc:
        unit_of_work.abandon()  # the answer is a redirect, which would otherwise commit
        for message in exc.errors.values():
            flash(message, "error")
        back = url_for("gigs.edit_gig", gig_id=gig_id) if action == "publish" else url_for("gigs.seller_gigs")
        return redirect(back, 303)
    if gig.status == "pending_approval":
        done = "Your gig is sent for review: it goes live once the marketplace's team approves it."
    flash(done, "success")
    return redirect(url_for("gigs.seller_gigs"), 303)


@bp.get("/seller/gigs/<int:gig_id>/preview")
@login_required
def preview_gig(gig_id: int):
    gig = _own_gig_or_abort(gig_id)
    return redirect(url_for("gigs.gig_page", slug=gig.slug))


# --------------------------------------------------------------------------- public pages


@bp.get("/places/suggest")
def suggest_places():
    """Cities for a place box (the gig form's, the search page's): ``[{"id", "label"}]``, the
    marketplace's default country first. Read-only and public, like the gazetteer it reads."""
    prefix = request.args.get("q", "")[:100]
    cities = geo.suggest_cities(prefix, prefer_country=location_settings().default_country)
    return jsonify([{"id": city.id, "label": city.label} for city in cities])


@bp.get("/gigs/<slug>")
def gig_page(slug: str):
    try:
        gig = services.get_public_gig(slug, _me())
    except services.GigNotFound:
        abort(404)
    return render_template(
        "gigs/gig.html",
        gig=gig,
        is_owner=_me() is not None and _me().id == gig.seller_id,
        packages=gig.packages,
        sections=services.gig_sections(gig, _me()),
        location_enabled=location_settings().enabled,
    )


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


@bp.get("/c/<slug>")
def category_page(slug: str):
    category = services.get_category_by_slug(slug)
    if category is None:
        abort(404)
    page = _page_arg()
    gigs, total = services.list_category_gigs(category, page=page, per_page=CATEGORY_PAGE_SIZE)
    pages = max(1, -(-total // CATEGORY_PAGE_SIZE))
    return render_template(
        "gigs/category.html", category=category, gigs=gigs, total=total, page=page, pages=pages
    )
