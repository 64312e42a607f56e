"""Small HTTP helpers the API blueprints share: ``Location`` on creates, conditional requests
(``ETag`` / ``If-Match`` / ``If-None-Match``) on edited resources, and an error answered as a
response (not raised) when its work must be kept.

**Creates.** Every operation answering 201 returns ``created(body, endpoint, **values)``: the
body, 201 and ``Location`` (the new resource's URL, a path on the request's host). Its
``@blp.response(201, Schema, headers=LOCATION)`` documents the header, so a client (and
schemathesis' header conformance) knows it is there. Where the new thing has no URL of its own
(a message, a time entry), ``Location`` is the nearest resource that lists it, said in the
operation's docs.

**Conditional requests** (``conditional(blp)`` on a ``MethodView`` method, with
``etags.check(data)`` before a change and ``etags.tag(data)`` on what is answered): the answer
carries ``ETag`` (a hash of ``data``: a version column, or the fields a client edits; never
signed URLs, which change every second); a ``GET`` whose ``If-None-Match`` names it is a bodyless
304; a ``PATCH``/``PUT``/``DELETE`` whose ``If-Match`` names another version is refused with 412
``precondition_failed`` and changes nothing. ``If-Match`` is optional here (clients that never
send it keep working); the gigs, ``/me`` and the seller profile keep flask-smorest's own ETags,
which require it (428).
"""

from __future__ import annotations

import hashlib
import json
from functools import wraps

from flask import current_app, g, make_response, request, url_for
from werkzeug.exceptions import HTTPException, default_exceptions

from app.core.domain_errors import DomainError, PreconditionFailed, api_payload

LOCATION = {
    "Location": {
        "description": "The URL of the new resource (a path on this host).",
        "schema": {"type": "string"},
    }
}
ETAG_HEADER = {"description": "The version of the resource answered", "schema": {"type": "string"}}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "The ETag you last read: the change is refused (412) when the resource changed since.",
}
IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "The ETag you hold: answered 304 Not Modified (no body) while it is current.",
}


def created(body, endpoint: str, **values):
    """A 201 answer: ``body`` and ``Location`` = ``url_for(endpoint, **values)``."""
    return body, 201, {"Location": url_for(endpoint, **values)}


class PaymentRequired(HTTPException):
    """402: werkzeug has no class of its own for it (a declined card)."""

    code = 402
    description = "Payment required."


def error_response(exc: DomainError):
    """The API's JSON error for ``exc`` as a response a view returns instead of raising it: for
    a refusal whose bookkeeping the view keeps (``unit_of_work.keep()``; a declined card's
    attempt), which ``@idempotent`` then stores and replays like any answer."""
    from app.extensions import api

    http_exc = PaymentRequired() if exc.status == 402 else default_exceptions[exc.status]()
    http_exc.data = api_payload(exc)
    return make_response(api.handle_http_exception(http_exc))


# --------------------------------------------------------------------------- ETags


def etag_of(data) -> str:
    """A strong ETag of JSON-able ``data`` (the same data, the same tag)."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def check(data) -> None:
    """Before a change: refuse (412) when ``If-Match`` names another version than ``data``'s.
    ``*`` and no ``If-Match`` at all pass."""
    if_match = request.if_match
    if not if_match or if_match.star_tag:
        return
    if not if_match.contains(etag_of(data)):
        raise PreconditionFailed(
            "The resource changed since you read it: read it again (GET) and retry with its ETag.",
            extra={"code": "precondition_failed"},
        )


def tag(data) -> None:
    """The version of what this request answers (set on the response by ``conditional``)."""
    g.http_etag = etag_of(data)


def conditional(blp, *, status: int = 200):
    """Decorate a ``MethodView`` method (above ``@blp.response``) of a resource clients edit:
    ``ETag`` on its answer, 304 for a current ``If-None-Match`` on GET/HEAD, and the refusals
    documented (412 for PATCH/PUT/DELETE; the optional ``If-Match`` / ``If-None-Match``)."""

    def decorate(view):
        method = view.__name__.upper()
        reads = method in ("GET", "HEAD")

        @wraps(view)
        def wrapper(*args, **kwargs):
            g.pop("http_etag", None)
            response = make_response(view(*args, **kwargs))
            etag = g.pop("http_etag", None)
            if etag is None or response.status_code >= 300:
                return response
            if reads and request.if_none_match.contains(etag):
                not_modified = current_app.response_class(status=304)
                not_modified.set_etag(etag)
                return not_modified
            response.set_etag(etag)
            return response

        if reads:
            wrapper = blp.alt_response(304, description="Not modified: your `If-None-Match` is current")(
                wrapper
            )
            parameters = [IF_NONE_MATCH]
        else:
            wrapper = blp.alt_response(
                412,
                response="DEFAULT_ERROR",
                description="`If-Match` names an older version (errors.code `precondition_failed`)",
            )(wrapper)
            parameters = [IF_MATCH]
        responses = {} if method == "DELETE" else {status: {"headers": {"ETag": ETAG_HEADER}}}
        return blp.doc(parameters=parameters, responses=responses)(wrapper)

    return decorate


def tagged(data):
    """``tag(data)`` and return ``data``: for a view that answers what its ETag follows."""
    tag(data)
    return data
