"""Console API of the contracts area under ``/api/v1/console``: contracts (list, detail, the
operator's end) and the milestones of every contract's engagement.

Thin: parse with a schema, call the console action (``actions.py``: the domain rule plus the
audit entry) or a read (``reads.py``), serialize; the request's unit of work commits.
``POST /contracts/{id}/end`` moves money: it honours an ``Idempotency-Key`` header (the same
key and body replay the first answer: the refund happens once). Refusals are domain errors
answered by the central handler in the house shape ``{code, status, message, errors}``: 403
below the admin role for the end, 404 a contract this marketplace does not have (another
marketplace's ids included), 409 a contract that is not active (``errors.current_status``),
422 field errors (``errors.json.reason``, ``errors.query`` for the lists' filters). Nothing
changes on a refused request. Moderators and admins read; only admins end a contract.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView

from app.console.access import ADMIN, MODERATOR, api_console_required, console_user
from app.console.blueprints import blp
from app.console.contracts import actions, reads
from app.console.contracts import schemas as s
from app.core.idempotency import HEADER, idempotent

CONTRACT_ID = "/contracts/<int(max=2147483647):contract_id>"


def _documented(*codes: tuple[int, str]):
    def decorator(view):
        for code, description in codes:
            view = blp.alt_response(code, response="DEFAULT_ERROR", description=description)(view)
        return view

    return decorator


@blp.route("/contracts", endpoint="contracts")
class ConsoleContracts(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(s.ConsoleContractListArgs, location="query")
    @blp.response(200, s.ConsoleContractSchema(many=True))
    @blp.paginate()
    @_documented((422, "Unknown status, an overlong search, or bad days"))
    def get(self, args, pagination_parameters):
        """Every contract of the marketplace in any status, newest first, with its client,
        freelancer, total and money (funded, in escrow, released, refunded): filter by
        `status` and the days it started (`from`, `to`), search with `q` (title words,
        `C-12`, a party's email or name). Paginated (`page`, `page_size`; total in
        `X-Pagination`)."""
        filters = reads.contract_filters(
            args.get("status"), args.get("q"), args.get("date_from"), args.get("date_to")
        )
        rows, total = reads.search_contracts(
            filters, pagination_parameters.page, pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return rows


@blp.route(CONTRACT_ID, endpoint="contract")
class ConsoleContract(MethodView):
    @api_console_required(MODERATOR)
    @blp.response(200, s.ConsoleContractDetailSchema)
    @_documented((404, "No such contract"))
    def get(self, contract_id):
        """A contract with its parties, job, terms, the Statement of Work (hash, whether the
        text still matches it, signatures with time and IP), the engagement's milestones,
        the milestone changes, the engagement's timeline, its ledger transactions with their
        entries, the provider's payments and refunds, and the console's decisions."""
        return reads.contract_detail(contract_id)


@blp.route(f"{CONTRACT_ID}/end", endpoint="contract_end")
class ConsoleContractEnd(MethodView):
    @api_console_required(ADMIN)
    @idempotent
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": HEADER,
                "schema": {"type": "string"},
                "required": False,
                "description": "Retry-safe key: the same key and body replay the first answer (refund once).",
            }
        ]
    )
    @blp.arguments(
        s.ConsoleContractEndSchema,
        example={"reason": "Both parties reported the freelancer's account as compromised."},
    )
    @blp.response(200, s.ConsoleContractDetailSchema)
    @_documented(
        (404, "No such contract"),
        (409, "The contract is not active (`errors.current_status`)"),
        (422, "A reason of under 5 or over 2,000 characters"),
    )
    def post(self, body, contract_id):
        """Admins: end an active contract as the marketplace. Every milestone holding money
        that was not released (funded, submitted, sent back for changes) is refunded to the
        client in full, through the payment provider; unfunded ones are dropped, paid ones
        stay paid. The contract is `completed` if any milestone was paid, else `cancelled`;
        both parties are notified with the reason. Written to the audit log as
        `contract.end`."""
        actions.end_contract(console_user(), contract_id, body["reason"], now=datetime.now(UTC))
        return reads.contract_detail(contract_id)


@blp.route("/milestones", endpoint="milestones")
class ConsoleMilestones(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(s.ConsoleMilestoneListArgs, location="query")
    @blp.response(200, s.ConsoleMilestoneRowSchema(many=True))
    @blp.paginate()
    @_documented((422, "Unknown state, or days outside 0..365"))
    def get(self, args, pagination_parameters):
        """The milestones of every contract's engagement, with their contract and parties:
        filter by `state`, or `due_within` days for submitted work the engine releases on its
        own by then (overdue included, soonest first). With a state, the longest in it come
        first: the queue of stuck money. Paginated."""
        filters = reads.milestone_filters(args.get("state"), args.get("due_within"))
        rows, total = reads.search_milestones(
            filters,
            pagination_parameters.page,
            pagination_parameters.page_size,
            now=datetime.now(UTC),
        )
        pagination_parameters.item_count = total
        return rows
