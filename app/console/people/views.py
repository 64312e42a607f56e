"""Console web pages: users (search, detail, suspend, reactivate, role) and gig moderation
(the queue, every gig, the review page with approve / reject / pause).

Thin: parse the form, call one console action (``people.py``), commit once, redirect.
A refusal rolls back and re-renders the page with the message on the form and the
refusal's status (422 field errors, 403, 409, 412); unknown ids are 404 pages.
Admins and moderators see these pages; only admins change roles.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, TextAreaField

from app.accounts import moderation as user_rules
from app.accounts.forms import apply_errors
from app.accounts.models import ROLES, USER_STATUSES, User
from app.accounts.services import AccountError
from app.console.access import ADMIN, MODERATOR, console_required, console_user, has_console_role
from app.console.blueprints import bp
from app.console.people import actions as people
from app.gigs import moderation as gig_rules
from app.gigs.models import GIG_STATUSES
from app.gigs.services import GigError, completeness_errors, parse_version
from tenants.db import db

PAGE_SIZE = 25
QUEUE_PREVIEW = 10
GIG_STATUS_LABELS = {
    "draft": "Draft",
    "pending_approval": "Pending approval",
    "rejected": "Rejected",
    "active": "Live",
    "paused": "Paused",
    "archived": "Archived",
}
GIG_BADGES = {
    "pending_approval": "badge-warn",
    "rejected": "badge-bad",
    "active": "badge-ok",
    "paused": "badge-warn",
}
USER_BADGES = {"active": "badge-ok", "suspended": "badge-bad", "deleted": ""}


# --------------------------------------------------------------------------- forms


class SuspendForm(FlaskForm):
    reason = TextAreaField(
        "Reason",
        description=f"Emailed to the user. {user_rules.REASON_MIN} to {user_rules.REASON_MAX} characters.",
    )


class ConfirmActionForm(FlaskForm):
    """A button that only needs the CSRF token (reactivate)."""


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(role, user_rules.ROLE_LABELS[role]) for role in ROLES])


class _PrefixedForm(FlaskForm):
    """The review page holds three forms: field names (and ids) carry the form's prefix."""

    PREFIX = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", self.PREFIX)
        super().__init__(*args, **kwargs)


class ApproveForm(_PrefixedForm):
    PREFIX = "approve"
    version = HiddenField()


class RejectForm(_PrefixedForm):
    PREFIX = "reject"
    version = HiddenField()
    reason = TextAreaField(
        "Why it is not approved",
        description=f"The seller reads this and can fix the gig. {gig_rules.REASON_MIN} to "
        f"{gig_rules.REASON_MAX} characters.",
    )


class PauseForm(_PrefixedForm):
    PREFIX = "pause"
    reason = TextAreaField(
        "Why it is paused",
        description="The seller reads this; publishing the gig again sends it to review.",
    )


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


def _pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


@bp.app_template_global()
def console_gig_status(status: str) -> tuple[str, str]:
    """``(label, badge class)`` of a gig status, for the console's tables."""
    return GIG_STATUS_LABELS.get(status, status), GIG_BADGES.get(status, "")


@bp.app_template_global()
def console_user_status(status: str) -> tuple[str, str]:
    return user_rules.STATUS_LABELS.get(status, status), USER_BADGES.get(status, "")


# --------------------------------------------------------------------------- users


@bp.get("/users")
@console_required(MODERATOR)
def users():
    q = request.args.get("q", "").strip()
    role = request.args.get("role", "")
    status = request.args.get("status", "")
    page = _page_arg()
    errors: dict[str, str] = {}
    try:
        rows, total = user_rules.search_users(q, role, status, page=page, per_page=PAGE_SIZE)
    except AccountError as exc:
        errors, rows, total = exc.errors, [], 0
    return render_template(
        "console/users.html",
        users=rows,
        total=total,
        page=page,
        pages=_pages(total),
        q=q,
        role=role,
        status=status,
        roles=ROLES,
        statuses=USER_STATUSES,
        role_labels=user_rules.ROLE_LABELS,
        filter_errors=errors,
    ), (422 if errors else 200)


def _render_user(user_id: int, status: int = 200, **forms):
    try:
        overview = people.user_overview(user_id)
    except AccountError:
        abort(404)
    actor = console_user()
    role_form = forms.get("role_form") or RoleForm(formdata=None, data={"role": overview.user.role})
    return render_template(
        "console/user.html",
        overview=overview,
        user=overview.user,
        suspend_form=forms.get("suspend_form") or SuspendForm(formdata=None),
        reactivate_form=ConfirmActionForm(formdata=None),
        role_form=role_form,
        form_errors=forms.get("form_errors") or [],
        can_moderate=user_rules.may_moderate(actor, overview.user),
        can_set_role=has_console_role(actor, ADMIN),
        role_labels=user_rules.ROLE_LABELS,
        orders_url=_orders_console_url(overview.user),
    ), status


def _orders_console_url(user) -> str | None:
    if "console.orders" not in current_app.view_functions:
        return None
    return url_for("console.orders", q=user.email)


@bp.get("/users/<int(max=2147483647):user_id>")
@console_required(MODERATOR)
def user(user_id: int):
    return _render_user(user_id)


def _refused_user(user_id: int, exc: AccountError, form=None, form_name: str | None = None):
    """Roll back and show the user's page again with the refusal on the form."""
    db.session.rollback()
    if exc.status == 404:
        abort(404)
    leftovers = apply_errors(form, exc.errors) if form is not None else list(exc.errors.values())
    forms = {form_name: form} if form_name else {}
    return _render_user(user_id, exc.status, form_errors=leftovers, **forms)


