"""The platform console on the bare platform host (``/platform``), for platform admins."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from app.platform.views import bp

    app.register_blueprint(bp)
