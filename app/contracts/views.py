"""Contract web pages: hire from a proposal (the terms form), the contract page (offer answer,
the Statement of Work with its signatures, the milestones worked through the orders domain's
forms, ending or splitting), the SoW download, and "My contracts".

Thin: parse the form, call one service, redirect; the request's unit of work commits. A
refused form is shown again with its errors (the request rolled back); other refusals are
flashed by the central handler on the page the browser came from.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.contracts import changes, services
from app.contracts import sow as statements
from app.contracts.api import download
from app.core import money, unit_of_work
from app.core.domain_errors import DomainError
from app.core.forms import Form
from app.core.idempotency import idempotent
from app.jobs import proposals as job_proposals
from app.jobs.models import Job
from app.orders import milestones as engine
from app.orders import services as orders
from tenants.db import db

bp = Blueprint("contracts", __name__, template_folder="templates")
MAX_ROWS = services.MAX_MILESTONES
# The hire form's time zone choice (any IANA name is accepted; these cover most clients). The
# browser's own zone is picked by static/js/timezone.js when it is in the list.
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Lisbon",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Kyiv",
    "Europe/Istanbul",
    "Africa/Lagos",
    "Africa/Cairo",
    "Africa/Nairobi",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Singapore",
    "Asia/Manila",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Perth",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Bogota",
    "America/Mexico_City",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)


class CsrfForm(Form):
    """Only the CSRF token: the fields are read from the request and checked by the services."""


def _me():
    return current_user._get_current_object()


def _check_csrf() -> None:
    if not CsrfForm().validate_on_submit():
        abort(400)


@bp.record_once
def _helpers(state):
    state.app.jinja_env.globals.update(contract_status_label=services.status_label)


def engagement_url(order) -> str | None:
    """The contract page of a contract's engagement (the order page sends the browser there)."""
    contract = services.contract_of_order(order.id)
    return url_for("contracts.contract_page", contract_id=contract.id) if contract is not None else None


# --------------------------------------------------------------------------- hiring


def _hourly_from_form(currency: str, errors: dict) -> dict:
    """The hourly fields of the hire form: the rate (an amount in the marketplace's currency),
    the weekly limit (whole hours) and the time zone; what the form alone can tell goes to
    ``errors`` (the services check the rest)."""
    try:
        rate = money.parse_optional(request.form.get("rate"), currency, allow_negative=True)
    except money.MoneyError as exc:
        errors["rate_minor"] = str(exc)
        rate = None
    if rate is None and "rate_minor" not in errors:
        errors["rate_minor"] = "Give the hourly rate."
    raw_cap = (request.form.get("weekly_cap_hours") or "").strip()
    cap = None
    if raw_cap.lstrip("-").isdigit() and len(raw_cap) <= 6:
        cap = services.clean_cap(int(raw_cap), "weekly_cap_hours", errors)
    else:
        errors["weekly_cap_hours"] = (
            f"Give the weekly limit as a whole number of hours (1 to {services.MAX_CAP_HOURS})."
        )
    if rate is not None and "rate_minor" not in errors:
        services.clean_rate(rate, "rate_minor", errors)
    zone = (request.form.get("timezone") or "").strip() or None
    services.clean_timezone(zone, "timezone", errors)
    return {"payment_model": "hourly", "rate_minor": rate, "weekly_cap_hours": cap, "timezone": zone}


