"""Contracts REST API: hire from a proposal or offer directly, answer the offer, read and sign
the Statement of Work, end the contract, list and read contracts.

Thin: parse with a schema, call one service of ``app.contracts.services``, serialize; the
request's unit of work commits. The money of an active contract moves on its engagement's
milestones with the orders API (``/orders/{order_id}/milestones/{id}/fund|submit|accept|
request-changes``, each with ``Idempotency-Key``), and a split is proposed with
``/orders/{order_id}/cancellation``: one money path for gig offers and contracts. Refusals:
403 the other party's step, 404 unknown or not yours, 409 not possible in the current status
(``errors.current_status``), 422 field errors.
"""

from __future__ import annotations

from flask import Response, g, request
from flask.views import MethodView

from app.accounts import tokens
from app.contracts import changes, schemas, services
from app.contracts import sow as statements
from app.core.api import Blueprint
from app.core.http import LOCATION, created

blp = Blueprint(
    "contracts_api",
    __name__,
    url_prefix="/api/v1",
    description="Contracts: the client hires from a proposal (or offers directly), the freelancer "
    "accepts, both sign the Statement of Work, and the work is paid milestone by milestone "
    "through the contract's engagement (`order_id`, the orders API's milestone steps). "
    "Amounts are integer minor units.",
)

CONTRACT_ID = "/contracts/<int(max=2147483647):contract_id>"
DESCRIPTIONS = {
    403: "The other party's step",
    404: "Not found (or not yours)",
    409: "Not possible in the current status (named in the message and errors.current_status)",
    422: "Invalid fields (errors.json.<field>)",
}


auth_required = tokens.api_auth(blp, DESCRIPTIONS)


def detail(contract):
    """The contract with its engagement's milestones, money, SoW and the caller's actions."""
    order = services.engagement(contract)
    contract.milestones = list(order.milestones) if order is not None else []
    contract.money = services.money_of(contract)
    sow = statements.statement_of(contract)
    if sow is not None:
        sow.signatures = statements.signatures(sow)
    contract.sow = sow
    contract.changes = services.changes_of(contract)
    contract.actions = services.actions(contract, g.api_user)
    return contract


def _mine(contract_id):
    return services.get_contract(g.api_user, contract_id)


EXAMPLE_TERMS = {
    "scope": "Build the booking MVP described in the job: calendar, payments, reminders.",
    "milestones": [
        {"title": "Design and data model", "amount_minor": 150000, "due_date": None, "dod": ["ERD reviewed"]},
        {"title": "Working MVP", "amount_minor": 350000, "due_date": None, "dod": ["Deployed to staging"]},
    ],
    "total_minor": 500000,
    "nda": False,
    "ip_assignment": True,
    "message": "Looking forward to working with you.",
}


@blp.route("/proposals/<int(max=2147483647):proposal_id>/hire")
class Hire(MethodView):
    @auth_required(403, 404, 409, 422)
    @blp.arguments(schemas.HireSchema, example=EXAMPLE_TERMS)
    @blp.response(201, schemas.ContractDetailSchema, headers=LOCATION)
    def post(self, body, proposal_id):
        """The job's client offers a contract to a proposal's freelancer, with the terms
        (milestones summing to the total; due dates today or later). The freelancer accepts or
        declines; 409 when the job is not open or an offer to this proposal is already open."""
        contract = detail(services.offer_from_proposal(g.api_user, proposal_id, body))
        return created(contract, "contracts_api.ContractResource", contract_id=contract.id)


@blp.route("/contracts")
class Contracts(MethodView):
    @auth_required(422)
    @blp.arguments(schemas.ContractListArgs, location="query")
    @blp.response(200, schemas.ContractSchema(many=True))
    @blp.paginate(keyset=("created_at", "id"), created=True)
    def get(self, args, pagination_parameters):
        """Your contracts (as client and as freelancer; `role` narrows it), newest first.
        `tab`: offers, active (awaiting signatures or active), ended; or one `status`."""
        rows, total = services.list_contracts(
            g.api_user,
            role=args["role"],
            tab=args["tab"],
            status=args["status"],
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
            window=pagination_parameters,
        )
        pagination_parameters.item_count = total
        return rows

    @auth_required(403, 404, 409, 422)
    @blp.arguments(
        schemas.DirectOfferSchema, example={"freelancer_id": 7, "title": "Landing page", **EXAMPLE_TERMS}
    )
    @blp.response(201, schemas.ContractDetailSchema, headers=LOCATION)
    def post(self, body):
        """A direct offer to a freelancer (optionally for one of your open jobs)."""
        contract = detail(
            services.direct_offer(g.api_user, body.pop("freelancer_id"), body, job_id=body.pop("job_id"))
        )
        return created(contract, "contracts_api.ContractResource", contract_id=contract.id)


