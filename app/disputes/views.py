"""The resolution centre's web pages (Blueprint ``disputes``).

- ``/disputes``: My disputes (open / closed tabs, paginated) with the stage, the deadline in
  the member's time zone, the amount and the next step;
- ``/disputes/new?order_id=…&milestone_id=…``: open a dispute (reason, statement, first files);
- ``/disputes/<id>``: the dispute (the ladder, the timeline, evidence, proposals, the forms of
  each step the viewer may take), for its parties, the expert asked on it and the marketplace's
  moderators; 404 for anyone else.
- ``order_section``: registered with orders (``app._register_domain_hooks``): the order's and
  the contract's page show "Open a dispute", or the banner of the open dispute, and past ones.

Thin: parse the form, call one service of ``app.disputes.services``, redirect; the request's
unit of work commits. A refused form is shown again with its messages on its inputs
(``refuse_form``: nothing of the request is kept); a refusal about the dispute's state (409)
or a step that is not the viewer's (403) is said above the page. Forms that change the
dispute carry ``idempotency_field()`` (``@idempotent``); accepting a proposal and withdrawing
the dispute are confirmed first (``confirmation_required``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from math import ceil
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from wtforms import SelectChoice

from app.contracts.services import ContractNotFound
from app.core import money, unit_of_work
from app.core.confirm import Confirmation, confirmation_required
from app.core.domain_errors import refuse_form
from app.core.idempotency import idempotent
from app.disputes import services
from app.disputes.forms import (
    AMOUNT_ALIASES,
    EVIDENCE_FORMS,
    AnswerForm,
    AssessmentForm,
    EscalateForm,
    MessageForm,
    OpenDisputeForm,
    ProposalForm,
    WithdrawForm,
)
from app.disputes.models import NOTE_MAX, REASON_LABELS, STATEMENT_MAX
from app.disputes.services import DisputeError
from app.hourly import services as hourly
from app.orders import services as orders

bp = Blueprint("disputes", __name__, template_folder="templates")

PER_PAGE = 20
MAX_PICKED_MESSAGES = 20
LADDER = ("self_resolution", "mediation", "expert_review", "decision")
TABS = {"open": "Open", "closed": "Closed"}


def _me():
    return current_user._get_current_object()


def local_time(value: datetime | None, *, date_only: bool = False) -> str:
    """``value`` in the signed-in member's time zone (their profile's; UTC without one)."""
    if value is None:
        return ""
    zone = UTC
    name = getattr(current_user, "timezone", None) if current_user.is_authenticated else None
    if name:
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = UTC
    local = value.astimezone(zone)
    if date_only:
        return local.strftime("%Y-%m-%d")
    return f"{local.strftime('%Y-%m-%d %H:%M')} {local.tzname() or 'UTC'}"


@bp.record_once
def _helpers(state):
    state.app.jinja_env.globals.update(
        dispute_time=local_time,
        dispute_stage_label=services.STAGE_LABELS.get,
        dispute_outcome_label=services.OUTCOME_LABELS.get,
        dispute_reason_label=REASON_LABELS.get,
    )


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) <= 5 and 0 < int(raw) <= 10_000 else 1


def _file_limit() -> int:
    return int(current_app.config["JOB_ATTACHMENT_MAX_BYTES"])


def _order_url(order) -> str:
    """A contract's engagement opens on the contract's page, any other order on its own."""
    return orders.engagement_page(order) or url_for("orders.order_page", order_id=order.id)


# --------------------------------------------------------------------------- My disputes


@bp.get("/disputes")
@login_required
def my_disputes():
    """The member's disputes, newest first: open ones (default) or closed ones."""
    me = _me()
    tab = request.args.get("tab", "open")
    tab = tab if tab in TABS else "open"
    page = _page_arg()
    rows, total = services.list_for_user(me, status=tab, page=page, per_page=PER_PAGE)
    return render_template(
        "disputes/list.html",
        disputes=rows,
        tab=tab,
        tabs=TABS,
        page=page,
        pages=max(1, ceil(total / PER_PAGE)),
        total=total,
        orders_by_id=services.orders_by_id(d.order_id for d in rows),
        next_step=lambda d: services.next_step(me, d),
    )


