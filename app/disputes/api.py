"""Disputes REST API for the parties (``/api/v1/disputes``): open a dispute on an order's or a
milestone's escrow, add evidence (JSON notes, links, quoted messages and the Definition of
Done; multipart files), write in the dispute, make and answer proposals, ask the marketplace
to mediate, withdraw; the expert asked on a dispute sends their assessment.

Thin: parse with a schema, call one service of ``app.disputes.services``, serialize; the
request's unit of work commits. Every mutating call honours an ``Idempotency-Key`` header
(``app/core/idempotency``): the same key and body replay the first answer. Refusals: 403 a
step that is not yours (accepting your own proposal, withdrawing the other side's dispute),
404 unknown or not yours (the same for another tenant's ids), 409 not possible now (the
dispute's stage or status in ``errors.current_status``, ``errors.code`` such as
``not_disputable``, ``dispute_open``, ``proposal_closed``), 422 field errors in
``errors.json.<field>`` (``errors.code`` ``split_mismatch`` for amounts that do not add up to
what is held, are negative or in another currency). The operators' side is the console API.
"""

from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import ValidationError

from app.accounts import tokens
from app.core.api import Blueprint
from app.core.http import LOCATION, created
from app.disputes import schemas, services
from app.disputes.services import MAX_FILES
from app.storage.uploads import read_uploads

blp = Blueprint(
    "disputes_api",
    __name__,
    url_prefix="/api/v1",
    description="Disputes (the resolution centre): a party of a paid order or a funded milestone "
    "opens a dispute and its escrow is locked until it ends; both add evidence, exchange "
    "proposals (release all, refund all or a split), and may ask the marketplace to mediate. "
    "Amounts are integer minor units. Mutating calls accept an `Idempotency-Key` header.",
)

DISPUTE_ID = "/disputes/<int(max=2147483647):dispute_id>"
DESCRIPTIONS = {
    403: "Not your step (named in the message)",
    404: "Not found (or not yours)",
    409: "Not possible at the dispute's stage or status (errors.current_status, errors.code)",
    413: "The request body is larger than the files allowed",
    422: "Invalid fields (errors.json.<field>; errors.code)",
}

auth_required = tokens.api_auth(blp, DESCRIPTIONS)


def _with_urls(rows):
    for row in rows:
        row.download_url = services.evidence_url(row)
    return rows


def summary(d):
    d.next_step = services.next_step(g.api_user, d)
    return d


def detail(d):
    """The dispute with its evidence (signed file URLs), proposals and timeline."""
    summary(d)
    d.evidence = _with_urls(services.evidence_of(d))
    d.proposals = services.proposals_of(d)
    d.timeline = services.timeline(d)
    return d


def _mine(dispute_id):
    return services.get_dispute(g.api_user, dispute_id)


def _fresh(dispute_id):
    """The dispute as it is after a step (for the answer)."""
    return detail(_mine(dispute_id))


EXAMPLE_OPEN = {
    "order_id": 42,
    "milestone_id": None,
    "reason": "not_as_described",
    "statement": "The logo has two colours; we agreed on one. I asked twice for the fix.",
}


@blp.route("/disputes")
class Disputes(MethodView):
    @auth_required(422)
    @blp.arguments(schemas.DisputeListArgs, location="query")
    @blp.response(200, schemas.DisputeSchema(many=True))
    @blp.paginate(keyset=("id",), created=True)
    def get(self, args, pagination_parameters):
        """Your disputes (as buyer or seller), newest first, each with its next step.
        `status`: `open` or `closed`. Paginated with `limit` and `cursor`."""
        rows, total = services.list_for_user(
            g.api_user,
            status=args["status"],
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
            window=pagination_parameters,
        )
        pagination_parameters.item_count = total
        return [summary(d) for d in rows]

    @auth_required(404, 409, 422, mutating=True)
    @blp.arguments(schemas.OpenDisputeSchema, example=EXAMPLE_OPEN)
    @blp.response(201, schemas.DisputeDetailSchema, headers=LOCATION)
    def post(self, body):
        """Open a dispute about the money of your paid order (a gig order's only milestone) or of
        one funded, submitted or sent-back milestone (`milestone_id`) of a contract or offer.
        Its escrow is locked at once: no completion, release, refund or payout until it ends.
        The other side has the marketplace's answer time to respond, or it resolves for you.
        404 not your order; 409 `not_disputable` (unpaid, released, refunded, finished) or
        `dispute_open` (one is open on this money)."""
        d = services.open_dispute(
            g.api_user, body["order_id"], body["reason"], body["statement"], milestone_id=body["milestone_id"]
        )
        return created(detail(d), "disputes_api.DisputeResource", dispute_id=d.id)


