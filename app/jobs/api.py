"""Jobs REST API: jobs (post, edit, publish, close, browse and search), templates, proposals
(submit, edit, withdraw, list, shortlist / archive / decline), invites, and the files attached
to jobs and proposals (multipart uploads; listed with signed download URLs).

Thin: parse with a schema, call one service of ``app.jobs.services`` / ``app.jobs.proposals``,
serialize; the request's unit of work commits. Refusals are answered centrally in the house
shape ``{code, status, message, errors}``: 403 not yours (or not a seller), 404 unknown or
not visible to you (drafts and invite-only jobs of others), 409 not possible in the current
status (``errors.current_status``: the job closed, a second live proposal, a proposal
already declined ...), 422 field errors in ``errors.json.<field>``. No money moves here, so no
``Idempotency-Key``: repeated writes are refused by the rules themselves (a second proposal
or invite is a 409).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import g, request
from flask.views import MethodView

from app.accounts import tokens
from app.core import http
from app.core.api import Blueprint
from app.core.http import LOCATION, created
from app.jobs import attachments, proposals, schemas, services
from app.jobs.matching import jobs_for_skills
from app.jobs.models import MAX_JOB_ATTACHMENTS, MAX_PROPOSAL_ATTACHMENTS
from app.storage.uploads import read_uploads

blp = Blueprint(
    "jobs_api",
    __name__,
    url_prefix="/api/v1",
    description="Jobs: clients post jobs (blank or from a template), freelancers browse them and send "
    "proposals, clients shortlist, archive or decline proposals (ranked by match) and invite "
    "freelancers. Amounts are integer minor units.",
)

JOB_ID = "/jobs/<int(max=2147483647):job_id>"
PROPOSAL_ID = "/proposals/<int(max=2147483647):proposal_id>"
INVITE_ID = "/invites/<int(max=2147483647):invite_id>"
ATTACHMENT_ID = "/attachments/<int(max=2147483647):attachment_id>"
DESCRIPTIONS = {
    403: "Not yours (or not allowed to you)",
    404: "Not found (or not visible to you)",
    409: "Not possible in the current status (named in the message and errors.current_status)",
    413: "The request body is larger than the files allowed (per-file limit times the count)",
    422: "Invalid fields (errors.json.<field>)",
}


def _now() -> datetime:
    return datetime.now(UTC)


def auth_required(*codes: int):
    def decorate(view):
        for code in codes:
            view = blp.alt_response(code, response="DEFAULT_ERROR", description=DESCRIPTIONS[code])(view)
        view = blp.alt_response(401, response="UNAUTHORIZED")(view)
        view = blp.doc(security=[{"bearerAuth": []}])(view)
        return tokens.token_auth_required(view)

    return decorate


def _uploads():
    """The request's files (multipart ``files``, or ``file``), each read to one byte past the limit."""
    if request.mimetype != "multipart/form-data":
        raise attachments.AttachmentError(
            "Send the files as multipart/form-data (field `files`).", code="no_file"
        )
    parts = request.files.getlist("files") + request.files.getlist("file")
    return read_uploads(parts, attachments.max_bytes())


def _with_match(ranked):
    out = []
    for proposal, match in ranked:
        proposal.match = {"score": match.score, "terms": match.terms, "explanation": match.explanation}
        out.append(proposal)
    return out


# --------------------------------------------------------------------------- jobs


def _version(row) -> dict:
    """What a job's or a proposal's ETag follows: its last change (``updated_at``, bumped by
    every UPDATE of the row) and status."""
    return {"id": row.id, "updated_at": row.updated_at.isoformat(), "status": row.status}


