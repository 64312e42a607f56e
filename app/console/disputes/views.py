"""Console pages of the disputes area: the mediation queue, a dispute's case view with the
operator's steps, and the dispute settings with the appointed experts.

Thin: parse the form, call the console action (``actions.py``: the domain rule plus the
audit entry) or a read (``reads.py``), redirect; the request's unit of work commits.
Moderators and admins mediate (assign, write, propose, ask an expert, hand over); only
admins decide, dismiss and change the settings and experts. The decision and the dismissal
ask for confirmation first (``confirmation_required``; the dialog with JavaScript), their
forms carry ``idempotency_field()`` and their views are ``@idempotent`` (a double click
decides once). A refusal shows the case again with the message on the form it came from
(``refuse_form``, which drops the request's work) and the refusal's status; unknown ids are
404 pages.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, request, url_for

from app.console.access import ADMIN, MODERATOR, console_required, console_user
from app.console.blueprints import bp
from app.console.disputes import actions, reads
from app.console.disputes.forms import (
    AppointExpertForm,
    AssignForm,
    DecideForm,
    DismissForm,
    DisputeFilterForm,
    DisputeSettingsForm,
    ExpertRequestForm,
    HandOverForm,
    MessageForm,
    ProposalForm,
    RemoveExpertForm,
)
from app.console.errors import ConsoleInputError
from app.core import money, unit_of_work
from app.core.confirm import Confirmation, confirmation_required
from app.core.domain_errors import DomainError, refuse_form
from app.core.idempotency import idempotent
from app.disputes import admin as dispute_admin
from app.disputes.models import REASON_LABELS
from app.orders import services as order_services

DISPUTE = "/disputes/<int(max=2147483647):dispute_id>"


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def _now() -> datetime:
    return datetime.now(UTC)


@bp.app_template_global()
def console_dispute_state(d) -> tuple[str, str]:
    """``(label, badge class)`` of a dispute: its stage while open, else its outcome."""
    return reads.state_of(d)


@bp.app_template_global()
def console_dispute_stage_label(stage: str) -> str:
    return reads.stage_label(stage)


@bp.app_template_global()
def console_dispute_reason(reason: str) -> str:
    return REASON_LABELS.get(reason, reason)


@bp.app_template_global()
def console_dispute_event(kind: str) -> str:
    return reads.EVENT_LABELS.get(kind, kind.replace("_", " ").capitalize())


# --------------------------------------------------------------------------- the queue


@bp.get("/disputes", endpoint="disputes")
@console_required(MODERATOR)
def dispute_list():
    """The mediation queue: open disputes by default; filter by stage, status, mediator, age."""
    args = request.args.to_dict()
    if "status" not in request.args:
        args["status"] = "open"  # the queue: open disputes unless asked otherwise
    form = DisputeFilterForm(formdata=None, data=args)
    form.date_from.data, form.date_to.data = args.get("from"), args.get("to")
    loose: list[str] = []
    try:
        filters = reads.dispute_filters(
            form.status.data,
            form.stage.data,
            form.mediator.data,
            form.older_than.data,
            form.sort.data,
            form.q.data,
            form.date_from.data,
            form.date_to.data,
        )
    except ConsoleInputError as exc:
        filters, loose = None, refuse_form(exc, form)
    page = _page_arg()
    now = _now()
    rows, total = (
        reads.search_disputes(filters, console_user(), page, now=now) if filters is not None else ([], 0)
    )
    link_args = filters.as_args() if filters is not None else {}
    if filters is not None and filters.status is None:
        link_args["status"] = ""  # "any status" stays any on the next page
    return render_template(
        "console/disputes.html",
        form=form,
        loose_errors=loose,
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total, reads.PAGE_SIZE),
        args=link_args,
        filtered=filters is not None and (filters.as_args() != {"status": "open"}),
        stage_counts=reads.stage_counts(),
        status_counts=reads.status_counts(),
        invalid=filters is None,
        now=now,
    ), (422 if filters is None else 200)


# --------------------------------------------------------------------------- the case


def _choices(detail: reads.DisputeDetail, forms: dict) -> None:
    viewer = console_user()
    forms["assign"].mediator_id.choices = [
        (
            str(u.id),
            f"{u.display_name} ({'admin' if u.role == 'admin' else 'moderator'})"
            + (" — me" if u.id == viewer.id else ""),
        )
        for u in detail.staff
    ]
    forms["expert"].expert_id.choices = [("", "Choose an expert")] + [
        (str(e.id), f"{e.display_name}" + (f" — {e.field}" if e.field else ""))
        for e in detail.experts
        if e.id not in (detail.buyer_id, detail.seller_id)
    ]


def _render_case(dispute_id: int, forms: dict | None = None, loose=None, status: int = 200, panel: str = ""):
    detail = reads.dispute_detail(dispute_id, now=_now())  # an unknown dispute is a 404 page
    d = detail.dispute
    all_forms = {
        "assign": AssignForm(formdata=None),
        "message": MessageForm(formdata=None),
        "propose": ProposalForm(formdata=None),
        "expert": ExpertRequestForm(formdata=None),
        "hand_over": HandOverForm(formdata=None),
        "decide": DecideForm(formdata=None),
        "dismiss": DismissForm(formdata=None),
    }
    all_forms.update(forms or {})
    _choices(detail, all_forms)
    viewer = console_user()
    if not all_forms["assign"].mediator_id.data:
        all_forms["assign"].mediator_id.data = str(d.mediator_id or viewer.id)
    held = money.input_value(d.amount_minor, d.currency)
    return render_template(
        "console/dispute.html",
        d=detail,
        dispute=d,
        order=detail.order.order,
        forms=all_forms,
        loose_errors=loose or [],
        panel=panel,
        is_admin=viewer.role == ADMIN,
        viewer=viewer,
        held_input=held,
        exponent=money.exponent(d.currency),
        file_url=order_services.delivery_file_url,
    ), status


@bp.get(DISPUTE, endpoint="dispute")
@console_required(MODERATOR)
def dispute(dispute_id: int):
    """A dispute's case: the dispute, the order and its timeline, deliveries, conversation,
    evidence, proposals, the dispute's timeline and the operator's steps."""
    return _render_case(dispute_id)


def _step(dispute_id: int, name: str, form, run, done: str = ""):
    """Run one step of the case page's forms: errors on that form, else a flash (``done``, or
    the text ``run()`` returns) and back to the case."""
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        unit_of_work.abandon()
        return _render_case(dispute_id, {name: form}, status=422, panel=name)
    try:
        result = run()
    except DomainError as exc:
        if exc.status == 404 and not exc.field_errors:
            raise
        loose = refuse_form(exc, form, ALIASES.get(name))
        return _render_case(dispute_id, {name: form}, loose, status=exc.status, panel=name)
    flash(result if isinstance(result, str) else done, "success")
    return redirect(url_for("console.dispute", dispute_id=dispute_id) + f"#{name.replace('_', '-')}", 303)


# service field names -> this page's inputs
ALIASES = {
    "propose": {
        "refund_minor": "proposal_refund",
        "release_minor": "proposal_release",
        "message": "proposal_message",
        "refund": "proposal_refund",
        "release": "proposal_release",
        "outcome": "proposal_outcome",
    },
    "decide": {"refund_minor": "refund", "release_minor": "release", "currency": "refund"},
    "dismiss": {"reason": "dismiss_reason"},
}


@bp.post(f"{DISPUTE}/assign")
@console_required(MODERATOR)
def assign_dispute(dispute_id: int):
    form = AssignForm()
    mediator = request.form.get("mediator_id") if request.form.get("to") != "me" else None

    def run():
        d = actions.assign(console_user(), dispute_id, mediator or None, now=_now())
        return f"{d.number} is assigned to {reads.name_of_user(d.mediator_id)}."

    return _step(dispute_id, "assign", form, run)


@bp.post(f"{DISPUTE}/messages")
@console_required(MODERATOR)
def dispute_message(dispute_id: int):
    form = MessageForm()
    return _step(
        dispute_id,
        "message",
        form,
        lambda: actions.message(console_user(), dispute_id, form.body.data, now=_now()),
        "Your message is in the dispute; both parties are told.",
    )


@bp.post(f"{DISPUTE}/proposals")
@console_required(MODERATOR)
def dispute_propose(dispute_id: int):
    form = ProposalForm()

    def run():
        d = reads.get_dispute(dispute_id)
        refund, release = actions.split_from_input(
            d, form.proposal_outcome.data, form.proposal_refund.data, form.proposal_release.data
        )
        actions.propose(console_user(), dispute_id, refund, release, form.proposal_message.data, now=_now())
        return "Your proposal is sent: both parties must accept it."

    return _step(dispute_id, "propose", form, run)


@bp.post(f"{DISPUTE}/expert")
@console_required(MODERATOR)
def dispute_expert(dispute_id: int):
    form = ExpertRequestForm()
    return _step(
        dispute_id,
        "expert",
        form,
        lambda: actions.request_expert(
            console_user(), dispute_id, form.expert_id.data, form.question.data, now=_now()
        ),
        "The expert is asked for an assessment.",
    )


@bp.post(f"{DISPUTE}/hand-over")
@console_required(MODERATOR)
def dispute_hand_over(dispute_id: int):
    form = HandOverForm()
    return _step(
        dispute_id,
        "hand_over",
        form,
        lambda: actions.hand_over(console_user(), dispute_id, form.note.data or "", now=_now()),
        "The dispute is with the admins for a decision.",
    )


def _confirm_decision(dispute_id: int) -> Confirmation:
    d = reads.get_dispute(dispute_id)  # an unknown dispute: 404, nothing to ask
    return Confirmation(
        f"Decide dispute {d.number}?",
        f"The {money.format(d.amount_minor, d.currency)} held in escrow moves now as you decided: "
        "the refund back to the buyer, the release to the seller (less the commission on the released "
        "part). Both parties read your reason. The decision is final.",
        "Decide",
        url_for("console.dispute", dispute_id=dispute_id),
    )


@bp.post(f"{DISPUTE}/decision")
@console_required(ADMIN)
@confirmation_required(_confirm_decision)
@idempotent
def dispute_decide(dispute_id: int):
    form = DecideForm()

    def run():
        d = reads.get_dispute(dispute_id)
        refund, release = actions.split_from_input(d, form.outcome.data, form.refund.data, form.release.data)
        done = actions.decide(console_user(), dispute_id, refund, release, form.reason.data, now=_now())
        return (
            f"Dispute {done.number} is decided: {money.format(done.refund_minor, done.currency)} back to the "
            f"buyer, {money.format(done.release_minor, done.currency)} to the seller. Both parties are told."
        )

    return _step(dispute_id, "decide", form, run)


def _confirm_dismissal(dispute_id: int) -> Confirmation:
    d = reads.get_dispute(dispute_id)
    return Confirmation(
        f"Dismiss dispute {d.number}?",
        "Nothing moves: the money stays in escrow and the order goes on where it was. Both parties "
        "read your reason.",
        "Dismiss",
        url_for("console.dispute", dispute_id=dispute_id),
    )


@bp.post(f"{DISPUTE}/dismiss")
@console_required(ADMIN)
@confirmation_required(_confirm_dismissal)
@idempotent
def dispute_dismiss(dispute_id: int):
    form = DismissForm()
    return _step(
        dispute_id,
        "dismiss",
        form,
        lambda: actions.dismiss(console_user(), dispute_id, form.dismiss_reason.data, now=_now()),
        "The dispute is dismissed; the order goes on where it was.",
    )


# --------------------------------------------------------------------------- settings and experts


def _render_settings(form=None, appoint=None, loose=None, status: int = 200):
    values = dispute_admin.settings_values()
    if form is None:
        form = DisputeSettingsForm(formdata=None, data={k: v for k, v in values.items()})
    return render_template(
        "console/dispute_settings.html",
        form=form,
        appoint=appoint or AppointExpertForm(formdata=None),
        remove=RemoveExpertForm(formdata=None),
        experts=dispute_admin.list_experts(),
        ranges=dispute_admin.DAY_RANGES,
        loose_errors=loose or [],
    ), status


@bp.get("/disputes/settings", endpoint="dispute_settings")
@console_required(ADMIN)
def dispute_settings():
    """The ladder's deadlines, expert review on/off with its fee rule, and the experts."""
    return _render_settings()


