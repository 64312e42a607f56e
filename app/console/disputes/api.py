"""Console API of the disputes area under ``/api/v1/console``: the queue, a dispute's case,
the operator's steps, the dispute settings and the experts.

Thin: parse with a schema, call the console action (``actions.py``: the domain rule plus the
audit entry) or a read (``reads.py``), serialize; the request's unit of work commits. Every
step answers the case as it is after the step. ``POST /disputes/{id}/decision`` moves money
and ``/dismiss`` ends the dispute: both honour an ``Idempotency-Key`` header (the same key
and body replay the first answer). Refusals are domain errors answered by the central
handler in the house shape ``{code, status, message, errors}``: 403 below the role a step
needs (a moderator's decision included), 404 a dispute this marketplace does not have
(another marketplace's ids included), 409 a step the dispute's stage does not allow
(``errors.current_status``), 422 field errors (``errors.json``; ``errors.query`` for the
queue's filters). Nothing changes on a refused request.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView

from app.console.access import ADMIN, MODERATOR, api_console_required, console_user
from app.console.blueprints import blp
from app.console.disputes import actions, reads
from app.console.disputes import schemas as s
from app.core.http import LOCATION, created
from app.core.idempotency import HEADER, idempotent
from app.disputes import admin as dispute_admin

DISPUTE_ID = "/disputes/<int(max=2147483647):dispute_id>"
IDEMPOTENCY_DOC = {
    "parameters": [
        {
            "in": "header",
            "name": HEADER,
            "schema": {"type": "string"},
            "required": False,
            "description": "Retry-safe key: the same key and body replay the first answer (it happens once).",
        }
    ]
}


def _now() -> datetime:
    return datetime.now(UTC)


def _documented(*codes: tuple[int, str]):
    def decorator(view):
        for code, description in codes:
            view = blp.alt_response(code, response="DEFAULT_ERROR", description=description)(view)
        return view

    return decorator


def _case(dispute_id: int):
    return reads.dispute_detail(dispute_id, now=_now())


STEP_ERRORS = (
    (404, "No such dispute"),
    (409, "Not possible at the dispute's stage (`errors.current_status`)"),
    (422, "Bad fields (`errors.json`)"),
)


@blp.route("/disputes", endpoint="disputes")
class ConsoleDisputes(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(s.ConsoleDisputeListArgs, location="query")
    @blp.response(200, s.ConsoleDisputeSchema(many=True))
    @blp.paginate()
    @_documented((422, "Unknown status, stage, mediator or sort; bad days or search"))
    def get(self, args, pagination_parameters):
        """The disputes of the marketplace: filter by `status`, `stage` (open ones at that
        rung), `mediator` (`mine`, `unassigned`), `older_than` days and the days opened
        (`from`, `to`), search with `q`; `sort` by `age` (oldest first, the default) or
        `deadline` (soonest first). Each row has its parties, amount, stage, age, deadline
        and mediator. Paginated (`page`, `page_size`; total in `X-Pagination`)."""
        filters = reads.dispute_filters(
            args.get("status"),
            args.get("stage"),
            args.get("mediator"),
            args.get("older_than"),
            args.get("sort"),
            args.get("q"),
            args.get("date_from"),
            args.get("date_to"),
        )
        rows, total = reads.search_disputes(
            filters, console_user(), pagination_parameters.page, pagination_parameters.page_size, now=_now()
        )
        pagination_parameters.item_count = total
        return rows


@blp.route(DISPUTE_ID, endpoint="dispute")
class ConsoleDispute(MethodView):
    @api_console_required(MODERATOR)
    @blp.response(200, s.ConsoleDisputeCaseSchema)
    @_documented((404, "No such dispute"))
    def get(self, dispute_id):
        """A dispute's case: the dispute (statement, amount, stage, deadline, mediator,
        expert, outcome), the order or contract milestone with its timeline, deliveries and
        conversation, the evidence (files with signed links), the proposals, the dispute's
        timeline with its messages, and the console's decisions."""
        return _case(dispute_id)


