"""Notification web pages: the bell (header partial + JSON for the dropdown), the list, preferences.

Every POST carries the CSRF token (a form field, or the ``X-CSRFToken``
header from ``static/js/notifications.js``). The read endpoint answers JSON
to scripts (``Accept: application/json``) and redirects forms. The request's unit of work
commits; a refusal answered with a redirect is rolled back with ``abandon()``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app.core import unit_of_work
from app.notifications import forms, services
from app.notifications.kinds import CATEGORIES
from tenants.db import current_tenant_or_none

bp = Blueprint("notifications", __name__, template_folder="templates")


@bp.app_context_processor
def _bell():
    """The header's counts and the bell's dropdown, read in one statement the first time a
    page's template asks for any of them (``services.header``), then kept for the request."""

    def header() -> services.Header | None:
        if current_tenant_or_none() is None or not current_user.is_authenticated:
            return None
        if "_header" not in g:
            g._header = services.header(current_user)
        return g._header

    def inbox_unread() -> int:
        shown = header()
        return shown.inbox_unread if shown is not None else 0

    def notifications_unread() -> int:
        shown = header()
        return shown.notifications_unread if shown is not None else 0

    def notifications_latest() -> list:
        shown = header()
        return [services.serialize(n) for n in shown.notifications_latest] if shown is not None else []

    return {
        "inbox_unread": inbox_unread,
        "notifications_unread": notifications_unread,
        "notifications_latest": notifications_latest,
    }


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _local_next(default: str) -> str:
    target = request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc:
        return target
    return default


@bp.get("/notifications")
@login_required
def index():
    page = request.args.get("page", "1")
    if not page.isdigit() or int(page) < 1:
        abort(404)
    rows, total = services.list_notifications(current_user, int(page))
    per_page = current_app.config["NOTIFY_PAGE_SIZE"]
    return render_template(
        "notifications/list.html",
        notifications=[services.serialize(n) for n in rows],
        page=int(page),
        has_next=int(page) * per_page < total,
        total=total,
        unread=services.unread_count(current_user),
    )


@bp.get("/notifications/latest")
@login_required
def latest():
    """The dropdown's content as JSON (latest notifications and the unread count)."""
    return jsonify(
        {
            "count": services.unread_count(current_user),
            "items": [services.serialize(n) for n in services.latest(current_user)],
        }
    )


@bp.post("/notifications/read")
@login_required
def mark_read():
    """Mark some (``id`` fields, or a JSON ``ids`` list) or all (``all``) notifications read."""
    payload = request.get_json(silent=True) if request.is_json else None
    source = payload if isinstance(payload, dict) else request.form
    mark_all = str(source.get("all", "")).lower() in {"1", "true", "on", "yes"}
    ids = payload.get("ids") if isinstance(payload, dict) else request.form.getlist("id")
    try:
        if mark_all:
            marked = services.mark_all_read(current_user)
        else:
            marked = services.mark_read(current_user, ids or [])
    except services.NotificationError as exc:
        if _wants_json():
            return jsonify({"code": exc.code, "message": exc.message}), exc.status
        unit_of_work.abandon()  # the answer is a redirect, which would otherwise commit
        flash(exc.message, "error")
        return redirect(_local_next(url_for("notifications.index")))
    count = services.unread_count(current_user)
    if _wants_json():
        return jsonify({"marked": marked, "unread_count": count})
    return redirect(_local_next(url_for("notifications.index")))


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def preferences():
    user = current_user._get_current_object()
    current = services.get_preferences(user)
    form = forms.preferences_form(current, request.form if request.method == "POST" else None)
    if request.method == "POST" and form.validate_on_submit():
        services.set_preferences(user, forms.changes_from(form))
        flash("Your notification preferences are saved.", "success")
        return redirect(url_for("notifications.preferences"))
    status = 400 if request.method == "POST" else 200
    groups = [(label, [p for p in current if p.category == category]) for category, label in CATEGORIES]
    return (
        render_template(
            "notifications/preferences.html", form=form, groups=groups, field_name=forms.field_name
        ),
        status,
    )