# --------------------------------------------------------------------------- opening one


def _disputable_order(me, order_id):
    try:
        order = orders.get_order(me, order_id)
    except orders.OrderNotFound:
        abort(404)
    if order.party(me.id) is None:  # an admin sees the order but is not a party to it
        abort(404)
    return order


def _milestone_choices(order, milestones) -> list[SelectChoice]:
    return [
        SelectChoice(
            str(m.id),
            f"{m.seq}. {m.title} — {money.format(m.amount_minor - m.refunded_minor, order.currency)}",
        )
        for m in milestones
    ]


def _render_new(order, form: OpenDisputeForm, *, messages=(), status: int = 200):
    me = _me()
    milestones = services.disputable_milestones(me, order)
    form.milestone_id.choices = _milestone_choices(order, milestones)
    held = None
    if len(milestones) == 1:
        held = milestones[0].amount_minor - milestones[0].refunded_minor
    return render_template(
        "disputes/new.html",
        order=order,
        party=order.party(me.id),
        order_url=_order_url(order),
        form=form,
        messages=messages,
        milestones=milestones,
        choose_milestone=len(milestones) > 1 or order.uses_milestones,
        held=held,
        open_dispute=services.open_dispute_of(order),
        statement_max=STATEMENT_MAX,
    ), status


@bp.get("/disputes/new")
@login_required
def new_dispute():
    """The form to open a dispute about an order's (or one milestone's) money."""
    me = _me()
    order = _disputable_order(me, request.args.get("order_id"))
    form = OpenDisputeForm(formdata=None, data={"milestone_id": request.args.get("milestone_id", "")})
    return _render_new(order, form)


@bp.post("/disputes/new")
@login_required
@idempotent
def create_dispute():
    """Open the dispute (the escrow is locked at once), with the first files as evidence."""
    me = _me()
    order = _disputable_order(me, request.args.get("order_id"))
    form = OpenDisputeForm()
    form.milestone_id.choices = _milestone_choices(order, services.disputable_milestones(me, order))
    if not form.validate_on_submit():
        unit_of_work.abandon()
        messages = list(form.csrf_token.errors)
        return _render_new(order, form, messages=messages, status=400 if messages else 422)
    try:
        d = services.open_dispute(
            me, order.id, form.reason.data, form.statement.data, milestone_id=form.milestone_id.data or None
        )
        files = form.uploads(_file_limit())
        if files:
            services.add_evidence(me, d.id, "file", files=files)
    except DisputeError as exc:
        if exc.status == 404:
            unit_of_work.abandon()
            abort(404)
        messages = refuse_form(exc, form)
        return _render_new(order, form, messages=messages, status=exc.status)
    flash(
        f"Dispute {d.number} is open: the money is held until it is resolved. "
        "Add your evidence and try to agree with the other side.",
        "success",
    )
    return redirect(url_for("disputes.dispute_page", dispute_id=d.id), 303)


# --------------------------------------------------------------------------- disputing an hourly week


def _client_timesheet(me, timesheet_id: int):
    try:
        contract, sheet = hourly.get_timesheet(me, timesheet_id)
    except (hourly.HourlyNotFound, ContractNotFound):
        abort(404)
    if contract.client_id != me.id:
        abort(404)
    return contract, sheet


def _render_timesheet_dispute(contract, sheet, form, *, messages=(), status: int = 200):
    return render_template(
        "disputes/new_timesheet.html",
        contract=contract,
        sheet=sheet,
        form=form,
        messages=messages,
        statement_max=STATEMENT_MAX,
        open=sheet.status == "submitted",
        hours=f"{sheet.minutes_billable // 60} h {sheet.minutes_billable % 60:02d} min",
    ), status


