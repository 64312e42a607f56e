"""Console pages of the jobs area: every job (filters), a job's page with its proposals and
invites and the close action, the job templates (list, add, edit, hide / show, reorder) and
the matching weights.

Thin: parse the form, call one console action (``actions.py``) or read (``reads.py``),
redirect; the request's unit of work commits. A refusal of a form (a template, the weights,
the close reason) shows the page again with the message on the form (``refuse_form``, which
drops the request's work) and the refusal's status; a button without a form of its own (hide,
move) lets the refusal through to the central handler, which flashes it on the page the
operator came from. Unknown ids are 404 pages. Moderators and admins read jobs and close them;
templates and weights are the admins'. Closing asks for confirmation first.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, request, url_for

from app.console.access import ADMIN, MODERATOR, console_required, console_user
from app.console.blueprints import bp
from app.console.errors import ConsoleInputError
from app.console.jobs import actions, reads
from app.console.jobs.forms import CloseJobForm, ConfirmActionForm, JobFilterForm, TemplateForm, WeightsForm
from app.core.confirm import Confirmation, confirmation_required
from app.core.domain_errors import DomainError, refuse_form
from app.jobs import proposals as proposal_rules
from app.jobs import services

MAX_ID = "int(max=2147483647)"


def _now() -> datetime:
    return datetime.now(UTC)


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


@bp.app_template_global()
def console_job_status(status: str) -> tuple[str, str]:
    """``(label, badge class)`` of a job status, for the console's pages."""
    return reads.status_label(status), reads.STATUS_BADGES.get(status, "")


# --------------------------------------------------------------------------- every job


@bp.get("/jobs", endpoint="jobs")
@console_required(MODERATOR)
def job_list():
    """Every job in any status: filter by status and the days it was posted, search titles."""
    form = JobFilterForm(formdata=request.args)
    loose: list[str] = []
    try:
        filters = reads.job_filters(form.status.data, form.q.data, form.date_from.data, form.date_to.data)
    except ConsoleInputError as exc:
        filters, loose = None, refuse_form(exc, form)
    page = _page_arg()
    rows, total = reads.search_jobs(filters, page) if filters is not None else ([], 0)
    return render_template(
        "console/jobs.html",
        form=form,
        loose_errors=loose,
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total, reads.JOB_PAGE_SIZE),
        args=filters.as_args() if filters is not None else {},
        counts=reads.status_counts(),
        invalid=filters is None,
    ), (422 if filters is None else 200)


# --------------------------------------------------------------------------- one job


def _render_job(job_id: int, form: CloseJobForm | None = None, loose=None, status: int = 200):
    detail = reads.job_detail(job_id, now=_now())  # an unknown job is a 404 page
    return render_template(
        "console/job.html",
        d=detail,
        job=detail.job,
        form=form or CloseJobForm(formdata=None),
        loose_errors=loose or [],
        proposal_badges=reads.PROPOSAL_BADGES,
        invite_badges=reads.INVITE_BADGES,
        proposal_status_labels=proposal_rules.STATUS_LABELS,
    ), status


@bp.get(f"/jobs/<{MAX_ID}:job_id>")
@console_required(MODERATOR)
def job(job_id: int):
    """A job: its client, terms, proposals (status, price), invites and the console's decisions."""
    return _render_job(job_id)


def _confirm_close(job_id: int) -> Confirmation:
    current = reads.get_job(job_id)  # an unknown job: 404, nothing to ask
    return Confirmation(
        f"Close job #{current.id}?",
        "It stops taking proposals at once and leaves the job lists; the client is told your reason. "
        "This cannot be undone.",
        "Close the job",
        url_for("console.job", job_id=job_id),
    )


@bp.post(f"/jobs/<{MAX_ID}:job_id>/close")
@console_required(MODERATOR)
@confirmation_required(_confirm_close)
def close_job(job_id: int):
    form = CloseJobForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _render_job(job_id, form, status=422)
    try:
        actions.close_job(console_user(), job_id, form.reason.data, now=_now())
    except DomainError as exc:
        if exc.status == 404:
            raise
        loose = refuse_form(exc, form)
        return _render_job(job_id, form, loose, status=exc.status)
    flash(f"Job #{job_id} is closed; the client is told why.", "success")
    return redirect(url_for("console.job", job_id=job_id), 303)


# --------------------------------------------------------------------------- templates