@blp.route(f"{DISPUTE_ID}/assign", endpoint="dispute_assign")
class ConsoleDisputeAssign(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(s.ConsoleDisputeAssignSchema, example={"mediator_id": None})
    @blp.response(200, s.ConsoleDisputeCaseSchema)
    @_documented(*STEP_ERRORS)
    def post(self, body, dispute_id):
        """Assign the mediator: a moderator or admin (`mediator_id`), the caller by default.
        Audited as `dispute.assign`."""
        actions.assign(console_user(), dispute_id, body.get("mediator_id"), now=_now())
        return _case(dispute_id)


@blp.route(f"{DISPUTE_ID}/messages", endpoint="dispute_message")
class ConsoleDisputeMessage(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(s.ConsoleDisputeMessageInSchema)
    @blp.response(200, s.ConsoleDisputeCaseSchema)
    @_documented(*STEP_ERRORS)
    def post(self, body, dispute_id):
        """Write to both parties inside the dispute (an open one). Audited as `dispute.message`."""
        actions.message(console_user(), dispute_id, body["body"], now=_now())
        return _case(dispute_id)


@blp.route(f"{DISPUTE_ID}/proposals", endpoint="dispute_proposal")
class ConsoleDisputeProposal(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(s.ConsoleDisputeProposalInSchema)
    @blp.response(200, s.ConsoleDisputeCaseSchema)
    @_documented(*STEP_ERRORS)
    def post(self, body, dispute_id):
        """The mediator proposes a resolution during mediation: `refund_minor` back to the
        buyer and `release_minor` to the seller, adding up to what is held. Both parties must
        accept it; a refusal sends the dispute to an admin. Audited as `dispute.propose`."""
        actions.propose(
            console_user(),
            dispute_id,
            body["refund_minor"],
            body["release_minor"],
            body["message"],
            now=_now(),
        )
        return _case(dispute_id)


@blp.route(f"{DISPUTE_ID}/expert", endpoint="dispute_expert")
class ConsoleDisputeExpert(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(s.ConsoleDisputeExpertSchema)
    @blp.response(200, s.ConsoleDisputeCaseSchema)
    @_documented(*STEP_ERRORS)
    def post(self, body, dispute_id):
        """Ask an appointed expert for a written assessment (mediation -> expert review;
        only where the marketplace's settings allow expert review: 409 `expert_review_off`
        otherwise). Audited as `dispute.expert_request`."""
        actions.request_expert(console_user(), dispute_id, body["expert_id"], body["question"], now=_now())
        return _case(dispute_id)


@blp.route(f"{DISPUTE_ID}/hand-over", endpoint="dispute_hand_over")
class ConsoleDisputeHandOver(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(s.ConsoleDisputeHandOverSchema)
    @blp.response(200, s.ConsoleDisputeCaseSchema)
    @_documented(*STEP_ERRORS)
    def post(self, body, dispute_id):
        """Hand the dispute to an admin's decision (from mediation or expert review).
        Audited as `dispute.hand_over`."""
        actions.hand_over(console_user(), dispute_id, body.get("note", ""), now=_now())
        return _case(dispute_id)


@blp.route(f"{DISPUTE_ID}/decision", endpoint="dispute_decision")
class ConsoleDisputeDecision(MethodView):
    @api_console_required(ADMIN)
    @idempotent
    @blp.doc(**IDEMPOTENCY_DOC)
    @blp.arguments(
        s.ConsoleDisputeDecisionSchema,
        example={"refund_minor": 3000, "release_minor": 2000, "reason": "Half the logos were delivered."},
    )
    @blp.response(200, s.ConsoleDisputeCaseSchema)
    @_documented(*STEP_ERRORS)
    def post(self, body, dispute_id):
        """Admins: the final decision, once self-resolution is over. `refund_minor` goes
        back to the buyer and `release_minor` to the seller (the commission is taken on the
        released part only); they must add up to `amount_minor` (422 `split_mismatch`
        otherwise: negative, another currency, or another sum). The money moves now, once:
        a second decision is a 409. Audited as `dispute.decide`."""
        actions.decide(
            console_user(),
            dispute_id,
            body["refund_minor"],
            body["release_minor"],
            body["reason"],
            currency=body.get("currency"),
            now=_now(),
        )
        return _case(dispute_id)


@blp.route(f"{DISPUTE_ID}/dismiss", endpoint="dispute_dismiss")
class ConsoleDisputeDismiss(MethodView):
    @api_console_required(ADMIN)
    @idempotent
    @blp.doc(**IDEMPOTENCY_DOC)
    @blp.arguments(s.ConsoleDisputeDismissSchema)
    @blp.response(200, s.ConsoleDisputeCaseSchema)
    @_documented(*STEP_ERRORS)
    def post(self, body, dispute_id):
        """Admins: dismiss the dispute. Nothing moves: the milestone goes back to the state
        the dispute found it in. Audited as `dispute.dismiss`."""
        actions.dismiss(console_user(), dispute_id, body["reason"], now=_now())
        return _case(dispute_id)


@blp.route("/dispute-settings", endpoint="dispute_settings")
class ConsoleDisputeSettings(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.ConsoleDisputeSettingsSchema)
    def get(self):
        """Admins: the dispute ladder's settings."""
        return dispute_admin.settings_values()

    @api_console_required(ADMIN)
    @blp.arguments(s.ConsoleDisputeSettingsSchema)
    @blp.response(200, s.ConsoleDisputeSettingsSchema)
    @_documented((422, "A number of days out of its range, or an overlong fee rule"))
    def put(self, body):
        """Admins: replace the dispute settings: the days of self-resolution (1-30), of the
        other side's time to answer (1-30), of mediation (1-60) and of expert review (1-60),
        whether mediators may ask an expert, and the expert fee rule. New deadlines apply to
        stages that start from now on. Audited as `disputes.settings.update`."""
        row, _changes = actions.update_settings(console_user(), body)
        return dispute_admin.settings_values(row)


@blp.route("/dispute-experts", endpoint="dispute_experts")
class ConsoleDisputeExperts(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.ConsoleDisputeExpertRowSchema(many=True))
    @blp.paginate_list()
    def get(self):
        """Admins: the appointed experts."""
        return dispute_admin.list_experts()

    @api_console_required(ADMIN)
    @blp.arguments(
        s.ConsoleDisputeExpertInSchema, example={"email": "eve@example.com", "field": "Brand design"}
    )
    @blp.response(201, s.ConsoleDisputeExpertRowSchema, headers=LOCATION)
    @_documented((422, "No active member with this email, an expert already, or an overlong field"))
    def post(self, body):
        """Admins: appoint a member as an expert reviewer. Audited as `dispute_expert.appoint`."""
        expert = actions.appoint_expert(console_user(), body["email"], body.get("field", ""), now=_now())
        return created(expert, "console_api.dispute_experts")  # the list of experts


@blp.route("/dispute-experts/<int(max=2147483647):user_id>", endpoint="dispute_expert_remove")
class ConsoleDisputeExpertRemove(MethodView):
    @api_console_required(ADMIN)
    @blp.response(204)
    @_documented((404, "Not an expert"))
    def delete(self, user_id):
        """Admins: remove an expert. Audited as `dispute_expert.remove`."""
        actions.remove_expert(console_user(), user_id)
