"""Console web pages: users (search, detail, suspend, reactivate, role) and gig moderation
(the queue, every gig, the review page with approve / reject / pause).

Thin: parse the form, call one console action (``actions.py``), redirect; the request's unit
of work commits. A refusal re-renders the page with the message on the form (``refuse_form``,
which also drops the request's work) and the refusal's status (422 field errors, 403, 409,
412); unknown ids are 404 pages. Admins and moderators see these pages; only admins change roles.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from app.accounts import moderation as user_rules
from app.accounts import two_factor
from app.accounts.models import ROLES, USER_STATUSES, User
from app.accounts.services import AccountError
from app.console.access import ADMIN, MODERATOR, console_required, console_user, has_console_role
from app.console.blueprints import bp
from app.console.errors import refuse_prefixed_form
from app.console.people import actions as people
from app.console.people.forms import (
    ApproveForm,
    ConfirmActionForm,
    PauseForm,
    RejectForm,
    RoleForm,
    SuspendForm,
)
from app.core.domain_errors import DomainError, refuse_form
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
    overview = people.user_overview(user_id)  # an unknown user is a 404 page
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
        has_two_factor=two_factor.has_two_factor(overview.user),
        reset_two_factor_form=ConfirmActionForm(formdata=None),
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


def _refused_user(user_id: int, exc: DomainError, form, form_name: str | None = None):
    """The user's page again (as it is now) with the refusal on the form; nothing is kept."""
    if exc.status == 404:
        raise exc
    leftovers = refuse_form(exc, form)
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
    flash(f"{target.display_name} is suspended and was emailed the reason.", "success")
    return redirect(url_for("console.user", user_id=user_id), 303)


@bp.post("/users/<int(max=2147483647):user_id>/reactivate")
@console_required(MODERATOR)
def reactivate_user(user_id: int):
    form = ConfirmActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        target = people.reactivate_user(console_user(), user_id)
    except AccountError as exc:
        return _refused_user(user_id, exc, form)
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
    flash(f"{target.display_name} is now {user_rules.ROLE_LABELS[target.role].lower()}.", "success")
    return redirect(url_for("console.user", user_id=user_id), 303)


@bp.post("/users/<int(max=2147483647):user_id>/two-factor/reset")
@console_required(ADMIN)
def reset_user_two_factor(user_id: int):
    form = ConfirmActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        target = people.reset_two_factor(console_user(), user_id)
    except DomainError as exc:
        return _refused_user(user_id, exc, form)
    flash(f"The two-factor sign-in of {target.display_name} is reset; they were emailed.", "success")
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
    gig = gig_rules.get_gig_for_review(gig_id)  # an unknown gig is a 404 page
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


def _refused_gig(gig_id: int, exc: DomainError, form, form_name: str):
    """The review page again (the gig as it is now) with the refusal; nothing is kept."""
    if exc.status == 404:
        raise exc
    leftovers = refuse_prefixed_form(exc, form)
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
    flash(f"“{paused.title}” is paused and out of search; the seller is told why.", "success")
    return redirect(url_for("console.gig", gig_id=gig_id), 303)