@bp.post("/disputes/settings")
@console_required(ADMIN)
def save_dispute_settings():
    form = DisputeSettingsForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        unit_of_work.abandon()
        return _render_settings(form, status=422)
    values = {
        name: getattr(form, name).data
        for name in ("self_resolution_days", "answer_days", "mediation_days", "expert_days")
    }
    values["expert_review_enabled"] = bool(form.expert_review_enabled.data)
    values["expert_fee_rule"] = form.expert_fee_rule.data or ""
    try:
        _row, changes = actions.update_settings(console_user(), values)
    except DomainError as exc:
        return _render_settings(form, loose=refuse_form(exc, form), status=exc.status)
    flash("The dispute settings are saved." if changes else "Nothing changed.", "success")
    return redirect(url_for("console.dispute_settings"), 303)


@bp.post("/disputes/experts")
@console_required(ADMIN)
def appoint_expert():
    form = AppointExpertForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        unit_of_work.abandon()
        return _render_settings(appoint=form, status=422)
    try:
        expert = actions.appoint_expert(console_user(), form.email.data, form.field.data, now=_now())
    except DomainError as exc:
        return _render_settings(appoint=form, loose=refuse_form(exc, form), status=exc.status)
    flash(f"{expert.display_name} is now an expert reviewer.", "success")
    return redirect(url_for("console.dispute_settings") + "#experts", 303)


@bp.post("/disputes/experts/<int(max=2147483647):user_id>/remove")
@console_required(ADMIN)
def remove_expert(user_id: int):
    form = RemoveExpertForm()
    if not form.validate_on_submit():
        abort(400)
    expert = actions.remove_expert(console_user(), user_id)  # not an expert: 404 page
    flash(f"{expert.display_name} is no longer an expert reviewer.", "success")
    return redirect(url_for("console.dispute_settings") + "#experts", 303)