@bp.get("/timesheets/<int:timesheet_id>/dispute")
@login_required
def new_for_timesheet(timesheet_id: int):
    """The client disputes an hourly week instead of approving it: the week is charged into
    escrow (held) and the resolution centre decides what is paid."""
    contract, sheet = _client_timesheet(_me(), timesheet_id)
    return _render_timesheet_dispute(contract, sheet, OpenDisputeForm(formdata=None))


@bp.post("/timesheets/<int:timesheet_id>/dispute")
@login_required
@idempotent
def create_timesheet_dispute(timesheet_id: int):
    me = _me()
    contract, sheet = _client_timesheet(me, timesheet_id)
    form = OpenDisputeForm()
    if not form.validate_on_submit():
        unit_of_work.abandon()
        messages = list(form.csrf_token.errors)
        status = 400 if messages else 422
        return _render_timesheet_dispute(contract, sheet, form, messages=messages, status=status)
    try:
        d = services.open_timesheet_dispute(me, sheet.id, form.reason.data, form.statement.data)
        files = form.uploads(_file_limit())
        if files:
            services.add_evidence(me, d.id, "file", files=files)
    except DisputeError as exc:
        unit_of_work.abandon()
        if exc.status == 404:
            abort(404)
        messages = refuse_form(exc, form)
        return _render_timesheet_dispute(contract, sheet, form, messages=messages, status=exc.status)
    flash(
        f"Dispute {d.number} is open: the week is charged and held until it is resolved.",
        "success",
    )
    return redirect(url_for("disputes.dispute_page", dispute_id=d.id), 303)


# --------------------------------------------------------------------------- the dispute page


def _ladder(d) -> list[dict]:
    """The four rungs with their state: ``done``, ``current``, ``skipped`` (expert review
    never asked for) or ``todo``."""
    reached = LADDER.index(d.stage)
    rungs = []
    for i, stage in enumerate(LADDER):
        if d.is_open and i == reached:
            state = "current"
        elif i < reached or (not d.is_open and i == reached):
            state = "skipped" if stage == "expert_review" and d.expert_requested_at is None else "done"
        else:
            state = "todo"
        rungs.append({"stage": stage, "label": services.STAGE_LABELS[stage], "state": state})
    return rungs


