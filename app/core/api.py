"""The API's Blueprint: flask-smorest's, with the house's edges.

- ``page`` of a paginated list is at most ``MAX_PAGE`` (an OFFSET past ``bigint`` is a
  database error, and no client pages that far): beyond it the request is a 422 naming
  ``page``, documented as the parameter's maximum.
- The ``X-Pagination`` header is documented as what it is on the wire: a string holding
  JSON (``{"total", "total_pages", "first_page", "last_page", "page", "previous_page",
  "next_page"}``); flask-smorest documents it as an object, which no header can be.

- Rate limits: every blueprint checks its requests against the tenant's plan
  (``app.core.rate_limits.check_api_request``) and documents the shared 429 and the
  ``RateLimit-*`` headers on each operation, so no view is decorated for it.

Every API module uses ``from app.core.api import Blueprint``.
"""

from __future__ import annotations

import flask_smorest
from marshmallow import validate

from app.core import rate_limits

MAX_PAGE = 10_000

PAGINATION_HEADER_DOC = {
    "description": "Pagination metadata as JSON: total, total_pages, first_page, last_page, page, "
    "previous_page, next_page",
    "schema": {"type": "string"},
}


class Blueprint(flask_smorest.Blueprint):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.before_request(rate_limits.check_api_request)
        self._prepare_doc_cbks.append(rate_limits.document_operation)

    def paginate(self, *args, **kwargs):
        decorate = super().paginate(*args, **kwargs)

        def bounded(func):
            wrapper = decorate(func)
            schema = wrapper._apidoc["pagination"]["parameters"]["schema"]
            page = schema._declared_fields["page"]
            page.validators = [*page.validators, validate.Range(max=MAX_PAGE)]
            return wrapper

        return bounded

    def _document_pagination_metadata(self, spec, resp_doc):
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = PAGINATION_HEADER_DOC
