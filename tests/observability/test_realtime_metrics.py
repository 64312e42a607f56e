"""Metrics of real time: connected Socket.IO clients, client events by name, emit latency."""

from __future__ import annotations

import pytest
import socketio

from app.accounts.models import User
from app.messaging import services
from tenants.db import db
from tests.helpers import ChatClient, close_all, wait_until
from tests.observability.sampling import scrape

CLIENTS = "gigforge_socketio_connected_clients"
MESSAGES = "gigforge_socketio_messages_total"
EMIT_COUNT = "gigforge_socketio_emit_seconds_count"


def test_connected_clients_follow_accepted_connections(
    acme, make_user, access_token, socket_server, platform_client
):
    user = make_user(acme, email="bea@example.com")
    before = scrape(platform_client).value(CLIENTS)
    clients = []
    try:
        bea = ChatClient(socket_server, "acme", token=access_token(acme, user))
        clients.append(bea.connect())
        assert scrape(platform_client).value(CLIENTS) == before + 1

        refused = ChatClient(socket_server, "acme", token="not-a-token")
        clients.append(refused)
        with pytest.raises(socketio.exceptions.ConnectionError):
            refused.connect()
        assert scrape(platform_client).value(CLIENTS) == before + 1  # a refused socket is not counted

        bea.disconnect()
        wait_until(lambda: scrape(platform_client).value(CLIENTS) == before, timeout=5)
    finally:
        close_all(clients)


def test_chat_events_and_emits_are_counted(
    acme, make_user, make_seller, access_token, in_tenant, socket_server, platform_client
):
    buyer = make_user(acme, email="buyer@example.com")
    seller = make_seller(acme, email="seller@example.com")
    with in_tenant(acme):
        cid = services.start_direct_conversation(db.session.get(User, buyer), seller).id
        db.session.commit()
    clients = []
    try:
        bea = ChatClient(socket_server, "acme", token=access_token(acme, buyer))
        clients.append(bea.connect())
        sam = ChatClient(socket_server, "acme", token=access_token(acme, seller))
        clients.append(sam.connect())
        assert sam.call("join", {"conversation_id": cid})["ok"]
        before = scrape(platform_client)

        ack = bea.call("send_message", {"conversation_id": cid, "body": "Hello"})
        assert ack["ok"], ack
        sam.wait_for("message", lambda m: m["id"] == ack["message"]["id"])
        assert bea.call("typing", {"conversation_id": cid})["error"]["code"] == "not_joined"
        after = scrape(platform_client)
    finally:
        close_all(clients)
    assert after.delta(before, MESSAGES, event="send_message") == 1
    assert after.delta(before, MESSAGES, event="typing") == 1  # refused events are received too
    assert after.delta(before, MESSAGES, event="join") == 0
    assert after.delta(before, EMIT_COUNT) >= 1  # the message to the room (and unread counts)
