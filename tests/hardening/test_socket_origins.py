"""Socket.IO accepts only the requesting marketplace's own origins (finding 3)."""

from __future__ import annotations

import pytest
import requests
import socketio
import sqlalchemy as sa

from tenants.db import db


@pytest.fixture
def acme_token(app, acme, make_user):
    from app.accounts.models import User
    from app.accounts.tokens import issue_token_pair
    from tenants.db import tenant_context

    user_id = make_user(acme)
    with app.app_context(), tenant_context(acme):
        pair = issue_token_pair(db.session.get(User, user_id))
        db.session.commit()
        return pair["access_token"]


@pytest.fixture
def acme_custom_domain(app, acme):
    """A verified custom domain of acme (the suite's cleanup removes it)."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO public.tenant_domains (tenant_id, hostname, is_primary, status) "
                "VALUES (:t, 'market.acme.test', false, 'verified')"
            ),
            {"t": acme.id},
        )
    return "market.acme.test"


def _connect(server, token: str, origin: str | None) -> socketio.Client:
    """A websocket to acme's host (dialled on 127.0.0.1) presenting ``origin``."""
    host = f"acme.localhost:{server.port}"
    options = {"host": host}
    if origin is not None:
        options["origin"] = origin
    else:
        options["suppress_origin"] = True  # websocket-client would send one of its own
    client = socketio.Client(reconnection=False, websocket_extra_options=options)
    client.connect(
        f"http://127.0.0.1:{server.port}", auth={"token": token}, transports=["websocket"], wait_timeout=5
    )
    return client


def _close(client: socketio.Client) -> None:
    ws = getattr(client.eio, "ws", None)
    if ws is not None:  # websocket-client waits 3 s for the close handshake by default
        close = ws.close
        ws.close = lambda *args, **kwargs: close(timeout=0.2)
    client.disconnect()


def test_same_origin_connects(socket_server, acme_token):  # noqa: F811
    client = _connect(socket_server, acme_token, f"http://acme.localhost:{socket_server.port}")
    try:
        assert client.connected
    finally:
        _close(client)


def test_a_verified_custom_domain_of_the_same_marketplace_connects(
    socket_server,  # noqa: F811
    acme_token,
    acme_custom_domain,
):
    client = _connect(socket_server, acme_token, f"http://{acme_custom_domain}:{socket_server.port}")
    try:
        assert client.connected
    finally:
        _close(client)


def test_a_client_without_an_origin_is_not_a_browser_and_connects(socket_server, acme_token):  # noqa: F811
    client = _connect(socket_server, acme_token, None)
    try:
        assert client.connected
    finally:
        _close(client)


@pytest.mark.parametrize(
    "origin",
    [
        "http://globex.localhost:{port}",  # another marketplace
        "http://evil.example:{port}",  # a foreign site
        "http://localhost:{port}",  # the platform
        "https://acme.localhost:{port}",  # another scheme
        "http://acme.localhost:1",  # another port
        "http://acme.localhost",  # another (default) port
        "null",  # a sandboxed frame or a file
    ],
)
def test_other_origins_are_refused(socket_server, acme_token, origin):  # noqa: F811
    with pytest.raises(socketio.exceptions.ConnectionError):
        client = _connect(socket_server, acme_token, origin.format(port=socket_server.port))
        _close(client)


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("http://acme.localhost:{port}", 200),
        ("http://globex.localhost:{port}", 400),
        ("http://evil.example:{port}", 400),
    ],
)
def test_the_polling_handshake_checks_the_origin_too(socket_server, origin, status):  # noqa: F811
    port = socket_server.port
    response = requests.get(
        f"http://127.0.0.1:{port}/socket.io/",
        params={"EIO": "4", "transport": "polling"},
        headers={"Host": f"acme.localhost:{port}", "Origin": origin.format(port=port)},
        timeout=10,
    )
    assert response.status_code == status
    if status == 200:
        assert response.headers["Access-Control-Allow-Origin"] == origin.format(port=port)


def test_a_forwarded_https_scheme_is_the_request_scheme(app):
    from app.realtime import origin_allowed

    environ = {"HTTP_HOST": "acme.localhost", "wsgi.url_scheme": "http", "HTTP_X_FORWARDED_PROTO": "https"}
    assert origin_allowed(app, "https://acme.localhost", environ)
    assert not origin_allowed(app, "https://globex.localhost", environ)
    assert not origin_allowed(app, "https://acme.localhost:8443", environ)
