"""Console page "Featured gigs" (``/console/featured-gigs``): the list in home page order with
thumbnails and statuses, add a gig by id or by searching titles, move up / down, remove.

Thin: parse the form, call one console action (``actions.py``), redirect; the request's unit of
work commits. A refused add shows the page again with the message on the form (``refuse_form``
drops the request's work) and the refusal's status; a refused move or remove goes to the
central handler, which flashes it on this page. Moderators and admins, as for gig moderation.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from wtforms import StringField

from app.console.access import MODERATOR, console_required, console_user
from app.console.blueprints import bp
from app.console.featured import actions
from app.core.domain_errors import DomainError, refuse_form
from app.core.forms import Form
from app.discovery import featured
from app.discovery.models import FEATURED_MAX

MAX_ID = "int(max=2147483647)"


class AddFeaturedForm(Form):
    gig_id = StringField("Gig id", description="The number in the gig's console page (#42) or its API id.")


class FeaturedActionForm(Form):
    """A button that only needs the CSRF token (feature, move, remove)."""


def _page(form: AddFeaturedForm | None = None, form_errors=(), status: int = 200):
    q = (request.args.get("q") or "").strip()[:100]
    entries = featured.featured_entries()
    listed = {gig.id for gig in entries}
    return render_template(
        "console/featured_gigs.html",
        entries=entries,
        form=form or AddFeaturedForm(formdata=None),
        form_errors=list(form_errors),
        action_form=FeaturedActionForm(),
        q=q,
        found=featured.find_gigs(q) if q else [],
        listed=listed,
        limit=FEATURED_MAX,
    ), status


@bp.get("/featured-gigs", endpoint="featured_gigs")
@console_required(MODERATOR)
def featured_gigs_page():
    return _page()


@bp.post("/featured-gigs", endpoint="add_featured_gig")
@console_required(MODERATOR)
def add_featured_gig():
    form = AddFeaturedForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _page(form, status=422)
    raw = (form.gig_id.data or "").strip().lstrip("#")
    gig_id = int(raw) if raw.isdigit() and len(raw) < 11 else raw
    try:
        ids = actions.add_featured(console_user(), gig_id)
    except DomainError as exc:
        loose = refuse_form(exc, form)
        return _page(form, loose, exc.status if exc.status != 404 else 422)
    flash(f"Gig #{gig_id} is featured, number {len(ids)} on the home page.", "success")
    return redirect(url_for("console.featured_gigs", _anchor=f"featured-{gig_id}"), 303)


@bp.post(f"/featured-gigs/<{MAX_ID}:gig_id>/remove", endpoint="remove_featured_gig")
@console_required(MODERATOR)
def remove_featured_gig(gig_id: int):
    FeaturedActionForm().validate_on_submit() or abort(400)
    actions.remove_featured(console_user(), gig_id)
    flash(f"Gig #{gig_id} is no longer featured.", "success")
    return redirect(url_for("console.featured_gigs"), 303)


@bp.post(f"/featured-gigs/<{MAX_ID}:gig_id>/move", endpoint="move_featured_gig")
@console_required(MODERATOR)
def move_featured_gig(gig_id: int):
    FeaturedActionForm().validate_on_submit() or abort(400)
    raw = (request.form.get("position") or "").strip()
    position = int(raw) if raw.isdigit() and len(raw) < 6 else raw
    ids = actions.move_featured(console_user(), gig_id, position)
    flash(f"Gig #{gig_id} is now number {ids.index(gig_id) + 1}.", "success")
    return redirect(url_for("console.featured_gigs", _anchor=f"featured-{gig_id}"), 303)