@blp.route("/timesheets/<int(max=2147483647):timesheet_id>/dispute")
class TimesheetDispute(MethodView):
    @auth_required(404, 409, 422, mutating=True)
    @blp.arguments(
        schemas.OpenTimesheetDisputeSchema,
        example={
            "reason": EXAMPLE_OPEN["reason"],
            "statement": "I was billed for hours nobody worked: no commits on Thursday or Friday.",
        },
    )
    @blp.response(201, schemas.DisputeDetailSchema, headers=LOCATION)
    def post(self, body, timesheet_id):
        """Dispute an hourly week you have not approved yet (the client): the week is charged to
        your saved card into escrow and held, and a dispute opens on that money. 404 not your
        timesheet; 409 not waiting for your review, or `payment_failed` (the card was declined:
        nothing is recorded; update the card and try again)."""
        d = services.open_timesheet_dispute(g.api_user, timesheet_id, body["reason"], body["statement"])
        return created(detail(d), "disputes_api.DisputeResource", dispute_id=d.id)


@blp.route(DISPUTE_ID)
class DisputeResource(MethodView):
    @auth_required(404)
    @blp.response(200, schemas.DisputeDetailSchema)
    def get(self, dispute_id):
        """A dispute you are a party to (or the expert asked on it): stage, deadline, evidence
        with signed file URLs, proposals and the timeline (messages included)."""
        return detail(_mine(dispute_id))


EVIDENCE_BODY = {
    "content": {
        "application/json": {
            "schema": schemas.DisputeEvidenceInputSchema,
            "example": {"kind": "link", "url": "https://github.com/acme/app/pull/7", "text": "The fix"},
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "files": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "minItems": 1,
                        "maxItems": MAX_FILES,
                        "description": "One part per file (a single part may also be named `file`).",
                    },
                    "text": {"type": "string", "maxLength": 5000, "description": "What they show."},
                },
                "required": ["files"],
            }
        },
    }
}


@blp.route(f"{DISPUTE_ID}/evidence")
class Evidence(MethodView):
    @auth_required(404)
    @blp.response(200, schemas.DisputeEvidenceSchema(many=True))
    @blp.paginate_list()
    def get(self, dispute_id):
        """The dispute's evidence, oldest first, attributed and timestamped (files with signed
        download URLs valid one hour). Evidence is append-only: never changed or removed."""
        return _with_urls(services.evidence_of(_mine(dispute_id)))

    @auth_required(404, 409, 413, 422, mutating=True)
    @blp.doc(requestBody=EVIDENCE_BODY)
    @blp.response(201, schemas.DisputeEvidenceSchema(many=True), headers=LOCATION)
    def post(self, dispute_id):
        """Add evidence to an open dispute. JSON: `note` (`text`), `link` (`url`, optional
        `text`), `message` (`message_id` of the order's conversation, quoted as it is now) or
        `dod` (the milestone's Definition-of-Done checklist; 422 `no_dod` without one), `pr`
        (`pull_request_id`) or `ci` (`ci_run_id`) of the contract's linked repositories.
        Multipart: `files` (up to 5; PDF, images, ZIP, CSV, text, Markdown, Word, Excel, checked
        by content) and an optional `text`. Answers the new pieces. 409 once the dispute ended."""
        if request.mimetype == "multipart/form-data":
            limit = int(current_app.config["JOB_ATTACHMENT_MAX_BYTES"])
            files = read_uploads(request.files.getlist("files") + request.files.getlist("file"), limit)
            rows = services.add_evidence(
                g.api_user, dispute_id, "file", text=request.form.get("text", ""), files=files
            )
        else:
            payload = request.get_json(silent=True)
            if not isinstance(payload, dict):
                abort(422, message='Send JSON {"kind": ...} or multipart `files`.')
            try:
                body = schemas.DisputeEvidenceInputSchema.shared().load(payload)
            except ValidationError as exc:
                abort(422, message="The request has invalid fields.", errors={"json": exc.messages})
            rows = services.add_evidence(
                g.api_user,
                dispute_id,
                body["kind"],
                text=body["text"],
                url=body["url"],
                message_id=body["message_id"],
                pull_request_id=body["pull_request_id"],
                ci_run_id=body["ci_run_id"],
            )
        return created(_with_urls(rows), "disputes_api.Evidence", dispute_id=dispute_id)


