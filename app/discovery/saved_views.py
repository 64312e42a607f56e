"""Saved gigs on the web: the heart on every gig card and on the gig page, the gig page's
"Save to list" chooser, ``/saved`` (the lists) and ``/saved/<id>`` (a list's gigs).

Every change is a POST form that works without JavaScript (the answer redirects back to the
page in ``next``); ``static/js/saved.js`` sends the heart's form with ``Accept:
application/json`` and toggles it in place from the JSON answer. Anonymous visitors are sent
to log in, then back to the page they were on.

Lower layers (gigs' card and gig page, the seller's gig list) cannot import discovery: they
call the Jinja globals this blueprint installs, when defined (``gig_heart``,
``gig_save_bar``, ``saved_gig_ids``, ``gig_save_counts``). Thin views: one service call each;
the request's unit of work commits.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from wtforms import StringField

from app.accounts.views import safe_next
from app.core.confirm import Confirmation, confirmation_required
from app.core.domain_errors import refuse_form
from app.core.forms import Form
from app.discovery import saved as services
from app.discovery.errors import DiscoveryError
from app.discovery.models import LIST_NAME_MAX

bp = Blueprint("saved", __name__, template_folder="templates")

INVALID = 422


class ListNameForm(Form):
    name = StringField("List name", render_kw={"maxlength": LIST_NAME_MAX, "autocomplete": "off"})


def _me():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _here() -> str:
    return request.full_path if request.query_string else request.path


def _back(default: str) -> str:
    return safe_next(request.form.get("next")) or default


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 6 and int(raw) > 0 else 1


# --------------------------------------------------------------------------- Jinja globals


def saved_gig_ids() -> set[int]:
    """The ids of every gig the signed-in user saved (one query per request, kept on ``g``)."""
    if "_saved_gig_ids" not in g:
        g._saved_gig_ids = services.saved_ids(_me()) if _me() else set()
    return g._saved_gig_ids


def gig_heart(gig) -> Markup:
    """The heart of a gig card: a save / unsave form (a login link for visitors). The macro is
    called, not a template rendered: a page of cards has one per card."""
    heart = current_app.jinja_env.get_template("discovery/_macros.html").module.heart
    here = _here()
    return heart(
        gig,
        gig.id in saved_gig_ids(),
        False,
        here,
        None if current_user.is_authenticated else _login_url(here),
    )


def _login_url(here: str) -> str:
    """The log-in link of a visitor's hearts, back to ``here``: built once per request."""
    kept = g.get("_heart_login_url")
    if kept is None or kept[0] != here:
        kept = g._heart_login_url = (here, url_for("accounts.login", next=here))
    return kept[1]


def gig_save_bar(gig) -> Markup:
    """The gig page's heart, "Save to list" chooser and, for its seller, "Saved by N buyers"."""
    me = _me()
    is_owner = me is not None and me.id == gig.seller_id
    available = services.is_available(gig)
    chooser = me is not None and available
    lists = services.chooser_lists(me) if chooser else []
    if chooser and not any(summary.is_default for summary in lists):
        # Not made yet: the row saves without a list id, which makes it on the first save.
        lists.insert(0, SimpleNamespace(id=None, name=services.DEFAULT_LIST_NAME, count=0, is_default=True))
    in_lists = services.lists_with(me, gig.id) if chooser else set()
    return _fragment(
        "discovery/_gig_save.html",
        gig=gig,
        # The lists holding the gig say whether it is saved (no read of every saved gig).
        saved=bool(in_lists) if chooser else gig.id in saved_gig_ids(),
        large=True,
        available=available,
        lists=lists,
        chooser=chooser,
        in_lists=in_lists,
        saved_by=services.save_counts([gig.id]).get(gig.id, 0) if is_owner else None,
        login_url=None if me is not None else _login_url(_here()),
    )


def gig_save_counts(gig_ids) -> dict[int, int]:
    """``{gig_id: users who saved it}`` for a seller's list of gigs (one query)."""
    return services.save_counts(list(gig_ids))


def _fragment(template: str, **context) -> Markup:
    # Rendered by the template that asked: the request's context (current_user, next) passed in.
    html = current_app.jinja_env.get_template(template).render(
        current_user=current_user, here=_here(), **context
    )
    return Markup(html)  # noqa: S704  (an autoescaped template)


@bp.record_once
def _install_globals(state):
    state.app.jinja_env.globals.update(
        saved_gig_ids=saved_gig_ids,
        gig_heart=gig_heart,
        gig_save_bar=gig_save_bar,
        gig_save_counts=gig_save_counts,
    )


# --------------------------------------------------------------------------- the heart


