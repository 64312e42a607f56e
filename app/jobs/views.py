"""Job web pages: browse jobs (filters, "matching my skills"), the job page with the proposal
form, posting a job (template picker that pre-fills), my jobs, my proposals, and the client's
ranked proposals with shortlist / archive / decline; files attached to jobs and proposals
(multipart forms; listed with sizes and signed download links, removable by their owner).

Thin: parse the form, call one service, render; the request's unit of work commits. A refusal
is shown on the form (``refuse_form``, which rolls the request back); other refusals are
flashed by the central handler on the page the browser came from.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts.forms import ConfirmForm
from app.core import money
from app.core.domain_errors import DomainError, refuse_form
from app.gigs.services import category_choices
from app.jobs import attachments, matching, proposals, services
from app.jobs.forms import AttachmentsForm, DeclineForm, JobForm, ProposalForm
from app.jobs.models import MAX_JOB_ATTACHMENTS, MAX_PROPOSAL_ATTACHMENTS
from app.settings.services import get_branding
from app.storage.uploads import human_size

bp = Blueprint("jobs", __name__, template_folder="templates")
INVALID = 422


def _me():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _now() -> datetime:
    return datetime.now(UTC)


@bp.record_once
def _helpers(state):
    state.app.jinja_env.globals.update(
        job_status_label=services.STATUS_LABELS.get,
        proposal_status_label=proposals.STATUS_LABELS.get,
        job_duration_label=services.DURATION_LABELS.get,
        job_experience_label=services.EXPERIENCE_LABELS.get,
        job_attachment_url=attachments.url,
    )
    state.app.jinja_env.filters["file_size"] = human_size


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


@bp.get("/jobs")
def browse():
    """Open public jobs with filters; ``?matching=1`` for a seller: jobs naming their skills."""
    page = max(1, min(_int_arg("page") or 1, 10_000))
    me = _me()
    matching_only = bool(request.args.get("matching")) and me is not None
    hits: dict[int, int] = {}
    currency = get_branding().currency
    if matching_only:
        rows, total = matching.jobs_for_skills(
            services.freelancer_skills(me), exclude_client_id=me.id, freelancer_id=me.id, page=page
        )
        jobs = [job for job, _ in rows]
        hits = {job.id: n for job, n in rows}
    else:
        budget_min = budget_max = None
        try:
            budget_min = money.parse_optional(request.args.get("budget_min"), currency)
            budget_max = money.parse_optional(request.args.get("budget_max"), currency)
        except money.MoneyError as exc:
            flash(str(exc), "error")
        budget_type = request.args.get("budget_type")
        jobs, total = services.browse_jobs(
            q=request.args.get("q"),
            category_id=_int_arg("category"),
            skills=[s for s in request.args.get("skills", "")[:400].split(",") if s.strip()],
            budget_type=budget_type if budget_type in ("fixed", "hourly") else None,
            budget_min_minor=budget_min,
            budget_max_minor=budget_max,
            posted_within_days=_int_arg("posted") if (_int_arg("posted") or 0) <= 365 else None,
            page=page,
            now=_now(),
        )
    return render_template(
        "jobs/browse.html",
        jobs=jobs,
        total=total,
        page=page,
        hits=hits,
        matching_only=matching_only,
        categories=category_choices(),
        args=request.args,
        counts=services.proposal_counts([j.id for j in jobs]),
    )


@bp.route("/jobs/new", methods=["GET", "POST"])
@login_required
def post_job():
    templates = services.list_templates()
    form = JobForm(categories=category_choices())
    template_id = _int_arg("template") or _int_arg("template_id")
    form_errors: list[str] = []
    if request.method == "GET" and template_id:
        try:
            prefill = services.template_prefill(services.get_template(template_id))
        except DomainError:
            abort(404)
        form.title.data = prefill["title"]
        form.description.data = prefill["description"]
        form.skills.data = ", ".join(prefill["skills"])
        form.budget_type.data = prefill["budget_type"]
        form.duration.data = prefill["duration"]
    status = 200
    if form.validate_on_submit():
        publish_now = request.form.get("action") == "publish"
        try:
            job = services.post_job(
                _me(),
                form.to_data(get_branding().currency),
                template_id=template_id,
                publish_now=publish_now,
                now=_now(),
                files=form.uploads(),
            )
            flash(
                "Your job is open for proposals." if publish_now else "Your job is saved as a draft.",
                "success",
            )
            return redirect(url_for("jobs.job_page", job_id=job.id))
        except DomainError as exc:
            form_errors = refuse_form(exc, form, JobForm.ALIASES)
            status = exc.status
    return render_template(
        "jobs/post.html", form=form, templates=templates, template_id=template_id, form_errors=form_errors
    ), status


@bp.get("/jobs/<int:job_id>")
def job_page(job_id: int):
    me = _me()
    try:
        job = services.get_job(me, job_id)
    except DomainError:
        abort(404)
    return _job_page(me, job, ProposalForm())


def _job_page(me, job, form, form_errors=(), status=200):
    mine = proposals.my_live_proposal(me, job.id)
    job_files_form = AttachmentsForm()
    job_files_form.describe_files(MAX_JOB_ATTACHMENTS)
    proposal_files_form = AttachmentsForm()
    proposal_files_form.describe_files(MAX_PROPOSAL_ATTACHMENTS)
    return render_template(
        "jobs/job.html",
        job=job,
        mine=mine,
        mine_editable=mine is not None and mine.status in proposals.EDITABLE and job.status == "open",
        job_editable=job.status in services.EDITABLE_STATUSES,
        form=form,
        form_errors=list(form_errors),
        action_form=ConfirmForm(),
        job_files_form=job_files_form,
        proposal_files_form=proposal_files_form,
        max_job_files=MAX_JOB_ATTACHMENTS,
        max_proposal_files=MAX_PROPOSAL_ATTACHMENTS,
        is_client=me is not None and me.id == job.client_id,
    ), status


@bp.post("/jobs/<int:job_id>/proposals")
@login_required
def submit_proposal(job_id: int):
    me = _me()
    try:
        job = services.get_job(me, job_id)
    except DomainError:
        abort(404)
    form = ProposalForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            proposals.submit_proposal(
                me,
                job.id,
                form.to_data(job, request.form.getlist("answer")),
                now=_now(),
                files=form.uploads(),
            )
            flash("Your proposal was sent.", "success")
            return redirect(url_for("jobs.my_proposals"))
        except DomainError as exc:
            form_errors = refuse_form(exc, form)
            status = exc.status
    else:
        status = INVALID
    return _job_page(me, job, form, form_errors, status)


@bp.post("/jobs/<int:job_id>/<any(publish, close):action>")
@login_required
def job_action(job_id: int, action: str):
    if ConfirmForm().validate_on_submit():
        step = services.publish_job if action == "publish" else services.close_job
        step(_me(), job_id, now=_now())
        flash("Your job is open for proposals." if action == "publish" else "Your job is closed.", "success")
    return redirect(url_for("jobs.job_page", job_id=job_id))


@bp.post("/jobs/<int:job_id>/attachments")
@login_required
def add_job_attachments(job_id: int):
    """The client adds files to a draft or open job; refusals are flashed on the job page."""
    form = AttachmentsForm()
    if form.validate_on_submit():
        added = services.add_job_attachments(_me(), job_id, form.uploads(), now=_now())
        flash(f"{len(added)} file{'s' if len(added) != 1 else ''} attached.", "success")
    return redirect(url_for("jobs.job_page", job_id=job_id))


@bp.post("/jobs/<int:job_id>/attachments/<int:attachment_id>/remove")
@login_required
def remove_job_attachment(job_id: int, attachment_id: int):
    if ConfirmForm().validate_on_submit():
        services.remove_job_attachment(_me(), job_id, attachment_id, now=_now())
        flash("The file was removed.", "success")
    return redirect(url_for("jobs.job_page", job_id=job_id))


@bp.post("/proposals/<int:proposal_id>/attachments")
@login_required
def add_proposal_attachments(proposal_id: int):
    """The freelancer adds files to an editable proposal; refusals are flashed on the job page."""
    form = AttachmentsForm()
    proposal = proposals.get_proposal(_me(), proposal_id)
    if form.validate_on_submit():
        added = proposals.add_proposal_attachments(_me(), proposal.id, form.uploads(), now=_now())
        flash(f"{len(added)} file{'s' if len(added) != 1 else ''} attached to your proposal.", "success")
    return redirect(url_for("jobs.job_page", job_id=proposal.job_id))


@bp.post("/proposals/<int:proposal_id>/attachments/<int:attachment_id>/remove")
@login_required
def remove_proposal_attachment(proposal_id: int, attachment_id: int):
    proposal = proposals.get_proposal(_me(), proposal_id)
    if ConfirmForm().validate_on_submit():
        proposals.remove_proposal_attachment(_me(), proposal.id, attachment_id, now=_now())
        flash("The file was removed from your proposal.", "success")
    return redirect(url_for("jobs.job_page", job_id=proposal.job_id))


@bp.get("/jobs/mine")
@login_required
def my_jobs():
    jobs, _total = services.list_my_jobs(_me(), per_page=200)
    return render_template(
        "jobs/my_jobs.html", jobs=jobs, counts=services.proposal_counts([j.id for j in jobs])
    )


@bp.get("/proposals")
@login_required
def my_proposals():
    items = proposals.list_my_proposals(_me())
    jobs = services.jobs_by_id(p.job_id for p in items)
    return render_template(
        "jobs/my_proposals.html",
        proposals=items,
        jobs=jobs,
        invites=services.list_invites(_me()),
        action_form=ConfirmForm(),
        now=_now(),
    )


@bp.post("/proposals/<int:proposal_id>/withdraw")
@login_required
def withdraw(proposal_id: int):
    if ConfirmForm().validate_on_submit():
        proposals.withdraw_proposal(_me(), proposal_id, now=_now())
        flash("Your proposal was withdrawn.", "success")
    return redirect(url_for("jobs.my_proposals"))


@bp.get("/jobs/<int:job_id>/proposals")
@login_required
def job_proposals(job_id: int):
    try:
        job = services.get_own_job(_me(), job_id)
    except DomainError as exc:
        abort(exc.status)
    ranked = proposals.list_job_proposals(_me(), job.id)
    people = services.users_by_id(p.freelancer_id for p, _ in ranked)
    return render_template(
        "jobs/job_proposals.html",
        job=job,
        ranked=ranked,
        people=people,
        action_form=ConfirmForm(),
        decline_form=DeclineForm(),
    )


@bp.post("/proposals/<int:proposal_id>/<any(shortlisted, archived, declined):to>")
@login_required
def review(proposal_id: int, to: str):
    form = DeclineForm()
    if form.validate_on_submit():
        proposal = proposals.review_proposal(
            _me(), proposal_id, to, message=form.message.data or "", now=_now()
        )
        flash(f"Proposal {proposals.STATUS_LABELS[proposal.status].lower()}.", "success")
        return redirect(url_for("jobs.job_proposals", job_id=proposal.job_id))
    return redirect(request.referrer or url_for("jobs.my_jobs"))


@bp.post("/invites/<int:invite_id>/<any(accept, decline):answer>")
@login_required
def answer_invite(invite_id: int, answer: str):
    if ConfirmForm().validate_on_submit():
        invite = services.respond_to_invite(_me(), invite_id, accept=answer == "accept", now=_now())
        if answer == "accept":
            return redirect(url_for("jobs.job_page", job_id=invite.job_id))
    return redirect(url_for("jobs.my_proposals"))
