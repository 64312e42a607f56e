"""Which credential a request's bearer names, for the API's per-credential rate limit
(``app.core.rate_limits``), before the view authenticates it.

A partner API key (``gfk_...``) is its key's id; a person's token (``gfa_`` / ``gfr_``) is its
family, so a refreshed pair keeps the same budget. This only names the credential: it checks
neither expiry nor revocation (the view's own authentication refuses those with a 401, and a
refused call still spends the budget of the credential it claimed). An unknown bearer names
none: the call counts as anonymous (per IP). One indexed look-up by hash (an access token's
with its user, which the view's authentication then reuses: ``tokens.find_access``).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import request

from app.accounts.api_keys import KEY_PREFIX, hash_key
from app.accounts.models import ApiKey, ApiToken
from app.accounts.tokens import ACCESS_PREFIX, REFRESH_PREFIX, find_access, hash_token
from tenants.db import db

MAX_BEARER_LENGTH = 128


def bearer_credential() -> str | None:
    """``key:<id>`` or ``family:<family id>`` of the request's ``Authorization: Bearer``, or None."""
    scheme, _, token = (request.headers.get("Authorization") or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_BEARER_LENGTH:
        return None
    if token.startswith(KEY_PREFIX):
        key_id = db.session.scalar(sa.select(ApiKey.id).where(ApiKey.key_hash == hash_key(token)))
        return f"key:{key_id}" if key_id is not None else None
    if token.startswith(ACCESS_PREFIX):
        # With its user: the view's authentication then reads it from this request's memo.
        found = find_access(token)
        return f"family:{found[0].family_id}" if found is not None else None
    if token.startswith(REFRESH_PREFIX):
        family = db.session.scalar(
            sa.select(ApiToken.family_id).where(ApiToken.token_hash == hash_token(token))
        )
        return f"family:{family}" if family is not None else None
    return None
