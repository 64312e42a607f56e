"""Console pages of the contracts area: every contract (filters, search, money), a contract's
page (parties, job, terms, the SoW with its hash and signatures, milestones, milestone
changes, the engagement's timeline and ledger, the operator's "End the contract"), and the
milestones of every contract's engagement (the queue of stuck money).

Thin: parse the form, call the console action (``actions.py``) or a read (``reads.py``),
redirect; the request's unit of work commits. Moderators and admins read; only admins end a
contract. The end moves money: it asks for confirmation first (``confirmation_required``,
the dialog with JavaScript), its form carries ``idempotency_field()`` and the view is
``@idempotent`` (a double click refunds once). A refusal shows the page again with the
message on the form (``refuse_form``, which drops the request's work) and the refusal's
status; unknown ids are 404 pages.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, request, url_for

from app.console.access import ADMIN, MODERATOR, console_required, console_user
from app.console.blueprints import bp
from app.console.contracts import actions, reads
from app.console.contracts.forms import ContractFilterForm, EndContractForm, MilestoneFilterForm
from app.console.errors import ConsoleInputError
from app.core import money, unit_of_work
from app.core.confirm import Confirmation, confirmation_required
from app.core.domain_errors import DomainError, refuse_form
from app.core.idempotency import idempotent

MAX_ID = "int(max=2147483647)"


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


@bp.app_template_global()
def console_contract_status(status: str) -> tuple[str, str]:
    """``(label, badge class)`` of a contract status, for the console's pages."""
    return reads.status_label(status), reads.STATUS_BADGES.get(status, "")


@bp.app_template_global()
def console_milestone_state(status: str) -> tuple[str, str]:
    """``(label, badge class)`` of a milestone state, for the console's pages."""
    return reads.milestone_label(status), reads.MILESTONE_BADGES.get(status, "")


# --------------------------------------------------------------------------- every contract


@bp.get("/contracts", endpoint="contracts")
@console_required(MODERATOR)
def contract_list():
    """Every contract in any status: filter by status and the days it started, search."""
    form = ContractFilterForm(formdata=request.args)
    loose: list[str] = []
    try:
        filters = reads.contract_filters(
            form.status.data, form.q.data, form.date_from.data, form.date_to.data
        )
    except ConsoleInputError as exc:
        filters, loose = None, refuse_form(exc, form)
    page = _page_arg()
    rows, total = reads.search_contracts(filters, page) if filters is not None else ([], 0)
    return render_template(
        "console/contracts.html",
        form=form,
        loose_errors=loose,
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total, reads.CONTRACT_PAGE_SIZE),
        args=filters.as_args() if filters is not None else {},
        counts=reads.status_counts(),
        invalid=filters is None,
    ), (422 if filters is None else 200)


# --------------------------------------------------------------------------- one contract


def _render_contract(contract_id: int, form: EndContractForm | None = None, loose=None, status: int = 200):
    detail = reads.contract_detail(contract_id)  # an unknown contract is a 404 page
    return render_template(
        "console/contract.html",
        d=detail,
        contract=detail.contract,
        form=form or EndContractForm(formdata=None),
        loose_errors=loose or [],
        can_end=console_user().role == ADMIN,
    ), status


@bp.get(f"/contracts/<{MAX_ID}:contract_id>")
@console_required(MODERATOR)
def contract(contract_id: int):
    """A contract: parties, job, terms, SoW, milestones, changes, timeline, ledger, history."""
    return _render_contract(contract_id)


def _confirm_end(contract_id: int) -> Confirmation:
    current = reads.get_contract(contract_id)  # an unknown contract: 404, nothing to ask
    held = reads.money_by_contract([current])[current.id].in_escrow_minor
    return Confirmation(
        f"End contract {current.number}?",
        f"{money.format(held, current.currency)} in escrow goes back to the client through the payment "
        "provider, submitted work included; unfunded milestones are dropped. Both parties are told "
        "your reason. This cannot be undone.",
        "End the contract",
        url_for("console.contract", contract_id=contract_id),
    )


@bp.post(f"/contracts/<{MAX_ID}:contract_id>/end")
@console_required(ADMIN)
@confirmation_required(_confirm_end)
@idempotent
def end_contract(contract_id: int):
    form = EndContractForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        unit_of_work.abandon()  # not stored by @idempotent either: the corrected form can be sent
        return _render_contract(contract_id, form, status=422)
    try:
        done, refunded = actions.end_contract(
            console_user(), contract_id, form.reason.data, now=datetime.now(UTC)
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        loose = refuse_form(exc, form)
        return _render_contract(contract_id, form, loose, status=exc.status)
    flash(
        f"Contract {done.number} is ended ({reads.status_label(done.status).lower()}); "
        + (
            f"{money.format(refunded, done.currency)} goes back to the client. "
            if refunded
            else "no money was held in escrow. "
        )
        + "Both parties are told why.",
        "success",
    )
    return redirect(url_for("console.contract", contract_id=contract_id), 303)


# --------------------------------------------------------------------------- milestones


@bp.get("/milestones", endpoint="milestones")
@console_required(MODERATOR)
def milestone_list():
    """Milestones of every contract's engagement by state, or due for auto-release."""
    form = MilestoneFilterForm(formdata=request.args)
    loose: list[str] = []
    try:
        filters = reads.milestone_filters(form.state.data, form.due_within.data)
    except ConsoleInputError as exc:
        filters, loose = None, refuse_form(exc, form)
    page = _page_arg()
    rows, total = (
        reads.search_milestones(filters, page, now=datetime.now(UTC)) if filters is not None else ([], 0)
    )
    return render_template(
        "console/milestones.html",
        form=form,
        loose_errors=loose,
        rows=rows,
        total=total,
        page=page,
        pages=_pages(total, reads.MILESTONE_PAGE_SIZE),
        args=filters.as_args() if filters is not None else {},
        counts=reads.milestone_state_counts(),
        invalid=filters is None,
    ), (422 if filters is None else 200)
