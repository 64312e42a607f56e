"""The "Recently viewed" page (``/recently-viewed``): the signed-in user's last viewed live gigs
as cards, and a button that clears the history. Thin: one service call each; the request's unit
of work commits."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.core.forms import Form
from app.discovery import viewed
from app.discovery.models import RECENTLY_VIEWED_KEPT

bp = Blueprint("recently_viewed", __name__, template_folder="templates")


class ClearHistoryForm(Form):
    """The "Clear history" button (CSRF only)."""


@bp.get("/recently-viewed")
@login_required
def page():
    me = current_user._get_current_object()
    return render_template(
        "discovery/recently_viewed.html",
        gigs=viewed.recently_viewed(me, RECENTLY_VIEWED_KEPT),
        clear_form=ClearHistoryForm(),
    )


@bp.post("/recently-viewed/clear")
@login_required
def clear():
    ClearHistoryForm().validate_on_submit() or abort(400)
    viewed.clear_recently_viewed(current_user._get_current_object())
    flash("Your viewing history is cleared.", "success")
    return redirect(url_for("recently_viewed.page"), 303)
