"""``GET /brand/logo-<token>.png``, ``/brand/favicon-<token>.png`` and ``/favicon.ico`` on a
tenant's host (the uploaded favicon, or the default one in app/static).

The uploaded logo and favicon are public (every page and email shows them), so they
are served without a signed URL. The token comes from the stored file's random key:
a new upload gets a new URL, so a response can be cached for a year (``immutable``)
and the cached branding's URLs stay valid as long as the file is current. An old or
made-up token is a 404.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, abort, current_app, redirect, request

from app.settings.services import brand_file_key, get_branding
from app.storage import StorageError, storage

bp = Blueprint("branding_files", __name__)

ONE_YEAR = 365 * 24 * 3600


def _serve(kind: str, token: str):
    if len(token) != 16 or not all(c in "0123456789abcdef" for c in token):
        abort(404)
    key = brand_file_key(kind, token)
    if key is None:
        abort(404)
    try:
        data = storage.open_clean(key)  # pending or blocked by the antivirus: not found
    except StorageError:
        abort(404)
    response = Response(data, content_type="image/png")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.cache_control.public = True
    response.cache_control.max_age = ONE_YEAR
    response.cache_control.immutable = True
    response.set_etag(hashlib.sha256(key.encode()).hexdigest()[:32])
    return response.make_conditional(request)


@bp.get("/brand/logo-<token>.png")
def logo(token: str):
    return _serve("logo", token)


@bp.get("/brand/favicon-<token>.png")
def favicon(token: str):
    return _serve("favicon", token)


@bp.get("/favicon.ico")
def favicon_ico():
    """Browsers (and feed readers) ask for /favicon.ico when a page names none: point them at
    the uploaded favicon, or answer with the neutral default icon (a 404 here would be an error
    in the browser's console on every page)."""
    url = get_branding().favicon_url
    if url is None:
        response = current_app.send_static_file("favicon.png")
        response.cache_control.public = True
        response.cache_control.max_age = 86400
        return response
    response = redirect(url, code=302)
    response.cache_control.max_age = 3600
    return response