def _terms_from_form(currency: str) -> tuple[dict, dict]:
    """The hire form's fields as the services' terms, and amount errors the form alone can tell."""
    errors: dict[str, str] = {}
    if request.form.get("payment_model") == "hourly":
        data = {
            "scope": request.form.get("scope"),
            "nda": request.form.get("nda") == "on",
            "ip_assignment": request.form.get("ip_assignment") == "on",
            "message": request.form.get("message") or "",
            **_hourly_from_form(currency, errors),
        }
        return data, errors
    rows = []
    for i in range(MAX_ROWS):
        title = (request.form.get(f"m{i}_title") or "").strip()
        raw_amount = (request.form.get(f"m{i}_amount") or "").strip()
        if not title and not raw_amount:
            continue
        n = len(rows)
        try:
            amount = money.parse_optional(raw_amount, currency, allow_negative=True)
        except money.MoneyError as exc:
            errors[f"milestones.{n}.amount_minor"] = str(exc)
            amount = None
        rows.append(
            {
                "title": title,
                "amount_minor": amount,
                "due_date": (request.form.get(f"m{i}_due") or "").strip() or None,
                "description": request.form.get(f"m{i}_description") or "",
                "dod": [
                    line.strip()
                    for line in (request.form.get(f"m{i}_dod") or "").splitlines()
                    if line.strip()
                ],
            }
        )
    data = {
        "scope": request.form.get("scope"),
        "milestones": rows,
        "nda": request.form.get("nda") == "on",
        "ip_assignment": request.form.get("ip_assignment") == "on",
        "message": request.form.get("message") or "",
    }
    return data, errors


def _form_rows(terms: dict, currency: str) -> list[dict]:
    rows = []
    for m in terms.get("milestones") or []:
        amount = m.get("amount_minor")
        rows.append(
            {
                "title": m.get("title") or "",
                "amount": money.input_value(amount, currency) if isinstance(amount, int) else (amount or ""),
                "due": m.get("due_date") or "",
                "description": m.get("description") or "",
                "dod": "\n".join(m.get("dod") or []),
            }
        )
    # The proposal's rows, then empty ones: at least three rows, and one to spare.
    target = min(MAX_ROWS, max(3, len(rows) + 1))
    while len(rows) < target:
        rows.append({"title": "", "amount": "", "due": "", "description": "", "dod": ""})
    return rows


def _hire_rows_from_request() -> list[dict]:
    rows = []
    for i in range(MAX_ROWS):
        row = {
            "title": request.form.get(f"m{i}_title") or "",
            "amount": request.form.get(f"m{i}_amount") or "",
            "due": request.form.get(f"m{i}_due") or "",
            "description": request.form.get(f"m{i}_description") or "",
            "dod": request.form.get(f"m{i}_dod") or "",
        }
        if any(row.values()) or i < 3:
            rows.append(row)
    return rows


def _offer_page(freelancer, send, *, prefill: dict, job=None, proposal=None, jobs=()):
    """The terms form (hire from a proposal, or a direct offer): shown pre-filled, or sent with
    ``send(data) -> Contract`` and shown again with the refusal."""
    currency = orders.marketplace_currency()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        _check_csrf()
        data, errors = _terms_from_form(currency)
        data["title"] = request.form.get("title")
        if not errors:
            try:
                contract = send(data)
            except DomainError as exc:
                unit_of_work.abandon()
                errors, status = exc.errors, exc.status
            else:
                flash(f"Your offer is sent to {freelancer.display_name}.", "success")
                return redirect(url_for("contracts.contract_page", contract_id=contract.id), 303)
        else:
            status = 422
        terms = {
            "scope": request.form.get("scope", ""),
            "nda": data["nda"],
            "ip_assignment": data["ip_assignment"],
            "title": request.form.get("title", ""),
            "job_id": request.form.get("job_id", ""),
            "payment_model": "hourly" if request.form.get("payment_model") == "hourly" else "fixed",
            "rate": request.form.get("rate", ""),
            "weekly_cap_hours": request.form.get("weekly_cap_hours", ""),
            "timezone": request.form.get("timezone", ""),
        }
        rows = _hire_rows_from_request()
        message = request.form.get("message", "")
    else:
        terms = dict(prefill)
        rate = terms.get("rate_minor")
        terms["rate"] = money.input_value(rate, currency) if isinstance(rate, int) else ""
        rows = _form_rows(terms, currency)
        message = ""
    zones = COMMON_ZONES
    if terms.get("timezone") and terms["timezone"] not in zones:
        zones = (terms["timezone"], *zones)
    return render_template(
        "contracts/hire.html",
        proposal=proposal,
        job=job,
        jobs=jobs,
        freelancer=freelancer,
        terms=terms,
        rows=rows,
        message=message,
        errors=errors,
        currency=currency,
        zones=zones,
        form=CsrfForm(),
    ), status