@blp.route("/jobs")
class Jobs(MethodView):
    @auth_required(422)
    @blp.arguments(schemas.JobBrowseArgs, location="query")
    @blp.response(200, schemas.JobSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Browse open public jobs: keyword search and filters, best match first.

        `matching=true`: only jobs naming your seller skills, best fit first (the share of the
        job's skills you have and your portfolio shows, weighted as the marketplace tunes matching).
        Paginated (`page`, `page_size`); the total is in `X-Pagination`.
        """
        page, per_page = pagination_parameters.page, pagination_parameters.page_size
        if args.get("matching"):
            rows, total = jobs_for_skills(
                services.freelancer_skills(g.api_user),
                exclude_client_id=g.api_user.id,
                freelancer_id=g.api_user.id,
                page=page,
                per_page=per_page,
            )
            jobs = [job for job, _hits in rows]
        else:
            jobs, total = services.browse_jobs(
                q=args.get("q"),
                category_id=args.get("category_id"),
                skills=args.get("skills"),
                budget_type=args.get("budget_type"),
                budget_min_minor=args.get("budget_min_minor"),
                budget_max_minor=args.get("budget_max_minor"),
                posted_within_days=args.get("posted_within_days"),
                page=page,
                per_page=per_page,
                now=_now(),
            )
        pagination_parameters.item_count = total
        return jobs

    @auth_required(403, 422)
    @blp.arguments(
        schemas.JobCreateSchema,
        example={
            "template_id": 1,
            "budget_type": "fixed",
            "budget_min_minor": 200000,
            "budget_max_minor": 500000,
            "experience_level": "intermediate",
            "publish": True,
        },
    )
    @blp.response(201, schemas.JobSchema, headers=LOCATION)
    def post(self, body):
        """Post a job: a draft, or open at once with `publish: true`.

        With `template_id`, the template fills the title, description (scope, milestones with
        deliverables and Definition of Done), skills, budget type and duration you leave out.
        """
        template_id = body.pop("template_id", None)
        publish_now = body.pop("publish", False)
        job = services.post_job(
            g.api_user, body, template_id=template_id, publish_now=publish_now, now=_now()
        )
        return created(job, "jobs_api.JobResource", job_id=job.id)


@blp.route("/jobs/mine")
class MyJobs(MethodView):
    @auth_required(422)
    @blp.arguments(schemas.MyJobsArgs, location="query")
    @blp.response(200, schemas.JobSchema(many=True))
    @blp.paginate(keyset=("created_at", "id"), created=True)
    def get(self, args, pagination_parameters):
        """Your jobs as a client, newest first (all states; filter by `status`)."""
        jobs, total = services.list_my_jobs(
            g.api_user,
            status=args.get("status"),
            page=pagination_parameters.page,
            per_page=pagination_parameters.page_size,
            window=pagination_parameters,
        )
        pagination_parameters.item_count = total
        return jobs


@blp.route("/job-templates")
class Templates(MethodView):
    @auth_required()
    @blp.response(200, schemas.TemplateSchema(many=True))
    @blp.paginate_list()
    def get(self):
        """The marketplace's job templates (scope, suggested skills, milestones with a DoD)."""
        return services.list_templates()


@blp.route(JOB_ID)
class JobResource(MethodView):
    @auth_required(404)
    @http.conditional(blp)
    @blp.response(200, schemas.JobSchema)
    def get(self, job_id):
        """A job: open public ones for everyone; drafts for their client; invite-only ones for the
        client, invited freelancers and those who applied."""
        job = services.get_job(g.api_user, job_id)
        http.tag(_version(job))
        return job

    @auth_required(403, 404, 409, 422)
    @http.conditional(blp)
    @blp.arguments(schemas.JobInputSchema)
    @blp.response(200, schemas.JobSchema)
    def put(self, body, job_id):
        """Replace a draft or open job's fields (409 once hired or closed). `If-Match`
        (optional): 412 when the job changed since you read it."""
        http.check(_version(services.get_job(g.api_user, job_id)))
        job = services.edit_job(g.api_user, job_id, body, now=_now())
        http.tag(_version(job))
        return job


@blp.route(JOB_ID + "/publish")
class PublishJob(MethodView):
    @auth_required(403, 404, 409)
    @blp.response(200, schemas.JobSchema)
    def post(self, job_id):
        """Open a draft to proposals (event `job.posted`)."""
        return services.publish_job(g.api_user, job_id, now=_now())


@blp.route(JOB_ID + "/close")
class CloseJob(MethodView):
    @auth_required(403, 404, 409)
    @blp.response(200, schemas.JobSchema)
    def post(self, job_id):
        """Close a draft or open job (status `cancelled`): no more proposals."""
        return services.close_job(g.api_user, job_id, now=_now())


@blp.route(JOB_ID + "/attachments")
class JobAttachments(MethodView):
    @auth_required(404)
    @blp.response(200, schemas.JobAttachmentSchema(many=True))
    @blp.paginate_list()
    def get(self, job_id):
        """The files attached to a job, for whoever may see the job, with signed download URLs."""
        return services.get_job(g.api_user, job_id).attachments

    @auth_required(403, 404, 409, 413, 422)
    @blp.doc(requestBody=schemas.upload_body(MAX_JOB_ATTACHMENTS))
    @blp.response(201, schemas.JobAttachmentSchema(many=True), headers=LOCATION)
    def post(self, job_id):
        """Attach files (specs, mockups, datasets) to your draft or open job.

        Multipart `files`, one part per file; at most 10 files per job in all, each up to
        JOB_ATTACHMENT_MAX_BYTES (20 MB by default). PDF, PNG, JPEG, GIF, WebP, ZIP, CSV, text,
        Markdown, Word (.docx) and Excel (.xlsx), checked by content. Answers the new
        attachments. 409 once the job is hired or closed; 422 for no file, a type not allowed
        or content that is not what its type claims, an empty or too large file, or too many
        files (`errors.code`: `no_file`, `forbidden_type`, `empty_file`, `too_large`,
        `too_many_files`). Nothing is stored when refused."""
        rows = services.add_job_attachments(g.api_user, job_id, _uploads(), now=_now())
        return created(rows, "jobs_api.JobAttachments", job_id=job_id)  # the job's attachments


@blp.route(JOB_ID + ATTACHMENT_ID)
class JobAttachmentResource(MethodView):
    @auth_required(403, 404, 409)
    @blp.response(204)
    def delete(self, job_id, attachment_id):
        """Remove a file from your draft or open job (its download URLs stop working)."""
        services.remove_job_attachment(g.api_user, job_id, attachment_id, now=_now())


# --------------------------------------------------------------------------- proposals


@blp.route(JOB_ID + "/proposals")
class JobProposals(MethodView):
    @auth_required(403, 404, 422)
    @blp.arguments(schemas.ProposalListArgs, location="query")
    @blp.response(200, schemas.ProposalSchema(many=True))
    @blp.paginate_list()
    def get(self, args, job_id):
        """The proposals of your job, best match first, each with its score and explanation."""
        return _with_match(proposals.list_job_proposals(g.api_user, job_id, status=args.get("status")))

    @auth_required(403, 404, 409, 422)
    @blp.arguments(
        schemas.ProposalInputSchema,
        example={
            "cover_letter": "I have built three booking tools for gyms; here is how I would approach yours.",
            "total_minor": 300000,
            "milestones": [
                {"title": "Design", "amount_minor": 100000, "due_in_days": 7},
                {"title": "Build", "amount_minor": 200000, "due_in_days": 30},
            ],
            "delivery_days": 30,
        },
    )
    @blp.response(201, schemas.ProposalSchema, headers=LOCATION)
    def post(self, body, job_id):
        """Apply to an open job (sellers only; not your own job; one live proposal per job).

        Fixed price: `total_minor` and `milestones` adding up to it; hourly: `rate_minor`.
        Event `proposal.submitted` (the client is notified).
        """
        proposal = proposals.submit_proposal(g.api_user, job_id, body, now=_now())
        return created(proposal, "jobs_api.ProposalResource", proposal_id=proposal.id)


@blp.route("/proposals")
class MyProposals(MethodView):
    @auth_required(422)
    @blp.arguments(schemas.ProposalListArgs, location="query")
    @blp.response(200, schemas.ProposalSchema(many=True))
    @blp.paginate_list()
    def get(self, args):
        """Your proposals as a freelancer, newest first."""
        return proposals.list_my_proposals(g.api_user, status=args.get("status"))


@blp.route(PROPOSAL_ID)
class ProposalResource(MethodView):
    @auth_required(404)
    @http.conditional(blp)
    @blp.response(200, schemas.ProposalSchema)
    def get(self, proposal_id):
        """A proposal, for its freelancer or the job's client."""
        proposal = proposals.get_proposal(g.api_user, proposal_id)
        http.tag(_version(proposal))
        return proposal

    @auth_required(403, 404, 409, 422)
    @http.conditional(blp)
    @blp.arguments(schemas.ProposalInputSchema)
    @blp.response(200, schemas.ProposalSchema)
    def put(self, body, proposal_id):
        """Change your proposal while it is submitted or shortlisted and the job open.
        `If-Match` (optional): 412 when the proposal changed since you read it."""
        http.check(_version(proposals.get_proposal(g.api_user, proposal_id)))
        proposal = proposals.edit_proposal(g.api_user, proposal_id, body, now=_now())
        http.tag(_version(proposal))
        return proposal


@blp.route(PROPOSAL_ID + "/withdraw")
class WithdrawProposal(MethodView):
    @auth_required(403, 404, 409)
    @blp.response(200, schemas.ProposalSchema)
    def post(self, proposal_id):
        """Withdraw your proposal while the job is open (event `proposal.withdrawn`)."""
        return proposals.withdraw_proposal(g.api_user, proposal_id, now=_now())


@blp.route(PROPOSAL_ID + "/review")
class ReviewProposal(MethodView):
    @auth_required(403, 404, 409, 422)
    @blp.arguments(schemas.ProposalReviewSchema)
    @blp.response(200, schemas.ProposalSchema)
    def post(self, body, proposal_id):
        """The client shortlists, archives or declines a proposal (a decline may carry a message;
        event `proposal.declined`)."""
        return proposals.review_proposal(
            g.api_user, proposal_id, body["status"], message=body["message"], now=_now()
        )


@blp.route(PROPOSAL_ID + "/attachments")
class ProposalAttachments(MethodView):
    @auth_required(404)
    @blp.response(200, schemas.JobAttachmentSchema(many=True))
    @blp.paginate_list()
    def get(self, proposal_id):
        """The files attached to a proposal, for its freelancer and the job's client."""
        return proposals.get_proposal(g.api_user, proposal_id).attachments

    @auth_required(403, 404, 409, 413, 422)
    @blp.doc(requestBody=schemas.upload_body(MAX_PROPOSAL_ATTACHMENTS))
    @blp.response(201, schemas.JobAttachmentSchema(many=True), headers=LOCATION)
    def post(self, proposal_id):
        """Attach files to your proposal while it is submitted or shortlisted and the job open.

        Multipart `files`; at most 5 files per proposal in all, with the types and per-file
        limit of job attachments. Only you and the job's client can download them. Answers the
        new attachments. 403 for the job's client; 409 once the proposal or the job moved on;
        422 as for job attachments (`errors.code` says why). Nothing is stored when refused."""
        rows = proposals.add_proposal_attachments(g.api_user, proposal_id, _uploads(), now=_now())
        return created(rows, "jobs_api.ProposalAttachments", proposal_id=proposal_id)


@blp.route(PROPOSAL_ID + ATTACHMENT_ID)
class ProposalAttachmentResource(MethodView):
    @auth_required(403, 404, 409)
    @blp.response(204)
    def delete(self, proposal_id, attachment_id):
        """Remove a file from your editable proposal (its download URLs stop working)."""
        proposals.remove_proposal_attachment(g.api_user, proposal_id, attachment_id, now=_now())


# --------------------------------------------------------------------------- invites


@blp.route(JOB_ID + "/invites")
class JobInvites(MethodView):
    @auth_required(403, 404)
    @blp.response(200, schemas.InviteSchema(many=True))
    @blp.paginate_list()
    def get(self, job_id):
        """The invites of your job."""
        return services.list_invites(g.api_user, job_id=job_id)

    @auth_required(403, 404, 409, 422)
    @blp.arguments(schemas.InviteInputSchema)
    @blp.response(201, schemas.InviteSchema, headers=LOCATION)
    def post(self, body, job_id):
        """Invite a freelancer to apply to your open job (event `job.invite_sent`)."""
        invite = services.send_invite(g.api_user, job_id, body["freelancer_id"], body["message"], now=_now())
        return created(invite, "jobs_api.JobInvites", job_id=job_id)  # the job's invites list it


@blp.route("/invites")
class MyInvites(MethodView):
    @auth_required()
    @blp.response(200, schemas.InviteSchema(many=True))
    @blp.paginate_list()
    def get(self):
        """Invites you received as a freelancer, newest first."""
        return services.list_invites(g.api_user)


@blp.route(INVITE_ID + "/answer")
class AnswerInvite(MethodView):
    @auth_required(403, 404, 409, 422)
    @blp.arguments(schemas.InviteAnswerSchema)
    @blp.response(200, schemas.InviteSchema)
    def post(self, body, invite_id):
        """Accept (then apply with a proposal) or decline an invite; 409 once answered or expired."""
        return services.respond_to_invite(g.api_user, invite_id, accept=body["accept"], now=_now())