@blp.route(f"{DISPUTE_ID}/messages")
class Messages(MethodView):
    @auth_required(404, 409, 422, mutating=True)
    @blp.arguments(schemas.DisputeMessageInputSchema, example={"body": "I can fix the colour by Friday."})
    @blp.response(201, schemas.DisputeEventSchema, headers=LOCATION)
    def post(self, body, dispute_id):
        """Write in the dispute: both parties and the marketplace's mediator read it (it is on
        the timeline, kind `message`)."""
        event = services.post_message(g.api_user, dispute_id, body["body"])
        return created(event, "disputes_api.DisputeResource", dispute_id=dispute_id)  # on its timeline


@blp.route(f"{DISPUTE_ID}/proposals")
class Proposals(MethodView):
    @auth_required(404)
    @blp.response(200, schemas.DisputeProposalSchema(many=True))
    @blp.paginate_list()
    def get(self, dispute_id):
        """Every proposal of the dispute, oldest first, with its status and answers."""
        return services.proposals_of(_mine(dispute_id))

    @auth_required(404, 409, 422, mutating=True)
    @blp.arguments(
        schemas.DisputeProposalInputSchema,
        example={"refund_minor": 4000, "release_minor": 6000, "message": "60/40 for the work done."},
    )
    @blp.response(201, schemas.DisputeProposalSchema, headers=LOCATION)
    def post(self, body, dispute_id):
        """Propose a way out: `refund_minor` back to the buyer and `release_minor` to the seller,
        adding up to the dispute's `amount_minor` (release all, refund all, or a split). Your
        earlier open proposal is superseded. In self-resolution and mediation only (409 after).
        422 `split_mismatch` when the amounts do not add up or the currency is not the dispute's."""
        proposal = services.propose(
            g.api_user,
            dispute_id,
            body["refund_minor"],
            body["release_minor"],
            body["message"],
            currency=body["currency"],
        )
        return created(proposal, "disputes_api.Proposals", dispute_id=dispute_id)


@blp.route(f"{DISPUTE_ID}/proposals/<int(max=2147483647):proposal_id>/answer")
class ProposalAnswer(MethodView):
    @auth_required(403, 404, 409, 422, mutating=True)
    @blp.arguments(schemas.DisputeAnswerInputSchema, example={"accept": True})
    @blp.response(200, schemas.DisputeDetailSchema)
    def post(self, body, dispute_id, proposal_id):
        """Accept or decline the other side's proposal (accepting resolves the dispute and moves
        the money now, once), or the mediator's (resolved once both accept; a refusal sends it to
        an admin's decision). `accept: false` on your own proposal withdraws it; accepting your
        own is a 403. 409 `proposal_closed` when it is no longer open."""
        services.answer_proposal(g.api_user, dispute_id, proposal_id, body["accept"])
        return _fresh(dispute_id)


def _step(path: str, name: str, schema, example: dict, doc: str, call, codes=(404, 409, 422)):
    class Step(MethodView):
        @auth_required(*codes, mutating=True)
        @blp.arguments(schema, example=example)
        @blp.response(200, schemas.DisputeDetailSchema)
        def post(self, body, dispute_id):
            call(g.api_user, dispute_id, body)
            return _fresh(dispute_id)

    Step.post.__doc__ = doc
    Step.__name__ = f"Dispute{name.title().replace('_', '')}"
    blp.route(f"{DISPUTE_ID}/{path}", endpoint=f"dispute_{name}")(Step)


_step(
    "escalate",
    "escalate",
    schemas.DisputeEscalateInputSchema,
    {"reason": "We cannot agree on the colours."},
    "Ask the marketplace to mediate (self-resolution -> mediation): a moderator reads the case "
    "and writes to both parties. 409 when not in self-resolution.",
    lambda user, did, body: services.escalate(user, did, body["reason"]),
)
_step(
    "withdraw",
    "withdraw",
    schemas.DisputeNoBody,
    {},
    "The side that opened the dispute withdraws it: dismissed, nothing moves, the money goes back "
    "to where it was. 403 for the other side; 409 once it ended.",
    lambda user, did, body: services.withdraw(user, did),
    codes=(403, 404, 409, 422),
)
_step(
    "assessment",
    "assessment",
    schemas.DisputeAssessmentInputSchema,
    {"assessment": "The delivered logo meets items 1 and 2 of the brief, not item 3."},
    "The expert the mediator asked sends their written assessment; the dispute goes back to "
    "mediation. 404 for anyone but that expert; 409 when no assessment is awaited.",
    lambda user, did, body: services.submit_assessment(user, did, body["assessment"]),
)
