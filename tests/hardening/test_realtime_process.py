"""The Procfile's ``realtime`` process (gevent, one worker): a few hundred chat sockets at once.

The full figure (500 clients, latency percentiles) is a benchmark (``bench.chat_latency
--server gevent``); this test holds 200 sockets on the production command and checks what
must never fail: every one connects with a fresh token at once (the burst that used to
exhaust the database pool), every message is delivered exactly once to its conversation
and to no other, and Redis publishing never retries.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import requests
import socketio

from tests.hardening.conftest import free_port, procfile, production_env
from tests.helpers import wait_until

PAIRS = 100


def _prepare(in_tenant, tenant, pairs: int) -> list[tuple[str, str, int]]:
    """``pairs`` (buyer token, seller token, conversation id), users made without password hashing."""
    from datetime import UTC, datetime

    from app.accounts.services import create_user
    from app.accounts.tokens import issue_token_pair
    from app.messaging.services import start_direct_conversation
    from tenants.db import db

    out = []
    stamp = time.time_ns()
    with in_tenant(tenant):
        for i in range(pairs):
            users = []
            for role in ("buyer", "seller"):
                user = create_user(f"rt-{role}-{i}-{stamp}@example.com", None, f"RT {role} {i}")
                user.email_verified_at = datetime.now(UTC)
                users.append(user)
            db.session.flush()
            conversation = start_direct_conversation(users[0], users[1])
            tokens = [issue_token_pair(u)["access_token"] for u in users]
            out.append((tokens[0], tokens[1], conversation.id))
        db.session.commit()
    return out


async def _exchange(port: int, host: str, prepared, per_buyer: int) -> tuple[dict, list]:
    received: dict[int, list[str]] = {cid: [] for _b, _s, cid in prepared}
    acks: list[dict] = []
    clients = []

    async def connect(token: str, cid: int, listen: bool) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        if listen:

            async def on_message(message, cid=cid):
                received[cid].append(f"{message['conversation_id']}:{message['body']}")

            client.on("message", on_message)
        await client.connect(
            f"http://127.0.0.1:{port}",
            headers={"Host": host},
            auth={"token": token},
            transports=["websocket"],
            wait_timeout=60,
        )
        clients.append(client)
        joined = await client.call("join", {"conversation_id": cid}, timeout=60)
        assert joined["ok"], joined
        return client

    try:
        # Every socket at once: 200 fresh tokens authenticate in the same instant.
        buyers = await asyncio.gather(
            *(connect(token, cid, listen=False) for token, _s, cid in prepared),
            *(connect(token, cid, listen=True) for _b, token, cid in prepared),
        )
        buyers = buyers[: len(prepared)]

        async def send(client, cid, bodies):
            for body in bodies:
                payload = {"conversation_id": cid, "body": body}
                acks.append(await client.call("send_message", payload, timeout=60))

        async def all_sent(bodies):
            pairs = zip(buyers, prepared, strict=True)
            await asyncio.gather(*(send(client, cid, bodies) for client, (_b, _s, cid) in pairs))

        async def delivered(count: int) -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and any(len(v) < count for v in received.values()):
                await asyncio.sleep(0.05)  # polling the sockets' arrivals, with a deadline

        bodies = [f"m{n}" for n in range(per_buyer)]
        await all_sent(bodies)
        await delivered(per_buyer)
        # A last message behind the others: a duplicate of any of them would arrive before it.
        await all_sent(["end"])
        await delivered(per_buyer + 1)
    finally:
        await asyncio.gather(*(client.disconnect() for client in clients), return_exceptions=True)
    return received, acks


def test_realtime_process_holds_hundreds_of_sockets(app, acme, in_tenant, processes, tmp_path):
    port = free_port()
    env = production_env(
        app, tmp_path / "instance", REALTIME_PORT=str(port), REALTIME_METRICS_DIR=str(tmp_path / "metrics")
    )
    command = procfile()["realtime"].replace("0.0.0.0", "127.0.0.1")  # noqa: S104  (loopback in tests)
    assert "--worker-class gevent" in command and "--workers 1" in command
    realtime = processes.start(command, env, "realtime")
    realtime.wait_for_port(port)

    def serving() -> bool:  # the master listens before its worker has imported the app
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            assert realtime.alive(), realtime.output()[-3000:]
            return False

    wait_until(serving, 60, message=lambda: realtime.output()[-3000:])
    prepared = _prepare(in_tenant, acme, PAIRS)

    # A loop of its own in a thread of its own: another test of this worker (Playwright's sync
    # API) may have left an event loop running in this thread, where asyncio.run refuses.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        exchange = pool.submit(
            lambda: asyncio.run(_exchange(port, f"acme.gigforge.test:{port}", prepared, per_buyer=2))
        )
        received, acks = exchange.result(timeout=300)

    assert all(ack["ok"] for ack in acks), [ack for ack in acks if not ack["ok"]][:3]
    assert len(acks) == PAIRS * 3
    # Each conversation got its own messages, once each and in order, and nobody else's.
    expected = {cid: [f"{cid}:m0", f"{cid}:m1", f"{cid}:end"] for _b, _s, cid in prepared}
    assert received == expected, realtime.output()[-3000:]
    log = realtime.output()
    assert "Cannot publish" not in log and "QueuePool limit" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert realtime.alive()