@bp.post("/saved/gigs/<int:gig_id>")
def save(gig_id: int):
    """Save (``action=save``, into ``list_id`` or the default list, or a new list named
    ``new_list``) or unsave (``action=unsave``: from ``list_id``, or every list) a gig."""
    back = _back(request.referrer and safe_next(request.referrer) or url_for("saved.saved_lists"))
    me = _me()
    if me is None:
        login = url_for("accounts.login", next=back)
        if _wants_json():
            return jsonify(message="Log in to save gigs.", login_url=login), 401
        return redirect(login, 303)
    action = request.form.get("action", "save")
    list_id = request.form.get("list_id") or None
    new_list = request.form.get("new_list", "")
    try:
        if action == "unsave":
            services.unsave_gig(me, gig_id, list_id)
        elif new_list.strip():
            services.save_gig_to_new_list(me, gig_id, new_list)
        else:
            services.save_gig(me, gig_id, list_id)
    except DiscoveryError as exc:
        if _wants_json():
            return jsonify(message=exc.message, errors=exc.errors), exc.status
        raise  # flashed on the page the browser came from
    saved = services.is_saved(me, gig_id)
    if _wants_json():
        return jsonify(gig_id=gig_id, saved=saved, label="Saved" if saved else "Save")
    if action != "unsave" and (list_id or new_list.strip()):
        flash("Saved to your list.", "success")
    return redirect(back, 303)


# --------------------------------------------------------------------------- lists


@bp.get("/saved")
@login_required
def saved_lists():
    return _lists_page(ListNameForm(formdata=None))


def _lists_page(form: ListNameForm, status: int = 200, errors=()):
    return render_template(
        "discovery/saved_lists.html", lists=services.lists_of(_me()), form=form, form_errors=errors
    ), status


@bp.post("/saved/lists")
@login_required
def create_list():
    form = ListNameForm()
    if form.validate():
        try:
            created = services.create_list(_me(), form.name.data)
        except DiscoveryError as exc:
            return _lists_page(form, INVALID, refuse_form(exc, form))
        flash(f"List “{created.name}” created.", "success")
        return redirect(url_for("saved.saved_list", list_id=created.id), 303)
    return _lists_page(form, INVALID)


@bp.get("/saved/<int:list_id>")
@login_required
def saved_list(list_id: int):
    return _list_page(list_id, ListNameForm(formdata=None))


def _list_page(list_id: int, rename_form: ListNameForm, status: int = 200, errors=()):
    me = _me()
    page = services.list_gigs(me, list_id, page=_page_arg())
    if not rename_form.name.data:
        rename_form.name.data = page.list.name
    others = [summary for summary in services.lists_of(me) if summary.id != page.list.id]
    return render_template(
        "discovery/saved_list.html",
        page=page,
        others=others,
        rename_form=rename_form,
        form_errors=errors,
    ), status


@bp.post("/saved/<int:list_id>/rename")
@login_required
def rename_list(list_id: int):
    form = ListNameForm()
    if form.validate():
        try:
            renamed = services.rename_list(_me(), list_id, form.name.data)
        except DiscoveryError as exc:
            if exc.status == 404:
                raise
            return _list_page(list_id, form, INVALID, refuse_form(exc, form))
        flash(f"List renamed “{renamed.name}”.", "success")
        return redirect(url_for("saved.saved_list", list_id=list_id), 303)
    return _list_page(list_id, form, INVALID)


@bp.post("/saved/<int:list_id>/delete")
@login_required
@confirmation_required(
    lambda list_id: Confirmation(
        "Delete this list?",
        "The list and the gigs saved in it go (they stay saved in your other lists).",
        "Delete list",
    )
)
def delete_list(list_id: int):
    services.delete_list(_me(), list_id)
    flash("List deleted.", "success")
    return redirect(url_for("saved.saved_lists"), 303)


@bp.post("/saved/<int:list_id>/gigs/<int:gig_id>/remove")
@login_required
def remove_gig(list_id: int, gig_id: int):
    services.unsave_gig(_me(), gig_id, list_id)
    flash("Removed from the list.", "success")
    return redirect(_back(url_for("saved.saved_list", list_id=list_id)), 303)


@bp.post("/saved/<int:list_id>/gigs/<int:gig_id>/move")
@login_required
def move_gig(list_id: int, gig_id: int):
    moved = services.move_gig(_me(), gig_id, list_id, request.form.get("to_list_id"))
    flash(f"Moved to “{services.get_list(_me(), moved.list_id).name}”.", "success")
    return redirect(_back(url_for("saved.saved_list", list_id=list_id)), 303)