def _render_page(dispute_id: int, *, refused: tuple[str, object] | None = None, messages=(), status=200):
    me = _me()
    try:
        d = services.get_dispute(me, dispute_id)
    except services.DisputeNotFound:
        abort(404)
    party = d.party(me.id)
    order = services.order_of(d)
    milestone = services.milestone_of(d)
    evidence = services.evidence_of(d)
    proposals = services.proposals_of(d)
    timeline = services.timeline(d)
    is_expert_here = d.expert_id == me.id and services.is_expert(me)
    can_add = d.is_open and (party is not None or is_expert_here)
    forms: dict[str, object] = {}

    def form_for(key: str, factory):
        if refused is not None and refused[0] == key:
            return refused[1]
        return factory()

    picked = services.conversation_messages(me, d) if can_add and party else []
    for kind, form_class in EVIDENCE_FORMS.items():
        forms[kind] = form_for(kind, lambda form_class=form_class: form_class(formdata=None))
    forms["message"].message_id.choices = [SelectChoice(str(m.id), m.body) for m in picked]
    code_prs, code_runs = services.code_choices(d) if can_add and party else ([], [])
    forms["pr"].pull_request_id.choices = [
        SelectChoice(str(pr.id), f"#{pr.number} {pr.title} ({pr.state})") for pr in code_prs
    ]
    forms["ci"].ci_run_id.choices = [
        SelectChoice(str(run.id), f"{run.name} · {run.status} · {run.head_sha[:7]}") for run in code_runs
    ]
    forms["chat"] = form_for("chat", lambda: MessageForm(formdata=None))
    forms["proposal"] = form_for("proposal", lambda: ProposalForm(formdata=None))
    forms["escalate"] = form_for("escalate", lambda: EscalateForm(formdata=None))
    forms["assessment"] = form_for("assessment", lambda: AssessmentForm(formdata=None))
    forms["withdraw"] = WithdrawForm(formdata=None)
    forms["answer"] = AnswerForm(formdata=None)
    people = services.names_of(
        [d.buyer_id, d.seller_id, d.mediator_id, d.expert_id]
        + [e.actor_id for e in timeline]
        + [p.author_id for p in proposals]
        + [e.author_id for e in evidence]
        + [m.sender_id for m in picked]
        + [(e.data or {}).get("sender_id") for e in evidence if e.kind == "message"]
    )
    return render_template(
        "disputes/dispute.html",
        d=d,
        me=me,
        party=party,
        order=order,
        order_url=_order_url(order),
        milestone=milestone,
        evidence=evidence,
        evidence_by_id={e.id: e for e in evidence},
        file_url=services.evidence_url,
        proposals=proposals,
        open_proposals=[p for p in proposals if p.status == "open"],
        timeline=timeline,
        people=people,
        ladder=_ladder(d),
        next_step=services.next_step(me, d) if party else None,
        picked=picked,
        forms=forms,
        refused_key=refused[0] if refused else None,
        messages=messages,
        can_add=can_add,
        can_propose=d.is_open and party is not None and d.stage in ("self_resolution", "mediation"),
        can_escalate=d.is_open and party is not None and d.stage == "self_resolution",
        can_withdraw=d.is_open and d.opened_by == me.id,
        can_write=d.is_open and (party is not None or is_expert_here),
        is_expert_here=is_expert_here,
        can_assess=is_expert_here and d.is_open and d.stage == "expert_review",
        note_max=NOTE_MAX,
        role_of=lambda uid: _role_of(d, uid),
    ), status


def _role_of(d, user_id) -> str:
    if user_id is None:
        return "the marketplace"
    if user_id == d.buyer_id:
        return "buyer"
    if user_id == d.seller_id:
        return "seller"
    if user_id == d.expert_id:
        return "expert"
    return "mediator"


@bp.get("/disputes/<int(max=2147483647):dispute_id>")
@login_required
def dispute_page(dispute_id: int):
    return _render_page(dispute_id)


def _step(dispute_id: int, key: str, form, call, done: str, anchor: str | None = None, aliases=None):
    """Validate ``form``, run ``call(me, form)``, then back to the page (or the page again with
    the refusal: on the form for field errors, above the page for 403 and 409)."""
    if not form.validate_on_submit():
        unit_of_work.abandon()
        if form.csrf_token.errors:
            return _render_page(dispute_id, messages=list(form.csrf_token.errors), status=400)
        return _render_page(dispute_id, refused=(key, form), status=422)
    try:
        message = call(_me(), form)
    except DisputeError as exc:
        if exc.status == 404 and not exc.field_errors:
            unit_of_work.abandon()
            abort(404)
        leftovers = refuse_form(exc, form, aliases)
        if exc.status in (403, 409):
            return _render_page(dispute_id, messages=[exc.message], status=exc.status)
        return _render_page(dispute_id, refused=(key, form), messages=leftovers, status=exc.status)
    flash(message or done, "success")
    return redirect(url_for("disputes.dispute_page", dispute_id=dispute_id, _anchor=anchor), 303)


def _visible(me, dispute_id):
    try:
        return services.get_dispute(me, dispute_id)
    except services.DisputeNotFound:
        abort(404)


DISPUTE_PATH = "/disputes/<int(max=2147483647):dispute_id>"


