"""Console API of the partner API keys under ``/api/v1/console``: ``GET /api-keys``, ``POST
/api-keys`` (201, ``Location``, the secret once), ``GET /api-keys/{id}``, ``DELETE
/api-keys/{id}`` or ``POST /api-keys/{id}/revoke`` (revoke), ``GET /api-keys/{id}/calls``.

Thin: parse with a schema, call one console action (``actions.py``: the accounts rule plus the
audit entry), serialize; the request's unit of work commits. Admins only; API keys themselves
can't call these (``app.accounts.api_keys.scope_for``).
"""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from app.accounts import api_keys
from app.console.access import ADMIN, api_console_required, console_user
from app.console.api_keys import actions
from app.console.api_keys import schemas as s
from app.console.blueprints import blp
from app.core.http import LOCATION

KEY_ID = "<int(max=2147483647):key_id>"


def _one(key) -> dict:
    return actions.describe([key])[0]


@blp.route("/api-keys", endpoint="api_keys")
class ConsoleApiKeys(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.ApiKeySchema(many=True))
    @blp.paginate_list()
    def get(self):
        """Every API key of the marketplace, newest first (revoked and expired ones too)."""
        return actions.describe(api_keys.list_keys())

    @api_console_required(ADMIN)
    @blp.arguments(s.ApiKeyCreateSchema, example={"name": "Order sync", "scopes": ["orders:read"]})
    @blp.response(201, s.ApiKeyCreatedSchema, headers=LOCATION)
    @blp.alt_response(
        422,
        response="DEFAULT_ERROR",
        description="An unknown scope (`errors.json.scopes`), no name, an unknown member "
        "(`errors.json.user_handle`), an expiry in the past (`errors.json.expires_at`), or the "
        "marketplace's limit of live keys; nothing is stored",
    )
    def post(self, body):
        """Create a key acting as a member (you by default) within scopes. The answer carries the
        secret, this once: only its hash is stored. Written to the audit log as `api_key.create`."""
        key, secret = actions.create_key(
            console_user(),
            name=body["name"],
            scopes=body["scopes"],
            user_handle=body.get("user_handle"),
            expires_at=body.get("expires_at"),
        )
        location = url_for("console_api.api_key", key_id=key.id)
        return {**_one(key), "secret": secret}, {"Location": location, "Cache-Control": "no-store"}


@blp.route(f"/api-keys/{KEY_ID}", endpoint="api_key")
class ConsoleApiKey(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.ApiKeySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, key_id):
        """One API key (never its secret)."""
        return _one(api_keys.get_key(key_id))

    @api_console_required(ADMIN)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, key_id):
        """Revoke the key: it stops working at once (the row and its calls stay listed).
        Written to the audit log as `api_key.revoke`."""
        actions.revoke_key(console_user(), key_id)


@blp.route(f"/api-keys/{KEY_ID}/revoke", endpoint="revoke_api_key")
class ConsoleRevokeApiKey(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.ApiKeySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, key_id):
        """Revoke the key (as `DELETE`), answering with it. Revoking a revoked key changes nothing."""
        return _one(actions.revoke_key(console_user(), key_id))


@blp.route(f"/api-keys/{KEY_ID}/calls", endpoint="api_key_calls")
class ConsoleApiKeyCalls(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.ApiKeyCallSchema(many=True))
    @blp.paginate(page_size=50, max_page_size=100, keyset=("id",), created=True)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, key_id, pagination_parameters):
        """The key's calls, newest first (kept 30 days): method, URL rule, status, IP, request
        id. Refused calls are listed too. Pages by `limit` and `cursor`."""
        rows, pagination_parameters.item_count = api_keys.page_calls(key_id, pagination_parameters)
        return rows
