"""Socket.IO against a live server with python-socketio's client: chat, isolation, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import socketio

from app.messaging import services
from app.messaging.models import ConversationParticipant, Message
from app.realtime import is_online
from tenants.db import db
from tests.helpers import wait_until


@pytest.fixture
def pair(acme, make_user, make_seller, start_conversation):
    """acme: a buyer (cookie-less API token user) and a seller, in one conversation."""
    buyer = make_user(acme, email="buyer@example.com", display_name="Bea Buyer")
    seller = make_seller(acme, email="seller@example.com", display_name="Sam Seller")
    return buyer, seller, start_conversation(acme, buyer, seller)


def test_two_users_chat_in_real_time(acme, pair, chat_client, session_cookie, access_token, message_count):
    buyer, seller, cid = pair
    # The buyer uses the web session cookie, the seller an API token.
    bea = chat_client("acme", cookie=session_cookie(acme, "buyer@example.com"))
    sam = chat_client("acme", token=access_token(acme, seller))
    assert bea.call("join", {"conversation_id": cid})["ok"]
    assert sam.call("join", {"conversation_id": cid})["ok"]

    ack = bea.call("send_message", {"conversation_id": cid, "body": "Hi! Is https://example.com/brief ok?"})
    assert ack["ok"], ack
    got = sam.wait_for("message", lambda m: m["id"] == ack["message"]["id"])
    assert got["body"] == "Hi! Is https://example.com/brief ok?"
    assert got["sender_id"] == buyer
    assert 'href="https://example.com/brief"' in got["body_html"] and 'rel="nofollow' in got["body_html"]
    unread = sam.wait_for("unread", lambda u: u.get("conversation_id") == cid)
    assert unread["unread"] == 1 and unread["total"] == 1

    reply = sam.call("send_message", {"conversation_id": cid, "body": "Sure, looking now."})
    assert bea.wait_for("message", lambda m: m["id"] == reply["message"]["id"])["sender_id"] == seller
    assert message_count(acme) == 2


def test_typing_and_read_receipts(acme, pair, chat_client, access_token, in_tenant):
    buyer, seller, cid = pair
    bea = chat_client("acme", token=access_token(acme, buyer))
    sam = chat_client("acme", token=access_token(acme, seller))
    for client in (bea, sam):
        assert client.call("join", {"conversation_id": cid})["ok"]

    assert bea.call("typing", {"conversation_id": cid, "typing": True})["ok"]
    typing = sam.wait_for("typing")
    assert typing == {"conversation_id": cid, "user_id": buyer, "display_name": "User 1", "typing": True} or (
        typing["user_id"] == buyer and typing["typing"] is True
    )
    assert not bea.of("typing"), "the typist does not hear themself"

    sent = bea.call("send_message", {"conversation_id": cid, "body": "ping"})["message"]
    sam.wait_for("message", lambda m: m["id"] == sent["id"])
    assert sam.call("read", {"conversation_id": cid, "message_id": sent["id"]}) == {"ok": True, "unread": 0}
    receipt = bea.wait_for("read_receipt")
    assert receipt == {"conversation_id": cid, "user_id": seller, "message_id": sent["id"]}
    assert sam.wait_for("unread", lambda u: u.get("unread") == 0)["total"] == 0
    with in_tenant(acme):
        row = db.session.get(ConversationParticipant, (cid, seller))
        assert row.last_read_message_id == sent["id"] and row.unread_count == 0


def test_third_user_cannot_join_or_read(
    acme, pair, make_user, chat_client, access_token, message_count, start_conversation
):
    buyer, seller, cid = pair
    eve_id = make_user(acme, email="eve@example.com")
    sam = chat_client("acme", token=access_token(acme, seller))
    eve = chat_client("acme", token=access_token(acme, eve_id))
    assert sam.call("join", {"conversation_id": cid})["ok"]

    refused = eve.call("join", {"conversation_id": cid})
    assert refused["ok"] is False and refused["error"]["code"] == "not_found"
    assert eve.wait_for("error")["event"] == "join"
    for event, data in (
        ("send_message", {"conversation_id": cid, "body": "let me in"}),
        ("typing", {"conversation_id": cid, "typing": True}),
        ("read", {"conversation_id": cid}),
    ):
        assert eve.call(event, data)["ok"] is False

    sent = sam.call("send_message", {"conversation_id": cid, "body": "private"})["message"]
    assert message_count(acme) == 1 and sent["body"] == "private"
    # Then a message Eve may read, in a conversation of her own, sent the same way: once it has
    # reached her, anything of the private conversation would have reached her before it.
    own = start_conversation(acme, eve_id, seller)
    assert eve.call("join", {"conversation_id": own})["ok"]
    mine = sam.call("send_message", {"conversation_id": own, "body": "for Eve"})["message"]
    eve.wait_for("message", lambda m: m["id"] == mine["id"])
    assert [m["body"] for m in eve.of("message")] == ["for Eve"]
    assert not eve.of("typing") and not eve.of("read_receipt")


def test_other_tenant_with_equal_ids_receives_nothing(
    acme, globex, make_user, make_seller, start_conversation, chat_client, access_token
):
    # Equal IDs: user 2 and 3, conversation 1, in both tenants.
    a_buyer, a_seller = make_user(acme), make_seller(acme)
    g_buyer, g_seller = make_user(globex), make_seller(globex)
    assert (a_buyer, a_seller) == (g_buyer, g_seller)
    a_cid, g_cid = start_conversation(acme, a_buyer, a_seller), start_conversation(globex, g_buyer, g_seller)
    assert a_cid == g_cid

    acme_seller = chat_client("acme", token=access_token(acme, a_seller))
    globex_seller = chat_client("globex", token=access_token(globex, g_seller))
    acme_buyer = chat_client("acme", token=access_token(acme, a_buyer))
    for client, cid in ((acme_seller, a_cid), (globex_seller, g_cid), (acme_buyer, a_cid)):
        assert client.call("join", {"conversation_id": cid})["ok"]

    sent = acme_buyer.call("send_message", {"conversation_id": a_cid, "body": "acme only"})
    acme_seller.wait_for("message", lambda m: m["id"] == sent["message"]["id"])
    acme_buyer.call("typing", {"conversation_id": a_cid, "typing": True})
    acme_seller.wait_for("typing")
    # Then globex's own buyer writes in globex's conversation: once that message has reached the
    # globex seller, anything of acme's would have reached them before it.
    globex_buyer = chat_client("globex", token=access_token(globex, g_buyer))
    assert globex_buyer.call("send_message", {"conversation_id": g_cid, "body": "globex only"})["ok"]
    globex_seller.wait_for("message", lambda m: m["body"] == "globex only")
    events = list(globex_seller.events)
    first_own = next(i for i, (e, d) in enumerate(events) if e == "message" and d["body"] == "globex only")
    # The globex seller has the same user id in the same-numbered conversation: nothing of acme's
    # arrived, only the unread count sent on connecting.
    assert all(e == "unread" and "conversation_id" not in (d or {}) for e, d in events[:first_own])

    # An acme token is meaningless on globex's host: the connection is refused.
    stolen = chat_client("globex", token=access_token(acme, a_seller), connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        stolen.connect()


def test_connections_without_credentials_or_on_unknown_hosts_are_refused(
    acme, pair, chat_client, access_token
):
    buyer, _, _ = pair
    anonymous = chat_client("acme", connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        anonymous.connect()
    bogus = chat_client("acme", token="gfa_not-a-real-token", connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        bogus.connect()
    nowhere = chat_client("nowhere", token=access_token(acme, buyer), connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        nowhere.connect()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"conversation_id": 1, "body": ""}, "empty"),
        ({"conversation_id": 1, "body": "   \n\t "}, "empty"),
        ({"conversation_id": 1, "body": "x" * 5001}, "too_long"),
        ({"conversation_id": 1, "body": 42}, "invalid_body"),
        ({"conversation_id": 999, "body": "hello"}, "not_found"),
        ({"conversation_id": "1; DROP TABLE messages", "body": "hello"}, "not_found"),
        ({"conversation_id": True, "body": "hello"}, "not_found"),
        ({"conversation_id": 1, "body": "hi", "attachment_ids": [12345]}, "invalid_attachments"),
        ({"conversation_id": 1, "body": "hi", "attachment_ids": "1,2"}, "invalid_attachments"),
        (["not", "an", "object"], "invalid"),
        ("just a string", "invalid"),
    ],
)
def test_bad_input_gets_an_error_event_and_nothing_is_stored(
    acme, pair, chat_client, access_token, message_count, data, code
):
    buyer, _, cid = pair
    assert cid == 1
    bea = chat_client("acme", token=access_token(acme, buyer))
    ack = bea.call("send_message", data)
    assert ack["ok"] is False and ack["error"]["code"] == code, ack
    error = bea.wait_for("error")
    assert error["event"] == "send_message" and error["code"] == code and error["message"]
    assert message_count(acme) == 0


def test_presence_follows_open_sockets(app, acme, pair, chat_client, access_token):
    buyer, seller, _ = pair
    with app.app_context():
        assert not is_online(acme.id, buyer)
    client = chat_client("acme", token=access_token(acme, buyer))
    with app.app_context():
        assert is_online(acme.id, buyer) and not is_online(acme.id, seller)
    client.disconnect()

    def offline() -> bool:
        with app.app_context():
            return not is_online(acme.id, buyer)

    wait_until(offline, timeout=5, message="the buyer still counts as online after disconnecting")


def test_emit_to_user_from_another_process_reaches_the_client_through_redis(
    app, acme, globex, pair, chat_client, access_token, make_user
):
    buyer, _, _ = pair
    bea = chat_client("acme", token=access_token(acme, buyer))
    globex_twin = make_user(globex)
    assert globex_twin == buyer
    twin = chat_client("globex", token=access_token(globex, globex_twin))
    script = textwrap.dedent(
        f"""
        from flask import Flask
        from app.realtime import emit_to_user
        app = Flask("worker")
        app.config.update(REDIS_URL={app.config["REDIS_URL"]!r})
        with app.app_context():
            emit_to_user({acme.id}, {buyer}, "notification", {{"kind": "test", "text": "from a worker"}})
            twin = {{"kind": "test", "text": "for the twin"}}
            emit_to_user({globex.id}, {globex_twin}, "notification", twin)
            emit_to_user({acme.id}, {buyer}, "notification", {{"kind": "test", "text": "after"}})
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=os.getcwd(), timeout=60)
    # Each user's later notification proves the earlier one meant for the other did not come.
    bea.wait_for("notification", lambda n: n["text"] == "after")
    twin.wait_for("notification", lambda n: n["text"] == "for the twin")
    assert [n["text"] for n in bea.of("notification")] == ["from a worker", "after"]
    assert [n["text"] for n in twin.of("notification")] == ["for the twin"]