@bp.post(f"{DISPUTE_PATH}/evidence")
@login_required
@idempotent
def add_evidence(dispute_id: int):
    """Add a note, a link, files, quoted messages, the milestone's Definition of Done, or a pull
    request or CI run of the contract's repositories."""
    kind = request.form.get("kind", "")
    form_class = EVIDENCE_FORMS.get(kind)
    if form_class is None:
        abort(400)
    form = form_class()
    if kind == "message":
        form.message_id.choices = [SelectChoice(v, v) for v in request.form.getlist("message_id")]

    def call(me, form):
        if kind == "file":
            services.add_evidence(
                me, dispute_id, "file", text=form.text.data, files=form.uploads(_file_limit())
            )
        elif kind == "message":
            picked = form.message_id.data or []
            if not picked:
                raise DisputeError({"message_id": "Pick at least one message."})
            if len(picked) > MAX_PICKED_MESSAGES:
                raise DisputeError({"message_id": f"Pick at most {MAX_PICKED_MESSAGES} messages at once."})
            for message_id in picked:
                services.add_evidence(me, dispute_id, "message", message_id=message_id)
        elif kind == "link":
            services.add_evidence(me, dispute_id, "link", url=form.url.data, text=form.text.data)
        elif kind == "pr":
            services.add_evidence(
                me, dispute_id, "pr", pull_request_id=form.pull_request_id.data, text=form.text.data
            )
        elif kind == "ci":
            services.add_evidence(me, dispute_id, "ci", ci_run_id=form.ci_run_id.data, text=form.text.data)
        else:
            services.add_evidence(me, dispute_id, kind, text=form.text.data)
        return None

    return _step(dispute_id, kind, form, call, "Your evidence is added.", anchor="evidence")


@bp.post(f"{DISPUTE_PATH}/messages")
@login_required
@idempotent
def post_message(dispute_id: int):
    return _step(
        dispute_id,
        "chat",
        MessageForm(),
        lambda me, form: services.post_message(me, dispute_id, form.body.data) and None,
        "Your message is sent.",
        anchor="timeline",
    )


def _proposed_amounts(d, form: ProposalForm) -> tuple[int, int]:
    """The form's way (release all, refund all, split) as minor units; a split's empty box is
    the rest of what is held. Field errors name the boxes."""
    held = d.amount_minor
    if form.way.data == "release":
        return 0, held
    if form.way.data == "refund":
        return held, 0
    if form.way.data != "split":
        raise DisputeError({"way": "Choose release, refund or split."})
    errors: dict[str, str] = {}
    amounts = {}
    for box in ("refund", "release"):
        try:
            amounts[box] = money.parse_optional(form[box].data, d.currency)
        except money.MoneyError as exc:
            errors[box] = str(exc)
    if errors:
        raise DisputeError(errors)
    refund, release = amounts["refund"], amounts["release"]
    if refund is None and release is None:
        raise DisputeError({"refund": "Enter how much goes back to the buyer, or to the seller."})
    if refund is None:
        refund = held - release
    elif release is None:
        release = held - refund
    if refund < 0 or release < 0 or refund + release != held:
        raise DisputeError(
            {
                "release": f"The two amounts must add up to the {money.format(held, d.currency)} held "
                f"(they add up to {money.format(max(refund, 0) + max(release, 0), d.currency)})."
            }
        )
    return refund, release


@bp.post(f"{DISPUTE_PATH}/proposals")
@login_required
@idempotent
def propose(dispute_id: int):
    d = _visible(_me(), dispute_id)

    def call(me, form):
        refund, release = _proposed_amounts(d, form)
        services.propose(me, dispute_id, refund, release, form.message.data, currency=d.currency)
        return None

    return _step(
        dispute_id,
        "proposal",
        ProposalForm(),
        call,
        "Your proposal is sent: the other side can accept it.",
        anchor="proposals",
        aliases=AMOUNT_ALIASES,
    )