@bp.post("/users/<int(max=2147483647):user_id>/suspend")
@console_required(MODERATOR)
def suspend_user(user_id: int):
    form = SuspendForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        target = people.suspend_user(console_user(), user_id, form.reason.data)
    except AccountError as exc:
        return _refused_user(user_id, exc, form, "suspend_form")
    db.session.commit()
    flash(f"{target.display_name} is suspended and was emailed the reason.", "success")
    return redirect(url_for("console.user", user_id=user_id), 303)


@bp.post("/users/<int(max=2147483647):user_id>/reactivate")
@console_required(MODERATOR)
def reactivate_user(user_id: int):
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    try:
        target = people.reactivate_user(console_user(), user_id)
    except AccountError as exc:
        return _refused_user(user_id, exc)
    db.session.commit()
    flash(f"{target.display_name} is active again and was emailed.", "success")
    return redirect(url_for("console.user", user_id=user_id), 303)


@bp.post("/users/<int(max=2147483647):user_id>/role")
@console_required(ADMIN)
def set_user_role(user_id: int):
    form = RoleForm()
    # The choice list is checked by the service (one message for web and API), not WTForms.
    form.role.validate_choice = False
    if not form.validate_on_submit():
        abort(400)
    try:
        target = people.set_user_role(console_user(), user_id, form.role.data)
    except AccountError as exc:
        return _refused_user(user_id, exc, form, "role_form")
    db.session.commit()
    flash(f"{target.display_name} is now {user_rules.ROLE_LABELS[target.role].lower()}.", "success")
    return redirect(url_for("console.user", user_id=user_id), 303)


# --------------------------------------------------------------------------- gigs


@bp.get("/gigs")
@console_required(MODERATOR)
def gigs():
    status = request.args.get("status", "")
    q = request.args.get("q", "").strip()
    page = _page_arg()
    errors: dict[str, str] = {}
    queue, queue_total = gig_rules.moderation_queue(per_page=QUEUE_PREVIEW)
    try:
        rows, total = gig_rules.list_gigs_for_operators(status=status, q=q, page=page, per_page=PAGE_SIZE)
    except GigError as exc:
        errors, rows, total = exc.errors, [], 0
    return render_template(
        "console/gigs.html",
        queue=queue,
        queue_total=queue_total,
        gigs=rows,
        total=total,
        page=page,
        pages=_pages(total),
        status=status,
        q=q,
        statuses=GIG_STATUSES,
        status_labels=GIG_STATUS_LABELS,
        counts=gig_rules.status_counts(),
        filter_errors=errors,
    ), (422 if errors else 200)


def _render_gig(gig_id: int, status: int = 200, form_errors: list[str] | None = None, **forms):
    try:
        gig = gig_rules.get_gig_for_review(gig_id)
    except GigError:
        abort(404)
    approve_form = forms.get("approve_form") or ApproveForm(formdata=None)
    reject_form = forms.get("reject_form") or RejectForm(formdata=None)
    # Decisions carry the version shown on this page: a seller's edit in between is caught.
    approve_form.version.data = reject_form.version.data = str(gig.version)
    return render_template(
        "console/gig.html",
        gig=gig,
        packages=gig.packages,
        moderator=db.session.get(User, gig.moderated_by_id) if gig.moderated_by_id else None,
        missing=completeness_errors(gig),
        audit=people.gig_audit(gig.id),
        approve_form=approve_form,
        reject_form=reject_form,
        pause_form=forms.get("pause_form") or PauseForm(formdata=None),
        form_errors=form_errors or [],
    ), status


def _refused_gig(gig_id: int, exc: GigError, form, form_name: str):
    """Roll back and show the review page again (the gig as it is now) with the refusal."""
    db.session.rollback()
    if exc.status == 404:
        abort(404)
    leftovers = apply_errors(form, exc.errors)
    return _render_gig(gig_id, exc.status, form_errors=leftovers, **{form_name: form})


@bp.get("/gigs/<int(max=2147483647):gig_id>")
@console_required(MODERATOR)
def gig(gig_id: int):
    return _render_gig(gig_id)


@bp.post("/gigs/<int(max=2147483647):gig_id>/approve")
@console_required(MODERATOR)
def approve_gig(gig_id: int):
    form = ApproveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        approved = people.approve_gig(
            console_user(), gig_id, expected_version=parse_version(form.version.data)
        )
    except GigError as exc:
        return _refused_gig(gig_id, exc, form, "approve_form")
    db.session.commit()
    flash(f"“{approved.title}” is approved and live; the seller is notified.", "success")
    return redirect(url_for("console.gigs"), 303)


@bp.post("/gigs/<int(max=2147483647):gig_id>/reject")
@console_required(MODERATOR)
def reject_gig(gig_id: int):
    form = RejectForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        rejected = people.reject_gig(
            console_user(), gig_id, form.reason.data, expected_version=parse_version(form.version.data)
        )
    except GigError as exc:
        return _refused_gig(gig_id, exc, form, "reject_form")
    db.session.commit()
    flash(f"“{rejected.title}” is rejected; the seller is told why.", "success")
    return redirect(url_for("console.gigs"), 303)


@bp.post("/gigs/<int(max=2147483647):gig_id>/pause")
@console_required(MODERATOR)
def pause_gig(gig_id: int):
    form = PauseForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        paused = people.pause_gig(console_user(), gig_id, form.reason.data)
    except GigError as exc:
        return _refused_gig(gig_id, exc, form, "pause_form")
    db.session.commit()
    flash(f"“{paused.title}” is paused and out of search; the seller is told why.", "success")
    return redirect(url_for("console.gig", gig_id=gig_id), 303)
