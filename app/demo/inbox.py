"""The demo's webhook receiver (development only): what a partner's endpoint would see.

``make run`` registers an endpoint of each demo marketplace at
``http://localhost:<port>/dev/webhook-inbox/<slug>`` on the platform host (tenant hosts such as
``demo.localhost`` resolve in browsers, not in the worker's resolver). The receiver checks each
delivery's ``Gigforge-Signature`` against the live secrets of that marketplace's endpoints,
exactly as a partner would (``app.webhooks.signing.verify``), keeps the last ``KEEP``
deliveries in Redis under the tenant's prefix, and answers 204 (400 when the signature does not
verify, so the delivery log shows a failure). ``GET`` lists them, newest first.

Registered only when ``DEMO_WEBHOOK_INBOX`` is set (development and testing); never in
production.
"""

from __future__ import annotations

import json
import time

from flask import Blueprint, abort, jsonify, render_template, request

from app.extensions import redis_store
from app.webhooks import services as webhook_services
from app.webhooks.signing import HEADER, SignatureError, verify
from tenants.db import tenant_context
from tenants.resolver import get_tenant_by_slug

KEEP = 100
MAX_BODY = 256 * 1024
PATH = "/dev/webhook-inbox"

bp = Blueprint("demo_inbox", __name__, url_prefix=PATH, template_folder="templates")


def _key(tenant_id: int) -> str:
    return f"t:{tenant_id}:dev:webhook-inbox"


def _tenant(slug: str):
    ref = get_tenant_by_slug(slug) if len(slug) <= 31 else None
    if ref is None:
        abort(404)
    return ref


@bp.post("/<slug>")
def receive(slug: str):
    ref = _tenant(slug)
    body = request.get_data(cache=False)[: MAX_BODY + 1]
    if len(body) > MAX_BODY:
        return jsonify(error="too large"), 413
    with tenant_context(ref):
        secrets_ = [s for e in webhook_services.list_endpoints() for s in webhook_services.live_secrets(e)]
    verified = False
    for secret in secrets_:
        try:
            verify(body, request.headers.get(HEADER), secret)
        except SignatureError:
            continue
        verified = True
        break
    try:
        event = json.loads(body)
    except ValueError:
        event = {}
    entry = {
        "received_at": time.time(),
        "verified": verified,
        "id": request.headers.get("Gigforge-Event-Id") or event.get("id"),
        "type": request.headers.get("Gigforge-Event-Type") or event.get("type"),
        "attempt": request.headers.get("Gigforge-Delivery-Attempt"),
        "body": body.decode("utf-8", "replace"),
    }
    client = redis_store.client
    with client.pipeline() as pipe:
        pipe.lpush(_key(ref.id), json.dumps(entry))
        pipe.ltrim(_key(ref.id), 0, KEEP - 1)
        pipe.execute()
    if not verified:
        return jsonify(error="signature does not verify"), 400
    return "", 204


def received(tenant_id: int) -> list[dict]:
    """The deliveries kept for one tenant, newest first."""
    return [json.loads(raw) for raw in redis_store.client.lrange(_key(tenant_id), 0, KEEP - 1)]


@bp.get("/<slug>")
def inbox(slug: str):
    ref = _tenant(slug)
    entries = received(ref.id)
    for entry in entries:
        entry["at"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry["received_at"]))
        try:
            entry["pretty"] = json.dumps(json.loads(entry["body"]), indent=2)
        except ValueError:
            entry["pretty"] = entry["body"]
    return render_template("demo/inbox.html", tenant=ref, entries=entries)
