"""Request body limits, enforced before anything reads the body.

- Every request: ``MAX_CONTENT_LENGTH`` (16 MiB by default).
- JSON API bodies (anything under ``/api/`` that is not an upload below): ``API_JSON_MAX_BYTES``
  (1 MiB by default).
- Upload routes (``UPLOAD_LIMITS``): what their files may weigh (the per-file limit times the
  files one request may carry) plus ``FORM_OVERHEAD``. A route's own limit
  replaces the global one, so an order delivery (five files of 25 MiB) still fits.

A declared ``Content-Length`` over the limit is refused with 413 by the first
``before_request`` hook, before CSRF protection or a view parses the form. A body without a
length (chunked) is bounded as it is read (Werkzeug's limit on the stream), with the same 413
once the limit is passed. Under ``/api/`` the 413 has the API's JSON error shape (app/core/errors.py).
"""

from __future__ import annotations

import io

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

# Room for the multipart boundaries and a form's text fields besides its files, and for a file
# somewhat over its limit: that one still reaches the view and gets the form's own message.
FORM_OVERHEAD = 1024 * 1024

# endpoint -> (config key of the per-file limit, files one request may carry)
UPLOAD_LIMITS: dict[str, tuple[str, int]] = {
    "accounts.upload_avatar": ("AVATAR_MAX_BYTES", 1),
    "accounts.portfolio": ("PORTFOLIO_IMAGE_MAX_BYTES", 1),
    "gigs.upload_image": ("GIG_IMAGE_MAX_BYTES", 1),
    "messaging.upload_attachment": ("MESSAGE_ATTACHMENT_MAX_BYTES", 1),
    "messaging_api.Attachments": ("MESSAGE_ATTACHMENT_MAX_BYTES", 1),
    # 5: app.orders.services.MAX_DELIVERY_FILES (tests/hardening/test_body_limits.py checks it)
    "orders.deliver": ("ORDER_DELIVERY_FILE_MAX_BYTES", 5),
    "orders_api.Deliveries": ("ORDER_DELIVERY_FILE_MAX_BYTES", 5),
    # 10 and 5: app.jobs.models.MAX_JOB_ATTACHMENTS / MAX_PROPOSAL_ATTACHMENTS (tests/jobs checks them)
    "jobs.post_job": ("JOB_ATTACHMENT_MAX_BYTES", 10),
    "jobs.add_job_attachments": ("JOB_ATTACHMENT_MAX_BYTES", 10),
    "jobs_api.JobAttachments": ("JOB_ATTACHMENT_MAX_BYTES", 10),
    "jobs.submit_proposal": ("JOB_ATTACHMENT_MAX_BYTES", 5),
    "jobs.add_proposal_attachments": ("JOB_ATTACHMENT_MAX_BYTES", 5),
    "jobs_api.ProposalAttachments": ("JOB_ATTACHMENT_MAX_BYTES", 5),
    "workroom.upload_file": ("WORKROOM_FILE_MAX_BYTES", 1),
    "workroom_api.Files": ("WORKROOM_FILE_MAX_BYTES", 1),
    "console.upload_brand_image": ("BRANDING_IMAGE_MAX_BYTES", 1),
    "console_api.brand_logo": ("BRANDING_IMAGE_MAX_BYTES", 1),
    "console_api.brand_favicon": ("BRANDING_IMAGE_MAX_BYTES", 1),
}


def body_limit() -> int | None:
    """The most bytes the current request's body may have (None: no limit configured)."""
    config = current_app.config
    upload = UPLOAD_LIMITS.get(request.endpoint or "")
    if upload is not None and request.mimetype == "multipart/form-data":
        key, files = upload
        return int(config[key]) * files + FORM_OVERHEAD
    if request.path.startswith("/api/"):
        return config.get("API_JSON_MAX_BYTES") or config.get("MAX_CONTENT_LENGTH")
    return config.get("MAX_CONTENT_LENGTH")


def _too_large(limit: int, length: int | None = None) -> RequestEntityTooLarge:
    message = f"The request body may have at most {limit:,} bytes"
    message += f"; this one has {length:,}." if length is not None else "."
    exc = RequestEntityTooLarge(message)
    exc.data = {"message": message}  # the API's error payload carries it (flask-smorest)
    return exc


class _CappedStream(io.RawIOBase):
    """The wsgi.input of a body without a declared length: 413 once more than ``limit`` bytes
    arrive. (Werkzeug stops reading at its limit, but takes a body that reaches it exactly for
    complete: a JSON body would be cut short and read as malformed, a 400.)"""

    def __init__(self, stream, limit: int):
        self._stream = stream
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        self._read += len(data)
        if self._read > self._limit:
            raise _too_large(self._limit)
        buffer[: len(data)] = data
        return len(data)


def limit_request_body() -> None:
    limit = body_limit()
    if limit is None:
        return
    length = request.content_length
    if length is not None:
        if length > limit:
            raise _too_large(limit, length)
        request.max_content_length = limit
    elif request.environ.get("wsgi.input_terminated"):
        # No declared length (chunked), from a server that ends the stream itself (gunicorn):
        # Werkzeug bounds the read at one byte past the limit, and that byte is the capped
        # stream's cue. (Without wsgi.input_terminated Werkzeug reads no such body at all.)
        request.environ["wsgi.input"] = _CappedStream(request.environ["wsgi.input"], limit)
        request.max_content_length = limit + 1
    else:
        request.max_content_length = limit


def init_app(app: Flask) -> None:
    # First of all before_request hooks: CSRF protection reads the form in its own hook.
    app.before_request_funcs.setdefault(None, []).insert(0, limit_request_body)
