"""``/metrics``: the Prometheus exposition of the whole deployment, on the platform host only
(a tenant host answers 404: the blueprint is platform-only, see ``app/__init__.py``).

A scraper proves itself with ``Authorization: Bearer <METRICS_TOKEN>``, or comes from an address
in ``METRICS_ALLOW_NETWORKS`` (development and tests: loopback; production: none unless set).
With neither configured the endpoint does not exist (404), so it can never be left open.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, abort, current_app, jsonify, request

from app.core import metrics

bp = Blueprint("metrics", __name__)


def _networks(app) -> list:
    cached = app.extensions.get("metrics_networks")
    if cached is None:
        cached = [ipaddress.ip_network(n, strict=False) for n in app.config["METRICS_ALLOW_NETWORKS"]]
        app.extensions["metrics_networks"] = cached
    return cached


def _allowed_address(app) -> bool:
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in _networks(app))


@bp.get("/metrics")
def scrape():
    app = current_app._get_current_object()
    token = app.config["METRICS_TOKEN"]
    if not app.extensions.get("metrics_enabled") or not (token or app.config["METRICS_ALLOW_NETWORKS"]):
        abort(404)
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        pass
    elif given:
        return _refuse(401, "invalid_token", "The metrics token is wrong.")
    elif not _allowed_address(app):
        if token:
            return _refuse(401, "token_required", "Send the metrics token as a bearer token.")
        return _refuse(403, "forbidden", "This address may not read the metrics.")
    body, content_type = metrics.render()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _refuse(status: int, code: str, message: str):
    response = jsonify(error=code, message=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response
