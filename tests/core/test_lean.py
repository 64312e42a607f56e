"""The lean request path (app/core/lean.py, docs/design/performance.md "The request path"):
what requests skip, and that nothing they skip was doing work."""

from __future__ import annotations

import itertools
import uuid

from flask_limiter import Limit

from app.core import lean
from app.extensions import limiter


def test_flask_limiters_before_request_check_runs_only_when_it_has_limits(app, tenant_client, acme):
    """Ours are all decorated limits (checked by their decorators) and the API's own: Flask-
    Limiter's before_request check has nothing to evaluate and is skipped. A default limit
    configured later brings it back: the check is skipped only while it would find nothing.
    (Decorated limits counting without it: tests/accounts/test_security.py.)"""
    hooks = app.before_request_funcs[None]
    assert limiter._check_request_limit not in hooks
    assert not lean.middleware_has_limits(limiter)
    manager = limiter.limit_manager
    saved = manager._default_limits
    prefix = f"lean-{uuid.uuid4().hex[:8]}"
    manager.set_default_limits(
        [Limit(limit_provider="2/minute", key_function=lambda: prefix, finalized=False).bind(limiter)]
    )
    try:
        assert lean.middleware_has_limits(limiter)
        client = tenant_client("acme")
        codes = [client.get("/login").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
    finally:
        manager.set_default_limits(saved)
    assert tenant_client("acme").get("/login").status_code == 200


def test_the_liveness_probe_is_answered_before_flask_as_flask_would(
    app, tenant_client, platform_client, monkeypatch
):
    """GET and HEAD /healthz: the route's body and headers (security headers, the request id)
    from the outermost WSGI layer, counted under /healthz; Flask's hooks never run for it. Other
    methods still reach Flask."""
    from werkzeug.test import Client

    from app.core import health
    from tests.observability.sampling import render as scrape

    probe = app.wsgi_app
    assert isinstance(probe, health.LivenessProbe)
    flask_answer = Client(probe.wsgi_app).get(
        "/healthz", headers={"Host": "acme.localhost", "X-Request-ID": "r1"}
    )
    seen = []
    monkeypatch.setattr(app, "before_request_funcs", {None: [lambda: seen.append("hook")]})
    before = scrape()
    for client in (tenant_client("acme"), platform_client):
        answer = client.get("/healthz", headers={"X-Request-ID": "r1"})
        assert (answer.status_code, answer.data) == (200, flask_answer.data) == (200, b'{"status":"ok"}\n')
        ours = {k: v for k, v in answer.headers.items() if k != "Vary"}
        assert ours == {k: v for k, v in flask_answer.headers.items() if k != "Vary"}
        head = client.head("/healthz")
        assert (head.status_code, head.data, head.headers["Content-Length"]) == (200, b"", "16")
        assert len(head.headers["X-Request-ID"]) == 32  # a fresh id when none is given
    assert seen == []
    after = scrape()
    for method in ("GET", "HEAD"):
        labels = {"route": "/healthz", "method": method, "status": "2xx"}
        counted = after.value("gigforge_http_requests_total", **labels) - before.value(
            "gigforge_http_requests_total", **labels
        )
        assert counted == 2
    assert tenant_client("acme").post("/healthz").status_code == 405
    assert seen == ["hook"]  # through Flask


def test_a_cached_api_read_makes_one_redis_round_trip(app, tenant_client, acme, in_tenant, monkeypatch):
    """The API's rate-limit script also reads the tenant cache's stamps (both on the app's
    Redis): a cached read of the category tree sends Redis one command, the script, and no MGET
    of its own. A category created afterwards still shows on the very next read."""
    import redis

    from app.gigs.categories import create_category
    from tenants.db import db

    client = tenant_client("acme")
    first = client.get("/api/v1/categories")
    assert first.status_code == 200  # the tree is now kept in this process
    sent = []
    execute = redis.Redis.execute_command

    def spy(self, *args, **options):
        sent.append(args[0])
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", spy)
    again = client.get("/api/v1/categories")
    assert (again.status_code, again.get_json()) == (200, first.get_json())
    assert sent == ["EVALSHA"]
    monkeypatch.setattr(redis.Redis, "execute_command", execute)
    with in_tenant(acme):
        create_category("Lean round trips")
        db.session.commit()
    names = [category["name"] for category in client.get("/api/v1/categories").get_json()]
    assert "Lean round trips" in names


def test_api_requests_build_no_schema_instance(
    app, tenant_client, acme, make_user, access_token, monkeypatch
):
    """A schema instance costs a copy and a guard of every field: the API's Blueprint hands
    webargs an instance built once (webargs would build one from a class per request), and
    the nested dumps use ``Schema.shared()``. After a first round, requests that parse a query,
    a JSON body and dump answers build none; the answers are unchanged."""
    import marshmallow

    from app.core.schema import Schema

    built = []
    original = marshmallow.Schema.__init__

    def counting_init(self, *args, **kwargs):
        built.append(type(self).__name__)
        original(self, *args, **kwargs)

    client = tenant_client("acme")
    headers = {"Authorization": f"Bearer {access_token(acme, make_user(acme))}"}

    def requests():
        listed = client.get("/api/v1/notifications?unread=true", headers=headers)
        read = client.post("/api/v1/notifications/read", json={"all": True}, headers=headers)
        refused = client.post("/api/v1/notifications/read", json={"ids": "x"}, headers=headers)
        return (listed.status_code, listed.json), (read.status_code, read.json), refused.status_code

    first = requests()
    monkeypatch.setattr(marshmallow.Schema, "__init__", counting_init)
    assert requests() == first == ((200, []), (200, {"marked": 0, "unread_count": 0}), 422)
    assert built == []

    class Pair(Schema):
        name = marshmallow.fields.Str()

    assert Pair.shared() is Pair.shared() and Pair.shared(many=True) is Pair.shared(many=True)
    assert Pair.shared().dump({"name": "a"}) == {"name": "a"}
    assert Pair.shared(many=True).dump([{"name": "a"}, {"name": "b"}]) == [{"name": "a"}, {"name": "b"}]
    assert built == ["Pair", "Pair"]


def test_the_pagination_header_is_flask_smorests_without_its_schema():
    """``X-Pagination`` keeps flask-smorest's keys, values and order (built without its schema)."""
    import flask_smorest

    from app.core.api import Blueprint

    for page, page_size, count in itertools.product((1, 2, 3, 7), (1, 2, 10), (0, 1, 2, 10, 11, 25)):
        ours = Blueprint._make_pagination_metadata(page, page_size, count)
        theirs = flask_smorest.Blueprint._make_pagination_metadata(page, page_size, count)
        assert list(ours.items()) == list(theirs.items()), (page, page_size, count)


def test_the_category_lists_answer_is_made_once_per_change_and_per_tenant(
    app, tenant_client, acme, globex, in_tenant, monkeypatch
):
    """``GET /api/v1/categories`` without parameters is answered from the tenant cache beside the
    tree (``app.core.api.cached_answer``): no dump, no JSON encoding at the next read; with a
    parameter the view runs; a category created afterwards is in the very next answer; each
    marketplace gets its own."""
    from app.gigs.categories import create_category
    from app.gigs.schemas import CategorySchema
    from tenants.db import db

    with in_tenant(globex):
        create_category("Only at Globex")
        db.session.commit()
    acme_client, globex_client = tenant_client("acme"), tenant_client("globex")
    first = acme_client.get("/api/v1/categories")
    assert first.status_code == 200 and first.headers["Content-Type"] == "application/json"
    dumps = []  # one per dump of the whole list (a new category's own dump is not counted)
    dump = CategorySchema.dump

    def counted(self, obj, **kw):
        if isinstance(obj, list):
            dumps.append(1)
        return dump(self, obj, **kw)

    monkeypatch.setattr(CategorySchema, "dump", counted)

    again = acme_client.get("/api/v1/categories")
    assert (again.status_code, again.data, dumps) == (200, first.data, [])
    assert again.headers["Content-Type"] == "application/json" and "RateLimit-Remaining" in again.headers
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]  # the hooks still run
    head = acme_client.head("/api/v1/categories")
    assert (head.status_code, head.data, head.headers["Content-Length"]) == (200, b"", str(len(first.data)))

    one = acme_client.get("/api/v1/categories?limit=1")
    assert one.status_code == 200 and len(one.get_json()) == 1 and "X-Next-Cursor" in one.headers
    assert len(dumps) == 1  # a parameter: the view ran

    globex_names = [c["name"] for c in globex_client.get("/api/v1/categories").get_json()]
    acme_names = [c["name"] for c in first.get_json()]
    assert "Only at Globex" in globex_names and "Only at Globex" not in acme_names

    with in_tenant(acme):
        create_category("New at Acme")
        db.session.commit()
    dumps.clear()
    names = [c["name"] for c in acme_client.get("/api/v1/categories").get_json()]
    assert "New at Acme" in names and dumps == [1]
    assert (
        acme_client.get("/api/v1/categories").get_json() == acme_client.get("/api/v1/categories").get_json()
    )
    assert dumps == [1]