def _hourly_prefill(terms: dict, proposal=None, job=None) -> dict:
    """Hourly terms from an hourly proposal (its rate) or job (its rate range and hours a week)."""
    if proposal is not None and proposal.payment_type == "hourly" and proposal.rate_minor:
        terms.update(payment_model="hourly", rate_minor=proposal.rate_minor)
    elif job is not None and job.budget_type == "hourly" and job.rate_max_minor:
        terms.update(payment_model="hourly", rate_minor=job.rate_max_minor)
    if terms.get("payment_model") == "hourly":
        hours = job.hours_per_week if job is not None else None
        terms["weekly_cap_hours"] = (
            hours if isinstance(hours, int) and 1 <= hours <= services.MAX_CAP_HOURS else 40
        )
    return terms


@bp.route("/proposals/<int:proposal_id>/hire", methods=["GET", "POST"])
@login_required
def hire(proposal_id: int):
    """The client's terms for a proposal (pre-filled from it), sent as a contract offer."""
    me = _me()
    proposal = job_proposals.get_proposal(me, proposal_id)
    job = db.session.get(Job, proposal.job_id)
    if job is None or job.client_id != me.id:
        abort(404)
    return _offer_page(
        db.session.get(services.User, proposal.freelancer_id),
        lambda data: services.offer_from_proposal(me, proposal_id, data),
        prefill=_hourly_prefill(services.prefill_from_proposal(proposal, job), proposal, job),
        job=job,
        proposal=proposal,
    )


@bp.route("/contracts/new/<int:freelancer_id>", methods=["GET", "POST"])
@login_required
def direct_offer(freelancer_id: int):
    """A direct offer to a freelancer (from their profile), optionally for one of my open jobs."""
    me = _me()
    freelancer = db.session.get(services.User, freelancer_id)
    if (
        freelancer is None
        or freelancer.seller_profile is None
        or not freelancer.is_active
        or freelancer.id == me.id
    ):
        abort(404)
    return _offer_page(
        freelancer,
        lambda data: services.direct_offer(
            me, freelancer_id, data, job_id=request.form.get("job_id") or None
        ),
        prefill={
            "scope": "",
            "milestones": [],
            "nda": False,
            "ip_assignment": True,
            "title": "",
            "job_id": "",
        },
        jobs=services.open_jobs_of(me),
    )


# --------------------------------------------------------------------------- the contract


def _render(contract_id: int, *, errors: dict | None = None, status: int = 200):
    me = _me()
    contract = services.get_contract(me, contract_id)
    order = services.engagement(contract)
    sow = statements.statement_of(contract)
    return render_template(
        "contracts/contract.html",
        contract=contract,
        party=contract.party(me.id),
        status=services.effective_status(contract),
        people=services.users_by_id([contract.client_id, contract.freelancer_id]),
        job=db.session.get(Job, contract.job_id) if contract.job_id else None,
        order=order,
        order_party=order.party(me.id) if order is not None else None,
        money_of=services.money_of(contract),
        sow=sow,
        signatures=statements.signatures(sow),
        actions=services.actions(contract, me),
        changes=services.changes_of(contract),
        pending_change=services.pending_change(contract),
        pending=orders.pending_cancellation(order) if order is not None else None,
        sections=services.contract_sections(contract, me)
        + (orders.order_sections(order, me) if order is not None and order.party(me.id) else []),
        file_url=orders.delivery_file_url,
        milestone_actions=engine.actions,
        errors=errors or {},
        form=CsrfForm(),
    ), status


@bp.get("/contracts/<int:contract_id>")
@login_required
def contract_page(contract_id: int):
    return _render(contract_id)


def _step(contract_id: int, call, done: str):
    _check_csrf()
    try:
        call(_me())
    except DomainError as exc:
        unit_of_work.abandon()
        if exc.status == 404:
            abort(404)
        return _render(contract_id, errors=exc.errors, status=exc.status)
    flash(done, "success")
    return redirect(url_for("contracts.contract_page", contract_id=contract_id), 303)


@bp.post("/contracts/<int:contract_id>/accept")
@login_required
def accept(contract_id: int):
    return _step(
        contract_id,
        lambda me: services.accept_offer(me, contract_id),
        "You accepted the offer: sign the Statement of Work to start.",
    )


