"""Who may use the console, checked on every console route registered when the test runs (web
``console.*`` and API ``console_api.*``), whoever added it:

- every route declares its role (``console_required`` / ``api_console_required`` set
  ``console_role`` on the view or the MethodView method), and a route without one fails here;
- anonymous web visitors go to the login page; the API answers 401 without a token;
- buyers and sellers get 403 on every route and method, web and API;
- moderators get 403 exactly where the route needs the admin role, and never 403 (nor a 500)
  elsewhere;
- an operator of acme is nobody on globex: acme's session and token open nothing there;
- every console API operation is documented with its bearer security and its 401/403.
"""

from __future__ import annotations

import uuid

import pytest
from flask import Blueprint, Flask
from flask.views import MethodView
from werkzeug.routing.converters import AnyConverter, IntegerConverter, UUIDConverter

from app.console.access import ADMIN, MODERATOR, console_required
from tests.console.conftest import ADMIN_PASSWORD, form_tokens

CONSOLE_BLUEPRINTS = ("console", "console_api")
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def console_routes(app: Flask) -> list[tuple]:
    """``(endpoint, rule, method)`` of every console route and method, in a stable order."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".", 1)[0] not in CONSOLE_BLUEPRINTS:
            continue
        for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
            out.append((rule.endpoint, rule, method))
    return sorted(out, key=lambda item: (item[0], item[1].rule, item[2]))


def required_role(app: Flask, endpoint: str, method: str) -> str | None:
    """The ``console_role`` a route declares for ``method`` (None: it declares none)."""
    view = app.view_functions[endpoint]
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        handler = getattr(view_class, method.lower(), None)
        role = getattr(handler, "console_role", None) or getattr(view_class, "console_role", None)
        if role is not None:
            return role
    return getattr(view, "console_role", None)


def routes_without_role(app: Flask) -> list[str]:
    return [
        f"{method} {rule.rule} ({endpoint})"
        for endpoint, rule, method in console_routes(app)
        if required_role(app, endpoint, method) not in (ADMIN, MODERATOR)
    ]


def sample_url(rule) -> str:
    """A URL of ``rule`` with plausible values for its variables (ids that do not exist)."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters.get(name)
        if isinstance(converter, IntegerConverter):
            # an id nobody has: a refusal then comes from the role check or "not found", never
            # from a business rule about an existing row (e.g. "moderators cannot suspend admins")
            values[name] = min(999_999, getattr(converter, "max", None) or 999_999)
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, UUIDConverter):
            values[name] = uuid.uuid4()
        else:
            values[name] = "x"
    _domain, path = rule.build(values, append_unknown=False)
    return path


def _call(client, method: str, url: str, *, csrf: str | None = None, headers: dict | None = None):
    if method == "GET":
        return client.open(url, method=method, headers=headers or {})
    if csrf is not None:  # a web form: a valid CSRF token, the other fields missing
        return client.open(url, method=method, data={"csrf_token": csrf}, headers=headers or {})
    return client.open(url, method=method, json={}, headers=headers or {})


# --------------------------------------------------------------------------- declarations


def test_every_console_route_declares_its_role(app):
    routes = console_routes(app)
    assert any(e.startswith("console.") for e, _r, _m in routes) and any(
        e.startswith("console_api.") for e, _r, _m in routes
    )
    missing = routes_without_role(app)
    assert missing == [], "console routes without console_required / api_console_required:\n" + "\n".join(
        missing
    )


def test_a_route_without_a_role_decorator_is_caught():
    """The check above can fail: a bare route on a blueprint named like the console's is reported."""
    probe = Flask(__name__)
    web = Blueprint("console", __name__, url_prefix="/console")

    @web.get("/guarded")
    @console_required(ADMIN)
    def guarded():
        return "ok"

    @web.get("/forgotten/<int:thing_id>")
    def forgotten(thing_id):
        return "oops"

    class Mixed(MethodView):
        @console_required(MODERATOR)
        def get(self):
            return "ok"

        def post(self):
            return "oops"

    api = Blueprint("console_api", __name__, url_prefix="/api/v1/console")
    api.add_url_rule("/mixed", view_func=Mixed.as_view("mixed"))
    probe.register_blueprint(web)
    probe.register_blueprint(api)
    assert routes_without_role(probe) == [
        "GET /console/forgotten/<int:thing_id> (console.forgotten)",
        "POST /api/v1/console/mixed (console_api.mixed)",
    ]
    assert required_role(probe, "console.guarded", "GET") == ADMIN
    assert required_role(probe, "console_api.mixed", "GET") == MODERATOR


# --------------------------------------------------------------------------- behaviour


@pytest.fixture
def people(acme, shop, web_as, api_as, tenant_client):
    s = shop(acme)
    anonymous = tenant_client("acme")
    return {
        "shop": s,
        "anonymous": (anonymous, form_tokens(anonymous, "/login")["csrf_token"]),
        "web": {
            who: (client, form_tokens(client, "/account")["csrf_token"])
            for who, client in (
                ("buyer", web_as(acme, s.buyer_email)),
                ("seller", web_as(acme, s.seller_email)),
                ("moderator", web_as(acme, s.moderator_email)),
            )
        },
        "api": {
            "buyer": api_as(acme, s.buyer_email),
            "seller": api_as(acme, s.seller_email),
            "moderator": api_as(acme, s.moderator_email),
        },
    }