def _confirm_accept(dispute_id: int, proposal_id: int) -> Confirmation | None:
    if request.form.get("accept") != "1":
        return None  # declining or withdrawing moves no money
    d = _visible(_me(), dispute_id)
    p = next((x for x in services.proposals_of(d) if x.id == proposal_id), None)
    if p is None:
        abort(404)
    refund, release = money.format(p.refund_minor, d.currency), money.format(p.release_minor, d.currency)
    return Confirmation(
        f"Accept this proposal for dispute {d.number}?",
        f"{refund} goes back to the buyer and {release} is released to the seller"
        + (" once both sides accept." if p.by_mediator else ". The dispute ends; this cannot be undone."),
        "Accept the proposal",
        url_for("disputes.dispute_page", dispute_id=dispute_id),
    )


@bp.post(f"{DISPUTE_PATH}/proposals/<int(max=2147483647):proposal_id>/answer")
@login_required
@confirmation_required(_confirm_accept)
@idempotent
def answer_proposal(dispute_id: int, proposal_id: int):
    def call(me, form):
        accept = form.accept.data
        if accept not in ("0", "1"):
            raise DisputeError({"accept": "Accept or decline the proposal."})
        d = services.answer_proposal(me, dispute_id, proposal_id, accept == "1")
        if not d.is_open:
            return f"Dispute {d.number} is resolved: {services.OUTCOME_LABELS.get(d.outcome, d.outcome)}."
        return None

    return _step(dispute_id, "answer", AnswerForm(), call, "Your answer is recorded.", anchor="proposals")


@bp.post(f"{DISPUTE_PATH}/escalate")
@login_required
@idempotent
def escalate(dispute_id: int):
    return _step(
        dispute_id,
        "escalate",
        EscalateForm(),
        lambda me, form: services.escalate(me, dispute_id, form.reason.data) and None,
        "The marketplace will mediate: a moderator will read the case and write to both of you.",
    )


def _confirm_withdraw(dispute_id: int) -> Confirmation:
    d = _visible(_me(), dispute_id)
    return Confirmation(
        f"Withdraw dispute {d.number}?",
        "The dispute ends without a decision and the money goes back to where it was (held in "
        "escrow for the work). You cannot reopen this dispute.",
        "Withdraw the dispute",
        url_for("disputes.dispute_page", dispute_id=dispute_id),
    )


@bp.post(f"{DISPUTE_PATH}/withdraw")
@login_required
@confirmation_required(_confirm_withdraw)
@idempotent
def withdraw(dispute_id: int):
    return _step(
        dispute_id,
        "withdraw",
        WithdrawForm(),
        lambda me, form: services.withdraw(me, dispute_id) and None,
        "You withdrew the dispute.",
    )


@bp.post(f"{DISPUTE_PATH}/assessment")
@login_required
@idempotent
def submit_assessment(dispute_id: int):
    """The appointed expert's written assessment (the dispute goes back to mediation)."""
    return _step(
        dispute_id,
        "assessment",
        AssessmentForm(),
        lambda me, form: services.submit_assessment(me, dispute_id, form.assessment.data) and None,
        "Your assessment is sent to the mediator.",
    )


# --------------------------------------------------------------------------- the order's section


def order_section(order, viewer) -> Markup | None:
    """Registered with orders: on an order's (or a contract's) page, its parties see the open
    dispute's banner, "Open a dispute" when some of its money can be disputed, and past
    disputes. Nothing for anyone else."""
    if viewer is None or not getattr(viewer, "is_authenticated", False) or order.party(viewer.id) is None:
        return None
    disputes = services.disputes_of_order(order.id)
    current = next((d for d in disputes if d.is_open), None)
    disputable = services.disputable_milestones(viewer, order) if current is None else []
    if current is None and not disputable and not disputes:
        return None
    return Markup(  # noqa: S704  (a rendered, autoescaped template)
        render_template(
            "disputes/_order_section.html",
            order=order,
            current=current,
            past=[d for d in disputes if not d.is_open],
            disputable=disputable,
            next_step=services.next_step(viewer, current) if current else None,
        )
    )
