"""The API's Blueprint: flask-smorest's, with the house's edges.

- ``page`` of a paginated list is at most ``MAX_PAGE`` (an OFFSET past ``bigint`` is a
  database error, and no client pages that far): beyond it the request is a 422 naming
  ``page``, documented as the parameter's maximum.
- The ``X-Pagination`` header is documented as what it is on the wire: a string holding
  JSON (``{"total", "total_pages", "first_page", "last_page", "page", "previous_page",
  "next_page"}``); flask-smorest documents it as an object, which no header can be.
- Every list takes ``limit`` and an opaque ``cursor`` and answers ``X-Next-Cursor`` and
  ``Link: <...>; rel="next"`` (``app.core.pagination``); ``paginate(keyset=...)`` pages by the
  sort key, ``paginate_list()`` pages a short list the view returns whole.
- Rate limits: every blueprint checks its requests against the tenant's plan
  (``app.core.rate_limits.check_api_request``) and documents the shared 429 and the
  ``RateLimit-*`` headers on each operation, so no view is decorated for it.
- ``cached_answer(name)`` keeps a read's whole answer beside the tenant-cached data it is made
  of (the category tree's), so its dump and JSON encoding run once per change of that data.

Every API module uses ``from app.core.api import Blueprint``.
"""

from __future__ import annotations

import http
import inspect
import json
from copy import deepcopy
from functools import wraps

import flask_smorest
from flask import current_app, request
from flask_smorest.utils import resolve_schema_instance, unpack_tuple_response