def test_system_message_from_an_rq_worker_process_reaches_connected_clients(
    app, acme, pair, chat_client, access_token, in_tenant, tmp_path
):
    """A real ``flask worker --burst`` subprocess runs the job; its broadcast travels through Redis."""
    from app.extensions import get_queue
    from app.messaging.tasks import post_system_message_job

    buyer, seller, cid = pair
    bea = chat_client("acme", token=access_token(acme, buyer))
    assert bea.call("join", {"conversation_id": cid})["ok"]
    with app.app_context():
        get_queue("default").enqueue(post_system_message_job, acme.id, cid, "Order #12 was paid.")
    env = dict(os.environ)
    env.update(
        GIGFORGE_ENV="testing",
        TEST_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        TEST_REDIS_URL=app.config["REDIS_URL"],
        TEST_INSTANCE_DIR=app.config["INSTANCE_DIR"],
        STORAGE_LOCAL_DIR=app.config["STORAGE_LOCAL_DIR"],
    )
    worker = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst", "--no-relay", "default"],
        env=env,
        cwd=os.getcwd(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr[-2000:]
    message = bea.wait_for("message", lambda m: m["kind"] == "system", timeout=10)
    assert message["body"] == "Order #12 was paid." and message["sender_id"] is None
    assert bea.wait_for("unread", lambda u: u.get("conversation_id") == cid)["unread"] == 1
    with in_tenant(acme):
        assert db.session.scalar(db.select(db.func.count(Message.id)).where(Message.kind == "system")) == 1
        assert services.unread_total(db.session.get(services.User, seller)) == 1


def test_many_threads_publish_and_talk_to_redis_at_once(app):
    """More than redis-py's default 100 connections at once, from the Socket.IO publishers'
    pools, the rate limits' and the app's client: past 100 each refused ("Too many connections"), which
    python-socketio logged as "Cannot publish to redis... retrying" under a few hundred sockets."""
    from app.extensions import redis_store
    from app.extensions import socketio as app_socketio
    from app.realtime import get_emitter

    with app.app_context():
        from app.extensions import limiter

        # The app's client, the rate limits' storage, and below Socket.IO's publishers.
        pools = [redis_store.client.connection_pool, limiter.storage.storage.connection_pool]
        for manager in (app_socketio.server.manager, get_emitter()):
            if manager.redis is None:
                manager._redis_connect()  # the publisher connects on its first publish
            pools.append(manager.redis.connection_pool)
        for pool in pools:
            held = [pool.get_connection() for _ in range(150)]
            for conn in held:
                pool.release(conn)
