"""The API's interactive docs (`/api/v1/docs`) work with no network: Swagger UI's files come
from the pinned ``flask-swagger-ui`` package and are served by the app under
``/api/v1/docs/static/`` (``OPENAPI_SWAGGER_UI_URL``), never from a CDN.

flask-smorest renders ``swagger_ui.html``; the app's own copy (app/templates/swagger_ui.html)
takes precedence and starts Swagger UI from a nonce'd script, so the page runs under the
app's Content-Security-Policy with frame protection like every other HTML page.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, send_from_directory

# swagger-ui-bundle.js, swagger-ui.css, ... of the Swagger UI release the package pins.
SWAGGER_UI_DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
STATIC_PREFIX = "/api/v1/docs/static"

bp = Blueprint("api-docs-assets", __name__)


@bp.get(f"{STATIC_PREFIX}/<path:filename>")
def swagger_ui_file(filename: str):
    """One file of Swagger UI's distribution (cached a day; the version is pinned)."""
    return send_from_directory(SWAGGER_UI_DIST, filename, max_age=24 * 3600)


def swagger_ui_version() -> str:
    return (SWAGGER_UI_DIST / "VERSION").read_text().strip().removeprefix("v")
