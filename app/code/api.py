"""Code & CI REST API: a contract's repository links (the webhook secret only in the answer to
the POST) and its pull requests with their latest CI.

Thin: parse with a schema, call one service of ``app.code.services``, serialize; the request's
unit of work commits. Refusals: 403 an admin who is no party, 404 unknown or not yours, 409 the
contract is not awaiting signatures or active, 422 field errors.
"""

from __future__ import annotations

from flask import g, url_for
from flask.views import MethodView

from app.accounts import tokens
from app.code import schemas, services
from app.core.api import Blueprint
from app.core.http import LOCATION, created

blp = Blueprint(
    "code_api",
    __name__,
    url_prefix="/api/v1",
    description="Code & CI: link a GitHub or GitLab repository to a contract; its webhook reports "
    "pull requests and CI results (see docs/code-integration.md).",
)

CONTRACT_ID = "/contracts/<int(max=2147483647):contract_id>"
DESCRIPTIONS = {
    403: "Only the contract's parties manage its repositories",
    404: "Not found (or not yours)",
    409: "The contract is not awaiting signatures or active (errors.current_status)",
    422: "Invalid fields (errors.json.<field>)",
}
EVENTS = {
    "github": ["pull_request", "check_suite", "check_run"],
    "gitlab": ["Merge Request Hook", "Pipeline Hook"],
}


auth_required = tokens.api_auth(blp, DESCRIPTIONS)


def _out(link):
    link.webhook_url = url_for("code_webhooks.receive", provider=link.provider, _external=True)
    return link


@blp.route(f"{CONTRACT_ID}/repos")
class Repos(MethodView):
    @auth_required(404)
    @blp.response(200, schemas.RepoLinkSchema(many=True))
    @blp.paginate_list()
    def get(self, contract_id):
        """The repositories linked to a contract you are a party to."""
        return [_out(link) for link in services.list_links(g.api_user, contract_id)]

    @auth_required(403, 404, 409, 422)
    @blp.arguments(
        schemas.RepoLinkInputSchema, example={"provider": "github", "full_name": "acme/booking-tool"}
    )
    @blp.response(201, schemas.RepoLinkCreatedSchema, headers=LOCATION)
    def post(self, body, contract_id):
        """Link a repository (either party, while the contract awaits signatures or is active).
        The answer holds the webhook secret, shown this once, and the webhook URL to set in
        GitHub (content type application/json; pull requests, check suites, check runs) or
        GitLab (merge request and pipeline events)."""
        link, secret = services.link_repo(g.api_user, contract_id, body["provider"], body["full_name"])
        link = _out(link)
        link.secret = secret
        link.content_type = "application/json"
        link.events = EVENTS[link.provider]
        return created(link, "code_api.Repo", contract_id=contract_id, link_id=link.id)


@blp.route(f"{CONTRACT_ID}/repos/<int(max=2147483647):link_id>")
class Repo(MethodView):
    @auth_required(403, 404)
    @blp.response(204)
    def delete(self, contract_id, link_id):
        """Unlink a repository: its webhook is refused from now on; its pull requests and CI runs
        stay (disputes may quote them)."""
        services.unlink(g.api_user, contract_id, link_id)


@blp.route(f"{CONTRACT_ID}/pull-requests")
class PullRequests(MethodView):
    @auth_required(404)
    @blp.response(200, schemas.PullRequestSchema(many=True))
    @blp.paginate_list()
    def get(self, contract_id):
        """The pull (merge) requests of the contract's repositories, most recently updated first
        (at most 100), each with the latest CI of its head commit."""
        return services.list_pull_requests(g.api_user, contract_id)
