"""Platform-host pages: ``/platform/...``."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("platform", __name__, url_prefix="/platform", template_folder="templates")


@bp.get("/about")
def about():
    return render_template("platform/home.html")