def test_web_console_routes_anonymous_login_buyer_and_seller_403_moderator_by_role(app, people):
    anonymous, anonymous_csrf = people["anonymous"]
    problems = []
    checked = 0
    for endpoint, rule, method in console_routes(app):
        if not endpoint.startswith("console."):
            continue
        url = sample_url(rule)
        checked += 1
        response = _call(anonymous, method, url, csrf=anonymous_csrf)
        if response.status_code not in (301, 302, 303) or "/login" not in response.headers.get(
            "Location", ""
        ):
            problems.append(f"anonymous {method} {url}: {response.status_code}")
        for who in ("buyer", "seller"):
            client, csrf = people["web"][who]
            status = _call(client, method, url, csrf=csrf).status_code
            if status != 403:
                problems.append(f"{who} {method} {url}: {status}")
        client, csrf = people["web"]["moderator"]
        status = _call(client, method, url, csrf=csrf).status_code
        needs_admin = required_role(app, endpoint, method) == ADMIN
        if needs_admin and status != 403:
            problems.append(f"moderator {method} {url} (admin only): {status}")
        if not needs_admin and (status == 403 or status >= 500):
            problems.append(f"moderator {method} {url} (moderators allowed): {status}")
    assert checked >= 8
    assert problems == [], "\n".join(problems)


def test_api_console_routes_401_without_token_403_for_members_moderator_by_role(app, people, tenant_client):
    anonymous = tenant_client("acme")
    problems = []
    checked = 0
    for endpoint, rule, method in console_routes(app):
        if not endpoint.startswith("console_api."):
            continue
        url = sample_url(rule)
        checked += 1
        status = _call(anonymous, method, url).status_code
        if status != 401:
            problems.append(f"no token {method} {url}: {status}")
        bogus = _call(anonymous, method, url, headers={"Authorization": "Bearer gfa_not-a-token"}).status_code
        if bogus != 401:
            problems.append(f"bad token {method} {url}: {bogus}")
        for who in ("buyer", "seller"):
            client, headers = people["api"][who]
            response = _call(client, method, url, headers=headers)
            if response.status_code != 403 or not response.is_json:
                problems.append(f"{who} {method} {url}: {response.status_code}")
        client, headers = people["api"]["moderator"]
        status = _call(client, method, url, headers=headers).status_code
        needs_admin = required_role(app, endpoint, method) == ADMIN
        if needs_admin and status != 403:
            problems.append(f"moderator {method} {url} (admin only): {status}")
        if not needs_admin and (status in (401, 403) or status >= 500):
            problems.append(f"moderator {method} {url} (moderators allowed): {status}")
    assert checked >= 8
    assert problems == [], "\n".join(problems)


def test_an_acme_operator_is_nobody_on_globex(app, acme, globex, shop, web_as, api_as, tenant_client):
    a = shop(acme)
    shop(globex)
    acme_admin = web_as(acme, a.admin_email, ADMIN_PASSWORD)
    _client, acme_headers = api_as(acme, a.admin_email, ADMIN_PASSWORD)
    on_globex = tenant_client("globex")
    # acme's session cookie, replayed on globex's host
    session_cookie = acme_admin.get_cookie("session", domain="acme.localhost")
    assert session_cookie is not None
    on_globex.set_cookie("session", session_cookie.value, domain="globex.localhost")
    problems = []
    for endpoint, rule, method in console_routes(app):
        if method != "GET":
            continue
        url = sample_url(rule)
        if endpoint.startswith("console."):
            response = on_globex.get(url)
            if response.status_code != 302 or "/login" not in response.headers.get("Location", ""):
                problems.append(f"acme session on globex GET {url}: {response.status_code}")
        else:
            status = on_globex.get(url, headers=acme_headers).status_code
            if status != 401:
                problems.append(f"acme token on globex GET {url}: {status}")
    assert problems == [], "\n".join(problems)
    # and the same admin is at home on acme
    assert acme_admin.get("/console/").status_code == 200


def test_console_api_operations_are_documented_with_security_and_refusals(app, tenant_client):
    spec = tenant_client("acme").get("/api/v1/openapi.json").json
    operations = {
        (path, method): op
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/console/")
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    }
    for path, method in (
        ("/api/v1/console/dashboard", "get"),
        ("/api/v1/console/orders", "get"),
        ("/api/v1/console/orders/{order_id}", "get"),
        ("/api/v1/console/orders/{order_id}/cancel", "post"),
        ("/api/v1/console/audit-log", "get"),
        ("/api/v1/console/exports/users.csv", "get"),
        ("/api/v1/console/exports/orders.csv", "get"),
        ("/api/v1/console/exports/audit-log.csv", "get"),
    ):
        assert (path, method) in operations, (path, method)
    undocumented = [
        f"{method.upper()} {path}"
        for (path, method), op in operations.items()
        if op.get("security") != [{"bearerAuth": []}] or not {"401", "403"} <= set(op.get("responses", {}))
    ]
    assert undocumented == []
    cancel = operations[("/api/v1/console/orders/{order_id}/cancel", "post")]
    assert {"200", "404", "409", "422"} <= set(cancel["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in cancel.get("parameters", []))
    assert (
        "text/csv" in operations[("/api/v1/console/exports/users.csv", "get")]["responses"]["200"]["content"]
    )