from app.core import pagination, rate_limits, tenant_cache

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

    def arguments(self, schema, *args, **kwargs):
        """flask-smorest's, given an instance: webargs builds an instance of a schema class for
        every request it parses (a copy and a guard of every field); loading leaves an instance
        as it was, so the one built here serves every request, as the response schemas do."""
        return super().arguments(resolve_schema_instance(schema), *args, **kwargs)

    def paginate(
        self,
        pager=None,
        *,
        page=None,
        page_size=None,
        max_page_size=None,
        keyset: tuple[str, ...] | None = None,
        created: bool = False,
        legacy: bool = True,
    ):
        """A list: ``limit`` + ``cursor`` (and, on the lists that had them, the deprecated
        ``page`` / ``page_size`` with ``X-Pagination``).

        The view gets ``pagination_parameters`` (an ``app.core.pagination.Window``) and sets
        its ``item_count``, as with flask-smorest; with ``keyset`` (attribute names of the
        list's sort key, e.g. ``("created_at", "id")``) it also passes the window to its
        service, which adds ``window.where(...)``. With a ``pager`` (``paginate_list``) the view
        returns the whole list and it is cut here (an offset in the cursor).
        ``created``: the list takes ``created_after`` / ``created_before`` (the service applies
        them through ``window.where(..., created=Model.created_at)``).
        """
        defaults = self.DEFAULT_PAGINATION_PARAMETERS
        page_size = page_size or defaults["page_size"]
        max_page_size = max_page_size or defaults["max_page_size"]
        default_limit = min(page_size, pagination.LIMIT_MAX)
        legacy = legacy and pager is None
        schema = pagination.parameters_schema(
            legacy=legacy,
            default_limit=default_limit,
            max_page_size=max_page_size,
            default_page_size=page_size,
            created=created,
        )
        parser_schema = schema()  # one instance for every request (the doc keeps the class)
        error_status_code = self.PAGINATION_ARGUMENTS_PARSER.DEFAULT_VALIDATION_STATUS

        def decorator(func):
            @wraps(func)
            def wrapper(*args, **kwargs):
                # No query string: nothing to parse (the schema has no defaults; unknown keys
                # are excluded), the first page at the default limit.
                params = (
                    self.PAGINATION_ARGUMENTS_PARSER.parse(parser_schema, request, location="query")
                    if request.args
                    else {}
                )
                old_style = "page" in params or "page_size" in params
                if old_style and ("cursor" in params or "limit" in params):
                    pagination.refuse_cursor(pagination.MIXED)
                position = (
                    pagination.decode(params["cursor"], keyset=keyset if pager is None else None)
                    if "cursor" in params
                    else {}
                )
                limit = params.get("limit", default_limit)
                created_range = {k: params.get(k) for k in ("created_after", "created_before")}

                def call(window):
                    if pager is None:
                        kwargs["pagination_parameters"] = window
                    return unpack_tuple_response(current_app.ensure_sync(func)(*args, **kwargs))

                if old_style:
                    window = pagination.Window(
                        page=params.get("page", 1), page_size=params.get("page_size", page_size), limit=0
                    )
                    window.created_after, window.created_before = created_range.values()
                    result, status, headers = call(window)
                    return result, status, self._with_total(window, headers)
                if keyset and pager is None:
                    window = pagination.Window(page=1, page_size=limit, limit=limit, after=position.get("k"))
                    window.created_after, window.created_before = created_range.values()
                    result, status, headers = call(window)
                    if window.after is not None and not window.used:
                        raise RuntimeError(f"{request.endpoint}: a keyset list must apply window.where()")
                    result = list(result)[:limit]
                    more = window.item_count is not None and window.item_count > limit and result
                    token = pagination.encode(after=pagination.key_of(result[-1], keyset)) if more else None
                else:
                    offset = position.get("o", 0)
                    result, status, headers, window = self._offset_page(call, pager, offset, limit)
                    more = window.item_count is not None and offset + limit < window.item_count
                    token = pagination.encode(offset=offset + limit) if more else None
                headers = dict(headers or {})
                if legacy and "cursor" not in params:
                    headers = self._with_total(window, headers)
                if token:
                    headers.update(pagination.next_headers(token, limit))
                return result, status, headers

            note = pagination.doc_note(keyset=bool(keyset) and pager is None, legacy=legacy, created=created)
            wrapper.__doc__ = f"{inspect.cleandoc(func.__doc__ or '')}\n\n{note}".strip()
            wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
            wrapper._apidoc["pagination"] = {
                "parameters": {"in": "query", "schema": schema},
                "response": {error_status_code: http.HTTPStatus(error_status_code).name},
                "legacy": legacy,
            }
            return wrapper

        return decorator

    def paginate_list(self, *, limit: int = pagination.LIMIT_MAX):
        """A short list the view returns whole, cut into pages here (``limit`` + ``cursor``;
        an offset in the cursor). Its default ``limit`` is the maximum, so clients that read
        the whole array before pagination existed keep doing so up to that size."""
        return self.paginate(True, page_size=limit, legacy=False)

    @staticmethod
    def _offset_page(call, pager, offset: int, limit: int):
        """Items ``offset .. offset+limit`` of an offset list: cut from the whole list (a
        pager), or asked of the view in pages of ``limit`` (two when the offset is not on a
        page boundary: a client changed ``limit`` between pages)."""
        if pager is not None:
            result, status, headers = call(None)
            items = list(result)
            window = pagination.Window(
                page=1, page_size=limit, limit=limit, offset=offset, item_count=len(items)
            )
            return items[offset : offset + limit], status, headers, window
        first, skip = divmod(offset, limit)
        window = pagination.Window(page=first + 1, page_size=limit, limit=limit, offset=offset)
        result, status, headers = call(window)
        items = list(result)[skip:]
        if skip and window.item_count is not None and offset + len(items) < window.item_count:
            following = pagination.Window(page=first + 2, page_size=limit, limit=limit, offset=offset)
            more, _status, _headers = call(following)
            items += list(more)[: limit - len(items)]
            window.item_count = following.item_count
        return items[:limit], status, headers, window

    @staticmethod
    def _make_pagination_metadata(page, page_size, item_count):
        """flask-smorest's metadata, the same keys in the same order, without building its
        schema for every request to dump a dict of integers."""
        metadata = {"total": item_count, "total_pages": 0}
        if item_count:
            last_page = (item_count - 1) // page_size + 1
            metadata.update(total_pages=last_page, first_page=1, last_page=last_page)
            if page <= last_page:
                metadata["page"] = page
                if page > 1:
                    metadata["previous_page"] = page - 1
                if page < last_page:
                    metadata["next_page"] = page + 1
        return metadata

    def _with_total(self, window, headers):
        headers = dict(headers or {})
        if window.item_count is not None and window.page_size:
            meta = self._make_pagination_metadata(window.page, window.page_size, window.item_count)
            headers[self.PAGINATION_HEADER_NAME] = json.dumps(meta)
        return headers

    def _prepare_pagination_doc(self, doc, doc_info, *, spec, **kwargs):
        operation = doc_info.get("pagination")
        if operation:
            doc.setdefault("parameters", []).append(operation["parameters"])
            doc.setdefault("responses", {}).update(operation["response"])
            for code in doc_info.get("success_status_codes", []):
                headers = doc["responses"][code].setdefault("headers", {})
                headers["Link"] = pagination.LINK_HEADER_DOC
                headers[pagination.NEXT_CURSOR_HEADER] = pagination.NEXT_CURSOR_HEADER_DOC
                if operation.get("legacy"):
                    headers[self.PAGINATION_HEADER_NAME] = PAGINATION_HEADER_DOC
        return doc


def cached_answer(cache_name: str):
    """A GET view's whole answer (body, status, headers) kept in the tenant cache ``cache_name``
    (``app.core.tenant_cache``: per tenant, dropped with that data's stamp on every node) for
    requests without a query string, the common case of a short list read whole: the schema's
    dump, the page cut and the JSON encoding then run once per change instead of at every
    request. Requests with parameters (a cursor, a limit) run the view. Goes above
    ``@blp.response``; what the hooks add after the view (rate-limit headers, the request id,
    security headers) is added to every answer as before."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if request.args or request.method not in ("GET", "HEAD"):
                return view(*args, **kwargs)

            def answer():
                response = view(*args, **kwargs)
                headers = tuple((k, v) for k, v in response.headers.items() if k != "Content-Length")
                return response.get_data(), response.status_code, headers

            variant = f"answer:{request.endpoint}"
            body, status, headers = tenant_cache.cached(cache_name, answer, variant=variant)
            return current_app.response_class(body, status=status, headers=list(headers))

        return wrapper

    return decorator
