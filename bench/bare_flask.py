"""A bare Flask application: the yardstick of ``bench.request_throughput`` (one JSON route).

gunicorn bench.bare_flask:app
"""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
