"""Request bodies are bounded (finding 2): a global limit, a smaller one for JSON API bodies,
per-route limits for uploads; too large is a 413 (the API's JSON shape under /api/), decided on
the declared Content-Length before the body is read, and by Werkzeug for chunked bodies."""

from __future__ import annotations

import io
import json

import pytest

from app.core.request_limits import FORM_OVERHEAD, UPLOAD_LIMITS

MiB = 1024 * 1024


class UnreadableBody(io.RawIOBase):
    """A wsgi.input that fails the test if anything reads it."""

    def readable(self):
        return True

    def readinto(self, buffer):
        raise AssertionError("the request body was read")


def _declared(length: int, **environ) -> dict:
    return {"CONTENT_LENGTH": str(length), "wsgi.input": UnreadableBody(), **environ}


def _assert_api_413(response):
    assert response.status_code == 413
    assert response.json["code"] == 413
    assert response.json["status"] == "Request Entity Too Large"
    assert response.json["message"]


def test_limits_are_configured(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 16 * MiB
    assert app.config["API_JSON_MAX_BYTES"] == 1 * MiB


def test_a_json_api_body_over_its_limit_is_refused_before_it_is_read(tenant_client):
    response = tenant_client("acme").post(
        "/api/v1/auth/token", content_type="application/json", environ_overrides=_declared(MiB + 1)
    )
    _assert_api_413(response)
    assert f"{MiB:,} bytes" in response.json["message"]


def test_a_huge_declared_length_is_refused_too(tenant_client):
    response = tenant_client("acme").post(
        "/api/v1/gigs", content_type="application/json", environ_overrides=_declared(10**12)
    )
    _assert_api_413(response)


def test_a_json_api_body_within_its_limit_is_served(tenant_client):
    body = json.dumps({"email": "a@example.com", "password": "x" * (MiB - 1000)})
    response = tenant_client("acme").post("/api/v1/auth/token", data=body, content_type="application/json")
    assert response.status_code != 413


def test_a_chunked_api_body_is_cut_at_the_limit(tenant_client):
    body = json.dumps({"email": "a@example.com", "password": "x" * (2 * MiB)}).encode()
    response = tenant_client("acme").post(
        "/api/v1/auth/token",
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        # No Content-Length: the server terminates the stream (gunicorn does for chunked bodies).
        environ_overrides={"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True},
    )
    _assert_api_413(response)


def test_a_web_form_over_the_global_limit_is_refused_before_it_is_read(tenant_client):
    response = tenant_client("acme").post(
        "/login", content_type="application/x-www-form-urlencoded", environ_overrides=_declared(16 * MiB + 1)
    )
    assert response.status_code == 413
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(
    ("path", "config_key", "api"),
    [
        ("/account/avatar", "AVATAR_MAX_BYTES", False),
        ("/inbox/attachments", "MESSAGE_ATTACHMENT_MAX_BYTES", False),
        ("/api/v1/attachments", "MESSAGE_ATTACHMENT_MAX_BYTES", True),
        ("/console/branding/logo", "BRANDING_IMAGE_MAX_BYTES", False),
        ("/api/v1/console/branding/logo", "BRANDING_IMAGE_MAX_BYTES", True),
        ("/seller/gigs/1/images", "GIG_IMAGE_MAX_BYTES", False),
    ],
)
def test_an_upload_over_its_route_limit_is_refused(app, tenant_client, path, config_key, api):
    limit = app.config[config_key] + FORM_OVERHEAD
    client = tenant_client("acme")
    method = client.put if path.startswith("/api/v1/console/branding") else client.post
    response = method(
        path, content_type="multipart/form-data; boundary=x", environ_overrides=_declared(limit + 1)
    )
    if api:
        _assert_api_413(response)
    else:
        assert response.status_code == 413


def test_an_upload_route_accepts_more_than_the_json_limit(tenant_client):
    """5 MiB is over the JSON limit but within an attachment's: the request reaches the view
    (which asks for a signed-in user)."""
    boundary = "x"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"\0" * (5 * MiB)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = tenant_client("acme").post(
        "/api/v1/attachments", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 401


def test_an_order_delivery_may_exceed_the_global_limit(app, tenant_client):
    """Five files of 25 MiB: the route's own limit replaces the global 16 MiB."""
    declared = 5 * app.config["ORDER_DELIVERY_FILE_MAX_BYTES"]
    assert declared > app.config["MAX_CONTENT_LENGTH"]
    client = tenant_client("acme")
    response = client.post(
        "/api/v1/orders/1/deliveries",
        content_type="multipart/form-data; boundary=x",
        environ_overrides=_declared(declared),
    )
    assert response.status_code == 401  # not 413: the view's sign-in check answered
    too_large = client.post(
        "/api/v1/orders/1/deliveries",
        content_type="multipart/form-data; boundary=x",
        environ_overrides=_declared(declared + FORM_OVERHEAD + 1),
    )
    _assert_api_413(too_large)


def test_a_json_body_on_an_upload_route_has_the_json_limit(tenant_client):
    response = tenant_client("acme").post(
        "/api/v1/orders/1/deliveries", content_type="application/json", environ_overrides=_declared(MiB + 1)
    )
    _assert_api_413(response)


def test_every_upload_limit_names_a_route_and_a_setting(app):
    from app.orders.services import MAX_DELIVERY_FILES

    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    for endpoint, (key, files) in UPLOAD_LIMITS.items():
        assert endpoint in endpoints, endpoint
        assert isinstance(app.config[key], int) and files >= 1
    assert UPLOAD_LIMITS["orders_api.Deliveries"][1] == MAX_DELIVERY_FILES
    assert UPLOAD_LIMITS["orders.deliver"][1] == MAX_DELIVERY_FILES


def test_a_chunked_upload_is_cut_at_the_route_limit(app, tenant_client):
    limit = app.config["MESSAGE_ATTACHMENT_MAX_BYTES"] + FORM_OVERHEAD
    body = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
        + b"\0" * limit
        + b"\r\n--x--\r\n"
    )
    response = tenant_client("acme").post(
        "/inbox/attachments",
        content_type="multipart/form-data; boundary=x",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True},
    )
    assert response.status_code == 413


def test_a_chunked_body_of_exactly_the_limit_is_read_whole(app, tenant_client, monkeypatch):
    monkeypatch.setitem(app.config, "API_JSON_MAX_BYTES", 4096)
    body = json.dumps({"email": "a@example.com", "password": "x"}).encode()
    body += b" " * (4096 - len(body))
    response = tenant_client("acme").post(
        "/api/v1/auth/token",
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True},
    )
    assert response.status_code == 401, response.json  # parsed whole: wrong credentials
    response = tenant_client("acme").post(
        "/api/v1/auth/token",
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": io.BytesIO(body + b" "), "wsgi.input_terminated": True},
    )
    _assert_api_413(response)
