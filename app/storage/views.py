"""``GET /files/<token>``: serves a stored file to whoever holds a valid signed URL.

Only files the antivirus found clean (``app/storage/files.py``): a pending one answers 503 with
``Retry-After`` ("being checked"), a quarantined one 410, a key without a ``StoredFile`` row
404 (fail closed: files stored before the antivirus need ``flask storage register-existing``).
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from http import HTTPStatus
from urllib.parse import quote

from flask import Blueprint, Response, abort, jsonify, render_template, request

from app.storage import StorageError, storage
from app.storage.backends import backend_class, content_type_for
from app.storage.files import PENDING_MESSAGE, QUARANTINED_MESSAGE, FilePending, FileQuarantined
from app.storage.signing import read_file_token
from tenants.db import current_tenant

bp = Blueprint("storage", __name__)

# Shown in the browser; anything else (HTML, SVG, scripts...) is downloaded, never rendered
# on the tenant's origin.
INLINE_TYPES = {"image/webp", "image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain"}


@bp.record_once
def _check_config(state):
    backend_class(state.app.config.get("STORAGE_BACKEND", "local"))  # fail at startup, not at first upload


def _filename(name: str) -> dict[str, str]:
    """Content-Disposition parameters for ``name`` (RFC 6266: an ASCII fallback and UTF-8)."""
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii") or "file"
        return {"filename": simple, "filename*": f"UTF-8''{quote(name, safe='!#$&+^`|~')}"}
    return {"filename": name}


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    return accept.best_match(["text/html", "application/json"]) == "application/json" and (
        accept["application/json"] > accept["text/html"]
    )


def _refusal(status: int, code: str, title: str, message: str, headers: dict | None = None):
    """Why a file is not served: JSON (the API's ``{code, status, message}`` plus ``reason``) when
    the client prefers it, else a short page. Never cached."""
    if _wants_json():
        body = {"code": status, "status": HTTPStatus(status).phrase, "message": message, "reason": code}
        response = jsonify(body)
    else:
        response = Response(
            render_template("errors/error.html", code=status, title=title, message=message),
            content_type="text/html; charset=utf-8",
        )
    response.status_code = status
    response.headers.update(headers or {})
    response.cache_control.no_store = True
    return response


@bp.get("/files/<token>")
def serve_file(token: str):
    """The file, when the token is genuine, unexpired and for this host's tenant; else 404."""
    grant = read_file_token(token, tenant_id=current_tenant().id)
    if grant is None:
        abort(404)
    key = grant.key
    try:
        data = storage.open_clean(key)
    except FilePending:
        return _refusal(503, "scan_pending", "Being checked", PENDING_MESSAGE, {"Retry-After": "5"})
    except FileQuarantined:
        return _refusal(410, "quarantined", "Blocked", QUARANTINED_MESSAGE)
    except StorageError:
        abort(404)
    content_type = content_type_for(key)
    response = Response(data, content_type=content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    disposition = "inline" if content_type in INLINE_TYPES else "attachment"
    response.headers.set(
        "Content-Disposition", disposition, **_filename(grant.download_name or key.rpartition("/")[2])
    )
    # The bytes under a key never change; let the browser keep them until the URL expires.
    remaining = max(0, grant.expires_at - int(time.time()))
    response.cache_control.private = True
    response.cache_control.max_age = remaining
    response.set_etag(hashlib.sha256(key.encode()).hexdigest()[:32])
    return response.make_conditional(request)