@bp.get("/job-templates", endpoint="job_templates")
@console_required(ADMIN)
def job_template_list():
    """The templates clients pick from when posting a job, in their order, hidden ones too."""
    return render_template(
        "console/job_templates.html", items=reads.templates(), action_form=ConfirmActionForm()
    )


def _template_page(form: TemplateForm, item=None, loose=(), status: int = 200):
    return render_template("console/job_template.html", form=form, item=item, form_errors=list(loose)), status


def _save_template(form: TemplateForm, template_id: int | None):
    """Create or change a template from the posted form; the page again with the refusal."""
    item = reads.template_item(template_id) if template_id is not None else None
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _template_page(form, item, status=422)
    data, aliases = form.to_data()
    try:
        if template_id is None:
            template = actions.create_template(console_user(), data)
        else:
            template = actions.update_template(console_user(), template_id, data)
    except DomainError as exc:
        if exc.status == 404:
            raise
        loose = refuse_form(exc, form, aliases)
        if len(loose) < len(exc.errors):  # some errors are on the inputs below
            loose.append("Nothing was saved: correct the fields marked below.")
        return _template_page(form, item, loose, exc.status)
    flash(f"The job template “{template.name}” is saved.", "success")
    return redirect(url_for("console.job_template", template_id=template.id), 303)


@bp.route("/job-templates/new", methods=["GET", "POST"], endpoint="new_job_template")
@console_required(ADMIN)
def new_job_template():
    if request.method == "POST":
        return _save_template(TemplateForm(), None)
    form = TemplateForm(formdata=None)
    form.add_blank_rows(2)
    return _template_page(form)


@bp.route(f"/job-templates/<{MAX_ID}:template_id>", methods=["GET", "POST"], endpoint="job_template")
@console_required(ADMIN)
def job_template(template_id: int):
    if request.method == "POST":
        return _save_template(TemplateForm(), template_id)
    item = reads.template_item(template_id)  # unknown: 404
    return _template_page(TemplateForm.for_template(item.template), item)


@bp.post(f"/job-templates/<{MAX_ID}:template_id>/<any(hide, show):visibility>")
@console_required(ADMIN)
def job_template_visibility(template_id: int, visibility: str):
    ConfirmActionForm().validate_on_submit() or abort(400)
    template = actions.update_template(console_user(), template_id, {"hidden": visibility == "hide"})
    if template.hidden:
        flash(f"“{template.name}” is hidden: clients posting a job no longer see it.", "success")
    else:
        flash(f"“{template.name}” is offered to clients again.", "success")
    return redirect(url_for("console.job_templates", _anchor=f"template-{template.id}"), 303)


@bp.post(f"/job-templates/<{MAX_ID}:template_id>/move")
@console_required(ADMIN)
def move_job_template(template_id: int):
    ConfirmActionForm().validate_on_submit() or abort(400)
    raw = (request.form.get("position") or "").strip()
    position = int(raw) if raw.isdigit() and len(raw) < 6 else raw
    template = actions.update_template(console_user(), template_id, {"position": position})
    flash(f"“{template.name}” is now number {template.position + 1}.", "success")
    return redirect(url_for("console.job_templates", _anchor=f"template-{template.id}"), 303)


# --------------------------------------------------------------------------- matching weights


def _weights_form(current: dict) -> WeightsForm:
    return WeightsForm(formdata=None, data={term: f"{value:g}" for term, value in current["weights"].items()})


def _matching_page(form=None, status: int = 200, form_errors=()):
    current = reads.matching_settings()
    return render_template(
        "console/matching.html",
        form=form or _weights_form(current),
        current=current,
        form_errors=list(form_errors),
    ), status


@bp.get("/matching", endpoint="matching_settings")
@console_required(ADMIN)
def matching_settings_page():
    return _matching_page()


@bp.post("/matching")
@console_required(ADMIN)
def update_matching_settings():
    form = WeightsForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _matching_page(form, 422)
    try:
        actions.update_matching_weights(console_user(), form.to_data())
    except services.JobError as exc:
        loose = refuse_form(exc, form)
        if len(loose) < len(exc.errors):  # some errors are on the weights below
            loose.append("Nothing was saved: correct the weights marked below.")
        return _matching_page(form, exc.status, loose)
    flash("Matching weights saved: rankings use them from now on.", "success")
    return redirect(url_for("console.matching_settings"), 303)