@blp.route(CONTRACT_ID)
class ContractResource(MethodView):
    @auth_required(404)
    @blp.response(200, schemas.ContractDetailSchema)
    def get(self, contract_id):
        """A contract you are a party to: terms, SoW with signatures, milestones and money."""
        return detail(_mine(contract_id))


def _step(path: str, name: str, schema, example: dict | None, doc: str, call, codes=(403, 404, 409, 422)):
    class Step(MethodView):
        @auth_required(*codes)
        @blp.arguments(schema, example=example)
        @blp.response(200, schemas.ContractDetailSchema)
        def post(self, body, contract_id):
            return detail(call(g.api_user, contract_id, body))

    Step.post.__doc__ = doc
    Step.__name__ = f"Contract{name.title().replace('_', '')}"
    blp.route(f"{CONTRACT_ID}/{path}", endpoint=f"contract_{name}")(Step)


class NoBody(schemas.Schema):
    """No fields: the step needs none."""

    pass


_step(
    "accept",
    "accept",
    NoBody,
    {},
    "The freelancer accepts the offer: the Statement of Work is generated for both to sign, the "
    "job is filled and its other offers withdrawn. 409 when expired or no longer offered.",
    lambda user, cid, body: services.accept_offer(user, cid),
)
_step(
    "decline",
    "decline",
    schemas.DeclineSchema,
    {"reason": "I am fully booked this month."},
    "The freelancer declines the offer (optional reason).",
    lambda user, cid, body: services.decline_offer(user, cid, body["reason"]),
)
_step(
    "withdraw",
    "withdraw",
    NoBody,
    {},
    "The client withdraws the offer before the freelancer answers.",
    lambda user, cid, body: services.withdraw_offer(user, cid),
)


def _then_contract(user, cid, _done):
    return services.get_contract(user, cid)


def _sign(user, cid, body):
    services.sign(
        user,
        cid,
        body["typed_name"],
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )
    return services.get_contract(user, cid)


_step(
    "sow/sign",
    "sign",
    schemas.SignSchema,
    {"typed_name": "Ada Lovelace"},
    "Sign the Statement of Work by typing your name as it is on your account (recorded with the "
    "time and IP). The second signature activates the contract: its engagement opens "
    "(`order_id`) with milestone 1 waiting for the client's funding.",
    _sign,
)
_step(
    "end",
    "end",
    schemas.EndSchema,
    {"reason": "The project is done."},
    "End the contract. Funded milestones not yet submitted are refunded to the client, unfunded "
    "ones dropped; the contract is completed if any milestone was paid, else cancelled. 409 "
    "`work_under_review` while submitted work waits for the client: accept it, or propose a "
    "split with `/orders/{order_id}/cancellation`.",
    lambda user, cid, body: services.end_contract(user, cid, body["reason"]),
)


_step(
    "changes",
    "change",
    schemas.ChangeInputSchema,
    {
        "action": "add",
        "title": "Admin dashboard",
        "amount_minor": 80000,
        "dod": ["Roles work"],
        "note": "As agreed",
    },
    "Propose a change to the milestones: `add` one, or `edit` / `remove` one not funded yet "
    "(`milestone_id`). The other party accepts or declines; one proposal at a time (409 while one waits).",
    lambda user, cid, body: _then_contract(
        user,
        cid,
        changes.propose_change(user, cid, body.pop("action"), body, milestone_id=body.pop("milestone_id")),
    ),
)
_step(
    "changes/answer",
    "change_answer",
    schemas.AnswerSchema,
    {"accept": True},
    "Accept (the change is applied) or decline the other party's pending change; `accept: false` "
    "by its proposer withdraws it.",
    lambda user, cid, body: _then_contract(user, cid, changes.answer_change(user, cid, body["accept"])),
)


@blp.route(f"{CONTRACT_ID}/sow")
class Sow(MethodView):
    @auth_required(404, 409)
    @blp.response(200, schemas.SowSchema)
    def get(self, contract_id):
        """The Statement of Work (after the freelancer accepted) with its hash and signatures."""
        contract = _mine(contract_id)
        sow = statements.statement_of(contract)
        if sow is None:
            raise services.ContractStateError(
                "There is no Statement of Work until the freelancer accepts the offer.",
                extra={"current_status": contract.status},
            )
        sow.signatures = statements.signatures(sow)
        return sow


@blp.route(f"{CONTRACT_ID}/sow/download")
class SowDownload(MethodView):
    @auth_required(404, 409)
    @blp.response(200, content_type="text/plain", description="The signed SoW as a text file.")
    def get(self, contract_id):
        """The SoW as a text file with the signatures and its SHA-256."""
        contract = _mine(contract_id)
        return download(contract)


def download(contract) -> Response:
    body = services.signed_document(contract)
    return Response(
        body,
        mimetype="text/plain",
        headers={"Content-Disposition": f'attachment; filename="sow-{contract.number}.txt"'},
    )