@bp.post("/contracts/<int:contract_id>/decline")
@login_required
def decline(contract_id: int):
    return _step(
        contract_id,
        lambda me: services.decline_offer(me, contract_id, request.form.get("reason", "")),
        "You declined the offer.",
    )


@bp.post("/contracts/<int:contract_id>/withdraw")
@login_required
def withdraw(contract_id: int):
    return _step(contract_id, lambda me: services.withdraw_offer(me, contract_id), "Your offer is withdrawn.")


@bp.post("/contracts/<int:contract_id>/sign")
@login_required
def sign(contract_id: int):
    return _step(
        contract_id,
        lambda me: services.sign(
            me,
            contract_id,
            request.form.get("typed_name"),
            ip=request.remote_addr,
            user_agent=request.headers.get("User-Agent"),
        ),
        "You signed the Statement of Work.",
    )


@bp.post("/contracts/<int:contract_id>/end")
@login_required
@idempotent
def end(contract_id: int):
    return _step(
        contract_id,
        lambda me: services.end_contract(me, contract_id, request.form.get("reason")),
        "The contract ended.",
    )


@bp.post("/contracts/<int:contract_id>/split")
@login_required
@idempotent
def split(contract_id: int):
    contract = services.get_contract(_me(), contract_id)

    def call(me):
        try:
            refund = money.parse_optional(request.form.get("refund"), contract.currency)
        except money.MoneyError as exc:
            raise services.ContractError({"refund_minor": str(exc)}) from None
        if refund is None:
            raise services.ContractError(
                {"refund_minor": "Say how much goes back to the client (0 or more)."}
            )
        services.propose_split(me, contract_id, request.form.get("reason"), refund)

    return _step(contract_id, call, "Your proposal is sent: the other party accepts or declines it.")


@bp.post("/contracts/<int:contract_id>/split/answer")
@login_required
@idempotent
def answer_split(contract_id: int):
    accept = request.form.get("accept") == "1"
    return _step(
        contract_id,
        lambda me: services.answer_split(me, contract_id, accept),
        "The contract ended with the agreed split." if accept else "The proposal is closed.",
    )


@bp.post("/contracts/<int:contract_id>/changes")
@login_required
def propose_change(contract_id: int):
    contract = services.get_contract(_me(), contract_id)

    def call(me):
        data = {
            "title": request.form.get("title"),
            "description": request.form.get("description") or "",
            "due_date": (request.form.get("due_date") or "").strip() or None,
            "dod": [line.strip() for line in (request.form.get("dod") or "").splitlines() if line.strip()],
            "note": request.form.get("note") or "",
        }
        action = request.form.get("action")
        if action in ("add", "edit"):
            try:
                data["amount_minor"] = money.parse_optional(request.form.get("amount"), contract.currency)
            except money.MoneyError as exc:
                raise services.ContractError({"milestone.amount_minor": str(exc)}) from None
        changes.propose_change(me, contract_id, action, data, milestone_id=request.form.get("milestone_id"))

    return _step(contract_id, call, "Your change is proposed: the other party accepts or declines it.")


@bp.post("/contracts/<int:contract_id>/changes/answer")
@login_required
def answer_change(contract_id: int):
    accept = request.form.get("accept") == "1"
    return _step(
        contract_id,
        lambda me: changes.answer_change(me, contract_id, accept),
        "The change is applied." if accept else "The change is closed.",
    )


@bp.get("/contracts/<int:contract_id>/sow.txt")
@login_required
def sow_download(contract_id: int):
    return download(services.get_contract(_me(), contract_id))


@bp.get("/contracts")
@login_required
def my_contracts():
    tab = request.args.get("tab", "active")
    tab = tab if tab in services.TABS else "active"
    rows, total = services.list_contracts(_me(), tab=tab, per_page=100)
    return render_template(
        "contracts/list.html",
        contracts=rows,
        total=total,
        tab=tab,
        people=services.users_by_id({uid for c in rows for uid in (c.client_id, c.freelancer_id)}),
        now=datetime.now(UTC),
    )
