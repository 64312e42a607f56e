"""Console API of the jobs area under ``/api/v1/console``: jobs (list, detail, close), job
templates (list, add, read, change, hide, reorder) and the matching weights.

Thin: parse with a schema, call one console action (``actions.py``: the domain rule plus the
audit entry) or read (``reads.py``), serialize; the request's unit of work commits. Refusals
are domain errors answered by the central handler in the house shape ``{code, status,
message, errors}``: 404 a job or template this marketplace does not have (another
marketplace's ids included), 409 a close the job's status does not allow
(``errors.current_status``), 422 field errors (``errors.json.<field>``, ``errors.query`` for the
list's filters). Nothing changes on a refused request. Moderators and admins read and close
jobs; templates and weights are the admins'.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView

from app.console.access import ADMIN, MODERATOR, api_console_required, console_user
from app.console.blueprints import blp
from app.console.jobs import actions, reads
from app.console.jobs import schemas as s
from app.core.http import LOCATION, created

JOB_ID = "/jobs/<int(max=2147483647):job_id>"
TEMPLATE_ID = "/job-templates/<int(max=2147483647):template_id>"


def _now() -> datetime:
    return datetime.now(UTC)


def _documented(*codes: tuple[int, str]):
    def decorator(view):
        for code, description in codes:
            view = blp.alt_response(code, response="DEFAULT_ERROR", description=description)(view)
        return view

    return decorator


# --------------------------------------------------------------------------- jobs


@blp.route("/jobs", endpoint="jobs")
class ConsoleJobs(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(s.ConsoleJobListArgs, location="query")
    @blp.response(200, s.ConsoleJobSchema(many=True))
    @blp.paginate()
    @_documented((422, "Unknown status, an overlong search, or bad days"))
    def get(self, args, pagination_parameters):
        """Every job of the marketplace in any status, newest first, with its client and live
        proposals: filter by `status` and the days it was posted (`from`, `to`), search titles
        with `q`. Paginated (`page`, `page_size`; total in `X-Pagination`)."""
        filters = reads.job_filters(
            args.get("status"), args.get("q"), args.get("date_from"), args.get("date_to")
        )
        rows, total = reads.search_jobs(filters, pagination_parameters.page, pagination_parameters.page_size)
        pagination_parameters.item_count = total
        return rows


@blp.route(JOB_ID, endpoint="job")
class ConsoleJob(MethodView):
    @api_console_required(MODERATOR)
    @blp.response(200, s.ConsoleJobDetailSchema)
    @_documented((404, "No such job"))
    def get(self, job_id):
        """A job in any status with its client, every proposal (status, price), every invite
        (`expired` once past `expires_at`) and the console's decisions about it."""
        return reads.job_detail(job_id, now=_now())


@blp.route(f"{JOB_ID}/close", endpoint="job_close")
class ConsoleJobClose(MethodView):
    @api_console_required(MODERATOR)
    @blp.arguments(
        s.ConsoleJobCloseSchema, example={"reason": "Asks freelancers to pay a fee off the platform."}
    )
    @blp.response(200, s.ConsoleJobDetailSchema)
    @_documented(
        (404, "No such job"),
        (409, "The job is not open (`errors.current_status`)"),
        (422, "A reason of under 5 or over 1,000 characters"),
    )
    def post(self, body, job_id):
        """Close an abusive open job (status `cancelled`): no more proposals or invite answers.
        The client is notified with the reason; written to the audit log as `job.close`."""
        now = _now()
        actions.close_job(console_user(), job_id, body["reason"], now=now)
        return reads.job_detail(job_id, now=now)


# --------------------------------------------------------------------------- templates


@blp.route("/job-templates", endpoint="job_templates")
class ConsoleJobTemplates(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.ConsoleJobTemplateSchema(many=True))
    @blp.paginate_list()
    def get(self):
        """Every job template in the order clients see them (`position`), hidden ones too, with
        how many jobs were posted from each."""
        return reads.templates()

    @api_console_required(ADMIN)
    @blp.arguments(
        s.ConsoleJobTemplateInputSchema,
        example={
            "name": "Shopify theme",
            "summary": "A custom theme for a Shopify store.",
            "scope": "Build a custom Shopify theme from the provided designs, with sections editable in the "
            "theme editor.",
            "skills": ["shopify", "liquid"],
            "duration": "1_to_4_weeks",
            "milestones": [
                {
                    "title": "Templates",
                    "deliverable": "Home and product pages",
                    "dod": ["Matches designs"],
                    "share_percent": 60,
                },
                {
                    "title": "Launch",
                    "deliverable": "Theme published",
                    "dod": ["Live on the store"],
                    "share_percent": 40,
                },
            ],
        },
    )
    @blp.response(201, s.ConsoleJobTemplateSchema, headers=LOCATION)
    @_documented(
        (409, "Another template with the same name was added at the same moment"),
        (422, "Invalid fields, or milestone shares that do not add up to 100"),
    )
    def post(self, body):
        """Add a template, last in the order; its `key` is made from the name (unique).
        Written to the audit log as `job_template.create`."""
        template = actions.create_template(console_user(), body)
        return created(reads.template_item(template.id), "console_api.job_template", template_id=template.id)


@blp.route(TEMPLATE_ID, endpoint="job_template")
class ConsoleJobTemplate(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.ConsoleJobTemplateSchema)
    @_documented((404, "No such template"))
    def get(self, template_id):
        """A template, hidden or not."""
        return reads.template_item(template_id)

    @api_console_required(ADMIN)
    @blp.arguments(s.ConsoleJobTemplatePatchSchema, example={"hidden": True})
    @blp.response(200, s.ConsoleJobTemplateSchema)
    @_documented(
        (404, "No such template"),
        (422, "Invalid fields, shares that do not add up to 100, or a position out of range"),
    )
    def patch(self, body, template_id):
        """Change any fields (the others keep their values; `milestones` replaces the list),
        hide it from clients (`hidden: true`) or offer it again, or move it (`position`, 0
        first). Written to the audit log (`job_template.update`, `.hide`, `.unhide`, `.move`)."""
        actions.update_template(console_user(), template_id, body)
        return reads.template_item(template_id)


# --------------------------------------------------------------------------- matching weights


@blp.route("/matching-weights", endpoint="matching_weights")
class ConsoleMatchingWeights(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.ConsoleMatchingSettingsSchema)
    def get(self):
        """The weights of the matching score (as saved, the defaults, and the proportions that
        rank), the formula and each term's definition."""
        return reads.matching_settings()

    @api_console_required(ADMIN)
    @blp.arguments(s.ConsoleMatchingWeightsPatchSchema, example={"skill_match": 0.5, "availability": 0})
    @blp.response(200, s.ConsoleMatchingSettingsSchema)
    @_documented((422, "A weight outside 0..1 or with more than 3 decimals, or every weight 0"))
    def patch(self, body):
        """Change any of the five weights (0 to 1 each, at least one above 0); the others keep
        their values. Only their proportions rank: matching divides each by their sum. Applies
        to every ranking from now on (the client's proposals, jobs matching a freelancer's
        skills). Written to the audit log as `jobs.matching_weights.update`."""
        actions.update_matching_weights(console_user(), body)
        return reads.matching_settings()
